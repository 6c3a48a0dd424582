"""Proofs from a log big enough to use stored subtree nodes (2**8 leaves and more), checked offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.audit import AuditVerificationError, merkle, open_audit
from enclave.audit.heads import SignedHead
from enclave.audit.keys import trusted_public_key
from enclave.audit.proofs import check_proof
from enclave.config import load_settings
from enclave.home import init_home

from .conftest import db, verify

SIZE = 1300


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("big")
    init_home(root / "home")
    cfg = load_settings(root / "home", environ={"ENCLAVE_AUDIT__HEAD_EVERY_ENTRIES": "100"})
    with open_audit(cfg) as audit:
        for start in range(1, SIZE, 200):
            audit.append_many(("ask", "alice", None, {"i": i}) for i in range(start, min(start + 200, SIZE)))
    leaves = [bytes(r[0]) for r in db(cfg).execute("SELECT leaf FROM entries ORDER BY seq")]
    return cfg, leaves


def test_stored_nodes_exist_and_match_the_tree(big) -> None:
    cfg, leaves = big
    nodes = db(cfg).execute("SELECT level, idx, hash FROM nodes").fetchall()
    assert {(lvl, idx) for lvl, idx, _ in nodes} >= {(8, 0), (8, 4), (9, 0), (9, 1), (10, 0)}
    for level, index, digest in nodes:
        assert digest == merkle.root_of(leaves[index << level : (index + 1) << level])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_inclusion_and_consistency_proofs_at_every_head(big, data: st.DataObject) -> None:
    cfg, leaves = big
    trusted = trusted_public_key(cfg.in_home(cfg.audit.key_path))
    with open_audit(cfg, readonly=True) as audit:
        heads = [SignedHead.from_dict(h) for h in audit.heads()]
        head = data.draw(st.sampled_from(heads))
        seq = data.draw(st.integers(min_value=0, max_value=head.tree_size - 1))
        proof = audit.inclusion_proof(seq, tree_size=head.tree_size)
        assert proof["audit_path"] == [
            p.hex() for p in merkle.inclusion_path(seq, head.tree_size, merkle.list_subtree(leaves))
        ]
        assert check_proof(proof, trusted, pinned=head)["ok"]
        older = data.draw(st.sampled_from([h for h in heads if h.tree_size <= head.tree_size]))
        consistency = audit.consistency_proof(older.tree_size, head.tree_size)
        assert check_proof(consistency, trusted, pinned=older)["ok"]


def test_a_corrupt_stored_node_is_reported_and_breaks_proofs(big, tmp_path: Path) -> None:
    import shutil

    cfg, _ = big
    shutil.copytree(cfg.home, tmp_path / "home")
    copy = load_settings(tmp_path / "home")
    db(copy).execute("UPDATE nodes SET hash = zeroblob(32) WHERE level = 8 AND idx = 1")
    report = verify(copy)
    assert not report.ok and "stored tree node (level 8, index 1)" in report.problems[0]
    trusted = trusted_public_key(copy.in_home(copy.audit.key_path))
    with open_audit(copy, readonly=True) as audit:
        proof = audit.inclusion_proof(3)
    with pytest.raises(AuditVerificationError, match="NOT included"):
        check_proof(proof, trusted)
