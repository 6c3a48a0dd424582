"""Behavioural detections that need no rule: beaconing, password spray / brute force, rare processes.

Each analytic reads the normalised columns (``_src_ip``, ``_dst_ip``, ``_user``, ``_outcome``,
``_proc``, ``_host``, ``_ts``) so it works across Zeek, Suricata, Sysmon, Windows Security and
auth.log alike, and produces ordinary alerts whose "rule" names the analytic (author: Enclave).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from enclave.cyber.model import Alert, RuleMeta
from enclave.cyber.store import EventStore

ANALYTICS_PATH = "enclave/cyber/analytics.py"


@dataclass(frozen=True)
class AnalyticsConfig:
    beacon_min_connections: int = 12
    beacon_score: float = 0.8  # RITA-style score in [0, 1] above which a pair is reported
    beacon_max_jitter: float = 0.3  # and the intervals' MAD may be at most this share of their median
    spray_window_s: int = 600
    spray_min_accounts: int = 8  # distinct accounts failing from one source in the window
    brute_min_failures: int = 10  # failures for one account from one source in the window
    rare_max_hosts: int = 1  # a process image seen on at most this many hosts ...
    rare_min_hosts: int = 10  # ... in an estate of at least this many hosts
    rare_max_alerts: int = 50


BEACON = RuleMeta(
    title="Beaconing: regular connections between one source and destination",
    id="enclave-analytic-beaconing",
    author="Enclave (rule-free analytic)",
    level="high",
    tags=("attack.command-and-control", "attack.t1071", "attack.t1573"),
    path=ANALYTICS_PATH,
    description="Connection intervals and sizes too regular for a person (RITA-style scoring).",
    kind="analytic",
)
SPRAY = RuleMeta(
    title="Password spray: many accounts failing from one source",
    id="enclave-analytic-password-spray",
    author="Enclave (rule-free analytic)",
    level="high",
    tags=("attack.credential-access", "attack.t1110.003"),
    path=ANALYTICS_PATH,
    description="Distinct accounts with failed logons from one source within a time window.",
    kind="analytic",
)
BRUTE = RuleMeta(
    title="Brute force: repeated failures for one account from one source",
    id="enclave-analytic-brute-force",
    author="Enclave (rule-free analytic)",
    level="medium",
    tags=("attack.credential-access", "attack.t1110.001"),
    path=ANALYTICS_PATH,
    description="Many failed logons for one account from one source within a time window.",
    kind="analytic",
)
SPRAY_SUCCESS = RuleMeta(
    title="Logon success after failures from the same source",
    id="enclave-analytic-failures-then-success",
    author="Enclave (rule-free analytic)",
    level="critical",
    tags=("attack.credential-access", "attack.initial-access", "attack.t1110", "attack.t1078"),
    path=ANALYTICS_PATH,
    description="A source that sprayed or brute-forced then logged on successfully.",
    kind="analytic",
)
RARE = RuleMeta(
    title="Rare process: an image seen on only one host of the estate",
    id="enclave-analytic-rare-process",
    author="Enclave (rule-free analytic)",
    level="low",
    tags=("attack.execution", "attack.t1204"),
    path=ANALYTICS_PATH,
    description="Process images that run on very few hosts stand out from the estate's baseline.",
    kind="analytic",
)


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _bowley_skew(values: list[float]) -> float:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    if q3 - q1 == 0:
        return 0.0
    return (q3 + q1 - 2 * q2) / (q3 - q1)


def _mad(values: list[float]) -> float:
    med = statistics.median(values)
    return statistics.median(abs(v - med) for v in values)


def beacon_score(times: list[float], sizes: list[float]) -> dict[str, float]:
    """RITA's beacon score: symmetric, dispersion-free intervals and sizes, plus enough connections.

    Each part is in [0, 1]; 1 is a perfect beacon. Interval skew and dispersion (median absolute
    deviation relative to the median), the same for sizes, and connection count relative to the
    number of possible intervals of the observed span.
    """
    times = sorted(times)
    deltas = [b - a for a, b in pairwise(times)]
    if len(deltas) < 3:
        return {"score": 0.0}
    ts_skew = 1.0 - abs(_bowley_skew(deltas))
    med = statistics.median(deltas)
    ts_madm = max(0.0, 1.0 - _mad(deltas) / med) if med > 0 else 0.0
    span = times[-1] - times[0]
    ts_conn = min(1.0, len(times) / max(1.0, span / med)) if med > 0 else 0.0
    ts_score = (ts_skew + ts_madm + ts_conn) / 3
    if sizes and len(sizes) >= 4:
        ds_skew = 1.0 - abs(_bowley_skew(sizes))
        smed = statistics.median(sizes)
        ds_madm = max(0.0, 1.0 - _mad(sizes) / smed) if smed > 0 else 1.0
        ds_score = (ds_skew + ds_madm) / 2
        score = (ts_score + ds_score) / 2
    else:
        ds_score = 0.0
        score = ts_score
    return {
        "score": round(score, 3),
        "interval_s": round(med, 2),
        "interval_score": round(ts_score, 3),
        "size_score": round(ds_score, 3),
        "jitter": round(1.0 - ts_madm, 3),
    }


def _alert(
    rule: RuleMeta, store: EventStore, rowids: list[int], details: dict[str, Any], host: str | None, user: str | None
) -> Alert:
    evidence = store.evidence(rowids[:25])
    times = [e.time for e in evidence if e.time]
    span = store.conn.execute(
        f"SELECT min(_ts), max(_ts) FROM logs WHERE rowid IN ({','.join('?' * len(rowids[:900]))})", rowids[:900]
    ).fetchone()
    return Alert(
        rule=rule,
        evidence=evidence,
        first_seen=span[0] or (min(times) if times else None),
        last_seen=span[1] or (max(times) if times else None),
        host=host,
        user=user,
        details=details,
    )


def beaconing(store: EventStore, cfg: AnalyticsConfig) -> list[Alert]:
    """Pairs whose connections are regular in time and size (Zeek conn, Suricata flow, Sysmon 3)."""
    pairs: dict[tuple[str, str, str], list[tuple[float, float, int]]] = defaultdict(list)
    sql = (
        "SELECT rowid, _src_ip, _dst_ip, _dst_port, _ts, _bytes FROM logs "
        "WHERE _action IN ('conn', 'flow') AND _src_ip IS NOT NULL AND _dst_ip IS NOT NULL AND _ts IS NOT NULL"
    )
    for rowid, src, dst, port, ts, size in store.conn.execute(sql):
        try:
            pairs[(src, dst, str(port or ""))].append((_epoch(ts), float(size) if size is not None else -1.0, rowid))
        except ValueError:
            continue
    alerts: list[Alert] = []
    for (src, dst, port), rows in pairs.items():
        if len(rows) < cfg.beacon_min_connections:
            continue
        sizes = [s for _, s, _ in rows if s >= 0]
        result = beacon_score([t for t, _, _ in rows], sizes)
        if result["score"] >= cfg.beacon_score and result.get("jitter", 1.0) <= cfg.beacon_max_jitter:
            details = {"source": src, "destination": dst, "port": port, "connections": len(rows), **result}
            alerts.append(_alert(BEACON, store, [r for _, _, r in sorted(rows)], details, src, None))
    return alerts


def password_spray(store: EventStore, cfg: AnalyticsConfig) -> list[Alert]:
    """Spray (many accounts), brute force (one account, many tries), and success after either."""
    sql = (
        "SELECT rowid, _src_ip, _user, _outcome, _ts, _host FROM logs WHERE _action = 'logon' "
        "AND _src_ip IS NOT NULL AND _ts IS NOT NULL ORDER BY _ts"
    )
    by_source: dict[str, list[tuple[float, str, str, int, str | None]]] = defaultdict(list)
    for rowid, src, user, outcome, ts, host in store.conn.execute(sql):
        try:
            by_source[src].append((_epoch(ts), str(user or "?").lower(), outcome, rowid, host))
        except ValueError:
            continue
    alerts: list[Alert] = []
    for src, events in by_source.items():
        failures = [e for e in events if e[2] == "failure"]
        flagged = False
        start = 0
        best: tuple[int, list[tuple[float, str, str, int, str | None]]] = (0, [])
        for end in range(len(failures)):
            while failures[end][0] - failures[start][0] > cfg.spray_window_s:
                start += 1
            window = failures[start : end + 1]
            accounts = len({e[1] for e in window})
            if accounts > best[0]:
                best = (accounts, window)
        if best[0] >= cfg.spray_min_accounts:
            flagged = True
            window = best[1]
            details = {
                "source": src,
                "accounts": best[0],
                "failures": len(window),
                "window_s": cfg.spray_window_s,
                "sample_accounts": sorted({e[1] for e in window})[:10],
            }
            alerts.append(_alert(SPRAY, store, [e[3] for e in window], details, window[-1][4], None))
        per_user: dict[str, list[tuple[float, str, str, int, str | None]]] = defaultdict(list)
        for e in failures:
            per_user[e[1]].append(e)
        for user, tries in per_user.items():
            start = 0
            for end in range(len(tries)):
                while tries[end][0] - tries[start][0] > cfg.spray_window_s:
                    start += 1
                if end - start + 1 >= cfg.brute_min_failures:
                    flagged = True
                    window = tries[start : end + 1]
                    details = {"source": src, "account": user, "failures": len(window), "window_s": cfg.spray_window_s}
                    alerts.append(_alert(BRUTE, store, [e[3] for e in window], details, window[-1][4], user))
                    break
        if flagged:
            last_failure = failures[-1][0] if failures else 0.0
            first_failure = failures[0][0] if failures else 0.0
            for e in events:
                if e[2] == "success" and first_failure <= e[0] and e[0] - last_failure <= cfg.spray_window_s:
                    failed_rows = [f[3] for f in failures if f[0] <= e[0]][-20:]
                    details = {"source": src, "account": e[1], "failures_before": len(failed_rows)}
                    alerts.append(_alert(SPRAY_SUCCESS, store, [*failed_rows, e[3]], details, e[4], e[1]))
                    break
    return alerts


def rare_processes(store: EventStore, cfg: AnalyticsConfig) -> list[Alert]:
    """Process images that ran on at most ``rare_max_hosts`` hosts of an estate of many."""
    hosts = store.conn.execute(
        "SELECT count(DISTINCT _host) FROM logs WHERE _action = 'process' AND _host IS NOT NULL"
    ).fetchone()[0]
    if hosts < cfg.rare_min_hosts:
        return []
    sql = (
        "SELECT lower(_proc), count(DISTINCT _host) AS n, min(_host), group_concat(rowid) FROM logs "
        "WHERE _action = 'process' AND _proc IS NOT NULL GROUP BY lower(_proc) HAVING n <= ? ORDER BY count(*) "
        "LIMIT ?"
    )
    alerts = []
    for proc, n, host, rids in store.conn.execute(sql, (cfg.rare_max_hosts, cfg.rare_max_alerts)).fetchall():
        rowids = [int(r) for r in str(rids).split(",")]
        details = {"image": proc, "hosts": n, "estate_hosts": hosts, "executions": len(rowids)}
        alerts.append(_alert(RARE, store, rowids, details, host, None))
    return alerts


def run_analytics(store: EventStore, cfg: AnalyticsConfig | None = None) -> list[Alert]:
    cfg = cfg or AnalyticsConfig()
    return [*beaconing(store, cfg), *password_spray(store, cfg), *rare_processes(store, cfg)]
