"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty ENCLAVE_HOME (0700) with no ENCLAVE_* overrides leaking in from the environment.

    Folders that need a different home (not yet created, or initialised) override this fixture.
    """
    for name in list(os.environ):
        if name.startswith("ENCLAVE_"):
            monkeypatch.delenv(name)
    root = tmp_path / "home"
    root.mkdir(mode=0o700)
    monkeypatch.setenv("ENCLAVE_HOME", str(root))
    return root
