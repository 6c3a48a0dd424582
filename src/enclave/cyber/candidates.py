"""Candidate rows of a distinct-row table per rule: the rows holding at least one of its needles.

A rule's *needles* (see :mod:`enclave.cyber.prefilter`) are (field, lower-cased substring) pairs
of which one must occur for the rule to match. Looking each needle up separately costs one pass
over a field's text per needle, and a large rule set has thousands of needles. Instead, all the
needles of one field go into a single Aho-Corasick automaton (``pyahocorasick``), and each
*distinct* lower-cased value of the field is scanned once: a column of 30,000 rows often holds a
few dozen images or a few thousand command lines. The search is exact substring matching, so the
candidate set is the same as ``str.find`` would give -- it only ever narrows which rows a rule's
own SQL looks at, never what matches.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_right
from collections.abc import Callable, Iterable
from itertools import accumulate

import ahocorasick

from enclave.cyber.prefilter import NON_ASCII, Needles

MAX_SHARE = 0.3  # a rule whose candidates exceed this share of the rows is simply scanned in full
SEPARATOR = "\x00"


class _FieldIndex:
    """One field's distinct lower-cased values, and which of the tier's needles each one holds.

    The values are joined by NUL into one text that the automaton walks at C speed, so Python only
    runs per *hit* (a value holding a needle), not per value; a hit's value is found by bisecting
    the start offsets. A needle holding NUL itself could straddle two values: it is looked up in
    each value on its own.
    """

    def __init__(self, values: dict[str, list[str]], literals: set[str]) -> None:
        self.hits: dict[str, list[str]] = {}  # needle -> group_concat'ed rowid lists of matching values
        texts = list(values)
        groups = list(values.values())
        found: set[tuple[str, int]] = set()
        automaton = ahocorasick.Automaton()
        for literal in literals:
            if literal != NON_ASCII and SEPARATOR not in literal:
                automaton.add_word(literal, literal)
        if len(automaton) > 0 and texts:
            automaton.make_automaton()
            starts = list(accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
            for end, literal in automaton.iter(SEPARATOR.join(texts)):
                found.add((literal, bisect_right(starts, end) - 1))
        for literal in literals:
            if literal == NON_ASCII:
                found.update((literal, i) for i, text in enumerate(texts) if not text.isascii())
            elif SEPARATOR in literal:
                found.update((literal, i) for i, text in enumerate(texts) if literal in text)
        for literal, i in found:
            self.hits.setdefault(literal, []).extend(groups[i])

    def rows(self, literal: str) -> set[int]:
        return {int(r) for rids in self.hits.get(literal, ()) for r in rids.split(",")}


class CandidateFinder:
    """Per distinct-row table: rows that may match each rule (None: scan them all).

    ``column`` maps a rule's field name to the table's quoted column. Field indexes are built on
    first use with every needle of that field in the tier, then cached, as are needle row sets:
    many rules share needles (``\\powershell.exe``).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        table: str,
        needle_sets: Iterable[Needles | None],
        column: Callable[[str], str],
        *,
        enabled: bool,
        min_rows: int = 0,
    ) -> None:
        self.conn = conn
        self.table = table
        self.column = column
        self.rows = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        self.enabled = enabled and self.rows >= min_rows
        self.literals: dict[str, set[str]] = {}
        for needles in needle_sets:
            for name, literal in needles or ():
                self.literals.setdefault(name.lower(), set()).add(literal)
        self.fields: dict[str, _FieldIndex] = {}
        self.cache: dict[tuple[str, str], set[int]] = {}

    def _field(self, name: str) -> _FieldIndex:
        key = name.lower()
        index = self.fields.get(key)
        if index is None:
            column = self.column(name)
            values: dict[str, list[str]] = {}
            # BINARY grouping: values differing only in case are distinct rows, lowered alike here
            sql = (
                f"SELECT {column}, group_concat(rowid) FROM {self.table} "
                f"WHERE {column} IS NOT NULL GROUP BY {column} COLLATE BINARY"
            )
            for value, rids in self.conn.execute(sql):
                values.setdefault(str(value).lower(), []).append(str(rids))
            index = _FieldIndex(values, self.literals.get(key, set()))
            self.fields[key] = index
        return index

    def candidates(self, needles: Needles | None) -> set[int] | None:
        """Rows that may match a rule with these needles (None: no prefilter, scan every row)."""
        if not self.enabled or not needles:
            return None
        found: set[int] = set()
        limit = self.rows * MAX_SHARE
        for name, literal in needles:
            key = (name.lower(), literal)
            rows = self.cache.get(key)
            if rows is None:
                rows = self._field(name).rows(literal)
                self.cache[key] = rows
            found |= rows
            if len(found) > limit:
                return None
        return found

    def close(self) -> None:
        self.fields.clear()
        self.cache.clear()
