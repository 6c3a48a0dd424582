"""Marking extraction: the document label and the label of every paragraph.

Order of authority for the document label: a STANAG 4778 binding sidecar, then banner lines (first
and last non-empty lines of the text, or of each PDF page; DOCX headers/footers; a JSON marking
field), then the label of the containing message for an attachment, then the explicit ``--label``.
A document with none of these is accepted only when *every* paragraph carries its own portion mark
(its label is then their join); otherwise it is refused — never defaulted to unclassified.

Rules that refuse a document, each naming the exact location:
  * a line that looks like a marking but does not parse (malformed marking);
  * banners that disagree (top vs bottom, page vs page, banner vs sidecar, header vs header);
  * a portion mark that the document label does not dominate (a paragraph above its banner).

Paragraphs without a portion mark in a portion-marked document take the document label: the banner
is the high-water mark of the whole document, so that is never an under-classification.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from enclave.ingest.errors import Refused
from enclave.ingest.raw import Block, RawDocument, line_of
from enclave.labels import Label, LabelError, dominates, find_portion_mark, join, parse_label, render_banner

_LEVEL_WORDS = re.compile(
    r"\b(UNCLASSIFIED|RESTRICTED|CONFIDENTIAL|SECRET|COSMIC|GEHEIM|VERTRAULICH|VS-NUR|VS-VERTRAULICH|"
    r"DIFFUSION RESTREINTE|CONFIDENTIEL|HEMLIG|SALAINEN|LUOTTAMUKSELLINEN|KÄYTTÖ RAJOITETTU|"
    r"N[URCS]|CTS)\b"
)
_LEVEL_NAMES = ("UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP", "NATO")
_EXERCISE = re.compile(r"\bEXERCISE\b")
_DECORATION = " \t*_#>=~|`"
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d+(?:\s*(?:of|/)\s*\d+)?$|^[-–—]\s*\d+\s*[-–—]$", re.IGNORECASE)
_RULE = re.compile(r"^[-–—_=*·.\s]+$")
# A parenthesised prefix that names a classification but did not parse as a portion mark.
_PORTION_LIKE = re.compile(
    r"^\s*\((?:[^()\n]{0,60}\b(?:UNCLASSIFIED|RESTRICTED|CONFIDENTIAL|SECRET|COSMIC)\b[^()\n]{0,60}"
    r"|(?:CTS|N[URCS]{1,2}|NATO [URCS])(?:[-/ ][^()\n]{0,60})?)\)"
)
# Markdown heading/quote/list markers in front of a portion mark ("## (NS) Title", "> (NR) ...").
_MARKUP_PREFIX = re.compile(r"^(?:#{1,6}[ \t]+|(?:>[ \t]*)+|[-*+][ \t]+)")
_MARKING_PREFIX = re.compile(r"^(?:SECURITY\s+)?(?:CLASSIFICATION|MARKING)\s*:\s*", re.IGNORECASE)
_ZONE_LINES = 5  # how many lines at each end of a page may hold the banner and its decoration


def clean_marking_line(line: str) -> str:
    """A line without markdown/ASCII decoration (``**NATO SECRET**`` -> ``NATO SECRET``)."""
    return line.strip().strip(_DECORATION).strip()


def looks_like_marking(line: str) -> bool:
    """True when a line is meant as a classification banner (so it must parse, or the file is refused)."""
    text = clean_marking_line(line)
    if not text or len(text) > 160 or text.startswith("("):
        return False
    letters = [c for c in text if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) < 0.85 * len(letters):
        return False
    if _LEVEL_WORDS.search(text):
        return True
    # "NATO SECERT", "COSMIC TOP SECERT": meant as a marking (a misspelt level after NATO/COSMIC),
    # so it must parse or be refused; "NATO EXERCISE STEADFAST AURORA" is a title
    words = text.replace("/", " ").split()
    if len(words) < 2 or len(text) > 80 or words[0].rstrip(":") not in {"NATO", "COSMIC", "CLASSIFICATION"}:
        return False
    return bool(difflib.get_close_matches(words[1], _LEVEL_NAMES, n=1, cutoff=0.75))


def is_decoration(line: str) -> bool:
    """Lines that may sit next to a banner: exercise indicators, page numbers, rules."""
    text = clean_marking_line(line)
    if not text or _RULE.match(line.strip()) or _PAGE_NUMBER.match(text):
        return True
    return text.upper() == text and text.startswith("EXERCISE") and len(text) <= 100


def parse_marking(text: str, where: str) -> tuple[Label, bool]:
    """Parse a banner; EXERCISE indicators inside it are tolerated. Returns (label, is_exercise)."""
    cleaned = _MARKING_PREFIX.sub("", clean_marking_line(text), count=1)
    exercise = bool(_EXERCISE.search(cleaned.upper()))
    try:
        return parse_label(cleaned), exercise
    except LabelError as first:
        if exercise:
            stripped = _EXERCISE.sub(" ", cleaned)
            stripped = re.sub(r"^[\s/\-–—|:]+|[\s/\-–—|:]+$", "", " ".join(stripped.split()))
            stripped = re.sub(r"(?:\s*(?://|[-–—|])\s*){2,}", " // ", stripped)
            if stripped:
                try:
                    return parse_label(stripped), True
                except LabelError:
                    pass
        raise Refused(f"malformed marking {cleaned!r} at {where}: {first.message}") from None


@dataclass
class LabelledBlock:
    block: Block
    label: Label
    portion: bool  # True when the block carries its own portion marking


@dataclass
class Marking:
    label: Label
    source: str  # "sidecar" | "banner" | "parent" | "explicit" | "portions"
    blocks: list[LabelledBlock]
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass
class _Banner:
    label: Label
    where: str


def _where(text: str, offset: int, page: int | None) -> str:
    line = f"line {line_of(text, offset)}"
    return f"{line} (page {page})" if page is not None else line


def _where_line(block: Block) -> str:
    return f"line {block.line} (page {block.page})" if block.page is not None else f"line {block.line}"


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each non-empty line in text[start:end]."""
    spans = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl
        if text[pos:stop].strip():
            spans.append((pos, stop))
        pos = stop + 1
    return spans


