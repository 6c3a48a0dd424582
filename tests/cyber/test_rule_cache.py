"""The compiled-rule cache gives back exactly what compiling gives, and only for the same inputs."""

from __future__ import annotations

import json

from enclave.cyber import rule_cache
from enclave.cyber.sigma_rules import load_rules

from .conftest import SIGMA, needs_sigma
from .test_sigma import CORRELATION, FAILED_LOGON, GOOD, KEYWORDS, _write


def _rules(tmp_path):
    return _write(tmp_path / "r", good=GOOD, base=FAILED_LOGON, corr=CORRELATION, keywords=KEYWORDS)


def test_cached_rule_set_equals_compiled(tmp_path):
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    compiled = load_rules([rules])
    first = load_rules([rules], cache_dir=cache)
    assert len(list(cache.glob("sigma-*.json"))) == 1
    again = load_rules([rules], cache_dir=cache)
    assert first == again == compiled  # rules (SQL, correlation plans, needles), failures and file count
    assert any(r.kind == "correlation" for r in again.rules) and again.failures
    assert oct(next(cache.glob("sigma-*.json")).stat().st_mode & 0o077) == "0o0"


def test_changed_rule_file_is_not_served_from_the_cache(tmp_path):
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    load_rules([rules], cache_dir=cache)
    (rules / "good.yml").write_text(GOOD.replace("whoami.exe", "hostname.exe"))
    changed = load_rules([rules], cache_dir=cache)
    assert any("hostname" in w for r in changed.rules for w in r.where)
    assert len(list(cache.glob("sigma-*.json"))) == 2


def test_unreadable_or_tampered_cache_is_rebuilt(tmp_path):
    rules, cache = _rules(tmp_path), tmp_path / "cache"
    compiled = load_rules([rules], cache_dir=cache)
    path = next(cache.glob("sigma-*.json"))
    path.write_text("{not json")
    assert load_rules([rules], cache_dir=cache) == compiled
    doc = json.loads(path.read_text())
    doc["key"] = "0" * 64  # a file that claims another key is not trusted for this one
    path.write_text(json.dumps(doc))
    assert rule_cache.load(cache, rule_cache.cache_key(sorted(rules.glob("*.yml")))) is None
    assert load_rules([rules], cache_dir=cache) == compiled


def test_unwritable_cache_does_not_fail_the_load(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rules = _rules(tmp_path)
    assert load_rules([rules], cache_dir=blocker / "cache") == load_rules([rules])


@needs_sigma
def test_cache_round_trips_real_rules():
    import tempfile
    from pathlib import Path

    dirs = [SIGMA / "rules" / "windows" / "registry", SIGMA / "rules" / "windows" / "builtin" / "security"]
    with tempfile.TemporaryDirectory() as tmp:
        first = load_rules(dirs, cache_dir=Path(tmp))
        assert load_rules(dirs, cache_dir=Path(tmp)) == first and first.loaded > 300
