"""``enclave label parse|render|check|policies``: markings and access decisions from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from enclave.cli import common

label_app = typer.Typer(
    help="Parse, render and check security labels (NATO, national, STANAG 4774).", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]


def _configure() -> None:
    """Load the bundled policies plus the site's ``[labels] policy_dirs``."""
    from enclave.labels import configure_from_settings

    configure_from_settings(common.settings())


def _read(path: Path) -> bytes:
    from enclave.labels import LabelError

    try:
        return path.read_bytes()
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc.strerror}", hint="check the path") from exc


def _label_from_args(text: str | None, xml_file: Path | None, binding_file: Path | None) -> Any:
    from enclave.labels import LabelError, label_from_4774_xml, parse_label, read_4778_binding

    given = [x for x in (text, xml_file, binding_file) if x is not None]
    if len(given) != 1:
        raise LabelError("give exactly one of: a marking TEXT, --4774 FILE or --4778 FILE")
    if xml_file is not None:
        return label_from_4774_xml(_read(xml_file))
    if binding_file is not None:
        return read_4778_binding(binding_file).label
    assert text is not None
    return parse_label(text)


def _describe(label: Any) -> dict[str, Any]:
    from enclave.labels import LabelError, equivalent, label_to_dict, registry, render_banner

    data = label_to_dict(label)
    data["banner_fr"] = render_banner(label, "fr")
    hub = registry().hub_of(label.policy)
    if hub != label.policy:
        try:
            data["equivalent"] = label_to_dict(equivalent(label, hub))["banner"]
        except LabelError as exc:
            data["equivalent"] = None
            data["equivalent_error"] = exc.message
    return data


def _print_label(label: Any) -> None:
    from enclave.labels import banner_colour

    data = _describe(label)
    colour = banner_colour(label, "rich")
    common.console.print(f"[bold white on {colour}] {escape(data['banner'])} [/]")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("portion", escape(data["portion"]))
    table.add_row("policy", data["policy"])
    table.add_row("level", f"{escape(data['level_name'])} (rank {data['level']})")
    table.add_row("restrictive", ", ".join(data["restrictive"]) or "-")
    table.add_row("informative", ", ".join(data["informative"]) or "-")
    table.add_row("releasable to", ", ".join(data["releasable_to_display"]) or "nobody beyond the originator")
    table.add_row("français", escape(data["banner_fr"]))
    if "equivalent" in data:
        table.add_row("equivalent", escape(data["equivalent"] or data.get("equivalent_error", "none")))
    common.console.print(table)


