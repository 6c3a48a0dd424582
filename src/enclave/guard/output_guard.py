"""The output guard: the last check between the model and the reader (the spillage rail).

An answer is blocked when it carries marking text above the effective clearance, when the context
it was generated from holds anything the reader may not see, when it cites a source that was not
provided, or when it answers a request the input guard refused. Otherwise it passes with every
model-written marking stripped (Enclave renders the real marking from the context labels).
Every check fails closed: a label that cannot be decided blocks the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from enclave.guard.markings import MarkingSpan, find_markings, strip_markings
from enclave.labels import Clearance, Label, access_decision, render_banner

BLOCKED_ANSWER = "The answer was withheld by Enclave's output guard."


@dataclass(frozen=True)
class OutputDecision:
    """``text`` is what may be shown: the stripped answer when allowed, a notice when blocked."""

    action: Literal["allow", "block"]
    reasons: tuple[str, ...]  # machine-readable codes: marking-above-clearance, context-above-clearance, ...
    details: tuple[str, ...]  # one human sentence per reason
    text: str
    markings: tuple[str, ...] = ()  # marking texts the model wrote (all stripped)
    uncited: tuple[int, ...] = ()  # cited source numbers that were not provided
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def reason(self) -> str:
        """One human-readable sentence for the reader and the audit trail (empty when allowed)."""
        return "; ".join(self.details)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reasons": list(self.reasons),
            "details": list(self.details),
            "markings": list(self.markings),
            "uncited": list(self.uncited),
        }


def _readable(clearance: Clearance, label: Label) -> tuple[bool, str]:
    try:
        decision = access_decision(clearance, label)
    except Exception as exc:  # undecidable (unknown policy, no equivalence): fail closed
        return False, f"cannot be decided ({getattr(exc, 'message', exc)})"
    return bool(decision.allowed), str(decision.reason)


def _banner(label: Label) -> str:
    try:
        return render_banner(label)
    except Exception:
        return getattr(label, "level_name", "?")


class OutputGuard:
    """Checks one generated answer. Stateless; one instance can serve every request."""

    def check(
        self,
        answer_text: str,
        *,
        cited: set[int] | Iterable[int],
        provided: set[int] | Iterable[int],
        effective_clearance: Clearance,
        context_labels: Iterable[Label],
        refused_request: bool = False,
    ) -> OutputDecision:
        reasons: list[str] = []
        details: list[str] = []
        cited_set, provided_set = set(cited), set(provided)

        if refused_request:
            reasons.append("refused-request")
            details.append("the input guard refused this request, so no generated answer may be shown")

        for label in context_labels:
            ok, why = _readable(effective_clearance, label)
            if not ok:
                reasons.append("context-above-clearance")
                details.append(f"the context held content labelled {_banner(label)} that the reader may not see: {why}")
                break

        spans: list[MarkingSpan] = find_markings(answer_text)
        for span in spans:
            ok, why = _readable(effective_clearance, span.label)
            if not ok:
                reasons.append("marking-above-clearance")
                details.append(f"the answer carries the marking {span.text!r} above the effective clearance: {why}")
                break

        uncited = tuple(sorted(cited_set - provided_set))
        if uncited:
            reasons.append("uncited-source")
            details.append(f"the answer cites source(s) {list(uncited)} that were not provided to the model")

        markings = tuple(s.text for s in spans)
        if reasons:
            return OutputDecision("block", tuple(reasons), tuple(details), BLOCKED_ANSWER, markings, uncited)
        return OutputDecision("allow", (), (), strip_markings(answer_text), markings, ())
