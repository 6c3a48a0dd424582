"""``enclave audit verify|head|proof|consistency|check-proof|show|export``: the auditor's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from enclave.cli import common

audit_app = typer.Typer(help="Verify, witness and read the tamper-evident audit trail.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]
PublicKeyOpt = Annotated[
    Path | None,
    typer.Option("--public-key", help="trusted Ed25519 public key (PEM); default: the home's audit key"),
]
UserOpt = Annotated[str | None, typer.Option("--user", help="only entries by this actor")]
ActionOpt = Annotated[str | None, typer.Option("--action", help="only this action (a trailing * matches a prefix)")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="from this ISO 8601 date/time (inclusive, UTC)")]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="up to this ISO 8601 date/time (inclusive; a date = its day)")
]


def _paths() -> tuple[Path, Path]:
    cfg = common.settings()
    return cfg.in_home(cfg.audit.path), cfg.in_home(cfg.audit.key_path)


def _trusted(explicit: Path | None) -> Any:
    from enclave.audit.keys import trusted_public_key

    return trusted_public_key(_paths()[1], explicit)


def _read_json(path: Path, what: str) -> Any:
    from enclave.audit.errors import AuditError

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        raise AuditError(f"cannot read the {what} {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise AuditError(f"{path}: the {what} is not JSON (line {exc.lineno}: {exc.msg})") from exc


@audit_app.command("verify")
def verify(
    against: Annotated[
        Path | None, typer.Option("--against", help="a signed head kept elsewhere (JSON): the log must extend it")
    ] = None,
    public_key: PublicKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute every hash and check every signed head; exit 1 and name the first bad entry on tampering."""
    from enclave.audit.heads import SignedHead
    from enclave.audit.verify import verify_log

    log_path, _ = _paths()
    trusted = _trusted(public_key)
    pinned = SignedHead.from_dict(_read_json(against, "head"), str(against)) if against else None
    if not log_path.exists():
        from enclave.audit.errors import AuditError

        raise AuditError(f"no audit log at {log_path}", hint="check ENCLAVE_HOME / [audit] path")
    report = verify_log(log_path, trusted, pinned)
    if as_json:
        common.print_json(report.to_dict())
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_report(report: Any) -> None:
    console = common.console
    if report.ok:
        head = report.latest_head or {}
        console.print(
            f"[green]audit log OK[/green]: {report.entries} entries, {report.heads} signed heads, "
            f"latest head size {head.get('tree_size')} at {head.get('timestamp')} ({report.seconds:.2f} s)",
            highlight=False,
        )
        if report.unsigned_tail:
            console.print(
                f"{report.unsigned_tail} newest entries are not yet covered by a signed head (hashes checked)"
            )
        if report.against:
            console.print(f"consistent with the external head of size {report.against['tree_size']}")
        return
    first = "" if report.first_bad_seq is None else f" — first bad entry: seq {report.first_bad_seq}"
    common.err_console.print(f"[bold red]audit log FAILED verification[/bold red]{first}", highlight=False)
    for problem in report.problems:
        common.err_console.print(f"  - {escape(problem)}", highlight=False)


@audit_app.command("head")
def head(
    fresh: Annotated[bool, typer.Option("--fresh", help="sign a new head covering every entry first")] = False,
) -> None:
    """Print the latest signed tree head (JSON) for witnessing outside this machine."""
    from enclave.audit import open_audit
    from enclave.audit.errors import AuditError

    with open_audit(common.settings(), readonly=not fresh) as log:
        latest = log.sign_head() if fresh else log.latest_head()
    if latest is None:
        raise AuditError("the audit log has no signed head yet")
    common.print_json(latest)


@audit_app.command("proof")
def proof(
    seq: Annotated[int, typer.Argument(help="sequence number (audit_id) of the entry")],
    size: Annotated[int | None, typer.Option("--size", help="prove against the signed head of this size")] = None,
) -> None:
    """Print an inclusion proof (JSON) for entry SEQ, checkable offline with `enclave audit check-proof`."""
    from enclave.audit import open_audit

    with open_audit(common.settings(), readonly=_covered(seq) or size is not None) as log:
        common.print_json(log.inclusion_proof(seq, size))


