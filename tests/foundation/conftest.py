"""Fixtures for the foundation tests: an isolated home and no ENCLAVE_* variables from the caller."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Path of a not-yet-created ENCLAVE_HOME; ENCLAVE_* overrides from the environment are removed."""
    for name in list(os.environ):
        if name.startswith("ENCLAVE_"):
            monkeypatch.delenv(name)
    root = tmp_path / "home"
    monkeypatch.setenv("ENCLAVE_HOME", str(root))
    return root


@pytest.fixture
def unwritable_home(tmp_path: Path):
    """A home path whose creation fails with a permission error, as root or not."""
    if os.geteuid() != 0:
        parent = tmp_path / "read-only"
        parent.mkdir(mode=0o500)
        yield parent / "home"
        os.chmod(parent, 0o700)
        return
    candidate = Path("/sys/enclave-test-home")  # sysfs refuses mkdir even to root
    try:
        candidate.mkdir()
    except PermissionError:
        yield candidate
        return
    except OSError:
        pass
    else:
        candidate.rmdir()
    pytest.skip("no location here is unwritable for root")


ENCLAVE_BIN = Path(sys.executable).with_name("enclave")


@pytest.fixture
def enclave_cli(home: Path):
    """Run the installed ``enclave`` console script in a subprocess against the test home."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("ENCLAVE_")}
        full_env.update({"ENCLAVE_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1", **(env or {})})
        return subprocess.run(
            [str(ENCLAVE_BIN), *args], env=full_env, capture_output=True, text=True, timeout=120, check=False
        )

    return run


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Non-zero exit, the expected words on stderr, and no Python traceback anywhere."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert "error:" in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
