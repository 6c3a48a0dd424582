"""Builders for test files in every format (real files, written with the real libraries)."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage


def marked(banner: str, *paragraphs: str, bottom: str | None = None) -> str:
    bottom = banner if bottom is None else bottom
    return "\n\n".join([banner, *paragraphs, bottom]) + "\n"


def pdf(
    pages: list[list[str]],
    *,
    banner: str | None = None,
    banners: list[str] | None = None,
    user_password: str | None = None,
    owner_password: str | None = None,
) -> bytes:
    from fpdf import FPDF

    marks = banners or ([banner] * len(pages) if banner else [None] * len(pages))

    class _Pdf(FPDF):
        def header(self) -> None:
            mark = marks[self.page_no() - 1]
            if mark:
                self.set_font("Helvetica", "B", 11)
                self.cell(0, 6, mark, align="C", new_x="LMARGIN", new_y="NEXT")
                self.ln(6)

        def footer(self) -> None:
            mark = marks[self.page_no() - 1]
            self.set_y(-20)
            self.set_font("Helvetica", "", 8)
            self.cell(0, 5, f"Page {self.page_no()}", align="C", new_x="LMARGIN", new_y="NEXT")
            if mark:
                self.set_font("Helvetica", "B", 11)
                self.cell(0, 6, mark, align="C")

    doc = _Pdf()
    if owner_password or user_password:
        doc.set_encryption(owner_password=owner_password or "owner", user_password=user_password)
    for paragraphs in pages:
        doc.add_page()
        doc.set_font("Helvetica", "", 11)
        for text in paragraphs:
            doc.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            doc.ln(5)
    return bytes(doc.output())


def docx(
    paragraphs: list[tuple[str, str]],
    *,
    header: list[str] = (),
    footer: list[str] = (),
    table: list[list[str]] | None = None,
    title: str | None = None,
) -> bytes:
    from docx import Document

    document = Document()
    section = document.sections[0]
    for i, line in enumerate(header):
        if i == 0:
            section.header.paragraphs[0].text = line
        else:
            section.header.add_paragraph(line)
    for i, line in enumerate(footer):
        if i == 0:
            section.footer.paragraphs[0].text = line
        else:
            section.footer.add_paragraph(line)
    for kind, text in paragraphs:
        if kind == "h":
            document.add_heading(text, level=1)
        else:
            document.add_paragraph(text)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    if title:
        document.core_properties.title = title
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def eml(
    body: str,
    *,
    subject: str = "Test",
    attachments: list[tuple[str, bytes]] = (),
    html: bool = False,
    forwarded: list[bytes] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.invalid"
    msg["To"] = "b@example.invalid"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 05 Oct 2026 10:00:00 +0000"
    msg.set_content(body, subtype="html" if html else "plain")
    for name, data in attachments:
        maintype, subtype = ("text", "plain") if name.endswith(".txt") else ("application", "octet-stream")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    for inner in forwarded:
        from email import message_from_bytes, policy

        msg.add_attachment(message_from_bytes(inner, policy=policy.default), filename="fwd.eml")
    return bytes(msg)


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def docx_bomb(size: int) -> bytes:
    """A DOCX whose document.xml inflates to ``size`` bytes of nothing."""
    good = docx([("p", "x")], header=["NATO UNCLASSIFIED"])
    src = zipfile.ZipFile(io.BytesIO(good))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml":
                data = data + b" " * size
            dst.writestr(info.filename, data)
    return buf.getvalue()
