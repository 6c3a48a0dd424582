"""Audit log benchmark: durable appends/s, full verify time and inclusion proofs at 1,000,000 entries.

    .venv/bin/python bench/audit.py                    # full size (1M entries, several minutes)
    .venv/bin/python bench/audit.py --entries 20000    # quick look

Baseline, measured in the same run: one INSERT + COMMIT per row into a bare SQLite table with the
same durability settings (WAL, synchronous=FULL) — what a naive durable log would reach.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from enclave.audit import AuditLog
from enclave.audit.keys import ensure_signing_key, trusted_public_key
from enclave.audit.proofs import check_proof
from enclave.audit.verify import verify_log


def realistic_details(i: int) -> dict[str, object]:
    """An 'ask' entry about the size of a real one (question, chunk ids with labels, hashes)."""
    return {
        "question": f"What is the readiness status of unit {i % 97} for operation {i % 13}?",
        "chunks": [{"id": f"doc{i % 500}:{c}", "label": "NATO RESTRICTED"} for c in range(3)],
        "answer_sha256": f"{i:064x}",
        "answer_label": "NATO RESTRICTED",
        "model_id": "smollm2-135m-instruct-q4_1",
        "citation_check": "ok",
    }


def baseline(path: Path, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT)")
    body = json.dumps(realistic_details(1))
    for _ in range(1200):  # warm up until the WAL is recycled: a growing WAL makes every fsync dearer
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
    started = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def appends_per_second(log: AuditLog, n: int, threads: int) -> float:
    per_thread = n // threads

    def work(t: int) -> None:
        for i in range(per_thread):
            log.append("ask", actor=f"user{t}", clearance={"level": "NATO SECRET"}, details=realistic_details(i))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return per_thread * threads / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size for verify and proofs")
    parser.add_argument("--appends", type=int, default=4000, help="durable appends per throughput run")
    parser.add_argument(
        "--threads",
        default="16,64",
        help="comma-separated counts of concurrent appenders (the server's request threads)",
    )
    parser.add_argument("--proofs", type=int, default=200, help="inclusion proofs to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="enclave-bench-audit-") as tmp:
        root = Path(tmp)
        key = root / "keys" / "audit.pem"
        ensure_signing_key(key)
        trusted = trusted_public_key(key)

        print(f"== durable appends ({args.appends} each; WAL, synchronous=FULL; returns only once durable)")
        base = baseline(root / "baseline.db", max(500, args.appends // 4))
        print(f"baseline: bare SQLite INSERT+COMMIT per row      {base:10,.0f} rows/s")
        with AuditLog(root / "throughput.db", key) as log:
            single = appends_per_second(log, max(500, args.appends // 4), 1)
            print(
                f"AuditLog.append, 1 thread (one fsync each)        {single:10,.0f} appends/s  ({single / base:.2f}x)"
            )
            for threads in (int(t) for t in args.threads.split(",")):
                multi = appends_per_second(log, args.appends, threads)
                print(
                    f"AuditLog.append, {threads:>2} threads (group commit)      {multi:10,.0f} appends/s  "
                    f"({multi / base:.2f}x baseline; target >= 2,000)"
                )

        print(f"\n== a log of {args.entries:,} entries")
        path = root / "big.db"
        started = time.perf_counter()
        with AuditLog(path, key, head_every_entries=1000) as log:
            batch = 10_000
            done = 1  # the creation record
            while done < args.entries:
                count = min(batch, args.entries - done)
                log.append_many(
                    ("ask", f"user{(done + i) % 50}", {"level": "NATO SECRET"}, realistic_details(done + i))
                    for i in range(count)
                )
                done += count
        build = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in root.glob("big.db*")) / 1e6
        print(
            f"built with append_many (batches of 10,000)        {build:10.1f} s  "
            f"({args.entries / build:,.0f} entries/s)"
        )
        print(f"database size                                     {size_mb:10.1f} MB")

        report = verify_log(path, trusted)
        if not report.ok:
            print("verify FAILED:", report.problems[:3])
            return 1
        print(
            f"verify (re-hash all, check {report.heads:,} signed heads)   {report.seconds:10.1f} s  "
            f"({report.entries / report.seconds:,.0f} entries/s; target <= 60 s at 1M)"
        )

        with AuditLog(path, key, readonly=True) as log:
            rng = random.Random(7)
            seqs = [rng.randrange(args.entries) for _ in range(args.proofs)]
            gen_times, check_times, sizes, hashes = [], [], [], []
            for seq in seqs:
                t0 = time.perf_counter()
                proof = log.inclusion_proof(seq)
                t1 = time.perf_counter()
                check_proof(proof, trusted)
                t2 = time.perf_counter()
                gen_times.append(t1 - t0)
                check_times.append(t2 - t1)
                hashes.append(len(proof["audit_path"]))
                sizes.append(len(json.dumps(proof, separators=(",", ":"))))
            t0 = time.perf_counter()
            consistency = log.consistency_proof(args.entries // 3)
            cons_time = time.perf_counter() - t0
        print(
            f"inclusion proof at {args.entries:,}: {statistics.mean(hashes):.1f} hashes "
            f"({statistics.mean(hashes) * 32:.0f} B of path; "
            f"{statistics.mean(sizes):,.0f} B as JSON with entry and head)"
        )
        print(
            f"  generate: median {statistics.median(gen_times) * 1e3:.2f} ms, max {max(gen_times) * 1e3:.2f} ms; "
            f"check offline: median {statistics.median(check_times) * 1e3:.2f} ms"
        )
        print(
            f"consistency proof {args.entries // 3:,} -> {args.entries:,}: "
            f"{len(consistency['consistency_path'])} hashes, {cons_time * 1e3:.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
