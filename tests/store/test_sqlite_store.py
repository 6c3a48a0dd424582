"""The SQLite store through real SQLite files: transactions, idempotency, replacement, label filtering."""

from __future__ import annotations

import sqlite3
import stat
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from enclave.ingest.model import Chunk
from enclave.labels import accessible_label_ids, label_key
from enclave.store import SearchFilters, Store, StoreError
from enclave.store.sqlite import SQLiteStore, fts_query

from .factory import HashEmbedder, label, make_doc, put

NU = "NATO UNCLASSIFIED"
NR = "NATO RESTRICTED"
NS = "NATO SECRET"


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "enclave.db")
    yield s
    s.close()


def test_is_a_store_and_uses_wal_with_private_file(store, tmp_path):
    assert isinstance(store, Store)
    mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert stat.S_IMODE((tmp_path / "enclave.db").stat().st_mode) & 0o077 == 0


def test_put_duplicate_replace_delete(store):
    doc = make_doc("a.txt", ["alpha brigade moves", "bravo company holds"], label(NU))
    first = put(store, doc)
    assert first.status == "ingested"
    again = put(store, doc)
    assert again.status == "duplicate" and again.document_id == first.document_id
    assert store.counts()["documents"] == 1 and store.counts()["chunks"] == 2

    changed = make_doc("a.txt", ["alpha brigade moves east", "bravo company holds", "charlie rests"], label(NU))
    result = put(store, changed)
    assert result.status == "replaced" and result.replaced_id == first.document_id
    assert store.get_document(first.document_id) is None
    counts = store.counts()
    assert counts == {**counts, "documents": 1, "chunks": 3, "vectors": 3}
    ids = accessible_label_ids_all(store)
    assert store.document_chunks(result.document_id, ids)[0].text == "alpha brigade moves east"
    # the old text is gone from the BM25 index too
    assert store.bm25_search("moves", ids, limit=10)[0].chunk_id in {
        c.id for c in store.document_chunks(result.document_id, ids)
    }
    assert store.check_integrity() == []

    assert store.delete_document(result.document_id)
    assert not store.delete_document(result.document_id)
    assert store.counts()["chunks"] == 0 and store.counts()["vectors"] == 0
    assert store.bm25_search("brigade", ids, limit=10) == []
    assert store.check_integrity() == []


def accessible_label_ids_all(store):
    return frozenset(store.labels())


def test_same_content_under_another_label_is_not_a_duplicate(store):
    a = make_doc("a.txt", ["same words"], label(NU), content_hash="h1")
    b = make_doc("b.txt", ["same words"], label(NR), content_hash="h1")
    c = make_doc("c.txt", ["same words"], label(NU), content_hash="h1")
    assert put(store, a).status == "ingested"
    assert put(store, b).status == "ingested"
    assert put(store, c).status == "duplicate"


def test_ids_are_never_reused(store):
    first = put(store, make_doc("a.txt", ["one", "two"]))
    chunk_ids = {c.id for c in store.document_chunks(first.document_id, accessible_label_ids_all(store))}
    store.delete_document(first.document_id)
    second = put(store, make_doc("b.txt", ["three", "four"]))
    new_ids = {c.id for c in store.document_chunks(second.document_id, accessible_label_ids_all(store))}
    assert second.document_id != first.document_id and not (chunk_ids & new_ids)


def test_labels_are_interned_once(store):
    put(store, make_doc("a.txt", ["x"], label(NS)))
    put(store, make_doc("b.txt", ["y"], label(NS)))
    put(store, make_doc("c.txt", [("z", label(NR)), ("w", label(NS))]))
    keys = [label_key(lab) for lab in store.labels().values()]
    assert len(keys) == len(set(keys)) == 2


@pytest.mark.parametrize(
    "breaker",
    [
        lambda d: replace(d, chunks=(replace(d.chunks[0], end=len(d.text) + 5),)),
        lambda d: replace(d, chunks=(replace(d.chunks[0], label=label("COSMIC TOP SECRET")),)),
    ],
    ids=["offsets-outside-text", "portion-above-document"],
)
def test_malformed_document_is_refused_and_store_untouched(store, breaker):
    put(store, make_doc("keep.txt", ["keep me"], label(NR)))
    before = store.counts()
    bad = breaker(make_doc("bad.txt", ["bad chunk"], label(NR)))
    with pytest.raises(StoreError):
        store.put_document(bad, HashEmbedder().embed(["bad chunk"]), ingested_by="t")
    assert store.counts() == before and store.check_integrity() == []


def test_bad_vectors_are_refused(store):
    doc = make_doc("a.txt", ["one", "two"])
    with pytest.raises(StoreError, match="shape"):
        store.put_document(doc, np.zeros((1, 384), np.float32), ingested_by="t")
    nan = np.full((2, 384), np.nan, np.float32)
    with pytest.raises(StoreError, match="NaN"):
        store.put_document(doc, nan, ingested_by="t")
    assert store.counts()["documents"] == 0


def test_on_commit_failure_rolls_the_document_back(store):
    put(store, make_doc("keep.txt", ["keep me"]))
    doc = make_doc("new.txt", ["new words"])

    def boom(_result):
        raise RuntimeError("audit is down")

    with pytest.raises(RuntimeError):
        store.put_document(doc, HashEmbedder().embed(["new words"]), ingested_by="t", on_commit=boom)
    assert store.counts()["documents"] == 1 and store.counts()["chunks"] == 1
    assert store.check_integrity() == []
    # a replacement whose audit fails keeps the old version
    old = make_doc("keep.txt", ["keep me changed"])
    with pytest.raises(RuntimeError):
        store.put_document(old, HashEmbedder().embed(["keep me changed"]), ingested_by="t", on_commit=boom)
    ids = accessible_label_ids_all(store)
    assert [c.text for c in store.document_chunks(1, ids)] == ["keep me"]


