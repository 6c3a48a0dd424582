"""Table tests of the access decision, joins across policies, meet and bulk filtering."""

from __future__ import annotations

import pytest

from enclave.labels import (
    Clearance,
    Label,
    LabelError,
    access_decision,
    accessible_label_ids,
    can_read,
    dominates,
    equivalent,
    join,
    meet,
    parse_label,
    registry,
    render_banner,
)

DEU_NS_ATOMAL = Clearance.create(level="NATO SECRET", nationality="DEU", memberships=("NATO",), holds=("ATOMAL",))
UKR_NS = Clearance.create(level="NATO SECRET", nationality="UKR")
USA_TS = Clearance.create(level="TOP SECRET", nationality="USA", memberships=("FVEY", "NATO"), holds=("SI",))
SWE_NC_KFOR = Clearance.create(level="NATO CONFIDENTIAL", nationality="Sweden", memberships=("KFOR", "EU"))

# (clearance, marking, allowed, words expected in the reason)
TABLE = [
    (DEU_NS_ATOMAL, "NATO SECRET", True, "may read"),
    (DEU_NS_ATOMAL, "NATO SECRET ATOMAL", True, "may read"),
    (DEU_NS_ATOMAL, "COSMIC TOP SECRET", False, "does not dominate"),
    (DEU_NS_ATOMAL, "NATO SECRET BOHEMIA", False, "not held: BOHEMIA"),
    (DEU_NS_ATOMAL, "NATO SECRET REL TO UKR", False, "not releasable"),
    (DEU_NS_ATOMAL, "GEHEIM", True, "may read"),
    (DEU_NS_ATOMAL, "STRENG GEHEIM", False, "does not dominate"),
    (DEU_NS_ATOMAL, "SECRET//REL TO USA, DEU", True, "may read"),
    (DEU_NS_ATOMAL, "SECRET//REL TO USA, FVEY", False, "not releasable"),
    (DEU_NS_ATOMAL, "UK SECRET", False, "not releasable"),
    (DEU_NS_ATOMAL, "NATO SECRET NOT RELEASABLE", False, "beyond its originator"),
    # a partner nation never reads a plain NATO label, but reads one released to it
    (UKR_NS, "NATO SECRET", False, "not releasable to UKR"),
    (UKR_NS, "NATO RESTRICTED", False, "not releasable to UKR"),
    (UKR_NS, "NATO SECRET REL TO UKR", True, "may read"),
    (UKR_NS, "NATO SECRET REL TO NATO, UKR", True, "may read"),
    (UKR_NS, "COSMIC TOP SECRET REL TO UKR", False, "does not dominate"),
    (USA_TS, "COSMIC TOP SECRET", True, "may read"),
    (USA_TS, "TOP SECRET//SI//REL TO USA, GBR", True, "may read"),
    (USA_TS, "TOP SECRET//SI/TK", False, "not held: TK"),
    (USA_TS, "GEHEIM", False, "not releasable"),
    (SWE_NC_KFOR, "NATO/KFOR CONFIDENTIAL", True, "may read"),
    (SWE_NC_KFOR, "NATO/KFOR SECRET", False, "does not dominate"),
    (SWE_NC_KFOR, "NATO CONFIDENTIAL REL TO KFOR", True, "may read"),
    (SWE_NC_KFOR, "NATO RESTRICTED Releasable to Sweden, Finland", True, "may read"),
    (SWE_NC_KFOR, "NATO/ISAF RESTRICTED", True, "may read"),  # Sweden is a NATO member nation
]


@pytest.mark.parametrize(("who", "marking", "allowed", "reason"), TABLE)
def test_access_table(who: Clearance, marking: str, allowed: bool, reason: str) -> None:
    label = parse_label(marking)
    decision = access_decision(who, label)
    assert decision.allowed is allowed
    assert bool(decision) is allowed
    assert reason in decision.reason
    assert can_read(who, label) is allowed
    assert dominates(who, label) is allowed


def test_clearance_create_is_strict() -> None:
    with pytest.raises(LabelError):
        Clearance.create(level="NATO SECERT", nationality="DEU")
    with pytest.raises(LabelError):
        Clearance.create(level="NATO SECRET", nationality="XXX")
    with pytest.raises(LabelError):
        Clearance.create(level="NATO SECRET", nationality="NATO")  # a group is not a nationality
    with pytest.raises(LabelError):
        Clearance.create(level="NATO SECRET", nationality="DEU", holds=("SI",))  # a US category
    with pytest.raises(LabelError, match="not a member nation of NATO"):
        Clearance.create(level="NATO SECRET", nationality="UKR", memberships=("NATO",))
    with pytest.raises(LabelError):
        Clearance.create(level="NATO SECRET", nationality="DEU", memberships=("MARS",))