@label_app.command("parse")
def parse_cmd(
    text: Annotated[str | None, typer.Argument(help="a banner line or portion mark, e.g. 'NATO SECRET'")] = None,
    xml_file: Annotated[Path | None, typer.Option("--4774", help="read a STANAG 4774 label XML file")] = None,
    binding_file: Annotated[
        Path | None, typer.Option("--4778", help="read a STANAG 4778 binding and show its label and digests")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Parse a marking and print its canonical banner, portion mark, level and categories."""
    _configure()
    label = _label_from_args(text, xml_file, binding_file)
    if as_json:
        data = _describe(label)
        if binding_file is not None:
            from enclave.labels import read_4778_binding

            binding = read_4778_binding(binding_file)
            data["bound_objects"] = [{"uri": o.uri, "algorithm": o.algorithm, "digest": o.hex} for o in binding.objects]
        common.print_json(data)
        return
    _print_label(label)
    if binding_file is not None:
        from enclave.labels import read_4778_binding

        for obj in read_4778_binding(binding_file).objects:
            common.console.print(f"bound object {escape(obj.uri)}: {obj.algorithm} {obj.hex}")


@label_app.command("render")
def render_cmd(
    text: Annotated[str | None, typer.Argument(help="a marking to render canonically")] = None,
    xml_file: Annotated[Path | None, typer.Option("--from-4774", help="render the label of a 4774 XML file")] = None,
    to_4774: Annotated[bool, typer.Option("--4774", help="write STANAG 4774 XML instead of a banner")] = False,
    portion: Annotated[bool, typer.Option("--portion", help="the portion mark, e.g. (NS)")] = False,
    lang: Annotated[str, typer.Option("--lang", help="banner language: en or fr")] = "en",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file")] = None,
) -> None:
    """Render a label as a canonical banner (English/French), portion mark or 4774 XML."""
    from enclave.labels import label_to_4774_xml, render_banner, render_portion

    _configure()
    label = _label_from_args(text, xml_file, None)
    if to_4774:
        data = label_to_4774_xml(label)
    else:
        data = ((render_portion(label) if portion else render_banner(label, lang)) + "\n").encode("utf-8")
    if output is not None:
        output.write_bytes(data)
        common.err_console.print(f"wrote {output}")
    else:
        typer.echo(data.decode("utf-8"), nl=False)


@label_app.command("check")
def check_cmd(
    clearance: Annotated[str, typer.Option("--clearance", help="clearance level, e.g. 'NATO SECRET'")],
    nationality: Annotated[str, typer.Option("--nationality", help="ISO 3166 alpha-3 code, e.g. DEU")],
    label_text: Annotated[str | None, typer.Argument(metavar="LABEL", help="the marking to check access to")] = None,
    member: Annotated[list[str] | None, typer.Option("--member", help="membership (NATO, FVEY, KFOR, ...)")] = None,
    holds: Annotated[list[str] | None, typer.Option("--holds", help="restrictive category held (ATOMAL, ...)")] = None,
    ceiling: Annotated[str | None, typer.Option("--ceiling", help="session ceiling marking")] = None,
    xml_file: Annotated[Path | None, typer.Option("--4774", help="check the label of a 4774 XML file")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Exit 0 if the clearance may read LABEL, 1 if not; the reason is always printed."""
    from enclave.labels import Clearance, access_decision, clearance_to_dict, meet, parse_label, render_banner

    _configure()
    label = _label_from_args(label_text, xml_file, None)
    who = Clearance.create(level=clearance, nationality=nationality, memberships=member or (), holds=holds or ())
    if ceiling is not None:
        who = meet(who, parse_label(ceiling))
    decision = access_decision(who, label)
    if as_json:
        common.print_json(
            {
                "allowed": decision.allowed,
                "reason": decision.reason,
                "label": render_banner(label),
                "clearance": clearance_to_dict(who),
            }
        )
    else:
        verdict = "[bold green]ALLOWED[/]" if decision.allowed else "[bold red]DENIED[/]"
        common.console.print(f"{verdict} {escape(render_banner(label))}: {escape(decision.reason)}")
    if not decision.allowed:
        raise typer.Exit(1)


@label_app.command("policies")
def policies_cmd(as_json: JsonOpt = False) -> None:
    """List the loaded policies, their levels and equivalences."""
    from enclave.labels import registry

    _configure()
    reg = registry()
    rows = []
    for pol in sorted(reg.policies.values(), key=lambda p: (p.equivalence_policy is not None, p.id)):
        levels = []
        for level in pol.levels:
            hub_rank = reg.hub_rank(pol.id, level.rank)
            hub = reg.policy(reg.hub_of(pol.id))
            levels.append(
                {
                    "name": level.name,
                    "abbrev": level.abbrev,
                    "equivalent": None if hub_rank is None else hub.levels[hub_rank].name,
                }
            )
        rows.append({"id": pol.id, "name": pol.name, "source": pol.source, "levels": levels})
    if as_json:
        common.print_json(rows)
        return
    table = Table("policy", "level", "abbrev", "equivalent", "source")
    for row in rows:
        for k, level in enumerate(row["levels"]):
            table.add_row(
                row["id"] if k == 0 else "",
                escape(level["name"]),
                escape(level["abbrev"]),
                escape(level["equivalent"] or "-"),
                escape(row["source"]) if k == 0 else "",
            )
    common.console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
