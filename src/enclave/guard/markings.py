"""Finding and removing classification markings that a model wrote into its answer.

Enclave renders markings itself from Label objects; a marking in model output is at best noise and
at worst a spillage signal (text marked above the reader's clearance) or a forgery. Candidate spans
are found by shape (runs of upper-case marking words, ``//`` forms, parenthesised portion marks,
"Classification:" lines) and then *confirmed* with ``enclave.labels`` parsing, so ordinary prose
("keep it secret") is left alone while anything the label parser accepts is treated as a marking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enclave.labels import Label, LabelError, parse_label, parse_portion

# Words that make an upper-case run worth parsing (levels of the bundled policies, their prefixes
# and common restrictive/releasability words). Parsing decides; this only limits the work.
_KEYWORDS = (
    r"UNCLASSIFIED|UNCLAS|RESTRICTED|CONFIDENTIAL|CONFIDENTIEL|SECRET|COSMIC|TOP\s+SECRET|OFFICIAL(?:-SENSITIVE)?"
    r"|GEHEIM|VS-[A-ZÄÖÜ]+|VERTRAULICH|OFFEN|DIFFUSION\s+RESTREINTE|TR[ÈE]S\s+SECRET|NON\s+PROT[ÉE]G[ÉE]|SANS\s+CLASSIFICATION"
    r"|NOFORN|ATOMAL|REL\s+TO|RELEASABLE\s+TO|NOT\s+RELEASABLE|FOUO|CUI|NATO"
)
_UPPER_WORD = r"[A-ZÀ-ÖØ-Þ0-9][A-ZÀ-ÖØ-Þ0-9\-]*"
_SEP = r"(?:\s*//\s*|\s*/\s*|\s*,\s*|\s+-\s+|[ \t]+)"
_RUN = re.compile(rf"{_UPPER_WORD}(?:{_SEP}{_UPPER_WORD})*")
_KEYWORD = re.compile(rf"(?<![A-Za-z])(?:{_KEYWORDS})(?![a-z])")
# Title-case forms ("Nato Secret", "Top Secret") are markings too; lower-case prose ("keep it secret",
# "a top secret plan") is not.
_ANYCASE = re.compile(
    r"\b(?:Nato|Cosmic)\s+(?:Unclassified|Restricted|Confidential|Secret|Top\s+Secret)\b(?:\s+Atomal)?"
    r"|\bTop\s+Secret\b(?:\s*//\s*[\w ,/-]+)?|\b(?:Secret|Confidential)\s*//\s*[\w ,/-]+"
)
_PORTION = re.compile(r"\(\s*[A-Za-z][A-Za-z0-9 /,\-]{0,60}\)")
_CLASSIFICATION_LINE = re.compile(
    r"^[ \t>*#_\-=|]*(?:classification|classified|marking|security classification|einstufung|classifi[ée]+)"
    r"\s*[:\-][^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_DECORATION = re.compile(r"^[\s*#_\-=|>~]*$")


@dataclass(frozen=True)
class MarkingSpan:
    start: int
    end: int
    text: str
    label: Label


def _try_parse(text: str) -> Label | None:
    try:
        return parse_label(text)
    except LabelError:
        return None
    except Exception:  # a parser bug must not let a marking through: treat as unparseable
        return None


def _try_portion(text: str) -> Label | None:
    try:
        return parse_portion(text)
    except LabelError:
        return None
    except Exception:
        return None


def _best_in_run(run: str, offset: int) -> list[MarkingSpan]:
    """The longest parseable sub-spans of an upper-case run (word-aligned), left to right."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", run)]
    spans: list[MarkingSpan] = []
    i = 0
    while i < len(words):
        found = None
        for j in range(len(words), i, -1):
            piece = run[words[i][0] : words[j - 1][1]].strip(" ,-/")
            if not piece or not _KEYWORD.search(piece):
                continue
            label = _try_parse(piece)
            if label is not None:
                found = (j, MarkingSpan(offset + words[i][0], offset + words[j - 1][1], piece, label))
                break
        if found is None:
            i += 1
        else:
            spans.append(found[1])
            i = found[0]
    return spans


def find_markings(text: str) -> list[MarkingSpan]:
    """Every span of ``text`` that ``enclave.labels`` parses as a marking, in order, non-overlapping."""
    spans: list[MarkingSpan] = []
    for m in _PORTION.finditer(text):
        label = _try_portion(m.group(0))
        if label is not None:
            spans.append(MarkingSpan(m.start(), m.end(), m.group(0), label))
    for m in _RUN.finditer(text):
        if _KEYWORD.search(m.group(0)):
            spans.extend(_best_in_run(m.group(0), m.start()))
    for m in _ANYCASE.finditer(text):
        label = _try_parse(m.group(0).strip(" ,-/"))
        if label is not None:
            spans.append(MarkingSpan(m.start(), m.end(), m.group(0), label))
    for m in _CLASSIFICATION_LINE.finditer(text):
        value = m.group(0).split(":", 1)[-1] if ":" in m.group(0) else m.group(0).split("-", 1)[-1]
        label = _try_parse(value.strip(" *_#|"))
        if label is not None:
            spans.append(MarkingSpan(m.start(), m.end(), m.group(0), label))
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[MarkingSpan] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            if span.end > merged[-1].end:
                last = merged[-1]
                merged[-1] = MarkingSpan(last.start, span.end, text[last.start : span.end], last.label)
            continue
        merged.append(span)
    return merged


def _remove_once(text: str) -> str:
    spans = find_markings(text)
    if not spans:
        return text
    out = []
    pos = 0
    for span in spans:
        out.append(text[pos : span.start])
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def _tidy(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        stripped = line.rstrip()
        cleaned = re.sub(r"(?<=\S)[ \t]{2,}", " ", stripped)
        cleaned = re.sub(r"\s+([,.;:!?])", r"\1", cleaned)
        if _DECORATION.fullmatch(cleaned) and stripped != "":
            continue  # a line that held only a banner (and its decoration)
        # a removed portion mark leaves one leading space; real indentation (2+ spaces, tabs) is kept
        lines.append(cleaned[1:] if cleaned.startswith(" ") and not cleaned.startswith("  ") else cleaned)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_markings(text: str) -> str:
    """Remove model-written markings: banner lines, portion marks, "Classification:" lines and
    inline marking phrases. Runs to a fixpoint, so removing one marking cannot leave another
    (e.g. "NATO NATO SECRET SECRET") behind."""
    current = text
    for _ in range(10):
        nxt = _tidy(_remove_once(current))
        if nxt == current:
            break
        current = nxt
    if find_markings(current):  # pathological input: fail closed rather than pass a marking on
        return "[answer withheld: it contained classification markings that could not be removed]"
    return current
