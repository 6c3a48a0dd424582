"""Document store adapters behind the ``Store`` Protocol (SQLite now, PostgreSQL later)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from enclave.store.base import (
    ChunkRecord,
    DocumentRecord,
    PutResult,
    RankedChunk,
    SearchFilters,
    Store,
    StoreError,
    UserRecord,
)

if TYPE_CHECKING:
    from enclave.config import Settings

__all__ = [
    "ChunkRecord",
    "DocumentRecord",
    "PutResult",
    "RankedChunk",
    "SearchFilters",
    "Store",
    "StoreError",
    "UserRecord",
    "open_store",
]


def open_store(settings: Settings, *, embed_dim: int = 384) -> Store:
    """The configured store. Only the embedded SQLite store exists so far."""
    if settings.store.kind == "sqlite":
        from enclave.store.sqlite import SQLiteStore

        return SQLiteStore(settings.in_home(settings.store.path), embed_dim=embed_dim)
    raise StoreError(
        f"store kind {settings.store.kind!r} is not implemented yet",
        hint='set [store] kind = "sqlite" in enclave.toml (the PostgreSQL store is planned)',
    )
