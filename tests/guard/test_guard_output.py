"""The output guard (spillage rail) and strip_markings: property-based and adversarial cases."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.guard.markings import find_markings, strip_markings
from enclave.guard.output_guard import BLOCKED_ANSWER, OutputGuard
from enclave.labels import Clearance, LabelError, can_read, parse_label, render_banner, render_portion

MARKINGS = [
    "NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET", "COSMIC TOP SECRET",
    "NATO SECRET ATOMAL", "NATO CONFIDENTIAL REL TO AUS", "SECRET//REL TO USA, GBR", "TOP SECRET", "CONFIDENTIAL",
    "UK OFFICIAL-SENSITIVE", "UK SECRET", "GEHEIM", "STRENG GEHEIM", "VS-NUR FÜR DEN DIENSTGEBRAUCH",
    "FR DIFFUSION RESTREINTE", "FR TRÈS SECRET", "NATO SECRET ATOMAL - STAFF REL TO SWE, FIN",
]  # fmt: skip
LABELS = [parse_label(m) for m in MARKINGS]
CLEARANCES = [
    Clearance.create(level="NATO RESTRICTED", nationality="DEU", memberships=("NATO",)),
    Clearance.create(level="NATO SECRET", nationality="FRA", memberships=("NATO",)),
    Clearance.create(level="COSMIC TOP SECRET", nationality="GBR", memberships=("NATO",), holds=("ATOMAL",)),
]
PROSE = ["the", "brigade", "moved", "north", "secret", "plan", "fuel", "is", "low", "confidential", "report",
         "restricted", "area", "official", "visit", "top", "nato", "meeting"]  # fmt: skip


def _forms(label) -> list[str]:
    return [render_banner(label), render_portion(label), render_banner(label, lang="fr")]


# -- strip_markings ---------------------------------------------------------------------------------
@st.composite
def marked_answers(draw):
    paragraphs = []
    inserted = []
    for _ in range(draw(st.integers(1, 4))):
        words = draw(st.lists(st.sampled_from(PROSE), min_size=1, max_size=12))
        label = draw(st.sampled_from(LABELS))
        form = draw(st.sampled_from(_forms(label)))
        where = draw(st.sampled_from(["start", "inline", "line", "end", "none"]))
        if where == "none":
            paragraphs.append(" ".join(words))
            continue
        inserted.append(form)
        if where == "start":
            paragraphs.append(f"{form} " + " ".join(words))
        elif where == "inline":
            cut = draw(st.integers(0, len(words)))
            paragraphs.append(" ".join([*words[:cut], form, *words[cut:]]))
        elif where == "line":
            paragraphs.append(f"{form}\n" + " ".join(words))
        else:
            paragraphs.append(" ".join(words) + f"\n\n{form}")
    return "\n\n".join(paragraphs), inserted


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marked_answers())
def test_no_parseable_marking_survives_strip_markings(case):
    text, inserted = case
    out = strip_markings(text)
    assert find_markings(out) == []
    for run in re.findall(r"[A-ZÀ-Þ][A-ZÀ-Þ0-9/ ,\-]*[A-ZÀ-Þ0-9]|[A-Z]", out):
        with pytest.raises(LabelError):
            parse_label(run)
    for form in inserted:
        assert form not in out


@settings(max_examples=150, deadline=None)
@given(marked_answers())
def test_strip_markings_keeps_the_prose(case):
    text, _ = case
    prose = re.findall(r"\b[a-z]+\b", text)
    assert re.findall(r"\b[a-z]+\b", strip_markings(text)) == prose


@settings(max_examples=100, deadline=None)
@given(marked_answers())
def test_strip_markings_is_idempotent(case):
    once = strip_markings(case[0])
    assert strip_markings(once) == once


def test_strip_markings_adversarial_cases():
    assert strip_markings("NATO SECRET\n\n(NS) The brigade moved.\n\nNATO SECRET") == "The brigade moved."
    assert strip_markings("**COSMIC TOP SECRET**\n---\nText.") == "Text."
    assert strip_markings("Classification: NATO CONFIDENTIAL\nThe plan.") == "The plan."
    assert strip_markings("NATO NATO SECRET SECRET fuel") == "NATO fuel"
    assert strip_markings("Nato Secret summary") == "summary"
    assert strip_markings("Keep the plan secret and confidential.") == "Keep the plan secret and confidential."
    assert strip_markings("Options (a) and (b) are open.") == "Options (a) and (b) are open."


# -- the output guard -------------------------------------------------------------------------------
NR = CLEARANCES[0]
NS = CLEARANCES[1]


def _check(answer, *, clearance=NS, context=("NATO SECRET",), cited=(1,), provided=(1, 2), refused=False):
    return OutputGuard().check(
        answer, cited=set(cited), provided=set(provided), effective_clearance=clearance,
        context_labels=[parse_label(c) for c in context], refused_request=refused,
    )  # fmt: skip


def test_clean_answer_passes_with_markings_stripped():
    decision = _check("(NS) The brigade moved north [1].\n\nNATO SECRET")
    assert decision.action == "allow" and not decision.blocked
    assert decision.text == "The brigade moved north [1]."
    assert decision.markings == ("(NS)", "NATO SECRET")


def test_marking_above_clearance_blocks():
    decision = _check("This comes from the COSMIC TOP SECRET annex.", clearance=NR, context=("NATO RESTRICTED",))
    assert decision.blocked and decision.reasons == ("marking-above-clearance",)
    assert decision.text == BLOCKED_ANSWER
    assert "above the effective clearance" in decision.reason
    assert "COSMIC TOP SECRET" in decision.details[0]


def test_marking_of_a_restrictive_category_not_held_blocks():
    assert _check("NATO SECRET ATOMAL findings follow.").reasons == ("marking-above-clearance",)


def test_context_above_clearance_blocks():
    decision = _check("Fuel is low [1].", clearance=NR, context=("NATO RESTRICTED", "NATO SECRET"))
    assert decision.reasons == ("context-above-clearance",)


def test_citing_a_source_not_provided_blocks():
    decision = _check("As source 9 says [9].", cited=(1, 9), provided=(1, 2))
    assert decision.reasons == ("uncited-source",) and decision.uncited == (9,)


def test_answer_to_a_refused_request_blocks():
    assert _check("Here is how.", refused=True).reasons == ("refused-request",)


def test_undecidable_label_fails_closed():
    class Broken:
        policy = "NOPE"
        level_name = "UNKNOWN"

    decision = OutputGuard().check(
        "ok", cited=set(), provided=set(), effective_clearance=NS, context_labels=[Broken()], refused_request=False
    )
    assert decision.blocked and decision.reasons == ("context-above-clearance",)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(CLEARANCES),
    st.lists(st.sampled_from(LABELS), min_size=1, max_size=4),
    st.sampled_from(LABELS),
    st.sets(st.integers(1, 6), max_size=4),
    st.sets(st.integers(1, 6), max_size=4),
)
def test_output_guard_blocks_exactly_when_something_is_above_clearance(clearance, context, written, cited, provided):
    """No spillage: allowed => everything in context and every marking written is readable, citations provided."""
    answer = f"Summary of the reports. {render_banner(written)} material follows."
    decision = OutputGuard().check(
        answer, cited=cited, provided=provided, effective_clearance=clearance, context_labels=context,
        refused_request=False,
    )  # fmt: skip
    expected_block = (
        any(not can_read(clearance, label) for label in context)
        or not can_read(clearance, written)
        or bool(cited - provided)
    )
    assert decision.blocked == expected_block
    if not decision.blocked:
        assert find_markings(decision.text) == []
