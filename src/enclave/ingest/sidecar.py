"""STANAG 4778 binding sidecars: ``report.pdf.4778.xml`` or ``report.pdf.xml`` beside the data file.

A binding carries a STANAG 4774 label bound to the data object by its hash. The hash is checked
against the file's actual bytes: a binding that does not match is a forged or stale label, and the
document is refused (fail closed), never ingested under the label or without it.
"""

from __future__ import annotations

from pathlib import Path

from enclave.ingest.errors import Refused
from enclave.labels import Label, LabelError, read_4778_binding

SUFFIXES = (".4778.xml", ".xml")


def sidecars_for(path: Path) -> list[Path]:
    """Existing binding files for ``path`` (most specific name first)."""
    return [c for c in (path.with_name(path.name + s) for s in SUFFIXES) if c.is_file()]


def is_sidecar(path: Path) -> bool:
    """True for a binding file that belongs to a data file next to it (not a document itself)."""
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            if path.with_name(name[: -len(suffix)]).is_file():
                return True
    return False


def sidecar_label(path: Path, data: bytes) -> tuple[Label, str] | None:
    """The label bound to ``data`` by a sidecar next to ``path`` (and the sidecar's name), if any.

    When the binding names this file (its URI is the file name) that object must match; otherwise
    any bound object must. Raises ``Refused`` for an unreadable binding or a hash mismatch.
    """
    found: tuple[Label, str] | None = None
    for sidecar in sidecars_for(path):
        try:
            binding = read_4778_binding(sidecar)
        except LabelError as exc:
            raise Refused(f"unreadable STANAG 4778 binding {sidecar.name}: {exc.message}") from None
        named = [o for o in binding.objects if o.uri in {path.name, f"./{path.name}"}]
        candidates = named or list(binding.objects)
        if not any(o.matches(data) for o in candidates):
            bound = ", ".join(f"{o.uri or '(no URI)'} {o.algorithm}:{o.hex[:16]}..." for o in candidates)
            raise Refused(
                f"STANAG 4778 binding {sidecar.name} does not match the file's content (bound: {bound}); "
                "the file changed after labelling or the label is forged"
            )
        if found is not None and found[0] != binding.label:
            raise Refused(f"contradictory STANAG 4778 bindings {found[1]} and {sidecar.name}")
        found = found or (binding.label, sidecar.name)
    return found
