"""PDF via pypdf: text per page, page spans kept so chunks can cite page numbers.

Encrypted PDFs are tried with the empty user password (owner-only protection is common and harmless);
one that needs a password is refused. A PDF with no extractable text (a scan) is refused rather than
stored empty: OCR is a separate, deliberate step.
"""

from __future__ import annotations

import io
import logging
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from enclave.ingest.errors import Refused
from enclave.ingest.raw import Page, RawDocument, split_blocks
from enclave.ingest.readers import Limits

if TYPE_CHECKING:
    from pypdf import PdfReader

PAGE_SEPARATOR = "\n\n"


def _open(data: bytes) -> PdfReader:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise Refused("not a PDF: the file does not start with a %PDF- header")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise Refused(f"encrypted PDF that cannot be opened: {exc}") from None
            if not ok:
                raise Refused("encrypted PDF: a password is required; decrypt it before ingesting")
        _ = len(reader.pages)
    except Refused:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise Refused(f"corrupt PDF: {type(exc).__name__}: {exc}") from None
    return reader


def read(data: bytes, name: str, limits: Limits) -> RawDocument:
    reader = _open(data)
    texts: list[str] = []
    try:
        for number, page in enumerate(reader.pages, start=1):
            try:
                texts.append(_page_text(page))
            except Exception as exc:  # pypdf raises many types on broken content streams
                raise Refused(f"corrupt PDF: page {number} cannot be read ({type(exc).__name__}: {exc})") from None
    except Refused:
        raise
    except Exception as exc:
        raise Refused(f"corrupt PDF: {type(exc).__name__}: {exc}") from None
    if not any(t.strip() for t in texts):
        raise Refused(f"PDF with no extractable text ({len(texts)} pages; scanned images need OCR first)")
    parts: list[str] = []
    pages: list[Page] = []
    offset = 0
    for number, page_text in enumerate(texts, start=1):
        page_text = page_text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
        if parts:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        pages.append(Page(number, offset, offset + len(page_text)))
        parts.append(page_text)
        offset += len(page_text)
    text = "".join(parts)
    raw = RawDocument(text=text, doc_type="pdf", pages=pages, metadata={"pages": len(pages)})
    for page in pages:
        raw.blocks.extend(split_blocks(text, page.start, page.end, page=page.number))
    info = _metadata(reader)
    raw.title = info.pop("title", None) or PurePath(name).stem
    raw.metadata.update(info)
    return raw


def _page_text(page: Any) -> str:
    """Text of a page with blank lines between paragraphs.

    Layout mode keeps vertical gaps, which is what separates paragraphs (and so portion-marked
    paragraphs from their unmarked neighbours); lines are then trimmed and gaps collapsed to one
    blank line. Plain mode is the fallback for pages layout mode cannot handle.
    """
    try:
        text = page.extract_text(extraction_mode="layout") or ""
    except Exception:
        text = page.extract_text() or ""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _metadata(reader: PdfReader) -> dict[str, str]:
    try:
        meta = reader.metadata or {}
    except Exception:
        return {}
    out: dict[str, str] = {}
    for key, field in (("/Title", "title"), ("/Author", "author"), ("/Subject", "subject"), ("/CreationDate", "date")):
        value = meta.get(key)
        if value:
            out[field] = str(value)
    return out
