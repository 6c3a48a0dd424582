"""Hybrid retrieval behaviour: fusion, modes, ceilings, filters, what a hit reveals."""

from __future__ import annotations

import pytest

from enclave.labels import Clearance, Label, render_portion
from enclave.retrieval import RetrievalError, SearchFilters, bm25_only, dense_only, effective_clearance, rrf, search
from enclave.store.base import RankedChunk
from enclave.store.sqlite import SQLiteStore
from store.factory import HashEmbedder, make_doc, put

NU, NR, NS = (Label.create(x) for x in ("NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO SECRET"))


def _cl(level: str, nat: str = "DEU") -> Clearance:
    return Clearance.create(level=level, nationality=nat, memberships=("NATO",))


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "e.db")
    emb = HashEmbedder()
    put(s, make_doc("ops/plan.txt", [("the bridge at Karvia is intact", NR), ("strike the bridge at dawn", NS)],
                    title="Operation plan"), emb)  # fmt: skip
    put(s, make_doc("ops/weather.md", [("fog over the Karvia bridge", NU)], title="Weather", doc_type="md"), emb)
    put(s, make_doc("ops/logistics.txt", [("fuel convoy route north", NR)], title="Logistics"), emb)
    yield s
    s.close()


def test_rrf_sums_reciprocal_ranks_and_breaks_ties_by_id():
    a = [RankedChunk(1, 1, 9.0), RankedChunk(2, 2, 5.0)]
    b = [RankedChunk(2, 1, 0.9), RankedChunk(3, 2, 0.5)]
    fused = rrf([a, b], k=60)
    assert fused[0][0] == 2 and fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert [cid for cid, _ in fused[1:]] == [1, 3]  # equal score 1/61 vs 1/62: 1 first
    assert rrf([[RankedChunk(5, 1, 0)], [RankedChunk(4, 1, 0)]]) == [(4, 1 / 61), (5, 1 / 61)]


def test_hybrid_hits_carry_citation_data(store):
    hits = search(store, HashEmbedder(), _cl("NATO SECRET"), "bridge at dawn", k=3)
    top = hits[0]
    assert top.text == "strike the bridge at dawn"
    assert top.portion == render_portion(NS) and top.label == NS
    assert top.title == "Operation plan" and top.source == "ops/plan.txt"
    assert top.bm25_rank == 1 and top.dense_rank == 1
    text = "the bridge at Karvia is intact\n\nstrike the bridge at dawn"
    assert text[top.start : top.end] == top.text
    assert len(hits) == 3 and all(h.score > 0 for h in hits)
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_lower_clearance_never_sees_the_secret_portion(store):
    hits = search(store, HashEmbedder(), _cl("NATO RESTRICTED"), "strike the bridge at dawn", k=10)
    texts = {h.text for h in hits}
    assert "strike the bridge at dawn" not in texts
    assert "the bridge at Karvia is intact" in texts
    # the readable portion of a SECRET document does not reveal the document's title or source
    portion = next(h for h in hits if h.text == "the bridge at Karvia is intact")
    assert portion.title.startswith("[document ") and portion.source is None
    assert "Operation plan" not in str(portion.to_dict())


def test_a_portion_marked_title_is_shown_at_its_own_label(tmp_path):
    from dataclasses import replace

    with SQLiteStore(tmp_path / "t.db") as s:
        doc = make_doc("memo.txt", [("(NR) Fuel report", NR), ("(NS) the secret part", NS)], title="Fuel report")
        put(s, replace(doc, title_label=NR))
        (hit,) = search(s, HashEmbedder(), _cl("NATO RESTRICTED"), "fuel report", k=5)
        assert hit.title == "Fuel report" and hit.source is None and hit.label == NR


def test_ceiling_lowers_the_effective_clearance(store):
    secret = _cl("NATO SECRET")
    capped = search(store, HashEmbedder(), secret, "bridge", k=10, ceiling="NATO RESTRICTED")
    assert all(h.label in (NU, NR) for h in capped)
    assert effective_clearance(secret, NR).level == NR.level
    assert [h.chunk_id for h in capped] == [
        h.chunk_id for h in search(store, HashEmbedder(), _cl("NATO RESTRICTED"), "bridge", k=10)
    ]


def test_modes_and_filters(store):
    emb = HashEmbedder()
    cl = _cl("NATO SECRET")
    b = bm25_only(store, cl, "convoy", k=5)
    assert [h.text for h in b] == ["fuel convoy route north"] and b[0].dense_rank is None
    d = dense_only(store, emb, cl, "fuel convoy route north", k=1)
    assert d[0].text == "fuel convoy route north" and d[0].dense_score == pytest.approx(1.0, abs=1e-5)
    md = search(store, emb, cl, "bridge", k=10, filters=SearchFilters(doc_types=frozenset({"md"})))
    assert {h.source for h in md} == {"ops/weather.md"}
    none = search(store, emb, cl, "bridge", k=10, filters=SearchFilters(source="elsewhere/*"))
    assert none == []


def test_nobody_readable_and_bad_queries(store):
    foreign = Clearance.create(level="NATO SECRET", nationality="AUS", memberships=())
    assert search(store, HashEmbedder(), foreign, "bridge", k=5) == []
    with pytest.raises(RetrievalError, match="empty"):
        search(store, HashEmbedder(), _cl("NATO SECRET"), "   ")
    with pytest.raises(RetrievalError, match="limit"):
        search(store, HashEmbedder(), _cl("NATO SECRET"), "x" * 5000)
    with pytest.raises(RetrievalError, match="embedding model"):
        search(store, None, _cl("NATO SECRET"), "bridge")
    with pytest.raises(RetrievalError, match="at least 1"):
        search(store, HashEmbedder(), _cl("NATO SECRET"), "bridge", k=0)


def test_no_results_looks_the_same_for_missing_and_forbidden(store):
    emb = HashEmbedder()
    low = _cl("NATO UNCLASSIFIED")
    forbidden = search(store, emb, low, "strike dawn", k=5, mode="bm25")
    missing = search(store, emb, low, "zeppelin", k=5, mode="bm25")
    assert forbidden == missing == []
