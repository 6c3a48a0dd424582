"""Access decisions and the lattice operations (STANAG 4774 access control, high-water mark).

A clearance reads a label when its level dominates the label's (through the NATO equivalence when the
policies differ), it holds every restrictive category, it shares at least one releasability value
(nationality or membership), and, under a session ceiling, the label is releasable to the ceiling's
whole audience. Anything that cannot be decided raises ``LabelError``; bulk filtering excludes it.

Labels and clearances are compiled once into integers (ranks and bit masks over categories and
releasability values), so the bulk decision is a few integer operations per label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from enclave.labels.errors import LabelError
from enclave.labels.model import Clearance, Decision, Label
from enclave.labels.policy import Registry, registry

# Bit positions for category names and releasability values, shared by every registry (append-only).
_BITS: dict[str, int] = {}


_MASKS: dict[frozenset[str], int] = {}


def _set_mask(values: frozenset[str]) -> int:
    """Mask of a frozenset, memoised: many labels share the same releasability or categories."""
    mask = _MASKS.get(values)
    if mask is None:
        mask = _mask(values)
        if len(_MASKS) < 100_000:
            _MASKS[values] = mask
    return mask


def _mask(values: Iterable[str]) -> int:
    mask = 0
    for value in values:
        bit = _BITS.get(value)
        if bit is None:
            bit = _BITS.setdefault(value, len(_BITS))
        mask |= 1 << bit
    return mask


def _compile_label(label: Label, reg: Registry) -> tuple:
    """(generation, policy, rank, hub policy, hub rank or -1, restrictive mask, releasability mask)."""
    compiled = label._compiled
    if compiled is not None and compiled[0] == reg.generation:
        return compiled
    hub_rank = reg.hub_rank(label.policy, label.level)
    compiled = (
        reg.generation,
        label.policy,
        label.level,
        reg.hub_of(label.policy),
        -1 if hub_rank is None else hub_rank,
        _set_mask(frozenset("r:" + c for c in label.restrictive)),
        _set_mask(label.releasable_to),
    )
    object.__setattr__(label, "_compiled", compiled)
    return compiled


def _compile_clearance(clearance: Clearance, reg: Registry) -> tuple:
    """(generation, policy, rank, hub policy, hub rank or -1, held mask, values mask, must mask)."""
    compiled = clearance._compiled
    if compiled is not None and compiled[0] == reg.generation:
        return compiled
    hub_rank = reg.hub_rank(clearance.policy, clearance.level, clearance=True)
    compiled = (
        reg.generation,
        clearance.policy,
        clearance.level,
        reg.hub_of(clearance.policy),
        -1 if hub_rank is None else hub_rank,
        _mask("r:" + c for c in clearance.restrictive),
        _mask(clearance.values),
        _mask(clearance.must_release_to),
    )
    object.__setattr__(clearance, "_compiled", compiled)
    return compiled


def _undecidable(clearance: Clearance, label: Label, reg: Registry) -> LabelError:
    if reg.hub_of(clearance.policy) != reg.hub_of(label.policy):
        why = f"policies {clearance.policy} and {label.policy} have no equivalence"
    elif reg.hub_rank(label.policy, label.level) is None:
        why = f"{label.level_name} ({label.policy}) has no equivalent {reg.hub_of(label.policy)} level"
    else:
        why = f"clearance {clearance.level_name} ({clearance.policy}) has no equivalent level"
    return LabelError(
        f"cannot decide access of a {clearance.policy} clearance to a {label.policy} label: {why}",
        hint="add an [equivalence] table to the policy file (docs/labels.md); access is refused meanwhile",
    )


def access_decision(clearance: Clearance, label: Label) -> Decision:
    """The STANAG 4774 decision with its reason. Raises ``LabelError`` when it cannot be decided."""
    reg = registry()
    c = _compile_clearance(clearance, reg)
    lab = _compile_label(label, reg)
    if c[1] == lab[1]:
        have, need = c[2], lab[2]
    elif c[3] == lab[3] and c[4] >= 0 and lab[4] >= 0:
        have, need = c[4], lab[4]
    else:
        raise _undecidable(clearance, label, reg)
    if have < need:
        return Decision(False, f"clearance {clearance.level_name} does not dominate {label.level_name}")
    missing = sorted(label.restrictive - clearance.restrictive)
    if missing:
        return Decision(False, f"restrictive categories not held: {', '.join(missing)}")
    if not label.releasable_to:
        return Decision(False, "the label is not releasable beyond its originator")
    if not (lab[6] & c[6]):
        shown = ", ".join(reg.collapse(label.releasable_to))
        who = ", ".join(sorted(clearance.values))
        return Decision(False, f"not releasable to {who} (releasable to {shown})")
    if lab[6] & c[7] != c[7]:
        missing_rel = ", ".join(reg.collapse(clearance.must_release_to - label.releasable_to))
        return Decision(False, f"session ceiling requires releasability to {missing_rel}")
    return Decision(True, f"{clearance.level_name} clearance ({clearance.nationality}) may read {label.level_name}")


def can_read(clearance: Clearance, label: Label) -> bool:
    """True when the clearance may read the label (``LabelError`` when undecidable: fail closed)."""
    reg = registry()
    c = _compile_clearance(clearance, reg)
    lab = _compile_label(label, reg)
    if c[1] == lab[1]:
        if c[2] < lab[2]:
            return False
    elif c[3] == lab[3] and c[4] >= 0 and lab[4] >= 0:
        if c[4] < lab[4]:
            return False
    else:
        raise _undecidable(clearance, label, reg)
    return not (lab[5] & ~c[5]) and bool(lab[6] & c[6]) and (lab[6] & c[7]) == c[7]


def accessible_label_ids(clearance: Clearance, labels: Mapping[int, Label]) -> frozenset[int]:
    """The interned label ids this clearance may read; a label that cannot be decided is excluded."""
    reg = registry()
    _gen, cpol, crank, chub, chub_rank, held, values, must = _compile_clearance(clearance, reg)
    gen = reg.generation
    out = []
    append = out.append
    for label_id, label in labels.items():
        lab = label._compiled
        if lab is None or lab[0] != gen:
            try:
                lab = _compile_label(label, reg)
            except LabelError:
                continue  # e.g. its policy is no longer loaded: undecidable, so excluded
        if lab[1] == cpol:
            if lab[2] > crank:
                continue
        elif lab[3] != chub or lab[4] < 0 or chub_rank < 0 or lab[4] > chub_rank:
            continue
        rel = lab[6]
        if lab[5] & ~held or not rel & values or rel & must != must:
            continue
        append(label_id)
    return frozenset(out)


# ---------------------------------------------------------------------------------------------------
# Lattice


def _to_policy(label: Label, target: str, reg: Registry) -> Label:
    """The same label expressed in ``target`` (its hub) through the equivalence table."""
    if label.policy == target:
        return label
    if reg.hub_of(label.policy) != target:
        raise LabelError(
            f"no equivalence from policy {label.policy} to {target}: {label.level_name} cannot be combined with "
            f"{target} labels",
            hint="add an [equivalence] table to the policy file (docs/labels.md)",
        )
    rank = reg.hub_rank(label.policy, label.level)
    if rank is None:
        raise LabelError(
            f"{label.level_name} ({label.policy}) has no equivalent {target} level",
            hint=f"add `equivalent` to the level in {reg.policy(label.policy).source}",
        )
    hub = reg.policy(target)
    foreign = sorted((label.restrictive | label.informative) - set(hub.categories))
    if foreign:
        raise LabelError(
            f"categories {', '.join(foreign)} of {label.policy} have no {target} equivalent",
            token=foreign[0],
        )
    return Label(target, rank, "", label.restrictive, label.releasable_to, label.informative)


def _common_policy(labels: list[Label], reg: Registry) -> str:
    policies = {lab.policy for lab in labels}
    if len(policies) == 1:
        return next(iter(policies))
    hubs = {reg.hub_of(p) for p in policies}
    if len(hubs) != 1:
        raise LabelError(
            f"labels of policies {', '.join(sorted(policies))} have no common equivalence",
            hint="add [equivalence] tables to the policy files (docs/labels.md)",
        )
    return next(iter(hubs))


def dominates(a: Label | Clearance, b: Label) -> bool:
    """``a`` dominates ``b``: level at least as high, a superset of the categories, releasability no wider.

    With a ``Clearance`` as ``a`` this is the access decision.
    """
    if isinstance(a, Clearance):
        return can_read(a, b)
    reg = registry()
    if a.policy != b.policy:
        target = _common_policy([a, b], reg)
        a, b = _to_policy(a, target, reg), _to_policy(b, target, reg)
    return (
        a.level >= b.level
        and a.restrictive >= b.restrictive
        and a.informative >= b.informative
        and a.releasable_to <= b.releasable_to
    )


def join(labels: Iterable[Label]) -> Label:
    """High-water mark: highest level, union of categories, intersection of releasability."""
    items = list(labels)
    if not items:
        raise LabelError("join of no labels is undefined", hint="pass at least one label")
    reg = registry()
    target = _common_policy(items, reg)
    items = [_to_policy(lab, target, reg) for lab in items]
    first = items[0]
    if len(items) == 1:
        return first
    level = max(lab.level for lab in items)
    restrictive = frozenset().union(*(lab.restrictive for lab in items))
    informative = frozenset().union(*(lab.informative for lab in items))
    rel = first.releasable_to.intersection(*(lab.releasable_to for lab in items[1:]))
    return Label(target, level, "", restrictive, rel, informative)


def meet(clearance: Clearance, ceiling: Label) -> Clearance:
    """The effective clearance under a session ceiling; it never exceeds either side.

    Level: the lower of both; restrictive: those held that the ceiling also carries; and everything
    read must be releasable to the ceiling's whole audience (so the answer can be passed on).
    """
    reg = registry()
    if clearance.policy == ceiling.policy:
        policy, level = clearance.policy, min(clearance.level, ceiling.level)
    else:
        hub = reg.hub_of(clearance.policy)
        if reg.hub_of(ceiling.policy) != hub:
            raise LabelError(
                f"a {ceiling.policy} ceiling cannot apply to a {clearance.policy} clearance: no equivalence"
            )
        crank = reg.hub_rank(clearance.policy, clearance.level, clearance=True)
        lrank = reg.hub_rank(ceiling.policy, ceiling.level, clearance=True)
        if crank is None or lrank is None:
            raise LabelError(
                f"no {hub} equivalent for {clearance.level_name if crank is None else ceiling.level_name}",
                hint="add `equivalent` to the level in its policy file",
            )
        policy, level = hub, min(crank, lrank)
    held = clearance.restrictive & ceiling.restrictive & reg.policy(policy).restrictive
    return Clearance(
        policy,
        level,
        held,
        clearance.nationality,
        clearance.memberships,
        "",
        clearance.must_release_to | ceiling.releasable_to,
    )


def clearance_dominates(a: Clearance, b: Clearance) -> bool:
    """``a`` may read at least everything ``b`` may (same person, same or wider rights)."""
    if a.policy != b.policy or a.nationality != b.nationality:
        return False
    return (
        a.level >= b.level
        and a.restrictive >= b.restrictive
        and a.memberships >= b.memberships
        and a.must_release_to <= b.must_release_to
    )
