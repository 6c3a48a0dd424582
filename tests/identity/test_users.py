"""Users, roles, tokens and authentication over a real SQLite store."""

from __future__ import annotations

import pytest

from enclave.identity import IdentityError, PermissionDenied, Principal, UnknownUser, UserDirectory, hash_token
from enclave.identity.tokens import token_matches
from enclave.labels import Clearance, LabelError
from enclave.store.sqlite import SQLiteStore


class RecordingAudit:
    def __init__(self, fail: bool = False) -> None:
        self.entries: list[tuple[str, str, dict]] = []
        self.fail = fail

    def append(self, action, *, actor=None, clearance=None, details=None):
        if self.fail:
            raise RuntimeError("audit disk full")
        self.entries.append((action, actor, details))
        return len(self.entries)


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "e.db")
    yield s
    s.close()


def _secret(level="NATO SECRET", nat="DEU", holds=()):
    return Clearance.create(level=level, nationality=nat, memberships=("NATO",), holds=holds)


def test_add_returns_token_once_and_stores_only_its_hash(store, tmp_path):
    audit = RecordingAudit()
    users = UserDirectory(store, audit, actor="local:op")
    user, token = users.add("alice", _secret(holds=("ATOMAL",)), ("analyst",))
    assert token.startswith("enc_") and len(token) >= 40
    assert user.token_hash == hash_token(token) and token not in user.token_hash
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("e.db*"))
    assert token.encode() not in raw
    assert hash_token(token).encode() in raw
    assert audit.entries[0][0] == "user.add" and audit.entries[0][1] == "local:op"
    assert "token" not in str(audit.entries[0][2]).lower().replace("token_", "")


def test_authenticate(store):
    users = UserDirectory(store)
    _, token = users.add("alice", _secret(holds=("ATOMAL",)), ("analyst", "ingester"))
    principal = users.authenticate(token)
    assert isinstance(principal, Principal)
    assert principal.name == "alice" and principal.roles == {"analyst", "ingester"}
    assert principal.clearance == _secret(holds=("ATOMAL",))
    for bad in ["", "enc_", token + "x", token[:-1], "Bearer " + token, "enc_" + "A" * 43, None, 42]:
        assert users.authenticate(bad) is None  # type: ignore[arg-type]


def test_disabled_user_fails_and_can_be_re_enabled(store):
    users = UserDirectory(store)
    _, token = users.add("bob", _secret(), ("analyst",))
    users.disable("bob")
    assert users.authenticate(token) is None
    with pytest.raises(IdentityError, match="disabled"):
        users.principal("bob")
    users.enable("bob")
    assert users.authenticate(token) is not None


def test_rotate_token_invalidates_the_old_one(store):
    audit = RecordingAudit()
    users = UserDirectory(store, audit)
    _, old = users.add("carol", _secret(), ("analyst",))
    new = users.rotate_token("carol")
    assert new != old
    assert users.authenticate(old) is None
    assert users.authenticate(new).name == "carol"
    assert [a for a, _, _ in audit.entries] == ["user.add", "user.rotate_token"]


def test_audit_failure_means_no_change(store):
    users = UserDirectory(store, RecordingAudit(fail=True))
    with pytest.raises(RuntimeError):
        users.add("dave", _secret(), ("analyst",))
    assert store.get_user("dave") is None
    ok = UserDirectory(store)
    _, token = ok.add("dave", _secret(), ("analyst",))
    with pytest.raises(RuntimeError):
        users.disable("dave")
    assert ok.authenticate(token) is not None  # still enabled
    with pytest.raises(RuntimeError):
        users.rotate_token("dave")
    assert ok.authenticate(token) is not None  # old token still the valid one


def test_validation(store):
    users = UserDirectory(store)
    with pytest.raises(IdentityError, match="unknown role"):
        users.add("eve", _secret(), ("superuser",))
    with pytest.raises(IdentityError, match="at least one role"):
        users.add("eve", _secret(), ())
    with pytest.raises(IdentityError, match="invalid user name"):
        users.add("../eve", _secret(), ("analyst",))
    users.add("eve", _secret(), ("analyst",))
    with pytest.raises(IdentityError, match="already exists"):
        users.add("eve", _secret(), ("admin",))
    with pytest.raises(UnknownUser):
        users.get("mallory")
    with pytest.raises(LabelError):
        Clearance.create(level="GALACTIC SECRET", nationality="DEU")


def test_roles_grant_actions(store):
    users = UserDirectory(store)
    users.add("ana", _secret(), ("analyst",))
    users.add("ing", _secret(), ("ingester",))
    users.add("aud", _secret(), ("auditor",))
    ana, ing, aud = (users.principal(n) for n in ("ana", "ing", "aud"))
    assert ana.can("read") and not ana.can("ingest") and not ana.can("users")
    assert ing.can("ingest") and ing.can("delete")
    assert aud.can("audit") and not aud.can("read")
    assert not ana.can("no-such-permission")
    with pytest.raises(PermissionDenied, match="may not ingest"):
        ana.require("ingest")
    users.set_roles("ana", ("analyst", "ingester"))
    assert users.principal("ana").can("ingest")


def test_token_compare_is_exact():
    token = "enc_" + "x" * 43
    assert token_matches(token, hash_token(token))
    assert not token_matches(token, hash_token(token + "y"))
