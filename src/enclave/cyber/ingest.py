"""Reading a scan's inputs into its event store: sources, format detection, parsing, inserting.

Parsing (JSON decoding, flattening) costs about three times what inserting does, and a scan has
more than one core: for large inputs the parsing runs in a second process that streams batches of
row groups (:func:`enclave.cyber.store.group_events`) to the scan's process, which only inserts.
Both ways run the same generator in the same order, so rowids, per-format counts and the reported
parse issues are the same whichever is used.
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.cyber.errors import CyberError
from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers.detect import PARSERS, detect
from enclave.cyber.sources import Limits, expand_paths
from enclave.cyber.store import BATCH, EventStore, group_events

WORKER_MIN_BYTES = 64 * 1024 * 1024  # below this a second process costs more to start than it saves
QUEUE_BATCHES = 40  # parsed batches the scan may fall behind by while it matches (bounds memory)

# Messages: ("source",) a source begins; ("rows", groups); ("parsed", kind) a source was parsed;
# ("issues", [ParseIssue]) at the end; from the worker also ("error", ...) and None (done). The
# pipe between the processes holds little, so the parser never runs far ahead of the inserts.
Message = tuple[Any, ...]


@dataclass
class IngestStats:
    sources: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    issues: list[ParseIssue] = field(default_factory=list)


def _messages(paths: list[Path], limits: Limits) -> Iterator[Message]:
    """Everything parsing produces, in order; never stops on a bad file or record."""
    issues: list[ParseIssue] = []
    for source in expand_paths(paths, issues, limits):
        yield ("source",)
        try:
            kind = detect(source)
        except OSError as exc:
            issues.append(ParseIssue(source.name, None, "file", f"cannot read: {exc}"))
            continue
        if kind is None:
            issues.append(ParseIssue(source.name, 0, "byte", "unrecognised log format"))
            continue
        batch: list[dict[str, Any]] = []
        try:
            for event in PARSERS[kind](source, issues):
                batch.append(event)
                if len(batch) >= BATCH:
                    yield ("rows", group_events(batch))
                    batch = []
        except Exception as exc:  # a parser bug must not end the scan: report it with the file
            issues.append(ParseIssue(source.name, None, "file", f"{kind} parser stopped: {type(exc).__name__}: {exc}"))
        if batch:
            yield ("rows", group_events(batch))
        yield ("parsed", kind)
    yield ("issues", issues)


def worker_main() -> None:
    """The parsing process: read (paths, limits) on stdin, stream pickled messages on stdout, then None.

    Started as ``python -c`` rather than through ``multiprocessing`` so that it never re-imports
    the caller's main module and never forks a threaded server. Anything else that writes to
    stdout in this process is sent to stderr, so the stream carries only messages.
    """
    gc.disable()  # this process only parses: its objects are freed by reference counting (see gc_paused)
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
    os.dup2(2, 1)
    paths, limits = pickle.load(sys.stdin.buffer)  # noqa: S301 - written by the scan that started us
    try:
        for message in _messages(paths, limits):
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:
        failure = ("error", type(exc).__module__, type(exc).__qualname__, str(getattr(exc, "message", exc)))
        pickle.dump((*failure, _hint(exc)), out)
    pickle.dump(None, out)
    out.flush()


def _hint(exc: BaseException) -> str | None:
    hint = getattr(exc, "hint", None)
    return str(hint) if hint else None


def _rebuild(module: str, name: str, message: str, hint: str | None) -> BaseException:
    """The worker's exception, as the same Enclave error class where it is one."""
    from enclave import errors
    from enclave.cyber import errors as cyber_errors

    for namespace in (cyber_errors, errors):
        cls = getattr(namespace, name, None)
        if isinstance(cls, type) and issubclass(cls, errors.EnclaveError):
            return cls(message, hint)
    return CyberError(
        f"log parsing failed: {module}.{name}: {message}", hint="report this with the input that caused it"
    )


def _from_worker(paths: list[Path], limits: Limits) -> Iterator[Message]:
    import enclave

    env = dict(os.environ)
    package_root = str(Path(enclave.__file__).resolve().parents[1])  # this very code, also when run from a checkout
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    process = subprocess.Popen(
        [sys.executable, "-c", "from enclave.cyber.ingest import worker_main; worker_main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    # A thread keeps reading while the scan matches stored rows, so the parser is not held up
    inbox: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_BATCHES)
    reader = threading.Thread(target=_read_messages, args=(process, inbox), name="cyber-parse-reader", daemon=True)
    try:
        pickle.dump((paths, limits), process.stdin)
        process.stdin.close()
        reader.start()
        while True:
            message = inbox.get()
            if isinstance(message, BaseException):
                raise message
            if message is None:
                return
            if message[0] == "error":
                raise _rebuild(*message[1:])
            yield message
    finally:
        if process.poll() is None:
            process.kill()
        while reader.is_alive():  # let the reader see the end of the stream
            try:
                inbox.get(timeout=0.1)
            except queue.Empty:
                pass
        process.wait()
        process.stdout.close()


def _read_messages(process: subprocess.Popen[bytes], inbox: queue.Queue[Any]) -> None:
    assert process.stdout is not None
    while True:
        try:
            message = pickle.load(process.stdout)  # noqa: S301 - our own child, through our own pipe
        except EOFError:
            message = CyberError(
                f"the log parsing process stopped unexpectedly (exit code {process.wait()})",
                hint="check free memory, or scan fewer files at once",
            )
        except Exception as exc:  # a broken stream: end the scan with it rather than hang
            message = CyberError(f"cannot read from the log parsing process: {exc}")
        inbox.put(message)
        if message is None or isinstance(message, BaseException) or message[0] == "error":
            return


def input_bytes(paths: list[Path]) -> int:
    """The size of the inputs on disk (directories walked), to decide whether a worker pays off."""
    total = 0
    for path in paths:
        try:
            if path.is_dir():
                total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            elif path.is_file():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def use_worker(paths: list[Path]) -> bool:
    """A second process when there is a second core and enough input to keep it busy."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores > 1 and input_bytes(paths) >= WORKER_MIN_BYTES


def ingest(
    store: EventStore,
    paths: list[Path],
    limits: Limits,
    *,
    worker: bool | None = None,
    progress: Callable[[int], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> IngestStats:
    """Parse ``paths`` into ``store``; ``worker`` None decides by input size and cores.

    ``on_rows(count)`` is called after each stored batch (the scan matches rules meanwhile).
    """
    if worker is None:
        worker = use_worker(paths)
    stats = IngestStats()
    before = store.count
    for message in _from_worker(paths, limits) if worker else _messages(paths, limits):
        tag = message[0]
        if tag == "rows":
            store.add_groups(message[1])
            if on_rows:
                on_rows(store.count)
        elif tag == "source":
            stats.sources += 1
            before = store.count
        elif tag == "parsed":
            stats.formats[message[1]] = stats.formats.get(message[1], 0) + store.count - before
            if progress:
                progress(store.count)
        elif tag == "issues":
            stats.issues.extend(message[1])
    return stats


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a scan loads and matches (a tenth of its CPU otherwise).

    Loading and matching make millions of short-lived, acyclic tuples, strings and dicts, which
    reference counting frees; the collector would only keep re-scanning them and the rule set.
    It is switched back on (if it was on) when the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
