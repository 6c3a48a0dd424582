"""A cache of compiled rule sets, so that pySigma's conversion (15 s for SigmaHQ's Windows rules) is paid once.

The key is a SHA-256 over every rule file's path and content, the versions of pySigma, its SQLite
backend and pipelines, and the source of the code that compiles rules here: change any of them and
the cache is simply not found, so a cached rule set is always what compiling again would give. The
file is JSON (never pickle: it is data, and reading it cannot run code), written atomically with
owner-only permissions; one that cannot be read or does not fit the format is ignored and rebuilt.
It belongs in a directory only Enclave's user can write (the home's cache directory), as the
rule directories themselves do: whoever can edit it can change what a scan detects.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from enclave.cyber.model import RuleFailure, RuleMeta

FORMAT = 1
_PACKAGES = ("pySigma", "pySigma-backend-sqlite", "pysigma-pipeline-sysmon", "pysigma-pipeline-windows")
_COMPILER_SOURCES = ("sigma_rules.py", "prefilter.py", "rule_cache.py")


def _versions() -> list[str]:
    out = []
    for name in _PACKAGES:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}==?")
    return out


def cache_key(files: list[Path]) -> str:
    """What a compiled rule set depends on: the rule files, the libraries and the compiling code."""
    digest = hashlib.sha256(json.dumps([FORMAT, _versions()]).encode())
    here = Path(__file__).parent
    for name in _COMPILER_SOURCES:
        digest.update(hashlib.sha256((here / name).read_bytes()).digest())
    for path in files:
        digest.update(str(path).encode("utf-8", "surrogatepass") + b"\x00")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"sigma-{key[:32]}.json"


def load(cache_dir: Path, key: str) -> Any | None:
    """The cached RuleSet for ``key``, or None (missing, unreadable, another key or format)."""
    from enclave.cyber.sigma_rules import CompiledRule, RuleSet

    try:
        doc = json.loads(_path(cache_dir, key).read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or doc.get("key") != key:
            return None
        rules = [
            CompiledRule(
                meta=RuleMeta(**{**r["meta"], "tags": tuple(r["meta"]["tags"])}),
                kind=r["kind"],
                where=tuple(r["where"]),
                plan=r["plan"],
                product=r["product"],
                service=r["service"],
                category=r["category"],
                channels=tuple(r["channels"]),
                event_ids=tuple(r["event_ids"]),
                fields=tuple(r["fields"]),
                needles=None if r["needles"] is None else frozenset((f, s) for f, s in r["needles"]),
            )
            for r in doc["rules"]
        ]
        failures = [RuleFailure(**f) for f in doc["failures"]]
        return RuleSet(rules=rules, failures=failures, files=int(doc["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(cache_dir: Path, key: str, ruleset: Any) -> None:
    """Write the cache (best effort: a scan never fails because its cache could not be written)."""
    doc = {
        "format": FORMAT,
        "key": key,
        "files": ruleset.files,
        "failures": [f.to_dict() for f in ruleset.failures],
        "rules": [
            {
                "meta": r.meta.to_dict(),
                "kind": r.kind,
                "where": list(r.where),
                "plan": r.plan,
                "product": r.product,
                "service": r.service,
                "category": r.category,
                "channels": list(r.channels),
                "event_ids": list(r.event_ids),
                "fields": list(r.fields),
                "needles": None if r.needles is None else sorted([f, s] for f, s in r.needles),
            }
            for r in ruleset.rules
        ],
    }
    try:
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".sigma-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle)  # ASCII: a rule's lone surrogates survive as escapes
            os.replace(tmp, _path(cache_dir, key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, TypeError, ValueError):
        return
