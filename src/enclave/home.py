"""Creating and checking the Enclave home: config, databases and keys, owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from enclave.config import CONFIG_FILE, Settings, home_dir, load_settings
from enclave.errors import HomeError

DEFAULT_CONFIG = """\
# Enclave configuration. Every key is optional; the values below are the defaults.
# Environment variables override this file: ENCLAVE_SECTION__KEY, e.g. ENCLAVE_ENGINE__N_THREADS=4.
# See docs/configuration.md for every key.

[engine]
kind = "llamacpp"                    # "llamacpp" (embedded) or "openai" (vLLM, llama.cpp server, Ollama)
model = "smollm2-135m-instruct-q4_1" # id of a pinned model: built in, or a [models.ID] table below
# n_threads = 2                      # default: all cores
n_ctx = 4096
seed = 42
temperature = 0.0
max_tokens = 384
# base_url = "http://127.0.0.1:8000/v1"  # for kind = "openai"
# remote_model = "my-model"

# A site's own pinned GGUF model:
# [models.my-model]
# path = "/srv/models/my-model.Q4_K_M.gguf"
# sha256 = "<64 hex digits>"

[store]
kind = "sqlite"
path = "enclave.db"

[egress]
enabled = true
allow = []                           # extra hosts (engines, stores) besides loopback

[audit]
path = "audit.db"
head_every_entries = 1000
head_every_seconds = 60
hash_questions = false

[labels]
system_high = "NATO SECRET"
policy_dirs = []
"""


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def init_home(home: str | os.PathLike[str] | None = None, *, force: bool = False) -> tuple[Settings, list[str]]:
    """Create the home (0700), ``enclave.toml`` (0600) and the audit signing key. Idempotent.

    Returns the loaded settings and a list of what was created.
    """
    from enclave.audit.keys import ensure_signing_key

    root = home_dir(home)
    created: list[str] = []
    try:
        if not root.exists():
            root.mkdir(parents=True, mode=0o700)
            created.append(str(root))
        os.chmod(root, 0o700)
        config = root / CONFIG_FILE
        if force or not config.exists():
            _write_private(config, DEFAULT_CONFIG)
            created.append(str(config))
        settings = load_settings(root)
        key_path = settings.in_home(settings.audit.key_path)
        if ensure_signing_key(key_path):
            created.append(str(key_path))
    except PermissionError as exc:
        raise HomeError(
            f"cannot write the Enclave home {root}: {exc.strerror}",
            hint="choose a writable location with ENCLAVE_HOME=/path or fix the directory's owner",
        ) from exc
    except OSError as exc:
        raise HomeError(f"cannot create the Enclave home {root}: {exc}") from exc
    return settings, created


def require_home(settings: Settings) -> None:
    """Fail with a clear message when the home has not been initialised."""
    if not settings.config_file.exists():
        raise HomeError(
            f"no Enclave home at {settings.home}",
            hint="run `enclave init` first (or set ENCLAVE_HOME to an existing home)",
        )


def permission_problems(settings: Settings) -> list[str]:
    """Paths in the home that group or others can read or write (keys, databases, config)."""
    problems: list[str] = []
    if not settings.home.exists():
        return [f"{settings.home} does not exist"]
    for path in [settings.home, *settings.home.rglob("*")]:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(f"{path} is accessible to group/others (mode {stat.filemode(mode)})")
    return problems
