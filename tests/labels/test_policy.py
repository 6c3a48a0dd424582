"""Policy files: bundled data, site additions and replacements, malformed files, no equivalence."""

from __future__ import annotations

from pathlib import Path

import pytest

from enclave.labels import (
    Clearance,
    LabelError,
    PolicyError,
    access_decision,
    accessible_label_ids,
    banner_colour,
    can_read,
    configure,
    dominates,
    join,
    parse_label,
    registry,
    render_banner,
)
from enclave.labels.policy import BUNDLED_POLICY_DIR, DATA_DIR

ACME = """
[policy]
id = "ACME"
name = "A site policy without an equivalence table"
style = "nato"
originator = "NLD"

[[level]]
name = "ACME OPEN"
abbrev = "AO"

[[level]]
name = "ACME CLOSED"
abbrev = "AC"

[[category]]
name = "PROJECT X"
type = "restrictive"
min_level = "ACME CLOSED"
"""


def test_bundled_data() -> None:
    reg = registry()
    assert {"NATO", "USA", "GBR", "DEU", "FRA"} <= set(reg.policies)
    assert len(reg.countries) == 249
    assert len(reg.groups["NATO"]) == 32
    nato = reg.policy("NATO")
    assert [lv.abbrev for lv in nato.levels] == ["NU", "NR", "NC", "NS", "CTS"]
    assert nato.restrictive == {"ATOMAL", "BOHEMIA", "BALK", "CRYPTO"}
    assert nato.informative == {"STAFF", "MANAGEMENT", "MEDICAL", "COMMERCIAL", "PERSONAL"}
    names = ["NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET", "COSMIC TOP SECRET"]
    assert [banner_colour(parse_label(n), "css") for n in names] == ["green", "purple", "blue", "red", "orange"]
    assert banner_colour(parse_label("COSMIC TOP SECRET")) == "dark_orange"  # rich has no plain "orange"
    for path in BUNDLED_POLICY_DIR.glob("*.toml"):
        assert path.read_text(encoding="utf-8").strip()
    assert (DATA_DIR / "countries.toml").is_file()


def test_site_policy_is_added(site_policies: Path) -> None:
    (site_policies / "acme.toml").write_text(ACME, encoding="utf-8")
    configure([site_policies])
    label = parse_label("ACME CLOSED PROJECT X")
    assert label.policy == "ACME" and label.restrictive == {"PROJECT X"}
    assert label.releasable_to == {"NLD"}
    assert render_banner(label) == "ACME CLOSED PROJECT X"
    assert parse_label("(AC//PROJECT X)") == label
    reader = Clearance.create(level="ACME CLOSED", nationality="NLD", holds=("PROJECT X",))
    assert can_read(reader, label)
    with pytest.raises(LabelError):
        parse_label("ACME OPEN PROJECT X")  # category below its minimum level


def test_mixed_policies_without_equivalence_fail_closed(site_policies: Path) -> None:
    (site_policies / "acme.toml").write_text(ACME, encoding="utf-8")
    configure([site_policies])
    acme = parse_label("ACME OPEN")
    nato = parse_label("NATO UNCLASSIFIED REL TO NLD")
    nato_reader = Clearance.create(level="COSMIC TOP SECRET", nationality="NLD", memberships=("NATO",))
    with pytest.raises(LabelError, match="no equivalence"):
        can_read(nato_reader, acme)
    with pytest.raises(LabelError, match="no equivalence"):
        access_decision(nato_reader, acme)
    with pytest.raises(LabelError):
        join([acme, nato])
    with pytest.raises(LabelError):
        dominates(acme, nato)
    # bulk filtering excludes what cannot be decided instead of failing the query
    assert accessible_label_ids(nato_reader, {1: acme, 2: nato}) == {2}


def test_site_policy_replaces_bundled(site_policies: Path) -> None:
    text = (BUNDLED_POLICY_DIR / "nato.toml").read_text(encoding="utf-8")
    text = text.replace('colour = "purple"', 'colour = "yellow"', 1)
    text = text.replace(
        'name = "ATOMAL"\ntype = "restrictive"\nmin_level = "NATO CONFIDENTIAL"',
        'name = "ATOMAL"\ntype = "restrictive"\nmin_level = "NATO SECRET"',
    )
    (site_policies / "nato-site.toml").write_text(text, encoding="utf-8")
    configure([site_policies])
    assert banner_colour(parse_label("NATO RESTRICTED"), "css") == "yellow"
    with pytest.raises(LabelError, match="only valid at NATO SECRET"):
        parse_label("NATO CONFIDENTIAL ATOMAL")
    configure()
    assert parse_label("NATO CONFIDENTIAL ATOMAL").restrictive == {"ATOMAL"}


