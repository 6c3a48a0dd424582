"""Markdown: kept as written (offsets point into the source), ATX headings become heading blocks."""

from __future__ import annotations

from pathlib import PurePath

from enclave.ingest.decode import decode_text, normalise_newlines
from enclave.ingest.raw import RawDocument, split_blocks
from enclave.ingest.readers import Limits


def read(data: bytes, name: str, limits: Limits) -> RawDocument:
    text, encoding = decode_text(data)
    text = normalise_newlines(text)
    raw = RawDocument(text=text, doc_type="md", metadata={"encoding": encoding})
    raw.blocks = split_blocks(text, markdown=True)
    heading = next((b for b in raw.blocks if b.kind == "heading"), None)
    raw.title = text[heading.start : heading.end].lstrip("# ").strip() if heading else PurePath(name).stem
    return raw
