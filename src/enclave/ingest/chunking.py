"""Structure-following chunking with exact offsets and one label per chunk.

Consecutive blocks are grouped into *runs* that share a label, a page, a heading section and
visibility; a run is cut into chunks of at most ``chunk_chars`` characters at the best boundary
available (paragraph, sentence, line, word) with ``chunk_overlap`` characters carried over. A chunk
is always the exact slice ``text[start:end]`` and never leaves its run, so it never mixes labels,
pages or banner lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from enclave.ingest.marking import LabelledBlock
from enclave.ingest.model import Chunk
from enclave.labels import Label, dominates, find_portion_mark

Scanner = Callable[[str], frozenset[str]]
_SENTENCE_END = re.compile(r"[.!?;:][\"'”’)\]]?\s")


def _heading_text(text: str) -> str:
    cleaned = text.strip().lstrip("#").strip()
    try:
        found = find_portion_mark(cleaned)
    except Exception:  # a heading's portion mark was validated by marking extraction already
        found = None
    if found is not None:
        cleaned = cleaned[found[1] :].strip()
    return " ".join(cleaned.split())[:200]


def _best_cut(text: str, lo: int, hi: int) -> int:
    """Where to end a chunk inside text[lo:hi] (exclusive end); prefers structure over a hard cut."""
    window = text[lo:hi]
    para = window.rfind("\n\n")
    if para > 0:
        return lo + para
    sentences = list(_SENTENCE_END.finditer(window))  # before line breaks: PDF lines are mere wraps
    if sentences:
        return lo + sentences[-1].end() - 1
    line = window.rfind("\n")
    if line > 0:
        return lo + line
    space = max(window.rfind(" "), window.rfind("\t"))
    if space > 0:
        return lo + space
    return hi


def windows(text: str, start: int, end: int, size: int, overlap: int) -> Iterator[tuple[int, int]]:
    """(start, end) spans covering text[start:end]: each at most ``size`` long, trimmed of whitespace."""
    overlap = max(0, min(overlap, size // 2))
    pos = start
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return
        if end - pos <= size:
            stop = end
        else:
            stop = _best_cut(text, pos + max(1, size // 2), pos + size)
        trimmed = stop
        while trimmed > pos and text[trimmed - 1].isspace():
            trimmed -= 1
        if trimmed > pos:
            yield pos, trimmed
        if stop >= end:
            return
        nxt = max(stop - overlap, pos + 1)
        if overlap:
            space = text.find(" ", nxt, stop)
            newline = text.find("\n", nxt, stop)
            cands = [c for c in (space, newline) if c != -1]
            nxt = min(cands) + 1 if cands else stop
        else:
            nxt = stop
        pos = max(nxt, pos + 1)


def _runs(blocks: Sequence[LabelledBlock]) -> Iterator[list[LabelledBlock]]:
    """Group consecutive blocks sharing label, page, heading section and visibility.

    A heading opens a new section, so headings only ever lead their run.
    """
    section = 0
    run: list[LabelledBlock] = []
    run_key: tuple[object, ...] | None = None
    for lb in blocks:
        # a heading opens a new section, unless the run so far is only headings (title + first
        # heading): those stay together with the text that follows instead of becoming tiny chunks
        if lb.block.kind == "heading" and not (run and all(r.block.kind == "heading" for r in run)):
            section += 1
        key = (lb.label, lb.block.page, section, lb.block.hidden)
        if run and key != run_key:
            yield run
            run = []
        run_key = key
        run.append(lb)
    if run:
        yield run


def chunk_document(
    text: str,
    blocks: Sequence[LabelledBlock],
    *,
    size: int,
    overlap: int,
    scan: Scanner | None = None,
) -> tuple[Chunk, ...]:
    """Chunks for a labelled document. ``scan`` (the guard's injection scanner) sets ``Chunk.flags``."""
    chunks: list[Chunk] = []
    current: tuple[str, Label] | None = None
    for run in _runs(blocks):
        first = run[0]
        for lb in run:
            if lb.block.kind != "heading":
                break
            current = (_heading_text(text[lb.block.start : lb.block.end]), lb.label)
        label = first.label
        # the heading is shown with the chunk only when the chunk's label covers it (no spillage)
        heading = current[0] if current and dominates(label, current[1]) else None
        flags = frozenset({"hidden-text"}) if first.block.hidden else frozenset()
        for s, e in windows(text, first.block.start, run[-1].block.end, size, overlap):
            piece = text[s:e]
            found = flags | (scan(piece) if scan else frozenset())
            chunks.append(Chunk(piece, label, s, e, page=first.block.page, heading=heading, flags=found))
    return tuple(chunks)
