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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from enclave.cyber.candidates import CandidateFinder
from enclave.cyber.model import RuleFailure
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
    rule_errors: list[tuple[CompiledRule, RuleFailure]] = field(default_factory=list)  # SQL errors, by rule


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


def _present(store: EventStore, span: str = "") -> tuple[dict[str, set[str]], set[str], set[int]]:
    products: dict[str, set[str]] = {}
    for product, service in store.conn.execute(f"SELECT DISTINCT _product, _service FROM logs WHERE 1{span}"):
        products.setdefault(str(product).lower(), set()).add(str(service or "").lower())
    channels: set[str] = set()
    eids: set[int] = set()
    if store.has_column("Channel") and store.has_column("EventID"):
        sql = f"SELECT DISTINCT Channel, EventID FROM logs WHERE _product = 'windows'{span}"
        for channel, eid in store.conn.execute(sql):
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
DEDUP_MIN_RULES = 4
SKIP_EMPTY = True  # skip a rule when every field it needs a substring in is empty (False: plain SQL, for tests)


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


@dataclass
class SpanPlan:
    """How the event rules run over a span of rows: distinct-row groups first, then one by one."""

    groups: list[tuple[str, list[tuple[CompiledRule, str]]]] = field(default_factory=list)  # (where, tier)
    direct: list[tuple[CompiledRule, str]] = field(default_factory=list)

    def order(self) -> list[CompiledRule]:
        return [rule for _, tier in self.groups for rule, _ in tier] + [rule for rule, _ in self.direct]


def ensure_columns(store: EventStore, ruleset: RuleSet) -> None:
    needed = {f for rule in ruleset.rules for f in rule.fields}
    for name in sorted(f for f in needed if not store.has_column(f)):
        # A rule may name a field no event carries: it must read as NULL, not fail to compile
        store.ensure_column(name)


def plan_span(store: EventStore, ruleset: RuleSet, span: str, result: RunResult) -> SpanPlan:
    """Which event rules run over the rows of ``span`` and how (skips and failures go to ``result``).

    Windows rules are partitioned by the channels and event ids their conditions require. A large
    partition is first reduced to its distinct combinations of the fields its rules read (keeping
    the rowids of each), rules run over those, and hits expand back to events: logs repeat the same
    image and command line many times, and each distinct one is then matched once.
    """
    products, channels, eids = _present(store, span)
    partitions: dict[tuple[tuple[str, ...], tuple[int, ...]], list[tuple[CompiledRule, str]]] = {}
    plan = SpanPlan()
    for rule in ruleset.rules:
        if rule.kind == "correlation":
            continue
        scope = _runnable(rule, products, channels, eids, result)
        if scope is None:
            continue
        if not store.has_all(rule.fields):
            result.failures.append(
                RuleFailure(rule.meta.path, rule.meta.title, rule.meta.id, "too many distinct fields for one table")
            )
            continue
        if (
            rule.product == "windows"
            and rule.channels
            and rule.event_ids
            and not any(f.lower() in HIGH_CARDINALITY for f in rule.fields)
        ):
            partitions.setdefault((rule.channels, rule.event_ids), []).append((rule, scope))
        else:
            plan.direct.append((rule, scope))
    moved: list[tuple[CompiledRule, str]] = []
    for (chans, ids), members in partitions.items():
        where = f"Channel IN ({', '.join(_sql_str(c) for c in chans)}) AND EventID IN ({', '.join(map(str, ids))})"
        if len(members) < DEDUP_MIN_RULES or _count(store, where + span) < DEDUP_MIN_ROWS:
            moved.extend(members)
            continue
        for tier in _tiers(members):
            if len(tier) < DEDUP_MIN_RULES:
                moved.extend(tier)
            else:
                plan.groups.append((where, tier))
    plan.direct.extend(moved)
    return plan


def execute_plan(store: EventStore, plan: SpanPlan, span: str, result: RunResult, tick: Callable[[], None]) -> None:
    """Run a plan's event rules over the rows of ``span``, adding hits and SQL failures to ``result``."""
    for where, tier in plan.groups:
        fields = sorted({f for rule, _ in tier for f in rule.fields} | {"Channel", "EventID"}, key=str.lower)
        table = _distinct_table(store, where + span, fields)
        finder = CandidateFinder(
            store.conn,
            table,
            [rule.needles for rule, _ in tier],
            lambda name: quote_ident(store.column_name(name)),
            enabled=len(tier) >= PREFILTER_MIN_RULES,
            min_rows=PREFILTER_MIN_ROWS,
        )
        for rule, _scope_sql in tier:
            candidates = finder.candidates(rule.needles)
            if candidates is not None and not candidates:
                result.executed += 1  # no row holds any of the rule's required substrings
            else:
                run_one(store, rule, table, result, expand=True, rowids=candidates)
            tick()
        finder.close()
        store.conn.execute(f"DROP TABLE temp.{table}")
    filled: dict[str, bool] = {}
    for rule, scope in plan.direct:
        if SKIP_EMPTY and rule.needles and not any(_has_values(store, name, span, filled) for name, _ in rule.needles):
            result.executed += 1  # every field the rule needs a substring in is empty in these rows
        else:
            run_one(store, rule, f"logs WHERE {scope}{span} AND", result, expand=False)
        tick()


def _has_values(store: EventStore, name: str, span: str, filled: dict[str, bool]) -> bool:
    """Whether any row of ``span`` has a value in field ``name`` (answers cached per span)."""
    key = name.lower()
    if not store.has_column(name):
        return True  # not a column the store knows: let the rule's own SQL decide
    if key not in filled:
        column = quote_ident(store.column_name(name))
        sql = f"SELECT EXISTS (SELECT 1 FROM logs WHERE {column} IS NOT NULL{span})"
        filled[key] = bool(store.conn.execute(sql).fetchone()[0])
    return filled[key]


def run_rules(store: EventStore, ruleset: RuleSet, progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Run every rule once over the whole store."""
    result = RunResult()
    ensure_columns(store, ruleset)
    total = len(ruleset.rules)
    plan = plan_span(store, ruleset, "", result)
    done = total - len(plan.order()) - sum(1 for r in ruleset.rules if r.kind == "correlation")

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(min(done, total), total)

    execute_plan(store, plan, "", result, tick)
    for rule in ruleset.rules:
        if rule.kind == "correlation":
            run_correlation(store, rule, result)
            tick()
    return result


def span_sql(low: int, high: int | None) -> str:
    """A WHERE fragment confining a query to rowids in (low, high]."""
    return f" AND rowid > {int(low)}" + (f" AND rowid <= {int(high)}" if high is not None else "")


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


def run_one(
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
        failure = RuleFailure(rule.meta.path, rule.meta.title, rule.meta.id, f"SQL error: {exc}")
        result.failures.append(failure)
        result.rule_errors.append((rule, failure))
        return
    result.executed += 1
    if hits.rowids:
        hits.rowids = sorted(set(hits.rowids))
        result.hits.append(hits)


def run_correlation(store: EventStore, rule: CompiledRule, result: RunResult) -> None:
    from sigma.backends.sqlite.runtime import execute_plan as execute_correlation

    try:
        rows, _diag = execute_correlation(store.conn, rule.plan, include_events=False)
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


__all__ = ["RuleHits", "RunResult", "execute_plan", "plan_span", "quote_ident", "run_one", "run_rules", "span_sql"]
