"""Immutable ``Label`` and ``Clearance``: validated against the policy on construction.

A Label that exists is a valid label: known policy and level, categories of that policy at a level
where they are allowed, releasability expanded to nations/organisations. Constructing an invalid one
raises ``LabelError``, so no other module can smuggle an impossible marking through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from enclave.labels.errors import LabelError
from enclave.labels.policy import Policy, registry


def _frozen(values: Iterable[str] | None) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str):
        return frozenset((values,))
    return frozenset(values)


def _check_level(policy: Policy, level: int, level_name: str | None, what: str) -> str:
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level < len(policy.levels):
        raise LabelError(f"{what}: level {level!r} is not a level of policy {policy.id}")
    expected = policy.levels[level].name
    if level_name is not None and level_name != expected:
        raise LabelError(f"{what}: level {level} of {policy.id} is {expected!r}, not {level_name!r}")
    return expected


@dataclass(frozen=True, slots=True)
class Label:
    """A security label: policy, level, restrictive/informative categories, releasability.

    ``releasable_to`` is always expanded (group names become member nations); an empty set means no
    releasability beyond the originator. Equal labels compare and hash equal.
    """

    policy: str
    level: int
    level_name: str = ""
    restrictive: frozenset[str] = frozenset()
    releasable_to: frozenset[str] = frozenset()
    informative: frozenset[str] = frozenset()
    _compiled: Any = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        reg = registry()
        pol = reg.policy(self.policy)
        name = _check_level(pol, self.level, self.level_name or None, "label")
        restrictive = _frozen(self.restrictive)
        informative = _frozen(self.informative)
        for cat in restrictive | informative:
            spec = pol.categories.get(cat)
            if spec is None:
                raise LabelError(
                    f"category {cat!r} is not defined by policy {pol.id}",
                    hint=f"{pol.id} categories: {', '.join(sorted(pol.categories)) or 'none'}",
                    token=cat,
                )
            wanted = restrictive if spec.kind == "restrictive" else informative
            if cat not in wanted:
                raise LabelError(f"category {cat!r} of {pol.id} is {spec.kind}, not where it was given", token=cat)
            if self.level < spec.min_rank:
                raise LabelError(
                    f"{cat} is only valid at {pol.levels[spec.min_rank].name} and above, not at {name}",
                    token=cat,
                )
        rel = reg.expand(_frozen(self.releasable_to))
        if pol.originator is not None:
            rel = rel | {pol.originator}
        object.__setattr__(self, "level_name", name)
        object.__setattr__(self, "restrictive", restrictive)
        object.__setattr__(self, "informative", informative)
        object.__setattr__(self, "releasable_to", rel)

    @classmethod
    def create(
        cls,
        level: str,
        *,
        restrictive: Iterable[str] = (),
        releasable_to: Iterable[str] | None = None,
        informative: Iterable[str] = (),
        policy: str | None = None,
    ) -> Label:
        """A label from a level phrase ("NATO SECRET"); releasability defaults to the policy's."""
        from enclave.labels.markings import parse_level

        pol_id, rank = parse_level(level, policy=policy)
        pol = registry().policy(pol_id)
        rel = pol.default_releasable_to if releasable_to is None else releasable_to
        return cls(pol_id, rank, "", frozenset(restrictive), frozenset(rel), frozenset(informative))

    def __str__(self) -> str:
        from enclave.labels.markings import render_banner

        return render_banner(self)


@dataclass(frozen=True, slots=True)
class Clearance:
    """What a person (or a session) may read.

    ``must_release_to`` is set by a session ceiling (``meet``): everything read must be releasable to
    all of these values, so an answer can be passed on to the ceiling's audience.
    """

    policy: str
    level: int
    restrictive: frozenset[str] = frozenset()
    nationality: str = ""
    memberships: frozenset[str] = frozenset()
    level_name: str = ""
    must_release_to: frozenset[str] = frozenset()
    _compiled: Any = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        reg = registry()
        pol = reg.policy(self.policy)
        name = _check_level(pol, self.level, self.level_name or None, "clearance")
        held = _frozen(self.restrictive)
        unknown = sorted(held - pol.restrictive)
        if unknown:
            raise LabelError(
                f"clearance holds {', '.join(unknown)}, not restrictive categories of policy {pol.id}",
                hint=f"{pol.id} restrictive categories: {', '.join(sorted(pol.restrictive)) or 'none'}",
                token=unknown[0],
            )
        if self.nationality not in reg.countries:
            raise LabelError(
                f"nationality {self.nationality!r} is not an ISO 3166 alpha-3 country code",
                hint="e.g. DEU, FRA, GBR, USA",
                token=self.nationality,
            )
        members = _frozen(self.memberships)
        for m in members:
            if m in reg.groups:
                if self.nationality not in reg.groups[m]:
                    raise LabelError(
                        f"nationality {self.nationality} is not a member nation of {m}",
                        hint=f"membership {m} follows from nationality; remove it",
                        token=m,
                    )
            elif m not in reg.organisations:
                raise LabelError(
                    f"unknown membership {m!r}",
                    hint="use a group (NATO, FVEY, EU, ...) or organisation (KFOR, ...) from releasability.toml",
                    token=m,
                )
        object.__setattr__(self, "level_name", name)
        object.__setattr__(self, "restrictive", held)
        object.__setattr__(self, "memberships", members)
        object.__setattr__(self, "must_release_to", reg.expand(_frozen(self.must_release_to)))

    @classmethod
    def create(
        cls,
        level: str,
        nationality: str,
        memberships: Iterable[str] = (),
        holds: Iterable[str] = (),
        policy: str | None = None,
    ) -> Clearance:
        """Build from text: ``Clearance.create(level="NATO SECRET", nationality="DEU", holds=("ATOMAL",))``."""
        from enclave.labels.markings import parse_category, parse_level, parse_value

        pol_id, rank = parse_level(level, policy=policy)
        nat = parse_value(nationality)
        if nat not in registry().countries:
            raise LabelError(f"nationality {nationality!r} is not a country", token=nationality)
        return cls(
            pol_id,
            rank,
            frozenset(parse_category(h, pol_id) for h in _frozen(holds)),
            nat,
            frozenset(parse_value(m) for m in _frozen(memberships)),
        )

    @property
    def values(self) -> frozenset[str]:
        """The releasability values this person matches: nationality and memberships."""
        return frozenset({self.nationality}) | self.memberships


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of an access decision and, always, why."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed
