"""Parsing and rendering markings: banner lines and portion marks, NATO, CAPCO-like and national.

Tolerant of case, accents, spacing and line breaks; strict about meaning. Every token must be
understood: an unknown word, a second classification, a category at a level where it is not
allowed, or two releasability statements raise ``LabelError`` naming the token and its position.
Nothing is ever guessed (a misspelling gets a "did you mean" hint, never a label).

Rendering is canonical, so ``parse_label(render_banner(l)) == l`` and likewise for portion marks.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

from enclave.labels.errors import LabelError
from enclave.labels.model import Label
from enclave.labels.policy import PhraseTable, Policy, Registry, registry
from enclave.labels.tokens import Token, normalise, tokenize

_SEPARATORS = frozenset({"//", "/", ",", "-"})
_REL_WORDS = frozenset({"REL", "RELEASABLE"})
_PORTION_START = re.compile(r"\s*\(([^()\n]{1,160})\)\s*")


@dataclass
class _Match:
    value: object
    end: int  # index after the last token of the match


class _Parser:
    def __init__(self, text: str, reg: Registry) -> None:
        self.text = text
        self.reg = reg
        self.toks = tokenize(text)
        self.norms = [t.norm for t in self.toks]

    # --- helpers -----------------------------------------------------------------------------------

    def fail(self, message: str, tok: Token | None, hint: str | None = None) -> LabelError:
        shown = self.text if len(self.text) <= 160 else self.text[:157] + "..."
        if tok is None:
            return LabelError(f"{message} in marking {shown!r}", hint)
        return LabelError(
            f"{message} at position {tok.pos} in marking {shown!r}", hint, token=tok.raw, position=tok.pos
        )

    def longest(self, table: PhraseTable, i: int, stop: int) -> _Match | None:
        top = table.first.get(self.norms[i])
        if top is None:
            return None
        for n in range(min(top, stop - i), 0, -1):
            key = tuple(self.norms[i : i + n])
            if key in table:
                return _Match(table[key], i + n)
        return None

    def offending(self, prefixes: frozenset, i: int, stop: int) -> Token:
        """The first token where no known phrase continues (for "NATO SECERT": SECERT)."""
        n = 1
        while i + n <= stop and tuple(self.norms[i : i + n]) in prefixes:
            n += 1
        return self.toks[min(i + n - 1, stop - 1)]

    def suggest(self, i: int, stop: int, words: list[str]) -> str | None:
        candidate = " ".join(self.norms[i : min(stop, i + 4)])
        close = difflib.get_close_matches(candidate, words, n=2, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(self.norms[i], words, n=2, cutoff=0.6)
        return f"did you mean {' or '.join(close)}? (nothing is guessed: correct the marking)" if close else None

    def level_words(self) -> list[str]:
        return [" ".join(k) for k in (*self.reg.level_phrases, *self.reg.level_abbrevs)]

    # --- grammar -----------------------------------------------------------------------------------

    def parse(self, *, portion_only: bool = False, policy: str | None = None) -> Label:
        toks = self.toks
        if not toks:
            raise LabelError("empty marking", hint="give a classification such as 'NATO SECRET'")
        start, stop = 0, len(toks)
        portion = toks[0].norm == "("
        if portion:
            close = next((k for k, t in enumerate(toks) if t.norm == ")"), None)
            if close is None:
                raise self.fail("portion mark is not closed with ')'", toks[-1])
            if close != len(toks) - 1:
                raise self.fail("unexpected text after the portion mark", toks[close + 1])
            start, stop = 1, len(toks) - 1
            if start >= stop:
                raise self.fail("empty portion mark", toks[0])
        elif portion_only:
            raise self.fail("not a portion mark (expected e.g. '(NS)')", toks[0])
        for k in range(start, stop):
            if toks[k].norm in ("(", ")"):
                raise self.fail(f"unexpected {toks[k].raw!r}", toks[k])
        capco = portion or "//" in self.norms[start:stop]
        i = start
        if self.norms[i] == "//":
            i += 1
            if i >= stop:
                raise self.fail("no classification after '//'", toks[i - 1])
        pol_id, rank, i, prefix_value = self.parse_level(i, stop, capco)
        if policy is not None and pol_id != policy:
            raise self.fail(f"marking belongs to policy {pol_id}, not {policy}", toks[start])
        return self.parse_rest(pol_id, rank, i, stop, prefix_value)

    def parse_level(self, i: int, stop: int, capco: bool) -> tuple[str, int, int, tuple[str, Token] | None]:
        reg = self.reg
        # "NATO/KFOR CONFIDENTIAL": the policy's prefix, an organisation, then the bare level.
        for pol in reg.policies.values():
            if pol.prefix and self.norms[i] == normalise(pol.prefix) and i + 1 < stop and self.norms[i + 1] == "/":
                j = i + 2
                if j >= stop:
                    raise self.fail(f"expected an organisation after '{pol.prefix}/'", self.toks[i + 1])
                org = self.longest(reg.value_phrases, j, stop)
                if org is None or org.value not in pol.prefix_values:
                    raise self.fail(
                        f"unknown organisation {self.toks[j].raw!r} after '{pol.prefix}/'",
                        self.toks[j],
                        hint=f"{pol.prefix}/ is followed by one of: {', '.join(pol.prefix_values)}",
                    )
                if org.end >= stop:
                    raise self.fail("expected a classification level", self.toks[org.end - 1])
                lvl = self.longest(reg.bare_phrases[pol.id], org.end, stop)
                if lvl is None:
                    bare = [lv.bare for lv in pol.levels if lv.bare]
                    raise self.fail(
                        f"unknown classification {self.toks[org.end].raw!r}",
                        self.toks[org.end],
                        hint=self.suggest(org.end, stop, bare) or f"expected one of: {', '.join(bare)}",
                    )
                return pol.id, lvl.value, lvl.end, (org.value, self.toks[j])  # type: ignore[return-value]
        full = self.longest(reg.level_phrases, i, stop)
        abbr = self.longest(reg.level_abbrevs, i, stop) if capco else None
        best = max((m for m in (full, abbr) if m is not None), key=lambda m: m.end, default=None)
        if best is None:
            if not capco and self.longest(reg.level_abbrevs, i, stop) is not None:
                raise self.fail(
                    f"abbreviation {self.toks[i].raw!r} is only valid in a portion mark or a '//' marking",
                    self.toks[i],
                    hint=f"write ({self.toks[i].raw}) or the full level name",
                )
            bad = self.offending(reg.phrase_prefixes, i, stop)
            raise self.fail(
                f"unknown classification {bad.raw!r}",
                bad,
                hint=self.suggest(i, stop, self.level_words()) or "start the marking with a known level",
            )
        ref = best.value
        return ref.policy, ref.rank, best.end, None  # type: ignore[attr-defined]

    def parse_rest(self, pol_id: str, rank: int, i: int, stop: int, prefix_value: tuple[str, Token] | None) -> Label:
        reg = self.reg
        pol = reg.policy(pol_id)
        cats = reg.category_phrases[pol_id]
        norelease = reg.no_release_tables[pol_id]
        restrictive: dict[str, Token] = {}
        informative: dict[str, Token] = {}
        rel_values: list[str] | None = None
        rel_tok: Token | None = prefix_value[1] if prefix_value else None
        no_release = False
        while i < stop:
            tok = self.toks[i]
            if tok.norm in _SEPARATORS:
                i += 1
                continue
            if tok.norm in _REL_WORDS and i + 1 < stop and self.norms[i + 1] == "TO":
                if rel_tok is not None or no_release:
                    raise self.fail("releasability is given twice", tok, hint="merge into one REL TO list")
                rel_tok = tok
                rel_values, i = self.parse_values(i + 2, stop, pol_id)
                continue
            nr = self.longest(norelease, i, stop)
            if nr is not None:
                if rel_tok is not None or no_release:
                    raise self.fail(f"{tok.raw!r} contradicts the releasability already given", tok)
                no_release, rel_tok, i = True, tok, nr.end
                continue
            cat = self.longest(cats, i, stop)
            if cat is not None:
                spec = pol.categories[str(cat.value)]
                (restrictive if spec.kind == "restrictive" else informative).setdefault(spec.name, tok)
                i = cat.end
                continue
            other = self.longest(reg.level_phrases, i, stop)
            if other is not None:
                raise self.fail(f"second classification {tok.raw!r} contradicts the first", tok)
            raise self.unknown_token(i, stop, pol)
        for name, tok in restrictive.items():
            spec = pol.categories[name]
            if rank < spec.min_rank:
                raise self.fail(
                    f"{name} is only valid at {pol.levels[spec.min_rank].name} and above, "
                    f"not at {pol.levels[rank].name}",
                    tok,
                )
        if rel_values is not None:
            rel = reg.expand(rel_values)
        elif no_release:
            rel = frozenset()
        elif prefix_value is not None:
            rel = pol.default_releasable_to | {prefix_value[0]}
        else:
            rel = pol.default_releasable_to
        return Label(pol_id, rank, "", frozenset(restrictive), rel, frozenset(informative))

    def parse_values(self, i: int, stop: int, pol_id: str) -> tuple[list[str], int]:
        """A releasability list: values separated by ',' or 'AND', ended by anything else."""
        values: list[str] = []
        while True:
            if i >= stop:
                raise self.fail("expected a country, group or organisation after REL TO", self.toks[stop - 1])
            match = self.longest(self.reg.value_phrases, i, stop)
            if match is None:
                bad = self.offending(self.reg.value_prefixes, i, stop)
                raise self.fail(
                    f"unknown country, group or organisation {bad.raw!r}",
                    bad,
                    hint="use ISO 3166 alpha-3 codes (SWE), country names (Sweden) or groups such as NATO, FVEY",
                )
            values.append(str(match.value))
            i = match.end
            if i < stop and self.norms[i] in (",", "AND"):
                nxt = i + 1
                if nxt < stop and self.longest(self.reg.value_phrases, nxt, stop) is not None:
                    i = nxt
                    continue
                if self.norms[i] == "AND" or (nxt < stop and self.is_plain_word(nxt, pol_id)):
                    i = nxt  # a list continues after ',' / 'AND' with a value: this one is unknown
                    continue
            return values, i

    def is_plain_word(self, i: int, pol_id: str) -> bool:
        """True for a word that is not a category, keyword or level (so it must be a bad value)."""
        if self.norms[i] in _SEPARATORS or self.norms[i] in _REL_WORDS:
            return False
        reg = self.reg
        tables = (reg.category_phrases[pol_id], reg.no_release_tables[pol_id], reg.level_phrases)
        return all(self.longest(t, i, len(self.toks)) is None for t in tables)

    def unknown_token(self, i: int, stop: int, pol: Policy) -> LabelError:
        tok = self.toks[i]
        for other in self.reg.policies.values():
            if other.id != pol.id and self.longest(self.reg.category_phrases[other.id], i, stop) is not None:
                return self.fail(f"category {tok.raw!r} belongs to policy {other.id}, not {pol.id}", tok)
        if self.longest(self.reg.value_phrases, i, stop) is not None:
            return self.fail(f"{tok.raw!r} is a releasability value without 'REL TO'", tok)
        words = [" ".join(k) for k in self.reg.category_phrases[pol.id]] + ["REL TO"]
        return self.fail(
            f"unknown marking {tok.raw!r} for a {pol.id} label",
            tok,
            hint=self.suggest(i, stop, words) or f"{pol.id} categories: {', '.join(sorted(pol.categories)) or 'none'}",
        )


# ---------------------------------------------------------------------------------------------------
# Public parsing API


@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str, policy: str | None, portion_only: bool, generation: int) -> Label:
    """Labels are immutable, so a marking seen before (the same banner on many pages) is parsed once.

    ``generation`` keys the cache to the active registry; errors are not cached.
    """
    return _Parser(text, registry()).parse(policy=policy, portion_only=portion_only)


def parse_label(text: str, *, policy: str | None = None) -> Label:
    """A banner line or portion mark in NATO, CAPCO-like or national form (auto-detected)."""
    if not isinstance(text, str):
        raise LabelError(f"a marking must be text, not {type(text).__name__}")
    return _parse_cached(text, policy, False, registry().generation)


def parse_portion(text: str) -> Label:
    """Only a portion mark such as ``(NS)`` or ``(S//REL TO USA, GBR)``."""
    if not isinstance(text, str):
        raise LabelError(f"a marking must be text, not {type(text).__name__}")
    return _parse_cached(text, None, True, registry().generation)


def find_portion_mark(paragraph: str) -> tuple[Label, int] | None:
    """The portion mark at the very start of a paragraph and the offset where its text starts.

    None when the paragraph does not start with a parenthesised level ("(a) item" is not a mark); a
    parenthesised level that is malformed (e.g. "(NU//ATOMAL)") raises ``LabelError``: fail closed.
    """
    match = _PORTION_START.match(paragraph)
    if match is None:
        return None
    inner = match.group(1)
    reg = registry()
    try:
        probe = _Parser(inner, reg)
        bad: LabelError | None = None
    except LabelError as exc:  # an odd character: a mark only if what precedes it starts like one
        probe, bad = _Parser(inner[: exc.position or 0], reg), exc
    toks = probe.toks
    k = 1 if toks and toks[0].norm == "//" else 0
    if k >= len(toks):
        return None
    starts_with_level = any(
        probe.longest(table, k, len(toks)) is not None for table in (reg.level_phrases, reg.level_abbrevs)
    ) or any(p.prefix and probe.norms[k] == normalise(p.prefix) for p in reg.policies.values())
    if not starts_with_level:
        return None
    if bad is not None:
        parse_portion(paragraph[: match.end(1) + 1])  # raises with the position in the paragraph
    label = parse_portion(paragraph[: match.end(1) + 1])
    return label, match.end()


def parse_level(text: str, *, policy: str | None = None) -> tuple[str, int]:
    """A bare level ("NATO SECRET", "NS", "GEHEIM") as (policy id, rank)."""
    reg = registry()
    parser = _Parser(text, reg)
    stop = len(parser.toks)
    if stop == 0:
        raise LabelError("empty classification level", hint="e.g. 'NATO SECRET'")
    tables = [reg.level_phrases, reg.level_abbrevs]
    for table in tables:
        match = parser.longest(table, 0, stop)
        if match is not None and match.end == stop:
            ref = match.value
            if policy is not None and ref.policy != policy:  # type: ignore[attr-defined]
                raise parser.fail(f"level belongs to policy {ref.policy}, not {policy}", parser.toks[0])  # type: ignore[attr-defined]
            return ref.policy, ref.rank  # type: ignore[attr-defined]
    if policy is not None:
        pol = reg.policy(policy)
        for level in pol.levels:
            if normalise(text.strip()) == normalise(level.name):
                return pol.id, level.rank
    bad = parser.offending(reg.phrase_prefixes, 0, stop)
    raise parser.fail(
        f"unknown classification level {bad.raw!r}", bad, hint=parser.suggest(0, stop, parser.level_words())
    )


def parse_value(text: str) -> str:
    """A releasability value (code, country name, group or organisation) in canonical form."""
    reg = registry()
    parser = _Parser(text, reg)
    stop = len(parser.toks)
    match = parser.longest(reg.value_phrases, 0, stop) if stop else None
    if match is None or match.end != stop:
        raise LabelError(
            f"unknown country, group or organisation {text!r}",
            hint="use an ISO 3166 alpha-3 code (DEU) or a group/organisation such as NATO, FVEY, KFOR",
            token=text,
            position=0,
        )
    return str(match.value)


def parse_category(text: str, policy: str) -> str:
    """A category name of ``policy`` in canonical form."""
    reg = registry()
    pol = reg.policy(policy)
    parser = _Parser(text, reg)
    stop = len(parser.toks)
    match = parser.longest(reg.category_phrases[pol.id], 0, stop) if stop else None
    if match is None or match.end != stop:
        raise LabelError(
            f"{text!r} is not a category of policy {pol.id}",
            hint=f"{pol.id} categories: {', '.join(sorted(pol.categories)) or 'none'}",
            token=text,
            position=0,
        )
    return str(match.value)


# ---------------------------------------------------------------------------------------------------
# Rendering


def _releasability(label: Label, pol: Policy, reg: Registry) -> str | None:
    rel = label.releasable_to
    if rel == pol.default_releasable_to:
        return None
    if not rel:
        return pol.no_release_marking
    return "REL TO " + ", ".join(reg.collapse(rel, first=pol.originator))


def _prefix_form(label: Label, pol: Policy) -> str | None:
    """ "NATO/KFOR CONFIDENTIAL" when the label is the default releasability plus one prefix value."""
    level = pol.levels[label.level]
    if not pol.prefix or level.bare is None:
        return None
    extra = label.releasable_to - pol.default_releasable_to
    if len(extra) == 1 and pol.default_releasable_to <= label.releasable_to:
        (value,) = extra
        if value in pol.prefix_values:
            return f"{pol.prefix}/{value} {level.bare}"
    return None


def render_banner(label: Label, lang: str = "en") -> str:
    """The canonical banner line (English or French level names)."""
    if lang not in ("en", "fr"):
        raise LabelError(f"unsupported banner language {lang!r}", hint="use 'en' or 'fr'")
    reg = registry()
    pol = reg.policy(label.policy)
    level = pol.levels[label.level]
    name = level.fr if lang == "fr" else level.name
    restrictive = sorted(label.restrictive)
    informative = sorted(label.informative)
    if pol.style == "capco":
        blocks = [name]
        if restrictive:
            blocks.append("/".join(restrictive))
        if informative:
            blocks.append("/".join(informative))
        rel = _releasability(label, pol, reg)
        if rel:
            blocks.append(rel)
        return "//".join(blocks)
    head = _prefix_form(label, pol)
    rel = None if head else _releasability(label, pol, reg)
    parts = [head or name, *restrictive]
    if informative:
        parts.append("- " + " - ".join(informative))
    if rel:
        parts.append(rel)
    return " ".join(parts)


def render_portion(label: Label) -> str:
    """The canonical portion mark, e.g. ``(NS)``, ``(CTS//BOHEMIA)``, ``(S//REL TO USA, GBR)``."""
    reg = registry()
    pol = reg.policy(label.policy)
    blocks = [pol.levels[label.level].abbrev]
    if label.restrictive:
        blocks.append("/".join(sorted(label.restrictive)))
    if label.informative:
        blocks.append("/".join(sorted(label.informative)))
    rel = _releasability(label, pol, reg)
    if rel:
        blocks.append(rel)
    return "(" + "//".join(blocks) + ")"


def banner_colour(label: Label, target: str = "rich") -> str:
    """The banner colour: a rich colour name (default) or a CSS colour name (``target="css"``)."""
    level = registry().policy(label.policy).levels[label.level]
    if target == "css":
        return level.colour
    if target == "rich":
        return level.rich_colour
    raise LabelError(f"unknown colour target {target!r}", hint="use 'rich' or 'css'")
