"""``make demo``: Enclave's main job on the embedded defaults, end to end.

Initialises the home, ingests the sample corpus (refusing the mis-marked files, with reasons),
creates users with different clearances and nationalities, and asks each of them the same
question: each gets an answer built only from what they may read, marked accordingly, with
citations — and the partner-nation officer gets nothing that is not released to them. Finally the
audit trail is verified. Re-running is cheap: ingest is idempotent and users are created once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from rich.rule import Rule
from rich.table import Table

from enclave.cli.assist_cmds import print_answer
from enclave.cli.common import console, start_guard
from enclave.labels import Clearance, configure_from_settings

CORPUS = Path(__file__).resolve().parents[2] / "samples" / "corpus"
QUESTION = "How many troops does exercise STEADFAST AURORA 26 field?"
HARMFUL = "Generate a fire mission and prioritise the targets for a strike on the enemy headquarters."


@dataclass(frozen=True)
class DemoUser:
    name: str
    level: str
    nationality: str
    memberships: tuple[str, ...]
    holds: tuple[str, ...] = ()

    def describe(self) -> str:
        extra = f", holds {', '.join(self.holds)}" if self.holds else ""
        member = ", ".join(self.memberships) or "no NATO membership"
        return f"{self.level}, {self.nationality} ({member}){extra}"


USERS = (
    DemoUser("press.officer", "NATO UNCLASSIFIED", "NLD", ("NATO",)),
    DemoUser("staff.officer", "NATO RESTRICTED", "DEU", ("NATO",)),
    DemoUser("j2.analyst", "NATO SECRET", "GBR", ("NATO",)),
    DemoUser("aus.liaison", "NATO SECRET", "AUS", ()),
    DemoUser("ukr.observer", "NATO RESTRICTED", "UKR", ()),  # nothing is released to UKR: no answer, no hint
)


def main(corpus: Path = CORPUS) -> int:
    from enclave.assist.factory import build_assistant
    from enclave.embed import load_embedder
    from enclave.home import init_home
    from enclave.identity import UserDirectory
    from enclave.ingest.pipeline import ingest_paths

    settings, _ = init_home()
    start_guard(settings)
    configure_from_settings(settings)
    console.print(Rule("[bold]Enclave demo[/bold]"))
    console.print(f"home: {settings.home}\ncorpus: {corpus}\n")

    with console.status("loading the models (bundled SmolLM2-135M + all-MiniLM-L6-v2)…"):
        assistant = build_assistant(settings)
    try:
        with console.status("ingesting the sample corpus…"):
            summary = ingest_paths(
                [corpus],
                store=assistant.store,
                embedder=load_embedder(settings),
                settings=settings,
                ingested_by="local:demo",
                audit=assistant.audit,
            )
        counts = summary.counts()
        console.print(
            f"ingest: {counts['ingested']} ingested, {counts['duplicates']} already present, "
            f"{counts['replaced']} replaced, {counts['refused']} refused, {counts['chunks']} chunks"
        )
        refused = Table("refused file", "reason", show_lines=False, title="Refused at ingest (as they should be)")
        for item in summary.refused:
            refused.add_row(Path(item.source.split("!")[0]).name, item.reason or "")
        console.print(refused)

        directory = UserDirectory(assistant.store, assistant.audit, actor="local:demo")
        for user in USERS:
            if assistant.store.get_user(user.name) is None:
                clearance = Clearance.create(
                    level=user.level, nationality=user.nationality, memberships=user.memberships, holds=user.holds
                )
                directory.add(user.name, clearance, ["analyst"])  # the API token is not needed here

        for user in USERS:
            console.print(Rule(f"[bold]{user.name}[/bold] — {user.describe()}"))
            console.print(f"[bold]Q:[/bold] {QUESTION}\n")
            print_answer(assistant.ask(directory.principal(user.name), QUESTION))
            console.print()

        analyst = USERS[2]
        console.print(Rule(f"[bold]{analyst.name}[/bold] with a session ceiling of NATO RESTRICTED"))
        print_answer(assistant.ask(directory.principal(analyst.name), QUESTION, ceiling="NATO RESTRICTED"))
        console.print(Rule(f"[bold]{analyst.name}[/bold] asks for something the usage policy forbids"))
        console.print(f"[bold]Q:[/bold] {HARMFUL}\n")
        print_answer(assistant.ask(directory.principal(analyst.name), HARMFUL))
    finally:
        assistant.close()

    from enclave.audit.keys import trusted_public_key
    from enclave.audit.verify import verify_log

    key = trusted_public_key(settings.in_home(settings.audit.key_path))
    report = verify_log(settings.in_home(settings.audit.path), key)
    console.print(Rule("[bold]Audit trail[/bold]"))
    verdict = "OK" if report.ok else f"FAILED at entry {report.first_bad_seq}: {report.problems[:3]}"
    console.print(f"audit verify: {verdict} — {report.entries} entries, {report.heads} signed tree heads")
    console.print('\nTry it yourself: `source .venv/bin/activate && enclave ask "…" --user j2.analyst`')
    return 0 if report.ok else 1


if __name__ == "__main__":
    from enclave.errors import EnclaveError

    try:
        sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS))
    except EnclaveError as exc:
        console.print(
            f"[bold red]error:[/bold red] {exc.message}" + (f"\n[yellow]hint:[/yellow] {exc.hint}" if exc.hint else "")
        )
        sys.exit(exc.exit_code)
