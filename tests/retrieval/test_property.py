"""Property tests of label-filtered retrieval over real SQLite stores.

Random corpora with random labels, random users (with and without a session ceiling) and random
queries. Checked for every search, in every mode:

* no read-up: every result is readable by the effective clearance (decided independently from the
  label the test gave the chunk, not from what the store says);
* no loss: with k above the corpus size, BM25 returns exactly the readable chunks that contain a
  query word, and dense returns exactly the readable chunks — the filter is applied before ranking,
  so nothing readable is pushed out by something unreadable;
* equal effective clearances give identical results (same chunks, same order, same scores).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.labels import Clearance, Label, can_read, join, meet
from enclave.retrieval import search
from enclave.store.sqlite import SQLiteStore
from store.factory import LEVELS, NATIONS, HashEmbedder, labels, make_doc

WORDS = ["alpha", "bravo", "charlie", "delta", "falcon", "granite", "harbour", "island", "juniper", "kestrel"]


@st.composite
def clearances(draw) -> Clearance:
    level = draw(st.sampled_from(LEVELS))
    nationality = draw(st.sampled_from(NATIONS))
    nato = nationality in ("DEU", "FRA", "USA")
    holds = ("ATOMAL",) if draw(st.booleans()) else ()
    return Clearance.create(level=level, nationality=nationality, memberships=("NATO",) if nato else (), holds=holds)


@st.composite
def corpora(draw):
    docs = []
    for d in range(draw(st.integers(1, 8))):
        paragraphs = []
        for c in range(draw(st.integers(1, 4))):
            words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
            paragraphs.append((f"tag{d}x{c} " + " ".join(words), draw(labels())))
        try:
            join([lab for _, lab in paragraphs])
        except Exception:  # labels with nothing in common cannot share a document
            paragraphs = paragraphs[:1]
        docs.append(make_doc(f"doc{d}.txt", paragraphs))
    return docs


def _build(tmp: Path, docs) -> tuple[SQLiteStore, dict[str, Label]]:
    store = SQLiteStore(tmp / "e.db")
    emb = HashEmbedder()
    truth: dict[str, Label] = {}
    for doc in docs:
        store.put_document(doc, emb.embed([c.text for c in doc.chunks]), ingested_by="t")
        truth.update({c.text: c.label for c in doc.chunks})
    return store, truth


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=corpora(),
    users=st.lists(clearances(), min_size=1, max_size=3),
    ceiling=st.one_of(st.none(), labels()),
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    k=st.integers(1, 12),
)
def test_no_read_up_no_loss_and_equal_clearance_equal_results(docs, users, ceiling, query, k):
    emb = HashEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        store, truth = _build(Path(tmp), docs)
        try:
            for user in users:
                eff = user if ceiling is None else meet(user, ceiling)
                readable = {t for t, lab in truth.items() if can_read(eff, lab)}
                terms = set(query.split())
                for mode in ("hybrid", "bm25", "dense"):
                    hits = search(store, emb, user, query, k=k, ceiling=ceiling, mode=mode)
                    for hit in hits:
                        assert can_read(eff, truth[hit.text]), f"read-up in {mode}: {hit.text} {hit.label}"
                        assert hit.label == truth[hit.text]
                    # identical results for an equal effective clearance reached without a ceiling
                    same = search(store, emb, eff, query, k=k, mode=mode)
                    assert [(h.chunk_id, h.score) for h in same] == [(h.chunk_id, h.score) for h in hits]
                    # no loss: a big k returns every readable match
                    everything = search(store, emb, user, query, k=500, ceiling=ceiling, mode=mode)
                    got = {h.text for h in everything}
                    if mode == "bm25":
                        assert got == {t for t in readable if terms & set(t.split())}
                    elif mode == "dense":
                        assert got == readable
                    else:
                        assert got == readable
                    assert len(hits) == min(k, len(everything))
        finally:
            store.close()


@settings(max_examples=25, deadline=None)
@given(docs=corpora(), user=clearances(), query=st.sampled_from(WORDS))
def test_users_with_equal_clearance_see_identical_results(docs, user, query):
    """Two distinct users (different names, same clearance) through the identity layer."""
    from enclave.identity import UserDirectory

    emb = HashEmbedder()
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = _build(Path(tmp), docs)
        try:
            users = UserDirectory(store)
            users.add("one", user, ("analyst",))
            users.add("two", user, ("analyst",))
            a = search(store, emb, users.principal("one").clearance, query, k=5)
            b = search(store, emb, users.principal("two").clearance, query, k=5)
            assert [h.to_dict() for h in a] == [h.to_dict() for h in b]
        finally:
            store.close()
