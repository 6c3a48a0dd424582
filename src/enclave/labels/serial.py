"""Stable serialisations: interning keys for the store and JSON-ready dicts."""

from __future__ import annotations

from typing import Any

from enclave.labels.errors import LabelError
from enclave.labels.markings import render_banner, render_portion
from enclave.labels.model import Clearance, Label
from enclave.labels.policy import registry

_INTERNED: dict[Label, Label] = {}
_INTERN_LIMIT = 500_000


def intern_label(label: Label) -> Label:
    """The shared instance equal to ``label``, so its compiled decision data is computed only once.

    ``label_from_dict`` interns, so labels re-read from a store keep their precomputed masks.
    """
    found = _INTERNED.get(label)
    if found is not None:
        return found
    if len(_INTERNED) < _INTERN_LIMIT:
        _INTERNED[label] = label
    return label


def label_key(label: Label) -> str:
    """Canonical string for interning (equal labels <=> equal keys).

    Built from names, not ranks, so it survives a policy file that inserts a level.
    """
    return "|".join(
        (
            label.policy,
            label.level_name,
            "r=" + ",".join(sorted(label.restrictive)),
            "i=" + ",".join(sorted(label.informative)),
            "rel=" + ",".join(sorted(label.releasable_to)),
        )
    )


def label_to_dict(label: Label) -> dict[str, Any]:
    """JSON form: the structured fields plus the canonical markings and display releasability."""
    pol = registry().policy(label.policy)
    return {
        "policy": label.policy,
        "level": label.level,
        "level_name": label.level_name,
        "restrictive": sorted(label.restrictive),
        "informative": sorted(label.informative),
        "releasable_to": sorted(label.releasable_to),
        "releasable_to_display": registry().collapse(label.releasable_to, first=pol.originator),
        "banner": render_banner(label),
        "portion": render_portion(label),
    }


def _need(d: dict[str, Any], key: str, kind: type) -> Any:
    value = d.get(key)
    if not isinstance(value, kind):
        raise LabelError(f"label data: {key!r} must be a {kind.__name__}, got {value!r}", token=key)
    return value


def _strings(d: dict[str, Any], key: str) -> frozenset[str]:
    values = d.get(key, [])
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise LabelError(f"label data: {key!r} must be a list of strings, got {values!r}", token=key)
    return frozenset(values)


def label_from_dict(d: dict[str, Any]) -> Label:
    """Inverse of ``label_to_dict`` (display fields are ignored; the level name is checked)."""
    if not isinstance(d, dict):
        raise LabelError(f"label data must be an object, got {type(d).__name__}")
    policy = _need(d, "policy", str)
    pol = registry().policy(policy)
    name = d.get("level_name")
    level = d.get("level")
    if isinstance(name, str):  # the name is authoritative: it survives a policy file that inserts a level
        found = pol.level_by_name(name)
        if found is None:
            raise LabelError(f"label data: {name!r} is not a level of {policy}", token=name)
        level = found.rank
    if not isinstance(level, int) or isinstance(level, bool):
        raise LabelError(f"label data: 'level' must be an integer, got {level!r}")
    if "releasable_to" not in d:
        raise LabelError("label data: 'releasable_to' is missing")
    return intern_label(
        Label(
            policy,
            level,
            name if isinstance(name, str) else "",
            _strings(d, "restrictive"),
            _strings(d, "releasable_to"),
            _strings(d, "informative"),
        )
    )


def clearance_to_dict(clearance: Clearance) -> dict[str, Any]:
    return {
        "policy": clearance.policy,
        "level": clearance.level,
        "level_name": clearance.level_name,
        "restrictive": sorted(clearance.restrictive),
        "nationality": clearance.nationality,
        "memberships": sorted(clearance.memberships),
        "must_release_to": sorted(clearance.must_release_to),
    }


def clearance_from_dict(d: dict[str, Any]) -> Clearance:
    """Inverse of ``clearance_to_dict``; the level name, when given, is authoritative (as for labels)."""
    if not isinstance(d, dict):
        raise LabelError(f"clearance data must be an object, got {type(d).__name__}")
    policy = _need(d, "policy", str)
    name = d.get("level_name")
    level = d.get("level")
    if isinstance(name, str):
        found = registry().policy(policy).level_by_name(name)
        if found is None:
            raise LabelError(f"clearance data: {name!r} is not a level of {policy}", token=name)
        level = found.rank
    if not isinstance(level, int) or isinstance(level, bool):
        raise LabelError(f"clearance data: 'level' must be an integer, got {level!r}")
    return Clearance(
        policy,
        level,
        _strings(d, "restrictive"),
        _need(d, "nationality", str),
        _strings(d, "memberships"),
        "",
        _strings(d, "must_release_to"),
    )
