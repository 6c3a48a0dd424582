"""Sigma's own regression data as a conformance suite.

Each ``regression_data/**/info.yml`` names a rule (by id), an EVTX sample and optionally the
expected match count (default: at least one match). For every case the rule is run alone over its
sample in a fresh store; the report gives the share of rules that load and the share whose match
count is exactly the expected one (and, as SigmaHQ's own runner counts it, at least the expected one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers.detect import PARSERS, detect
from enclave.cyber.sigma_rules import RuleSet, load_rules
from enclave.cyber.sigma_run import run_rules
from enclave.cyber.sources import expand_paths
from enclave.cyber.store import EventStore


@dataclass
class ConformanceReport:
    cases: int = 0
    loaded: int = 0
    exact: int = 0
    at_least: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def load_share(self) -> float:
        return self.loaded / self.cases if self.cases else 0.0

    @property
    def exact_share(self) -> float:
        """Exact matches among the rules that loaded."""
        return self.exact / self.loaded if self.loaded else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "loaded": self.loaded,
            "exact": self.exact,
            "at_least_expected": self.at_least,
            "load_share": round(self.load_share, 4),
            "exact_share": round(self.exact_share, 4),
            "mismatches": self.mismatches,
            "failures": self.failures,
        }


def _rules_by_id(sigma_root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(sigma_root.glob("rules*/**/*.yml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "regression_tests_path" not in text:
            continue
        doc = yaml.safe_load(text)
        if isinstance(doc, dict) and doc.get("id"):
            out[str(doc["id"])] = path
    return out


def cases(sigma_root: Path) -> list[tuple[str, Path | None, Path, int | None]]:
    """(rule id, rule file, sample, expected count) for every EVTX regression test."""
    by_id = _rules_by_id(sigma_root)
    found = []
    for info in sorted((sigma_root / "regression_data").rglob("info.yml")):
        doc = yaml.safe_load(info.read_text(encoding="utf-8")) or {}
        metadata = doc.get("rule_metadata") or [{}]
        rule_id = str(metadata[0].get("id", ""))
        for test in doc.get("regression_tests_info") or []:
            if isinstance(test, dict) and test.get("type") == "evtx" and test.get("path"):
                found.append((rule_id, by_id.get(rule_id), sigma_root / test["path"], test.get("match_count")))
    return found


def run_conformance(sigma_root: Path) -> ConformanceReport:
    report = ConformanceReport()
    all_cases = cases(sigma_root)
    report.cases = len(all_cases)
    rule_files = sorted({c[1] for c in all_cases if c[1] is not None})
    ruleset = load_rules(rule_files)
    report.failures = [f.to_dict() for f in ruleset.failures]
    compiled = {r.meta.id: r for r in ruleset.rules}
    for rule_id, rule_file, sample, expected in all_cases:
        rule = compiled.get(rule_id)
        if rule is None:
            continue
        report.loaded += 1
        issues: list[ParseIssue] = []
        store = EventStore()
        try:
            for source in expand_paths([sample], issues):
                kind = detect(source)
                if kind:
                    store.add(PARSERS[kind](source, issues))
            store.finish_loading()
            run = run_rules(store, RuleSet(rules=[rule]))
            got = sum(len(h.rowids) for h in run.hits)
        finally:
            store.close()
        want = expected if expected is not None else 1
        if got == want:
            report.exact += 1
        else:
            report.mismatches.append({"rule": str(rule_file), "expected": want, "got": got})
        if got >= want:
            report.at_least += 1
    return report
