"""The HTML report: summary, incidents, ATT&CK tactic matrix, timeline, credits. One offline file.

Everything is inline (CSS, no scripts, no fonts, no images, no links that load anything), so the
file opens on an air-gapped workstation. Every value from the logs is HTML-escaped: log content is
attacker-controlled. The label banner is rendered at the top and bottom of the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from enclave.cyber.attack import TACTIC_NAMES, TACTICS

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
.banner{text-align:center;font-weight:700;letter-spacing:.08em;padding:6px;color:#fff}
main{max-width:1200px;margin:0 auto;padding:16px 24px}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccd;padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde;border-radius:6px;padding:10px 16px}
.card b{display:block;font-size:1.6em}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9em}
th,td{border:1px solid #dde;padding:4px 6px;vertical-align:top;text-align:left}th{background:#eef0f4}
.sev-critical{background:#7a0019;color:#fff}.sev-high{background:#c0392b;color:#fff}
.sev-medium{background:#e67e22;color:#fff}.sev-low{background:#f1c40f}.sev-informational{background:#bdc3c7}
.matrix td{width:6%;font-size:.8em}.hit{background:#fde2e1}
.tl{position:relative;height:18px;background:#eef0f4;margin:2px 0}
.tl span{position:absolute;top:0;height:18px;min-width:3px}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}
details{margin:4px 0}pre{white-space:pre-wrap;background:#fff;border:1px solid #dde;padding:8px}
"""

_COLOURS = {
    "red": "#c0392b",
    "orange": "#d35400",
    "green": "#27ae60",
    "blue": "#2c3e91",
    "yellow": "#b7950b",
    "purple": "#6c3483",
    "black": "#222",
}


