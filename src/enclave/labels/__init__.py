"""Security labels: NATO and national policies as data, markings, access decisions, STANAG 4774.

The core every other module relies on for "no read up" and correct markings. Exact and fail closed:
anything unknown or contradictory raises ``LabelError``. See docs/labels.md.
"""

from __future__ import annotations

from enclave.labels.decisions import (
    access_decision,
    accessible_label_ids,
    can_read,
    clearance_dominates,
    dominates,
    join,
    meet,
)
from enclave.labels.errors import LabelError, PolicyError
from enclave.labels.markings import (
    banner_colour,
    find_portion_mark,
    parse_category,
    parse_label,
    parse_level,
    parse_portion,
    parse_value,
    render_banner,
    render_portion,
)
from enclave.labels.model import Clearance, Decision, Label
from enclave.labels.policy import Policy, Registry, configure, configure_from_settings, registry
from enclave.labels.serial import (
    clearance_from_dict,
    clearance_to_dict,
    intern_label,
    label_from_dict,
    label_key,
    label_to_dict,
)
from enclave.labels.xml4774 import (
    Binding,
    BoundObject,
    label_from_4774_xml,
    label_to_4774_xml,
    read_4778_binding,
    write_4778_binding,
)


def equivalent(label: Label, policy: str = "NATO") -> Label:
    """The label expressed in another policy through the equivalence tables (``LabelError`` if none)."""
    from enclave.labels.decisions import _to_policy

    return _to_policy(label, policy, registry())


__all__ = [
    "Binding",
    "BoundObject",
    "Clearance",
    "Decision",
    "Label",
    "LabelError",
    "Policy",
    "PolicyError",
    "Registry",
    "access_decision",
    "accessible_label_ids",
    "banner_colour",
    "can_read",
    "clearance_dominates",
    "clearance_from_dict",
    "clearance_to_dict",
    "configure",
    "configure_from_settings",
    "dominates",
    "equivalent",
    "find_portion_mark",
    "intern_label",
    "join",
    "label_from_4774_xml",
    "label_from_dict",
    "label_key",
    "label_to_4774_xml",
    "label_to_dict",
    "meet",
    "parse_category",
    "parse_label",
    "parse_level",
    "parse_portion",
    "parse_value",
    "read_4778_binding",
    "registry",
    "render_banner",
    "render_portion",
    "write_4778_binding",
]
