"""``enclave cyber scan PATH... [--rules DIR] [--label TEXT] [--json] [--report report.html]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from enclave.cli import common

cyber_app = typer.Typer(
    help="Detect threats in security logs (Sigma, analytics, ATT&CK, triage).", no_args_is_help=True
)

_STAGES = {
    "rules": "compiling Sigma rules",
    "parse": "reading logs (events)",
    "detect": "running detections",
    "triage": "writing triage",
}


@cyber_app.command("scan")
def scan(
    paths: Annotated[list[Path], typer.Argument(help="log files, directories, .zip/.gz/.tar.gz archives")],
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", help="Sigma rules directory (repeatable); default [cyber] rules_dirs"),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="the logs' classification; default [labels] system_high")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full result as JSON on stdout")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="write the offline HTML report here")] = None,
    triage: Annotated[
        bool, typer.Option("--triage/--no-triage", help="LLM triage summaries of the most severe incidents")
    ] = False,
    db: Annotated[Path | None, typer.Option("--db", help="keep the normalised events in this SQLite file")] = None,
) -> None:
    """Scan security logs: Sigma rules and behavioural analytics, incidents mapped to ATT&CK."""
    from enclave.cyber.report import render_html
    from enclave.cyber.scan import ScanOptions, run_scan

    cfg = common.settings()
    rules_dirs = list(rules or []) or [cfg.in_home(d) for d in cfg.cyber.rules_dirs]
    options = ScanOptions(
        rules_dirs=rules_dirs,
        label=label,
        db_path=db,
        triage_limit=cfg.cyber.triage_incidents,
        # compiled rule sets are cached in the home (keyed on rule contents and pySigma versions)
        rules_cache_dir=cfg.in_home("cache/sigma") if cfg.config_file.exists() else None,
    )
    from datetime import timedelta

    options.incident_gap = timedelta(minutes=cfg.cyber.incident_gap_minutes)
    if not rules_dirs:
        common.err_console.print(
            "[yellow]note:[/yellow] no Sigma rules given (--rules DIR or \\[cyber] rules_dirs): only the rule-free "
            "analytics run"
        )
    engine: Any = None
    audit: Any = None
    try:
        audit = _open_audit(cfg)
        if triage:
            from enclave.engines import create_engine

            engine = create_engine(cfg)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=common.err_console,
            transient=True,
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            result = run_scan(
                paths,
                system_high=cfg.labels.system_high,
                options=options,
                engine=engine,
                audit=audit,
                progress=progress,
            )
    finally:
        if engine is not None:
            engine.close()
        if audit is not None:
            audit.close()
    data = result.to_dict()
    if report is not None:
        report.write_text(render_html(data, result.label.value), encoding="utf-8")
    if as_json:
        common.print_json(data)
        return
    _print_summary(data, report, _colour(result.label.value))


def _colour(label: Any) -> str:
    try:
        from enclave.labels import banner_colour

        return str(banner_colour(label)) if label is not None else "red"
    except Exception:  # no labels API or an undecidable label: the conservative colour
        return "red"


def _open_audit(cfg: Any) -> Any:
    """The home's audit log when the home exists (scans are recorded); None for a bare scan."""
    if not cfg.config_file.exists():
        return None
    from enclave.audit import open_audit

    return open_audit(cfg)


def _print_summary(data: dict[str, Any], report: Path | None, colour: str = "red") -> None:
    console = common.console
    banner = data["label"]["banner"]
    console.print(f"[bold white on {colour}] {escape(banner)} [/]")
    s = data["summary"]
    console.print(
        f"{s['events']} events from {s['sources']} source(s); {s['rules_loaded']} rules loaded, "
        f"{s['rules_failed']} not usable; {s['alerts']} alerts in {s['incidents']} incident(s); "
        f"{s['parse_issues']} unreadable record(s)"
    )
    table = Table("Incident", "Severity", "Host", "First seen", "Alerts", "Tactics", "Top detection (rule author)")
    for inc in data["incidents"][:25]:
        top = inc["rules"][0] if inc["rules"] else None
        table.add_row(
            inc["id"],
            inc["severity"],
            escape(str(inc["host"])),
            str(inc["first_seen"])[:19],
            str(inc["alert_count"]),
            ", ".join(inc["tactics"]),
            escape(f"{top['title']} ({top['author']})") if top else "",
        )
    if data["incidents"]:
        console.print(table)
    for inc in data["incidents"]:
        if inc.get("triage"):
            console.print(escape(inc["triage"]["text"]))
    if report is not None:
        console.print(f"report written to {escape(str(report))}")
    console.print(f"[bold white on {colour}] {escape(banner)} [/]")


def register(app: typer.Typer) -> None:
    app.add_typer(cyber_app, name="cyber")
