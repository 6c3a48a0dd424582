"""``enclave models list|verify``, ``enclave doctor`` and ``enclave chat``: the engine-facing commands."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

import enclave
from enclave.cli import common
from enclave.config import Settings
from enclave.errors import EnclaveError

models_app = typer.Typer(help="List and verify the pinned model files.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]


@contextmanager
def _hash_progress(label: str, total: int, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A byte progress bar on stderr while a model file is hashed (nothing when output is JSON)."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=common.err_console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _file_size(path: os.PathLike[str]) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


# -- enclave models ---------------------------------------------------------------------------
@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Every known model (built in and [models.*]) with its file and pinned SHA-256."""
    from enclave.engines.models import list_models

    cfg = common.settings()
    rows = []
    for entry in list_models(cfg):
        size = _file_size(entry.path)
        rows.append(
            {
                "id": entry.id,
                "active": entry.id == cfg.engine.model and cfg.engine.kind == "llamacpp",
                "source": entry.source,
                "path": str(entry.path),
                "present": size is not None,
                "size": size,
                "sha256": entry.sha256,
            }
        )
    if as_json:
        common.print_json(rows)
        return
    table = Table(title="Pinned models", title_justify="left")
    for column in ("", "id", "source", "size", "sha256", "path"):
        table.add_column(column, overflow="fold")
    for row in rows:
        size = f"{row['size'] / 1e6:.1f} MB" if row["present"] else "[red]missing[/red]"
        table.add_row(
            "*" if row["active"] else "", row["id"], row["source"], size, row["sha256"][:16] + "…", escape(row["path"])
        )
    common.console.print(table)
    if cfg.engine.kind == "openai":
        common.console.print(
            f"engine kind is openai: model [bold]{escape(cfg.engine.remote_model or cfg.engine.model)}"
            f"[/bold] is served by {escape(cfg.engine.base_url)}"
        )


