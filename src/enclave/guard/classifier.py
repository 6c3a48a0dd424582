"""The embedding layer: k-nearest-exemplar scores against the policy's categories and allowed contexts.

Each prohibited category and each allowed mission context has exemplars in the policy file. A
message's score for a category is the mean cosine similarity of its ``k`` nearest exemplars there
(vectors are L2-normalised, so a dot product is the cosine). The decision uses both the harmful
score and its *margin* over the best allowed context, which is what lets "fire team training
schedule" sit next to "fire mission" without being refused.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from enclave.embed import Embedder
from enclave.guard.policy import Policy
from enclave.guard.rules import rules_for

INJECTION = "prompt-injection"


@dataclass(frozen=True)
class ViewScores:
    """Scores of one view of a message."""

    harmful: dict[str, float]  # category id -> top-k mean similarity
    allowed: dict[str, float]  # context id -> top-k mean similarity
    injection: float  # max similarity to an injection exemplar (-1 when the policy has none)

    @property
    def top_category(self) -> tuple[str, float]:
        return max(self.harmful.items(), key=lambda kv: kv[1])

    @property
    def top_context(self) -> tuple[str, float]:
        return max(self.allowed.items(), key=lambda kv: kv[1])

    @property
    def margin(self) -> float:
        return self.top_category[1] - self.top_context[1]


class ExemplarClassifier:
    """Exemplar embeddings of one policy, computed once per process."""

    def __init__(self, policy: Policy, embedder: Embedder, cache_dir: Path | None = None) -> None:
        self.policy = policy
        self.embedder = embedder
        rules = rules_for(policy)
        texts: list[str] = []
        self._groups: list[tuple[str, str, slice]] = []  # (kind, id, rows)
        for kind, items in (
            ("harmful", [(c.id, c.examples) for c in policy.categories]),
            ("allowed", [(c.id, c.examples) for c in policy.allowed_contexts]),
            ("injection", [(INJECTION, policy.injection.examples)] if policy.injection.examples else []),
        ):
            for group_id, examples in items:
                start = len(texts)
                texts.extend(rules.rewrite_idioms(e)[0] for e in examples)
                self._groups.append((kind, group_id, slice(start, len(texts))))
        self.matrix = _cached_embeddings(embedder, texts, cache_dir)
        self.k = policy.classifier.k

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed(list(texts))

    def score_vectors(self, vectors: np.ndarray) -> list[ViewScores]:
        sims = vectors @ self.matrix.T  # (views, exemplars)
        out = []
        for row in sims:
            harmful: dict[str, float] = {}
            allowed: dict[str, float] = {}
            injection = -1.0
            for kind, group_id, rows in self._groups:
                part = row[rows]
                k = min(self.k, part.shape[0])
                top = float(np.mean(np.partition(part, -k)[-k:]))
                if kind == "harmful":
                    harmful[group_id] = top
                elif kind == "allowed":
                    allowed[group_id] = top
                else:
                    injection = float(part.max())
            out.append(ViewScores(harmful, allowed, injection))
        return out

    def score(self, texts: Sequence[str]) -> list[ViewScores]:
        """Scores for each text (one embedding batch)."""
        return self.score_vectors(self.embed(texts))


def _cache_key(embedder: Embedder, texts: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{type(embedder).__name__}|{getattr(embedder, 'model_dir', '')}|{embedder.dim}\n".encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:32]


def _cached_embeddings(embedder: Embedder, texts: list[str], cache_dir: Path | None) -> np.ndarray:
    """Exemplar embeddings, from ``cache_dir`` when this exact model and text list were embedded before.

    Embedding several hundred exemplars takes seconds on two cores; every CLI call and server start
    would pay it. The key covers the model and every exemplar, so an edited policy or another model
    never reuses stale vectors; a cache that cannot be read or written is simply not used.
    """
    path = cache_dir / f"guard-exemplars-{_cache_key(embedder, texts)}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (len(texts), embedder.dim) and cached.dtype == np.float32:
                return np.ascontiguousarray(cached)
        except (OSError, ValueError):
            pass
    matrix = np.ascontiguousarray(embedder.embed(texts), dtype=np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as handle:
                np.save(handle, matrix, allow_pickle=False)
            os.replace(tmp, path)
        except OSError:
            pass
    return matrix


_CACHE: dict[tuple[int, int], tuple[Policy, Embedder, ExemplarClassifier]] = {}
_LOCK = threading.Lock()


def classifier_for(policy: Policy, embedder: Embedder, cache_dir: Path | None = None) -> ExemplarClassifier:
    """The shared classifier for a policy and embedder (exemplars embedded once per process, and
    cached on disk in ``cache_dir`` across processes)."""
    key = (id(policy), id(embedder))
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None or cached[0] is not policy or cached[1] is not embedder:
            cached = (policy, embedder, ExemplarClassifier(policy, embedder, cache_dir))
            _CACHE[key] = cached
        return cached[2]