def _scan_zone(
    text: str, lines: list[tuple[int, int]], page: int | None, hidden: Sequence[tuple[int, int]]
) -> tuple[_Banner | None, tuple[int, int] | None, bool]:
    """Look for a banner among the first lines given (pass them reversed to scan from the bottom).

    Returns (banner, the last line of its zone — banner plus the decoration scanned after it —,
    exercise seen). Hidden text (HTML display:none...) is never a banner: it ends the scan.
    """
    banner: _Banner | None = None
    last: tuple[int, int] | None = None
    exercise = False
    for s, e in lines[:_ZONE_LINES]:
        line = text[s:e]
        if any(hs <= s < he for hs, he in hidden):
            break
        if looks_like_marking(line):
            where = _where(text, s, page)
            label, is_ex = parse_marking(line, where)
            if banner is not None and label != banner.label:
                raise Refused(
                    f"contradictory banners: {banner.where} is {render_banner(banner.label)!r} "
                    f"but {where} is {render_banner(label)!r}"
                )
            banner = banner or _Banner(label, where)
            exercise |= is_ex
            last = (s, e)
        elif is_decoration(line):
            exercise |= clean_marking_line(line).upper().startswith("EXERCISE")
            if banner is not None:
                last = (s, e)
        else:
            break
    return banner, (last if banner is not None else None), exercise


def _banners(raw: RawDocument) -> tuple[list[_Banner], list[tuple[int, int]], bool]:
    """All banners of the document and the spans of text they (and their decoration) occupy."""
    text = raw.text
    zones = [(p.start, p.end, p.number) for p in raw.pages] if raw.pages else [(0, len(text), None)]
    found: list[_Banner] = []
    excluded: list[tuple[int, int]] = []
    exercise = False
    hidden = [(b.start, b.end) for b in raw.blocks if b.hidden]
    for start, end, page in zones if raw.banner_lines else ():
        lines = _lines(text, start, end)
        top, top_last, ex_top = _scan_zone(text, lines, page, hidden)
        if top is not None and top_last is not None:
            found.append(top)
            excluded.append((start, top_last[1]))
            lines = [ln for ln in lines if ln[0] > top_last[1]]
        bottom, bottom_last, ex_bottom = _scan_zone(text, lines[::-1], page, hidden)
        if bottom is not None and bottom_last is not None:
            if top is not None and top.label != bottom.label:
                raise Refused(
                    f"contradictory banners: top banner at {top.where} is {render_banner(top.label)!r} "
                    f"but bottom banner at {bottom.where} is {render_banner(bottom.label)!r}"
                )
            found.append(bottom)
            excluded.append((bottom_last[0], end))
        exercise |= ex_top or ex_bottom
    for marking, where in raw.structural_banners:
        label, is_ex = parse_marking(marking, where)
        found.append(_Banner(label, where))
        exercise |= is_ex
    for banner in found[1:]:
        if banner.label != found[0].label:
            raise Refused(
                f"contradictory banners: {found[0].where} is {render_banner(found[0].label)!r} "
                f"but {banner.where} is {render_banner(banner.label)!r}"
            )
    return found, excluded, exercise


