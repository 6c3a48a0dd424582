"""Fixtures: a real Enclave home (real Ed25519 key from ``init_home``) and a real SQLite audit log."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from enclave.audit import AuditLog, open_audit
from enclave.audit.keys import trusted_public_key
from enclave.audit.verify import VerifyReport, verify_log
from enclave.config import Settings, load_settings
from enclave.home import init_home


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    init_home(tmp_path / "home")
    return load_settings(tmp_path / "home", environ={"ENCLAVE_AUDIT__HEAD_EVERY_ENTRIES": "10"})


@pytest.fixture
def log(home: Settings) -> Iterator[AuditLog]:
    audit = open_audit(home)
    yield audit
    audit.close()


def fill(audit: AuditLog, n: int, actor: str = "alice") -> list[int]:
    return [audit.append("ask", actor=actor, clearance={"level": "NATO SECRET"}, details={"n": i}) for i in range(n)]


def verify(settings: Settings, **kwargs) -> VerifyReport:
    key = trusted_public_key(settings.in_home(settings.audit.key_path))
    return verify_log(settings.in_home(settings.audit.path), key, **kwargs)


def db(settings: Settings) -> sqlite3.Connection:
    """A raw connection: what an attacker with shell access would use."""
    return sqlite3.connect(settings.in_home(settings.audit.path), isolation_level=None)


@pytest.fixture(scope="module")
def built_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """A closed 60-entry log to copy from (tamper tests mutate copies)."""
    root = tmp_path_factory.mktemp("built")
    init_home(root / "home")
    settings = load_settings(root / "home", environ={"ENCLAVE_AUDIT__HEAD_EVERY_ENTRIES": "10"})
    with open_audit(settings) as audit:
        fill(audit, 59)
    return settings, settings.in_home(settings.audit.path)


def copy_home(built: tuple[Settings, Path], dest: Path) -> Settings:
    settings, _ = built
    shutil.copytree(settings.home, dest)
    return load_settings(dest, environ={"ENCLAVE_AUDIT__HEAD_EVERY_ENTRIES": "10"})
