"""kill -9 in the middle of a large ingest: every committed document intact, no half-written one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from enclave.store.sqlite import SQLiteStore

from .factory import HashEmbedder
from .kill_worker import CHUNKS, doc_for

TESTS = Path(__file__).resolve().parents[1]


def _start(db: Path, pause_at: int, mode: str = "store", folder: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    extra = [str(folder)] if folder else []
    return subprocess.Popen(
        [sys.executable, "-m", "store.kill_worker", mode, str(db), str(pause_at), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=TESTS,
    )  # fmt: skip


def _wait_for(proc: subprocess.Popen, line: str, timeout: float = 60) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = proc.stdout.readline().strip()
        if not got and proc.poll() is not None:
            pytest.fail(f"worker exited early: {proc.stderr.read()}")
        seen.append(got)
        if got == line:
            return seen
    pytest.fail(f"worker never printed {line!r}")


def _check(db: Path, committed: set[int], absent: set[int]) -> SQLiteStore:
    store = SQLiteStore(db)
    assert store.check_integrity() == []
    ids = frozenset(store.labels())
    docs = store.list_documents(ids, limit=10_000)
    stored = {int(Path(d.source).stem) for d in docs}
    assert committed <= stored
    assert not (absent & stored)
    for d in docs:
        n = int(Path(d.source).stem)
        chunks = store.document_chunks(d.id, ids)
        assert [c.text for c in chunks] == [c.text for c in doc_for(n).chunks]
        assert d.n_chunks == CHUNKS
    assert store.counts()["vectors"] == store.counts()["chunks"] == CHUNKS * len(docs)
    return store


def test_kill_inside_an_open_transaction(tmp_path):
    db = tmp_path / "e.db"
    proc = _start(db, pause_at=3)
    _wait_for(proc, "inside 3")  # document 3 fully written but not committed
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    store = _check(db, committed={0, 1, 2}, absent={3})
    # the store is fully usable afterwards: search finds committed text, a new ingest works
    hits = store.bm25_search("convoy 2005", frozenset(store.labels()), limit=1)
    assert store.get_chunks([hits[0].chunk_id])[hits[0].chunk_id].text == "document 2 paragraph 5 about convoy 2005"
    doc = doc_for(3)
    assert (
        store.put_document(doc, HashEmbedder().embed([c.text for c in doc.chunks]), ingested_by="t").status
        == "ingested"
    )
    store.close()


def test_kill_at_a_random_moment(tmp_path):
    db = tmp_path / "e.db"
    proc = _start(db, pause_at=-1)
    seen = _wait_for(proc, "committed 2")
    time.sleep(random.uniform(0.0, 0.3))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    rest = proc.stdout.read().split()
    lines = seen + [" ".join(rest[i : i + 2]) for i in range(0, len(rest), 2)]
    committed = {int(x.split()[1]) for x in lines if x.startswith("committed")}
    _check(db, committed=committed, absent=set()).close()


def test_kill_during_a_real_pipeline_ingest(tmp_path):
    """The real readers, marking extraction and chunker feeding the store; killed mid-document."""
    from enclave.config import load_settings
    from enclave.ingest.extract import extract_path

    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(8):
        body = "\n\n".join(f"(NR) Report {n} paragraph {i}: the convoy reached checkpoint {n}-{i}." for i in range(300))
        (folder / f"r{n}.txt").write_text(f"NATO RESTRICTED\n\n{body}\n\nNATO RESTRICTED\n", encoding="utf-8")
    db = tmp_path / "e.db"
    proc = _start(db, pause_at=2, mode="pipeline", folder=folder)
    _wait_for(proc, "inside 2")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    settings = load_settings(tmp_path / "home", environ={})
    expected = {d.source: d for d in extract_path(folder, explicit_label=None, settings=settings)}
    store = SQLiteStore(db)
    assert store.check_integrity() == []
    ids = frozenset(store.labels())
    docs = store.list_documents(ids)
    assert sorted(Path(d.source).name for d in docs) == ["r0.txt", "r1.txt"]
    for d in docs:
        want = expected[d.source]
        assert [(c.text, c.start, c.end) for c in store.document_chunks(d.id, ids)] == [
            (c.text, c.start, c.end) for c in want.chunks
        ]
        assert d.content_hash == want.content_hash and d.n_chunks == len(want.chunks)
    assert store.counts()["vectors"] == store.counts()["chunks"]
    store.close()
