"""BM25 from the reader's readable chunks only: against a reference implementation, FTS5, and migration.

The reference below is the textbook Okapi BM25 with FTS5's parameters and idf, written out over the
readable subset in plain Python. Tokens come from an independent in-memory FTS5 table with the same
tokenizer, because the specification is "the terms FTS5 indexes".
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.labels import Clearance, Label, accessible_label_ids, can_read
from enclave.store.lexical import TOKENIZE, rank
from enclave.store.sqlite import SQLiteStore, fts_query, query_words

from .factory import HashEmbedder, label, make_doc, put

# stemming variants, case, diacritics and joined words, so the tokenizer path is exercised
WORDS = [
    "convoy", "convoys", "Convoy", "bridge", "bridges", "crossing", "crossed", "café", "cafe", "naïve",
    "river", "alpha", "bravo", "falcon", "e-mail", "foo_bar", "kestrel", "harbour", "granite",
]  # fmt: skip
LABELS = [
    label("NATO UNCLASSIFIED"),
    label("NATO RESTRICTED"),
    label("NATO CONFIDENTIAL"),
    label("NATO SECRET"),
    label("COSMIC TOP SECRET"),
    Label.create("NATO SECRET", restrictive=("ATOMAL",)),
    Label.create("NATO RESTRICTED", releasable_to=("AUS",)),
]
READERS = [
    Clearance.create(level="NATO RESTRICTED", nationality="DEU", memberships=("NATO",)),
    Clearance.create(level="NATO SECRET", nationality="FRA", memberships=("NATO",)),
    Clearance.create(level="COSMIC TOP SECRET", nationality="USA", memberships=("NATO",), holds=("ATOMAL",)),
    Clearance.create(level="NATO SECRET", nationality="AUS"),
]


class ReferenceTokenizer:
    """FTS5's tokenizer on a private in-memory database (independent of the store's code path)."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{TOKENIZE}')")
        self.conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")

    def __call__(self, text: str) -> list[str]:
        self.conn.execute("DELETE FROM t")
        self.conn.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (text,))
        return [r[0] for r in self.conn.execute("SELECT term FROM v ORDER BY offset")]


def reference_bm25(chunks: dict[int, str], query: str, tokenize: ReferenceTokenizer) -> list[tuple[int, float]]:
    """Okapi BM25 (k1 1.2, b 0.75, FTS5's idf) over ``chunks`` = the readable chunks only."""
    k1, b = 1.2, 0.75
    docs = {cid: tokenize(text) for cid, text in chunks.items()}
    n = len(docs)
    if n == 0:
        return []
    avgdl = sum(len(toks) for toks in docs.values()) / n
    terms: list[str] = []
    for t in tokenize(" ".join(query_words(query))):
        if t not in terms:
            terms.append(t)
    scores: dict[int, float] = {}
    for term in terms:
        df = sum(1 for toks in docs.values() if term in toks)
        if df == 0:
            continue
        idf = math.log((n - df + 0.5) / (df + 0.5))
        idf = idf if idf > 0 else 1e-6
        for cid, toks in docs.items():
            tf = toks.count(term)
            if tf:
                part = idf * (tf * (k1 + 1)) / (tf + k1 * (1 - b + b * len(toks) / avgdl))
                scores[cid] = scores.get(cid, 0.0) + part
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


