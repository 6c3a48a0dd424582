"""Building an Assistant from settings: the real store, embedder, engine, audit log and guards."""

from __future__ import annotations

from enclave.assist.pipeline import Assistant
from enclave.config import Settings


def build_assistant(settings: Settings, *, actor: str = "enclave") -> Assistant:
    """Wire the embedded (or configured) components together. Loads models: takes seconds.

    Records a ``config.change`` audit entry first when the effective configuration changed.
    """
    from enclave.audit import open_audit
    from enclave.audit.config_watch import record_config_change
    from enclave.embed import load_embedder
    from enclave.engines import create_engine
    from enclave.guard import scanner_for
    from enclave.store import open_store

    input_guard = output_guard = None
    if settings.guard.enabled:
        from enclave.guard import InputGuard, OutputGuard

        input_guard, output_guard = InputGuard(settings), OutputGuard()
    audit = open_audit(settings)
    record_config_change(audit, settings, actor=actor)
    return Assistant(
        store=open_store(settings),
        embedder=load_embedder(settings),
        engine=create_engine(settings),
        audit=audit,
        input_guard=input_guard,
        output_guard=output_guard,
        max_tokens=settings.engine.max_tokens,
        screen=scanner_for(settings),
    )
