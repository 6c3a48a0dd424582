"""Security policies as data: loading, validating and indexing the policy files.

The bundled files (``policies/*.toml``, ``data/countries.toml``, ``data/releasability.toml``) define
NATO and the national policies; a site adds or replaces a policy by putting a TOML file in one of its
``[labels] policy_dirs`` (same ``id`` replaces). Everything the parser and the access decision need
is precomputed here once, so decisions never touch files. The format is documented in docs/labels.md.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from enclave.labels.errors import LabelError, PolicyError
from enclave.labels.tokens import phrase_key

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_POLICY_DIR = PACKAGE_DIR / "policies"
DATA_DIR = PACKAGE_DIR / "data"
RELEASABILITY_FILE = "releasability.toml"


# ---------------------------------------------------------------------------------------------------
# File schema (pydantic: every error names the key)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PolicyHeader(_Model):
    id: str = Field(pattern=r"^[A-Z][A-Z0-9_-]{1,31}$")
    name: str
    xml_identifier: str | None = None
    style: Literal["nato", "capco"] = "nato"
    originator: str | None = None
    default_releasable_to: list[str] = Field(default_factory=list)
    no_release_marking: str = "NOT RELEASABLE"
    no_release_aliases: list[str] = Field(default_factory=list)
    prefix: str | None = None
    prefix_values: list[str] = Field(default_factory=list)


class _Equivalence(_Model):
    policy: str


class _Xml(_Model):
    restrictive_tag: str = "RESTRICTIVE"
    permissive_tag: str = "RELEASABLE TO"
    informative_tag: str = "INFORMATIVE"


class _LevelEntry(_Model):
    name: str
    fr: str | None = None
    abbrev: str
    aliases: list[str] = Field(default_factory=list)
    abbrev_aliases: list[str] = Field(default_factory=list)
    bare: str | None = None
    xml: str | None = None
    colour: str = "black"
    rich_colour: str | None = None
    equivalent: str | None = None
    clearance_equivalent: str | None = None


class _CategoryEntry(_Model):
    name: str
    type: Literal["restrictive", "informative"]
    fr: str | None = None
    aliases: list[str] = Field(default_factory=list)
    min_level: str | None = None


class _PolicyFile(_Model):
    policy: _PolicyHeader
    equivalence: _Equivalence | None = None
    xml: _Xml = _Xml()
    level: list[_LevelEntry] = Field(min_length=1)
    category: list[_CategoryEntry] = Field(default_factory=list)


class _Country(_Model):
    code: str = Field(pattern=r"^[A-Z]{3}$")
    name: str
    common: str | None = None


class _CountriesFile(_Model):
    country: list[_Country]
    aliases: dict[str, str] = Field(default_factory=dict)


class _Group(_Model):
    name: str
    members: list[str] = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)


class _Organisation(_Model):
    name: str
    aliases: list[str] = Field(default_factory=list)


class _ReleasabilityFile(_Model):
    groups: dict[str, _Group] = Field(default_factory=dict)
    organisations: dict[str, _Organisation] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# Runtime objects


@dataclass(frozen=True)
class Level:
    rank: int
    name: str
    fr: str
    abbrev: str
    bare: str | None
    xml: str
    colour: str
    rich_colour: str
    phrases: tuple[str, ...]  # full names accepted anywhere (name, fr, aliases)
    abbrevs: tuple[str, ...]  # short forms accepted in portion marks and "//" forms
    equivalent: str | None
    clearance_equivalent: str | None


@dataclass(frozen=True)
class Category:
    name: str
    kind: Literal["restrictive", "informative"]
    min_rank: int
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    id: str
    name: str
    source: str
    xml_identifier: str
    style: Literal["nato", "capco"]
    originator: str | None
    default_releasable_to: frozenset[str]  # expanded, originator included
    no_release_marking: str
    no_release_phrases: tuple[str, ...]
    prefix: str | None
    prefix_values: tuple[str, ...]
    xml_tags: Mapping[str, str]  # "restrictive" | "permissive" | "informative" -> TagName
    levels: tuple[Level, ...]
    categories: Mapping[str, Category]
    equivalence_policy: str | None
    restrictive: frozenset[str] = field(default=frozenset())
    informative: frozenset[str] = field(default=frozenset())

    def level_by_name(self, name: str) -> Level | None:
        for level in self.levels:
            if level.name == name:
                return level
        return None


class PhraseTable(dict):
    """Phrase (normalised token tuple) -> value, indexed by first token for fast longest matching."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self.first: dict[str, int] = {}
        for key in self:
            self.first[key[0]] = max(self.first.get(key[0], 0), len(key))


