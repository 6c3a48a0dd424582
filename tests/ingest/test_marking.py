"""Marking extraction: table tests over banners, portions, sidecars and explicit labels, plus adversarial cases."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from enclave.config import IngestConfig, Settings
from enclave.ingest import ParsedDocument, RefusedDocument, extract_path
from enclave.ingest.marking import extract_marking, looks_like_marking
from enclave.ingest.raw import RawDocument, split_blocks
from enclave.labels import dominates, parse_label, render_banner, write_4778_binding

from .conftest import one, refused
from .ingest_helpers import marked

NU, NR, NC, NS, CTS = "NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET", "COSMIC TOP SECRET"
LEVELS = [NU, NR, NC, NS, CTS]
ABBREV = {NU: "NU", NR: "NR", NC: "NC", NS: "NS", CTS: "CTS"}


@pytest.mark.parametrize(
    ("text", "label", "source"),
    [
        (marked(NS, "Body."), NS, "banner"),
        (f"{NS}\n\nBody only at the top.\n", NS, "banner"),
        (f"Body only at the bottom.\n\n{NR}\n", NR, "banner"),
        (marked(f"**{NC}**", "Markdown decorated."), NC, "banner"),
        (marked(f"CLASSIFICATION: {NR}", "Prefixed banner."), NR, "banner"),
        (marked(f"{NS} // EXERCISE", "Exercise banner."), NS, "banner"),
        (marked(f"EXERCISE {NS} EXERCISE", "Exercise words around."), NS, "banner"),
        (f"{NR}\nEXERCISE EXERCISE EXERCISE\nPage 1 of 2\n\nText.\n\nEXERCISE EXERCISE EXERCISE\n{NR}\n", NR, "banner"),
        (marked("NATO SECRET ATOMAL", "Atomal."), "NATO SECRET ATOMAL", "banner"),
        (marked("NATO SECRET REL TO SWE, FIN", "Nordic."), "NATO SECRET REL TO FIN, SWE", "banner"),
        (marked("GEHEIM", "National German marking."), "GEHEIM", "banner"),
        ("(NU) Public.\n\n(NS) Secret.\n", NS, "portions"),
        (marked(NS, "(NU) Public.", "Unmarked paragraph."), NS, "banner"),
    ],
)
def test_document_label_table(extract, text, label, source):
    doc = one(extract("t.txt", text))
    assert render_banner(doc.label) == render_banner(parse_label(label))
    assert doc.label_source == source


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (marked(NR, "Body.", bottom=NS), "contradictory banners: top banner at line 1"),
        (marked(NS, "Body.", bottom=NU), "but bottom banner at line 5"),
        (marked("NATO SECERT", "Typo."), "malformed marking 'NATO SECERT' at line 1"),
        (marked("NАТО SECRET", "Cyrillic homoglyphs in the banner."), "malformed marking"),
        (marked(NR, "Fine.", "(NS) Above the banner."), "paragraph 2, line 5 is marked 'NATO SECRET'"),
        (marked(NS, "(NS//ATOMAL) Atomal portion in a non-ATOMAL document."), "NATO SECRET ATOMAL"),
        (marked(NS, "(NS//REL TO SWE) Narrower releasability than the banner."), "does not cover"),
        (marked(NS, "(NSS) Malformed portion mark."), "malformed portion mark '(NSS)'"),
        ("Plain unmarked text.\n\nMore.\n", "unmarked document"),
        (marked(NU, "Public page.", NS, "Pasted secret page."), "the banner 'NATO SECRET' at line 5 is above"),
        ("(NU) Marked.\n\nNot marked.\n", "first unmarked paragraph at line 3"),
    ],
)
def test_refusal_table(extract, text, fragment):
    assert fragment in refused(extract("t.txt", text))


def test_inner_banner_at_or_below_document_label_is_content(extract):
    doc = one(extract("c.txt", marked(NS, "Secret page.", NU, "Public page.")))
    assert doc.label.level_name == NS and any(NU in c.text for c in doc.chunks)


def test_explicit_label_only_for_unmarked(extract):
    doc = one(extract("u.txt", "Unmarked text.\n", label=NR))
    assert doc.label_source == "explicit" and doc.label.level_name == NR
    doc = one(extract("m.txt", marked(NS, "Marked."), label=NR))  # the banner takes precedence
    assert doc.label_source == "banner" and doc.label.level_name == NS
    assert doc.metadata["explicit_label_ignored"] == NR


def test_explicit_label_must_cover_portions(extract):
    assert "does not cover" in refused(extract("u.txt", "(NS) Secret paragraph.\n\nOther.\n", label=NR))


def test_unmarked_paragraphs_take_document_label(extract):
    doc = one(extract("p.txt", marked(NS, "(NU) Public part.", "No mark here.", "(NR) Restricted part.")))
    got = [(c.text.split()[0], c.label.level_name) for c in doc.chunks]
    assert got == [("(NU)", NU), ("No", NS), ("(NR)", NR)]


def test_markdown_heading_portion_marks(extract):
    doc = one(extract("h.md", marked(f"**{NC}**", "## (NU) Weather", "(NU) Fog.", "## (NC) Enemy", "(NC) Tanks.")))
    assert [(c.heading, c.label.level_name) for c in doc.chunks] == [("Weather", NU), ("Enemy", NC)]


def test_heading_above_chunk_label_is_not_attached(extract):
    # a NATO SECRET heading must not be shown with the NU paragraph under it (no spillage by heading)
    doc = one(extract("s.md", marked(f"**{NS}**", "## (NS) Operation GRANITE details", "(NU) Weather is fine.")))
    nu = [c for c in doc.chunks if c.label.level_name == NU]
    assert nu and all(c.heading is None for c in nu)


def test_title_label_follows_title_portion(extract):
    doc = one(extract("t.txt", marked(NS, "(NU) Public title", "(NS) Secret body.")))
    assert doc.title == "Public title" and doc.title_label.level_name == NU
    doc = one(extract("t.txt", marked(NS, "Unmarked title line", "(NU) Body.")))
    assert doc.title_label.level_name == NS


def test_looks_like_marking():
    assert looks_like_marking("NATO SECRET") and looks_like_marking("**COSMIC TOP SECRET**")
    assert looks_like_marking("NATO SECERT") and looks_like_marking("NATO RESTRICTED REL TO SWE")
    assert not looks_like_marking("NATO EXERCISE STEADFAST AURORA")  # a title, not a marking
    assert not looks_like_marking("The secret is out.") and not looks_like_marking("(NS) portion")


def test_extract_marking_on_raw_document_pages():
    text = f"{NR}\nPage one.\n{NR}\n\n{NR}\nPage two.\n{NR}"
    from enclave.ingest.raw import Page

    gap = text.index("\n\n")
    raw = RawDocument(text=text, doc_type="pdf", pages=[Page(1, 0, gap), Page(2, gap + 2, len(text))])
    for page in raw.pages:
        raw.blocks.extend(split_blocks(text, page.start, page.end, page=page.number))
    marking = extract_marking(raw)
    assert [(text[b.block.start : b.block.end], b.block.page) for b in marking.blocks] == [
        ("Page one.", 1),
        ("Page two.", 2),
    ]


# ----------------------------------------------------------------------------------------- sidecars
def _bind(path, label, data):
    path.with_name(path.name + ".4778.xml").write_bytes(write_4778_binding(parse_label(label), {path.name: data}))


def test_sidecar_label_wins_and_is_verified(tmp_path, settings):
    path = tmp_path / "report.txt"
    data = b"Unmarked text bound by a STANAG 4778 binding.\n"
    path.write_bytes(data)
    _bind(path, NC, data)
    [doc] = list(extract_path(tmp_path, explicit_label=None, settings=settings))  # the sidecar is not a document
    assert isinstance(doc, ParsedDocument) and doc.label_source == "sidecar" and doc.label.level_name == NC
    assert doc.metadata["binding"] == "report.txt.4778.xml"


def test_sidecar_plain_xml_suffix(tmp_path, settings):
    path = tmp_path / "report.txt"
    data = b"Bound text.\n"
    path.write_bytes(data)
    path.with_name("report.txt.xml").write_bytes(write_4778_binding(parse_label(NR), {path.name: data}))
    [doc] = list(extract_path(tmp_path, explicit_label=None, settings=settings))
    assert doc.label_source == "sidecar" and doc.label.level_name == NR


def test_sidecar_hash_mismatch_refused(tmp_path, settings):
    path = tmp_path / "report.txt"
    path.write_text(marked(NU, "Changed after labelling."))
    _bind(path, NU, b"the original content")
    [result] = list(extract_path(path, explicit_label=None, settings=settings))
    assert isinstance(result, RefusedDocument) and "does not match the file's content" in result.reason


def test_sidecar_contradicting_banner_refused(tmp_path, settings):
    path = tmp_path / "report.txt"
    data = marked(NS, "Body.").encode()
    path.write_bytes(data)
    _bind(path, NR, data)
    [result] = list(extract_path(path, explicit_label=None, settings=settings))
    assert isinstance(result, RefusedDocument) and "binding says 'NATO RESTRICTED'" in result.reason


def test_sidecar_garbage_refused(tmp_path, settings):
    path = tmp_path / "report.txt"
    path.write_text(marked(NU, "Body."))
    path.with_name("report.txt.4778.xml").write_bytes(b"<not-a-binding/>")
    [result] = list(extract_path(path, explicit_label=None, settings=settings))
    assert isinstance(result, RefusedDocument) and "unreadable STANAG 4778 binding" in result.reason


def test_orphan_xml_is_reported_not_ingested(tmp_path, settings):
    (tmp_path / "orphan.pdf.4778.xml").write_bytes(b"<x/>")
    [result] = list(extract_path(tmp_path, explicit_label=None, settings=settings))
    assert isinstance(result, RefusedDocument) and "unsupported file type" in result.reason


# ----------------------------------------------------------------------------------------- property
paragraph = st.tuples(
    st.one_of(st.none(), st.sampled_from(LEVELS)),
    st.text(alphabet="abcdefghij klmnop.", min_size=1, max_size=300).map(lambda s: "w" + s.strip() + "."),
)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(banner=st.sampled_from(LEVELS), paragraphs=st.lists(paragraph, min_size=1, max_size=8))
def test_portion_marking_property(tmp_path, banner, paragraphs):
    """Refused exactly when a portion is above the banner; otherwise every chunk carries its paragraph's label."""
    cfg = Settings(home=tmp_path / "h", ingest=IngestConfig(chunk_chars=120, chunk_overlap=30))
    body = [(f"({ABBREV[level]}) " if level else "") + text for level, text in paragraphs]
    path = tmp_path / "doc.txt"
    text = marked(banner, *body)
    path.write_text(text)
    [result] = list(extract_path(path, explicit_label=None, settings=cfg))
    doc_label = parse_label(banner)
    above = [i for i, (level, _) in enumerate(paragraphs) if level and not dominates(doc_label, parse_label(level))]
    if above:
        assert isinstance(result, RefusedDocument)
        assert f"paragraph {above[0] + 1}," in result.reason
        return
    assert isinstance(result, ParsedDocument) and result.label == doc_label
    starts = []
    pos = text.index("\n\n")  # past the banner line
    for b in body:
        pos = text.index(b, pos)
        starts.append((pos, pos + len(b)))
        pos += len(b)
    for chunk in result.chunks:
        assert result.text[chunk.start : chunk.end] == chunk.text
        owners = {i for i, (s, e) in enumerate(starts) if s < chunk.end and chunk.start < e}
        assert owners, chunk
        expected = {parse_label(paragraphs[i][0]) if paragraphs[i][0] else doc_label for i in owners}
        assert expected == {chunk.label}
