"""Citation parsing and support scoring: does each answer sentence follow from what it cites?

A small local model will write sentences its sources do not support, and will forget to cite.
Each sentence is scored against its cited sources by lexical recall of its content words (numbers
must match exactly: they are usually the key fact) and by embedding similarity. Uncited sentences
are attributed to the best-supporting source when one supports them well enough (the citation is
then marked ``attributed``); sentences no source supports are flagged as unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from enclave.embed import Embedder

CITATION_RE = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\-]{2,}|\d[\d,.:/]*\d|\d")
NO_ANSWER = "The sources available to you do not answer this question."
_NON_CLAIMS = (
    "the sources do not answer",
    "the sources available to you do not answer",
    "i cannot answer",
    "no information",
)
STOPWORDS = frozenset(
    """the and for are but not you all any can had her was one our out has have from this that with
    they will would there their what which when where who whom why how into than then them these those
    its it's also been being were does did doing about above after again against between both each
    few more most other some such only own same very just should could may might must shall
    source sources according question answer based""".split()
)
SUPPORT_THRESHOLD = 0.55
LEXICAL_WEIGHT = 0.6


@dataclass(frozen=True)
class Sentence:
    text: str  # without citation markers
    raw: str  # as written, with markers
    cited: tuple[int, ...]


def parse_citations(text: str) -> list[int]:
    """Every source number cited in ``text``, in order of first appearance."""
    seen: list[int] = []
    for match in CITATION_RE.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return seen


def split_sentences(text: str) -> list[Sentence]:
    """Split an answer into sentences; a citation right after a full stop belongs to the sentence before."""
    pieces = [p.strip() for p in _SENTENCE_END_RE.split(text) if p and p.strip()]
    merged: list[str] = []
    for piece in pieces:
        leading = re.match(r"^((?:\[\s*\d[\d\s,;]*\]\s*)+)(.*)$", piece, re.S)
        if leading and merged:
            merged[-1] = f"{merged[-1]} {leading.group(1).strip()}"
            piece = leading.group(2).strip()
            if not piece:
                continue
        merged.append(piece)
    return [Sentence(text=_without_citations(s), raw=s, cited=tuple(parse_citations(s))) for s in merged]


def _without_citations(sentence: str) -> str:
    text = re.sub(r"\s{2,}", " ", CITATION_RE.sub("", sentence))
    return re.sub(r"\s+([.,;:!?])", r"\1", text).strip()


def _normalise_number(token: str) -> str:
    return token.replace(",", "").rstrip(".")


def content_terms(text: str) -> set[str]:
    terms = set()
    for token in _WORD_RE.findall(text.lower()):
        if token[0].isdigit():
            terms.add(_normalise_number(token))
        elif token not in STOPWORDS:
            terms.add(token)
    return terms


def is_claim(sentence: str) -> bool:
    lowered = sentence.lower()
    return len(content_terms(sentence)) >= 2 and not any(lowered.startswith(p) for p in _NON_CLAIMS)


class SupportScorer:
    """Scores sentence-vs-source support; shares the process-wide embedder."""

    def __init__(self, embedder: Embedder | None) -> None:
        self.embedder = embedder

    def lexical(self, sentence: str, source: str) -> float:
        terms = content_terms(sentence)
        if not terms:
            return 1.0
        source_terms = content_terms(source)
        recall = len(terms & source_terms) / len(terms)
        numbers = {t for t in terms if t[0].isdigit()}
        if numbers - source_terms:  # a number the source does not contain is a wrong fact
            recall *= 0.5
        return recall

    def score_matrix(self, sentences: Sequence[str], sources: Sequence[str]) -> np.ndarray:
        """(len(sentences), len(sources)) support scores in [0, 1]."""
        if not sentences or not sources:
            return np.zeros((len(sentences), len(sources)), dtype=np.float32)
        lexical = np.array([[self.lexical(s, src) for src in sources] for s in sentences], dtype=np.float32)
        if self.embedder is None:
            return lexical
        vectors = self.embedder.embed([*sentences, *sources])
        cosine = np.clip(vectors[: len(sentences)] @ vectors[len(sentences) :].T, 0.0, 1.0)
        numbers_ok = np.array(
            [
                [
                    0.5 if {t for t in content_terms(s) if t[0].isdigit()} - content_terms(src) else 1.0
                    for src in sources
                ]
                for s in sentences
            ],
            dtype=np.float32,
        )
        return LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * cosine * numbers_ok
