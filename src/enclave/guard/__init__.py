"""Guardrails: the usage policy, input and output guards, and prompt-injection defence.

Public API (see docs/guardrails.md)::

    InputGuard(settings).check(text) -> GuardDecision        # allow | refuse | review, clause, scores
    OutputGuard().check(answer, cited=..., provided=..., effective_clearance=..., context_labels=...,
                        refused_request=...) -> OutputDecision
    strip_markings(text) -> str
    scan_text(text, *, html=None) -> frozenset[str]          # the ingest ``scan`` hook
    scanner_for(settings) -> Callable[[str], frozenset[str]]  # the same, bound to the site's policy
    detect_direct_injection(user_message) -> InjectionFinding
    spotlight(source_text, *, source_id=..., flags=...) -> str, SPOTLIGHT_SYSTEM_NOTE
    load_policy(path=None) / policy_for(settings) -> Policy

Names are imported lazily so that ``import enclave.guard`` stays cheap (no torch, no labels data)
for the commands and ingest paths that need only part of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "GuardError": "enclave.guard.errors",
    "PolicyError": "enclave.guard.errors",
    "Policy": "enclave.guard.policy",
    "load_policy": "enclave.guard.policy",
    "parse_policy": "enclave.guard.policy",
    "policy_for": "enclave.guard.policy",
    "normalise": "enclave.guard.normalise",
    "Normalised": "enclave.guard.normalise",
    "InputGuard": "enclave.guard.input_guard",
    "GuardDecision": "enclave.guard.input_guard",
    "OutputGuard": "enclave.guard.output_guard",
    "OutputDecision": "enclave.guard.output_guard",
    "strip_markings": "enclave.guard.markings",
    "find_markings": "enclave.guard.markings",
    "scan_text": "enclave.guard.injection",
    "scanner_for": "enclave.guard.injection",
    "detect_direct_injection": "enclave.guard.injection",
    "InjectionFinding": "enclave.guard.injection",
    "spotlight": "enclave.guard.injection",
    "presentation": "enclave.guard.injection",
    "hidden_html_text": "enclave.guard.injection",
    "SPOTLIGHT_SYSTEM_NOTE": "enclave.guard.injection",
    "INJECTION_FLAGS": "enclave.guard.injection",
}

__all__ = [
    "INJECTION_FLAGS",
    "SPOTLIGHT_SYSTEM_NOTE",
    "GuardDecision",
    "GuardError",
    "InjectionFinding",
    "InputGuard",
    "Normalised",
    "OutputDecision",
    "OutputGuard",
    "Policy",
    "PolicyError",
    "detect_direct_injection",
    "find_markings",
    "hidden_html_text",
    "load_policy",
    "normalise",
    "parse_policy",
    "policy_for",
    "presentation",
    "scan_text",
    "scanner_for",
    "spotlight",
    "strip_markings",
]

if TYPE_CHECKING:
    from enclave.guard.errors import GuardError, PolicyError
    from enclave.guard.injection import (
        INJECTION_FLAGS,
        SPOTLIGHT_SYSTEM_NOTE,
        InjectionFinding,
        detect_direct_injection,
        hidden_html_text,
        presentation,
        scan_text,
        scanner_for,
        spotlight,
    )
    from enclave.guard.input_guard import GuardDecision, InputGuard
    from enclave.guard.markings import find_markings, strip_markings
    from enclave.guard.normalise import Normalised, normalise
    from enclave.guard.output_guard import OutputDecision, OutputGuard
    from enclave.guard.policy import Policy, load_policy, parse_policy, policy_for


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'enclave.guard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
