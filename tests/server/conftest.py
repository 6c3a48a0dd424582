"""Fixtures: labelled homes built with the real ingest pipeline, users with tokens, apps and live servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from enclave.config import Settings

from .helpers import CORPUS, USERS, EchoEngine, LiveServer, write_corpus


@dataclass
class Home:
    """An initialised Enclave home holding a prefix of the test corpus, and a token per user."""

    settings: Settings
    store: Any
    audit: Any
    embedder: Any
    tokens: dict[str, str]
    documents: dict[str, int] = field(default_factory=dict)  # corpus file name -> document id
    docs_dir: Path | None = None

    def normalise(self, data: Any) -> Any:
        """A response with what legitimately differs between homes removed (ids, times, audit ids, paths)."""
        volatile = {"id", "created", "audit_id", "start_audit_id", "time", "timestamp", "ingested_at"}
        if isinstance(data, dict):
            return {k: self.normalise(v) for k, v in data.items() if k not in volatile}
        if isinstance(data, list):
            return [self.normalise(v) for v in data]
        if isinstance(data, str) and self.docs_dir is not None:
            return data.replace(str(self.docs_dir), "<docs>")
        return data

    def assistant(self, engine: Any = None, *, guards: bool = False) -> Any:
        from enclave.assist.pipeline import Assistant

        input_guard = output_guard = None
        if guards:
            from enclave.guard import InputGuard, OutputGuard

            input_guard, output_guard = InputGuard(self.settings), OutputGuard()
        return Assistant(
            store=self.store, embedder=self.embedder, engine=engine or EchoEngine(), audit=self.audit,
            input_guard=input_guard, output_guard=output_guard, max_tokens=64,
        )  # fmt: skip

    def app(self, engine: Any = None, **kwargs: Any) -> Any:
        from enclave.server import create_app

        guards = kwargs.pop("guards", False)
        return create_app(self.settings, assistant=self.assistant(engine, guards=guards), **kwargs)

    def headers(self, user: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}

    def close(self) -> None:
        self.store.close()
        self.audit.close()


def build_home(root: Path, n_docs: int, *, max_queue: int = 8, guard: bool = False) -> Home:
    """A home with the first ``n_docs`` corpus documents, ingested by the real pipeline."""
    from enclave.audit import open_audit
    from enclave.embed import EMBED_DIM, load_embedder
    from enclave.home import init_home
    from enclave.identity import UserDirectory
    from enclave.ingest.pipeline import ingest_paths
    from enclave.labels import Clearance
    from enclave.store import open_store

    init_home(root)
    config = root / "enclave.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f"\n[server]\nmax_queue = {max_queue}\n\n[guard]\nenabled = {str(guard).lower()}\n",
        encoding="utf-8",
    )
    from enclave.config import load_settings

    settings = load_settings(root, environ={})
    store = open_store(settings, embed_dim=EMBED_DIM)
    audit = open_audit(settings)
    embedder = load_embedder(settings)
    names = [name for name, _, _ in CORPUS[:n_docs]]
    docs = root.parent / "docs"
    summary = ingest_paths(
        write_corpus(docs, names), store=store, embedder=embedder, settings=settings, ingested_by="test-setup",
        audit=audit,
    )  # fmt: skip
    assert not summary.refused, [i.reason for i in summary.refused]
    documents = {Path(i.source).name: i.document_id for i in summary.items}
    directory = UserDirectory(store, audit, actor="test-setup")
    tokens = {}
    for user in USERS:
        clearance = Clearance.create(
            level=user.level, nationality=user.nationality, memberships=user.memberships, holds=user.holds
        )
        _, tokens[user.name] = directory.add(user.name, clearance, user.roles)
    return Home(settings, store, audit, embedder, tokens, documents, docs)


@pytest.fixture(autouse=True)
def _no_enclave_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ENCLAVE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Home]]:
    """Homes holding the first 2, 3, 4 and all 5 corpus documents (built lazily, shared by the session)."""
    built: dict[int, Home] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, n: int) -> Home:
            built[n] = self[n] = build_home(tmp_path_factory.mktemp(f"home{n}") / "home", n)
            return built[n]

    yield Lazy()  # type: ignore[misc]
    for home in built.values():
        home.close()


@pytest.fixture(scope="session")
def full(homes: dict[int, Home]) -> Home:
    return homes[len(CORPUS)]


@pytest.fixture
def client(full: Home) -> Iterator[TestClient]:
    """The app over the full corpus with the prompt-echoing engine (in-process, real ASGI stack)."""
    with TestClient(full.app(), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def live(homes: dict[int, Home]) -> Iterator[tuple[Home, LiveServer]]:
    """A live uvicorn server on loopback over the full corpus with the echo engine (a token every 2 ms)."""
    home = homes[len(CORPUS)]
    with LiveServer(home.app(EchoEngine(delay_s=0.002))) as server:
        yield home, server