def _trim(block: Block, text: str, excluded: list[tuple[int, int]]) -> Block | None:
    """The block without any banner zone it overlaps (None when nothing is left)."""
    start, end = block.start, block.end
    for s, e in excluded:
        if s <= start < e:
            start = e
        if s < end <= e or (start < s < end):
            end = min(end, s)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        return None
    if (start, end) == (block.start, block.end):
        return block
    return Block(start, end, block.kind, block.page, line_of(text, start), block.marking, block.where, block.hidden)


def _portion(block: Block, text: str, index: int) -> Label | None:
    where = block.where or f"paragraph {index}, {_where_line(block)}"
    if block.marking is not None:
        label, _ = parse_marking(block.marking, where)
        return label
    para = _MARKUP_PREFIX.sub("", text[block.start : block.end], count=1)
    try:
        found = find_portion_mark(para)
    except LabelError as exc:
        raise Refused(f"malformed portion mark at {where}: {exc.message}") from None
    if found is None:
        match = _PORTION_LIKE.match(para)
        if match:
            raise Refused(f"malformed portion mark {match.group(0).strip()!r} at {where}")
        return None
    return found[0]


def _check_inner_banners(text: str, blocks: list[Block], label: Label, source: str) -> None:
    """Refuse a banner line inside the body that the document label does not cover.

    Concatenated exports ("page 2" of a text file with its own banner) and pasted material carry
    their marking in the middle of the text; a higher one there means the document is mis-marked.
    """
    for block in blocks:
        if block.marking is not None:
            continue
        offset = block.start
        for line in text[block.start : block.end].split("\n"):
            if looks_like_marking(line):
                try:
                    inner, _ = parse_marking(line, "")
                except Refused:
                    inner = None  # upper-case prose that merely resembles a marking
                if inner is not None and not dominates(label, inner):
                    where = f"line {line_of(text, offset)}" + (f" (page {block.page})" if block.page else "")
                    raise Refused(
                        f"mis-marked document: the banner {render_banner(inner)!r} at {where} is above the "
                        f"document's {source} label {render_banner(label)!r}"
                    )
            offset += len(line) + 1


def extract_marking(
    raw: RawDocument,
    *,
    sidecar_label: Label | None = None,
    parent_label: Label | None = None,
    explicit_label: Label | None = None,
) -> Marking:
    """Decide the document label and every block's label, or raise ``Refused`` naming the location."""
    text = raw.text
    banners, excluded, exercise = _banners(raw)
    blocks = [b for b in (_trim(b, text, excluded) for b in raw.blocks) if b is not None]
    banner = banners[0] if banners else None
    label: Label | None = None
    source = ""
    if sidecar_label is not None:
        if banner is not None and banner.label != sidecar_label:
            raise Refused(
                f"contradictory marking: the STANAG 4778 binding says {render_banner(sidecar_label)!r} "
                f"but the banner at {banner.where} is {render_banner(banner.label)!r}"
            )
        label, source = sidecar_label, "sidecar"
    elif banner is not None:
        label, source = banner.label, "banner"
    elif parent_label is not None:
        label, source = parent_label, "parent"
    elif explicit_label is not None:
        label, source = explicit_label, "explicit"

    portions = [_portion(b, text, i) for i, b in enumerate(blocks, start=1)]
    if label is None:
        unmarked = [b for b, p in zip(blocks, portions, strict=True) if p is None]
        if unmarked or not blocks:
            first = (
                f" (first unmarked paragraph at {_where(text, unmarked[0].start, unmarked[0].page)})"
                if unmarked
                else ""
            )
            raise Refused(
                "unmarked document: no STANAG 4778 binding sidecar, no banner line and no --label"
                f"{first}; mark it or ingest it with --label"
            )
        label, source = join([p for p in portions if p is not None]), "portions"
    _check_inner_banners(text, blocks, label, source)
    labelled: list[LabelledBlock] = []
    for index, (block, portion) in enumerate(zip(blocks, portions, strict=True), start=1):
        if portion is not None and not dominates(label, portion):
            where = block.where or f"paragraph {index}, {_where_line(block)}"
            raise Refused(
                f"mis-marked document: {where} is marked {render_banner(portion)!r}, which the document's "
                f"{source} label {render_banner(label)!r} does not cover"
            )
        labelled.append(LabelledBlock(block, portion if portion is not None else label, portion is not None))
    meta: dict[str, object] = {}
    if exercise:
        meta["exercise"] = True
    if banner is not None and source != "banner":
        meta["banner_at"] = banner.where
    return Marking(label, source, labelled, meta)
