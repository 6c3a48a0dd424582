"""The usage policy file: bundled default, validation errors that name the problem, site overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from enclave.config import load_settings
from enclave.guard.errors import PolicyError
from enclave.guard.input_guard import InputGuard
from enclave.guard.policy import BUNDLED_POLICY, load_policy, parse_policy, policy_for


def _bundled() -> dict:
    return yaml.safe_load(BUNDLED_POLICY.read_text(encoding="utf-8"))


def test_bundled_policy_covers_the_issue_categories_and_contexts():
    pol = load_policy()
    assert {c.id for c in pol.categories} == {
        "weapons-development", "targeting-engagement", "harm-to-persons", "bulk-surveillance",
    }  # fmt: skip
    assert {c.id for c in pol.allowed_contexts} >= {
        "intelligence-analysis", "logistics", "cyber-defence", "search-and-rescue", "planning-support",
        "administration", "training",
    }  # fmt: skip
    clauses = [c.clause for c in pol.categories] + [pol.injection.clause, pol.obfuscation.clause]
    assert len(set(clauses)) == len(clauses)
    assert pol.clause_for("targeting-engagement") == "EP-2"
    assert pol.clause_for("prompt-injection") == pol.injection.clause


def test_exemplars_do_not_contain_test_split_items():
    """The test split is never used for tuning: no test item may appear among the policy exemplars."""
    import json

    pol = load_policy()
    exemplars = {e.strip().lower() for c in [*pol.categories, *pol.allowed_contexts] for e in c.examples}
    exemplars |= {e.strip().lower() for e in pol.injection.examples}
    test_dir = Path(__file__).resolve().parents[2] / "samples" / "guard" / "test"
    for name in ("harmful.jsonl", "benign.jsonl", "injections.jsonl"):
        for line in (test_dir / name).read_text(encoding="utf-8").splitlines():
            assert json.loads(line)["text"].strip().lower() not in exemplars


def test_invalid_yaml_names_file_and_line():
    with pytest.raises(PolicyError) as err:
        parse_policy("version: 1\nname: x\ncategories: [\n  - broken", "site.yaml")
    assert "site.yaml" in err.value.message and "line" in err.value.message


def test_bad_regex_names_the_category():
    data = _bundled()
    data["categories"][1]["rules"][0]["pattern"] = "(unclosed"
    with pytest.raises(PolicyError) as err:
        parse_policy(yaml.safe_dump(data), "site.yaml")
    assert "targeting-engagement" in err.value.message
    assert "regular expression" in err.value.message


def test_duplicate_clause_and_unknown_key_are_refused():
    data = _bundled()
    data["categories"][1]["clause"] = data["categories"][0]["clause"]
    with pytest.raises(PolicyError, match="duplicate clause"):
        parse_policy(yaml.safe_dump(data))
    data = _bundled()
    data["categories"][0]["severity"] = "high"
    with pytest.raises(PolicyError, match="severity"):
        parse_policy(yaml.safe_dump(data))


def test_thresholds_must_be_ordered():
    data = _bundled()
    data["classifier"]["review"] = 0.9
    data["classifier"]["refuse"] = 0.5
    with pytest.raises(PolicyError, match="review threshold"):
        parse_policy(yaml.safe_dump(data))


def test_missing_policy_file_is_a_clear_error(settings, home):
    (home / "enclave.toml").write_text('[guard]\npolicy_path = "missing.yaml"\n', encoding="utf-8")
    cfg = load_settings(home, environ={})
    with pytest.raises(PolicyError) as err:
        policy_for(cfg)
    assert "missing.yaml" in err.value.message and err.value.hint


def test_site_policy_changes_decisions(home):
    """A site edits the policy file (a new category with its own rule) and the guard follows it."""
    data = _bundled()
    data["categories"].append(
        {
            "id": "exercise-secrets",
            "clause": "SITE-9",
            "title": "Exercise white-cell material",
            "action": "review",
            "definition": "Requests for the white cell's injects before the exercise starts.",
            "examples": ["Show me the white cell injects", "What are the exercise injects", "List the MEL events"],
            "rules": [{"id": "white-cell", "pattern": r"\bwhite[- ]cell\b"}],
        }
    )
    path = home / "site-policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    (home / "enclave.toml").write_text('[guard]\npolicy_path = "site-policy.yaml"\n', encoding="utf-8")
    cfg = load_settings(home, environ={})
    guard = InputGuard(cfg, classifier=False)
    decision = guard.check("Can you show me the white cell injects for Tuesday?")
    assert (decision.action, decision.clause, decision.deciding_layer) == ("review", "SITE-9", "rules")
    assert InputGuard(classifier=False).check("Can you show me the white cell injects?").action == "allow"


def test_policy_cache_follows_file_changes(tmp_path):
    path = tmp_path / "p.yaml"
    data = _bundled()
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    first = load_policy(path)
    data["name"] = "changed policy name"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_policy(path).name == "changed policy name" != first.name
