"""``enclave ingest``, ``search``, ``documents`` and ``users``: the data commands.

The CLI is run by the operator who owns the Enclave home; ``--user NAME`` says on whose behalf a
read runs, and that user's clearance (met with ``--ceiling``) decides what is visible. A document a
user may not read is reported exactly like a missing one.
"""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from enclave.cli import common
from enclave.errors import EnclaveError

if TYPE_CHECKING:
    from enclave.config import Settings
    from enclave.identity import Principal
    from enclave.store.base import DocumentRecord, Store


class NotFound(EnclaveError):
    exit_code = 1


def _operator() -> str:
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return "local:unknown"


def _settings() -> Settings:
    from enclave.home import require_home

    cfg = common.settings()
    require_home(cfg)
    return cfg


@contextmanager
def _store(cfg: Settings) -> Iterator[Store]:
    from enclave.embed import EMBED_DIM
    from enclave.store import open_store

    store = open_store(cfg, embed_dim=EMBED_DIM)
    try:
        yield store
    finally:
        store.close()


def _audit(cfg: Settings) -> Any:
    """The audit log. Without one nothing may change or be read: fail closed."""
    try:
        from enclave.audit import open_audit
    except ImportError as exc:
        raise EnclaveError(
            "the audit log is not available in this build, so the command cannot run",
            hint="every ingest, search and user change must be audited; install a complete Enclave",
        ) from exc
    from enclave.audit.config_watch import record_config_change

    log = open_audit(cfg)
    record_config_change(log, cfg, actor=_operator())
    return log


def _close(obj: Any) -> None:
    close = getattr(obj, "close", None)
    if callable(close):
        close()


def _principal(store: Store, audit: Any, name: str, permission: str) -> Principal:
    from enclave.identity import UserDirectory

    principal = UserDirectory(store, audit).principal(name)
    principal.require(permission)
    return principal


@contextmanager
def _session(cfg: Settings) -> Iterator[tuple[Store, Any]]:
    """The store and the audit log for one command; the audit log closes last (signing a head)."""
    audit = _audit(cfg)
    try:
        with _store(cfg) as store:
            yield store, audit
    finally:
        _close(audit)


@contextmanager
def _acting_as(cfg: Settings, user: str, permission: str) -> Iterator[tuple[Store, Any, Principal]]:
    """``_session`` on behalf of ``user``, who must exist, be enabled and hold ``permission``."""
    with _session(cfg) as (store, audit):
        yield store, audit, _principal(store, audit, user, permission)


def _label_arg(text: str | None) -> Any:
    if text is None:
        return None
    from enclave.labels import parse_label

    return parse_label(text)


