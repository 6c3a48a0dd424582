"""Every fast path added for throughput gives exactly what the plain path gives.

The Aho-Corasick candidate search against ``str.find`` on every row, the grouped batch insert
against inserting one event at a time, orjson against ``json``, the canonical-timestamp shortcut
against the full timestamp parser.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave.cyber import candidates as candidates_module
from enclave.cyber.candidates import CandidateFinder
from enclave.cyber.parsers.base import iso_utc, loads, normalise_iso
from enclave.cyber.prefilter import NON_ASCII
from enclave.cyber.store import EventStore, group_events, quote_ident

ALPHABET = "abAB\\.:é😀İK\x00"  # İ and K (Kelvin) lower-case to more than one character / to ASCII; NUL
values = st.one_of(st.none(), st.text(alphabet=ALPHABET, max_size=10))
literals = st.one_of(st.just(NON_ASCII), st.text(alphabet=ALPHABET, min_size=1, max_size=4).map(str.lower))
needle_sets = st.one_of(
    st.none(), st.frozensets(st.tuples(st.sampled_from(["Image", "CommandLine"]), literals), min_size=1, max_size=4)
)


def _table(store: EventStore, rows: list[tuple[str | None, str | None]]) -> None:
    store.conn.execute("CREATE TEMP TABLE part (Image TEXT COLLATE NOCASE, CommandLine TEXT COLLATE NOCASE)")
    store.conn.executemany("INSERT INTO part VALUES (?, ?)", rows)


def _plain(rows: list[tuple[str | None, str | None]], needles, share: float) -> set[int] | None:
    """The slow path: str.find of each needle in each lower-cased value."""
    if not needles:
        return None
    found: set[int] = set()
    for rowid, row in enumerate(rows, start=1):
        for name, literal in needles:
            value = row[0 if name == "Image" else 1]
            if value is None:
                continue
            text = value.lower()
            if (not text.isascii()) if literal == NON_ASCII else (text.find(literal) != -1):
                found.add(rowid)
    return None if len(found) > len(rows) * share else found


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(values, values), min_size=1, max_size=30), rules=st.lists(needle_sets, max_size=5))
def test_aho_corasick_candidates_equal_str_find(rows, rules):
    store = EventStore()
    try:
        _table(store, rows)
        finder = CandidateFinder(store.conn, "part", rules, quote_ident, enabled=True)
        for needles in rules:
            assert finder.candidates(needles) == _plain(rows, needles, candidates_module.MAX_SHARE)
    finally:
        store.close()


def test_candidates_disabled_below_min_rows():
    store = EventStore()
    try:
        _table(store, [("a", "b")])
        finder = CandidateFinder(store.conn, "part", [], quote_ident, enabled=True, min_rows=2)
        assert finder.candidates(frozenset({("Image", "zzz")})) is None
    finally:
        store.close()


keys = st.sampled_from(["EventID", "Image", "image", "IMAGE", "Channel", "NewField", "newfield", "_host", "Other"])
events = st.lists(
    st.dictionaries(keys, st.one_of(st.none(), st.integers(0, 9), st.text("xyZ", max_size=3))), max_size=40
)


def _dump(store: EventStore) -> tuple[list[str], list[tuple]]:
    cursor = store.conn.execute("SELECT rowid, * FROM logs ORDER BY rowid")
    return [d[0] for d in cursor.description], cursor.fetchall()


def _reference_add(store: EventStore, batch: list[dict]) -> None:
    """The store's former insert (the slow path): keys with a value looked at event by event."""
    groups: dict[tuple[str, ...], list[tuple]] = {}
    for event in batch:
        keys = tuple(k for k, v in event.items() if v is not None)
        if not store._exact.issuperset(keys):
            event = store._normalise_keys(event)
            keys = tuple(event)
        groups.setdefault(keys, []).append(tuple(event[k] for k in keys))
    for keys, rows in groups.items():
        names = ", ".join(quote_ident(k) for k in keys)
        sql = f"INSERT INTO logs ({names}) VALUES ({', '.join('?' * len(keys))})" if keys else None
        store.conn.executemany(sql or "INSERT INTO logs DEFAULT VALUES", rows)


@settings(max_examples=100, deadline=None)
@given(batches=st.lists(events, min_size=1, max_size=3))
def test_grouped_insert_equals_former_insert(batches):
    grouped, reference = EventStore(), EventStore()
    try:
        for batch in batches:
            grouped.add(batch)
            _reference_add(reference, batch)
        assert _dump(grouped) == _dump(reference)
        assert grouped.count == sum(len(b) for b in batches)
    finally:
        grouped.close()
        reference.close()


def test_grouped_insert_replays_batches_with_new_fields_in_event_order():
    store = EventStore()
    try:
        batch = [{"A": 1}, {"B": 2}, {"A": 3, "b": 4}, {"a": None, "B": 5}]
        groups, order = group_events(batch)
        assert list(order) == [0, 1, 2, 1]  # a None value is no key: the last event groups with the second
        assert groups[1] == (("B",), [(2,), (5,)])
        store.add_groups((groups, order))
        names, rows = _dump(store)
        assert [n for n in names if n in ("A", "B", "b")] == ["A", "B"]  # "b" went to column B
        # rows go in per key group, in order of first appearance (as the store always inserted them)
        assert [(r[names.index("A")], r[names.index("B")]) for r in rows] == [
            ("1", None),
            (None, "2"),
            (None, "5"),
            ("3", "4"),
        ]
    finally:
        store.close()


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "\\ud800"}',  # lone surrogate: orjson refuses, json accepts
        '{"a": NaN, "b": Infinity}',
        '{"a": 123456789012345678901234567890}',
        '{"a": [1, 2.5, "x", null, true], "b": {"c": "é"}}',
    ],
)
def test_loads_matches_json(text):
    expected = json.loads(text)
    got = loads(text)
    if isinstance(expected.get("a"), float) and math.isnan(expected["a"]):
        assert math.isnan(got["a"]) and got["b"] == expected["b"]
    else:
        assert got == expected
    assert loads(text.encode("utf-8", "surrogatepass")) == got or "\\ud800" in text


def test_loads_errors_like_json():
    with pytest.raises(ValueError):
        loads('{"a": ')


def _slow_iso(text: str) -> str | None:
    """normalise_iso without its shortcut (a trailing space takes the general path)."""
    return normalise_iso(text + " ")


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)))
def test_canonical_timestamp_shortcut_equals_full_parse(moment):
    text = iso_utc(moment.replace(tzinfo=UTC))
    assert normalise_iso(text) == _slow_iso(text) == text


@pytest.mark.parametrize(
    "text", ["2026-02-30T08:00:00.000000Z", "2026-13-01T08:00:00.000000Z", "2026-01-01T24:00:00.000000Z"]
)
def test_canonical_shape_but_invalid_date_is_rejected_like_full_parse(text):
    assert normalise_iso(text) is None and _slow_iso(text) is None


def test_non_canonical_timestamps_still_parse():
    assert normalise_iso("2026-01-05 08:00:00.1234567") == "2026-01-05T08:00:00.123456Z"
    later = datetime(2026, 1, 5, 8, tzinfo=UTC) + timedelta(hours=2)
    assert normalise_iso("2026-01-05T10:00:00+02:00") == iso_utc(later - timedelta(hours=2))
