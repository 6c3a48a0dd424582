"""Search latency at 10k and 100k chunks: label filter on vs off, and the vector-index candidates.

    .venv/bin/python bench/search.py                 # 10k and 100k chunks (the full run)
    .venv/bin/python bench/search.py --sizes 10000   # quicker

A synthetic corpus generator writes documents of Zipf-distributed pseudo-words under 12 labels
(five NATO levels, ATOMAL, REL TO variants) into a real SQLite store. Chunk vectors are random unit
vectors (embedding 100k chunks would take ~10 minutes here and the scan cost does not depend on the
values); queries are embedded with the real all-MiniLM-L6-v2, and that time is part of each latency.

Per size it prints p50/p95 of the full hybrid search (query embedding + BM25 + dense + fusion +
fetch) for a NATO SECRET analyst who reads about a third of the corpus, with the label filter on
(the product code path) and off (the same pipeline without any label restriction: BM25 over every
posting with whole-corpus statistics, a full dense scan); then BM25 alone: the readable-statistics
BM25 (used) against FTS5's corpus-wide ``bm25()`` joined to the label filter (the earlier path,
which leaked through its statistics); then the dense-index candidates on the same vectors: the
label-partitioned numpy scan (used), a full numpy scan with a label mask, usearch HNSW with one
index per label (the only way to filter inside usearch's Python API), and usearch over everything
(unfiltered reference; filtering it would be post-filtering).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from enclave.config import load_settings  # noqa: E402
from enclave.embed import load_embedder  # noqa: E402
from enclave.ingest.model import Chunk, ParsedDocument  # noqa: E402
from enclave.labels import Clearance, Label, accessible_label_ids  # noqa: E402
from enclave.retrieval import rrf, search  # noqa: E402
from enclave.store.lexical import rank as bm25_rank  # noqa: E402
from enclave.store.sqlite import MAX_QUERY_TERMS, SQLiteStore, fts_query, query_words  # noqa: E402
from enclave.store.vectors import single_threaded_blas  # noqa: E402

DIM = 384
CHUNKS_PER_DOC = 10
LABEL_SPECS = [
    ("NATO UNCLASSIFIED", (), None),
    ("NATO RESTRICTED", (), None),
    ("NATO RESTRICTED", (), ("AUS",)),
    ("NATO CONFIDENTIAL", (), None),
    ("NATO CONFIDENTIAL", (), ("JPN",)),
    ("NATO SECRET", (), None),
    ("NATO SECRET", ("ATOMAL",), None),
    ("NATO SECRET", (), ("AUS",)),
    ("COSMIC TOP SECRET", (), None),
    ("COSMIC TOP SECRET", ("ATOMAL",), None),
    ("NATO RESTRICTED", (), ("AUS", "JPN")),
    ("NATO UNCLASSIFIED", (), ("AUS",)),
]


def vocabulary(n: int, rng: np.random.Generator) -> list[str]:
    syll = ["ka", "ro", "mi", "ne", "to", "sa", "vu", "li", "de", "po", "ra", "te", "zo", "gu", "be", "fi"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syll, size=int(rng.integers(2, 5)))))
    return sorted(words)


def build_corpus(path: Path, n_chunks: int, seed: int = 7) -> SQLiteStore:
    rng = np.random.default_rng(seed)
    vocab = vocabulary(20_000, rng)
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.07
    weights /= weights.sum()
    labels = [Label.create(level, restrictive=r, releasable_to=rel) for level, r, rel in LABEL_SPECS]
    store = SQLiteStore(path)
    t0 = time.perf_counter()
    for d in range(n_chunks // CHUNKS_PER_DOC):
        paras = []
        for _ in range(CHUNKS_PER_DOC):
            words = rng.choice(len(vocab), size=int(rng.integers(40, 120)), p=weights)
            paras.append(" ".join(vocab[w] for w in words))
        lab = labels[int(rng.integers(len(labels)))]
        text = "\n\n".join(paras)
        chunks, pos = [], 0
        for p in paras:
            chunks.append(Chunk(p, lab, pos, pos + len(p)))
            pos += len(p) + 2
        doc = ParsedDocument(
            f"synthetic/{d}.txt", f"doc {d}", "txt", hashlib.sha256(text.encode()).hexdigest(), lab, "explicit",
            text, tuple(chunks), {"date": f"2026-{1 + d % 12:02d}-01"},
        )  # fmt: skip
        vecs = rng.normal(size=(len(chunks), DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        store.put_document(doc, vecs, ingested_by="bench")
    print(f"  built {n_chunks} chunks in {time.perf_counter() - t0:.1f}s", flush=True)
    store._vocab = vocab  # type: ignore[attr-defined]
    store._weights = weights  # type: ignore[attr-defined]
    return store


def queries(store: SQLiteStore, n: int, seed: int = 11) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = store._vocab  # type: ignore[attr-defined]
    out = []
    for _ in range(n):
        # mostly mid-frequency words (what distinguishes a passage), sometimes a very common one
        ranks = rng.integers(20, 3000, size=int(rng.integers(2, 6)))
        words = [vocab[int(r)] for r in ranks]
        if rng.random() < 0.3:
            words.append(vocab[int(rng.integers(0, 20))])
        out.append(" ".join(words))
    return out


def unfiltered_bm25(store: SQLiteStore, query: str, limit: int) -> list[tuple[int, float]]:
    """``SQLiteStore.bm25_search`` minus the label restriction: every posting, whole-corpus statistics."""
    conn = store._conn
    terms = store._tokenizer.query_terms(" ".join(query_words(query)))[:MAX_QUERY_TERMS]
    n_rows, n_tokens = conn.execute("SELECT count(*), coalesce(sum(n_tokens), 0) FROM chunk_labels").fetchone()
    postings, hits = [], []
    for term in terms:
        found = conn.execute("SELECT id FROM terms WHERE term = ?", (term,)).fetchone()
        if found is None:
            continue
        rows = conn.execute("SELECT chunk_id, tf, dl FROM chunk_terms WHERE term_id = ?", found).fetchall()
        flat = np.array(rows, dtype=np.int64).reshape(-1, 3)
        postings.append((flat[:, 0], flat[:, 1].astype(np.float64), flat[:, 2].astype(np.float64)))
        hits.append(len(rows))
    return bm25_rank(postings, hits, n_rows, n_tokens, limit)


def fts5_bm25(store: SQLiteStore, query: str, readable: frozenset[int], limit: int) -> list[tuple[int, float]]:
    """The earlier path: FTS5's bm25() (corpus-wide statistics) with the label filter joined in."""
    rows = store._conn.execute(
        "SELECT l.chunk_id, bm25(chunks_fts) AS s FROM chunks_fts JOIN chunk_labels l ON l.chunk_id = chunks_fts.rowid"
        " WHERE chunks_fts MATCH ? AND l.label_id IN (SELECT value FROM json_each(?)) ORDER BY s, l.chunk_id LIMIT ?",
        (fts_query(query), str(sorted(readable)), limit),
    ).fetchall()
    return [(int(c), -float(s)) for c, s in rows]


