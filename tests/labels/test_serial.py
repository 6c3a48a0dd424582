"""Interning keys and JSON forms of labels and clearances."""

from __future__ import annotations

import json

import pytest

from enclave.labels import (
    Clearance,
    LabelError,
    clearance_from_dict,
    clearance_to_dict,
    intern_label,
    label_from_dict,
    label_key,
    label_to_dict,
    meet,
    parse_label,
)


def test_label_key_is_stable_and_readable() -> None:
    assert label_key(parse_label("SECRET//REL TO USA, GBR")) == "USA|SECRET|r=|i=|rel=GBR,USA"
    assert label_key(parse_label("NATO SECRET REL TO FVEY")) == label_key(
        parse_label("NATO SECRET REL TO USA, AUS, CAN, GBR, NZL")
    )
    assert label_key(parse_label("NATO SECRET")) != label_key(parse_label("NATO SECRET REL TO USA"))


def test_label_dict_is_json_and_round_trips() -> None:
    label = parse_label("COSMIC TOP SECRET ATOMAL - STAFF REL TO FVEY")
    data = json.loads(json.dumps(label_to_dict(label)))
    assert data["banner"] == "COSMIC TOP SECRET ATOMAL - STAFF REL TO FVEY"
    assert data["releasable_to_display"] == ["FVEY"]
    assert label_from_dict(data) == label
    # the level name is authoritative (a policy file that inserts a level does not shift stored labels)
    assert label_from_dict({**data, "level": 0}) == label


def test_label_from_dict_interns() -> None:
    data = label_to_dict(parse_label("NATO RESTRICTED REL TO SWE"))
    assert label_from_dict(data) is label_from_dict(data)
    label = parse_label("NATO RESTRICTED REL TO FIN")
    assert intern_label(label) is intern_label(parse_label("NATO RESTRICTED REL TO FIN"))


@pytest.mark.parametrize(
    "data",
    [
        [],
        {},
        {"policy": "NATO", "level": "3", "releasable_to": []},
        {"policy": "NATO", "level": 3},
        {"policy": "NATO", "level_name": "NATO SECERT", "releasable_to": []},
        {"policy": "MARS", "level": 0, "releasable_to": []},
        {"policy": "NATO", "level": 3, "releasable_to": "NATO"},
        {"policy": "NATO", "level": 0, "restrictive": ["ATOMAL"], "releasable_to": ["NATO"]},
        {"policy": "NATO", "level": True, "releasable_to": []},
    ],
)
def test_bad_label_dicts(data) -> None:
    with pytest.raises(LabelError):
        label_from_dict(data)


def test_clearance_dict_round_trip() -> None:
    who = Clearance.create(level="NATO SECRET", nationality="DEU", memberships=("NATO", "KFOR"), holds=("ATOMAL",))
    assert clearance_from_dict(json.loads(json.dumps(clearance_to_dict(who)))) == who
    session = meet(who, parse_label("NATO RESTRICTED REL TO NATO, SWE"))
    assert clearance_from_dict(clearance_to_dict(session)) == session
    with pytest.raises(LabelError):
        clearance_from_dict({"policy": "NATO", "level": 3, "nationality": "XXX"})
    with pytest.raises(LabelError):
        clearance_from_dict(
            {"policy": "NATO", "level_name": "NATO SECRET", "nationality": "UKR", "memberships": ["NATO"]}
        )
