"""Table tests for every marking form in issue 3, plus adversarial markings that must be refused."""

from __future__ import annotations

import pytest

from enclave.labels import (
    LabelError,
    find_portion_mark,
    parse_label,
    parse_portion,
    registry,
    render_banner,
    render_portion,
)

NATO = registry().groups["NATO"]
FVEY = registry().groups["FVEY"]

# text -> (policy, level_name, restrictive, informative, releasable_to)
CASES = {
    "NATO SECRET": ("NATO", "NATO SECRET", set(), set(), NATO),
    "COSMIC TOP SECRET ATOMAL": ("NATO", "COSMIC TOP SECRET", {"ATOMAL"}, set(), NATO),
    "NATO RESTRICTED Releasable to Sweden, Finland": ("NATO", "NATO RESTRICTED", set(), set(), {"SWE", "FIN"}),
    "NATO UNCLASSIFIED - STAFF": ("NATO", "NATO UNCLASSIFIED", set(), {"STAFF"}, NATO),
    "NATO/KFOR CONFIDENTIAL": ("NATO", "NATO CONFIDENTIAL", set(), set(), NATO | {"KFOR"}),
    "//NS//REL TO USA, GBR, NATO": ("NATO", "NATO SECRET", set(), set(), NATO),
    "SECRET//REL TO USA, FVEY": ("USA", "SECRET", set(), set(), FVEY),
    "(NS)": ("NATO", "NATO SECRET", set(), set(), NATO),
    "(NR)": ("NATO", "NATO RESTRICTED", set(), set(), NATO),
    "(//CTS//BOHEMIA)": ("NATO", "COSMIC TOP SECRET", {"BOHEMIA"}, set(), NATO),
    "(S//REL TO USA, GBR)": ("USA", "SECRET", set(), set(), {"USA", "GBR"}),
    "OFFICIAL-SENSITIVE": ("GBR", "UK OFFICIAL-SENSITIVE", set(), set(), {"GBR"}),
    "GEHEIM": ("DEU", "GEHEIM", set(), set(), {"DEU"}),
    "VS-VERTRAULICH": ("DEU", "VS-VERTRAULICH", set(), set(), {"DEU"}),
    # tolerance: case, spacing, line breaks, accents, French phrases
    "nato   secret": ("NATO", "NATO SECRET", set(), set(), NATO),
    "NATO\nSECRET\n": ("NATO", "NATO SECRET", set(), set(), NATO),
    "Cosmic Top Secret  atomal": ("NATO", "COSMIC TOP SECRET", {"ATOMAL"}, set(), NATO),
    "NATO DIFFUSION RESTREINTE": ("NATO", "NATO RESTRICTED", set(), set(), NATO),
    "COSMIC TRES SECRET": ("NATO", "COSMIC TOP SECRET", set(), set(), NATO),
    "NATO SANS CLASSIFICATION": ("NATO", "NATO UNCLASSIFIED", set(), set(), NATO),
    "nato secret rel to ukr": ("NATO", "NATO SECRET", set(), set(), {"UKR"}),
    "NATO UNCLASSIFIED \u2013 STAFF": ("NATO", "NATO UNCLASSIFIED", set(), {"STAFF"}, NATO),
    "NATO RESTRICTED Releasable to\nSweden,\nFinland": ("NATO", "NATO RESTRICTED", set(), set(), {"SWE", "FIN"}),
    "\uff2e\uff21\uff34\uff2f SECRET": ("NATO", "NATO SECRET", set(), set(), NATO),  # full-width letters
    "NATO SECRET releasable to Sweden and Finland": ("NATO", "NATO SECRET", set(), set(), {"SWE", "FIN"}),
    "NATO CONFIDENTIAL REL TO FVEY": ("NATO", "NATO CONFIDENTIAL", set(), set(), FVEY),
    "NATO/RESOLUTE SUPPORT SECRET": ("NATO", "NATO SECRET", set(), set(), NATO | {"RESOLUTE SUPPORT"}),
    "NATO/EAPC RESTRICTED": ("NATO", "NATO RESTRICTED", set(), set(), NATO | {"EAPC"}),
    "NATO SECRET NOT RELEASABLE": ("NATO", "NATO SECRET", set(), set(), set()),
    "(NS//ATOMAL//REL TO DEU, FRA)": ("NATO", "NATO SECRET", {"ATOMAL"}, set(), {"DEU", "FRA"}),
    "NATO CONFIDENTIAL CRYPTO ATOMAL - MEDICAL": ("NATO", "NATO CONFIDENTIAL", {"CRYPTO", "ATOMAL"}, {"MEDICAL"}, NATO),
    "TOP SECRET//SI/TK//REL TO USA, GBR": ("USA", "TOP SECRET", {"SI", "TK"}, set(), {"USA", "GBR"}),
    "SECRET//NOFORN": ("USA", "SECRET", set(), set(), {"USA"}),
    "SECRET": ("USA", "SECRET", set(), set(), {"USA"}),
    "(U)": ("USA", "UNCLASSIFIED", set(), set(), {"USA"}),
    "SECRET//REL TO GBR": ("USA", "SECRET", set(), set(), {"USA", "GBR"}),  # the originator is always included
    "UK SECRET": ("GBR", "UK SECRET", set(), set(), {"GBR"}),
    "OFFICIAL": ("GBR", "UK OFFICIAL", set(), set(), {"GBR"}),
    "UK OFFICIAL-SENSITIVE REL TO USA": ("GBR", "UK OFFICIAL-SENSITIVE", set(), set(), {"GBR", "USA"}),
    "VS-NUR FÜR DEN DIENSTGEBRAUCH": ("DEU", "VS-NUR FÜR DEN DIENSTGEBRAUCH", set(), set(), {"DEU"}),
    "VS-NfD": ("DEU", "VS-NUR FÜR DEN DIENSTGEBRAUCH", set(), set(), {"DEU"}),
    "STRENG GEHEIM": ("DEU", "STRENG GEHEIM", set(), set(), {"DEU"}),
    "TRÈS SECRET": ("FRA", "FR TRÈS SECRET", set(), set(), {"FRA"}),
    "DIFFUSION RESTREINTE": ("FRA", "FR DIFFUSION RESTREINTE", set(), set(), {"FRA"}),
    "FR SECRET REL TO DEU": ("FRA", "FR SECRET", set(), set(), {"FRA", "DEU"}),
}


