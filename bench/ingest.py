"""End-to-end ingest throughput (chunks/s), with and without embeddings, in the same run.

    .venv/bin/python bench/ingest.py                # 200 generated marked text files
    .venv/bin/python bench/ingest.py --files 50     # quicker
    .venv/bin/python bench/ingest.py --corpus samples/corpus --label "NATO UNCLASSIFIED"

End to end = the real ``enclave.ingest.pipeline.ingest_paths``: read + decode, marking extraction,
chunking, (embedding,) and one SQLite transaction per document into a fresh store. The run without
embeddings is the baseline; the ratio shows what the embedding model costs on this machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from enclave.config import load_settings  # noqa: E402
from enclave.embed import load_embedder  # noqa: E402
from enclave.ingest.pipeline import ingest_paths  # noqa: E402
from enclave.store.sqlite import SQLiteStore  # noqa: E402

PORTIONS = [("(NU)", 0.5), ("(NR)", 0.5)]
BANNER = "NATO RESTRICTED"


def generate(folder: Path, n_files: int, seed: int = 5) -> int:
    """Marked exercise text files: a banner top and bottom, portion-marked paragraphs."""
    rng = np.random.default_rng(seed)
    words = ("exercise steadfast brigade convoy bridge harbour logistics fuel patrol sector radar airfield "
             "supply report battalion weather river checkpoint command signal engineer medical").split()  # fmt: skip
    total = 0
    for i in range(n_files):
        paras = []
        for _ in range(int(rng.integers(6, 14))):
            mark = PORTIONS[int(rng.integers(len(PORTIONS)))][0]
            body = " ".join(rng.choice(words, size=int(rng.integers(40, 140))))
            paras.append(f"{mark} EXERCISE {body}.")
        text = f"{BANNER}\n\nExercise report {i}\n\n" + "\n\n".join(paras) + f"\n\n{BANNER}\n"
        (folder / f"report-{i:04d}.txt").write_text(text, encoding="utf-8")
        total += len(text)
    return total


def run(paths: list[Path], settings, embedder, label: str | None, db: Path) -> tuple[float, dict]:
    store = SQLiteStore(db)
    t = time.perf_counter()
    summary = ingest_paths(paths, store=store, embedder=embedder, settings=settings, explicit_label=label,
                           ingested_by="bench")  # fmt: skip
    elapsed = time.perf_counter() - t
    store.close()
    return elapsed, summary.counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--corpus", type=Path, default=None, help="ingest this folder instead of generated files")
    parser.add_argument("--label", default=None, help="explicit label for unmarked files")
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="torch intra-op threads (default: torch's own choice)"
    )
    args = parser.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = load_settings(root / "home", environ={})
        if args.corpus:
            paths = [args.corpus]
            print(f"corpus: {args.corpus}")
        else:
            folder = root / "files"
            folder.mkdir()
            size = generate(folder, args.files)
            paths = [folder]
            print(f"generated {args.files} marked text files, {size / 1e6:.1f} MB")
        t = time.perf_counter()
        embedder = load_embedder(settings)
        import torch

        loaded = time.perf_counter() - t
        print(f"embedder loaded in {loaded:.1f}s (not counted below); torch threads: {torch.get_num_threads()}")
        embedder.embed(["warm up"])
        base_s, base = run(paths, settings, None, args.label, root / "no-embed.db")
        full_s, full = run(paths, settings, embedder, args.label, root / "embed.db")
        for name, secs, counts in (("without embeddings", base_s, base), ("with embeddings", full_s, full)):
            rate = counts["chunks"] / secs if secs else 0.0
            print(
                f"{name:<20} {counts['ingested']:5d} docs {counts['chunks']:6d} chunks {secs:7.2f} s "
                f"{rate:9.1f} chunks/s  (refused {counts['refused']})"
            )
        if base["chunks"] and full["chunks"]:
            print(f"embedding cost: x{full_s / base_s:.1f} the time of the pipeline without it")


if __name__ == "__main__":
    main()
