"""Child process for the kill -9 tests: ingests big documents one transaction each, reporting progress.

``store`` mode stores hand-made documents with ``put_document``; ``pipeline`` mode runs the real
``ingest_paths`` (readers, marking, chunking, store) over a folder. Both print ``inside N`` from
within document N's open transaction (after every row is written, before COMMIT) and pause there
when N is the pause point, and ``committed N`` after each commit.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from enclave.config import load_settings
from enclave.ingest.pipeline import ingest_paths
from enclave.store.sqlite import SQLiteStore
from store.factory import HashEmbedder, label, make_doc

CHUNKS = 400


def doc_for(n: int):
    paragraphs = [f"document {n} paragraph {i} about convoy {n * 1000 + i}" for i in range(CHUNKS)]
    return make_doc(f"big/{n}.txt", paragraphs, label("NATO RESTRICTED"))


class PrintingAudit:
    """Stands in for the audit log: the ingest entry is appended inside the document's transaction."""

    def __init__(self, pause_at: int) -> None:
        self.pause_at = pause_at
        self.count = 0

    def append(self, action, *, actor=None, clearance=None, details=None):
        if action != "ingest":
            return 0
        n = self.count
        print(f"inside {n}", flush=True)
        if n == self.pause_at:
            time.sleep(60)
        self.count += 1
        return n


def main() -> None:
    mode, path, pause_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SQLiteStore(path)
    emb = HashEmbedder()
    if mode == "pipeline":
        folder = Path(sys.argv[4])
        audit = PrintingAudit(pause_at)

        def committed(item):
            if item.status == "ingested":
                print(f"committed {audit.count - 1}", flush=True)

        settings = load_settings(Path(path).parent / "home", environ={})
        ingest_paths([folder], store=store, embedder=emb, settings=settings, ingested_by="kill-test",
                     audit=audit, on_item=committed)  # fmt: skip
        return
    audit = PrintingAudit(pause_at)
    for n in range(1000):
        doc = doc_for(n)
        vectors = emb.embed([c.text for c in doc.chunks])
        store.put_document(
            doc, vectors, ingested_by="kill-test", on_commit=lambda _r: audit.append("ingest", actor="kill-test")
        )
        print(f"committed {n}", flush=True)


if __name__ == "__main__":
    main()
