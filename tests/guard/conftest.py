"""Fixtures for the guard tests: an isolated home, the real bundled MiniLM, and a lexical fake embedder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from enclave.config import Settings, load_settings


@pytest.fixture
def settings(home: Path) -> Settings:
    return load_settings(home, environ={})


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(tmp_path_factory.mktemp("guard-home"), environ={})


@pytest.fixture(scope="session")
def real_guard(real_settings: Settings):
    """The input guard on the real bundled MiniLM (loaded once for the whole session)."""
    from enclave.guard.input_guard import InputGuard

    guard = InputGuard(real_settings, llm_self_check=False)
    guard.warm_up()
    return guard


class LexicalEmbedder:
    """A deterministic bag-of-words embedder: similar wording gives similar vectors (unit tests only)."""

    dim = 256

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                if len(word) > 2:
                    out[row, int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out


@pytest.fixture
def lexical() -> LexicalEmbedder:
    return LexicalEmbedder()