@st.composite
def corpora(draw):
    docs = []
    for d in range(draw(st.integers(1, 7))):
        lab = draw(st.sampled_from(LABELS))
        paragraphs = [
            " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=9)))
            for _ in range(draw(st.integers(1, 3)))
        ]
        docs.append(make_doc(f"d{d}.txt", [(p, lab) for p in paragraphs]))
    return docs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=corpora(),
    reader=st.sampled_from(READERS),
    query=st.lists(st.sampled_from([*WORDS, "the", "zulu"]), min_size=1, max_size=4).map(" ".join),
)
def test_scores_equal_a_reference_bm25_over_the_readable_subset(docs, reader, query):
    tokenize = ReferenceTokenizer()
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(Path(tmp) / "e.db") as store:
        for doc in docs:
            put(store, doc)
        ids = accessible_label_ids(reader, store.labels())
        everything = store.get_chunks(list(range(1, 200)))
        readable = {cid: c.text for cid, c in everything.items() if can_read(reader, c.label)}
        expected = reference_bm25(readable, query, tokenize)
        got = store.bm25_search(query, ids, limit=1000)
        assert [r.chunk_id for r in got] == [cid for cid, _ in expected]
        assert [r.score for r in got] == pytest.approx([s for _, s in expected], rel=1e-12, abs=1e-15)
        assert [r.rank for r in got] == list(range(1, len(got) + 1))
        top = store.bm25_search(query, ids, limit=3)
        assert [(r.chunk_id, r.score) for r in top] == [(r.chunk_id, r.score) for r in got[:3]]


def test_a_secret_document_full_of_a_term_does_not_move_an_unclassified_ranking(tmp_path):
    """The side channel this design closes: FTS5's corpus-wide bm25() changes, ours does not."""
    store = SQLiteStore(tmp_path / "e.db")
    put(store, make_doc("u1.txt", ["bridge bridge river crossing point"], label("NATO UNCLASSIFIED")))
    long = "river river river bridge at the ford of the long valley road"
    put(store, make_doc("u2.txt", [long], label("NATO UNCLASSIFIED")))
    put(store, make_doc("u3.txt", ["the river crossing"], label("NATO UNCLASSIFIED")))
    reader = Clearance.create(level="NATO UNCLASSIFIED", nationality="DEU", memberships=("NATO",))
    ids = accessible_label_ids(reader, store.labels())

    def fts5(query: str) -> list[tuple[int, float]]:
        rows = store._conn.execute(
            "SELECT chunks_fts.rowid, bm25(chunks_fts) FROM chunks_fts"
            " JOIN chunk_labels l ON l.chunk_id = chunks_fts.rowid"
            " WHERE chunks_fts MATCH ? AND l.label_id IN (SELECT value FROM json_each(?)) ORDER BY 2, 1",
            (fts_query(query), str(sorted(ids))),
        ).fetchall()
        return [(int(r), float(s)) for r, s in rows]

    before = store.bm25_search("river bridge", ids, limit=10)
    fts_before = fts5("river bridge")
    for i in range(20):
        put(store, make_doc(f"s{i}.txt", ["bridge " * 30, "river"], label("NATO SECRET")))
    after = store.bm25_search("river bridge", ids, limit=10)
    assert after == before
    # the old path leaked: the same readable chunks got other scores (and here another order)
    assert fts5("river bridge") != fts_before
    assert {cid for cid, _ in fts5("river bridge")} == {r.chunk_id for r in before}
    store.close()


def test_with_everything_readable_the_scores_are_fts5s_own(tmp_path):
    store = SQLiteStore(tmp_path / "e.db")
    emb = HashEmbedder()
    for i in range(12):
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(3 + i % 5)]
        put(store, make_doc(f"d{i}.txt", [" ".join(words), "alpha " * (i % 3 + 1)], LABELS[i % 5]), emb)
    ids = frozenset(store.labels())
    for query in ["convoy", "bridges river", "alpha falcon", "café naïve crossing"]:
        ours = store.bm25_search(query, ids, limit=100)
        rows = store._conn.execute(
            "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts), rowid",
            (fts_query(query),),
        ).fetchall()
        assert [r.chunk_id for r in ours] == [int(r[0]) for r in rows]
        assert [r.score for r in ours] == pytest.approx([float(r[1]) for r in rows], rel=1e-12)
    store.close()


def test_rank_breaks_ties_by_chunk_id_at_the_cut():
    import numpy as np

    ids = np.array([9, 3, 7, 5, 1], dtype=np.int64)
    ones = np.ones(5)
    got = rank([(ids, ones, ones)], [5], 10, 10, limit=2)
    assert [cid for cid, _ in got] == [1, 3]
    assert got[0][1] == got[1][1]
    assert rank([], [], 10, 10, limit=5) == [] and rank([(ids, ones, ones)], [5], 0, 0, limit=5) == []