@dataclass(frozen=True)
class LevelRef:
    policy: str
    rank: int


class Registry:
    """Every loaded policy plus the lookup tables built from them (immutable once built)."""

    def __init__(
        self,
        policies: dict[str, Policy],
        countries: dict[str, str],
        country_phrases: dict[str, str],
        groups: dict[str, frozenset[str]],
        group_names: dict[str, str],
        organisations: dict[str, str],
        value_aliases: dict[str, str],
        generation: int,
    ) -> None:
        self.policies = policies
        self.countries = countries
        self.groups = groups
        self.group_names = group_names
        self.organisations = organisations
        self.generation = generation
        # Releasability values: phrase -> code (country), group name, or organisation name.
        self.value_phrases: dict[tuple[str, ...], str] = {}
        for code in countries:
            self.value_phrases[(code,)] = code
        for phrase, code in country_phrases.items():
            self.value_phrases.setdefault(phrase_key(phrase), code)
        for name in (*groups, *organisations):
            self.value_phrases[phrase_key(name)] = name
        for alias, name in value_aliases.items():
            self.value_phrases[phrase_key(alias)] = name
        # Level phrases over all policies; abbreviations separately (only allowed in portion/"//" forms).
        self.level_phrases: dict[tuple[str, ...], LevelRef] = {}
        self.level_abbrevs: dict[tuple[str, ...], LevelRef] = {}
        self.bare_phrases: dict[str, dict[tuple[str, ...], int]] = {}
        self.category_phrases: dict[str, dict[tuple[str, ...], str]] = {}
        self.no_release_phrases: dict[str, set[tuple[str, ...]]] = {}
        owner: dict[tuple[str, ...], tuple[LevelRef, str]] = {}
        for policy in policies.values():
            for level in policy.levels:
                ref = LevelRef(policy.id, level.rank)
                for table, phrases in ((self.level_phrases, level.phrases), (self.level_abbrevs, level.abbrevs)):
                    for phrase in phrases:
                        key = phrase_key(phrase)
                        seen = owner.get(key)
                        if seen is not None and seen[0] != ref:
                            raise PolicyError(
                                f"{policy.source}: marking {phrase!r} of level {level.name!r} is already used by "
                                f"level {policies[seen[0].policy].levels[seen[0].rank].name!r} in {seen[1]}",
                                hint="every level name, alias and abbreviation must be unique across policies",
                            )
                        owner[key] = (ref, policy.source)
                        table[key] = ref
            self.bare_phrases[policy.id] = {
                phrase_key(level.bare): level.rank for level in policy.levels if level.bare is not None
            }
            self.category_phrases[policy.id] = {
                phrase_key(p): cat.name for cat in policy.categories.values() for p in cat.phrases
            }
            self.no_release_phrases[policy.id] = {phrase_key(p) for p in policy.no_release_phrases}
        self.value_phrases = PhraseTable(self.value_phrases)
        self.level_phrases = PhraseTable(self.level_phrases)
        self.level_abbrevs = PhraseTable(self.level_abbrevs)
        self.bare_phrases = {k: PhraseTable(v) for k, v in self.bare_phrases.items()}
        self.category_phrases = {k: PhraseTable(v) for k, v in self.category_phrases.items()}
        self.no_release_tables = {k: PhraseTable(dict.fromkeys(v, True)) for k, v in self.no_release_phrases.items()}
        self.max_phrase = max(len(k) for k in (*self.level_phrases, *self.level_abbrevs, *self.value_phrases))
        self.phrase_prefixes = _prefixes((*self.level_phrases, *self.level_abbrevs))
        self.value_prefixes = _prefixes(self.value_phrases)
        self._hub_ranks = self._equivalences()

    # --- releasability -----------------------------------------------------------------------------

    def is_value(self, value: str) -> bool:
        return value in self.countries or value in self.organisations or value in self.groups

    def expand(self, values: Iterable[str]) -> frozenset[str]:
        """Group names replaced by their member nations; countries and organisations kept."""
        return _expand(values, self.countries, self.groups, self.organisations)

    def collapse(self, values: frozenset[str], first: str | None = None) -> list[str]:
        """Display form of an expanded set: complete groups by name, then the remaining nations.

        Largest groups first; a group is named only when it covers at least two nations not already
        covered, so {NATO members, AUS} reads "NATO, AUS" rather than "NATO, ACGU".
        """
        covered: set[str] = set()
        chosen: list[str] = []
        for name, members in sorted(self.groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            if members <= values and len(members - covered) >= 2:  # a group naming one new nation reads worse
                chosen.append(name)
                covered |= members
        countries = sorted(v for v in values if v in self.countries and v not in covered)
        if first is not None and first in values:
            countries = [first] + [c for c in countries if c != first]
        orgs = sorted(v for v in values if v not in self.countries)
        return countries + chosen + orgs

    # --- policies and equivalence --------------------------------------------------------------------

    def policy(self, policy_id: str) -> Policy:
        try:
            return self.policies[policy_id]
        except KeyError:
            raise LabelError(
                f"unknown security policy {policy_id!r} (known: {', '.join(sorted(self.policies))})",
                hint="add the policy file to a directory listed in [labels] policy_dirs",
                token=policy_id,
            ) from None

    def hub_of(self, policy_id: str) -> str:
        """The policy decisions across policies go through (NATO for the national policies)."""
        return self.policy(policy_id).equivalence_policy or policy_id

    def hub_rank(self, policy_id: str, rank: int, *, clearance: bool = False) -> int | None:
        """The rank of a level in its hub policy (None: no equivalence, undecidable)."""
        ranks = self._hub_ranks.get((policy_id, clearance))
        if ranks is None:
            self.policy(policy_id)  # raises LabelError naming the unknown policy
            raise AssertionError("unreachable")
        if not 0 <= rank < len(ranks):
            raise LabelError(f"level {rank} is not a level of policy {policy_id} (was the policy file changed?)")
        return ranks[rank]

    def _equivalences(self) -> dict[tuple[str, bool], tuple[int | None, ...]]:
        table: dict[tuple[str, bool], tuple[int | None, ...]] = {}
        for policy in self.policies.values():
            if policy.equivalence_policy is None:
                ident = tuple(range(len(policy.levels)))
                table[(policy.id, False)] = table[(policy.id, True)] = ident
                continue
            target = self.policies.get(policy.equivalence_policy)
            if target is None:
                raise PolicyError(
                    f"{policy.source}: [equivalence] policy {policy.equivalence_policy!r} is not loaded",
                    hint=f"known policies: {', '.join(sorted(self.policies))}",
                )
            if target.equivalence_policy is not None:
                raise PolicyError(
                    f"{policy.source}: equivalence target {target.id!r} itself maps to "
                    f"{target.equivalence_policy!r}; equivalences must point at a hub policy"
                )
            for clearance in (False, True):
                ranks: list[int | None] = []
                for level in policy.levels:
                    name = level.clearance_equivalent if clearance else level.equivalent
                    if clearance and name is None:
                        name = level.equivalent
                    if name is None:
                        ranks.append(None)
                        continue
                    found = target.level_by_name(name)
                    if found is None:
                        raise PolicyError(
                            f"{policy.source}: level {level.name!r}: equivalent {name!r} is not a level of {target.id}",
                            hint=f"{target.id} levels: {', '.join(lv.name for lv in target.levels)}",
                        )
                    ranks.append(found.rank)
                table[(policy.id, clearance)] = tuple(ranks)
        return table


def _expand(
    values: Iterable[str], countries: Mapping[str, str], groups: Mapping[str, frozenset[str]], orgs: Mapping[str, str]
) -> frozenset[str]:
    out: set[str] = set()
    for value in values:
        members = groups.get(value)
        if members is not None:
            out |= members
        elif value in countries or value in orgs:
            out.add(value)
        else:
            raise LabelError(
                f"unknown releasability value {value!r}",
                hint="use an ISO 3166 alpha-3 country code or a group/organisation from releasability.toml",
                token=value,
            )
    return frozenset(out)


def _prefixes(keys: Iterable[tuple[str, ...]]) -> frozenset[tuple[str, ...]]:
    return frozenset(key[:n] for key in keys for n in range(1, len(key) + 1))


# ---------------------------------------------------------------------------------------------------
# Loading


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}", hint="fix the line named above") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot be read: {exc}") from exc


