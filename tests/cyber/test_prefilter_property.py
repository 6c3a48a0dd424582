"""Property: the prefilter, distinct-row partitions and span-by-span matching never change which events match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclave.cyber import sigma_run
from enclave.cyber.parsers.windows import add_meta, flatten_flat
from enclave.cyber.sigma_rules import load_rules
from enclave.cyber.sigma_stream import StreamingRules
from enclave.cyber.store import EventStore

ALPHABET = "abAB\\. é😀-/"
texts = st.text(alphabet=ALPHABET, min_size=0, max_size=8)
literals = st.text(alphabet=ALPHABET, min_size=1, max_size=5).filter(lambda s: s.strip() and "'" not in s)
modifiers = st.sampled_from(["", "|contains", "|startswith", "|endswith", "|contains|all", "|re", "|windash|contains"])
fields = st.sampled_from(["Image", "CommandLine"])


@st.composite
def selections(draw):
    items = {}
    for _ in range(draw(st.integers(1, 2))):
        field = draw(fields)
        modifier = draw(modifiers)
        values = draw(st.lists(literals, min_size=1, max_size=3))
        if modifier == "|re":
            values = [v.replace("\\", "\\\\").replace(".", "\\.") for v in values]
        items[f"{field}{modifier}"] = values
    return items


@st.composite
def rules(draw):
    condition = draw(st.sampled_from(["sel", "sel and not flt", "sel or flt", "sel and flt", "1 of sel*"]))
    return {"sel": draw(selections()), "flt": draw(selections()), "condition": condition}


def _yaml(rule: dict, index: int) -> str:
    detection = {"sel": rule["sel"], "flt": rule["flt"], "condition": rule["condition"]}
    if rule["condition"] == "1 of sel*":
        detection = {"sel_a": rule["sel"], "sel_b": rule["flt"], "condition": "1 of sel*"}
    doc = {
        "title": f"Random rule {index}",
        "id": f"00000000-0000-0000-0000-{index:012d}",
        "author": "hypothesis",
        "logsource": {"category": "process_creation", "product": "windows"},
        "detection": detection,
    }
    return json.dumps(doc, ensure_ascii=False)  # JSON is YAML


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rule_specs=st.lists(rules(), min_size=1, max_size=3),
    rows=st.lists(st.tuples(texts, texts), min_size=1, max_size=25),
    span_rows=st.integers(1, 10),
)
def test_fast_path_equals_plain_sql(tmp_path_factory: pytest.TempPathFactory, rule_specs, rows, span_rows):
    directory: Path = tmp_path_factory.mktemp("rules")
    for i, spec in enumerate(rule_specs):
        (directory / f"r{i}.yml").write_text(_yaml(spec, i))
    ruleset = load_rules([directory])
    store = EventStore()
    events = [
        {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": image, "CommandLine": cmd}
        for image, cmd in rows
    ]
    store.add(add_meta(flatten_flat(e), "t.jsonl", i) for i, e in enumerate(events))
    store.finish_loading()
    streamed = EventStore()
    saved = (
        sigma_run.DEDUP_MIN_ROWS,
        sigma_run.DEDUP_MIN_RULES,
        sigma_run.PREFILTER_MIN_ROWS,
        sigma_run.PREFILTER_MIN_RULES,
    )
    try:
        sigma_run.DEDUP_MIN_ROWS = sigma_run.DEDUP_MIN_RULES = 1
        sigma_run.PREFILTER_MIN_ROWS = sigma_run.PREFILTER_MIN_RULES = 1
        fast = {h.rule.meta.id: h.rowids for h in sigma_run.run_rules(store, ruleset).hits}
        streaming = StreamingRules(streamed, ruleset, span_rows=span_rows)
        for i, e in enumerate(events):  # rules matched span by span while events arrive
            streamed.add([add_meta(flatten_flat(e), "t.jsonl", i)])
            streaming.rows_stored(streamed.count)
        streamed.finish_loading()
        # one event per add: rowids differ from the batch insert's, so compare the events' record ids
        records = dict(streamed.conn.execute("SELECT rowid, _rec FROM logs"))
        spans = {h.rule.meta.id: sorted(records[r] for r in h.rowids) for h in streaming.finish().hits}
        sigma_run.DEDUP_MIN_ROWS = 10**9
        sigma_run.SKIP_EMPTY = False
        plain = {h.rule.meta.id: h.rowids for h in sigma_run.run_rules(store, ruleset).hits}
        records = dict(store.conn.execute("SELECT rowid, _rec FROM logs"))
        plain_records = {k: sorted(records[r] for r in v) for k, v in plain.items()}
    finally:
        (
            sigma_run.DEDUP_MIN_ROWS,
            sigma_run.DEDUP_MIN_RULES,
            sigma_run.PREFILTER_MIN_ROWS,
            sigma_run.PREFILTER_MIN_RULES,
        ) = saved
        sigma_run.SKIP_EMPTY = True
        store.close()
        streamed.close()
    assert fast == plain
    assert spans == plain_records
