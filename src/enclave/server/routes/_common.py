"""Small helpers shared by the routers."""

from __future__ import annotations

import os
import re
from pathlib import Path

from enclave.labels import Label, parse_label
from enclave.server.errors import ApiError

CEILING_HEADER = "X-Enclave-Ceiling"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def pick_ceiling(body_value: str | None, header_value: str | None) -> str | None:
    """The session ceiling: the body's value, else the ``X-Enclave-Ceiling`` header."""
    value = body_value if body_value not in (None, "") else header_value
    return value.strip() if value and value.strip() else None


def parse_ceiling(text: str | None) -> Label | None:
    """Parse a ceiling marking; a malformed one is a 400 that names the problem (request text only)."""
    if text is None:
        return None
    from enclave.labels.errors import LabelError

    try:
        return parse_label(text)
    except LabelError as exc:
        raise ApiError(
            400, f"invalid ceiling {text!r}: {exc.message}", code="invalid_ceiling", param="ceiling"
        ) from None


def upload_dir(home: Path) -> Path:
    """Where uploads are spooled: inside the (owner-only) home, never a world-readable /tmp."""
    path = home / "tmp"
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def safe_name(name: str | None) -> str:
    """An uploaded file's name without directories or odd characters (the extension picks the reader)."""
    base = Path((name or "").replace("\\", "/")).name
    return _UNSAFE.sub("_", base).strip("._")[:120] or "upload"
