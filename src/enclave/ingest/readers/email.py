"""E-mail (RFC 5322 .eml): the body as the document, attachments handed back for recursive extraction.

The text body is preferred; an HTML-only body is rendered through the HTML reader (hidden text
flagged). Attachments and forwarded messages (message/rfc822) come back as ``attachments`` named
after their file names; ``extract`` reads them as "mail.eml!report.pdf". A decoded attachment over
the size limit is refused without being kept.
"""

from __future__ import annotations

import email
import email.policy
import mimetypes
from email.message import EmailMessage
from pathlib import PurePath

from enclave.ingest.decode import normalise_newlines
from enclave.ingest.errors import Refused
from enclave.ingest.raw import Attachment, RawDocument, split_blocks
from enclave.ingest.readers import Limits


def _payload(part: EmailMessage, what: str, limits: Limits) -> bytes:
    raw = part.get_payload(decode=False)
    if isinstance(raw, str) and len(raw) * 3 // 4 > limits.max_bytes:
        raise Refused(f"{what} is larger than {limits.max_bytes} bytes once decoded")
    data = part.get_payload(decode=True)
    if data is None:
        return b""
    if len(data) > limits.max_bytes:
        raise Refused(f"{what} is {len(data)} bytes decoded (limit {limits.max_bytes})")
    return data


def _extension(content_type: str) -> str:
    """An extension for a nameless attachment, so it still reaches the right reader."""
    known = {"text/plain": ".txt", "text/html": ".html", "text/markdown": ".md", "application/json": ".json"}
    return known.get(content_type) or mimetypes.guess_extension(content_type) or ""


def _body_text(part: EmailMessage, limits: Limits) -> str:
    data = _payload(part, "message body", limits)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        from enclave.ingest.decode import decode_text

        return decode_text(data)[0]


def read(data: bytes, name: str, limits: Limits) -> RawDocument:
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
    except Exception as exc:
        raise Refused(f"malformed e-mail: {type(exc).__name__}: {exc}") from None
    if not isinstance(msg, EmailMessage) or not (msg.get("From") or msg.get("Subject") or msg.get("Date")):
        raise Refused("not an e-mail: no From, Subject or Date header")
    try:
        body_part = msg.get_body(preferencelist=("plain", "html"))
    except Exception as exc:
        raise Refused(f"malformed e-mail structure: {exc}") from None
    raw = RawDocument(text="", doc_type="eml")
    if body_part is not None:
        text = _body_text(body_part, limits)
        if body_part.get_content_subtype() == "html":
            from enclave.ingest.readers import html

            raw = html.read(text.encode("utf-8"), name, limits)
            raw.doc_type = "eml"
        else:
            raw.text = normalise_newlines(text)
            raw.blocks = split_blocks(raw.text)
    attachments: list[Attachment] = []
    for index, part in enumerate(msg.iter_attachments(), start=1):
        filename = part.get_filename()
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else inner
            content = (
                inner_msg.as_bytes() if isinstance(inner_msg, EmailMessage) else _payload(part, "attachment", limits)
            )
            if len(content) > limits.max_bytes:
                raise Refused(f"forwarded message {index} is larger than {limits.max_bytes} bytes")
            attachments.append(Attachment(filename or f"forwarded-{index}.eml", content))
            continue
        label = filename or f"attachment-{index}{_extension(part.get_content_type())}"
        try:
            content = _payload(part, f"attachment {label!r}", limits)
        except Refused as exc:
            attachments.append(Attachment(PurePath(label).name, b"", error=exc.message))
            continue
        attachments.append(Attachment(PurePath(label).name, content))
    raw.attachments = attachments
    raw.title = str(msg.get("Subject") or PurePath(name).stem)
    for header, key in (("From", "from"), ("To", "to"), ("Date", "date"), ("Message-ID", "message_id")):
        if msg.get(header):
            raw.metadata[key] = str(msg.get(header))
    return raw