def unfiltered_search(store: SQLiteStore, embedder, query: str, k: int = 10) -> list[int]:
    """The same hybrid pipeline with no label restriction at all (the 'filter off' baseline)."""
    from enclave.store.base import RankedChunk

    depth = max(50, 4 * k)
    bm25 = [RankedChunk(c, i, s) for i, (c, s) in enumerate(unfiltered_bm25(store, query, depth), 1)]
    index = store.dense_index()
    q = embedder.embed([query])[0]
    with single_threaded_blas():  # same BLAS setting as the product path
        scores = index.matrix @ q
    top = np.argpartition(-scores, depth)[:depth]
    top = top[np.argsort(-scores[top])]
    dense = [RankedChunk(int(index.chunk_ids[i]), r, float(scores[i])) for r, i in enumerate(top, 1)]
    fused = rrf([bm25, dense])[:k]
    chunks = store.get_chunks([c for c, _ in fused])
    store.get_documents({c.document_id for c in chunks.values()})
    return [c for c, _ in fused]


def pct(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


def vector_candidates(store: SQLiteStore, readable: frozenset[int], n_queries: int) -> None:
    index = store.dense_index()
    rng = np.random.default_rng(3)
    qs = rng.normal(size=(n_queries, DIM)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    k = 50
    exact = [set(c for c, _ in index.search(q, readable, k)) for q in qs]
    readable_arr = np.fromiter(readable, dtype=np.int64)

    def masked(q):
        with single_threaded_blas():
            scores = index.matrix @ q
        scores[~np.isin(index.label_ids, readable_arr)] = -np.inf
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top])]

    results = [
        ("numpy label-partitioned (used)", timed(lambda q: index.search(q, readable, k), qs), 1.0),
        ("numpy full scan + label mask", timed(masked, qs), 1.0),
    ]
    try:
        from usearch.index import Index
    except ImportError:
        print("  usearch not installed; skipped")
    else:
        per_label: dict[int, tuple[Index, np.ndarray]] = {}
        t0 = time.perf_counter()
        for lab, (s, e) in index._slices.items():
            idx = Index(ndim=DIM, metric="ip", dtype="f32")
            idx.add(np.arange(s, e), index.matrix[s:e])
            per_label[lab] = (idx, index.chunk_ids)
        build_s = time.perf_counter() - t0

        def per_label_search(q):
            best: list[tuple[float, int]] = []
            for lab in readable:
                if lab in per_label:
                    m = per_label[lab][0].search(q, k)
                    best += [(float(d), int(key)) for key, d in zip(m.keys, m.distances, strict=True)]
            best.sort()
            return {int(index.chunk_ids[key]) for _, key in best[:k]}

        lat = timed(per_label_search, qs)
        recall = statistics.mean(len(per_label_search(q) & ex) / k for q, ex in zip(qs, exact, strict=True))
        results.append((f"usearch HNSW, one index per label (build {build_s:.1f}s)", lat, recall))
        whole = Index(ndim=DIM, metric="ip", dtype="f32")
        whole.add(np.arange(len(index)), index.matrix)
        results.append(
            ("usearch HNSW unfiltered (reference only)", timed(lambda q: whole.search(q, k), qs), float("nan"))
        )
    print("  sqlite-vec: not measurable here; this Python's sqlite3 lacks enable_load_extension")
    for name, lat, recall in results:
        p50, p95 = pct(lat)
        rec = "" if recall != recall else f"  recall@{k} vs exact {recall:.3f}"
        print(f"  {name:<55} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms{rec}")


