"""Bytes to text for the text-based formats, refusing binary content and undecodable encodings.

UTF-8 (with or without BOM) and BOM-marked UTF-16/32 are taken as they are; anything else goes to
charset-normalizer, and a file it cannot decode with confidence is refused rather than read as
mojibake (a marking misread as garbage is a security problem, not a cosmetic one).
"""

from __future__ import annotations

import codecs

from enclave.ingest.errors import Refused

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than tab, LF, FF, CR (and ESC, seen in some legacy text) mark binary content.
_CONTROL = frozenset(range(32)) - {9, 10, 12, 13, 27}
_MAX_CHAOS = 0.2


def _looks_binary(data: bytes) -> str | None:
    sample = data[:65536]
    nul = sample.find(b"\x00")
    if nul >= 0:
        return f"binary content (NUL byte at offset {nul})"
    controls = sum(1 for b in sample if b in _CONTROL)
    if controls > max(4, len(sample) // 100):
        return f"binary content ({controls} control bytes in the first {len(sample)} bytes)"
    return None


def decode_text(data: bytes) -> tuple[str, str]:
    """Return (text, encoding). Raises ``Refused`` for binary or undecodable content."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise Refused(f"invalid {encoding} text at byte {exc.start}") from None
    reason = _looks_binary(data)
    if reason:
        raise Refused(reason)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.chaos > _MAX_CHAOS:
        raise Refused("unknown text encoding: not UTF-8 and no encoding decodes it with confidence")
    return str(best), best.encoding


def normalise_newlines(text: str) -> str:
    """CRLF/CR to LF so line numbers and offsets mean the same thing in every format."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
