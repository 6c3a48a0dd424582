"""Windows EVTX files through pyevtx-rs (the ``evtx`` package), record by record.

A damaged chunk is skipped with the record ids it held (pyevtx-rs reports them as a warning);
the rest of the file is still read.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import evtx

from enclave.cyber.model import ParseIssue
from enclave.cyber.parsers.base import loads
from enclave.cyber.parsers.windows import add_meta, flatten_evtx_json
from enclave.cyber.sources import Source

_RECORDS = re.compile(r"record IDs (\d+)")


def parse(source: Source, issues: list[ParseIssue]) -> Iterator[dict[str, Any]]:
    with source.open() as handle:
        try:
            parser = evtx.PyEvtxParser(handle, number_of_threads=1, skip_errors=True)
        except (OSError, RuntimeError, ValueError) as exc:
            issues.append(ParseIssue(source.name, 0, "byte", f"not a readable EVTX file: {exc}"))
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                for record in parser.records_json():
                    try:
                        event = loads(record["data"])
                    except (ValueError, KeyError) as exc:
                        issues.append(
                            ParseIssue(source.name, record.get("event_record_id"), "record", f"bad record JSON: {exc}")
                        )
                        continue
                    fields = flatten_evtx_json(event)
                    # EventRecordID is what Event Viewer shows; the chunk header's id is the fallback
                    rec = fields.get("EventRecordID") or record.get("event_record_id")
                    if fields.get("TimeCreated_SystemTime") is None and record.get("timestamp"):
                        fields["TimeCreated_SystemTime"] = record["timestamp"]
                    yield add_meta(fields, source.name, rec)
                    if caught:
                        _drain(caught, source, issues)
            except (OSError, RuntimeError) as exc:
                issues.append(ParseIssue(source.name, None, "record", f"EVTX parsing stopped: {exc}"))
            _drain(caught, source, issues)


def _drain(caught: list[warnings.WarningMessage], source: Source, issues: list[ParseIssue]) -> None:
    for warning in caught:
        text = str(warning.message)
        match = _RECORDS.search(text)
        issues.append(ParseIssue(source.name, int(match.group(1)) if match else None, "record", text))
    caught.clear()
