"""The input guard: normalisation -> rules -> embedding classifier -> optional LLM self-check.

Every layer inspects every view of the message (canonical text, leetspeak-folded, decoded payloads,
tag-character text) with benign idioms rewritten, and the strictest finding wins. The decision
carries the scores of every layer that ran and the layer that decided, so a refusal can be audited
and explained ("refused under EP-2, targeting and engagement").
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from enclave.guard.classifier import ExemplarClassifier, ViewScores, classifier_for
from enclave.guard.errors import GuardError
from enclave.guard.llm_check import SelfCheck, llm_self_check
from enclave.guard.normalise import normalise
from enclave.guard.policy import Policy, load_policy, policy_for
from enclave.guard.rules import rules_for

if TYPE_CHECKING:
    from enclave.config import Settings
    from enclave.embed import Embedder
    from enclave.engines.base import Engine

Action = Literal["allow", "refuse", "review"]
Layer = Literal["normalisation", "rules", "classifier", "llm"]
_STRICTNESS = {"allow": 0, "review": 1, "refuse": 2}
MAX_WINDOW_CHARS = 600  # MiniLM reads ~256 tokens; longer messages are embedded in sentence windows
WINDOW_CHARS = 200  # small windows, so one harmful sentence is not diluted by pages of benign text
MAX_WINDOWS = 64  # distinct windows embedded per view; past that only the rules see the rest
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True)
class GuardDecision:
    """What the input guard decided and why. ``to_dict`` is what goes to the audit trail."""

    action: Action
    category: str | None  # policy category id, "prompt-injection" or "obfuscation"; None when allowed
    clause: str | None  # the policy clause cited (e.g. "EP-2")
    reason: str
    deciding_layer: Layer
    scores: dict[str, float]
    normalised_text: str
    flags: frozenset[str] = frozenset()
    rule_hits: tuple[str, ...] = ()  # "category/rule-id"
    idioms: tuple[str, ...] = ()  # benign idioms rewritten before inspection
    context: str | None = None  # nearest allowed mission context
    latency_ms: float = 0.0
    policy: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.action == "allow"

    @property
    def refused(self) -> bool:
        return self.action == "refuse"

    def message(self) -> str:
        """The user-facing text of a refusal or hold (empty when allowed)."""
        if self.action == "allow":
            return ""
        verb = "refused" if self.action == "refuse" else "held for human review"
        return f"This request was {verb} under usage-policy clause {self.clause}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """The audit record. It carries no text of the request (``[audit] hash_questions`` must hold):
        ``normalised_text`` and ``extra`` (matched snippet, LLM reply) stay on the object."""
        return {
            "action": self.action,
            "category": self.category,
            "clause": self.clause,
            "reason": self.reason,
            "deciding_layer": self.deciding_layer,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "flags": sorted(self.flags),
            "rule_hits": list(self.rule_hits),
            "idioms": list(self.idioms),
            "context": self.context,
            "latency_ms": round(self.latency_ms, 2),
            "policy": self.policy,
        }


def _windows(text: str) -> list[str]:
    """The text itself when short, else sentence groups of about ``WINDOW_CHARS`` characters."""
    if len(text) <= MAX_WINDOW_CHARS:
        return [text]
    windows: list[str] = []
    current = ""
    for sentence in _SENTENCE.split(text):
        while len(sentence) > WINDOW_CHARS:  # a run-on "sentence": cut it
            windows.append(sentence[:WINDOW_CHARS])
            sentence = sentence[WINDOW_CHARS - 50 :]
        if current and len(current) + len(sentence) + 1 > WINDOW_CHARS:
            windows.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    if current:
        windows.append(current)
    return list(dict.fromkeys(windows))[:MAX_WINDOWS]


class InputGuard:
    """Checks a user's request against the usage policy. Thread-safe; build once and reuse.

    ``embedder``/``engine`` default to the shared ones for ``settings``; tests may inject fakes.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        policy: Policy | None = None,
        embedder: Embedder | None = None,
        engine: Engine | None = None,
        llm_self_check: bool | None = None,
        classifier: bool | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy or (policy_for(settings) if settings is not None else load_policy())
        self.rules = rules_for(self.policy)
        use_classifier = self.policy.classifier.enabled if classifier is None else classifier
        self._embedder = embedder
        self._classifier: ExemplarClassifier | None = None
        self._want_classifier = use_classifier
        self.use_llm = (
            bool(settings.guard.llm_self_check) if llm_self_check is None and settings else bool(llm_self_check)
        )
        self._engine = engine
        if self._want_classifier and embedder is None and settings is None:
            raise GuardError(
                "the input guard's classifier needs settings (for the embedding model) or an embedder",
                hint="pass InputGuard(settings) or InputGuard(embedder=...), or classifier=False",
            )

    # -- lazily built heavy parts --------------------------------------------------------------
    @property
    def classifier(self) -> ExemplarClassifier | None:
        if not self._want_classifier:
            return None
        if self._classifier is None:
            embedder = self._embedder
            if embedder is None:
                from enclave.embed import load_embedder

                assert self.settings is not None
                embedder = load_embedder(self.settings)
            cache = (
                self.settings.in_home("cache") if self.settings is not None and self.settings.home.is_dir() else None
            )
            self._classifier = classifier_for(self.policy, embedder, cache)
        return self._classifier

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from enclave.engines import create_engine

            if self.settings is None:
                raise GuardError("the LLM self-check needs settings to create the engine")
            self._engine = create_engine(self.settings)
        return self._engine

    def warm_up(self) -> None:
        """Load the embedder and embed the exemplars now rather than on the first request."""
        if self.classifier is not None:
            self.classifier.score(["warm up"])

    # -- the check ----------------------------------------------------------------------------
    def check(self, text: str) -> GuardDecision:
        """Decide allow / refuse / review for one user message (``GuardError`` if it is not text)."""
        start = time.perf_counter()
        if not isinstance(text, str):
            raise GuardError(f"the input guard expects text, got {type(text).__name__}")
        decision = self._check(text)
        elapsed = (time.perf_counter() - start) * 1000
        return _with(decision, latency_ms=elapsed)

    def _check(self, text: str) -> GuardDecision:
        pol = self.policy
        norm = normalise(text)
        rewritten = [self.rules.rewrite_idioms(view) for view in norm.all_texts()]
        views = [t for t, _ in rewritten]
        idioms = tuple(sorted({i for _, ids in rewritten for i in ids}))
        base: dict[str, Any] = {
            "normalised_text": norm.text,
            "flags": norm.flags,
            "idioms": idioms,
            "policy": pol.name,
            "scores": {},
        }
        if not norm.text.strip() and len(views) == 1:
            return GuardDecision("allow", None, None, "empty message", "normalisation", **base)

        # rules: prompt injection first (it targets the guard itself), then the usage categories
        injection_hits = [h for v in views for h in self.rules.injection_hits(v)]
        usage_hits = [h for v in views for h in self.rules.usage_hits(v)]
        hits = tuple(dict.fromkeys(f"{h.category}/{h.rule_id}" for h in injection_hits + usage_hits))
        base["rule_hits"] = hits
        base["scores"] = {"rules.matches": float(len(hits))}
        if usage_hits:
            first = usage_hits[0]
            cat = pol.category(first.category)
            return GuardDecision(
                cat.action, cat.id, cat.clause, f"{cat.title}: {cat.definition}", "rules",
                extra={"matched": first.matched}, **base,
            )  # fmt: skip
        if injection_hits:
            return GuardDecision(
                pol.injection.action, "prompt-injection", pol.injection.clause,
                f"{pol.injection.title}: {pol.injection.definition}", "rules",
                extra={"matched": injection_hits[0].matched}, **base,
            )  # fmt: skip

        decision: GuardDecision | None = None
        context: str | None = None
        clf = self.classifier
        if clf is not None:
            embed_views = [w for v in views for w in _windows(v)]
            scored = clf.score(embed_views)
            decision, context, scores = self._classify(scored, base)
            base["scores"] = {**base["scores"], **scores}
            base["context"] = context
        if decision is None and {"bidi-control", "tag-chars"} & norm.flags and pol.obfuscation.action != "allow":
            decision = GuardDecision(
                pol.obfuscation.action, "obfuscation", pol.obfuscation.clause,
                "the message hides text from a human reader (bidirectional overrides or tag characters)",
                "normalisation", **base,
            )  # fmt: skip
        if decision is None:
            decision = GuardDecision("allow", None, None, "no policy category matched",
                                     "classifier" if clf is not None else "rules", **base)  # fmt: skip
        if self.use_llm and decision.action != "refuse":
            decision = self._llm(norm.text, decision)
        return decision

    def _classify(
        self, scored: list[ViewScores], base: dict[str, Any]
    ) -> tuple[GuardDecision | None, str | None, dict[str, float]]:
        pol = self.policy
        spec = pol.classifier

        def level(view: ViewScores) -> int:
            harm_score, margin = view.top_category[1], view.margin
            if harm_score >= spec.refuse and margin >= spec.margin:
                return 2
            return 1 if harm_score >= spec.review and margin >= spec.review_margin else 0

        # the strictest view decides (ties: the one most harmful relative to its best allowed context)
        worst = max(scored, key=lambda s: (level(s), s.margin))
        cat_id, harm = worst.top_category
        ctx_id, allowed = worst.top_context
        scores = {f"classifier.{k}": v for k, v in worst.harmful.items()}
        scores["classifier.allowed"] = allowed
        scores["classifier.margin"] = worst.margin
        injection = max(s.injection for s in scored)
        if pol.injection.examples:
            scores["classifier.injection"] = injection
        fields = {**base, "scores": {**base["scores"], **scores}, "context": ctx_id}
        cat = pol.category(cat_id)
        reason = f"{cat.title}: {cat.definition}"
        if harm >= spec.refuse and worst.margin >= spec.margin:
            return GuardDecision(cat.action, cat.id, cat.clause, reason, "classifier", **fields), ctx_id, scores
        if harm >= spec.review and worst.margin >= spec.review_margin:
            return GuardDecision("review", cat.id, cat.clause, reason, "classifier", **fields), ctx_id, scores
        if pol.injection.examples and injection >= pol.injection.similarity:
            return (
                GuardDecision(pol.injection.action, "prompt-injection", pol.injection.clause,
                              f"{pol.injection.title}: {pol.injection.definition}", "classifier", **fields),
                ctx_id, scores,
            )  # fmt: skip
        return None, ctx_id, scores

    def _llm(self, text: str, decision: GuardDecision) -> GuardDecision:
        try:
            verdict: SelfCheck = llm_self_check(self.engine, self.policy, text)
        except Exception as exc:  # the self-check is an extra layer: its failure holds the request
            return _with(decision, action="review" if decision.action == "allow" else decision.action,
                         deciding_layer="llm", category=decision.category or "llm-unavailable",
                         clause=decision.clause or "EP-0",
                         reason=f"the LLM self-check failed ({exc}); held for review",
                         scores={**decision.scores, "llm.unsafe": -1.0})  # fmt: skip
        scores = {**decision.scores, "llm.unsafe": 1.0 if verdict.verdict == "unsafe" else 0.0}
        if verdict.verdict != "unsafe":
            return _with(decision, scores=scores, extra={**decision.extra, "llm": verdict.raw[:200]})
        action: Action = "refuse" if decision.action == "review" else "review"
        cat_id = decision.category
        if cat_id is None or cat_id not in {c.id for c in self.policy.categories}:
            by_clause = {c.clause: c.id for c in self.policy.categories}
            cat_id = by_clause.get(verdict.clause or "", self.policy.categories[0].id)
        cat = self.policy.category(cat_id)
        return _with(decision, action=action, category=cat.id, clause=cat.clause,
                     reason=f"{cat.title}: {cat.definition} (LLM self-check)", deciding_layer="llm",
                     scores=scores, extra={**decision.extra, "llm": verdict.raw[:200]})  # fmt: skip


def _with(decision: GuardDecision, **changes: Any) -> GuardDecision:
    return replace(decision, **changes)
