"""Shared fixtures for the cyber tests: the pinned SigmaHQ snapshot and sample logs."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SIGMA = Path(__file__).parents[2] / ".." / "shared" / "sigma"
REGRESSION = SIGMA / "regression_data"


def sigma_available() -> bool:
    return (SIGMA / "rules").is_dir() and REGRESSION.is_dir()


needs_sigma = pytest.mark.skipif(not sigma_available(), reason="../shared/sigma (pinned SigmaHQ snapshot) is missing")


@pytest.fixture
def data_dir() -> Path:
    return DATA


def regression_evtx(name: str) -> Path:
    """The regression sample EVTX of the rule file named ``name`` (e.g. 'proc_creation_win_malware_grixba_recon')."""
    found = sorted((REGRESSION).rglob(f"{name}/*.evtx"))
    assert found, f"no regression sample for {name}"
    return found[0]