@pytest.mark.parametrize("text", list(CASES))
def test_marking_forms(text: str) -> None:
    policy, level_name, restrictive, informative, rel = CASES[text]
    label = parse_label(text)
    assert (label.policy, label.level_name) == (policy, level_name)
    assert label.restrictive == frozenset(restrictive)
    assert label.informative == frozenset(informative)
    assert label.releasable_to == frozenset(rel)
    # canonical forms read back to the same label
    assert parse_label(render_banner(label)) == label
    assert parse_portion(render_portion(label)) == label


CANONICAL = {
    "nato secret": ("NATO SECRET", "(NS)"),
    "COSMIC TOP SECRET ATOMAL": ("COSMIC TOP SECRET ATOMAL", "(CTS//ATOMAL)"),
    "(//CTS//BOHEMIA)": ("COSMIC TOP SECRET BOHEMIA", "(CTS//BOHEMIA)"),
    "NATO UNCLASSIFIED - STAFF": ("NATO UNCLASSIFIED - STAFF", "(NU//STAFF)"),
    "NATO/KFOR CONFIDENTIAL": ("NATO/KFOR CONFIDENTIAL", "(NC//REL TO NATO, KFOR)"),
    "NATO RESTRICTED Releasable to Sweden, Finland": ("NATO RESTRICTED REL TO FIN, SWE", "(NR//REL TO FIN, SWE)"),
    "SECRET//REL TO USA, FVEY": ("SECRET//REL TO USA, FVEY", "(S//REL TO USA, FVEY)"),
    "(S//REL TO GBR, USA)": ("SECRET//REL TO USA, GBR", "(S//REL TO USA, GBR)"),
    "//NS//REL TO USA, GBR, NATO": ("NATO SECRET", "(NS)"),
    "NATO SECRET REL TO USA, CAN, GBR, AUS, NZL": ("NATO SECRET REL TO FVEY", "(NS//REL TO FVEY)"),
    "GEHEIM": ("GEHEIM", "(GEH)"),
}


@pytest.mark.parametrize("text", list(CANONICAL))
def test_canonical_rendering(text: str) -> None:
    banner, portion = CANONICAL[text]
    label = parse_label(text)
    assert render_banner(label) == banner
    assert render_portion(label) == portion


def test_french_banners() -> None:
    assert render_banner(parse_label("NATO RESTRICTED"), "fr") == "NATO DIFFUSION RESTREINTE"
    assert render_banner(parse_label("NATO UNCLASSIFIED"), "fr") == "NATO SANS CLASSIFICATION"
    assert render_banner(parse_label("NATO CONFIDENTIAL"), "fr") == "NATO CONFIDENTIEL"
    assert render_banner(parse_label("COSMIC TOP SECRET ATOMAL"), "fr") == "COSMIC TRÈS SECRET ATOMAL"
    with pytest.raises(LabelError):
        render_banner(parse_label("NATO SECRET"), "de")


