"""Shared plumbing for CLI commands: settings, consoles, JSON output, egress guard start-up."""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import Any

from rich.console import Console

from enclave.config import Settings, load_settings
from enclave.offline import install_guard

console = Console()
err_console = Console(stderr=True)


@functools.cache
def settings() -> Settings:
    """The validated settings for this invocation (ENCLAVE_HOME / --home)."""
    return load_settings(os.environ.get("ENCLAVE_HOME"))


def engine_hosts(cfg: Settings) -> list[str]:
    """Hosts the configuration legitimately talks to (remote engine, PostgreSQL, [egress] allow)."""
    from urllib.parse import urlsplit

    hosts = list(cfg.egress.allow)
    if cfg.engine.kind == "openai":
        host = urlsplit(cfg.engine.base_url).hostname
        if host:
            hosts.append(host)
    if cfg.store.kind == "postgres" and cfg.store.dsn:
        host = urlsplit(cfg.store.dsn).hostname
        if host:
            hosts.append(host)
    return hosts


def start_guard(cfg: Settings | None) -> None:
    """Install the egress guard. With an unreadable config it still goes on, loopback only."""
    if cfg is None:
        install_guard(())
    elif cfg.egress.enabled:
        install_guard(engine_hosts(cfg))


def print_json(data: Any) -> None:
    """Machine-readable output on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
