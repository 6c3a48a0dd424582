"""Tokenising markings: case-, accent- and spacing-tolerant, but every token keeps its position.

Parsing compares *normalised* tokens (upper case, accents stripped, dashes unified) so
"Nato  secret", "NATO\nSECRET" and "COSMIC TRÈS SECRET" / "COSMIC TRES SECRET" read the same, while
errors still point at the exact character offset of the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from enclave.labels.errors import LabelError

# "//" separator, single-character separators, a free-standing dash, a word (letters/digits, inner
# hyphens and apostrophes allowed: OFFICIAL-SENSITIVE, VS-NUR, D'IVOIRE), or anything else (an error).
_TOKEN = re.compile(
    r"(?P<dslash>//)|(?P<sep>[/,()])|(?P<dash>[-\u2010-\u2015])|(?P<word>[^\W_]+(?:['\u2019\-\u2010\u2011][^\W_]+)*)|(?P<other>\S)",
    re.UNICODE,
)
MAX_MARKING_CHARS = 2000  # a banner line or portion mark; longer input is not a marking
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015"} | {"\u2019": "'"})


@dataclass(frozen=True, slots=True)
class Token:
    raw: str
    norm: str
    pos: int


def normalise(text: str) -> str:
    """Upper case, accents removed, dashes unified: the form markings are compared in."""
    if text.isascii():
        return text.upper()
    decomposed = unicodedata.normalize("NFKD", text.translate(_DASHES))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.upper()


def tokenize(text: str) -> list[Token]:
    """Split a marking into tokens; an unexpected character is a ``LabelError`` at its offset."""
    if len(text) > MAX_MARKING_CHARS:
        raise LabelError(
            f"marking of {len(text)} characters is too long (at most {MAX_MARKING_CHARS})",
            hint="pass the banner line or portion mark only",
            position=MAX_MARKING_CHARS,
        )
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        raw = match.group()
        if match.lastgroup == "other":
            raise LabelError(
                f"unexpected character {raw!r} at position {match.start()} in marking {text.strip()!r}",
                hint="markings contain words, '/', '//', ',', '-' and parentheses only",
                token=raw,
                position=match.start(),
            )
        tokens.append(Token(raw, "-" if match.lastgroup == "dash" else normalise(raw), match.start()))
    return tokens


def phrase_key(text: str) -> tuple[str, ...]:
    """The normalised token tuple a phrase is looked up by."""
    return tuple(t.norm for t in tokenize(text))
