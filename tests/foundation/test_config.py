"""Configuration: defaults, file values, environment overrides and key-naming validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from enclave.config import BUNDLED_MODEL_ID, home_dir, load_settings
from enclave.errors import ConfigError


def write(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "enclave.toml").write_text(text, encoding="utf-8")


def test_defaults_without_a_file(home: Path):
    settings = load_settings(home, environ={})
    assert settings.home == home
    assert settings.engine.kind == "llamacpp"
    assert settings.engine.model == BUNDLED_MODEL_ID
    assert settings.engine.temperature == 0.0 and settings.engine.seed == 42
    assert settings.egress.enabled is True
    assert settings.in_home("audit.db") == home / "audit.db"
    assert settings.in_home("/abs/x.db") == Path("/abs/x.db")


def test_home_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("ENCLAVE_HOME", str(tmp_path / "env"))
    assert home_dir() == tmp_path / "env"
    assert home_dir(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("ENCLAVE_HOME")
    monkeypatch.chdir(tmp_path)
    assert home_dir() == tmp_path / ".enclave"


def test_file_values_and_environment_overrides(home: Path):
    write(home, '[engine]\nn_threads = 2\nmax_tokens = 100\n[egress]\nallow = ["db.internal"]\n')
    settings = load_settings(
        home,
        environ={
            "ENCLAVE_ENGINE__N_THREADS": "4",
            "ENCLAVE_ENGINE__KIND": "openai",  # bare word: falls back to a string
            "ENCLAVE_EGRESS__ALLOW": '["a.internal", "b.internal"]',
            "ENCLAVE_ENGINE_API_KEY": "not a config key",  # no double underscore: ignored
        },
    )
    assert settings.engine.n_threads == 4  # environment beats file
    assert settings.engine.max_tokens == 100  # file beats default
    assert settings.engine.kind == "openai"
    assert settings.egress.allow == ["a.internal", "b.internal"]


def test_unknown_key_names_key_and_file(home: Path):
    write(home, "[engine]\nn_thread = 2\n")
    with pytest.raises(ConfigError) as err:
        load_settings(home, environ={})
    assert "engine.n_thread: unknown key" in err.value.message
    assert str(home / "enclave.toml") in err.value.message
    assert "docs/configuration.md" in (err.value.hint or "")


def test_wrong_type_names_key_value_and_variable(home: Path):
    with pytest.raises(ConfigError) as err:
        load_settings(home, environ={"ENCLAVE_ENGINE__N_CTX": "lots"})
    message = err.value.message
    assert "engine.n_ctx" in message and "'lots'" in message and "ENCLAVE_ENGINE__N_CTX" in message


def test_every_bad_key_is_reported_at_once(home: Path):
    write(home, '[engine]\nkind = "gpt"\ntemperature = 9\n[server]\nport = 0\n')
    with pytest.raises(ConfigError) as err:
        load_settings(home, environ={})
    for key in ("engine.kind", "engine.temperature", "server.port"):
        assert key in err.value.message


def test_malformed_toml_names_the_line(home: Path):
    write(home, '[engine]\nkind = "llamacpp"\nseed = = 3\n')
    with pytest.raises(ConfigError) as err:
        load_settings(home, environ={})
    assert "not valid TOML" in err.value.message and "line 3" in err.value.message


def test_model_pins_are_validated(home: Path):
    write(home, '[models.mine]\npath = "/m.gguf"\nsha256 = "1234"\n')
    with pytest.raises(ConfigError, match=r"models\.mine\.sha256"):
        load_settings(home, environ={})
    write(home, f'[models.mine]\npath = "/m.gguf"\nsha256 = "{"AB" * 32}"\n')
    assert load_settings(home, environ={}).models["mine"].sha256 == "ab" * 32


def test_settings_are_immutable(home: Path):
    settings = load_settings(home, environ={})
    with pytest.raises(ValidationError, match="frozen"):
        settings.engine.kind = "openai"  # type: ignore[misc]


@given(st.integers(min_value=1, max_value=512))
def test_any_valid_thread_count_round_trips_through_the_environment(n: int):
    settings = load_settings("/nonexistent-enclave-home", environ={"ENCLAVE_ENGINE__N_THREADS": str(n)})
    assert settings.engine.n_threads == n


@given(st.integers().filter(lambda n: not 1 <= n <= 512))
def test_any_out_of_range_thread_count_is_refused(n: int):
    with pytest.raises(ConfigError, match=r"engine\.n_threads"):
        load_settings("/nonexistent-enclave-home", environ={"ENCLAVE_ENGINE__N_THREADS": str(n)})


def test_every_config_key_is_documented():
    """docs/configuration.md is the reference: each section and key of config.py must appear in it."""
    from pydantic import BaseModel

    from enclave.config import ModelSpec, Settings

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = []
    for section, field in Settings.model_fields.items():
        if section == "home":
            continue
        model = ModelSpec if section == "models" else field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel), section
        heading = "### `[models.ID]`" if section == "models" else f"### `[{section}]`"
        body = doc.split(heading, 1)[1].split("\n### ", 1)[0] if heading in doc else ""
        if not body:
            missing.append(f"[{section}]")
        missing += [f"{section}.{key}" for key in model.model_fields if f"| `{key}` |" not in body]
    assert not missing, f"undocumented in docs/configuration.md: {missing}"
