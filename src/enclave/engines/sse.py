"""Server-sent events: the ``data`` payloads of an ``text/event-stream`` body.

Follows the WHATWG event-stream rules that matter for OpenAI-style streams: ``data:`` lines (one
optional space after the colon is dropped) accumulate until a blank line dispatches the event,
several ``data`` lines join with newlines, comment lines (``:``) and other fields (``event``,
``id``, ``retry``) are ignored, and an event still pending when the body ends is dispatched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """Yield each event's data from an iterable of lines (without their line terminators)."""
    buffer: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue
        field, sep, value = line.partition(":")
        if not sep:
            value = ""
        elif value.startswith(" "):
            value = value[1:]
        if field == "data":
            buffer.append(value)
    if buffer:
        yield "\n".join(buffer)
