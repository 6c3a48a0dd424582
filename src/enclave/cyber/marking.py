"""The logs' label, as seen by the cyber service.

Every scan carries exactly one label (``--label`` or the site's system-high) and everything derived
from it -- events, alerts, incidents, triage summaries, the HTML report -- inherits it. Markings are
always rendered by Enclave from the parsed label, never copied from free text or model output.

``enclave.labels`` is the single source of truth for parsing and rendering. Until it is importable
this module keeps the label as an opaque, upper-cased marking so that the rest of the pipeline is
already wired; unknown markings then fail closed as soon as the real parser is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from enclave.cyber.errors import CyberError


@dataclass(frozen=True)
class LogLabel:
    """The parsed label plus its rendered forms (banner for pages, portion mark for lines)."""

    text: str
    banner: str
    portion: str
    data: dict[str, Any]
    value: Any = None  # the enclave.labels.Label when available

    def to_dict(self) -> dict[str, Any]:
        return {"banner": self.banner, "portion": self.portion, "label": self.data}


def _labels_api() -> Any | None:
    try:
        import enclave.labels as labels_mod
    except ImportError:  # pragma: no cover - the labels package always exists in a full install
        return None
    needed = ("parse_label", "render_banner", "render_portion", "label_to_dict")
    return labels_mod if all(hasattr(labels_mod, n) for n in needed) else None


def resolve_label(text: str | None, system_high: str) -> LogLabel:
    """Parse ``text`` (or the system-high marking) into the label that the scan inherits."""
    raw = (text if text is not None else system_high).strip()
    if not raw:
        raise CyberError("the logs' label is empty", hint="pass --label 'NATO SECRET' or set [labels] system_high")
    api = _labels_api()
    if api is None:
        marking = " ".join(raw.upper().split())
        return LogLabel(text=raw, banner=marking, portion=f"({marking})", data={"marking": marking})
    try:
        label = api.parse_label(raw)
    except Exception as exc:  # LabelError and friends: fail closed with the parser's message
        raise CyberError(
            f"cannot use {raw!r} as the logs' label: {exc}",
            hint="give a marking the site's label policy knows, e.g. --label 'NATO SECRET'",
        ) from exc
    return LogLabel(
        text=raw,
        banner=api.render_banner(label),
        portion=api.render_portion(label),
        data=api.label_to_dict(label),
        value=label,
    )
