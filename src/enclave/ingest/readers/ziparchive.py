"""Zip archives: no text of their own, every member handed back for extraction ("pack.zip!memo.txt").

Declared and actual inflated sizes are bounded (``zipguard``) before anything is handed on.
"""

from __future__ import annotations

from enclave.ingest.raw import Attachment, RawDocument
from enclave.ingest.readers import Limits
from enclave.ingest.zipguard import open_zip, read_member


def read(data: bytes, name: str, limits: Limits) -> RawDocument:
    archive = open_zip(
        data, "zip archive", max_total=limits.max_bytes, max_ratio=limits.max_ratio, max_members=limits.max_members
    )
    raw = RawDocument(text="", doc_type="zip", banner_lines=False)
    budget = limits.max_bytes
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        if info.is_dir():
            continue
        content = read_member(archive, info, "zip archive", max_bytes=budget)
        budget -= len(content)
        raw.attachments.append(Attachment(info.filename, content))
    return raw
