"""The Enclave home: created owner-only, idempotent, checked for unsafe permissions and unwritable places."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from enclave.config import load_settings
from enclave.errors import HomeError
from enclave.home import init_home, permission_problems, require_home


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_an_owner_only_home(home: Path):
    settings, created = init_home(home)
    key = settings.in_home(settings.audit.key_path)
    assert created == [str(home), str(home / "enclave.toml"), str(key)]
    assert mode(home) == 0o700
    assert mode(home / "enclave.toml") == 0o600
    assert mode(key) == 0o600 and mode(key.parent) == 0o700
    assert permission_problems(settings) == []
    require_home(settings)  # does not raise


def test_default_config_file_is_valid_and_matches_the_defaults(home: Path):
    settings, _ = init_home(home)
    assert settings == load_settings(Path("/nonexistent-enclave-home"), environ={}).model_copy(update={"home": home})


def test_init_is_idempotent_and_keeps_edits(home: Path):
    init_home(home)
    key_before = (home / "keys" / "audit-ed25519.pem").read_bytes()
    config = home / "enclave.toml"
    config.write_text(config.read_text() + "\n[server]\nport = 9999\n")
    settings, created = init_home(home)
    assert created == []
    assert settings.server.port == 9999
    assert (home / "keys" / "audit-ed25519.pem").read_bytes() == key_before  # never regenerated


def test_force_rewrites_the_config_but_not_the_key(home: Path):
    init_home(home)
    key_before = (home / "keys" / "audit-ed25519.pem").read_bytes()
    (home / "enclave.toml").write_text("[server]\nport = 9999\n")
    settings, created = init_home(home, force=True)
    assert created == [str(home / "enclave.toml")]
    assert settings.server.port == 8080
    assert (home / "keys" / "audit-ed25519.pem").read_bytes() == key_before


def test_init_tightens_an_existing_loose_directory(home: Path):
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    init_home(home)
    assert mode(home) == 0o700


def test_permission_problems_are_reported(home: Path):
    settings, _ = init_home(home)
    os.chmod(home / "enclave.toml", 0o644)
    problems = permission_problems(settings)
    assert len(problems) == 1 and "enclave.toml" in problems[0] and "-rw-r--r--" in problems[0]


def test_missing_home_is_reported(home: Path):
    settings = load_settings(home, environ={})
    with pytest.raises(HomeError, match="enclave init"):
        require_home(settings)
    assert permission_problems(settings) == [f"{home} does not exist"]


def test_home_below_a_file_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(HomeError, match="cannot create the Enclave home"):
        init_home(blocker / "home")


def test_unwritable_home_is_a_clear_error(unwritable_home: Path):
    with pytest.raises(HomeError, match="cannot write the Enclave home") as err:
        init_home(unwritable_home)
    assert str(unwritable_home) in err.value.message
    assert "ENCLAVE_HOME" in (err.value.hint or "")
