"""Files and directory trees to ``ParsedDocument`` / ``RefusedDocument``, one at a time.

``extract_path`` never raises for bad input and never stops a batch: every file (and every nested
attachment) yields either a parsed, labelled, chunked document or a refusal that says what is wrong
and where. Directory trees are walked in sorted order so a batch is deterministic.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath

from enclave.config import Settings
from enclave.ingest.chunking import Scanner, chunk_document
from enclave.ingest.errors import Refused
from enclave.ingest.marking import LabelledBlock, extract_marking
from enclave.ingest.model import ParsedDocument, RefusedDocument
from enclave.ingest.raw import RawDocument
from enclave.ingest.readers import SUPPORTED, Limits, reader_for
from enclave.ingest.sidecar import is_sidecar, sidecar_label
from enclave.labels import Label, dominates, find_portion_mark, render_banner

Result = ParsedDocument | RefusedDocument


def iter_files(root: Path) -> Iterator[Path]:
    """Files under ``root`` sorted by relative path; hidden entries and binding sidecars are skipped.

    Directory symlinks are not followed (no loops, no escaping the tree).
    """
    found: list[tuple[tuple[str, ...], Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") or is_sidecar(path):
                continue
            found.append((path.relative_to(root).parts, path))
    for _, path in sorted(found):
        yield path


def extract_path(
    path: str | os.PathLike[str],
    *,
    explicit_label: Label | None,
    settings: Settings,
    scan: Scanner | None = None,
) -> Iterator[Result]:
    """Extract a file or every file under a directory. ``scan`` flags chunks (guard seam)."""
    root = Path(path)
    if root.is_dir():
        files: Iterator[Path] = iter_files(root)
    elif root.exists():
        files = iter((root,))
    else:
        yield RefusedDocument(str(root), "no such file or directory")
        return
    for file in files:
        yield from extract_file(file, explicit_label=explicit_label, settings=settings, scan=scan)


def extract_file(
    path: Path, *, explicit_label: Label | None, settings: Settings, scan: Scanner | None = None
) -> Iterator[Result]:
    """One file (and its attachments)."""
    source = str(path)
    cfg = settings.ingest
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file")
        if info.st_size > cfg.max_file_bytes:
            raise Refused(f"file is {info.st_size} bytes, over the {cfg.max_file_bytes}-byte limit (not read)")
        if info.st_size == 0:
            raise Refused("empty file (0 bytes)")
        if PurePath(path.name).suffix.lower() not in SUPPORTED:
            raise Refused(f"unsupported file type {path.suffix or '(no extension)'!r}")
        with path.open("rb") as fh:
            data = fh.read(cfg.max_file_bytes + 1)
        if len(data) > cfg.max_file_bytes:
            raise Refused(f"file grew past the {cfg.max_file_bytes}-byte limit while being read")
        bound = sidecar_label(path, data)
    except Refused as exc:
        yield RefusedDocument(source, exc.message)
        return
    except OSError as exc:
        yield RefusedDocument(source, f"cannot read file: {exc.strerror or exc}")
        return
    limits = Limits(max_bytes=cfg.max_file_bytes)
    yield from _extract_bytes(
        data,
        source,
        path.name,
        limits=limits,
        settings=settings,
        scan=scan,
        sidecar=bound[0] if bound else None,
        sidecar_name=bound[1] if bound else None,
        parent=None,
        explicit=explicit_label,
        depth=0,
    )


def _title(raw: RawDocument, labelled: list[LabelledBlock], doc_label: Label, text: str) -> tuple[str, Label]:
    """The title and the label it carries (a title taken from a portion-marked block keeps its mark)."""
    title = (raw.title or "").strip()
    title_label = doc_label
    if raw.doc_type in {"md", "txt"} and labelled:
        first = labelled[0]
        line = text[first.block.start : first.block.end].split("\n", 1)[0].strip()
        if raw.doc_type == "txt" and len(line) <= 150:
            title, title_label = line, first.label
        elif raw.doc_type == "md" and first.block.kind == "heading":
            title, title_label = line.lstrip("#").strip(), first.label
    found = None
    try:
        found = find_portion_mark(title)
    except Exception:  # noqa: S110 - a malformed mark in a title only leaves the title as is
        pass
    if found is not None:
        title = title[found[1] :].strip()
        if dominates(doc_label, found[0]):
            title_label = found[0]
    return re.sub(r"\s+", " ", title)[:300] or "untitled", title_label


def _extract_bytes(
    data: bytes,
    source: str,
    name: str,
    *,
    limits: Limits,
    settings: Settings,
    scan: Scanner | None,
    sidecar: Label | None,
    sidecar_name: str | None,
    parent: Label | None,
    explicit: Label | None,
    depth: int,
) -> Iterator[Result]:
    doc_label: Label | None = None
    raw: RawDocument | None = None
    try:
        if not data:
            raise Refused("empty file (0 bytes)")
        if len(data) > limits.max_bytes:
            raise Refused(f"{len(data)} bytes, over the {limits.max_bytes}-byte limit")
        reader = reader_for(name)
        if reader is None:
            raise Refused(f"unsupported file type {PurePath(name).suffix or '(no extension)'!r}")
        raw = reader(data, name, limits)
        if raw.text.strip():
            marking = extract_marking(raw, sidecar_label=sidecar, parent_label=parent, explicit_label=explicit)
            if parent is not None and not dominates(parent, marking.label):
                raise Refused(
                    f"attachment marked {render_banner(marking.label)!r} is above its message's label "
                    f"{render_banner(parent)!r} (mis-marked message)"
                )
            doc_label = marking.label
            cfg = settings.ingest
            chunks = chunk_document(
                raw.text, marking.blocks, size=cfg.chunk_chars, overlap=cfg.chunk_overlap, scan=scan
            )
            if not chunks:
                raise Refused("no text content besides its markings")
            title, title_label = _title(raw, marking.blocks, doc_label, raw.text)
            metadata = dict(raw.metadata)
            metadata.update(marking.metadata)
            if sidecar_name:
                metadata["binding"] = sidecar_name
            if explicit is not None and marking.source not in {"explicit"}:
                metadata["explicit_label_ignored"] = render_banner(explicit)
            if raw.flags:
                metadata["flags"] = sorted(raw.flags)
            portion_marked = any(lb.portion for lb in marking.blocks)
            metadata["portion_marked"] = portion_marked
            yield ParsedDocument(
                source=source,
                title=title,
                doc_type=raw.doc_type,
                content_hash=hashlib.sha256(data).hexdigest(),
                label=doc_label,
                label_source=marking.source,
                text=raw.text,
                chunks=chunks,
                metadata=metadata,
                title_label=title_label,
            )
        elif not raw.attachments and raw.doc_type not in {"zip"}:
            raise Refused("no extractable text")
    except Refused as exc:
        yield RefusedDocument(source, exc.message)
        if raw is not None and doc_label is None and raw.text.strip():
            for attachment in raw.attachments:  # report every part, never drop one silently
                yield RefusedDocument(
                    f"{source}!{attachment.name}", "not ingested: the message containing it was refused"
                )
            return
    except RecursionError:
        yield RefusedDocument(source, "structure nested too deeply to read safely")
        return
    except Exception as exc:  # a reader bug must cost one document, never the batch
        yield RefusedDocument(source, f"unexpected failure while reading: {type(exc).__name__}: {exc}")
        return
    if raw is None:
        return
    for attachment in raw.attachments:
        nested = f"{source}!{attachment.name}"
        if attachment.error:
            yield RefusedDocument(nested, attachment.error)
            continue
        if depth + 1 > limits.max_depth:
            yield RefusedDocument(nested, f"nested more than {limits.max_depth} levels deep")
            continue
        yield from _extract_bytes(
            attachment.data,
            nested,
            PurePath(attachment.name).name,
            limits=limits,
            settings=settings,
            scan=scan,
            sidecar=None,
            sidecar_name=None,
            parent=doc_label if doc_label is not None else parent,
            explicit=explicit,
            depth=depth + 1,
        )
