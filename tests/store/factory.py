"""Hand-made documents, labels and a deterministic embedder for store and retrieval tests."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st

from enclave.ingest.model import Chunk, ParsedDocument
from enclave.labels import Label, parse_label

DIM = 384
LEVELS = ["NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET", "COSMIC TOP SECRET"]
NATIONS = ["DEU", "FRA", "USA", "AUS", "JPN"]  # AUS, JPN: partners outside NATO
_WORD = re.compile(r"\w+")


class HashEmbedder:
    """Bag-of-hashed-words vectors: deterministic, instant, and similar texts get similar vectors."""

    dim = DIM

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[i, h % DIM] += 1.0 if (h >> 32) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def label(text: str) -> Label:
    return parse_label(text)


def make_doc(
    source: str,
    paragraphs: Sequence[tuple[str, Label] | str],
    doc_label: Label | None = None,
    *,
    title: str | None = None,
    doc_type: str = "txt",
    metadata: dict | None = None,
    content_hash: str | None = None,
) -> ParsedDocument:
    """A document whose chunks are its paragraphs (each with its own label, default the document's)."""
    parts: list[tuple[str, Label | None]] = [(p, None) if isinstance(p, str) else p for p in paragraphs]
    labels = [lab for _, lab in parts if lab is not None]
    if doc_label is None:
        doc_label = labels[0] if labels else label("NATO UNCLASSIFIED")
        for lab in labels:
            if lab != doc_label:
                from enclave.labels import join

                doc_label = join(labels)
                break
    text = "\n\n".join(t for t, _ in parts)
    chunks = []
    pos = 0
    for t, lab in parts:
        chunks.append(Chunk(t, lab or doc_label, pos, pos + len(t)))
        pos += len(t) + 2
    digest = content_hash or hashlib.sha256((source + "\0" + text).encode()).hexdigest()
    return ParsedDocument(
        source=source,
        title=title or source,
        doc_type=doc_type,
        content_hash=digest,
        label=doc_label,
        label_source="explicit",
        text=text,
        chunks=tuple(chunks),
        metadata=metadata or {},
    )


def put(store, doc: ParsedDocument, embedder: HashEmbedder | None = None, *, by: str = "tester"):
    emb = embedder or HashEmbedder()
    return store.put_document(doc, emb.embed([c.text for c in doc.chunks]), ingested_by=by)


@st.composite
def labels(draw) -> Label:
    """A random NATO label: any level, ATOMAL from NATO CONFIDENTIAL up, optional releasability."""
    level = draw(st.integers(0, len(LEVELS) - 1))
    atomal = level >= 2 and draw(st.booleans())
    rel = draw(st.one_of(st.none(), st.sets(st.sampled_from(["NATO", "AUS", "JPN", "DEU"]), min_size=1, max_size=2)))
    return Label.create(LEVELS[level], restrictive=("ATOMAL",) if atomal else (), releasable_to=rel)
