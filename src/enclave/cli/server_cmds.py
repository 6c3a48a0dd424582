"""``enclave serve``: the HTTP server (OpenAI-compatible API, REST, auditor endpoints) with uvicorn.

Start and stop are recorded in the audit trail by the app's lifespan; on shutdown (Ctrl-C or
SIGTERM) the audit log is closed, which signs a final tree head.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from enclave.cli import common


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="address to listen on (default server.host, 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="port (default server.port, 8080)")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level")] = "info",
) -> None:
    """Serve the OpenAI-compatible API and Enclave's REST endpoints (loads the models first)."""
    # OMP_WAIT_POLICY=PASSIVE is set for every entry point by ``enclave/__init__``.
    import uvicorn

    from enclave.home import require_home
    from enclave.server import create_app

    cfg = common.settings()
    require_home(cfg)
    bind_host = host or cfg.server.host
    bind_port = port or cfg.server.port
    if not _is_loopback(bind_host):
        common.err_console.print(
            f"[yellow]warning:[/yellow] listening on {bind_host}, not loopback: put TLS in front of it "
            "(a reverse proxy) so tokens never cross the network in clear",
            highlight=False,
        )
    app = create_app(cfg)
    common.err_console.print(f"Enclave API on http://{bind_host}:{bind_port}/v1 (loading models…)", highlight=False)
    uvicorn.run(app, host=bind_host, port=bind_port, log_level=log_level, proxy_headers=False, server_header=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
