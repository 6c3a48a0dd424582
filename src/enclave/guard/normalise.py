"""Normalisation: undo the tricks that hide a request from pattern matching and from a human reader.

Every later layer inspects *views* of the text rather than the raw string: the NFKC-normalised text
with invisible and bidi characters removed and look-alike letters folded to Latin, a leetspeak-folded
view, text smuggled in Unicode tag characters, and base64/hex/percent-encoded payloads decoded for
inspection. What was found is reported as flags so a caller can show why a message was treated
the way it was.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

# Bidirectional controls (Trojan-Source style reordering) — removed and flagged separately.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that render as nothing (or as blank) but survive copy and paste.
_EXTRA_INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164\uffa0\ufff9\ufffa\ufffb"
)
_TAG_BASE = 0xE0000


def is_invisible(ch: str) -> bool:
    """True for format characters (Cf), variation selectors, tag characters and blank fillers."""
    cp = ord(ch)
    if ch in _EXTRA_INVISIBLE or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF:
        return True
    return unicodedata.category(ch) == "Cf"


# Look-alike letters from Cyrillic, Greek and Latin extensions folded onto ASCII (after NFKC, which
# already folds full-width and mathematical alphanumerics). Only applied inside words that are
# mixed-script or made entirely of look-alikes in an otherwise Latin message.
_CONFUSABLES = {
    # Cyrillic lower
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "г": "r", "ѕ": "s", "т": "t",
    "џ": "u", "ѵ": "v", "ԝ": "w", "х": "x", "у": "y", "ү": "y", "ь": "b", "ɡ": "g", "п": "n", "и": "u",
    # Cyrillic upper
    "А": "A", "В": "B", "С": "C", "Е": "E", "Ё": "E", "Н": "H", "І": "I", "Ї": "I", "Ј": "J", "К": "K",
    "М": "M", "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ү": "Y", "Ԝ": "W", "Ԛ": "Q",
    "Ӏ": "I", "Ь": "b",
    # Greek lower / upper
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j", "ѡ": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    # Latin extensions and IPA look-alikes
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ɪ": "i", "ʀ": "r", "ʏ": "y", "ᴀ": "a", "ʙ": "b", "ᴄ": "c",
    "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o",
    "ᴘ": "p", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z", "ø": "o", "ß": "ss",
}  # fmt: skip
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
# Typographic quotes and dashes folded to ASCII so rules need only one spelling ("don’t" = "don't").
_PUNCT = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-"})

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s",
                       "|": "l", "!": "i", "+": "t", "€": "e"})  # fmt: skip
_WORD = re.compile(r"\w+", re.UNICODE)
_LEET_TOKEN = re.compile(r"(?<![\w@$|!+€])[\w@$|!+€]*[A-Za-z][\w@$|!+€]*(?![\w@$|!+€])")
_LEET_CHARS = frozenset("0134578@$|!+€")
# Quantities and ordinals ("155mm", "3rd", "2x4", "24h") are not leetspeak.
_MEASURE = re.compile(
    r"^\d+(?:[.,]\d+)?(?:st|nd|rd|th|mm|cm|km|m|kg|g|t|h|hrs?|s|min|hz|khz|mhz|ghz|kb|mb|gb|tb|k|x\d+|v|w|kw|l)?$", re.I
)

_B64 = re.compile(
    r"(?<![A-Za-z0-9+/=_-])(?:[A-Za-z0-9+/]{4}){4,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?(?![A-Za-z0-9+/=])"
)
_B64URL = re.compile(r"(?<![A-Za-z0-9_=-])[A-Za-z0-9_-]{20,}={0,2}(?![A-Za-z0-9_=-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:0x)?(?:[0-9A-Fa-f]{2}(?:[\s:,]|\\x)?){12,}")
_PCT = re.compile(r"(?:%[0-9A-Fa-f]{2}[^%\s]{0,3}){6,}")
MAX_DECODE_DEPTH = 3
MAX_PAYLOADS = 8


@dataclass(frozen=True)
class Normalised:
    """The result of normalisation: the canonical text, extra views to inspect, and what was found."""

    original: str
    text: str  # NFKC, invisible/bidi removed, look-alikes folded, whitespace collapsed
    views: tuple[tuple[str, str], ...]  # (kind, text): "leet", "tags", "base64", "hex", "percent"
    flags: frozenset[str]
    invisible_removed: int

    def all_texts(self) -> list[str]:
        """The canonical text followed by every distinct extra view (what later layers inspect)."""
        seen = {self.text}
        out = [self.text]
        for _, view in self.views:
            if view not in seen:
                seen.add(view)
                out.append(view)
        return out


def strip_invisible(text: str) -> tuple[str, int, bool]:
    """Remove invisible and bidi characters; return the text, how many were removed, any bidi."""
    out = []
    removed = 0
    bidi = False
    for ch in text:
        if ch in BIDI_CONTROLS:
            bidi = True
            removed += 1
        elif is_invisible(ch):
            removed += 1
        else:
            out.append(ch)
    return "".join(out), removed, bidi


def decode_tag_characters(text: str) -> str:
    """Text smuggled in Unicode tag characters (U+E0020..E007E mirror printable ASCII)."""
    return "".join(chr(ord(ch) - _TAG_BASE) for ch in text if 0xE0020 <= ord(ch) <= 0xE007E)


def canonical(text: str) -> str:
    """NFKC with invisible/bidi characters removed and line separators unified; idempotent.

    Stripping can let NFKC compose characters that were kept apart by an invisible one, and NFKC
    can in principle produce a format character, so both run until the text stops changing.
    """
    current = text.replace("\u2028", "\n").replace("\u2029", "\n")
    for _ in range(8):
        stripped, _, _ = strip_invisible(current)
        nxt = unicodedata.normalize("NFKC", stripped)
        if nxt == current:
            return nxt
        current = nxt
    return current


def _latin_letters(word: str) -> int:
    return sum(1 for ch in word if "a" <= ch.lower() <= "z")


def fold_confusables(text: str) -> tuple[str, bool]:
    """Fold look-alike letters to Latin inside mixed-script words (and all-look-alike words when the
    message is mostly Latin). Genuine Cyrillic or Greek prose is left alone.

    Folding can make a message "mostly Latin", which can fold more words, so it runs to a fixpoint
    (that keeps ``normalise`` idempotent)."""
    changed = False
    for _ in range(4):
        text, step = _fold_once(text)
        if not step:
            break
        changed = True
    return text, changed


def _fold_once(text: str) -> tuple[str, bool]:
    words = _WORD.findall(text)
    latin_words = sum(1 for w in words if _latin_letters(w) == len(w) and w.isalpha())
    mostly_latin = latin_words >= max(1, len(words) // 2)
    changed = False

    def fold(match: re.Match[str]) -> str:
        nonlocal changed
        word = match.group(0)
        foreign = [ch for ch in word if ch.isalpha() and not ("a" <= ch.lower() <= "z")]
        if not foreign or any(ch not in _CONFUSABLES for ch in foreign):
            return word
        if _latin_letters(word) or mostly_latin:
            changed = True
            return word.translate(_CONFUSABLE_TABLE)
        return word

    return _WORD.sub(fold, text), changed


def fold_leetspeak(text: str) -> str:
    """Fold digits and symbols used as letters ("b0mb", "s4r1n") inside tokens that contain letters."""

    def fold(match: re.Match[str]) -> str:
        token = match.group(0)
        if len(token) > 24 or _MEASURE.match(token) or not any(ch in _LEET_CHARS for ch in token):
            return token
        return token.translate(_LEET)

    return _LEET_TOKEN.sub(fold, text)


def _texty(data: bytes) -> str | None:
    """Decoded bytes as text when they look like human-readable text, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 6:
        return None
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t")
    letters = sum(1 for ch in text if ch.isalpha())
    if printable / len(text) < 0.95 or letters / len(text) < 0.4 or not re.search(r"[A-Za-z]{3}", text):
        return None
    return text


