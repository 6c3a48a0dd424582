"""``enclave label parse|render|check|policies`` in-process (typer's runner) and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.cli.main import app
from enclave.labels import LabelError, configure, label_from_4774_xml, parse_label, write_4778_binding

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_registry():
    yield
    configure()


def run(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), "label", *args], catch_exceptions=True)


def test_parse_prints_canonical_forms(tmp_path: Path) -> None:
    result = run(tmp_path, "parse", "nato/kfor confidential")
    assert result.exit_code == 0, result.output
    assert "NATO/KFOR CONFIDENTIAL" in result.output
    assert "(NC//REL TO NATO, KFOR)" in result.output
    assert "NATO CONFIDENTIAL (rank 2)" in result.output


def test_parse_json(tmp_path: Path) -> None:
    result = run(tmp_path, "parse", "GEHEIM", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["policy"] == "DEU" and data["banner"] == "GEHEIM" and data["portion"] == "(GEH)"
    assert data["equivalent"] == "NATO SECRET REL TO DEU"
    assert data["releasable_to"] == ["DEU"]


def test_parse_error_is_a_label_error(tmp_path: Path) -> None:
    result = run(tmp_path, "parse", "NATO SECERT")
    assert isinstance(result.exception, LabelError)
    assert result.exception.token == "SECERT" and result.exception.position == 5


def test_render_and_parse_4774(tmp_path: Path) -> None:
    out = tmp_path / "label.xml"
    result = run(tmp_path, "render", "COSMIC TOP SECRET ATOMAL", "--4774", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert label_from_4774_xml(out.read_bytes()) == parse_label("COSMIC TOP SECRET ATOMAL")
    result = run(tmp_path, "parse", "--4774", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["banner"] == "COSMIC TOP SECRET ATOMAL"
    result = run(tmp_path, "render", "--from-4774", str(out), "--lang", "fr")
    assert result.stdout.strip() == "COSMIC TRÈS SECRET ATOMAL"
    result = run(tmp_path, "render", "NATO SECRET REL TO SWE", "--portion")
    assert result.stdout.strip() == "(NS//REL TO SWE)"


def test_parse_4778_binding(tmp_path: Path) -> None:
    path = tmp_path / "doc.4778.xml"
    path.write_bytes(write_4778_binding(parse_label("NATO RESTRICTED"), {"doc.txt": b"hello"}))
    result = run(tmp_path, "parse", "--4778", str(path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["banner"] == "NATO RESTRICTED"
    assert data["bound_objects"][0]["uri"] == "doc.txt"
    assert len(data["bound_objects"][0]["digest"]) == 64


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (
            [
                "--clearance",
                "NATO SECRET",
                "--nationality",
                "DEU",
                "--member",
                "NATO",
                "--holds",
                "ATOMAL",
                "NATO SECRET ATOMAL",
            ],
            0,
            "ALLOWED",
        ),
        (["--clearance", "NATO SECRET", "--nationality", "DEU", "COSMIC TOP SECRET"], 1, "does not dominate"),
        (["--clearance", "NATO SECRET", "--nationality", "DEU", "NATO SECRET ATOMAL"], 1, "not held: ATOMAL"),
        (["--clearance", "NATO SECRET", "--nationality", "UKR", "NATO SECRET"], 1, "not releasable to UKR"),
        (["--clearance", "NATO SECRET", "--nationality", "UKR", "NATO SECRET REL TO UKR"], 0, "ALLOWED"),
        (
            ["--clearance", "NATO SECRET", "--nationality", "DEU", "--ceiling", "NATO RESTRICTED", "NATO CONFIDENTIAL"],
            1,
            "does not dominate",
        ),
    ],
)
def test_check(tmp_path: Path, args: list[str], code: int, words: str) -> None:
    result = run(tmp_path, "check", *args)
    assert result.exit_code == code, result.output
    assert words in " ".join(result.output.split())


def test_check_json(tmp_path: Path) -> None:
    result = run(tmp_path, "check", "--clearance", "NS", "--nationality", "FRA", "--json", "FR SECRET")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["allowed"] is True and data["clearance"]["level_name"] == "NATO SECRET"


def test_site_policy_dirs_from_config(tmp_path: Path) -> None:
    policies = tmp_path / "site-policies"
    policies.mkdir()
    (policies / "acme.toml").write_text(
        '[policy]\nid = "ACME"\nname = "Acme"\n[[level]]\nname = "ACME OPEN"\nabbrev = "AO"\n', encoding="utf-8"
    )
    (tmp_path / "enclave.toml").write_text('[labels]\npolicy_dirs = ["site-policies"]\n', encoding="utf-8")
    result = run(tmp_path, "parse", "ACME OPEN", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["policy"] == "ACME"
    result = run(tmp_path, "policies", "--json")
    assert "ACME" in {p["id"] for p in json.loads(result.stdout)}


def test_real_subprocess(tmp_path: Path) -> None:
    env = {**os.environ, "ENCLAVE_HOME": str(tmp_path)}
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "enclave",
            "label",
            "check",
            "--clearance",
            "NATO SECRET",
            "--nationality",
            "DEU",
            "GEHEIM",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "ALLOWED" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "enclave", "label", "parse", "NATO SECERT"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "SECERT" in bad.stderr and "position 5" in bad.stderr
    assert "Traceback" not in bad.stderr
