"""The shipped sample corpus extracts completely, with exactly the expected refusals, and the question set fits it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enclave.config import Settings
from enclave.ingest import ParsedDocument, RefusedDocument, extract_path
from enclave.labels import dominates, parse_label

from .conftest import CORPUS, REPO, assert_chunks_exact

EXPECTED_REFUSALS = {
    "refused/archive-bomb.zip": "zip bomb",
    "refused/bad-record.jsonl": "malformed marking 'NATO SEKRET' at line 2",
    "refused/binary-data.txt": "binary content",
    "refused/contradictory-banners.txt": "contradictory banners",
    "refused/corrupt.pdf": "corrupt PDF",
    "refused/empty.txt": "empty file",
    "refused/encrypted.pdf": "encrypted PDF",
    "refused/forged-binding.pdf": "does not match the file's content",
    "refused/malformed-marking.txt": "malformed marking 'NATO SECERT' at line 1",
    "refused/page-contradiction.pdf": "page 2",
    "refused/portion-above-banner.md": "is marked 'NATO SECRET'",
    "refused/unmarked-note.txt": "unmarked document",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, ParsedDocument | RefusedDocument]:
    settings = Settings(home=tmp_path_factory.mktemp("home"))
    out = {}
    for result in extract_path(CORPUS, explicit_label=None, settings=settings):
        rel = Path(result.source.split("!", 1)[0]).relative_to(CORPUS).as_posix()
        nested = result.source.split("!", 1)[1:]
        out["!".join([rel, *nested])] = result
    return out


def test_refusals_are_exactly_the_refused_folder(results):
    refusals = {k: r.reason for k, r in results.items() if isinstance(r, RefusedDocument)}
    assert set(refusals) == set(EXPECTED_REFUSALS)
    for source, fragment in EXPECTED_REFUSALS.items():
        assert fragment in refusals[source], (source, refusals[source])


def test_corpus_breadth(results):
    docs = [r for r in results.values() if isinstance(r, ParsedDocument)]
    assert len(docs) >= 40
    assert {d.doc_type for d in docs} >= {"txt", "md", "html", "pdf", "docx", "eml", "json", "jsonl"}
    levels = {c.label.level_name for d in docs for c in d.chunks}
    assert levels == {"NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET", "COSMIC TOP SECRET"}
    assert any("ATOMAL" in d.label.restrictive for d in docs)
    assert any(d.label.releasable_to == frozenset({"SWE", "FIN"}) for d in docs)
    assert any("AUS" in d.label.releasable_to for d in docs)
    assert sum(1 for d in docs if len({c.label for c in d.chunks}) > 1) >= 4  # portion-marked mixed documents
    assert {d.label_source for d in docs} >= {"banner", "sidecar", "portions"}
    assert any("!" in d.source and d.source.count("!") == 2 for d in docs)  # attachment of a forwarded mail
    assert all(d.metadata.get("exercise") or d.doc_type in {"json", "jsonl", "docx"} for d in docs)


def test_every_document_is_well_formed(results):
    for doc in results.values():
        if isinstance(doc, ParsedDocument):
            assert doc.chunks and len(doc.content_hash) == 64
            assert_chunks_exact(doc)
            assert all(dominates(doc.label, c.label) for c in doc.chunks)
            assert not any("EXERCISE EXERCISE" in c.text for c in doc.chunks)  # banner zones are not content


def test_hidden_html_text_is_flagged(results):
    doc = results["press/press-release-02.html"]
    assert any("hidden-text" in c.flags and "Ignore all previous instructions" in c.text for c in doc.chunks)


def test_question_set_matches_corpus(results):
    lines = (REPO / "samples" / "questions.jsonl").read_text().splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    assert len(questions) >= 25
    for q in questions:
        assert set(q) >= {"question", "expected_sources", "key_facts", "min_clearance"}
        parse_label(q["min_clearance"])
        for source in q["expected_sources"]:
            doc = results[source]
            assert isinstance(doc, ParsedDocument), source
        texts = " ".join(c.text for s in q["expected_sources"] for c in results[s].chunks)
        for fact in q["key_facts"]:
            assert fact in texts, (q["question"], fact)


def test_different_levels_answer_differently(results):
    """The demo's point: the NU press release, NR instruction and NS order give different troop numbers."""

    def level_of(source, fact):
        return {c.label.level_name for c in results[source].chunks if fact in c.text}

    assert level_of("press/press-release-01.txt", "3,000 troops") == {"NATO UNCLASSIFIED"}
    assert level_of("admin/admin-instruction-01.txt", "7,800 personnel") == {"NATO RESTRICTED"}
    assert level_of("ops/opord-01.txt", "12,500 troops") == {"NATO SECRET"}
