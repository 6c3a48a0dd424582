"""The rule layer: compiled policy regexes, with benign idioms rewritten first.

Rules are high-precision evidence ("synthesise ... sarin", "generate a fire mission"); the embedding
classifier handles paraphrase. Benign idioms ("kill the hung process", "strike price") are rewritten
to neutral phrases before either layer looks at the text, so words that merely sound dangerous do not
trip them, while the dangerous remainder of a message is still inspected.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from enclave.guard.policy import Policy, RuleSpec

_FLAGS = re.IGNORECASE | re.DOTALL


@dataclass(frozen=True)
class RuleHit:
    category: str  # a policy category id, or "prompt-injection"
    rule_id: str
    matched: str


@dataclass(frozen=True)
class _Compiled:
    category: str
    rule_id: str
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None

    def search(self, text: str) -> RuleHit | None:
        match = self.pattern.search(text)
        if match is None or (self.unless is not None and self.unless.search(text)):
            return None
        return RuleHit(self.category, self.rule_id, match.group(0)[:200])


def _compile(category: str, spec: RuleSpec) -> _Compiled:
    unless = re.compile(spec.unless, _FLAGS) if spec.unless else None
    return _Compiled(category, spec.id, re.compile(spec.pattern, _FLAGS), unless)


class RuleSet:
    """All rules of one policy, compiled once."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._idioms = [(i.id, re.compile(i.pattern, re.IGNORECASE), i.replace) for i in policy.benign_idioms]
        self._usage = [_compile(cat.id, rule) for cat in policy.categories for rule in cat.rules]
        self._injection = [_compile("prompt-injection", rule) for rule in policy.injection.rules]

    def rewrite_idioms(self, text: str) -> tuple[str, tuple[str, ...]]:
        """Replace benign idioms with neutral phrases; return the text and the idiom ids applied."""
        applied = []
        for idiom_id, pattern, replacement in self._idioms:
            text, count = pattern.subn(replacement, text)
            if count:
                applied.append(idiom_id)
        return text, tuple(applied)

    def usage_hits(self, text: str) -> list[RuleHit]:
        """Usage-policy rule matches (expects idioms already rewritten)."""
        return [hit for rule in self._usage if (hit := rule.search(text)) is not None]

    def injection_hits(self, text: str) -> list[RuleHit]:
        """Prompt-injection rule matches (instructions aimed at the model)."""
        return [hit for rule in self._injection if (hit := rule.search(text)) is not None]


_CACHE: dict[int, tuple[Policy, RuleSet]] = {}
_LOCK = threading.Lock()


def rules_for(policy: Policy) -> RuleSet:
    """The compiled rule set of a policy (policies are immutable, so one compile per object)."""
    with _LOCK:
        cached = _CACHE.get(id(policy))
        if cached is None or cached[0] is not policy:
            if len(_CACHE) > 16:
                _CACHE.clear()
            cached = (policy, RuleSet(policy))
            _CACHE[id(policy)] = cached
        return cached[1]
