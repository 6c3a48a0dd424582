"""extract -> embed -> store through the real readers and marking extraction, with a fast embedder."""

from __future__ import annotations

import pytest

from enclave.config import load_settings
from enclave.ingest.model import RefusedDocument
from enclave.ingest.pipeline import AuditFailed, Ingestor, ingest_paths
from enclave.labels import Label
from enclave.store.sqlite import SQLiteStore

from .factory import HashEmbedder, make_doc

BANNER = "NATO RESTRICTED"


class Audit:
    def __init__(self, fail_after: int | None = None) -> None:
        self.entries: list[tuple[str, str, dict]] = []
        self.fail_after = fail_after

    def append(self, action, *, actor=None, clearance=None, details=None):
        if self.fail_after is not None and len(self.entries) >= self.fail_after:
            raise OSError("disk full")
        self.entries.append((action, actor, details))
        return len(self.entries)


def _marked(body: str, banner: str = BANNER) -> str:
    return f"{banner}\n\n{body}\n\n{banner}\n"


@pytest.fixture
def env(tmp_path):
    settings = load_settings(tmp_path / "home", environ={})
    store = SQLiteStore(tmp_path / "e.db")
    files = tmp_path / "in"
    files.mkdir()
    yield settings, store, files
    store.close()


def _ingest(env, paths, audit=None, label=None):
    settings, store, _ = env
    return ingest_paths(paths, store=store, embedder=HashEmbedder(), settings=settings, explicit_label=label,
                        ingested_by="tester", audit=audit)  # fmt: skip


def test_bad_batch_is_reported_and_nothing_else_is_affected(env):
    _, store, files = env
    (files / "good1.txt").write_text(_marked("Convoy one leaves at dawn."), encoding="utf-8")
    (files / "good2.txt").write_text(_marked("Convoy two waits at the bridge."), encoding="utf-8")
    first = _ingest(env, [files])
    assert first.counts() == {"ingested": 2, "replaced": 0, "duplicates": 0, "refused": 0, "chunks": 2}
    before = {d.source: store.document_chunks(d.id, frozenset(store.labels())) for d in
              store.list_documents(frozenset(store.labels()))}  # fmt: skip

    bad = files / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02\x03binary\x00" * 50)
    (bad / "unmarked.txt").write_text("No marking at all here.", encoding="utf-8")
    (bad / "misspelt.txt").write_text(_marked("Body.", banner="NATO SECERT"), encoding="utf-8")
    (bad / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not a pdf")
    (bad / "portion-above.txt").write_text(_marked("(NS) Secret paragraph in a restricted memo."), encoding="utf-8")
    (bad / "new.txt").write_text(_marked("A brand new report."), encoding="utf-8")
    (files / "good2.txt").write_text(_marked("Convoy two crossed the bridge."), encoding="utf-8")
    audit = Audit()
    summary = _ingest(env, [files, files / "missing.txt"], audit=audit)
    counts = summary.counts()
    assert counts["ingested"] == 1 and counts["replaced"] == 1 and counts["duplicates"] == 1
    assert counts["refused"] == 7
    reasons = {item.source.rsplit("/", 1)[-1]: item.reason for item in summary.refused}
    assert set(reasons) == {"empty.txt", "binary.txt", "unmarked.txt", "misspelt.txt", "corrupt.pdf",
                            "portion-above.txt", "missing.txt"}  # fmt: skip
    assert all(reasons.values())
    assert "SECERT" in reasons["misspelt.txt"]
    # the untouched document is byte-for-byte what it was; the store is consistent
    ids = frozenset(store.labels())
    good1 = str(files / "good1.txt")
    after = {d.source: store.document_chunks(d.id, ids) for d in store.list_documents(ids)}
    assert after[good1] == before[good1]
    assert [c.text for c in after[str(files / "good2.txt")]] != [c.text for c in before[str(files / "good2.txt")]]
    assert store.counts()["documents"] == 3 and store.check_integrity() == []
    actions = [a for a, _, _ in audit.entries]
    assert actions.count("ingest") == 2 and actions.count("ingest.refused") == 7
    replaced = next(d for a, _, d in audit.entries if a == "ingest" and d["status"] == "replaced")
    assert replaced["replaced_id"] is not None and len(replaced["content_sha256"]) == 64


def test_explicit_label_for_unmarked_files(env):
    _, store, files = env
    (files / "note.txt").write_text("An unmarked note about fuel.", encoding="utf-8")
    refused = _ingest(env, [files / "note.txt"])
    assert refused.counts()["refused"] == 1 and "unmarked" in refused.refused[0].reason
    ok = _ingest(env, [files / "note.txt"], label="NATO CONFIDENTIAL")
    assert ok.counts()["ingested"] == 1
    (doc,) = store.list_documents(frozenset(store.labels()))
    assert doc.label == Label.create("NATO CONFIDENTIAL") and doc.label_source == "explicit"


def test_audit_failure_stops_the_batch_and_keeps_the_store_consistent(env):
    _, store, files = env
    for i in range(4):
        (files / f"f{i}.txt").write_text(_marked(f"Report number {i}."), encoding="utf-8")
    with pytest.raises(AuditFailed, match="audit append failed"):
        _ingest(env, [files], audit=Audit(fail_after=2))
    assert store.counts()["documents"] == 2  # the third was rolled back, the fourth never tried
    assert store.check_integrity() == []


def test_ingestor_feed_counts_and_empty_documents(env):
    _, store, _ = env
    ing = Ingestor(store, HashEmbedder(), ingested_by="t")
    doc = make_doc("x.txt", ["some words"])
    empty = make_doc("y.txt", [])
    summary = ing.feed([doc, doc, RefusedDocument("z.txt", "broken"), empty])
    assert summary.counts() == {"ingested": 1, "replaced": 0, "duplicates": 1, "refused": 2, "chunks": 1}
    assert summary.to_dict()["items"][2] == {"status": "refused", "source": "z.txt", "chunks": 0, "reason": "broken"}
