"""Document upload/read (ingester role, label checks) and the auditor endpoints (entries, head, proofs)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from enclave.audit.merkle import leaf_hash

from .conftest import build_home


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A home of its own (uploads change the corpus), with only the public document."""
    home = build_home(tmp_path_factory.mktemp("scratch") / "home", 1)
    yield home
    home.close()


def test_upload_with_own_marking_then_read_back(scratch):
    home = scratch
    with TestClient(home.app(), raise_server_exceptions=False) as c:
        text = (
            b"NATO RESTRICTED\n\nHARBOR LANTERN mess hall\n\n"
            b"The mess hall opens at 06:00 in hangar 3.\n\nNATO RESTRICTED\n"
        )
        r = c.post(
            "/v1/documents", headers=home.headers("ingrid"), files={"file": ("../../etc/mess.txt", text, "text/plain")}
        )
        assert r.status_code == 201, r.text
        item = r.json()["items"][0]
        assert item["status"] == "ingested" and item["label"] == "NATO RESTRICTED"
        assert item["source"] == "upload:ingrid/mess.txt"  # path parts of the client's file name are dropped
        doc_id = item["document_id"]
        entry = home.audit.entries(action="ingest")[-1]
        assert entry["actor"] == "ingrid" and entry["details"]["document_id"] == doc_id
        # same bytes again: a duplicate, not a second copy
        again = c.post(
            "/v1/documents", headers=home.headers("ingrid"), files={"file": ("mess.txt", text, "text/plain")}
        )
        assert again.status_code == 200 and again.json()["items"][0]["status"] == "duplicate"
        # bob (NR) reads it, carol (AUS partner) gets the same 404 as for a missing id
        got = c.get(f"/v1/documents/{doc_id}", headers=home.headers("bob"))
        assert got.status_code == 200
        assert got.json()["banner"] == "NATO RESTRICTED"
        assert "06:00" in got.json()["chunks"][0]["text"]
        hidden = c.get(f"/v1/documents/{doc_id}", headers=home.headers("carol"))
        missing = c.get("/v1/documents/999999", headers=home.headers("carol"))
        assert hidden.status_code == missing.status_code == 404
        assert hidden.content == missing.content
        # bob at a ceiling below the document's label: 404 too
        capped = c.get(
            f"/v1/documents/{doc_id}", headers=home.headers("bob", **{"X-Enclave-Ceiling": "NATO UNCLASSIFIED"})
        )
        assert capped.status_code == 404 and capped.content == missing.content


def test_upload_label_from_form_field_and_refusals(scratch):
    home = scratch
    with TestClient(home.app(), raise_server_exceptions=False) as c:
        plain = b"Supply notes\n\nWater points are marked with blue flags near the HARBOR LANTERN camp.\n"
        r = c.post("/v1/documents", headers=home.headers("ingrid"), files={"file": ("water.txt", plain, "text/plain")},
                   data={"label": "NATO UNCLASSIFIED"})  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["items"][0]["label"] == "NATO UNCLASSIFIED"
        # a marking above the uploader's clearance is refused and nothing is stored
        atomal = b"NATO SECRET ATOMAL\n\nAnnex\n\nUploaded text.\n\nNATO SECRET ATOMAL\n"
        r = c.post("/v1/documents", headers=home.headers("ingrid"), files={"file": ("a.txt", atomal, "text/plain")})
        assert r.status_code == 422 and "above your clearance" in r.json()["error"]["message"]
        r = c.post("/v1/documents", headers=home.headers("ingrid"), files={"file": ("w.txt", plain, "text/plain")},
                   data={"label": "NATO SECRET ATOMAL"})  # fmt: skip
        assert r.status_code == 403
        r = c.post(
            "/v1/documents", headers=home.headers("ingrid"), files={"file": ("bad.exe", b"MZ\x90\x00", "application/x")}
        )
        assert r.status_code == 422 and "bad.exe" in r.json()["error"]["message"]
        assert "/tmp" not in r.text


def test_auditor_endpoints_give_entries_heads_and_verifiable_proofs(client, full):
    h = full.headers("audrey")
    client.post("/v1/search", headers=full.headers("bob"), json={"query": "fuel depot"})
    r = client.get("/v1/audit/entries", headers=h, params={"action": "search", "user": "bob"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 1 and all(e["action"] == "search" and e["actor"] == "bob" for e in body["data"])
    r = client.get("/v1/audit/entries", headers=h, params={"action": "auth.*", "limit": 2})
    assert len(r.json()["data"]) == 2 and r.json()["total"] > 2
    assert client.get("/v1/audit/entries", headers=h, params={"since": "not-a-date"}).status_code == 400
    seq = body["data"][-1]["seq"]
    proof = client.get(f"/v1/audit/proof/{seq}", headers=h)
    assert proof.status_code == 200, proof.text
    p = proof.json()
    assert p["leaf_index"] == seq and json.loads(p["entry"])["seq"] == seq
    assert bytes.fromhex(p["leaf_hash"]) == leaf_hash(p["entry"].encode())
    _verify_inclusion(p)
    head = client.get("/v1/audit/head", headers=h).json()
    assert head["tree_size"] >= p["tree_size"] and "signature" in head
    assert client.get("/v1/audit/proof/99999999", headers=h).status_code == 404


def test_auditors_below_system_high_may_not_read_the_trail(client, full):
    """Entries carry every user's questions (up to system-high): the auditor role alone is not enough."""
    for path in ("/v1/audit/entries", "/v1/audit/head", "/v1/audit/proof/1"):
        r = client.get(path, headers=full.headers("otto"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "clearance_below_system_high"
        assert "question" not in r.text


def _verify_inclusion(p: dict) -> None:
    """RFC 9162 inclusion check, written independently of the server's code."""
    import hashlib

    index, size = p["leaf_index"], p["tree_size"]
    node = bytes.fromhex(p["leaf_hash"])
    fn, sn = index, size - 1
    for sibling in (bytes.fromhex(x) for x in p["audit_path"]):
        if sn == 0:
            raise AssertionError("proof too long")
        if fn & 1 or fn == sn:
            node = hashlib.sha256(b"\x01" + sibling + node).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            node = hashlib.sha256(b"\x01" + node + sibling).digest()
        fn >>= 1
        sn >>= 1
    assert sn == 0
    assert node.hex() == p["head"]["root_hash"]
