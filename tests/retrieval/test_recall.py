"""Retrieval quality on the shipped sample corpus: recall@5 for BM25, dense and hybrid.

Real readers, real marking extraction, the real embedding model, a real SQLite store. Each question
runs at a clearance that reads everything in the corpus (COSMIC TOP SECRET, ATOMAL, NATO member), so
the figure measures ranking, not access control. The figures are printed (``-s`` shows them); the
assertion is only a sane floor so that ranking regressions are caught without a brittle target.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enclave.config import load_settings
from enclave.embed import load_embedder
from enclave.ingest.pipeline import ingest_paths
from enclave.labels import Clearance
from enclave.retrieval import search
from enclave.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "samples" / "corpus"
QUESTIONS = ROOT / "samples" / "questions.jsonl"


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory):
    if not QUESTIONS.exists() or not CORPUS.is_dir():
        pytest.fail("samples/corpus and samples/questions.jsonl are part of the repository and must exist")
    home = tmp_path_factory.mktemp("home")
    settings = load_settings(home, environ={})
    embedder = load_embedder(settings)
    store = SQLiteStore(home / "enclave.db")
    summary = ingest_paths([CORPUS], store=store, embedder=embedder, settings=settings, ingested_by="test")
    assert summary.counts()["ingested"] >= 40
    yield store, embedder
    store.close()


def _source_of(store, hit) -> str:
    return str(Path(store.get_document(hit.document_id).source).relative_to(CORPUS))


@pytest.mark.slow
def test_recall_at_5(corpus_store):
    store, embedder = corpus_store
    reader = Clearance.create(level="COSMIC TOP SECRET", nationality="DEU", memberships=("NATO",), holds=("ATOMAL",))
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) >= 20
    recall: dict[str, float] = {}
    for mode in ("bm25", "dense", "hybrid"):
        total = 0.0
        for q in questions:
            hits = search(store, embedder, reader, q["question"], k=5, mode=mode)
            found = {_source_of(store, h) for h in hits}
            expected = set(q["expected_sources"])
            total += len(expected & found) / len(expected)
        recall[mode] = total / len(questions)
    print(
        f"\nrecall@5 over {len(questions)} questions: "
        + "  ".join(f"{mode} {value:.3f}" for mode, value in recall.items())
    )
    assert recall["bm25"] >= 0.5
    assert recall["dense"] >= 0.4
    assert recall["hybrid"] >= 0.6