def test_compiled_decisions_follow_reconfiguration(site_policies: Path) -> None:
    geheim = parse_label("GEHEIM")
    reader = Clearance.create(level="NATO SECRET", nationality="DEU", memberships=("NATO",))
    assert can_read(reader, geheim)
    assert accessible_label_ids(reader, {1: geheim}) == {1}  # compiled and cached on the label
    text = (BUNDLED_POLICY_DIR / "deu.toml").read_text(encoding="utf-8")
    text = text.replace(
        'xml = "GEHEIM"\ncolour = "red"\nrich_colour = "red"\nequivalent = "NATO SECRET"',
        'xml = "GEHEIM"\ncolour = "red"\nrich_colour = "red"\nequivalent = "COSMIC TOP SECRET"',
    )
    (site_policies / "deu.toml").write_text(text, encoding="utf-8")
    configure([site_policies])
    assert not can_read(reader, geheim)  # the cached decision data was recomputed
    assert accessible_label_ids(reader, {1: geheim}) == frozenset()


def test_labels_of_a_removed_policy_are_excluded(site_policies: Path) -> None:
    (site_policies / "acme.toml").write_text(ACME, encoding="utf-8")
    configure([site_policies])
    acme = parse_label("ACME OPEN")
    reader = Clearance.create(level="ACME CLOSED", nationality="NLD")
    assert accessible_label_ids(reader, {1: acme}) == {1}
    configure()
    nato_reader = Clearance.create(level="NATO SECRET", nationality="NLD")
    assert accessible_label_ids(nato_reader, {1: acme, 2: parse_label("NATO SECRET")}) == {2}
    with pytest.raises(LabelError, match="unknown security policy"):
        can_read(nato_reader, acme)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[policy\nid = 'X'", "not valid TOML"),
        ("[policy]\nid = 'X'\n", "invalid policy data"),
        ("[other]\nx = 1\n", "no [policy] table"),
        (ACME.replace('min_level = "ACME CLOSED"', 'min_level = "ACME SECRET"'), "min_level"),
        (ACME.replace('name = "ACME OPEN"', 'name = "NATO SECRET"'), "already used"),
        (ACME.replace('originator = "NLD"', 'originator = "XXX"'), "unknown releasability value"),
        (ACME.replace('abbrev = "AO"', 'abbrev = "AO"\nequivalent = "NATO SECRET"'), "no [equivalence]"),
        (ACME + '\n[equivalence]\npolicy = "MARS"\n', "not loaded"),
        (ACME.replace("[policy]", "[policy]\nsurprise = 1"), "surprise"),
    ],
)
def test_malformed_policy_files(site_policies: Path, content: str, message: str) -> None:
    path = site_policies / "bad.toml"
    path.write_text(content, encoding="utf-8")
    before = registry()
    with pytest.raises(PolicyError) as info:
        configure([site_policies])
    assert message in info.value.message
    assert str(site_policies) in info.value.message or "policy" in info.value.message
    assert registry() is before  # a bad file never replaces the working policies


def test_missing_policy_dir() -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        configure(["/nonexistent/enclave-policies"])


def test_level_without_equivalent_is_undecidable(site_policies: Path) -> None:
    partial = ACME.replace("[[level]]", '[equivalence]\npolicy = "NATO"\n\n[[level]]', 1).replace(
        'abbrev = "AO"', 'abbrev = "AO"\nequivalent = "NATO UNCLASSIFIED"'
    )
    (site_policies / "acme.toml").write_text(partial, encoding="utf-8")
    configure([site_policies])
    reader = Clearance.create(level="COSMIC TOP SECRET", nationality="NLD")
    assert can_read(reader, parse_label("ACME OPEN"))  # mapped to NATO UNCLASSIFIED
    closed = parse_label("ACME CLOSED")
    with pytest.raises(LabelError, match="no equivalent NATO level"):
        can_read(reader, closed)
    with pytest.raises(LabelError, match="no equivalent NATO level"):
        join([closed, parse_label("NATO SECRET")])
    assert accessible_label_ids(reader, {1: closed, 2: parse_label("ACME OPEN")}) == {2}


def test_configure_from_settings_checks_system_high(tmp_path: Path) -> None:
    from enclave.config import load_settings
    from enclave.labels import configure_from_settings

    good = load_settings(tmp_path, environ={"ENCLAVE_LABELS__SYSTEM_HIGH": "NATO SECRET"})
    configure_from_settings(good)
    bad = load_settings(tmp_path, environ={"ENCLAVE_LABELS__SYSTEM_HIGH": "NATO SECERT"})
    with pytest.raises(LabelError, match="system_high"):
        configure_from_settings(bad)
    configure()
