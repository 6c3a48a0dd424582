"""MITRE ATT&CK tactics in kill-chain order, and helpers to read them from Sigma tags.

The order follows ATT&CK Enterprise (v18 splits Defense Evasion into Stealth and Defense
Impairment; older rule sets still tag ``defense-evasion``, which is kept so that they map too).
"""

from __future__ import annotations

from collections.abc import Iterable

TACTICS: tuple[str, ...] = (
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "stealth",
    "defense-impairment",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
)

TACTIC_NAMES: dict[str, str] = {t: t.replace("-", " ").title().replace("And", "and") for t in TACTICS}


def tactics_of(tags: Iterable[str]) -> list[str]:
    """Tactics named by ``attack.<tactic>`` tags, in kill-chain order."""
    names = {t.split(".", 1)[1] for t in tags if t.startswith("attack.")}
    return [t for t in TACTICS if t in names]


def techniques_of(tags: Iterable[str]) -> list[str]:
    """Technique ids (``T1059.001``) named by ``attack.tNNNN`` tags, sorted."""
    out = {t.split(".", 1)[1].upper() for t in tags if t.startswith("attack.t") and t[8:9].isdigit()}
    return sorted(out)
