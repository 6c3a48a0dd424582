"""The usage policy as data: categories, clauses, exemplars, rules and thresholds from a YAML file.

A site edits the policy without touching code: ``[guard] policy_path`` points at its own file (the
bundled ``policy.yaml`` is the default). The file is validated strictly; every problem names the
file, the key path and what was expected, and an invalid policy stops the guard (fail closed).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from enclave.guard.errors import PolicyError

if TYPE_CHECKING:
    from enclave.config import Settings

BUNDLED_POLICY = Path(__file__).with_name("policy.yaml")

Action = Literal["allow", "refuse", "review"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Model):
    """A case-insensitive regular expression; a match is evidence for its category."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    pattern: str
    unless: str | None = None  # context that makes a match benign (e.g. search and rescue)
    note: str = ""

    @field_validator("pattern", "unless")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class CategorySpec(_Model):
    """A prohibited-use category: what it covers, the clause cited on refusal, and its evidence."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    clause: str
    title: str
    action: Literal["refuse", "review"] = "refuse"
    definition: str
    examples: list[str] = Field(min_length=3)
    rules: list[RuleSpec] = Field(default_factory=list)


class ContextSpec(_Model):
    """An allowed mission context; its examples pull look-alike benign requests away from refusal."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    examples: list[str] = Field(min_length=3)


class IdiomSpec(_Model):
    """A benign idiom ("kill the hung process") rewritten to a neutral phrase before inspection."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    pattern: str
    replace: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        RuleSpec._compiles(value)
        return value


class ClassifierSpec(_Model):
    """kNN over exemplar embeddings: score = mean cosine of the k nearest exemplars of a category."""

    enabled: bool = True
    k: int = Field(default=3, ge=1, le=20)
    refuse: float = Field(default=0.6, ge=-1, le=1)
    review: float = Field(default=0.5, ge=-1, le=1)
    margin: float = Field(default=0.05, ge=-2, le=2)
    review_margin: float = Field(default=0.0, ge=-2, le=2)

    @model_validator(mode="after")
    def _ordered(self) -> ClassifierSpec:
        if self.review > self.refuse:
            raise ValueError(f"review threshold {self.review} must not exceed refuse threshold {self.refuse}")
        return self


class InjectionSpec(_Model):
    """Direct prompt injection in a user's message (and instruction-like text inside documents)."""

    clause: str
    title: str = "Prompt injection"
    action: Literal["refuse", "review"] = "refuse"
    definition: str
    rules: list[RuleSpec] = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    similarity: float = Field(default=0.75, ge=-1, le=1)
    quarantine_flags: list[str] = Field(default_factory=list)


class ObfuscationSpec(_Model):
    """What to do with a message that hides text from a human reader (bidi overrides, tag characters)."""

    clause: str
    action: Action = "review"


class Policy(_Model):
    version: Literal[1]
    name: str
    categories: list[CategorySpec] = Field(min_length=1)
    allowed_contexts: list[ContextSpec] = Field(min_length=1)
    benign_idioms: list[IdiomSpec] = Field(default_factory=list)
    classifier: ClassifierSpec = ClassifierSpec()
    injection: InjectionSpec
    obfuscation: ObfuscationSpec
    source: str = ""  # where it was loaded from (filled in by the loader)

    @model_validator(mode="after")
    def _unique(self) -> Policy:
        for kind, ids in (
            ("category id", [c.id for c in self.categories]),
            ("clause", [c.clause for c in self.categories] + [self.injection.clause, self.obfuscation.clause]),
            ("allowed context id", [c.id for c in self.allowed_contexts]),
        ):
            seen: set[str] = set()
            for value in ids:
                if value in seen:
                    raise ValueError(f"duplicate {kind} {value!r}")
                seen.add(value)
        return self

    def category(self, category_id: str) -> CategorySpec:
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        raise KeyError(category_id)

    def clause_for(self, category_id: str) -> str:
        """The clause cited for a category id (including the injection and obfuscation pseudo-categories)."""
        if category_id == "prompt-injection":
            return self.injection.clause
        if category_id == "obfuscation":
            return self.obfuscation.clause
        return self.category(category_id).clause

    def title_for(self, category_id: str) -> str:
        if category_id == "prompt-injection":
            return self.injection.title
        if category_id == "obfuscation":
            return "Concealed text"
        return self.category(category_id).title


def _describe(exc: ValidationError, data: Any) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        # name the category/context by id, not only by index, so the site finds it in the file
        if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data, dict):
            items = data.get(str(loc[0]))
            if isinstance(items, list) and loc[1] < len(items) and isinstance(items[loc[1]], dict):
                where += f" (id {items[loc[1]].get('id', '?')!r})"
        lines.append(f"{where}: {err['msg']}")
    return lines


def parse_policy(text: str, source: str = "<string>") -> Policy:
    """Parse and validate policy YAML. Raises ``PolicyError`` naming the file, line or key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise PolicyError(
            f"{source}:{where} not valid YAML: {getattr(exc, 'problem', exc)}",
            hint="fix the YAML at the position named above",
        ) from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: expected a mapping with keys version, name, categories, ...")
    try:
        return Policy.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise PolicyError(
            f"{source}: invalid usage policy:\n  " + "\n  ".join(_describe(exc, data)),
            hint="correct the keys named above (docs/guardrails.md describes the policy file)",
        ) from None


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int, size: int) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read usage policy {path}: {exc}") from None
    return parse_policy(text, path)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy file (the bundled one when ``path`` is None); cached until the file changes."""
    target = Path(path) if path is not None else BUNDLED_POLICY
    try:
        stat = target.stat()
    except OSError:
        raise PolicyError(
            f"usage policy file {target} does not exist",
            hint="fix [guard] policy_path in enclave.toml, or remove it to use the bundled policy",
        ) from None
    return _load_cached(str(target.resolve()), stat.st_mtime_ns, stat.st_size)


def policy_for(settings: Settings) -> Policy:
    """The policy configured by ``[guard] policy_path`` (relative paths resolve in the home)."""
    configured = settings.guard.policy_path
    return load_policy(settings.in_home(configured) if configured else None)
