"""Fixtures for the labels tests: site policy directories, restored to the bundled policies after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.labels import configure


@pytest.fixture
def site_policies(tmp_path: Path) -> Iterator[Path]:
    """A site policy directory; the bundled registry is restored after the test."""
    directory = tmp_path / "policies"
    directory.mkdir()
    try:
        yield directory
    finally:
        configure()
