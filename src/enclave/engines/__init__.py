"""Inference engines: the ``Engine`` Protocol and the factory that picks one from the configuration.

Heavy imports (llama_cpp, httpx) happen inside ``create_engine`` so that importing this package
stays cheap for commands that never generate text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from enclave.engines.base import ChatMessage, ChatResult, Engine, StreamChunk, Usage

if TYPE_CHECKING:
    from enclave.config import Settings

__all__ = ["ChatMessage", "ChatResult", "Engine", "StreamChunk", "Usage", "create_engine"]


def create_engine(settings: Settings, *, progress: Callable[[int], None] | None = None) -> Engine:
    """Build the engine named by ``[engine] kind``.

    For the embedded engine the model file is hash-verified against its pin before llama.cpp sees
    it (``ModelError`` on mismatch); ``progress(n)`` receives hashed byte counts when it is rehashed.
    """
    cfg = settings.engine
    if cfg.kind == "llamacpp":
        from enclave.engines.llamacpp import LlamaCppEngine
        from enclave.engines.models import HashCache, resolve_model, verify_model

        entry = resolve_model(settings, cfg.model)
        verified = verify_model(entry, cache=HashCache.for_settings(settings), progress=progress)
        return LlamaCppEngine(
            entry.path,
            model_id=entry.id,
            model_sha256=verified.sha256,
            n_ctx=cfg.n_ctx,
            n_threads=cfg.n_threads,
            n_batch=cfg.n_batch,
            seed=cfg.seed,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
            chat_format=entry.spec.chat_format,
        )

    from enclave.engines.openai_http import OpenAIEngine

    return OpenAIEngine(
        cfg.base_url,
        cfg.remote_model or cfg.model,
        api_key=os.environ.get(cfg.api_key_env) or None,
        timeout_s=cfg.timeout_s,
        connect_timeout_s=cfg.connect_timeout_s,
        max_retries=cfg.max_retries,
        backoff_s=cfg.backoff_s,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        seed=cfg.seed,
    )