@models_app.command("verify")
def models_verify(
    model_ids: Annotated[list[str] | None, typer.Argument(help="model ids (default: all)", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rehash model files and compare them with their pins (never uses the cache). Exit 1 on any mismatch."""
    from enclave.engines.models import HashCache, list_models, resolve_model, verify_model

    cfg = common.settings()
    entries = [resolve_model(cfg, mid) for mid in model_ids] if model_ids else list_models(cfg)
    cache = HashCache.for_settings(cfg)
    results = []
    for entry in entries:
        record: dict[str, Any] = {"id": entry.id, "path": str(entry.path), "expected": entry.sha256}
        started = time.perf_counter()
        try:
            with _hash_progress(f"hashing {entry.id}", _file_size(entry.path) or 0, not as_json) as progress:
                verified = verify_model(entry, cache=cache, force=True, progress=progress)
            record.update(ok=True, actual=verified.sha256, size=verified.size, error=None)
        except EnclaveError as exc:
            record.update(ok=False, actual=None, size=_file_size(entry.path), error=exc.message)
        record["seconds"] = round(time.perf_counter() - started, 3)
        results.append(record)
    ok = all(r["ok"] for r in results)
    if as_json:
        common.print_json({"ok": ok, "models": results})
    else:
        for r in results:
            if r["ok"]:
                common.console.print(f"[green]OK[/green]       {r['id']}  sha256 {r['actual']}  ({r['seconds']} s)")
            else:
                common.console.print(f"[red]FAILED[/red]   {r['id']}: {escape(r['error'])}", highlight=False)
    if not ok:
        raise typer.Exit(1)


# -- enclave doctor ---------------------------------------------------------------------------
@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    hint: str | None = None


def _check(name: str, fn: Callable[[], str]) -> Check:
    """Run one check: its return value is the detail; an EnclaveError (or OSError) makes it fail."""
    try:
        return Check(name, True, fn())
    except EnclaveError as exc:
        return Check(name, False, exc.message, exc.hint)
    except OSError as exc:
        return Check(name, False, str(exc))


def _versions() -> dict[str, str]:
    versions = {"enclave": enclave.__version__, "python": platform.python_version(), "platform": platform.platform()}
    for dist in ("llama-cpp-python", "httpx", "pydantic", "typer"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _doctor_checks(cfg: Settings) -> list[Check]:
    from enclave.engines.models import HashCache, resolve_model, verify_model
    from enclave.errors import EngineError, HomeError
    from enclave.home import permission_problems, require_home
    from enclave.offline import OFFLINE_ENV, active_guard

    checks: list[Check] = [Check("config", True, f"{cfg.config_file} is valid")]

    def home() -> str:
        require_home(cfg)
        if not os.access(cfg.home, os.W_OK | os.X_OK):
            raise HomeError(f"the Enclave home {cfg.home} is not writable", hint="fix its owner or choose another home")
        return f"{cfg.home} initialised and writable"

    def permissions() -> str:
        problems = permission_problems(cfg)
        if problems:
            raise HomeError(
                "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""),
                hint=f"run `chmod -R go-rwx {cfg.home}`",
            )
        return "owner-only (no group/other access)"

    def guard() -> str:
        active = active_guard()
        if not cfg.egress.enabled:
            raise EnclaveError(
                "the egress guard is disabled by [egress] enabled = false",
                hint="set [egress] enabled = true unless this machine is isolated by other means",
            )
        if active is None or not active.installed:
            raise EnclaveError("the egress guard is not installed in this process")
        allowed = sorted(active.allowed_hosts)
        return "on: loopback" + (f" + {', '.join(allowed)}" if allowed else " only")

    def switches() -> str:
        wrong = [k for k, v in OFFLINE_ENV.items() if k != "SENTENCE_TRANSFORMERS_HOME" and os.environ.get(k) != v]
        if wrong:
            raise EnclaveError(f"offline switches not set: {', '.join(wrong)}")
        return "HF hub / transformers offline, telemetry off"

    checks += [
        _check("home", home),
        _check("home permissions", permissions),
        _check("egress guard", guard),
        _check("offline switches", switches),
    ]

    if cfg.engine.kind == "llamacpp":

        def model() -> str:
            entry = resolve_model(cfg, cfg.engine.model)
            verified = verify_model(entry, cache=HashCache.for_settings(cfg), force=True)
            return f"{entry.id}: {entry.path} ({verified.size / 1e6:.1f} MB) sha256 {verified.sha256} verified"

        def engine() -> str:
            try:
                import llama_cpp
            except ImportError as exc:
                raise EngineError(f"llama-cpp-python cannot be imported: {exc}", hint="run `make install`") from exc
            threads = cfg.engine.n_threads or "all cores"
            return f"embedded llama.cpp {llama_cpp.__version__} (n_ctx {cfg.engine.n_ctx}, threads {threads})"

        checks += [_check("engine", engine), _check("model", model)]
    else:
        from enclave.engines import create_engine

        def remote() -> str:
            engine = create_engine(cfg)
            try:
                served = engine.list_models()  # type: ignore[attr-defined]
            finally:
                engine.close()
            wanted = engine.model_id
            if served and wanted not in served:
                raise EngineError(
                    f"{cfg.engine.base_url} does not serve model {wanted!r} (it serves {', '.join(served)})",
                    hint="set [engine] remote_model to one of the served models",
                )
            return f"OpenAI-compatible server at {cfg.engine.base_url} reachable, serves {wanted!r}"

        checks += [
            _check("engine", remote),
            Check("model", True, "served remotely: weights pinned and verified by the serving site"),
        ]
    return checks


def doctor(as_json: JsonOpt = False) -> None:
    """Check the installation: config, home and permissions, egress guard, engine and pinned model."""
    try:
        cfg = common.settings()
    except EnclaveError as exc:
        checks = [Check("config", False, exc.message, exc.hint)]
    else:
        checks = _doctor_checks(cfg)
    ok = all(c.ok for c in checks)
    versions = _versions()
    if as_json:
        common.print_json({"ok": ok, "checks": [asdict(c) for c in checks], "versions": versions})
    else:
        table = Table(title="Enclave doctor", title_justify="left")
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        for c in checks:
            status = "[green]ok[/green]" if c.ok else "[red]FAIL[/red]"
            detail = escape(c.detail) + (f"\n[yellow]hint:[/yellow] {escape(c.hint)}" if c.hint else "")
            table.add_row(c.name, status, detail)
        common.console.print(table)
        common.console.print("  ".join(f"{k} {escape(v)}" for k, v in versions.items()), style="dim", highlight=False)
    if not ok:
        raise typer.Exit(1)


# -- enclave chat -----------------------------------------------------------------------------
def chat(
    prompt: Annotated[str, typer.Argument(help="the question or instruction for the model")],
    stream: Annotated[bool, typer.Option("--stream", help="print tokens as they are generated")] = False,
    as_json: JsonOpt = False,
    system: Annotated[str | None, typer.Option("--system", help="a system message to put first")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", min=1, help="cap on generated tokens")] = None,
) -> None:
    """A plain model call (no retrieval): prints the answer; --json adds usage and timings."""
    from enclave.engines import ChatMessage, create_engine

    if not prompt.strip():
        raise EnclaveError("the prompt is empty", hint='pass the question as an argument: enclave chat "..."')
    cfg = common.settings()
    messages = ([ChatMessage("system", system)] if system else []) + [ChatMessage("user", prompt)]
    started = time.perf_counter()
    with common.err_console.status("loading the model…", spinner="dots") if not as_json else nullcontext():
        engine = create_engine(cfg)
    loaded = time.perf_counter()
    try:
        if stream:
            _chat_stream(engine, messages, max_tokens, as_json, loaded - started)
        else:
            with common.err_console.status("generating…", spinner="dots") if not as_json else nullcontext():
                result = engine.chat(messages, max_tokens=max_tokens)
            done = time.perf_counter()
            if as_json:
                common.print_json(
                    {
                        "model": result.model_id,
                        "model_sha256": engine.model_sha256,
                        "text": result.text,
                        "finish_reason": result.finish_reason,
                        "usage": {**asdict(result.usage), "total_tokens": result.usage.total_tokens},
                        "timings": {"load_s": round(loaded - started, 3), "generate_s": round(done - loaded, 3)},
                    }
                )
            else:
                sys.stdout.write(result.text + "\n")
    finally:
        engine.close()


def _chat_stream(engine: Any, messages: list[Any], max_tokens: int | None, as_json: bool, load_s: float) -> None:
    started = time.perf_counter()
    first: float | None = None
    for chunk in engine.stream(messages, max_tokens=max_tokens):
        if chunk.text and first is None:
            first = time.perf_counter()
        if as_json:
            event: dict[str, Any] = {"text": chunk.text}
            if chunk.finish_reason is not None:
                usage = chunk.usage
                event.update(
                    finish_reason=chunk.finish_reason,
                    model=engine.model_id,
                    model_sha256=engine.model_sha256,
                    usage={**asdict(usage), "total_tokens": usage.total_tokens} if usage else None,
                    timings={
                        "load_s": round(load_s, 3),
                        "first_token_s": round((first or time.perf_counter()) - started, 3),
                        "generate_s": round(time.perf_counter() - started, 3),
                    },
                )
            sys.stdout.write(json_line(event))
        elif chunk.text:
            sys.stdout.write(chunk.text)
        sys.stdout.flush()
    if not as_json:
        sys.stdout.write("\n")


def json_line(data: dict[str, Any]) -> str:
    """One NDJSON event of ``chat --stream --json``."""
    return json.dumps(data, ensure_ascii=False) + "\n"


def register(app: typer.Typer) -> None:
    """Add ``models``, ``doctor`` and ``chat`` to the root app."""
    app.add_typer(models_app, name="models")
    app.command("doctor")(doctor)
    app.command("chat")(chat)