def run(size: int, n_queries: int, embedder, workdir: Path) -> None:
    print(f"\n== {size} chunks", flush=True)
    store = build_corpus(workdir / f"bench-{size}.db", size)
    # an analyst: NATO SECRET, German, NATO member, no ATOMAL -> reads about a third of the corpus
    analyst = Clearance.create(level="NATO SECRET", nationality="DEU", memberships=("NATO",))
    readable = accessible_label_ids(analyst, store.labels())
    counts = store.counts()
    n_read = store._conn.execute(
        "SELECT count(*) FROM chunks WHERE label_id IN (SELECT value FROM json_each(?))", (str(sorted(readable)),)
    ).fetchone()[0]
    print(f"  analyst reads {n_read}/{counts['chunks']} chunks under {len(readable)}/{counts['labels']} labels")
    t = time.perf_counter()
    store.dense_index()
    print(f"  dense index load: {(time.perf_counter() - t) * 1000:.0f} ms")
    qs = queries(store, n_queries)
    for q in qs[:5]:  # warm caches for both paths
        search(store, embedder, analyst, q, k=10)
        unfiltered_search(store, embedder, q)
    # the worst case for the filter's overhead: a clearance that reads most of the corpus
    top = Clearance.create(level="COSMIC TOP SECRET", nationality="DEU", memberships=("NATO",), holds=("ATOMAL",))
    top_ids = accessible_label_ids(top, store.labels())
    n_top = store._conn.execute(
        "SELECT count(*) FROM chunks WHERE label_id IN (SELECT value FROM json_each(?))", (str(sorted(top_ids)),)
    ).fetchone()[0]
    print(f"  top clearance reads {n_top}/{counts['chunks']} chunks")
    embed_only = timed(lambda q: embedder.embed([q]), qs)
    on, off, on_cpu, off_cpu, wide, wide_cpu = [], [], [], [], [], []
    for q in qs:  # interleaved so all three see the same machine state
        t, c = time.perf_counter(), time.process_time()
        search(store, embedder, analyst, q, k=10)
        on.append((time.perf_counter() - t) * 1000)
        on_cpu.append((time.process_time() - c) * 1000)
        t, c = time.perf_counter(), time.process_time()
        unfiltered_search(store, embedder, q)
        off.append((time.perf_counter() - t) * 1000)
        off_cpu.append((time.process_time() - c) * 1000)
        t, c = time.perf_counter(), time.process_time()
        search(store, embedder, top, q, k=10)
        wide.append((time.perf_counter() - t) * 1000)
        wide_cpu.append((time.process_time() - c) * 1000)
    e50, e95 = pct(embed_only)
    on50, on95 = pct(on)
    off50, off95 = pct(off)
    print(f"  query embedding alone          p50 {e50:7.2f} ms  p95 {e95:7.2f} ms")
    for name, wall, cpu in (("OFF", off, off_cpu), ("ON ", on, on_cpu), ("ON, top clearance", wide, wide_cpu)):
        w50, w95 = pct(wall)
        c50, c95 = pct(cpu)
        cpu_text = f"(cpu p50 {c50:.2f}, p95 {c95:.2f})"
        print(f"  hybrid search, filter {name:<18} p50 {w50:7.2f} ms  p95 {w95:7.2f} ms  {cpu_text}")
    c_on, c_off = pct(on_cpu), pct(off_cpu)
    print(f"  filter ON / OFF cpu            p50 x{c_on[0] / c_off[0]:.2f}  p95 x{c_on[1] / c_off[1]:.2f}")
    print(f"  filter ON / OFF wall           p50 x{on50 / off50:.2f}  p95 x{on95 / off95:.2f}")
    w50, w95 = pct(wide)
    print(f"  top clearance / OFF wall       p50 x{w50 / off50:.2f}  p95 x{w95 / off95:.2f}")
    bm25_alone(store, qs, {"analyst": readable, "top clearance": top_ids})
    vector_candidates(store, readable, n_queries)
    store.close()


