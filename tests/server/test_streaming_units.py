"""Pure pieces of the SSE path: portion marks on streamed paragraphs, and token batching."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from enclave.server.streaming import DeltaBatcher, PortionMarker


def _marked(text: str, cuts: list[int]) -> str:
    marker = PortionMarker("(NR)")
    pieces, last = [], 0
    for cut in [*sorted({c % (len(text) + 1) for c in cuts}), len(text)]:
        pieces.append(marker.feed(text[last:cut]))
        last = cut
    return "".join(pieces)


def test_every_paragraph_gets_the_mark_however_tokens_are_cut():
    text = "  First paragraph.\n\nSecond one\nstill second.\n \nThird."
    for cuts in ([], [1, 5, 19, 20], list(range(len(text)))):
        assert _marked(text, cuts) == "(NR) First paragraph.\n\n(NR) Second one\nstill second.\n \n(NR) Third."


@given(st.lists(st.text(alphabet="ab \n", max_size=8), max_size=12), st.lists(st.integers(0, 200), max_size=10))
def test_marking_is_independent_of_token_boundaries(parts, cuts):
    text = "".join(parts)
    assert _marked(text, cuts) == _marked(text, [])
    paragraphs = [p for p in _marked(text, []).split("\n\n") if p.strip()]
    assert all(p.lstrip("\n ").startswith("(NR) ") for p in paragraphs)


def test_batcher_sends_the_first_token_at_once_and_loses_nothing():
    sent: list[str] = []
    batch = DeltaBatcher(sent.append, interval_s=0.05)
    batch.add("a")
    assert sent == ["a"]
    for token in "bcdef":
        batch.add(token)
    assert sent == ["a"]  # within the interval: held back
    time.sleep(0.06)
    batch.add("g")
    batch.add("h")
    batch.flush()
    assert "".join(sent) == "abcdefgh" and len(sent) == 3
