"""Files, directories and archives, with archive bombs and path traversal refused (and reported)."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import pytest

from enclave.cyber.errors import CyberError
from enclave.cyber.model import ParseIssue
from enclave.cyber.sources import Limits, expand_paths

from .conftest import DATA


def _names(paths, limits=None):
    issues: list[ParseIssue] = []
    sources = list(expand_paths(paths, issues, limits))
    return {s.name.rsplit("/", 1)[-1]: s for s in sources}, issues


def test_directory_zip_gz_and_targz(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "auth.log").write_bytes((DATA / "auth.log").read_bytes())
    with zipfile.ZipFile(tmp_path / "logs.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(DATA / "eve.json", "sensor/eve.json")
    (tmp_path / "conn.log.gz").write_bytes(gzip.compress((DATA / "conn.log").read_bytes()))
    with tarfile.open(tmp_path / "bundle.tar.gz", "w:gz") as tf:
        tf.add(DATA / "dns.log", arcname="zeek/dns.log")
    sources, issues = _names([tmp_path])
    assert not issues
    assert set(sources) == {"auth.log", "eve.json", "conn.log", "dns.log"}
    by_suffix = {s.name.split("!")[-1].rsplit("/", 1)[-1]: s for s in sources.values()}
    assert by_suffix["eve.json"].open().read() == (DATA / "eve.json").read_bytes()
    assert by_suffix["conn.log"].open().read() == (DATA / "conn.log").read_bytes()
    assert by_suffix["dns.log"].open().read() == (DATA / "dns.log").read_bytes()
    assert any("logs.zip!sensor/eve.json" in s.name for s in sources.values())


def test_zip_path_traversal_and_absolute_members_are_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../etc/cron.d/x", "boom")
        zf.writestr("/abs/path.log", "boom")
        zf.writestr("ok/auth.log", (DATA / "auth.log").read_text())
    sources, issues = _names([archive])
    assert [s.name for s in sources.values()] == [f"{archive}!ok/auth.log"]
    reasons = sorted(i.reason for i in issues)
    assert any("traversal" in r for r in reasons) and any("absolute" in r for r in reasons)


def test_tar_links_are_refused(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tf:
        info = tarfile.TarInfo("evil-link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/shadow"
        tf.addfile(info)
        data = b"x"
        good = tarfile.TarInfo("good.log")
        good.size = len(data)
        tf.addfile(good, io.BytesIO(data))
    sources, issues = _names([archive])
    assert len(sources) == 1 and "link" in issues[0].reason


def test_gzip_bomb_is_refused_with_a_clear_issue(tmp_path):
    bomb = tmp_path / "bomb.log.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (8 * 1024 * 1024)))
    sources, issues = _names([bomb], Limits(max_member_bytes=1024 * 1024))
    assert not sources
    assert issues and "archive bomb" in issues[0].reason and issues[0].source == str(bomb)


def test_zip_ratio_bomb_is_refused(tmp_path):
    bomb = tmp_path / "ratio.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.log", b"\0" * (20 * 1024 * 1024))
    sources, issues = _names([bomb])
    assert not sources and "ratio" in issues[0].reason


def test_corrupt_archive_is_reported(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    sources, issues = _names([bad])
    assert not sources and "corrupt archive" in issues[0].reason


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(CyberError, match="no such file"):
        list(expand_paths([tmp_path / "nope"], []))
