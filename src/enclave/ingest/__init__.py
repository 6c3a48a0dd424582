"""Ingest: files -> readers -> marking extraction -> chunks -> ``ParsedDocument`` (see docs/ingest.md)."""

from enclave.ingest.extract import extract_file, extract_path, iter_files
from enclave.ingest.model import Chunk, ParsedDocument, RefusedDocument

__all__ = ["Chunk", "ParsedDocument", "RefusedDocument", "extract_file", "extract_path", "iter_files"]
