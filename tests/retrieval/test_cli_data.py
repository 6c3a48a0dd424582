"""`enclave ingest`, `search` and `documents` through the real CLI, store, model and audit log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from enclave.audit import open_audit
from enclave.cli.data_cmds import NotFound
from enclave.cli.main import app
from enclave.config import load_settings
from enclave.home import init_home
from enclave.identity import IdentityError, PermissionDenied
from enclave.labels import Clearance, can_read, label_from_dict

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "samples" / "corpus"
GOOD = ["press/press-release-01.txt", "press/fact-sheet.md", "admin/admin-instruction-01.txt", "ops/opord-01.txt",
        "strategic/atomal-annex.txt", "partner/aus-liaison-brief.txt"]  # fmt: skip
BAD = ["refused/empty.txt", "refused/binary-data.txt", "refused/malformed-marking.txt", "refused/unmarked-note.txt"]


class Env:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def run(self, *args: str, ok: bool = True):
        result = self.runner.invoke(app, ["--home", str(self.home), *args])
        if ok and result.exit_code != 0:
            raise AssertionError(f"{args} failed ({result.exit_code}): {result.output} {result.exception!r}")
        return result

    def json(self, *args: str):
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    home = root / "home"
    init_home(home)
    batch = root / "batch"
    for rel in GOOD + BAD:
        (batch / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(CORPUS / rel, batch / rel)
    e = Env(home)
    e.batch = batch
    e.json("users", "add", "alice", "--clearance", "NATO SECRET", "--nationality", "DEU", "--member", "NATO")
    e.json("users", "add", "bob", "--clearance", "NATO RESTRICTED", "--nationality", "AUS")
    e.json("users", "add", "ivan", "--clearance", "COSMIC TOP SECRET", "--nationality", "DEU", "--member", "NATO",
           "--holds", "ATOMAL", "--role", "ingester")  # fmt: skip
    e.summary = e.json("ingest", str(batch), "--user", "ivan")
    return e


def test_ingest_summary_counts_and_reasons(env):
    counts = env.summary["counts"]
    assert counts["ingested"] == len(GOOD) and counts["refused"] == len(BAD)
    assert counts["duplicates"] == counts["replaced"] == 0 and counts["chunks"] >= len(GOOD)
    refused = {Path(i["source"]).name: i["reason"] for i in env.summary["items"] if i["status"] == "refused"}
    assert set(refused) == {Path(b).name for b in BAD}
    assert "empty" in refused["empty.txt"] and "unmarked" in refused["unmarked-note.txt"]


def test_a_batch_of_bad_files_changes_nothing_else(env):
    """Every deliberately broken sample (corrupt/encrypted PDF, zip bomb, binary, mis-marked...) at once."""
    from enclave.store.sqlite import SQLiteStore

    def snapshot():
        with SQLiteStore(env.home / "enclave.db") as store:
            ids = frozenset(store.labels())
            docs = store.list_documents(ids, limit=10_000)
            assert store.check_integrity() == []
            return {d.id: (d.content_hash, [c.text for c in store.document_chunks(d.id, ids)]) for d in docs}

    before = snapshot()
    bad = sorted(p for p in (CORPUS / "refused").iterdir() if p.is_file() and not p.name.endswith(".4778.xml"))
    out = env.json("ingest", *map(str, bad), "--user", "ivan")
    assert out["counts"]["refused"] >= len(bad)
    assert out["counts"]["ingested"] == out["counts"]["replaced"] == 0
    assert all(i["reason"] for i in out["items"] if i["status"] == "refused")
    assert snapshot() == before
    strict = env.run("ingest", str(bad[0]), "--strict", "--json", ok=False)
    assert strict.exit_code == 1


def test_reingest_is_idempotent_and_a_change_replaces(env):
    again = env.json("ingest", str(env.batch))
    assert again["counts"]["duplicates"] == len(GOOD) and again["counts"]["ingested"] == 0
    target = env.batch / "press" / "press-release-01.txt"
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original.replace("3,000 troops", "3,100 troops"), encoding="utf-8")
        changed = env.json("ingest", str(target))
        assert changed["counts"]["replaced"] == 1
        hits = env.json("search", "troops 3,100", "--user", "alice", "--mode", "bm25")["results"]
        mine = [h for h in hits if h["source"].endswith("press-release-01.txt")]
        assert any("3,100" in h["text"] for h in mine) and not any("3,000 troops" in h["text"] for h in mine)
    finally:
        target.write_text(original, encoding="utf-8")
        env.json("ingest", str(target))


def test_search_is_label_filtered_and_audited(env):
    alice = Clearance.create(level="NATO SECRET", nationality="DEU", memberships=("NATO",))
    out = env.json("search", "How many troops does Joint Task Force AURORA field?", "--user", "alice", "--k", "5")
    assert out["results"] and out["banner"]
    for hit in out["results"]:
        assert can_read(alice, label_from_dict(hit["label"]))
    assert any("12,500" in h["text"] for h in out["results"])  # the NS figure is found at NS
    capped = env.json("search", "How many troops does Joint Task Force AURORA field?", "--user", "alice",
                      "--ceiling", "NATO RESTRICTED")  # fmt: skip
    assert capped["results"] and not any("12,500" in h["text"] for h in capped["results"])
    assert all(label_from_dict(h["label"]).level <= 1 for h in capped["results"])
    atomal = env.json("search", "registry code for ATOMAL documents", "--user", "alice", "--mode", "bm25")
    assert not any(label_from_dict(h["label"]).restrictive for h in atomal["results"])
    settings = load_settings(env.home, environ={})
    with open_audit(settings, readonly=True) as log:
        searches = log.entries(action="search")
    last = searches[-1]
    assert last["actor"] == "alice" and last["details"]["question"] == "registry code for ATOMAL documents"
    assert [r["chunk_id"] for r in last["details"]["results"]] == [h["chunk_id"] for h in atomal["results"]]
    with open_audit(settings, readonly=True) as log:
        assert len(log.entries(action="ingest")) >= len(GOOD)
        assert log.entries(action="ingest.refused")


def test_partner_sees_only_what_is_released_to_it(env):
    out = env.json("search", "Australian liaison team", "--user", "bob", "--mode", "bm25")
    bob = Clearance.create(level="NATO RESTRICTED", nationality="AUS")
    assert out["results"], "the REL TO AUS brief must be found by the Australian partner"
    assert all(can_read(bob, label_from_dict(h["label"])) for h in out["results"])


def test_documents_list_show_and_forbidden_looks_missing(env):
    docs_alice = env.json("documents", "list", "--user", "alice")
    docs_ivan = env.json("documents", "list", "--user", "ivan")
    assert {d["id"] for d in docs_alice} < {d["id"] for d in docs_ivan}
    hidden = next(d for d in docs_ivan if d["id"] not in {a["id"] for a in docs_alice})
    shown = env.json("documents", "show", str(docs_alice[0]["id"]), "--user", "alice", "--text")
    assert shown["chunk_list"] and all("text" in c for c in shown["chunk_list"])
    forbidden = env.run("documents", "show", str(hidden["id"]), "--user", "alice", ok=False)
    missing = env.run("documents", "show", "999999", "--user", "alice", ok=False)
    assert isinstance(forbidden.exception, NotFound) and isinstance(missing.exception, NotFound)
    assert str(forbidden.exception).replace(str(hidden["id"]), "N") == str(missing.exception).replace("999999", "N")
    # and through the real console script: same exit code, same shape of message, no traceback
    procs = [
        subprocess.run(
            [sys.executable, "-m", "enclave", "--home", str(env.home), "documents", "show", doc_id, "--user", "alice"],
            capture_output=True,
            text=True,
            env={**os.environ},
        )
        for doc_id in (str(hidden["id"]), "999999")
    ]
    assert procs[0].returncode == procs[1].returncode != 0
    assert procs[0].stderr.replace(str(hidden["id"]), "N") == procs[1].stderr.replace("999999", "N")
    assert "Traceback" not in procs[0].stderr


def test_delete_needs_the_role_and_is_audited(env):
    doc = env.json("documents", "list", "--user", "alice")[-1]
    denied = env.run("documents", "delete", str(doc["id"]), "--user", "alice", "--yes", ok=False)
    assert isinstance(denied.exception, PermissionDenied)
    env.run("documents", "delete", str(doc["id"]), "--user", "ivan", "--yes")
    gone = env.run("documents", "show", str(doc["id"]), "--user", "ivan", ok=False)
    assert isinstance(gone.exception, NotFound)
    with open_audit(load_settings(env.home, environ={}), readonly=True) as log:
        (entry,) = log.entries(action="document.delete")
    assert entry["actor"] == "ivan" and entry["details"]["document_id"] == doc["id"]
    env.json("ingest", str(env.batch))  # put it back for other tests


def test_disabled_user_cannot_search(env):
    env.json("users", "add", "carl", "--clearance", "NATO SECRET", "--nationality", "FRA", "--member", "NATO")
    env.run("users", "disable", "carl")
    result = env.run("search", "convoy", "--user", "carl", "--mode", "bm25", ok=False)
    assert isinstance(result.exception, IdentityError) and "disabled" in str(result.exception)
