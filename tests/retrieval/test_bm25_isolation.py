"""Property: what a reader cannot read never moves their BM25 scores or order.

Random corpora with random labels and a random reader; a second store holds the same documents
(in the same relative order) plus extra documents the reader may not read, inserted at random
positions and stuffed with the query's own words. The reader's BM25 results — chunk texts, scores
and order, through the store and through ``retrieval.search`` — must be bit-for-bit identical.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.labels import Clearance, accessible_label_ids, can_read, join
from enclave.retrieval import search
from enclave.store.sqlite import SQLiteStore
from store.factory import LEVELS, NATIONS, HashEmbedder, labels, make_doc

WORDS = ["convoy", "convoys", "bridge", "river", "crossing", "crossed", "falcon", "granite", "harbour", "kestrel"]


@st.composite
def clearances(draw) -> Clearance:
    nationality = draw(st.sampled_from(NATIONS))
    return Clearance.create(
        level=draw(st.sampled_from(LEVELS[:4])),  # below the top, so something is always above the reader
        nationality=nationality,
        memberships=("NATO",) if nationality in ("DEU", "FRA", "USA") else (),
        holds=("ATOMAL",) if draw(st.booleans()) else (),
    )


def paragraphs(draw, n_max: int, extra_words: list[str] | None = None) -> list[str]:
    out = []
    for _ in range(draw(st.integers(1, n_max))):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8))
        if extra_words:
            words += extra_words * draw(st.integers(1, 6))
        out.append(" ".join(words))
    return out


@st.composite
def scenario(draw):
    reader = draw(clearances())
    query = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
    base = []
    for d in range(draw(st.integers(1, 7))):
        paras = [(p, draw(labels())) for p in paragraphs(draw, 3)]
        try:
            join([lab for _, lab in paras])
        except Exception:  # labels with nothing in common cannot share a document
            paras = paras[:1]
        base.append(make_doc(f"base{d}.txt", paras))
    hidden = []
    for d in range(draw(st.integers(1, 5))):
        lab = draw(labels().filter(lambda lab: not can_read(reader, lab)))
        hidden.append(make_doc(f"hidden{d}.txt", [(p, lab) for p in paragraphs(draw, 3, query)]))
    # where each hidden document goes among the base documents (relative order of both kept)
    slots = sorted(draw(st.lists(st.integers(0, len(base)), min_size=len(hidden), max_size=len(hidden))))
    return reader, " ".join(query), base, hidden, slots


def _interleave(base, hidden, slots):
    out, h = [], 0
    for i in range(len(base) + 1):
        while h < len(hidden) and slots[h] == i:
            out.append(hidden[h])
            h += 1
        if i < len(base):
            out.append(base[i])
    return out


def _results(store: SQLiteStore, reader: Clearance, query: str) -> tuple[list, list, list]:
    ids = accessible_label_ids(reader, store.labels())
    ranked = store.bm25_search(query, ids, limit=1000)
    chunks = store.get_chunks([r.chunk_id for r in ranked])
    via_store = [(chunks[r.chunk_id].text, r.rank, r.score) for r in ranked]
    hits = search(store, None, reader, query, k=5, mode="bm25")
    via_search = [(h.text, h.score, h.bm25_rank) for h in hits]
    return via_store, via_search, [chunks[r.chunk_id].label for r in ranked]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenario())
def test_bm25_results_are_identical_with_or_without_unreadable_chunks(case):
    reader, query, base, hidden, slots = case
    emb = HashEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        with SQLiteStore(Path(tmp) / "a.db") as alone, SQLiteStore(Path(tmp) / "b.db") as mixed:
            for doc in base:
                alone.put_document(doc, emb.embed([c.text for c in doc.chunks]), ingested_by="t")
            for doc in _interleave(base, hidden, slots):
                mixed.put_document(doc, emb.embed([c.text for c in doc.chunks]), ingested_by="t")
            store_a, search_a, labels_a = _results(alone, reader, query)
            store_b, search_b, labels_b = _results(mixed, reader, query)
            assert all(can_read(reader, lab) for lab in labels_a + labels_b)
            assert store_b == store_a  # same chunks, same ranks, bit-identical scores
            assert search_b == search_a
            # the hidden chunks do match the query: the test is not vacuous
            seen_by_all = mixed.bm25_search(query, frozenset(mixed.labels()), limit=1000)
            assert len(seen_by_all) > len(store_a)