# text -> (offending token, position)
ADVERSARIAL = {
    "NATO SECERT": ("SECERT", 5),
    "NATO UNCLASSIFIED ATOMAL": ("ATOMAL", 18),
    "NATO RESTRICTED BOHEMIA": ("BOHEMIA", 16),
    "NATO SECRET REL TO XYZ": ("XYZ", 19),
    "NATO SECRET REL TO USA, XYZ": ("XYZ", 24),
    "NATO SECRET REL TO USA, GBR, ZZZ": ("ZZZ", 29),
    "NATO SECRET NATO CONFIDENTIAL": ("NATO", 12),
    "NATO SECRET ATOMAL FOO": ("FOO", 19),
    "SECRET//REL TO USA//REL TO GBR": ("REL", 20),
    "NATO SECRET NOT RELEASABLE REL TO USA": ("REL", 27),
    "NATO/KFOR SECRET REL TO USA": ("REL", 17),
    "NATO/USA SECRET": ("USA", 5),
    "NATO/KFOR SECERT": ("SECERT", 10),
    "NATO SECRET SI": ("SI", 12),
    "SECRET ATOMAL": ("ATOMAL", 7),
    "NS": ("NS", 0),
    "(NS": ("NS", 1),
    "()": ("(", 0),
    "(NS) extra": ("extra", 5),
    "NATO SECRET; DROP": (";", 11),
    "SECRET NATO": ("NATO", 7),
    "NATO SECRET REL TO": ("TO", 16),
    "TOP SECRET//SI//REL TO USA, NATO SECRET": ("SECRET", 33),
    "UNKNOWN": ("UNKNOWN", 0),
    "//": ("//", 0),
    "(NU//ATOMAL)": ("ATOMAL", 5),
    "NATO S\u0415CRET": ("S\u0415CRET", 5),  # Cyrillic homoglyph
    "NATO SEC\u200bRET": ("\u200b", 8),  # zero-width space
    "NATO SECRET REL TO Narnia": ("Narnia", 19),
    "NATO SECRET REL TO USA AND": ("AND", 23),
}


def test_overlong_input_is_refused() -> None:
    with pytest.raises(LabelError, match="too long"):
        parse_label("NATO SECRET " + "ATOMAL " * 1000)


@pytest.mark.parametrize("text", list(ADVERSARIAL))
def test_adversarial_markings_raise(text: str) -> None:
    token, position = ADVERSARIAL[text]
    with pytest.raises(LabelError) as info:
        parse_label(text)
    err = info.value
    assert err.token == token
    assert err.position == position
    assert repr(token)[1:-1] in err.message


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_marking(text: str) -> None:
    with pytest.raises(LabelError, match="empty"):
        parse_label(text)


def test_misspelling_is_never_guessed_but_hinted() -> None:
    with pytest.raises(LabelError) as info:
        parse_label("NATO SECERT")
    assert info.value.hint and "NATO SECRET" in info.value.hint


def test_parse_portion_only_accepts_portion_marks() -> None:
    assert parse_portion("(NC)").level_name == "NATO CONFIDENTIAL"
    with pytest.raises(LabelError, match="not a portion mark"):
        parse_portion("NATO CONFIDENTIAL")


def test_find_portion_mark() -> None:
    found = find_portion_mark("(NS//ATOMAL) The convoy leaves at dawn.")
    assert found is not None
    label, offset = found
    assert label == parse_label("NATO SECRET ATOMAL")
    assert "(NS//ATOMAL) The convoy leaves at dawn."[offset:] == "The convoy leaves at dawn."
    found = find_portion_mark("(S//REL TO USA, GBR)\nText")
    assert found is not None and found[1] == len("(S//REL TO USA, GBR)\n")
    assert find_portion_mark("(a) first item of a list") is None
    assert find_portion_mark("No mark here (NS) in the middle") is None
    assert find_portion_mark("") is None
    with pytest.raises(LabelError):  # looks like a mark but is invalid: fail closed, never skipped
        find_portion_mark("(NU//ATOMAL) text")
    with pytest.raises(LabelError) as info:
        find_portion_mark("  (NS\u200b) hidden character")
    assert info.value.position == 5
    assert find_portion_mark("(see note; below) text") is None
