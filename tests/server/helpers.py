"""Shared test helpers: a labelled corpus, users, fake engines and a live uvicorn server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from enclave.engines.base import ChatMessage, ChatResult, StreamChunk, Usage

# Documents in ingest order. Every document carries a canary string that must never reach a caller
# who may not read it. Readable material comes first so the chunk/document ids of a prefix of this
# list are the same in every home built from it (that is what the differential tests rely on).
CORPUS: list[tuple[str, str, str]] = [
    (
        "public.txt",
        "NATO UNCLASSIFIED REL TO NATO, AUS",
        "Exercise HARBOR LANTERN public information\n\nExercise HARBOR LANTERN runs from 3 to 14 May 2027 near the "
        "port of Veldhaven. About 2,000 troops from nine nations take part. Reference CANARYPUBLICALPHA.",
    ),
    (
        "partner.txt",
        "NATO RESTRICTED REL TO NATO, AUS",
        "HARBOR LANTERN liaison arrangements\n\nAustralian liaison officers join HARBOR LANTERN at the Veldhaven "
        "harbour office on 2 May 2027. Reference CANARYPARTNERBRAVO.",
    ),
    (
        "restricted.txt",
        "NATO RESTRICTED",
        "HARBOR LANTERN logistics\n\nThe fuel depot supporting HARBOR LANTERN is at Kestrel Ridge, 12 km north "
        "of Veldhaven. Convoys run at night. Reference CANARYRESTRICTEDCHARLIE.",
    ),
    (
        "secret.txt",
        "NATO SECRET",
        "HARBOR LANTERN reserve plan\n\nThe reserve battalion for HARBOR LANTERN lands at Grey Harbour on 9 May "
        "2027 under the codeword OPALFALCON. Reference CANARYSECRETDELTA.",
    ),
    (
        "atomal.txt",
        "NATO SECRET ATOMAL",
        "HARBOR LANTERN special annex\n\nThe special annex for HARBOR LANTERN is held at Stonegate vault under "
        "codeword IRONWILLOW. Reference CANARYATOMALECHO.",
    ),
]

# Strings unique to each document (its canary, codeword and distinctive place names and title).
SECRETS: dict[str, tuple[str, ...]] = {
    "public.txt": ("CANARYPUBLICALPHA",),
    "partner.txt": ("CANARYPARTNERBRAVO", "liaison officers", "LIAISON", "liaison arrangements"),
    "restricted.txt": ("CANARYRESTRICTEDCHARLIE", "Kestrel Ridge", "KESTREL", "logistics"),
    "secret.txt": ("CANARYSECRETDELTA", "OPALFALCON", "Grey Harbour", "reserve battalion", "reserve plan"),
    "atomal.txt": ("CANARYATOMALECHO", "IRONWILLOW", "Stonegate", "special annex"),
}


@dataclass(frozen=True)
class UserSpec:
    name: str
    level: str
    nationality: str
    memberships: tuple[str, ...]
    holds: tuple[str, ...]
    roles: tuple[str, ...]
    readable: tuple[str, ...]  # corpus files this user may read (at no ceiling)


USERS: list[UserSpec] = [
    UserSpec("alice", "NATO SECRET", "DEU", ("NATO",), (), ("analyst",),
             ("public.txt", "partner.txt", "restricted.txt", "secret.txt")),
    UserSpec("bob", "NATO RESTRICTED", "DEU", ("NATO",), (), ("analyst",),
             ("public.txt", "partner.txt", "restricted.txt")),
    UserSpec("carol", "NATO SECRET", "AUS", (), (), ("analyst",), ("public.txt", "partner.txt")),
    UserSpec("dave", "NATO SECRET", "DEU", ("NATO",), ("ATOMAL",), ("analyst",), tuple(f for f, _, _ in CORPUS)),
    UserSpec("ingrid", "NATO SECRET", "DEU", ("NATO",), (), ("ingester",),
             ("public.txt", "partner.txt", "restricted.txt", "secret.txt")),
    UserSpec("audrey", "NATO SECRET", "DEU", ("NATO",), (), ("auditor",),
             ("public.txt", "partner.txt", "restricted.txt", "secret.txt")),
    UserSpec("otto", "NATO RESTRICTED", "DEU", ("NATO",), (), ("auditor",),
             ("public.txt", "partner.txt", "restricted.txt")),
    UserSpec("root", "NATO SECRET", "DEU", ("NATO",), ("ATOMAL",), ("admin",), tuple(f for f, _, _ in CORPUS)),
]  # fmt: skip


def corpus_file_text(name: str, banner: str, body: str) -> str:
    return f"{banner}\n\n{body}\n\n{banner}\n"


def write_corpus(folder: Path, names: Sequence[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, banner, body in CORPUS:
        if name in names:
            path = folder / name
            path.write_text(corpus_file_text(name, banner, body), encoding="utf-8")
            paths.append(path)
    return paths


class EchoEngine:
    """A deterministic fake engine that answers with its whole prompt: any leak becomes visible."""

    def __init__(self, model_id: str = "echo-engine", delay_s: float = 0.0) -> None:
        self._model_id = model_id
        self.delay_s = delay_s
        self.calls: list[list[ChatMessage]] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def model_sha256(self) -> str | None:
        return None

    def _text(self, messages: Sequence[ChatMessage]) -> str:
        return "\n\n".join(f"{m.role}: {m.content}" for m in messages)

    def chat(self, messages: Sequence[ChatMessage], **_: Any) -> ChatResult:
        text = "".join(c.text for c in self.stream(messages))
        return ChatResult(text, Usage(len(text.split()), len(text.split())), self._model_id, "stop")

    def stream(self, messages: Sequence[ChatMessage], **_: Any) -> Iterator[StreamChunk]:
        self.calls.append(list(messages))
        text = self._text(messages)
        words = text.split(" ")
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            for i, word in enumerate(words):
                if self.delay_s:
                    time.sleep(self.delay_s)
                yield StreamChunk(text=word if i == 0 else " " + word)
        finally:
            with self._lock:
                self.active -= 1
        yield StreamChunk(text="", finish_reason="stop", usage=Usage(len(words), len(words)))

    def close(self) -> None:
        pass


class ScriptedEngine(EchoEngine):
    """Answers with a fixed text (e.g. one that cites a source that was not given)."""

    def __init__(self, answer: str, delay_s: float = 0.0) -> None:
        super().__init__("scripted-engine", delay_s)
        self.answer = answer

    def _text(self, messages: Sequence[ChatMessage]) -> str:
        return self.answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real uvicorn server on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def readable_files(user: str, ceiling_files: Sequence[str] | None = None) -> set[str]:
    spec = next(u for u in USERS if u.name == user)
    files = set(spec.readable)
    return files & set(ceiling_files) if ceiling_files is not None else files


# Strings no model could come up with on its own (a real model may well write "logistics" or "liaison").
STRONG = ("CANARY", "OPALFALCON", "IRONWILLOW", "Kestrel", "Grey Harbour", "Stonegate")


def leaks(text: str, readable: set[str], question: str = "", *, strong_only: bool = False) -> list[str]:
    """Secret strings of documents outside ``readable`` found in ``text`` (ignoring those the question itself says)."""
    low, asked = text.lower(), question.lower()
    found = []
    for name, secrets in SECRETS.items():
        if name in readable:
            continue
        for secret in secrets:
            if strong_only and not any(secret.startswith(s) for s in STRONG):
                continue
            if secret.lower() in low and secret.lower() not in asked:
                found.append(secret)
    return found
