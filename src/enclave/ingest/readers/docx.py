"""DOCX via python-docx: body paragraphs and tables in order, headings by style, headers/footers as banners.

The marking lines of the first section's header become the top of the text and those of the last
section's footer its bottom, so banner extraction treats them like the first and last lines of a
page. Other sections' header/footer markings are checked as additional banners (they must not
contradict). Header/footer lines that are not markings (titles, page numbers) are left out.
"""

from __future__ import annotations

import io
from pathlib import PurePath
from typing import Any

from enclave.ingest.errors import Refused
from enclave.ingest.marking import is_decoration, looks_like_marking
from enclave.ingest.raw import Block, RawDocument, assign_lines
from enclave.ingest.readers import Limits
from enclave.ingest.zipguard import open_zip, read_member


def _lines(container: Any) -> list[str]:
    try:
        if container.is_linked_to_previous:
            return []
        lines = (line.strip() for p in container.paragraphs for line in p.text.splitlines())
        return [line for line in lines if looks_like_marking(line) or (line and is_decoration(line))]
    except Exception:
        return []


def _body_items(doc: Any) -> list[tuple[str, str]]:
    from docx.table import Table

    items: list[tuple[str, str]] = []
    for item in doc.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if value and (not cells or cells[-1] != value):  # merged cells repeat
                        cells.append(value)
                if cells:
                    items.append(("para", " | ".join(cells)))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        kind = "heading" if style.startswith("Heading") or style == "Title" else "para"
        items.append((kind, text))
    return items


def read(data: bytes, name: str, limits: Limits) -> RawDocument:
    archive = open_zip(
        data, "DOCX", max_total=limits.max_bytes, max_ratio=limits.max_ratio, max_members=limits.max_members
    )
    budget = limits.max_bytes
    for info in archive.infolist():  # inflate once, bounded, before python-docx trusts the directory
        budget -= len(read_member(archive, info, "DOCX", max_bytes=budget))
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        doc = Document(io.BytesIO(data))
        items = _body_items(doc)
        sections = list(doc.sections)
        headers = [_lines(s.header) for s in sections]
        footers = [_lines(s.footer) for s in sections]
        props = doc.core_properties
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise Refused(f"corrupt DOCX: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # lxml and python-docx raise assorted errors on damaged parts
        raise Refused(f"corrupt DOCX: {type(exc).__name__}: {exc}") from None

    parts: list[str] = []
    blocks: list[Block] = []
    offset = 0

    def add(kind: str, text: str, banner: bool = False) -> None:
        nonlocal offset
        if parts:
            parts.append("\n\n")
            offset += 2
        parts.append(text)
        if not banner:
            blocks.append(Block(offset, offset + len(text), kind=kind))
        offset += len(text)

    top = headers[0] if headers else []
    bottom = footers[-1] if footers else []
    for line in top:
        add("para", line, banner=True)
    for kind, text in items:
        add(kind, text)
    for line in bottom:
        add("para", line, banner=True)
    text = "".join(parts)
    assign_lines(text, blocks)
    raw = RawDocument(text=text, doc_type="docx", blocks=blocks)
    for i, lines in enumerate(headers[1:], start=2):
        raw.structural_banners.extend((line, f"header of section {i}") for line in lines)
    for i, lines in enumerate(footers[:-1], start=1):
        raw.structural_banners.extend((line, f"footer of section {i}") for line in lines)
    raw.title = (props.title or "").strip() or PurePath(name).stem
    if props.author:
        raw.metadata["author"] = props.author
    if props.created:
        raw.metadata["date"] = props.created.isoformat()
    return raw
