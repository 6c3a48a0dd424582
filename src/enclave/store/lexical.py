"""Lexical retrieval pieces: FTS5's own tokenizer, and BM25 over the reader's readable chunks only.

Why not FTS5's ``bm25()``: it takes its statistics (number of rows, average row length, and each
term's document frequency) from the whole table, including chunks the reader may not read, so the
scores and the order of readable chunks would change when inaccessible material is added — a side
channel. Here the same Okapi BM25 (FTS5's formula, k1 = 1.2, b = 0.75, idf clamped to 1e-6 when not
positive) is computed from statistics over the readable chunks alone, from a postings table
clustered by (term, label, chunk): a reader's query reads only the postings under readable labels,
so inaccessible chunks are never scored, counted or even read.

Tokens come from FTS5's own ``porter unicode61 remove_diacritics 2`` tokenizer (a private in-memory
FTS5 table on the same connection), so the postings, the query terms and the ``chunks_fts`` index
agree token for token; ``SQLiteStore.check_integrity`` cross-checks the postings against FTS5.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

TOKENIZE = "porter unicode61 remove_diacritics 2"
K1 = 1.2
B = 0.75
MIN_IDF = 1e-6  # FTS5's floor for terms in more than half of the rows


def idf(n_rows: int, n_hit: int) -> float:
    """FTS5's idf: ``ln((N - n + 0.5) / (n + 0.5))``, floored at 1e-6 so common terms still count a little."""
    value = math.log((n_rows - n_hit + 0.5) / (n_hit + 0.5))
    return value if value > 0.0 else MIN_IDF


def bm25_terms(tf: np.ndarray, dl: np.ndarray, term_idf: float, avgdl: float) -> np.ndarray:
    """One term's BM25 contribution per row, in FTS5's order of operations."""
    return term_idf * (tf * (K1 + 1.0)) / (tf + K1 * (1.0 - B + B * dl / avgdl))


def rank(
    postings: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    n_hits: Sequence[int],
    n_rows: int,
    total_tokens: int,
    limit: int,
) -> list[tuple[int, float]]:
    """The ``limit`` best (chunk id, score) pairs, best first, ties by chunk id.

    ``postings[i]`` holds the chunk ids, term frequencies and chunk lengths of query term ``i`` over
    the candidate chunks; ``n_hits[i]`` is its document frequency among the readable chunks, and
    ``n_rows``/``total_tokens`` are the readable chunks' count and total length. Contributions are
    summed in query-term order for every chunk, so equal inputs give bit-identical scores.
    """
    if n_rows <= 0 or limit <= 0:
        return []
    avgdl = total_tokens / n_rows
    ids: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    for (chunk_ids, tf, dl), n_hit in zip(postings, n_hits, strict=True):
        if len(chunk_ids):
            ids.append(chunk_ids)
            parts.append(bm25_terms(tf, dl, idf(n_rows, n_hit), avgdl))
    if not ids:
        return []
    all_ids = np.concatenate(ids)
    unique, inverse = np.unique(all_ids, return_inverse=True)
    # bincount adds the weights sequentially in input order: per chunk, term 1 then term 2 ...
    scores = np.bincount(inverse, weights=np.concatenate(parts), minlength=len(unique))
    if len(unique) > limit:
        top = np.argpartition(-scores, limit - 1)[:limit]
        # ties at the cut: keep the lowest chunk ids among equal scores, like the full sort would
        cut = scores[top].min()
        top = np.union1d(top, np.flatnonzero(scores >= cut))
    else:
        top = np.arange(len(unique))
    order = top[np.lexsort((unique[top], -scores[top]))][:limit]
    return [(int(unique[i]), float(scores[i])) for i in order]


class FTS5Tokenizer:
    """FTS5's tokenizer, reached through a private contentless FTS5 table in the ``temp`` schema.

    SQLite offers no direct tokenizer call from Python; indexing text into an in-memory FTS5 table
    and reading it back through ``fts5vocab`` gives exactly the terms (stemmed, folded) that the
    main ``chunks_fts`` index holds for the same text.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.enclave_tok USING fts5(text, content='', tokenize='{TOKENIZE}')"
        )
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.enclave_tok_vocab USING fts5vocab(temp, enclave_tok, instance)"
        )

    def _load(self, rows: Iterable[tuple[int, str]]) -> None:
        self._conn.execute("INSERT INTO temp.enclave_tok(enclave_tok) VALUES ('delete-all')")
        self._conn.executemany("INSERT INTO temp.enclave_tok(rowid, text) VALUES (?, ?)", rows)

    def _clear(self) -> None:
        self._conn.execute("INSERT INTO temp.enclave_tok(enclave_tok) VALUES ('delete-all')")

    def term_counts(self, rows: Iterable[tuple[int, str]]) -> dict[int, Counter[str]]:
        """Per row id, how often each term occurs (rows without any token are absent)."""
        self._load(rows)
        try:
            out: dict[int, Counter[str]] = {}
            for doc, term, n in self._conn.execute(
                "SELECT doc, term, count(*) FROM temp.enclave_tok_vocab GROUP BY doc, term"
            ):
                out.setdefault(int(doc), Counter())[term] = int(n)
            return out
        finally:
            self._clear()

    def query_terms(self, text: str) -> list[str]:
        """The distinct terms of ``text`` in order of first appearance."""
        self._load([(1, text)])
        try:
            rows = self._conn.execute(
                "SELECT term FROM temp.enclave_tok_vocab GROUP BY term ORDER BY min(offset), term"
            ).fetchall()
            return [r[0] for r in rows]
        finally:
            self._clear()
