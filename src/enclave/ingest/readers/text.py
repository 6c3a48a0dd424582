"""Plain text: decoded with encoding detection, paragraphs at blank lines."""

from __future__ import annotations

from pathlib import PurePath

from enclave.ingest.decode import decode_text, normalise_newlines
from enclave.ingest.raw import RawDocument, split_blocks
from enclave.ingest.readers import Limits


def read(data: bytes, name: str, limits: Limits) -> RawDocument:
    text, encoding = decode_text(data)
    text = normalise_newlines(text)
    raw = RawDocument(text=text, doc_type="txt", metadata={"encoding": encoding})
    raw.blocks = split_blocks(text)
    raw.title = PurePath(name).stem
    return raw
