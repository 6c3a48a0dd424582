"""HTML: visible text by block element, with hidden text kept but flagged.

Text hidden from a human reader (``display:none``, ``hidden``, zero font size, ...) is a classic
indirect prompt-injection carrier. It is *kept* in the document, in its own blocks marked hidden, so
the chunks holding it carry the ``hidden-text`` flag and the guard can decide; silently dropping it
would hide the attempt, silently keeping it would feed it to the model unannounced.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, ProcessingInstruction, Tag

from enclave.ingest.decode import decode_text, normalise_newlines
from enclave.ingest.raw import Block, RawDocument, assign_lines
from enclave.ingest.readers import Limits

_SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object", "meta"})
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "li", "main", "nav",
        "ol", "p", "pre", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul", "br",
        "h1", "h2", "h3", "h4", "h5", "h6", "title",
    }
)  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:;|$)"
    r"|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)|(?:height|width)\s*:\s*0(?:px)?\s*;.*overflow\s*:\s*hidden",
    re.IGNORECASE,
)
_CSS_RULE = re.compile(r"([^{}]+)\{([^}]*)\}")


def _hidden_classes(soup: BeautifulSoup) -> frozenset[str]:
    """Class names that inline <style> sheets hide (``.x { display: none }``)."""
    names: set[str] = set()
    for style in soup.find_all("style"):
        for selectors, body in _CSS_RULE.findall(style.get_text()):
            if _HIDDEN_STYLE.search(body):
                names.update(re.findall(r"\.([A-Za-z_][\w-]*)", selectors))
    return frozenset(names)


def _is_hidden(tag: Tag, hidden_classes: frozenset[str]) -> bool:
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).lower() == "true":
        return True
    if tag.name == "input" and str(tag.get("type", "")).lower() == "hidden":
        return True
    if _HIDDEN_STYLE.search(str(tag.get("style", ""))):
        return True
    classes = tag.get("class") or []
    return any(c in hidden_classes for c in classes)


class _Builder:
    """Collects blocks of normalised text while walking the tree."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.kind = "para"
        self.hidden = False

    def add(self, s: str) -> None:
        self.buf.append(s)

    def flush(self) -> None:
        words = " ".join("".join(self.buf).split())
        self.buf = []
        if not words:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(words)
        self.length += len(words)
        self.blocks.append(Block(start, self.length, kind=self.kind, hidden=self.hidden))

    def walk(self, node: Tag, hidden: bool, hidden_classes: frozenset[str]) -> None:
        for child in node.children:
            if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                if hidden != self.hidden and "".join(self.buf).strip():
                    self.flush()
                self.hidden = hidden
                self.add(str(child))
                continue
            if not isinstance(child, Tag) or child.name in _SKIP:
                continue
            child_hidden = hidden or _is_hidden(child, hidden_classes)
            if child.name == "input" and child_hidden and child.get("value"):
                self.flush()
                self.hidden = True
                self.add(str(child.get("value")))
                self.flush()
                continue
            is_block = child.name in _BLOCK
            if is_block:
                self.flush()
                self.kind = "heading" if child.name in _HEADINGS else "para"
            elif child_hidden != hidden:
                self.flush()
            self.walk(child, child_hidden, hidden_classes)
            if is_block or child_hidden != hidden:
                self.flush()
                self.kind = "para"
            elif child.name in {"td", "th"}:
                self.add(" ")


def read(data: bytes, name: str, limits: Limits) -> RawDocument:
    source, encoding = decode_text(data)
    soup = BeautifulSoup(normalise_newlines(source), "lxml")
    builder = _Builder()
    root = soup.body or soup
    builder.walk(root, False, _hidden_classes(soup))
    builder.flush()
    text = "".join(builder.parts)
    assign_lines(text, builder.blocks)
    raw = RawDocument(text=text, doc_type="html", blocks=builder.blocks, metadata={"encoding": encoding})
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    raw.title = title or PurePath(name).stem
    if any(b.hidden for b in builder.blocks):
        raw.flags.add("hidden-text")
    for meta in soup.find_all("meta"):
        key = str(meta.get("name", "")).lower()
        if key in {"author", "date", "description"} and meta.get("content"):
            raw.metadata[key] = str(meta["content"])
        elif key in {"classification", "dcterms.accessrights"} and meta.get("content"):
            raw.structural_banners.append((str(meta["content"]), f'<meta name="{key}">'))
    return raw