def bm25_alone(store: SQLiteStore, qs: list[str], readers: dict[str, frozenset[int]], depth: int = 50) -> None:
    """BM25 by itself: readable statistics (used) vs FTS5's corpus-wide bm25() vs no filter at all."""
    cases = [("no label filter (whole-corpus statistics)", lambda q: unfiltered_bm25(store, q, depth))]
    for who, ids in readers.items():
        cases.append((f"{who}: readable statistics (used)", lambda q, ids=ids: store.bm25_search(q, ids, limit=depth)))
        cases.append((f"{who}: FTS5 bm25() + label join (before)", lambda q, ids=ids: fts5_bm25(store, q, ids, depth)))
    timings: dict[str, list[float]] = {name: [] for name, _ in cases}
    cpu: dict[str, list[float]] = {name: [] for name, _ in cases}
    for q in qs:  # interleaved so every variant sees the same machine state
        for name, fn in cases:
            t, c = time.perf_counter(), time.process_time()
            fn(q)
            timings[name].append((time.perf_counter() - t) * 1000)
            cpu[name].append((time.process_time() - c) * 1000)
    for name, lat in timings.items():
        p50, p95 = pct(lat)
        c50, c95 = pct(cpu[name])
        print(f"  BM25 alone, {name:<46} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  (cpu p50 {c50:.2f}, p95 {c95:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated stores here")
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="torch intra-op threads (default: torch's own choice)"
    )
    args = parser.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    settings = load_settings(ROOT / ".bench-home", environ={})
    t = time.perf_counter()
    embedder = load_embedder(settings)
    import torch

    print(f"embedder loaded in {time.perf_counter() - t:.1f}s; torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            run(size, args.queries, embedder, workdir)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