def _banner_colour(label_value: Any) -> str:
    try:
        from enclave.labels import banner_colour

        name = banner_colour(label_value) if label_value is not None else "red"
    except Exception:  # labels API not importable yet, or an unknown label: the safe default is red
        name = "red"
    return _COLOURS.get(str(name).lower(), "#c0392b")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _ts(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _incident_rows(incidents: list[dict[str, Any]]) -> str:
    rows = []
    for inc in incidents:
        rules = "<br>".join(
            f"{_e(r['title'])} <small>({_e(r['level'])}; by {_e(r['author'])}; <span class='mono'>{_e(r['path'])}"
            "</span>)</small>"
            for r in inc["rules"][:12]
        )
        evidence = "<br>".join(
            f"<span class='mono'>{_e(ev['source'])} #{_e(ev['record'])}</span> {_e(ev['time'])} {_e(ev['summary'])}"
            for ev in inc["evidence"][:8]
        )
        triage = ""
        if inc.get("triage"):
            triage = f"<details><summary>Triage</summary><pre>{_e(inc['triage'].get('text'))}</pre></details>"
        rows.append(
            f"<tr class='incident'><td>{_e(inc['id'])}</td>"
            f"<td class='sev-{_e(inc['severity'])}'>{_e(inc['severity'])}</td>"
            f"<td>{_e(inc['host'])}</td><td>{_e(', '.join(inc['users'][:5]))}</td>"
            f"<td>{_e(inc['first_seen'])}<br>{_e(inc['last_seen'])}</td>"
            f"<td>{_e(', '.join(TACTIC_NAMES.get(t, t) for t in inc['tactics']))}<br><small>"
            f"{_e(', '.join(inc['techniques']))}</small></td><td>{inc['alert_count']}</td>"
            f"<td>{rules}<details><summary>Evidence</summary>{evidence}</details>{triage}</td></tr>"
        )
    return "".join(rows)


def _matrix(matrix: dict[str, dict[str, Any]]) -> str:
    used = [t for t in TACTICS if t in matrix] or list(TACTICS)
    head = "".join(f"<th>{_e(TACTIC_NAMES[t])}</th>" for t in used)
    cells = []
    for tactic in used:
        cell = matrix.get(tactic)
        if not cell:
            cells.append("<td></td>")
            continue
        items = "<br>".join(
            f"{_e(tech)} ({count})" for tech, count in sorted(cell["techniques"].items(), key=lambda kv: -kv[1])[:15]
        )
        cells.append(f"<td class='hit'><b>{cell['alerts']} alerts</b><br>{items}</td>")
    return f"<table class='matrix' id='attack-matrix'><tr>{head}</tr><tr>{''.join(cells)}</tr></table>"


def _timeline(incidents: list[dict[str, Any]]) -> str:
    spans = [(_ts(i["first_seen"]), _ts(i["last_seen"]), i) for i in incidents]
    spans = [(a, b if b is not None else a, i) for a, b, i in spans if a is not None]
    if not spans:
        return "<p>No timed incidents.</p>"
    lo = min(a for a, _, _ in spans)
    hi = max(b for _, b, _ in spans)
    width = max(hi - lo, 1.0)
    rows = []
    for a, b, inc in spans[:200]:
        left = 100 * (a - lo) / width
        size = max(0.4, 100 * (b - a) / width)
        rows.append(
            f"<tr><td>{_e(inc['id'])}</td><td style='width:80%'><div class='tl'>"
            f"<span class='sev-{_e(inc['severity'])}' "
            f"style='left:{left:.2f}%;width:{min(size, 100 - left):.2f}%' title='{_e(inc['first_seen'])} - "
            f"{_e(inc['last_seen'])}'></span></div></td></tr>"
        )
    return (
        f"<p>{_e(datetime.fromtimestamp(lo, tz=UTC).isoformat())} to "
        f"{_e(datetime.fromtimestamp(hi, tz=UTC).isoformat())}</p>"
        f"<table id='timeline'>{''.join(rows)}</table>"
    )


def render_html(result: dict[str, Any], label_value: Any = None) -> str:
    """The report for a scan result (the same dictionary ``--json`` prints)."""
    label = result["label"]
    colour = _banner_colour(label_value)
    banner = f"<div class='banner' style='background:{colour}'>{_e(label['banner'])}</div>"
    summary = result["summary"]
    cards = "".join(
        f"<div class='card'><b>{_e(v)}</b>{_e(k)}</div>"
        for k, v in (
            ("events", summary["events"]),
            ("incidents", summary["incidents"]),
            ("alerts", summary["alerts"]),
            ("rules loaded", summary["rules_loaded"]),
            ("rules not usable", summary["rules_failed"]),
            ("unreadable records", summary["parse_issues"]),
        )
    )
    credits = "".join(
        f"<tr><td>{_e(r['title'])}</td><td>{_e(r['author'])}</td><td>{_e(r['level'])}</td>"
        f"<td class='mono'>{_e(r['id'])}"
        f"</td><td class='mono'>{_e(r['path'])}</td><td>{_e(r['hits'])}</td></tr>"
        for r in result["rule_hits"]
    )
    failures = "".join(
        f"<tr><td class='mono'>{_e(f['path'])}</td><td>{_e(f['title'])}</td><td>{_e(f['reason'])}</td></tr>"
        for f in result["rule_failures"][:2000]
    )
    issues = "".join(
        f"<tr><td class='mono'>{_e(i['source'])}</td><td>{_e(i['unit'])} {_e(i['offset'])}</td>"
        f"<td>{_e(i['reason'])}</td>"
        "</tr>"
        for i in result["parse_issues"][:2000]
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{_e(label["banner"])} - Enclave cyber scan report</title><style>{_CSS}</style></head>
<body>{banner}<main>
<h1>Enclave cyber scan report</h1>
<p>Generated {_e(result["generated"])} from {_e(len(result["inputs"]))} input path(s). All content is marked
{_e(label["banner"])}.</p>
<section id="summary"><h2>Summary</h2><div class="cards">{cards}</div></section>
<section><h2>Incidents</h2><table id="incidents"><tr><th>Id</th><th>Severity</th><th>Host</th><th>Users</th>
<th>First / last seen</th><th>ATT&amp;CK</th><th>Alerts</th><th>Detections and evidence</th></tr>
{_incident_rows(result["incidents"])}</table></section>
<section><h2>ATT&amp;CK tactic matrix</h2>{_matrix(result["attack_matrix"])}</section>
<section><h2>Timeline</h2>{_timeline(result["incidents"])}</section>
<section><h2>Detection credits</h2><p>Sigma rules are used under the Detection Rule License 1.1; each is credited
to its author.</p><table id="credits"><tr><th>Rule</th><th>Author</th><th>Level</th><th>Id</th><th>Rule file</th>
<th>Hits</th></tr>{credits}</table></section>
<section><h2>Rules that could not be used ({len(result["rule_failures"])})</h2><table id="rule-failures">
<tr><th>File</th><th>Title</th><th>Reason</th></tr>{failures}</table></section>
<section><h2>Unreadable input ({len(result["parse_issues"])})</h2><table id="parse-issues"><tr><th>Source</th>
<th>Where</th><th>Reason</th></tr>{issues}</table></section>
</main>{banner}</body></html>
"""