def test_bm25_filters_inside_the_query_not_after_top_k(store):
    """Many high-scoring secret chunks must not push accessible ones out of a small top-k."""
    for i in range(30):
        put(store, make_doc(f"s{i}.txt", ["convoy convoy convoy convoy route"], label(NS)))
    put(store, make_doc("r.txt", ["a convoy was seen", "nothing here"], label(NR)))
    reader = _clearance(NR)
    ids = accessible_label_ids(reader, store.labels())
    hits = store.bm25_search("convoy route", ids, limit=3)
    assert len(hits) == 1
    assert store.get_chunks([hits[0].chunk_id])[hits[0].chunk_id].text == "a convoy was seen"
    dense = store.dense_search(HashEmbedder().embed(["convoy convoy route"])[0], ids, limit=3)
    assert {store.get_chunks([h.chunk_id])[h.chunk_id].label for h in dense} == {label(NR)}
    assert len(dense) == 2  # every readable chunk and nothing else
    assert store.bm25_search("convoy", frozenset(), limit=10) == []


def test_metadata_filters(store):
    put(store, make_doc("dir/a.txt", ["orange report"], metadata={"date": "2026-03-01"}))
    put(
        store,
        make_doc("dir/b.md", ["orange memo"], doc_type="md", metadata={"date": "Tue, 05 May 2026 10:00:00 +0000"}),
    )
    put(store, make_doc("other/c.txt", ["orange note"]))
    ids = accessible_label_ids_all(store)
    vec = HashEmbedder().embed(["orange"])[0]

    def sources(filters):
        b = store.bm25_search("orange", ids, limit=10, filters=filters)
        d = store.dense_search(vec, ids, limit=10, filters=filters)
        got_b = {store.get_document(store.get_chunks([h.chunk_id])[h.chunk_id].document_id).source for h in b}
        got_d = {store.get_document(store.get_chunks([h.chunk_id])[h.chunk_id].document_id).source for h in d}
        assert got_b == got_d
        return got_b

    assert sources(SearchFilters(source="dir/*")) == {"dir/a.txt", "dir/b.md"}
    assert sources(SearchFilters(source="dir/a.txt")) == {"dir/a.txt"}
    assert sources(SearchFilters(doc_types=frozenset({"md"}))) == {"dir/b.md"}
    assert sources(SearchFilters(date_from=date(2026, 4, 1), date_to=date(2026, 5, 31))) == {"dir/b.md"}
    assert sources(SearchFilters(date_to=date(2026, 3, 1))) == {"dir/a.txt"}


def test_fts_query_is_injection_safe(store):
    put(store, make_doc("a.txt", ['the "quoted" NEAR text OR column:thing']))
    ids = accessible_label_ids_all(store)
    for q in ['"', "NEAR(", "text:*", "column:thing", "AND OR NOT", "(((", "^x"]:
        store.bm25_search(q, ids, limit=5)  # no sqlite3.OperationalError
    assert fts_query("the of and") is not None  # only stopwords: still searchable
    assert fts_query("  !!! ") is None
    assert fts_query('say "hi"') == '"say" OR "hi"'


def test_reopen_and_schema_checks(tmp_path):
    path = tmp_path / "e.db"
    with SQLiteStore(path) as s:
        put(s, make_doc("a.txt", ["persist me"]))
    with SQLiteStore(path) as s:
        assert s.counts()["documents"] == 1
    with pytest.raises(StoreError, match="384-dimensional"):
        SQLiteStore(path, embed_dim=768)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteStore(path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(junk)


def test_dense_index_refreshes_after_writes_from_another_connection(tmp_path):
    path = tmp_path / "e.db"
    reader, writer = SQLiteStore(path), SQLiteStore(path)
    put(writer, make_doc("a.txt", ["first text"]))
    ids = frozenset(reader.labels())
    vec = HashEmbedder().embed(["second text"])[0]
    assert len(reader.dense_search(vec, ids, limit=10)) == 1
    put(writer, make_doc("b.txt", ["second text"]))
    hits = reader.dense_search(vec, ids, limit=10)
    assert len(hits) == 2
    assert reader.get_chunks([hits[0].chunk_id])[hits[0].chunk_id].text == "second text"
    reader.close()
    writer.close()


def test_chunk_fields_round_trip(store):
    doc = make_doc("a.pdf", ["page one text"], doc_type="pdf")
    doc = replace(
        doc, chunks=(Chunk("page one text", doc.label, 0, 13, page=3, heading="Intro", flags=frozenset({"x"})),)
    )
    res = put(store, doc)
    (chunk,) = store.document_chunks(res.document_id, accessible_label_ids_all(store))
    assert (chunk.page, chunk.heading, chunk.flags, chunk.start, chunk.end) == (3, "Intro", frozenset({"x"}), 0, 13)
    assert store.document_text(res.document_id) == "page one text"


def _clearance(level: str, nationality: str = "DEU"):
    from enclave.labels import Clearance

    return Clearance.create(level=level, nationality=nationality, memberships=("NATO",))