@audit_app.command("consistency")
def consistency(
    first: Annotated[int, typer.Option("--from", help="size of the older tree (e.g. a witnessed head's tree_size)")],
    size: Annotated[int | None, typer.Option("--size", help="prove up to the signed head of this size")] = None,
) -> None:
    """Print an RFC 9162 consistency proof (JSON) from the tree of size --from to a signed head."""
    from enclave.audit import open_audit

    with open_audit(common.settings(), readonly=_covered(first - 1) or size is not None) as log:
        common.print_json(log.consistency_proof(first, size))


def _covered(seq: int) -> bool:
    """True when the latest head already covers ``seq`` (then no signing key is needed)."""
    from enclave.audit import open_audit

    with open_audit(common.settings(), readonly=True) as log:
        latest = log.latest_head()
    return latest is not None and latest["tree_size"] > seq


@audit_app.command("check-proof")
def check_proof_cmd(
    proof_file: Annotated[Path, typer.Argument(help="proof JSON from `enclave audit proof` (- for stdin)")],
    head_file: Annotated[
        Path | None, typer.Option("--head", help="a signed head you trust (JSON) that the proof must match")
    ] = None,
    public_key: PublicKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an inclusion or consistency proof offline against a signed head and the public key."""
    from enclave.audit.heads import SignedHead
    from enclave.audit.keys import load_public_key
    from enclave.audit.proofs import check_proof

    trusted = load_public_key(public_key) if public_key else _trusted(None)
    pinned = SignedHead.from_dict(_read_json(head_file, "head"), str(head_file)) if head_file else None
    result = check_proof(_read_json(proof_file, "proof"), trusted, pinned)
    if as_json:
        common.print_json(result)
    elif result["kind"] == "inclusion":
        common.console.print(
            f"[green]proof OK[/green]: entry {result['seq']} is included in the signed tree of size "
            f"{result['tree_size']} ({result['head_timestamp']})",
            highlight=False,
        )
    else:
        common.console.print(
            f"[green]proof OK[/green]: the tree of size {result['tree_size']} extends the tree of size "
            f"{result['first_size']}",
            highlight=False,
        )


@audit_app.command("show")
def show(
    user: UserOpt = None,
    action: ActionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option("--limit", help="at most this many entries (the newest)")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines on stdout")] = False,
) -> None:
    """Show the newest matching entries as a table (or JSON Lines)."""
    from enclave.audit import open_audit

    with open_audit(common.settings(), readonly=True) as log:
        total = log.count(user, action, since, until)
        rows = log.entries(user, action, since, until, limit=limit, offset=max(0, total - limit))
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
        return
    table = Table(title=f"Audit entries ({len(rows)} of {total})", title_justify="left")
    for column in ("seq", "time (UTC)", "actor", "action", "details"):
        table.add_column(column, overflow="fold")
    for row in rows:
        details = json.dumps(row["details"], sort_keys=True, ensure_ascii=False)
        table.add_row(
            str(row["seq"]), row["time"], escape(str(row["actor"])), escape(row["action"]), escape(details[:200])
        )
    common.console.print(table)


@audit_app.command("export")
def export(
    user: UserOpt = None,
    action: ActionOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file (default stdout)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines (the only export format)")] = True,
) -> None:
    """Export matching entries as JSON Lines: each line is the entry's exact stored (hashed) text."""
    from enclave.audit import open_audit

    del as_json  # always JSON Lines; accepted for symmetry with `show`
    with open_audit(common.settings(), readonly=True) as log:
        if output is None:
            for body in log.iter_bodies(user, action, since, until):
                sys.stdout.write(body + "\n")
            sys.stdout.flush()
            return
        count = 0
        with output.open("w", encoding="utf-8") as handle:
            for body in log.iter_bodies(user, action, since, until):
                handle.write(body + "\n")
                count += 1
    common.err_console.print(f"exported {count} entries to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
