"""Running the event rules span by span while the logs are still being read.

When a second process parses the input, the scan's own process would otherwise wait for it and
only then start matching. A Sigma event rule looks at one event at a time, so it can run over each
span of rows as soon as the span is stored (``rowid`` in (low, high]), overlapping with the parsing
of the next span; the union of the spans' hits is exactly what one pass over the whole store finds.

The result must not depend on how the rows were cut: which rules count as executed or skipped,
the failures and the order of the hits are taken from the plan of the whole store (as
:func:`~enclave.cyber.sigma_run.run_rules` makes it), and a rule that the whole store would run but
no span did still runs once, so that an SQL error is reported the same way. Correlation rules need
every event and run at the end.
"""

from __future__ import annotations

from collections.abc import Callable

from enclave.cyber.model import RuleFailure
from enclave.cyber.sigma_rules import CompiledRule, RuleSet
from enclave.cyber.sigma_run import (
    RuleHits,
    RunResult,
    ensure_columns,
    execute_plan,
    plan_span,
    run_correlation,
    run_one,
    span_sql,
)
from enclave.cyber.store import EventStore

SPAN_ROWS = 200_000  # rows per span: large enough to share distinct values, small enough to overlap


class StreamingRules:
    """Call ``rows_stored`` as rows arrive and ``finish`` once they all have; the same RunResult as ``run_rules``."""

    def __init__(self, store: EventStore, ruleset: RuleSet, span_rows: int | None = None) -> None:
        self.store = store
        self.ruleset = ruleset
        self.span_rows = span_rows or SPAN_ROWS
        self.done_upto = 0  # rowids <= this have been matched
        self.rowids: dict[int, list[int]] = {}  # id(rule) -> hits over all spans
        self.sql_failures: dict[int, RuleFailure] = {}
        self.ran: set[int] = set()
        ensure_columns(store, ruleset)  # before the spans, so every span compiles the same SQL

    def rows_stored(self, count: int) -> None:
        """Match the rows stored since the last span once there are enough of them."""
        if count - self.done_upto >= self.span_rows:
            self._run_span(self.done_upto, count)

    def _run_span(self, low: int, high: int | None) -> None:
        span = span_sql(low, high)
        self.store.index_channels()
        scratch = RunResult()
        plan = plan_span(self.store, self.ruleset, span, scratch)
        execute_plan(self.store, plan, span, scratch, lambda: None)
        self._merge(plan.order(), scratch)
        if high is not None:
            self.done_upto = high

    def _merge(self, rules: list[CompiledRule], scratch: RunResult) -> None:
        self.ran.update(id(r) for r in rules)
        for hits in scratch.hits:
            self.rowids.setdefault(id(hits.rule), []).extend(hits.rowids)
        for rule, failure in scratch.rule_errors:
            self.sql_failures.setdefault(id(rule), failure)

    def finish(self, progress: Callable[[int, int], None] | None = None) -> RunResult:
        """Match the last rows, then build the whole store's result; correlation rules run here."""
        self._run_span(self.done_upto, None)
        result = RunResult()
        plan = plan_span(self.store, self.ruleset, "", result)  # skips and table-size failures, as one pass
        order = plan.order()
        never = [(rule, scope) for rule, scope in plan.direct if id(rule) not in self.ran]
        never += [(rule, scope) for _, tier in plan.groups for rule, scope in tier if id(rule) not in self.ran]
        if never:  # the whole store runs them: over no rows, they still report an SQL error the same way
            scratch = RunResult()
            for rule, scope in never:
                run_one(self.store, rule, f"logs WHERE {scope} AND rowid < 0 AND", scratch, expand=False)
            self._merge([rule for rule, _ in never], scratch)
        for rule in order:
            failure = self.sql_failures.get(id(rule))
            if failure is not None:
                result.failures.append(failure)
                continue
            result.executed += 1
            rowids = self.rowids.get(id(rule))
            if rowids:
                result.hits.append(RuleHits(rule, sorted(set(rowids))))
        total = len(self.ruleset.rules)
        for rule in self.ruleset.rules:
            if rule.kind == "correlation":
                run_correlation(self.store, rule, result)
        if progress:
            progress(total, total)
        return result