def test_metadata_filters_narrow_candidates_not_statistics(tmp_path):
    store = SQLiteStore(tmp_path / "e.db")
    put(store, make_doc("a/1.txt", ["convoy route north"]))
    put(store, make_doc("b/2.txt", ["convoy convoy halt"]))
    put(store, make_doc("b/3.txt", ["route"]))
    ids = frozenset(store.labels())
    from enclave.store import SearchFilters

    full = {r.chunk_id: r.score for r in store.bm25_search("convoy route", ids, limit=10)}
    only_a = store.bm25_search("convoy route", ids, limit=10, filters=SearchFilters(source="a/*"))
    assert [(r.chunk_id, r.score) for r in only_a] == [(1, full[1])]
    store.close()


def test_delete_removes_postings_and_the_documents_vocabulary(tmp_path):
    store = SQLiteStore(tmp_path / "e.db")
    put(store, make_doc("keep.txt", ["river crossing"]))
    result = put(store, make_doc("gone.txt", ["zanzibar river"], label("NATO SECRET")))
    ids = frozenset(store.labels())
    assert store.bm25_search("zanzibar", ids, limit=5)
    assert store.delete_document(result.document_id)
    assert store.bm25_search("zanzibar", ids, limit=5) == []
    terms = {r[0] for r in store._conn.execute("SELECT term FROM terms")}
    assert "zanzibar" not in terms and {"river", "cross"} <= terms
    assert store.check_integrity() == []
    # replacing a document re-indexes it
    put(store, make_doc("keep.txt", ["granite quarry"]))
    assert store.bm25_search("river", ids, limit=5) == []
    assert len(store.bm25_search("quarry", ids, limit=5)) == 1
    assert store.check_integrity() == []
    store.close()


def test_integrity_check_notices_postings_out_of_step(tmp_path):
    store = SQLiteStore(tmp_path / "e.db")
    put(store, make_doc("a.txt", ["river crossing river", "bridge"]))
    assert store.check_integrity() == []
    store._conn.execute("UPDATE chunk_terms SET tf = tf + 1 WHERE chunk_id = 1")
    problems = store.check_integrity()
    assert any("differ from chunks_fts" in p for p in problems)
    assert any("chunk lengths" in p for p in problems)
    store.close()


def _downgrade_to_schema_1(path: Path) -> None:
    """Turn a store into what schema 1 wrote: no postings, no chunk lengths."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        DROP TABLE chunk_terms; DROP TABLE terms; DROP INDEX chunk_labels_label;
        ALTER TABLE chunk_labels DROP COLUMN n_tokens;
        UPDATE meta SET value = '1' WHERE key = 'schema_version';
        """
    )
    conn.commit()
    conn.close()


def test_a_schema_1_store_is_migrated_on_open_and_searches_the_same(tmp_path):
    mixed = [("convoy crossing the river", label("NATO RESTRICTED")), ("bridges down", label("NATO SECRET"))]
    docs = [
        make_doc("a.txt", mixed),
        make_doc("b.txt", ["river convoys at dawn", "nothing"], label("NATO UNCLASSIFIED")),
    ]
    path = tmp_path / "old.db"
    with SQLiteStore(path) as store:
        for doc in docs:
            put(store, doc)
        ids = accessible_label_ids(READERS[0], store.labels())
        expected = store.bm25_search("convoy river bridge", ids, limit=10)
        generation = store.generation()
    _downgrade_to_schema_1(path)
    with SQLiteStore(path) as store:
        assert store._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "2"
        assert store.generation() > generation  # caches in other processes refresh
        assert store.check_integrity() == []
        assert store.bm25_search("convoy river bridge", ids, limit=10) == expected
        put(store, make_doc("c.txt", ["another river"]))
        assert store.check_integrity() == []
    with SQLiteStore(path) as store:  # opening again is a no-op
        assert store.check_integrity() == []
