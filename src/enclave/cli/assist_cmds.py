"""``enclave ask``: a grounded, cited, correctly marked answer for one user."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from enclave.cli import common

if TYPE_CHECKING:
    from enclave.assist.model import Answer, Classification


def banner_text(classification: Classification) -> Text:
    """The banner line in its conventional colour (white on the level's colour)."""
    return Text(f" {classification.banner} ", style=f"bold white on {classification.colour}", justify="center")


def print_answer(answer: Answer, *, streamed: bool = False) -> None:
    """Human output: banner, portion-marked paragraphs, citations, flags, banner."""
    out = common.console
    if not streamed:
        out.print(banner_text(answer.classification))
        out.print()
        for paragraph in answer.paragraphs:
            out.print(Text(f"{answer.classification.portion_mark} ", style="bold") + Text(paragraph))
            out.print()
    if answer.refused and streamed:  # otherwise the reason is already the answer's text
        out.print(Text(f"refused: {answer.refusal_reason}", style="yellow"))
    if answer.citations:
        out.print(Text("Sources", style="bold underline"))
        for c in answer.citations:
            how = " (attributed by Enclave)" if c.attributed else ""
            page = f", p. {c.source.page}" if c.source.page else ""
            head = Text(f"[{c.source.n}] {c.source.portion_mark} {c.source.title}{page}", style="bold")
            out.print(head + Text(f"  support {c.support:.2f}{how}", style="dim"))
            out.print(Panel(Text(c.quote.strip()), border_style="dim", padding=(0, 1)))
    if answer.unsupported_sentences:
        out.print(Text("Not supported by the cited sources:", style="bold yellow"))
        for sentence in answer.unsupported_sentences:
            out.print(Text(f"  • {sentence}", style="yellow"))
    if answer.audit_id is not None:
        out.print(Text(f"audit entry {answer.audit_id}", style="dim"))
    out.print(banner_text(answer.classification))


def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    user: Annotated[str, typer.Option("--user", help="answer as this user (their clearance decides the sources)")],
    ceiling: Annotated[
        str | None, typer.Option("--ceiling", help="session ceiling, e.g. 'NATO RESTRICTED' (never raises access)")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=20, help="passages to retrieve")] = 5,
    stream: Annotated[bool, typer.Option("--stream", help="print the answer as it is generated")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Ask a question over the holdings USER may read; get a cited, marked answer."""
    from enclave.assist.factory import build_assistant
    from enclave.home import require_home
    from enclave.identity import UserDirectory

    cfg = common.settings()
    require_home(cfg)
    with common.err_console.status("loading models…", spinner="dots") if not as_json else nullcontext():
        assistant = build_assistant(cfg)
    try:
        principal = UserDirectory(assistant.store, assistant.audit).principal(user)
        principal.require("read")
        if not stream or as_json:
            answer = assistant.ask(principal, question, ceiling=ceiling, k=k)
        else:
            prepared = assistant.prepare(principal, question, ceiling=ceiling, k=k)
            common.console.print(banner_text(prepared.classification))
            common.console.print()
            parts: list[str] = []
            usage = None
            if prepared.needs_model:
                sys.stdout.write(f"{prepared.classification.portion_mark} ")
                for chunk in assistant.stream(prepared):
                    parts.append(chunk.text)
                    usage = chunk.usage or usage
                    sys.stdout.write(chunk.text)
                    sys.stdout.flush()
                sys.stdout.write("\n\n")
            answer = assistant.finish(prepared, "".join(parts) if prepared.needs_model else None, usage)
            if not prepared.needs_model:
                for paragraph in answer.paragraphs:
                    common.console.print(f"{answer.classification.portion_mark} {paragraph}\n")
        if as_json:
            common.print_json(answer.to_dict())
        else:
            print_answer(answer, streamed=stream)
    finally:
        assistant.close()


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
