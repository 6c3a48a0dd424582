"""Property tests: lattice laws, monotone access decisions, meet, and lossless round trips."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.labels import (
    Label,
    LabelError,
    accessible_label_ids,
    can_read,
    clearance_dominates,
    dominates,
    join,
    label_from_4774_xml,
    label_from_dict,
    label_key,
    label_to_4774_xml,
    label_to_dict,
    meet,
    parse_label,
    parse_portion,
    registry,
    render_banner,
    render_portion,
)
from enclave.labels.tokens import tokenize

from .strategies import JOINABLE, clearances, higher_label, labels, wider_clearance

settings.register_profile("labels", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile("labels")


# --- join: a join-semilattice ------------------------------------------------------------------------


@PROFILE
@given(labels(JOINABLE), labels(JOINABLE))
def test_join_commutative(a, b):
    assert join([a, b]) == join([b, a])


@PROFILE
@given(labels(JOINABLE), labels(JOINABLE), labels(JOINABLE))
def test_join_associative(a, b, c):
    assert join([join([a, b]), c]) == join([a, join([b, c])]) == join([a, b, c])


@PROFILE
@given(labels())
def test_join_idempotent(a):
    assert join([a, a]) == a
    assert join([a]) == a


@PROFILE
@given(st.lists(labels(JOINABLE), min_size=1, max_size=5))
def test_join_dominates_inputs(items):
    top = join(items)
    for item in items:
        assert dominates(top, item)


@PROFILE
@given(labels(["NATO"]), labels(["NATO"]))
def test_join_is_componentwise_and_absorbing(a, b):
    top = join([a, b])
    upper = join([top, a])
    assert upper == top
    assert top.level == max(a.level, b.level)
    assert top.restrictive == a.restrictive | b.restrictive
    assert top.releasable_to == a.releasable_to & b.releasable_to


def test_join_of_nothing_raises():
    with pytest.raises(LabelError):
        join([])


@PROFILE
@given(st.data(), labels())
def test_dominates_is_a_partial_order(data, a):
    b = data.draw(higher_label(a))
    c = data.draw(higher_label(b))
    assert dominates(a, a)
    assert dominates(c, a)  # transitive
    if dominates(a, b):
        assert a == b


# --- access decisions ----------------------------------------------------------------------------------


@PROFILE
@given(st.data(), clearances(), labels())
def test_can_read_monotone_in_clearance(data, c, lab):
    wider = data.draw(wider_clearance(c))
    assert clearance_dominates(wider, c)
    if can_read(c, lab):
        assert can_read(wider, lab)


@PROFILE
@given(st.data(), clearances(), labels())
def test_can_read_antitone_in_label(data, c, lab):
    higher = data.draw(higher_label(lab))
    assert dominates(higher, lab)
    if can_read(c, higher):
        assert can_read(c, lab)


@PROFILE
@given(clearances(), labels())
def test_read_implies_every_rule(c, lab):
    if can_read(c, lab):
        assert lab.restrictive <= c.restrictive
        assert lab.releasable_to & c.values
        assert lab.releasable_to >= c.must_release_to


@PROFILE
@given(clearances(), st.dictionaries(st.integers(0, 10_000), labels(), max_size=30))
def test_accessible_label_ids_matches_can_read(c, table):
    expected = frozenset(i for i, lab in table.items() if can_read(c, lab))
    assert accessible_label_ids(c, table) == expected


# --- meet (session ceilings) ---------------------------------------------------------------------------


@PROFILE
@given(clearances(JOINABLE), labels(JOINABLE), labels(JOINABLE))
def test_meet_never_exceeds_either_side(c, ceiling, lab):
    eff = meet(c, ceiling)
    if eff.policy == c.policy:
        assert clearance_dominates(c, eff)
        assert eff.level <= c.level
    if eff.policy == ceiling.policy:
        assert eff.level <= ceiling.level
    assert eff.restrictive <= c.restrictive & ceiling.restrictive
    assert eff.memberships <= c.memberships
    if can_read(eff, lab):
        assert can_read(c, lab)  # never more than the person
        reg = registry()
        assert reg.hub_rank(lab.policy, lab.level) <= reg.hub_rank(ceiling.policy, ceiling.level)
        assert lab.restrictive <= ceiling.restrictive
        assert lab.releasable_to >= ceiling.releasable_to


@PROFILE
@given(clearances(["NATO"]), labels(["NATO"]), st.lists(labels(["NATO"]), min_size=1, max_size=5))
def test_answer_under_ceiling_stays_within_ceiling(c, ceiling, context):
    eff = meet(c, ceiling)
    pol = registry().policy("NATO")
    # Bend each context label into one the effective clearance can read, then keep what it can read.
    bent = []
    for lab in context:
        level = min(lab.level, eff.level)
        restrictive = frozenset(r for r in lab.restrictive & eff.restrictive if pol.categories[r].min_rank <= level)
        rel = lab.releasable_to | ceiling.releasable_to | {c.nationality}
        bent.append(Label("NATO", level, "", restrictive, rel, lab.informative))
    readable = [lab for lab in [*context, *bent] if can_read(eff, lab)]
    assert len(readable) >= len(bent)
    answer = join(readable)
    assert answer.level <= ceiling.level
    assert answer.restrictive <= ceiling.restrictive
    assert answer.releasable_to >= ceiling.releasable_to


# --- round trips ---------------------------------------------------------------------------------------


@PROFILE
@given(labels())
def test_banner_round_trip(lab):
    assert parse_label(render_banner(lab)) == lab
    assert parse_label(render_banner(lab, "fr")) == lab


@PROFILE
@given(labels())
def test_portion_round_trip(lab):
    assert parse_portion(render_portion(lab)) == lab
    assert parse_label(render_portion(lab)) == lab


@PROFILE
@given(labels())
def test_4774_round_trip(lab):
    assert label_from_4774_xml(label_to_4774_xml(lab)) == lab


@PROFILE
@given(labels())
def test_dict_round_trip(lab):
    assert label_from_dict(label_to_dict(lab)) == lab


@PROFILE
@given(labels(), labels())
def test_label_key_is_canonical(a, b):
    assert (label_key(a) == label_key(b)) == (a == b)


@PROFILE
@given(labels(), st.randoms(use_true_random=False))
def test_parsing_tolerates_case_and_spacing(lab, rnd: random.Random):
    text = render_banner(lab)
    out = []
    for tok in tokenize(text):
        raw = "".join(ch.lower() if rnd.random() < 0.5 else ch for ch in tok.raw)
        out.append(raw + rnd.choice([" ", "  ", "\n", "\t ", " \r\n"]))
    assert parse_label("".join(out)) == lab


@PROFILE
@given(labels(), st.sampled_from(["FOO", "SECERT", "ATOMALL", "XYZ", "NATOO", "RESTRICTD"]))
def test_unknown_words_are_refused(lab, word):
    text = render_banner(lab)
    with pytest.raises(LabelError) as info:
        parse_label(f"{text} {word}")
    assert info.value.position is not None and info.value.position >= len(text) - len(word)
