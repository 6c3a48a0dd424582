"""One small reader per format; ``reader_for`` picks it by file extension.

Every reader is ``read(data, name, limits) -> RawDocument`` and raises ``Refused`` for input it
cannot take. Container formats (e-mail, zip) return their parts as ``attachments``; ``extract``
recurses into them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import PurePath

from enclave.ingest.raw import RawDocument


@dataclass(frozen=True)
class Limits:
    """Resource limits applied while reading (zip bombs, oversized attachments)."""

    max_bytes: int  # largest file or decompressed part
    max_ratio: int = 200  # largest compression ratio of a zip member
    max_members: int = 10_000  # most entries in a zip container (DOCX, .zip)
    max_depth: int = 5  # deepest nesting of attachments


Reader = Callable[[bytes, str, Limits], RawDocument]

_MODULES = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".eml": "email",
    ".json": "jsonfile",
    ".jsonl": "jsonfile",
    ".ndjson": "jsonfile",
    ".zip": "ziparchive",
}

SUPPORTED = frozenset(_MODULES)


def reader_for(name: str) -> Reader | None:
    """The reader for a file name, or None when the type is not supported."""
    module = _MODULES.get(PurePath(name).suffix.lower())
    if module is None:
        return None
    return import_module(f"enclave.ingest.readers.{module}").read
