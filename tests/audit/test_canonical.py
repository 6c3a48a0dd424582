"""Canonical JSON and the refusal of secrets in audit entries."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enclave.audit import AuditError
from enclave.audit.canonical import canonical_json, normalize, secret_key_reason
from enclave.audit.log import entry_body, make_record


def test_canonical_form_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "é€"], "c": {"z": 1, "y": 2}}) == (
        '{"a":[true,null,"é€"],"b":1,"c":{"y":2,"z":1}}'
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_form_round_trips_to_the_same_bytes(value: object) -> None:
    try:
        normalized = normalize({"v": value})
    except AuditError:
        return  # a generated key happened to look like a secret
    text = canonical_json(normalized)
    assert canonical_json(json.loads(text)) == text


@given(st.text(), st.text(), st.none() | st.dictionaries(st.sampled_from(["level", "cats"]), st.text(max_size=5)))
def test_entry_body_is_the_canonical_json_of_the_entry(action: str, actor: str, clearance: object) -> None:
    if not action.strip():
        return
    try:
        record = make_record(action, actor, clearance, {"q": actor, "n": 1.5})
    except AuditError:
        return  # e.g. an actor that looks like an authorization header value
    body = entry_body(record, 7, "2026-01-01T00:00:00.000000Z")
    entry = json.loads(body)
    assert canonical_json(entry) == body
    assert entry == {
        "action": action,
        "actor": actor,
        "clearance": clearance,
        "details": {"n": 1.5, "q": actor},
        "seq": 7,
        "time": "2026-01-01T00:00:00.000000Z",
        "v": 1,
    }


@pytest.mark.parametrize(
    "key",
    ["token", "api_key", "apiKey", "API-KEY", "password", "user_password", "client_secret", "Authorization",
     "refresh_token", "accessToken", "private_key", "session_cookie", "passphrase", "credentials"],
)  # fmt: skip
def test_secret_looking_keys_are_refused(key: str) -> None:
    assert secret_key_reason(key)
    with pytest.raises(AuditError, match="looks like a secret"):
        normalize({"ok": 1, "nested": [{key: "s3cr3t"}]})


@pytest.mark.parametrize(
    "key",
    ["prompt_tokens", "max_tokens", "tokens", "token_id", "token_sha256", "password_changed", "api_key_id",
     "question", "user", "secretariat", "key", "keys", "model_sha256", "token_count"],
)  # fmt: skip
def test_keys_about_secrets_are_allowed(key: str) -> None:
    assert secret_key_reason(key) is None
    assert normalize({key: 1}) == {key: 1}


def test_refusal_never_echoes_the_secret() -> None:
    with pytest.raises(AuditError) as info:
        normalize({"password": "hunter2"})
    assert "hunter2" not in str(info.value)


def test_authorization_header_values_are_refused() -> None:
    with pytest.raises(AuditError, match="authorization header"):
        normalize({"header": "Bearer abc.def"})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "int key"}, object(), b"bytes", "\ud800"])
def test_values_json_cannot_carry_are_refused(bad: object) -> None:
    with pytest.raises(AuditError):
        normalize({"v": bad})


def test_conveniences_are_converted() -> None:
    class Colour(enum.Enum):
        RED = "red"

    @dataclasses.dataclass(frozen=True)
    class Clearance:
        level: int
        cats: frozenset[str]
        _compiled: object = None

    assert normalize({"c": Clearance(3, frozenset({"B", "A"}), object())}) == {"c": {"level": 3, "cats": ["A", "B"]}}
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert normalize({"t": when, "d": dt.date(2026, 1, 2), "p": Path("/x"), "e": Colour.RED, "tu": (1, 2)}) == {
        "t": "2026-01-02T03:04:05Z",
        "d": "2026-01-02",
        "p": "/x",
        "e": "red",
        "tu": [1, 2],
    }
