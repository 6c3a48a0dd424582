"""Turn the paths given to a scan into readable log sources: files, directories and archives.

Archives (.zip, .gz, .tar, .tar.gz/.tgz) are read in memory, never extracted to disk, and guarded:
a member whose name tries to escape (absolute, ``..``, links, devices) is refused and reported; the
expanded size of each member and of the whole archive is capped, and so is the compression ratio,
so a bomb stops with a clear issue instead of filling memory. Nested archives are followed one level.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from enclave.cyber.errors import ArchiveRefused, CyberError
from enclave.cyber.model import ParseIssue


@dataclass(frozen=True)
class Limits:
    """Caps that keep a hostile archive from exhausting memory."""

    max_member_bytes: int = 1024 * 1024 * 1024
    max_archive_bytes: int = 4 * 1024 * 1024 * 1024
    max_ratio: float = 200.0  # expanded / compressed, above which a member counts as a bomb
    max_members: int = 100_000
    max_depth: int = 2


@dataclass(frozen=True)
class Source:
    """One log file to parse; ``open`` returns a fresh binary stream each time."""

    name: str
    open: Callable[[], BinaryIO]
    size: int | None


def _is_archive_name(name: str) -> bool:
    low = name.lower()
    return low.endswith((".zip", ".gz", ".tgz", ".tar"))


def _unsafe_name(name: str) -> str | None:
    """Why a member name is refused, or None when it is safe."""
    norm = name.replace("\\", "/")
    if not norm or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(norm).parts:
        return "path traversal ('..')"
    if "\x00" in norm:
        return "NUL in name"
    return None


def _read_capped(stream: BinaryIO, cap: int, name: str) -> bytes:
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise ArchiveRefused(
            f"{name}: expands beyond {cap} bytes; refused as a possible archive bomb",
            hint="unpack it yourself and scan the files, or raise the limit if the log is genuine",
        )
    return data


class _Budget:
    def __init__(self, limits: Limits, archive: str) -> None:
        self.limits = limits
        self.archive = archive
        self.used = 0
        self.members = 0

    def take(self, nbytes: int, compressed: int | None, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveRefused(f"{self.archive}: more than {self.limits.max_members} members; refused")
        self.used += nbytes
        if self.used > self.limits.max_archive_bytes:
            raise ArchiveRefused(
                f"{self.archive}: expands beyond {self.limits.max_archive_bytes} bytes in total; refused as a possible "
                "archive bomb"
            )
        if compressed is not None and nbytes > 1024 * 1024 and nbytes > self.limits.max_ratio * max(compressed, 1):
            raise ArchiveRefused(
                f"{name}: compression ratio {nbytes / max(compressed, 1):.0f}:1 exceeds "
                f"{self.limits.max_ratio:.0f}:1; refused as a possible archive bomb"
            )


def _bytes_source(name: str, data: bytes) -> Source:
    return Source(name=name, open=lambda: io.BytesIO(data), size=len(data))


def _expand_bytes(
    name: str, data: bytes, limits: Limits, depth: int, issues: list[ParseIssue], budget: _Budget
) -> Iterator[Source]:
    """A member's bytes: an archive again (one more level) or a log file."""
    if _is_archive_name(name) and depth < limits.max_depth:
        yield from _expand_archive(name, lambda: io.BytesIO(data), len(data), limits, depth + 1, issues, budget)
    else:
        yield _bytes_source(name, data)


def _expand_archive(
    name: str,
    opener: Callable[[], BinaryIO],
    size: int,
    limits: Limits,
    depth: int,
    issues: list[ParseIssue],
    budget: _Budget | None = None,
) -> Iterator[Source]:
    budget = budget or _Budget(limits, name)
    low = name.lower()
    try:
        if low.endswith(".zip"):
            with zipfile.ZipFile(opener()) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    member = f"{name}!{info.filename}"
                    why = _unsafe_name(info.filename)
                    if why is None and (info.external_attr >> 16) & 0o170000 == 0o120000:
                        why = "symbolic link"
                    if why:
                        issues.append(ParseIssue(member, None, "file", f"archive member refused: {why}"))
                        continue
                    budget.take(info.file_size, info.compress_size, member)
                    with zf.open(info) as handle:
                        data = _read_capped(handle, min(limits.max_member_bytes, info.file_size), member)
                    yield from _expand_bytes(member, data, limits, depth, issues, budget)
        elif low.endswith((".tar", ".tar.gz", ".tgz")):
            with tarfile.open(fileobj=opener(), mode="r:*") as tf:
                for info in tf:
                    member = f"{name}!{info.name}"
                    if info.isdir():
                        continue
                    why = _unsafe_name(info.name)
                    if why is None and not info.isfile():
                        why = "link or special file"
                    if why:
                        issues.append(ParseIssue(member, None, "file", f"archive member refused: {why}"))
                        continue
                    budget.take(info.size, None, member)
                    handle = tf.extractfile(info)
                    if handle is None:
                        continue
                    data = _read_capped(handle, limits.max_member_bytes, member)
                    yield from _expand_bytes(member, data, limits, depth, issues, budget)
        elif low.endswith(".gz"):
            inner = name[: -len(".gz")]
            with gzip.GzipFile(fileobj=opener()) as gz:
                data = _read_capped(gz, limits.max_member_bytes, name)
            budget.take(len(data), size, name)
            yield from _expand_bytes(inner, data, limits, depth, issues, budget)
        else:
            yield Source(name=name, open=opener, size=size)
    except ArchiveRefused as exc:
        issues.append(ParseIssue(name, None, "file", exc.message))
    except (zipfile.BadZipFile, tarfile.TarError, gzip.BadGzipFile, EOFError, OSError, ValueError) as exc:
        issues.append(ParseIssue(name, None, "file", f"corrupt archive: {exc}"))


def expand_paths(paths: list[Path], issues: list[ParseIssue], limits: Limits | None = None) -> Iterator[Source]:
    """Every log source under ``paths`` (files, directories recursively, archives), in a stable order."""
    limits = limits or Limits()
    for path in paths:
        if not path.exists():
            raise CyberError(f"{path}: no such file or directory", hint="check the path given to `enclave cyber scan`")
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path.is_dir() else [path]
        for file in files:
            opener = _file_opener(file)
            if _is_archive_name(file.name):
                yield from _expand_archive(str(file), opener, file.stat().st_size, limits, 1, issues)
            else:
                yield Source(name=str(file), open=opener, size=file.stat().st_size)


def _file_opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")
