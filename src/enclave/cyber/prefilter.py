"""Literal prefiltering: run a rule only on the rows that could possibly match it.

Most Sigma rules can only match if some literal text occurs in some field: ``Image|endswith:
'\\mimikatz.exe'`` needs ``\\mimikatz.exe`` in ``Image``. From the rule's processed condition tree we
derive such a *needle set* -- at least one (field, substring) of it must be present -- soundly:
an AND may use any one of its operands' sets, an OR needs every operand to have one (their union),
a value expanded into variants (``|windash``, ``|base64offset``) is an OR of them, and a NOT or a
regular expression guarantees nothing. A substring search over the partition's
distinct rows (values lower-cased) then finds the candidate rows for each needle, and the rule's
own SQL decides the final match on those candidates only. The prefilter can only widen the
candidate set (Unicode lower-casing folds more than SQLite's ASCII-only LIKE), never drop a match.
"""

from __future__ import annotations

import re
from typing import Any

MIN_NEEDLE = 3  # shorter substrings occur everywhere and would not narrow anything
NON_ASCII = "\x00non-ascii"  # needle: the field holds some non-ASCII character (emoji, homoglyph rules)
_BAREWORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SKIP_FIELDS = {"eventid", "channel", "provider_name"}  # constant within a partition

Needles = frozenset[tuple[str, str]]


def _plain(value: Any) -> str | None:
    """The longest wildcard-free run of a SigmaString, lower-cased (or the non-ASCII marker)."""
    from sigma.types import SigmaString

    if not isinstance(value, SigmaString):
        return None
    best = ""
    for part in value.s:
        if isinstance(part, str) and len(part) > len(best):
            best = part
    if len(best) >= MIN_NEEDLE:
        return best.lower()
    if best and not best.isascii():
        return NON_ASCII
    return None


def _rank(needles: Needles) -> tuple[int, int]:
    """Prefer few needles, then long ones (rarer substrings)."""
    return (len(needles), -min(len(n[1]) for n in needles))


def needles_of(node: Any) -> Needles | None:
    from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR

    if isinstance(node, ConditionFieldEqualsValueExpression):
        field = node.field
        if not field or field.lower() in _SKIP_FIELDS or not _BAREWORD.match(field):
            return None
        from sigma.types import SigmaExpansion

        if isinstance(node.value, SigmaExpansion):  # |windash, |base64offset: any one of the variants
            literals = [_plain(v) for v in node.value.values]
            if not literals or any(lit is None for lit in literals):
                return None
            return frozenset((field, lit) for lit in literals if lit)
        literal = _plain(node.value)
        return frozenset({(field, literal)}) if literal else None
    if isinstance(node, ConditionAND):
        options = [n for n in (needles_of(a) for a in node.args) if n]
        return min(options, key=_rank) if options else None
    if isinstance(node, ConditionOR):
        parts = [needles_of(a) for a in node.args]
        if not parts or any(p is None for p in parts):
            return None
        return frozenset().union(*parts)  # type: ignore[arg-type]
    return None  # NOT, regular expressions, CIDR, numbers, field references, keywords


def rule_needles(rule: Any) -> Needles | None:
    """The needle set of a converted rule (all of its conditions), or None."""
    try:
        conditions = [c.parsed for c in rule.detection.parsed_condition]
    except Exception:  # an unusual rule shape: no prefilter, the rule still runs in full
        return None
    found: set[tuple[str, str]] = set()
    for condition in conditions:
        needles = needles_of(condition)
        if not needles:
            return None
        found |= needles
    return frozenset(found) if found else None
