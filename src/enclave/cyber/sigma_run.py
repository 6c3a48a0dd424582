"""Running compiled Sigma rules over a scan's event store, Zircolite-style but in one pass per rule.

Speed comes from never asking SQLite to look at rows a rule cannot match: each rule is confined to
its log source (``_product``/``_service`` for non-Windows, ``Channel``/``EventID`` conditions for
Windows, which an index serves), and rules whose channels or event ids do not occur in the scan are
skipped without a query. Only rowids come back; evidence is read afterwards for the hits alone.
A rule whose SQL fails at run time is reported with the error, never dropped silently.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from enclave.cyber.model import RuleFailure
from enclave.cyber.prefilter import NON_ASCII
from enclave.cyber.sigma_rules import CompiledRule, RuleSet
from enclave.cyber.store import EventStore, quote_ident

_LINUX_ANY = {"syslog"}


@dataclass
class RuleHits:
    rule: CompiledRule
    rowids: list[int] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)  # correlation results


@dataclass
class RunResult:
    hits: list[RuleHits] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)
    executed: int = 0
    skipped: int = 0  # rules whose log source does not occur in this scan


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _scope(rule: CompiledRule, present: dict[str, set[str]]) -> str | None:
    """SQL restricting a rule to its log source, or None when that source is absent from the scan."""
    product = (rule.product or "").lower()
    if product == "windows":
        return "_product = 'windows'" if "windows" in present else None
    if product in ("linux", "zeek", "suricata"):
        services = present.get(product)
        if services is None:
            return None
        if rule.category and product != "zeek":
            return None  # e.g. linux process_creation needs auditd/sysmon-for-linux, not ingested here
        if rule.service:
            service = rule.service.lower()
            if product == "linux" and service in _LINUX_ANY:
                return "_product = 'linux'"
            if product == "linux" and service not in services:
                return f"_product = 'linux' AND program = {_sql_str(service)}"
            if service not in services:
                return None
            return f"_product = {_sql_str(product)} AND _service = {_sql_str(service)}"
        return f"_product = {_sql_str(product)}"
    return None


def _present(store: EventStore) -> tuple[dict[str, set[str]], set[str], set[int]]:
    products: dict[str, set[str]] = {}
    for product, service in store.conn.execute("SELECT DISTINCT _product, _service FROM logs"):
        products.setdefault(str(product).lower(), set()).add(str(service or "").lower())
    channels: set[str] = set()
    eids: set[int] = set()
    if store.has_column("Channel") and store.has_column("EventID"):
        for channel, eid in store.conn.execute("SELECT DISTINCT Channel, EventID FROM logs WHERE _product = 'windows'"):
            channels.add(str(channel or "").lower())
            try:
                eids.add(int(eid))
            except (TypeError, ValueError):
                pass
    return products, channels, eids


# Per-event identifiers: a rule that names one of these cannot share work between events
HIGH_CARDINALITY = frozenset(
    f.lower()
    for f in (
        "ProcessId",
        "ProcessGuid",
        "ParentProcessId",
        "ParentProcessGuid",
        "LogonId",
        "LogonGuid",
        "UtcTime",
        "EventRecordID",
        "SourceProcessGUID",
        "TargetProcessGUID",
        "SourceProcessId",
        "TargetProcessId",
        "_ts",
        "_rec",
    )
)
DEDUP_MIN_ROWS = 5000
PREFILTER_MIN_ROWS = 500  # below this, running the rules over every distinct row is cheap enough
PREFILTER_MIN_RULES = 8
SEPARATOR = "\x00"
PREFILTER_MAX_SHARE = 0.3  # a rule whose candidates exceed this share of rows is simply scanned
DEDUP_MIN_RULES = 4


def _runnable(
    rule: CompiledRule, products: dict[str, set[str]], channels: set[str], eids: set[int], result: RunResult
) -> str | None:
    scope = _scope(rule, products)
    if scope is None or (rule.channels and not any(c.lower() in channels for c in rule.channels)):
        result.skipped += 1
        return None
    if rule.event_ids and not any(e in eids for e in rule.event_ids):
        result.skipped += 1
        return None
    return scope


def run_rules(store: EventStore, ruleset: RuleSet, progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Run every rule once over the whole store.

    Windows rules are partitioned by the channels and event ids their conditions require. A large
    partition is first reduced to its distinct combinations of the fields its rules read (keeping
    the rowids of each), rules run over those, and hits expand back to events: logs repeat the same
    image and command line many times, and each distinct one is then matched once.
    """
    result = RunResult()
    products, channels, eids = _present(store)
    needed = {f for rule in ruleset.rules for f in rule.fields}
    for name in sorted(f for f in needed if not store.has_column(f)):
        # A rule may name a field no event carries: it must read as NULL, not fail to compile
        store.ensure_column(name)
    total = len(ruleset.rules)
    done = 0
    partitions: dict[tuple[tuple[str, ...], tuple[int, ...]], list[tuple[CompiledRule, str]]] = {}
    direct: list[tuple[CompiledRule, str]] = []
    for rule in ruleset.rules:
        if rule.kind == "correlation":
            continue
        scope = _runnable(rule, products, channels, eids, result)
        if scope is None:
            done += 1
            continue
        if not store.has_all(rule.fields):
            result.failures.append(
                RuleFailure(rule.meta.path, rule.meta.title, rule.meta.id, "too many distinct fields for one table")
            )
            done += 1
            continue
        if (
            rule.product == "windows"
            and rule.channels
            and rule.event_ids
            and not any(f.lower() in HIGH_CARDINALITY for f in rule.fields)
        ):
            partitions.setdefault((rule.channels, rule.event_ids), []).append((rule, scope))
        else:
            direct.append((rule, scope))

    def tick(count: int = 1) -> None:
        nonlocal done
        done += count
        if progress:
            progress(min(done, total), total)

    for (chans, ids), members in partitions.items():
        where = f"Channel IN ({', '.join(_sql_str(c) for c in chans)}) AND EventID IN ({', '.join(map(str, ids))})"
        if len(members) < DEDUP_MIN_RULES or _count(store, where) < DEDUP_MIN_ROWS:
            direct.extend(members)
            continue
        for tier in _tiers(members):
            if len(tier) < DEDUP_MIN_RULES:
                direct.extend(tier)
                continue
            fields = sorted({f for rule, _ in tier for f in rule.fields} | {"Channel", "EventID"}, key=str.lower)
            table = _distinct_table(store, where, fields)
            finder = _Prefilter(store, table, tier)
            for rule, _scope_sql in tier:
                candidates = finder.candidates(rule)
                if candidates is not None and not candidates:
                    result.executed += 1  # no row holds any of the rule's required substrings
                else:
                    _run_one(store, rule, table, result, expand=True, rowids=candidates)
                tick()
            finder.drop()
            store.conn.execute(f"DROP TABLE temp.{table}")
    for rule, scope in direct:
        _run_one(store, rule, f"logs WHERE {scope} AND", result, expand=False)
        tick()
    for rule in ruleset.rules:
        if rule.kind == "correlation":
            _run_correlation(store, rule, result)
            tick()
    return result


