"""``POST /v1/cyber/scans`` through the real scan service (rule-free analytics; no Sigma rules configured)."""

from __future__ import annotations

from pathlib import Path

from .helpers import ScriptedEngine

AUTH_LOG = Path(__file__).parents[1] / "cyber" / "data" / "auth.log"


def _spray() -> bytes:
    lines = [
        f"Mar  3 11:{i // 60:02d}:{i % 60:02d} bastion sshd[{2000 + i}]: "
        f"Failed password for user{i:02d} from 203.0.113.7 port {50000 + i} ssh2"
        for i in range(30)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_scan_uploaded_logs(full):
    from fastapi.testclient import TestClient

    with TestClient(
        full.app(ScriptedEngine("Failed logins from one source [E1].")), raise_server_exceptions=False
    ) as c:
        files = [
            ("files", ("auth.log", AUTH_LOG.read_bytes(), "text/plain")),
            ("files", ("spray.log", _spray(), "text/plain")),
        ]
        r = c.post("/v1/cyber/scans", headers=full.headers("alice"), files=files, data={"label": "NATO RESTRICTED"})
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["summary"]["events"] >= 30
        assert report["label"]["banner"] == "NATO RESTRICTED"
        assert report["summary"]["incidents"] >= 1
        assert "enclave-scan-" not in r.text  # no temporary paths
        assert full.audit.entry(report["audit_id"])["action"] == "cyber.scan"
        assert full.audit.entry(report["audit_id"])["actor"] == "alice"
        # logs labelled above the caller's clearance are refused before anything is read
        r = c.post("/v1/cyber/scans", headers=full.headers("bob"), files=files[:1], data={"label": "NATO SECRET"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "label_above_clearance"
        r = c.post("/v1/cyber/scans", headers=full.headers("bob"), files=files[:1])  # system-high default: NS
        assert r.status_code == 403
