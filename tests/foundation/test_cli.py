"""The CLI skeleton through the real console script: version, init, --home, and bad input without tracebacks."""

from __future__ import annotations

import stat
from pathlib import Path

import enclave

from .conftest import assert_clean_failure


def test_version(enclave_cli):
    result = enclave_cli("version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"enclave {enclave.__version__}"


def test_no_arguments_shows_help(enclave_cli):
    result = enclave_cli()
    assert "init" in result.stdout + result.stderr and "doctor" in result.stdout + result.stderr


def test_init_creates_the_home(enclave_cli, home: Path):
    result = enclave_cli("init")
    assert result.returncode == 0, result.stderr
    assert f"Enclave home ready at {home}" in result.stdout
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "enclave.toml").stat().st_mode) == 0o600
    again = enclave_cli("init")
    assert again.returncode == 0 and "created" not in again.stdout


def test_home_option_beats_the_environment(enclave_cli, tmp_path: Path, home: Path):
    other = tmp_path / "other"
    result = enclave_cli("--home", str(other), "init")
    assert result.returncode == 0, result.stderr
    assert (other / "enclave.toml").exists() and not home.exists()


def test_malformed_config_is_one_clear_message(enclave_cli, home: Path):
    enclave_cli("init")
    (home / "enclave.toml").write_text("[engine]\nn_threads = 'many'\nbogus = 1\n")
    result = enclave_cli("chat", "hello")
    assert_clean_failure(result, "engine.n_threads", "engine.bogus: unknown key", "enclave.toml", "hint:")


def test_invalid_toml_is_one_clear_message(enclave_cli, home: Path):
    enclave_cli("init")
    (home / "enclave.toml").write_text("[engine\n")
    assert_clean_failure(enclave_cli("models", "verify"), "not valid TOML", "line 1")


def test_bad_environment_override_is_named(enclave_cli):
    result = enclave_cli("models", "list", env={"ENCLAVE_ENGINE__N_CTX": "huge"})
    assert_clean_failure(result, "engine.n_ctx", "ENCLAVE_ENGINE__N_CTX")


def test_unwritable_home_is_one_clear_message(enclave_cli, unwritable_home: Path):
    result = enclave_cli("--home", str(unwritable_home), "init")
    assert_clean_failure(result, "cannot write the Enclave home", str(unwritable_home), "ENCLAVE_HOME")


def test_empty_prompt_is_refused(enclave_cli):
    assert_clean_failure(enclave_cli("chat", "   "), "prompt is empty")