# -- ingest ----------------------------------------------------------------------------------------
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or directories to ingest")],
    label: Annotated[
        str | None, typer.Option("--label", help="label for documents that carry no marking, e.g. 'NATO RESTRICTED'")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="ingest on behalf of this user (needs role ingester)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="exit with status 1 when any file was refused")] = False,
) -> None:
    """Ingest documents: extract, mark, chunk, embed and store them (one transaction per document)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from enclave.embed import load_embedder
    from enclave.ingest.pipeline import IngestItem, count_files, ingest_paths

    cfg = _settings()
    explicit = _label_arg(label)
    with _session(cfg) as (store, audit):
        actor = _operator()
        if user is not None:
            actor = _principal(store, audit, user, "ingest").name
        embedder = load_embedder(cfg)
        total = count_files(paths)
        progress = Progress(
            TextColumn("[bold]ingest[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[current]}"),
            console=common.err_console,
            disable=as_json,
            transient=True,
        )
        with progress:
            task = progress.add_task("ingest", total=total or None, current="")

            def on_item(item: IngestItem) -> None:
                if "!" not in item.source:  # parts of a container do not advance the file count
                    progress.update(task, advance=1, current=Path(item.source).name[-40:])

            summary = ingest_paths(
                paths, store=store, embedder=embedder, settings=cfg, explicit_label=explicit,
                ingested_by=actor, audit=audit, on_item=on_item,
            )  # fmt: skip
    if as_json:
        common.print_json(summary.to_dict())
    else:
        _print_summary(summary)
    if strict and summary.refused:
        raise typer.Exit(1)


def _print_summary(summary: Any) -> None:
    from rich.table import Table

    counts = summary.counts()
    table = Table(title="ingest summary", show_header=False)
    table.add_row("ingested", str(counts["ingested"]))
    table.add_row("replaced (changed at the same source)", str(counts["replaced"]))
    table.add_row("skipped as duplicates", str(counts["duplicates"]))
    table.add_row("refused", str(counts["refused"]), style="red" if counts["refused"] else None)
    table.add_row("chunks stored", str(counts["chunks"]))
    common.console.print(table)
    for item in summary.refused:
        common.console.print(f"[red]refused[/red] {item.source}: {item.reason}", highlight=False)


# -- search ----------------------------------------------------------------------------------------
def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    user: Annotated[str, typer.Option("--user", help="search on behalf of this user (their clearance applies)")],
    ceiling: Annotated[
        str | None, typer.Option("--ceiling", help="session ceiling, e.g. 'NATO RESTRICTED' (results at or below it)")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=200, help="number of results")] = 10,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, bm25 or dense")] = "hybrid",
    source: Annotated[str | None, typer.Option("--source", help="only this source (a trailing * = prefix)")] = None,
    doc_type: Annotated[list[str] | None, typer.Option("--type", help="only these document types (repeatable)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="documents dated on/after YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--until", help="documents dated on/before YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
) -> None:
    """Search the documents a user may read (hybrid BM25 + dense, label-filtered inside the query)."""
    from enclave.labels import clearance_to_dict, join, render_banner
    from enclave.retrieval import SearchFilters, effective_clearance
    from enclave.retrieval import search as run_search

    cfg = _settings()
    filters = SearchFilters(
        source=source,
        date_from=_date(since, "--since"),
        date_to=_date(until, "--until"),
        doc_types=frozenset(t.lower() for t in doc_type or ()),
    )
    ceiling_label = _label_arg(ceiling)
    with _acting_as(cfg, user, "read") as (store, audit, principal):
        eff = effective_clearance(principal.clearance, ceiling_label)
        embedder = None
        if mode != "bm25":
            from enclave.embed import load_embedder

            embedder = load_embedder(cfg)
        hits = run_search(store, embedder, eff, query, k=k, filters=filters, mode=mode)  # type: ignore[arg-type]
        audit.append(
            "search",
            actor=principal.name,
            clearance=clearance_to_dict(eff),
            details={
                **_question(audit, query, cfg.audit.hash_questions),
                "mode": mode,
                "k": k,
                "ceiling": ceiling,
                "effective_clearance": clearance_to_dict(eff),
                "results": [{"chunk_id": h.chunk_id, "label": h.portion} for h in hits],
            },
        )
    if as_json:
        common.print_json(
            {
                "user": principal.name,
                "effective_clearance": clearance_to_dict(eff),
                "banner": render_banner(join([h.label for h in hits])) if hits else None,
                "results": [h.to_dict() for h in hits],
            }
        )
        return
    if not hits:
        common.console.print("no results")
        return
    _print_hits(hits, render_banner(join([h.label for h in hits])))


def _question(audit: Any, query: str, hash_questions: bool) -> dict[str, str]:
    """The query as the audit log's policy wants it recorded (text, or only its SHA-256)."""
    field = getattr(audit, "question_field", None)
    if callable(field):
        return dict(field(query))
    if hash_questions:
        return {"question_sha256": hashlib.sha256(query.encode("utf-8")).hexdigest()}
    return {"question": query}


def _print_hits(hits: list[Any], banner: str) -> None:
    from rich.markup import escape

    from enclave.labels import banner_colour, join

    colour = banner_colour(join([h.label for h in hits]))
    common.console.print(f"[bold {colour}]{escape(banner)}[/]")
    for rank, hit in enumerate(hits, start=1):
        where = f"p.{hit.page} " if hit.page else ""
        portion = f"[{banner_colour(hit.label)}]{escape(hit.portion)}[/]"
        common.console.print(
            f"[bold]{rank}.[/bold] {portion} [bold]{escape(hit.title)}[/bold]"
            f"  [dim]{escape(hit.source or '')} {where}chars {hit.start}-{hit.end}  score {hit.score:.4f}[/dim]"
        )
        snippet = " ".join(hit.text.split())
        common.console.print("   " + escape(snippet[:300] + ("…" if len(snippet) > 300 else "")), highlight=False)
    common.console.print(f"[bold {colour}]{escape(banner)}[/]")


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise EnclaveError(f"{option} {text!r} is not a date", hint="use the form YYYY-MM-DD") from None


# -- documents -------------------------------------------------------------------------------------
documents_app = typer.Typer(help="List, show and delete stored documents (label-checked).", no_args_is_help=True)


def _readable_document(store: Store, principal: Principal, document_id: int) -> DocumentRecord:
    """The document, or ``NotFound`` — identical whether it does not exist or the user may not read it."""
    from enclave.labels import can_read

    doc = store.get_document(document_id)
    if doc is None or not can_read(principal.clearance, doc.label):
        raise NotFound(f"no document with id {document_id}", hint="list documents with `enclave documents list`")
    return doc


