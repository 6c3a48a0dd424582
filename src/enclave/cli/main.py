"""The ``enclave`` command line: a thin layer over the services (typer + rich)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

import enclave
from enclave.cli import common
from enclave.errors import EnclaveError

app = typer.Typer(
    name="enclave",
    help="Enclave: a sovereign, offline AI workbench for classified networks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    home: Annotated[
        Path | None, typer.Option("--home", help="Enclave home (default: $ENCLAVE_HOME or ./.enclave)")
    ] = None,
) -> None:
    """Every command runs with owner-only file creation and the egress guard on."""
    os.umask(0o077)
    if home is not None:
        os.environ["ENCLAVE_HOME"] = str(home)
        common.settings.cache_clear()
    try:
        cfg = common.settings()
    except EnclaveError:
        cfg = None  # reported by the command that needs it; guard still goes on, loopback only
    common.start_guard(cfg)
    if cfg is not None:
        from enclave.labels import configure_from_settings

        configure_from_settings(cfg)  # site policies ([labels] policy_dirs) for every command


@app.command()
def version() -> None:
    """Print Enclave's version."""
    typer.echo(f"enclave {enclave.__version__}")


@app.command()
def init(
    force: Annotated[bool, typer.Option("--force", help="rewrite enclave.toml with the defaults")] = False,
) -> None:
    """Create the Enclave home (config, keys) with owner-only permissions."""
    from enclave.home import init_home

    cfg, created = init_home(os.environ.get("ENCLAVE_HOME"), force=force)
    common.settings.cache_clear()
    for path in created:
        common.console.print(f"created {path}")
    common.console.print(f"Enclave home ready at [bold]{cfg.home}[/bold]")


def _register_subcommands() -> None:
    """Each command group lives in its own module exposing ``register(app)``."""
    import importlib

    for module_name in (
        "enclave.cli.engine_cmds",
        "enclave.cli.label_cmds",
        "enclave.cli.audit_cmds",
        "enclave.cli.data_cmds",
        "enclave.cli.assist_cmds",
        "enclave.cli.server_cmds",
        "enclave.cli.guard_cmds",
        "enclave.cli.cyber_cmds",
    ):
        importlib.import_module(module_name).register(app)


_register_subcommands()


def main() -> None:
    """Console-script entry point: expected failures are one clear message and a non-zero exit."""
    try:
        app()
    except EnclaveError as exc:
        common.err_console.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False)
        if exc.hint:
            common.err_console.print(f"[yellow]hint:[/yellow] {exc.hint}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        common.err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
