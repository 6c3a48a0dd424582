"""Hypothesis strategies for labels and clearances over the bundled policies."""

from __future__ import annotations

from hypothesis import strategies as st

from enclave.labels import Clearance, Label, registry

REG = registry()
ALL_POLICIES = sorted(REG.policies)
# Policies whose categories all exist in NATO, so mixed joins are defined.
JOINABLE = ["NATO", "DEU", "FRA", "GBR"]
NATO_MEMBERS = sorted(REG.groups["NATO"])
PARTNERS = ["UKR", "AUS", "NZL", "JPN", "AUT", "CHE", "IRL", "KOR", "GEO", "MDA"]
VALUE_POOL = [*NATO_MEMBERS, *PARTNERS, "NATO", "FVEY", "ACGU", "EU", "KFOR", "ISAF", "EAPC", "PFP", "RESOLUTE SUPPORT"]
NATIONS = NATO_MEMBERS + PARTNERS
# Few nations and values, so that generated clearances and labels often meet (balanced decisions).
COMMON_NATIONS = ["DEU", "USA", "GBR", "FRA", "UKR", "AUS", "SWE"]
COMMON_VALUES = [*COMMON_NATIONS, "NATO", "FVEY", "EU", "KFOR"]
ORGS = ["KFOR", "ISAF", "EAPC", "PFP", "RESOLUTE SUPPORT"]


@st.composite
def labels(draw, policies: list[str] | None = None) -> Label:
    pid = draw(st.sampled_from(policies or ALL_POLICIES))
    pol = REG.policy(pid)
    level = draw(st.integers(0, len(pol.levels) - 1))
    allowed = sorted(c for c in pol.restrictive if pol.categories[c].min_rank <= level)
    restrictive = draw(st.frozensets(st.sampled_from(allowed), max_size=3)) if allowed else frozenset()
    inf = sorted(pol.informative)
    informative = draw(st.frozensets(st.sampled_from(inf), max_size=2)) if inf else frozenset()
    rel = draw(
        st.one_of(
            st.just(pol.default_releasable_to),
            st.just(frozenset()),
            st.frozensets(st.sampled_from(VALUE_POOL), min_size=1, max_size=6),
            st.frozensets(st.sampled_from(COMMON_VALUES), min_size=1, max_size=4),
        )
    )
    return Label(pid, level, "", restrictive, rel, informative)


@st.composite
def clearances(draw, policies: list[str] | None = None) -> Clearance:
    pid = draw(st.sampled_from(policies or ALL_POLICIES))
    pol = REG.policy(pid)
    level = draw(st.integers(0, len(pol.levels) - 1))
    held = (
        draw(st.one_of(st.just(pol.restrictive), st.frozensets(st.sampled_from(sorted(pol.restrictive)), max_size=4)))
        if pol.restrictive
        else frozenset()
    )
    nationality = draw(st.one_of(st.sampled_from(COMMON_NATIONS), st.sampled_from(NATIONS)))
    groups = [g for g, members in REG.groups.items() if nationality in members]
    memberships = draw(st.frozensets(st.sampled_from(groups + ORGS), max_size=3))
    return Clearance(pid, level, held, nationality, memberships)


@st.composite
def wider_clearance(draw, c: Clearance) -> Clearance:
    """A clearance for the same person with at least the rights of ``c``."""
    pol = REG.policy(c.policy)
    level = draw(st.integers(c.level, len(pol.levels) - 1))
    held = (
        c.restrictive | draw(st.frozensets(st.sampled_from(sorted(pol.restrictive)), max_size=3))
        if pol.restrictive
        else c.restrictive
    )
    groups = [g for g, members in REG.groups.items() if c.nationality in members]
    memberships = c.memberships | draw(st.frozensets(st.sampled_from(groups + ORGS), max_size=3))
    must = frozenset(v for v in c.must_release_to if draw(st.booleans()))
    return Clearance(c.policy, level, held, c.nationality, memberships, "", must)


@st.composite
def higher_label(draw, lab: Label) -> Label:
    """A label that dominates ``lab`` (same policy): higher level, more categories, narrower releasability."""
    pol = REG.policy(lab.policy)
    level = draw(st.integers(lab.level, len(pol.levels) - 1))
    allowed = sorted(c for c in pol.restrictive if pol.categories[c].min_rank <= level)
    restrictive = lab.restrictive | (
        draw(st.frozensets(st.sampled_from(allowed), max_size=2)) if allowed else frozenset()
    )
    inf = sorted(pol.informative)
    informative = lab.informative | (draw(st.frozensets(st.sampled_from(inf), max_size=2)) if inf else frozenset())
    rel = frozenset(v for v in sorted(lab.releasable_to) if draw(st.booleans()))
    return Label(lab.policy, level, "", restrictive, rel, informative)