def _decode_b64(token: str, urlsafe: bool) -> str | None:
    padded = token + "=" * (-len(token) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _texty(raw)


def _decode_hex(token: str) -> str | None:
    digits = re.sub(r"0x|\\x|[\s:,]", "", token)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return _texty(bytes.fromhex(digits))
    except ValueError:
        return None


def decode_payloads(text: str, depth: int = 0) -> list[tuple[str, str]]:
    """Base64 (standard and URL-safe), hex and percent-encoded runs that decode to readable text,
    recursively (a payload inside a payload) up to ``MAX_DECODE_DEPTH``."""
    found: list[tuple[str, str]] = []
    if depth >= MAX_DECODE_DEPTH:
        return found
    candidates: list[tuple[str, str | None]] = []
    for m in _B64.finditer(text):
        candidates.append(("base64", _decode_b64(m.group(0), urlsafe=False)))
    for m in _B64URL.finditer(text):
        if "-" in m.group(0) or "_" in m.group(0):
            candidates.append(("base64", _decode_b64(m.group(0).rstrip("="), urlsafe=True)))
    for m in _HEX.finditer(text):
        candidates.append(("hex", _decode_hex(m.group(0))))
    for m in _PCT.finditer(text):
        decoded = urllib.parse.unquote(m.group(0))
        candidates.append(("percent", decoded if decoded != m.group(0) else None))
    for kind, decoded in candidates:
        if decoded is None or len(found) >= MAX_PAYLOADS:
            continue
        decoded = canonical(decoded)
        found.append((kind, decoded))
        found.extend(decode_payloads(decoded, depth + 1))
    return found[:MAX_PAYLOADS]


def normalise(text: str) -> Normalised:
    """Build the canonical text and every view later layers inspect, with flags for what was found."""
    flags: set[str] = set()
    hidden = decode_tag_characters(text)
    _, removed, bidi = strip_invisible(text)
    if removed:
        flags.add("invisible-chars")
    if bidi:
        flags.add("bidi-control")
    if hidden.strip():
        flags.add("tag-chars")
    canon = canonical(text)
    folded, homoglyphs = fold_confusables(canon)
    if homoglyphs:
        flags.add("homoglyphs")
    folded = " ".join(folded.translate(_PUNCT).split())
    views: list[tuple[str, str]] = []
    leet = fold_leetspeak(folded)
    if leet != folded:
        flags.add("leetspeak")
        views.append(("leet", leet))
    if hidden.strip():
        views.append(("tags", " ".join(fold_confusables(canonical(hidden))[0].split())))
    for kind, decoded in decode_payloads(canon):
        flags.add("encoded-payload")
        view = " ".join(fold_confusables(decoded)[0].split())
        views.append((kind, view))
        leet_view = fold_leetspeak(view)
        if leet_view != view:
            views.append(("leet", leet_view))
    return Normalised(text, folded, tuple(views), frozenset(flags), removed)