def _doc_dict(doc: DocumentRecord) -> dict[str, Any]:
    from enclave.labels import render_banner

    return {
        "id": doc.id,
        "title": doc.title,
        "source": doc.source,
        "doc_type": doc.doc_type,
        "label": render_banner(doc.label),
        "label_source": doc.label_source,
        "content_hash": doc.content_hash,
        "date": doc.doc_date,
        "metadata": doc.metadata,
        "ingested_by": doc.ingested_by,
        "ingested_at": doc.ingested_at,
        "chunks": doc.n_chunks,
    }


@documents_app.command("list")
def documents_list(
    user: Annotated[str, typer.Option("--user", help="list what this user may read")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Documents the user may read."""
    from rich.table import Table

    from enclave.labels import accessible_label_ids, banner_colour, render_banner

    cfg = _settings()
    with _acting_as(cfg, user, "read") as (store, _audit_log, principal):
        ids = accessible_label_ids(principal.clearance, store.labels())
        docs = store.list_documents(ids, limit=limit, offset=offset)
    if as_json:
        common.print_json([_doc_dict(d) for d in docs])
        return
    if not docs:
        common.console.print("no documents")
        return
    table = Table("id", "label", "title", "type", "source", "chunks")
    for d in docs:
        table.add_row(
            str(d.id), f"[{banner_colour(d.label)}]{render_banner(d.label)}[/]", d.title, d.doc_type, d.source,
            str(d.n_chunks),
        )  # fmt: skip
    common.console.print(table)


@documents_app.command("show")
def documents_show(
    document_id: Annotated[int, typer.Argument(help="document id")],
    user: Annotated[str, typer.Option("--user", help="show it on behalf of this user")],
    text: Annotated[bool, typer.Option("--text", help="print every chunk's text")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One document's metadata and chunks, if the user may read it."""
    from rich.markup import escape

    from enclave.labels import accessible_label_ids, banner_colour, render_banner, render_portion

    cfg = _settings()
    with _acting_as(cfg, user, "read") as (store, _audit_log, principal):
        doc = _readable_document(store, principal, document_id)
        chunks = store.document_chunks(doc.id, accessible_label_ids(principal.clearance, store.labels()))
    info = _doc_dict(doc)
    if as_json:
        info["chunk_list"] = [
            {"id": c.id, "portion": render_portion(c.label), "start": c.start, "end": c.end, "page": c.page,
             "heading": c.heading, "flags": sorted(c.flags), **({"text": c.text} if text else {})}
            for c in chunks
        ]  # fmt: skip
        common.print_json(info)
        return
    colour = banner_colour(doc.label)
    common.console.print(f"[bold {colour}]{escape(render_banner(doc.label))}[/]")
    for key, value in info.items():
        if key != "metadata":
            common.console.print(f"[bold]{key}[/bold]: {escape(str(value))}", highlight=False)
    if doc.metadata:
        common.console.print(f"[bold]metadata[/bold]: {escape(str(doc.metadata))}", highlight=False)
    for c in chunks:
        where = f" p.{c.page}" if c.page else ""
        head = f" — {c.heading}" if c.heading else ""
        common.console.print(f"  chunk {c.id} {render_portion(c.label)} chars {c.start}-{c.end}{where}{escape(head)}")
        if text:
            common.console.print("    " + escape(c.text.replace("\n", "\n    ")), highlight=False)
    common.console.print(f"[bold {colour}]{escape(render_banner(doc.label))}[/]")


@documents_app.command("delete")
def documents_delete(
    document_id: Annotated[int, typer.Argument(help="document id")],
    user: Annotated[str, typer.Option("--user", help="delete on behalf of this user (role ingester or admin)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Delete a document, its chunks and vectors (audited)."""
    from enclave.labels import clearance_to_dict, label_to_dict

    cfg = _settings()
    with _acting_as(cfg, user, "read") as (store, audit, principal):
        doc = _readable_document(store, principal, document_id)
        principal.require("delete")
        if not yes and not typer.confirm(f"delete document {doc.id} ({doc.title})?"):
            raise typer.Exit(1)

        def record(_: int) -> None:
            audit.append(
                "document.delete",
                actor=principal.name,
                clearance=clearance_to_dict(principal.clearance),
                details={"document_id": doc.id, "source": doc.source, "content_sha256": doc.content_hash,
                         "label": label_to_dict(doc.label), "chunk_count": doc.n_chunks},
            )  # fmt: skip

        store.delete_document(doc.id, on_commit=record)
    common.console.print(f"deleted document {document_id}")


# -- users -----------------------------------------------------------------------------------------
users_app = typer.Typer(help="Users, clearances, roles and API tokens.", no_args_is_help=True)


@contextmanager
def _directory() -> Iterator[Any]:
    from enclave.identity import UserDirectory

    cfg = _settings()
    with _session(cfg) as (store, audit):
        yield UserDirectory(store, audit, actor=_operator())


def _user_dict(user: Any) -> dict[str, Any]:
    from enclave.identity import describe

    return describe(user)


def _print_user(user: Any) -> None:
    from enclave.labels import clearance_from_dict

    clearance = clearance_from_dict(user.clearance)
    common.console.print(f"[bold]{user.name}[/bold]{'  [red](disabled)[/red]' if user.disabled else ''}")
    common.console.print(f"  clearance:   {clearance.level_name}")
    common.console.print(f"  nationality: {clearance.nationality}")
    common.console.print(f"  memberships: {', '.join(sorted(clearance.memberships)) or '-'}")
    common.console.print(f"  holds:       {', '.join(sorted(clearance.restrictive)) or '-'}")
    common.console.print(f"  roles:       {', '.join(user.roles)}")
    common.console.print(f"  created:     {user.created_at}  updated: {user.updated_at}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name")],
    clearance: Annotated[str, typer.Option("--clearance", help="e.g. 'NATO SECRET'")],
    nationality: Annotated[str, typer.Option("--nationality", help="ISO 3166 alpha-3, e.g. DEU")],
    member: Annotated[list[str] | None, typer.Option("--member", help="membership, e.g. NATO (repeatable)")] = None,
    holds: Annotated[
        list[str] | None, typer.Option("--holds", help="restrictive category held, e.g. ATOMAL (repeatable)")
    ] = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="analyst, ingester, auditor or admin (repeatable)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a user and print its API token (shown only this once)."""
    from enclave.labels import Clearance

    cl = Clearance.create(
        level=clearance, nationality=nationality.upper(), memberships=tuple(member or ()), holds=tuple(holds or ())
    )
    with _directory() as users:
        user, token = users.add(name, cl, tuple(role or ("analyst",)))
    if as_json:
        common.print_json({**_user_dict(user), "token": token})
        return
    _print_user(user)
    common.console.print(f"\nAPI token: [bold]{token}[/bold]", highlight=False)
    common.err_console.print("[yellow]store it now: it is shown only once and kept only as a hash[/yellow]")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user with clearance, roles and status."""
    from rich.table import Table

    from enclave.labels import clearance_from_dict

    with _directory() as users:
        records = users.list()
    if as_json:
        common.print_json([_user_dict(u) for u in records])
        return
    if not records:
        common.console.print("no users")
        return
    table = Table("name", "clearance", "nationality", "memberships", "holds", "roles", "status")
    for u in records:
        c = clearance_from_dict(u.clearance)
        table.add_row(
            u.name, c.level_name, c.nationality, ", ".join(sorted(c.memberships)),
            ", ".join(sorted(c.restrictive)), ", ".join(u.roles), "disabled" if u.disabled else "active",
        )  # fmt: skip
    common.console.print(table)


@users_app.command("show")
def users_show(
    name: Annotated[str, typer.Argument()], as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """One user's clearance, roles and status (never the token)."""
    with _directory() as users:
        user = users.get(name)
    if as_json:
        common.print_json(_user_dict(user))
    else:
        _print_user(user)


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument()]) -> None:
    """Disable a user: its token stops working at once."""
    with _directory() as users:
        users.disable(name)
    common.console.print(f"user {name} disabled")


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument()]) -> None:
    """Re-enable a disabled user."""
    with _directory() as users:
        users.enable(name)
    common.console.print(f"user {name} enabled")


@users_app.command("roles")
def users_roles(
    name: Annotated[str, typer.Argument()],
    role: Annotated[list[str], typer.Option("--role", help="the complete new set of roles (repeatable)")],
) -> None:
    """Replace a user's roles."""
    with _directory() as users:
        user = users.set_roles(name, tuple(role))
    common.console.print(f"user {name} roles: {', '.join(user.roles)}")


@users_app.command("rotate-token")
def users_rotate_token(
    name: Annotated[str, typer.Argument()], as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Issue a new API token (printed once); the old one stops working."""
    with _directory() as users:
        token = users.rotate_token(name)
    if as_json:
        common.print_json({"name": name, "token": token})
        return
    common.console.print(f"new API token for {name}: [bold]{token}[/bold]", highlight=False)
    common.err_console.print("[yellow]store it now: it is shown only once and kept only as a hash[/yellow]")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("search")(search)
    app.add_typer(documents_app, name="documents")
    app.add_typer(users_app, name="users")