def test_direct_construction_is_validated() -> None:
    with pytest.raises(LabelError):
        Label("NATO", 0, "", frozenset({"ATOMAL"}), frozenset({"NATO"}))  # ATOMAL at NU
    with pytest.raises(LabelError):
        Label("NATO", 3, "NATO CONFIDENTIAL")  # level name does not match the rank
    with pytest.raises(LabelError):
        Label("NATO", 9)
    with pytest.raises(LabelError):
        Label("MARS", 0)
    with pytest.raises(LabelError):
        Label("NATO", 3, "", frozenset(), frozenset({"XYZ"}))
    with pytest.raises(LabelError):
        Label("NATO", 3, "", frozenset({"STAFF"}))  # informative category given as restrictive
    # groups given directly are expanded
    assert Label("NATO", 3, releasable_to=frozenset({"FVEY"})).releasable_to == registry().groups["FVEY"]
    assert Label.create("NATO SECRET") == parse_label("NATO SECRET")


def test_join_high_water_mark() -> None:
    top = join([parse_label("NATO CONFIDENTIAL ATOMAL"), parse_label("NATO SECRET - STAFF")])
    assert render_banner(top) == "NATO SECRET ATOMAL - STAFF"
    # releasability is intersected after tetragraph expansion, then re-collapsed for display
    top = join([parse_label("NATO SECRET"), parse_label("NATO SECRET REL TO FVEY")])
    assert top.releasable_to == {"USA", "CAN", "GBR"}
    assert render_banner(top) == "NATO SECRET REL TO CAN, GBR, USA"
    top = join([parse_label("NATO SECRET REL TO FVEY"), parse_label("NATO SECRET REL TO ACGU, NZL")])
    assert render_banner(top) == "NATO SECRET REL TO FVEY"
    # an empty intersection means no releasability beyond the originator: nobody reads it
    top = join([parse_label("NATO SECRET REL TO SWE"), parse_label("NATO SECRET REL TO FIN")])
    assert top.releasable_to == frozenset()
    assert render_banner(top) == "NATO SECRET NOT RELEASABLE"
    assert not can_read(DEU_NS_ATOMAL, top)


def test_join_across_policies_goes_through_equivalence() -> None:
    top = join([parse_label("GEHEIM"), parse_label("NATO CONFIDENTIAL")])
    assert top == parse_label("NATO SECRET REL TO DEU")
    top = join([parse_label("SECRET//REL TO USA, GBR"), parse_label("UK OFFICIAL-SENSITIVE REL TO USA")])
    assert top == parse_label("NATO SECRET REL TO USA, GBR")
    assert equivalent(parse_label("FR TRÈS SECRET")) == parse_label("COSMIC TOP SECRET REL TO FRA")
    assert equivalent(parse_label("VS-VERTRAULICH")) == parse_label("NATO CONFIDENTIAL REL TO DEU")
    with pytest.raises(LabelError, match="no NATO equivalent"):
        join([parse_label("TOP SECRET//SI"), parse_label("NATO SECRET")])  # SI has no NATO category


def test_meet_session_ceiling() -> None:
    eff = meet(DEU_NS_ATOMAL, parse_label("NATO RESTRICTED"))
    assert eff.level_name == "NATO RESTRICTED"
    assert eff.restrictive == frozenset()
    assert can_read(eff, parse_label("NATO RESTRICTED"))
    assert not can_read(eff, parse_label("NATO CONFIDENTIAL"))
    # under a NATO-wide ceiling, a label releasable only to some nations cannot feed the answer
    assert can_read(DEU_NS_ATOMAL, parse_label("NATO RESTRICTED REL TO DEU, FRA"))
    assert not can_read(eff, parse_label("NATO RESTRICTED REL TO DEU, FRA"))
    # ceiling releasable to Sweden, Finland: everything read must be releasable to both
    eff = meet(DEU_NS_ATOMAL, parse_label("NATO RESTRICTED REL TO NATO, SWE, FIN"))
    assert can_read(eff, parse_label("NATO UNCLASSIFIED"))
    # a ceiling above the clearance does not raise it
    eff = meet(DEU_NS_ATOMAL, parse_label("COSMIC TOP SECRET ATOMAL BOHEMIA"))
    assert eff.level_name == "NATO SECRET" and eff.restrictive == {"ATOMAL"}
    # national ceiling on a NATO clearance goes through the equivalence
    eff = meet(DEU_NS_ATOMAL, parse_label("VS-VERTRAULICH"))
    assert eff.policy == "NATO" and eff.level_name == "NATO CONFIDENTIAL"


def test_accessible_label_ids() -> None:
    table = {
        1: parse_label("NATO SECRET"),
        2: parse_label("COSMIC TOP SECRET"),
        3: parse_label("NATO SECRET ATOMAL"),
        4: parse_label("NATO SECRET BOHEMIA"),
        5: parse_label("NATO SECRET REL TO UKR"),
        6: parse_label("GEHEIM"),
        7: parse_label("UK SECRET"),
        8: parse_label("NATO UNCLASSIFIED"),
    }
    assert accessible_label_ids(DEU_NS_ATOMAL, table) == {1, 3, 6, 8}
    assert accessible_label_ids(UKR_NS, table) == {5}
    assert accessible_label_ids(DEU_NS_ATOMAL, {}) == frozenset()
