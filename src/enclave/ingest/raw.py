"""The reader's output before marking extraction: text plus the structure found in the file.

Readers only know their format. They hand back the extracted text and its *blocks* (headings and
paragraphs with exact offsets, pages for PDF) so that marking extraction and chunking work the same
way for every format.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

# A paragraph that starts with something like "(NS)" or "(NATO SECRET//REL TO SWE)" starts a new
# block even without a blank line before it, so a portion mark never labels a neighbour's text.
_PORTION_START = re.compile(r"^\s*\((?:[A-Z][A-Z0-9 ./,-]{0,80}(?://?[A-Z0-9 ./,-]{1,80})*)\)\s")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")


@dataclass
class Block:
    """A heading or paragraph: ``text[start:end]`` of the document."""

    start: int
    end: int
    kind: str = "para"  # "para" | "heading"
    page: int | None = None
    line: int = 1  # 1-based line of the block's first character, for error messages
    marking: str | None = None  # a structural portion marking (e.g. a JSON record's field)
    where: str | None = None  # location override for messages (e.g. "record 3")
    hidden: bool = False  # text a reader would not see (HTML display:none etc.)


@dataclass
class Page:
    number: int  # 1-based
    start: int
    end: int


@dataclass
class Attachment:
    name: str
    data: bytes
    error: str | None = None  # why it could not even be decoded (oversized...): refused on its own


@dataclass
class RawDocument:
    """What a reader found: text, blocks, optional pages, nested attachments, structural markings."""

    text: str
    doc_type: str
    title: str | None = None
    blocks: list[Block] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    # A document-level marking carried by the format itself (JSON "classification" field, DOCX
    # header of a later section...): (marking text, where it was found).
    structural_banners: list[tuple[str, str]] = field(default_factory=list)
    # Set by formats whose blocks carry their own markings (JSON records): no banner lines in text.
    banner_lines: bool = True
    flags: set[str] = field(default_factory=set)


def line_of(text: str, offset: int) -> int:
    """1-based line number of ``offset`` in ``text`` (for one-off error messages)."""
    return text.count("\n", 0, offset) + 1


def assign_lines(text: str, blocks: list[Block]) -> None:
    """Set every block's ``line`` in one pass (``line_of`` per block would be quadratic)."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    for block in blocks:
        block.line = bisect.bisect_left(newlines, block.start) + 1


def split_blocks(
    text: str, start: int = 0, end: int | None = None, *, page: int | None = None, markdown: bool = False
) -> list[Block]:
    """Split ``text[start:end]`` into paragraphs at blank lines and at lines opening with a portion mark.

    Markdown ATX headings (``# Title``) become single-line heading blocks.
    """
    end = len(text) if end is None else end
    blocks: list[Block] = []
    cur_start: int | None = None
    cur_end = start
    pos = start
    line_no = line_of(text, start)

    cur_line = line_no

    def flush() -> None:
        nonlocal cur_start
        if cur_start is not None:
            blocks.append(Block(cur_start, cur_end, page=page, line=cur_line))
            cur_start = None

    while pos < end:
        nl = text.find("\n", pos, end)
        line_end = end if nl == -1 else nl
        line = text[pos:line_end]
        stripped = line.strip()
        if not stripped:
            flush()
        else:
            lead = len(line) - len(line.lstrip())
            trail = len(line.rstrip())
            s, e = pos + lead, pos + trail
            if markdown and _MD_HEADING.match(line):
                flush()
                blocks.append(Block(s, e, kind="heading", page=page, line=line_no))
            else:
                if cur_start is not None and _PORTION_START.match(line + " "):
                    flush()
                if cur_start is None:
                    cur_start = s
                    cur_line = line_no
                cur_end = e
        line_no += 1
        pos = line_end + 1
    flush()
    return blocks
