"""Loading Sigma rules (SigmaHQ format) and compiling them to SQLite with pySigma.

Rules are read file by file so that a broken file is reported with its path and reason, never
dropped silently. Windows rules go through the Sysmon and Windows log-source pipelines (the
Zircolite set-up: generic categories become Sysmon event ids plus a ``Channel`` condition).
Correlation rules are compiled into the backend's correlation plans. Each compiled rule keeps the
metadata the Detection Rule License asks every output to carry: title, id, author and the rule's
path, plus level and ATT&CK tags.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclave.cyber.errors import CyberError
from enclave.cyber.model import RuleFailure, RuleMeta

RULE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class CompiledRule:
    """A rule ready to run: SQL for event rules, a correlation plan for correlation rules."""

    meta: RuleMeta
    kind: str  # "event" | "correlation"
    where: tuple[str, ...] = ()  # WHERE clauses (one per condition) for event rules
    plan: dict[str, Any] | None = None
    product: str | None = None
    service: str | None = None
    category: str | None = None
    channels: tuple[str, ...] = ()
    event_ids: tuple[int, ...] = ()
    fields: tuple[str, ...] = ()
    # Substrings of which at least one must occur (case-insensitively) in the named field for the
    # rule to match; None when the condition does not guarantee any (see prefilter.needles).
    needles: frozenset[tuple[str, str]] | None = None


@dataclass
class RuleSet:
    """What loading produced: runnable rules, and every rule that could not be used (with why)."""

    rules: list[CompiledRule] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)
    files: int = 0

    @property
    def loaded(self) -> int:
        return len(self.rules)

    def summary(self) -> dict[str, Any]:
        return {"files": self.files, "loaded": self.loaded, "failed": len(self.failures)}


def rule_files(dirs: Iterable[Path]) -> list[Path]:
    """Every rule file under ``dirs`` (a file may be given directly), sorted for stable output."""
    out: list[Path] = []
    for base in dirs:
        if not base.exists():
            raise CyberError(
                f"rules directory {base} does not exist",
                hint="pass --rules DIR pointing at a Sigma rule set, or set [cyber] rules_dirs in enclave.toml",
            )
        if base.is_file():
            out.append(base)
        else:
            out.extend(sorted(p for p in base.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file()))
    return out


def _str_id(value: Any) -> str:
    return str(value) if value else ""


def _meta(rule: Any, path: Path, kind: str) -> RuleMeta:
    level = getattr(rule, "level", None)
    status = getattr(rule, "status", None)
    return RuleMeta(
        title=str(rule.title or path.stem),
        id=_str_id(rule.id),
        author=str(rule.author or "unknown"),
        level=level.name.lower() if level else "medium",
        tags=tuple(str(t) for t in (rule.tags or ())),
        path=str(path),
        description=str(rule.description or "").strip(),
        status=status.name.lower() if status else "",
        kind=kind,
    )


def _raw_title_id(path: Path) -> tuple[str, str]:
    """Best-effort title/id of a rule file that pySigma refused (for the failure list)."""
    try:
        import yaml

        doc = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
        if isinstance(doc, dict):
            return str(doc.get("title") or path.stem), str(doc.get("id") or "")
    except Exception:  # noqa: S110 - any YAML trouble just means no title to show
        pass
    return path.stem, ""


def _backend() -> Any:
    from sigma.backends.sqlite import sqliteBackend
    from sigma.pipelines.sysmon import sysmon_pipeline
    from sigma.pipelines.windows import windows_logsource_pipeline

    pipeline = sysmon_pipeline() + windows_logsource_pipeline()
    return sqliteBackend(pipeline, timestamp_field="_ts")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


def load_rules(
    dirs: Iterable[Path], progress: Callable[[int, int], None] | None = None, *, cache_dir: Path | None = None
) -> RuleSet:
    """Load and compile every rule under ``dirs``; with ``cache_dir``, reuse an identical earlier compilation."""
    files = rule_files(dirs)
    if cache_dir is None:
        return _compile_files(files, progress)
    from enclave.cyber import rule_cache

    key = rule_cache.cache_key(files)
    cached = rule_cache.load(cache_dir, key)
    if cached is not None:
        if progress:
            progress(cached.loaded, cached.loaded)
        return cached
    result = _compile_files(files, progress)
    rule_cache.save(cache_dir, key, result)
    return result


def _compile_files(files: list[Path], progress: Callable[[int, int], None] | None) -> RuleSet:
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule

    result = RuleSet(files=len(files))
    loaded: list[tuple[Any, Path]] = []
    for path in files:
        try:
            collection = SigmaCollection.from_yaml(
                path.read_text(encoding="utf-8"), collect_errors=True, resolve_references=False
            )
        except Exception as exc:  # pySigma raises many types for malformed YAML/rules
            title, rid = _raw_title_id(path)
            result.failures.append(RuleFailure(str(path), title, rid, _reason(exc)))
            continue
        for error in collection.errors:
            title, rid = _raw_title_id(path)
            result.failures.append(RuleFailure(str(path), title, rid, _reason(error)))
        for rule in collection.rules:
            if getattr(rule, "errors", None):
                result.failures.append(
                    RuleFailure(
                        str(path), str(rule.title), _str_id(rule.id), "; ".join(_reason(e) for e in rule.errors)
                    )
                )
                continue
            loaded.append((rule, path))
    collection = SigmaCollection([r for r, _ in loaded], resolve_references=False)
    kept: list[tuple[Any, Path]] = []
    for rule, path in loaded:
        if isinstance(rule, SigmaCorrelationRule):
            try:
                rule.resolve_rule_references(collection)
            except Exception as exc:  # e.g. a referenced rule that is not in the set
                result.failures.append(RuleFailure(str(path), str(rule.title), _str_id(rule.id), _reason(exc)))
                continue
        kept.append((rule, path))
    loaded = kept
    backend = _backend()
    backend.init_processing_pipeline("zircolite")
    ordered = [x for x in loaded if isinstance(x[0], SigmaRule)] + [
        x for x in loaded if isinstance(x[0], SigmaCorrelationRule)
    ]
    total = len(ordered)
    for index, (rule, path) in enumerate(ordered, start=1):
        if progress and index % 50 == 0:
            progress(index, total)
        try:
            if isinstance(rule, SigmaCorrelationRule):
                compiled = _compile_correlation(backend, rule, path)
            else:
                compiled = _compile_event_rule(backend, rule, path)
        except Exception as exc:
            result.failures.append(RuleFailure(str(path), str(rule.title), _str_id(rule.id), _reason(exc)))
            continue
        if compiled is not None:
            result.rules.append(compiled)
    if progress:
        progress(total, total)
    return result


def _compile_event_rule(backend: Any, rule: Any, path: Path) -> CompiledRule | None:
    outputs = backend.convert_rule(rule, "zircolite")
    logsource = rule.logsource
    if not outputs:
        if getattr(rule, "_backreferences", None):
            return None  # only used inside a correlation (generate: false)
        raise ValueError("conversion produced no query")
    from enclave.cyber.prefilter import rule_needles

    needles = rule_needles(rule)
    wheres: list[str] = []
    channels: set[str] = set()
    event_ids: set[int] = set()
    fields: set[str] = set()
    for out in outputs:
        item = json.loads(out) if isinstance(out, str) else out
        for sql in item["rule"]:
            prefix = sql.find(" WHERE ")
            wheres.append(sql[prefix + len(" WHERE ") :] if prefix >= 0 else sql)
        channels.update(str(c) for c in item.get("channel") or ())
        for eid in item.get("eventid") or ():
            try:
                event_ids.add(int(eid))
            except (TypeError, ValueError):
                pass
        fields.update(item.get("required_fields") or ())
    return CompiledRule(
        meta=_meta(rule, path, "sigma"),
        kind="event",
        where=tuple(wheres),
        product=(logsource.product or None) if logsource else None,
        service=(logsource.service or None) if logsource else None,
        category=(logsource.category or None) if logsource else None,
        channels=tuple(sorted(channels)),
        event_ids=tuple(sorted(event_ids)),
        fields=tuple(sorted(fields)),
        needles=needles,
    )


def _compile_correlation(backend: Any, rule: Any, path: Path) -> CompiledRule:
    outputs = backend.convert_correlation_rule(rule, "zircolite")
    if not outputs:
        raise ValueError("correlation conversion produced no plan")
    item = outputs[0]
    item = json.loads(item) if isinstance(item, str) else item
    plan = item.get("correlation_plan")
    if not plan:
        raise ValueError("the backend returned no correlation plan")
    return CompiledRule(
        meta=_meta(rule, path, "sigma-correlation"),
        kind="correlation",
        plan=plan,
        fields=tuple(item.get("required_fields") or ()),
    )
