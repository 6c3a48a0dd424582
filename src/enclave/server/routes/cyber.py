"""``POST /v1/cyber/scans``: upload security logs, get detections, incidents and triage as JSON.

The logs carry a label (the ``label`` form field, else the site's system-high); the caller must be
cleared for it, since everything derived from the logs inherits it. The site's Sigma rules
(``[cyber] rules_dirs``) are loaded once and reused by every scan. Triage uses the engine, so a
scan with triage takes a place in the engine queue like a chat request (503 + ``Retry-After`` when
full) and holds the engine only while the model writes.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile

from enclave.identity import Principal
from enclave.labels import can_read, parse_label, render_banner
from enclave.server.auth import require
from enclave.server.errors import ApiError, busy_error, error_responses
from enclave.server.gate import EngineBusy, EngineGate
from enclave.server.routes._common import parse_ceiling, safe_name, upload_dir
from enclave.server.state import Services, services

router = APIRouter(tags=["cyber"])
_COPY_CHUNK = 1 << 20
MAX_FILES = 64
_RULES_LOCK = threading.Lock()


class GatedEngine:
    """The shared engine, taken through the gate for each generation (one at a time, like chats)."""

    def __init__(self, engine: Any, gate: EngineGate) -> None:
        self._engine = engine
        self._gate = gate

    @property
    def model_id(self) -> str:
        return self._engine.model_id

    @property
    def model_sha256(self) -> str | None:
        return self._engine.model_sha256

    def chat(self, messages: Any, **kwargs: Any) -> Any:
        with self._gate.generating():
            return self._engine.chat(messages, **kwargs)

    def stream(self, messages: Any, **kwargs: Any) -> Any:
        with self._gate.generating():
            return iter(list(self._engine.stream(messages, **kwargs)))

    def close(self) -> None:  # the server owns the engine
        return None


def _ruleset(svc: Services) -> Any:
    """The site's rules, loaded on first use and cached for the server's lifetime."""
    with _RULES_LOCK:
        cached = svc.cache.get("sigma_rules")
        if cached is None:
            from enclave.cyber.sigma_rules import RuleSet, load_rules

            dirs = [svc.settings.in_home(d) for d in svc.settings.cyber.rules_dirs]
            cached = load_rules(dirs) if dirs else RuleSet()
            svc.cache["sigma_rules"] = cached
        return cached


def run_cyber_scan(svc: Services, paths: Sequence[Path], *, label: str, triage: bool, actor: str) -> dict[str, Any]:
    """The default scan: ``enclave.cyber.scan.run_scan`` with the site's rules, engine and audit log."""
    from enclave.cyber.scan import ScanOptions, run_scan

    cfg = svc.settings.cyber
    options = ScanOptions(
        label=label, triage_limit=cfg.triage_incidents, actor=actor,
        incident_gap=timedelta(minutes=cfg.incident_gap_minutes),
    )  # fmt: skip
    result = run_scan(
        list(paths), system_high=svc.settings.labels.system_high, options=options,
        engine=GatedEngine(svc.engine, svc.gate) if triage else None, audit=svc.audit, ruleset=_ruleset(svc),
    )  # fmt: skip
    return result.to_dict()


@router.post(
    "/v1/cyber/scans",
    response_model=dict[str, Any],
    responses=error_responses(400, 401, 403, 413, 500, 503),
)
def create_scan(
    files: Annotated[
        list[UploadFile], File(description="Log files or archives (EVTX, JSON/JSONL, auth.log, Zeek, EVE)")
    ],
    label: Annotated[str | None, Form(max_length=500, description="The logs' label (default: system-high)")] = None,
    triage: Annotated[bool, Form(description="Have the model write a triage summary per incident")] = True,
    principal: Principal = Depends(require("read")),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    """Scan the uploaded logs with the Sigma rules and behavioural analytics; returns the report as JSON."""
    if not files or len(files) > MAX_FILES:
        raise ApiError(400, f"send between 1 and {MAX_FILES} files", param="files")
    explicit = label.strip() if label and label.strip() else None
    log_label = parse_ceiling(explicit) if explicit else parse_label(svc.settings.labels.system_high)
    if log_label is None or not can_read(principal.clearance, log_label):
        shown = render_banner(log_label) if log_label is not None else explicit
        raise ApiError(403, f"the logs' label {shown} is above your clearance", type="permission_error",
                       code="label_above_clearance", param="label")  # fmt: skip
    ticket = None
    if triage:
        try:
            ticket = svc.gate.enter()
        except EngineBusy as exc:
            raise busy_error(exc) from None
    try:
        with tempfile.TemporaryDirectory(prefix="enclave-scan-", dir=upload_dir(svc.settings.home)) as tmp:
            paths, used = [], set()
            for i, upload in enumerate(files):
                name = safe_name(upload.filename)
                name = name if name not in used else f"{i}-{name}"
                used.add(name)
                path = Path(tmp) / name
                with path.open("wb") as out:
                    while block := upload.file.read(_COPY_CHUNK):
                        out.write(block)
                paths.append(path)
            scan = svc.cyber_scan or run_cyber_scan
            data = scan(svc, paths, label=render_banner(log_label), triage=triage, actor=principal.name)
    finally:
        if ticket is not None:
            ticket.release()
    # temporary paths are an implementation detail: report the uploaded names
    return json.loads(json.dumps(data, default=str).replace(tmp + "/", ""))