def _tiers(members: list[tuple[CompiledRule, str]]) -> list[list[tuple[CompiledRule, str]]]:
    """Split a partition's rules: those reading only its common fields, and the rest.

    The fewer fields a distinct table has, the fewer distinct rows it keeps: a field read by a
    handful of rules (User, Hashes) would multiply the rows every other rule has to look at.
    """
    counts: dict[str, int] = {}
    for rule, _ in members:
        for f in rule.fields:
            counts[f.lower()] = counts.get(f.lower(), 0) + 1
    threshold = max(3, len(members) // 25)
    core = {f for f, n in counts.items() if n >= threshold}
    common = [m for m in members if all(f.lower() in core for f in m[0].fields)]
    rest = [m for m in members if not all(f.lower() in core for f in m[0].fields)]
    return [t for t in (common, rest) if t]


def _count(store: EventStore, where: str) -> int:
    return int(store.conn.execute(f"SELECT count(*) FROM logs WHERE {where}").fetchone()[0])


_TABLE_SEQ = [0]


def _distinct_table(store: EventStore, where: str, fields: list[str]) -> str:
    """A temp table of the distinct ``fields`` combinations under ``where``, with their rowids."""
    _TABLE_SEQ[0] += 1
    name = f"sigma_part_{_TABLE_SEQ[0]}"
    cols = [quote_ident(store.column_name(f)) for f in fields]
    defs = ", ".join(f"{c} TEXT COLLATE NOCASE" for c in cols)
    store.conn.execute(f"CREATE TEMP TABLE {name} ({defs}, _rids TEXT)")
    # BINARY grouping: |cased (GLOB) and regular expressions are case-sensitive
    group = ", ".join(f"{c} COLLATE BINARY" for c in cols)
    store.conn.execute(
        f"INSERT INTO {name} SELECT {', '.join(cols)}, group_concat(rowid) FROM logs WHERE {where} GROUP BY {group}"
    )
    return name


class _Prefilter:
    """Candidate rows of a distinct table per rule: rows holding at least one of the rule's needles.

    Each needle field's values are lower-cased and joined into one string, so that finding a needle
    is one ``str.find`` pass at C speed; offsets map back to rows. Results are cached per needle:
    many rules share needles (``\\powershell.exe``).
    """

    def __init__(self, store: EventStore, table: str, tier: list[tuple[CompiledRule, str]]) -> None:
        self.store = store
        self.table = table
        self.enabled = False
        self.cache: dict[tuple[str, str], set[int]] = {}
        self.texts: dict[str, tuple[str, list[int], list[int], list[str]]] = {}
        self.rows = int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        self.enabled = self.rows >= PREFILTER_MIN_ROWS and len(tier) >= PREFILTER_MIN_RULES

    def _text(self, field: str) -> tuple[str, list[int], list[int], list[str]]:
        key = field.lower()
        if key not in self.texts:
            column = quote_ident(self.store.column_name(field))
            rowids: list[int] = []
            values: list[str] = []
            for rowid, value in self.store.conn.execute(
                f"SELECT rowid, {column} FROM {self.table} WHERE {column} IS NOT NULL"
            ):
                rowids.append(rowid)
                values.append(str(value).lower())
            starts: list[int] = []
            position = 0
            for value in values:
                starts.append(position)
                position += len(value) + 1
            self.texts[key] = (SEPARATOR.join(values), starts, rowids, values)
        return self.texts[key]

    def _find(self, field: str, literal: str) -> set[int]:
        big, starts, rowids, values = self._text(field)
        if literal == NON_ASCII:
            return {rowid for rowid, value in zip(rowids, values, strict=True) if not value.isascii()}
        found: set[int] = set()
        at = big.find(literal)
        while at != -1:
            index = bisect_right(starts, at) - 1
            found.add(rowids[index])
            following = index + 1
            at = big.find(literal, starts[following]) if following < len(starts) else -1
        return found

    def candidates(self, rule: CompiledRule) -> set[int] | None:
        """Rows that may match (None: no prefilter for this rule, scan them all)."""
        if not self.enabled or not rule.needles:
            return None
        found: set[int] = set()
        for name, literal in rule.needles:
            if literal != NON_ASCII and SEPARATOR in literal:
                return None
            key = (name.lower(), literal)
            rows = self.cache.get(key)
            if rows is None:
                rows = self._find(name, literal)
                self.cache[key] = rows
            found |= rows
            if len(found) > self.rows * PREFILTER_MAX_SHARE:
                return None
        return found

    def drop(self) -> None:
        self.texts.clear()
        self.cache.clear()


def _run_one(
    store: EventStore,
    rule: CompiledRule,
    source: str,
    result: RunResult,
    *,
    expand: bool,
    rowids: set[int] | None = None,
) -> None:
    hits = RuleHits(rule)
    try:
        for where in rule.where:
            if expand:
                sql = f"SELECT _rids FROM {source} WHERE ({where})"
                params: tuple[Any, ...] = ()
                if rowids is not None:
                    sql += " AND rowid IN (SELECT value FROM json_each(?))"
                    params = (json.dumps(sorted(rowids)),)
                for (rids,) in store.conn.execute(sql, params):
                    hits.rowids.extend(int(x) for x in str(rids).split(","))
            else:
                hits.rowids.extend(r[0] for r in store.conn.execute(f"SELECT rowid FROM {source} ({where})"))
    except (sqlite3.Error, UnicodeError) as exc:  # UnicodeError: lone surrogates in a rule
        result.failures.append(RuleFailure(rule.meta.path, rule.meta.title, rule.meta.id, f"SQL error: {exc}"))
        return
    result.executed += 1
    if hits.rowids:
        hits.rowids = sorted(set(hits.rowids))
        result.hits.append(hits)


def _run_correlation(store: EventStore, rule: CompiledRule, result: RunResult) -> None:
    from sigma.backends.sqlite.runtime import execute_plan

    try:
        rows, _diag = execute_plan(store.conn, rule.plan, include_events=False)
    except (sqlite3.Error, ValueError, RuntimeError, KeyError) as exc:
        result.failures.append(RuleFailure(rule.meta.path, rule.meta.title, rule.meta.id, f"correlation failed: {exc}"))
        return
    result.executed += 1
    if not rows:
        return
    hits = RuleHits(rule)
    # The backend reports every sliding window that satisfies the condition; overlapping windows
    # of one group are one finding, so they are merged (union of their events).
    last_by_group: dict[str, dict[str, Any]] = {}
    for row in rows:
        ids = {int(str(i).split(":", 1)[1]) for i in row.get("event_ids", [])}
        key = json.dumps(row.get("group_keys"), sort_keys=True, default=str)
        previous = last_by_group.get(key)
        if previous is not None and previous["_ids"] & ids:
            previous["_ids"] |= ids
            continue
        group = {"group": row.get("group_keys"), "_ids": ids}
        hits.groups.append(group)
        last_by_group[key] = group
    for group in hits.groups:
        ids = group.pop("_ids")
        group["rowids"] = sorted(ids)
        group["count"] = len(ids)
        hits.rowids.extend(ids)
    hits.rowids = sorted(set(hits.rowids))
    result.hits.append(hits)


__all__ = ["RuleHits", "RunResult", "quote_ident", "run_rules"]
