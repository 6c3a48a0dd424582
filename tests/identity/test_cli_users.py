"""`enclave users ...` through the real CLI, store and audit log."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from enclave.audit import open_audit
from enclave.cli.main import app
from enclave.config import load_settings
from enclave.home import init_home
from enclave.identity import IdentityError, UserDirectory
from enclave.labels import LabelError
from enclave.store.sqlite import SQLiteStore


@pytest.fixture
def home(tmp_path):
    root = tmp_path / "home"
    init_home(root)
    return root


def run(home, *args, ok=True):
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_users_lifecycle(home):
    out = json.loads(run(home, "users", "add", "alice", "--clearance", "NATO SECRET", "--nationality", "deu",
                         "--member", "NATO", "--holds", "ATOMAL", "--role", "analyst", "--role", "ingester",
                         "--json").stdout)  # fmt: skip
    token = out["token"]
    assert out["roles"] == ["analyst", "ingester"] and out["clearance"]["nationality"] == "DEU"
    listing = run(home, "users", "list", "--json").stdout
    shown = run(home, "users", "show", "alice", "--json").stdout
    human = run(home, "users", "show", "alice").stdout
    for text in (listing, shown, human):
        assert token not in text and "sha256:" not in text
    assert "NATO SECRET" in human and "ATOMAL" in human

    store = SQLiteStore(home / "enclave.db")
    users = UserDirectory(store)
    assert users.authenticate(token).name == "alice"
    new = json.loads(run(home, "users", "rotate-token", "alice", "--json").stdout)["token"]
    assert users.authenticate(token) is None and users.authenticate(new).name == "alice"
    run(home, "users", "disable", "alice")
    assert users.authenticate(new) is None
    assert json.loads(run(home, "users", "show", "alice", "--json").stdout)["disabled"] is True
    run(home, "users", "enable", "alice")
    run(home, "users", "roles", "alice", "--role", "auditor")
    assert users.authenticate(new).roles == {"auditor"}
    store.close()

    with open_audit(load_settings(home, environ={}), readonly=True) as log:
        actions = [e["action"] for e in log.entries(action="user.*")]
    assert actions == ["user.add", "user.rotate_token", "user.disable", "user.enable", "user.roles"]
    assert token not in json.dumps(log_entries(home)) and new not in json.dumps(log_entries(home))


def log_entries(home):
    with open_audit(load_settings(home, environ={}), readonly=True) as log:
        return log.entries()


def test_users_errors_are_clear(home):
    bad_level = run(home, "users", "add", "x", "--clearance", "NATO SEKRET", "--nationality", "DEU", ok=False)
    assert isinstance(bad_level.exception, LabelError)
    bad_role = run(home, "users", "add", "x", "--clearance", "NATO SECRET", "--nationality", "DEU", "--role", "god",
                   ok=False)  # fmt: skip
    assert isinstance(bad_role.exception, IdentityError) and "unknown role" in str(bad_role.exception)
    missing = run(home, "users", "show", "nobody", ok=False)
    assert isinstance(missing.exception, IdentityError) and "no user named" in str(missing.exception)
    assert json.loads(run(home, "users", "list", "--json").stdout) == []