def _validate(model: type[_Model], data: dict[str, Any], path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{key}: {err['msg']}")
        raise PolicyError(
            f"{path}: invalid policy data:\n  " + "\n  ".join(lines),
            hint="see docs/labels.md for the policy file format",
        ) from None


def _build_policy(raw: _PolicyFile, path: Path, expand: Any) -> Policy:
    head = raw.policy
    levels: list[Level] = []
    seen_names: set[str] = set()
    for rank, entry in enumerate(raw.level):
        if entry.name in seen_names:
            raise PolicyError(f"{path}: level {entry.name!r} is defined twice")
        seen_names.add(entry.name)
        if raw.equivalence is None and (entry.equivalent or entry.clearance_equivalent):
            raise PolicyError(f"{path}: level {entry.name!r} has an equivalent but the file has no [equivalence]")
        phrases = tuple(dict.fromkeys([entry.name, *([entry.fr] if entry.fr else []), *entry.aliases]))
        levels.append(
            Level(
                rank=rank,
                name=entry.name,
                fr=entry.fr or entry.name,
                abbrev=entry.abbrev,
                bare=entry.bare,
                xml=entry.xml or entry.name,
                colour=entry.colour,
                rich_colour=entry.rich_colour or entry.colour,
                phrases=phrases,
                abbrevs=tuple(dict.fromkeys([entry.abbrev, *entry.abbrev_aliases])),
                equivalent=entry.equivalent,
                clearance_equivalent=entry.clearance_equivalent,
            )
        )
    rank_of = {lv.name: lv.rank for lv in levels}
    categories: dict[str, Category] = {}
    for entry in raw.category:
        if entry.name in categories:
            raise PolicyError(f"{path}: category {entry.name!r} is defined twice")
        if entry.min_level is not None and entry.min_level not in rank_of:
            raise PolicyError(
                f"{path}: category {entry.name!r}: min_level {entry.min_level!r} is not a level of this policy"
            )
        phrases = tuple(dict.fromkeys([entry.name, *([entry.fr] if entry.fr else []), *entry.aliases]))
        categories[entry.name] = Category(
            entry.name, entry.type, rank_of[entry.min_level] if entry.min_level else 0, phrases
        )
    try:
        default = expand(head.default_releasable_to)
        if head.originator is not None:
            default = default | expand([head.originator])
        prefix_values = tuple(head.prefix_values)
        expand(prefix_values)
    except LabelError as exc:
        raise PolicyError(f"{path}: {exc.message}", hint=exc.hint) from None
    return Policy(
        id=head.id,
        name=head.name,
        source=str(path),
        xml_identifier=head.xml_identifier or head.id,
        style=head.style,
        originator=head.originator,
        default_releasable_to=default,
        no_release_marking=head.no_release_marking,
        no_release_phrases=tuple(dict.fromkeys([head.no_release_marking, *head.no_release_aliases])),
        prefix=head.prefix,
        prefix_values=prefix_values,
        xml_tags={
            "restrictive": raw.xml.restrictive_tag,
            "permissive": raw.xml.permissive_tag,
            "informative": raw.xml.informative_tag,
        },
        levels=tuple(levels),
        categories=categories,
        equivalence_policy=raw.equivalence.policy if raw.equivalence else None,
        restrictive=frozenset(n for n, c in categories.items() if c.kind == "restrictive"),
        informative=frozenset(n for n, c in categories.items() if c.kind == "informative"),
    )


def build_registry(policy_dirs: Iterable[str | Path] = (), *, generation: int = 0) -> Registry:
    """Load the bundled data, then each site directory in order (a later policy id replaces)."""
    dirs = [Path(d).expanduser() for d in policy_dirs]
    for d in dirs:
        if not d.is_dir():
            raise PolicyError(
                f"policy directory {d} does not exist or is not a directory",
                hint="fix [labels] policy_dirs in enclave.toml",
            )
    countries_raw: _CountriesFile = _validate(_CountriesFile, _read_toml(DATA_DIR / "countries.toml"), DATA_DIR)
    countries = {c.code: c.name for c in countries_raw.country}
    country_phrases: dict[str, str] = {}
    for c in countries_raw.country:
        for name in (c.name, c.common):
            if name and "," not in name:
                country_phrases[name] = c.code
    for alias, code in countries_raw.aliases.items():
        if code not in countries:
            raise PolicyError(f"{DATA_DIR / 'countries.toml'}: alias {alias!r} names unknown code {code!r}")
        country_phrases[alias] = code

    rel_path = DATA_DIR / RELEASABILITY_FILE
    for d in dirs:
        if (d / RELEASABILITY_FILE).is_file():
            rel_path = d / RELEASABILITY_FILE
    rel: _ReleasabilityFile = _validate(_ReleasabilityFile, _read_toml(rel_path), rel_path)
    groups: dict[str, frozenset[str]] = {}
    aliases: dict[str, str] = {}
    for name, group in rel.groups.items():
        unknown = sorted(set(group.members) - set(countries))
        if unknown:
            raise PolicyError(f"{rel_path}: group {name!r} lists unknown country codes {unknown}")
        if name in countries:
            raise PolicyError(f"{rel_path}: group name {name!r} clashes with a country code")
        groups[name] = frozenset(group.members)
        aliases.update({a: name for a in group.aliases})
    organisations: dict[str, str] = {}
    for name, org in rel.organisations.items():
        if name in countries or name in groups:
            raise PolicyError(f"{rel_path}: organisation {name!r} clashes with a country code or group")
        organisations[name] = org.name
        aliases.update({a: name for a in org.aliases})

    def expand(values: Iterable[str]) -> frozenset[str]:
        return _expand(values, countries, groups, organisations)

    files = sorted(BUNDLED_POLICY_DIR.glob("*.toml"))
    for d in dirs:
        files += sorted(p for p in d.glob("*.toml") if p.name != RELEASABILITY_FILE)
    policies: dict[str, Policy] = {}
    for path in files:
        data = _read_toml(path)
        if "policy" not in data:
            raise PolicyError(f"{path}: no [policy] table; is this a policy file?", hint="see docs/labels.md")
        raw: _PolicyFile = _validate(_PolicyFile, data, path)
        policies[raw.policy.id] = _build_policy(raw, path, expand)  # a later file with the same id replaces
    return Registry(
        policies,
        countries,
        country_phrases,
        groups,
        {n: g.name for n, g in rel.groups.items()},
        organisations,
        aliases,
        generation,
    )


_lock = threading.Lock()
_current: Registry | None = None
_generation = 0


def registry() -> Registry:
    """The active registry (the bundled policies unless ``configure`` was called)."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = build_registry((), generation=_generation)
    return _current


def configure(policy_dirs: Iterable[str | Path] = ()) -> Registry:
    """Load the bundled policies plus the site's directories and make them active."""
    global _current, _generation
    with _lock:
        _generation += 1
        _current = build_registry(policy_dirs, generation=_generation)
    return _current


def configure_from_settings(settings: Any) -> Registry:
    """``configure`` with ``[labels] policy_dirs`` of the settings (relative paths are in the home).

    Also checks that ``[labels] system_high`` is a valid marking under the loaded policies, so a typo
    there fails at start-up rather than at the first request.
    """
    reg = configure([settings.in_home(d) for d in settings.labels.policy_dirs])
    from enclave.labels.markings import parse_label

    try:
        parse_label(settings.labels.system_high)
    except LabelError as exc:
        raise LabelError(
            f"[labels] system_high: {exc.message}", hint="set it to a marking such as 'NATO SECRET'"
        ) from None
    return reg
