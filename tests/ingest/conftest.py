"""Helpers for the ingest tests: settings with small limits, and writing files to extract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from enclave.config import IngestConfig, Settings
from enclave.ingest import ParsedDocument, RefusedDocument, extract_path
from enclave.labels import Label, parse_label

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "samples" / "corpus"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", ingest=IngestConfig(chunk_chars=400, chunk_overlap=50))


Extract = Callable[..., list[ParsedDocument | RefusedDocument]]


@pytest.fixture
def extract(tmp_path: Path, settings: Settings) -> Extract:
    """Write ``data`` as ``name`` in a fresh folder and extract it."""
    counter = iter(range(10_000))

    def run(
        name: str, data: bytes | str, *, label: str | Label | None = None, cfg: Settings | None = None, **kw: object
    ) -> list[ParsedDocument | RefusedDocument]:
        folder = tmp_path / f"in{next(counter)}"
        folder.mkdir()
        path = folder / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        explicit = parse_label(label) if isinstance(label, str) else label
        return list(extract_path(path, explicit_label=explicit, settings=cfg or settings, **kw))

    return run


def one(results: list[ParsedDocument | RefusedDocument]) -> ParsedDocument:
    """The single parsed document of a result list (fails with the refusal reason otherwise)."""
    assert len(results) == 1, results
    result = results[0]
    assert isinstance(result, ParsedDocument), getattr(result, "reason", result)
    return result


def refused(results: list[ParsedDocument | RefusedDocument]) -> str:
    """The reason of the single refusal in a result list."""
    assert len(results) == 1, results
    assert isinstance(results[0], RefusedDocument), results[0]
    return results[0].reason


def assert_chunks_exact(doc: ParsedDocument) -> None:
    for chunk in doc.chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
