"""Zip-bomb defence for zip containers (DOCX, .zip attachments), checked before anything is inflated.

The central directory declares each member's sizes; those are checked first (cheap), and the actual
inflation is then bounded so a directory that lies about sizes is caught too.
"""

from __future__ import annotations

import io
import zipfile

from enclave.ingest.errors import Refused


def open_zip(data: bytes, what: str, *, max_total: int, max_ratio: int, max_members: int) -> zipfile.ZipFile:
    """Open a zip archive after checking its declared sizes. Raises ``Refused`` for bombs and junk."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise Refused(f"corrupt {what}: not a readable zip container ({exc})") from None
    if len(members) > max_members:
        raise Refused(f"{what} has {len(members)} zip members (limit {max_members}): refused as a possible zip bomb")
    total = 0
    for info in members:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1_000_000 and ratio > max_ratio:
            raise Refused(
                f"zip bomb in {what}: member {info.filename!r} inflates {info.compress_size} to {info.file_size} bytes "
                f"(ratio {ratio:.0f}, limit {max_ratio})"
            )
        if total > max_total:
            raise Refused(f"{what} inflates to more than {max_total} bytes (zip bomb or oversized); refused")
        if info.flag_bits & 0x1:
            raise Refused(f"{what} has an encrypted zip member {info.filename!r}")
    return archive


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, *, max_bytes: int) -> bytes:
    """Inflate one member, stopping as soon as it exceeds ``max_bytes`` whatever the directory said."""
    out = bytearray()
    try:
        with archive.open(info) as fh:
            while chunk := fh.read(65536):
                out += chunk
                if len(out) > max_bytes:
                    raise Refused(f"zip bomb in {what}: member {info.filename!r} inflates past {max_bytes} bytes")
    except Refused:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise Refused(f"corrupt {what}: member {info.filename!r}: {exc}") from None
    return bytes(out)
