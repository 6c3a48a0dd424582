"""The prompt: numbered, delimited sources marked as data (spotlighting), then the question.

Each source goes through the guard's ``spotlight``: delimited by ``[[SOURCE n]]`` markers, delimiter
look-alikes and chat-template tokens neutralised, so a document cannot close its own block and
speak as the system. Chunks the injection screen flagged are presented only as quoted lines under a
warning; quarantined ones are withheld.
"""

from __future__ import annotations

from collections.abc import Sequence

from enclave.assist.model import Source
from enclave.engines.base import ChatMessage
from enclave.guard.injection import SPOTLIGHT_SYSTEM_NOTE, spotlight

SYSTEM_PROMPT = (
    "You are Enclave, an assistant for NATO staff officers. Answer the question using only the numbered "
    "sources in the user's message. After each fact, cite the source number in square brackets, like [1]. "
    "If the sources do not contain the answer, say exactly: The sources available to you do not answer this "
    "question. Do not write classification markings; Enclave adds them. " + SPOTLIGHT_SYSTEM_NOTE
)


def render_source(source: Source) -> str:
    """One source as the model sees it: its title and text inside the spotlight delimiters."""
    return spotlight(f"{source.title}\n{source.text.strip()}", source_id=source.n, flags=source.flags)


def build_messages(question: str, sources: Sequence[Source]) -> list[ChatMessage]:
    """System instructions, then one user message with the sources and the question."""
    blocks = "\n\n".join(render_source(s) for s in sources)
    user = f"Sources:\n{blocks}\n\nQuestion: {question.strip()}"
    return [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", user)]
