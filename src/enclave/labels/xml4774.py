"""STANAG 4774 confidentiality labels and STANAG 4778-style bindings in XML (lxml).

Reading is hardened: no DTDs, no entity expansion, no network, bounded size. Every element and
value must be understood; anything else raises ``LabelError`` (fail closed). XML signatures in a
binding are *not* verified here (that needs the site's key management): the binding's data-object
hashes are, through ``Binding.verify``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree

from enclave.labels.errors import LabelError
from enclave.labels.model import Label
from enclave.labels.policy import Policy, registry
from enclave.labels.tokens import normalise

NS_4774 = "urn:nato:stanag:4774:confidentialitymetadatalabel:1:0"
NS_4778 = "urn:nato:stanag:4778:bindinginformation:1:0"
NS_DSIG = "http://www.w3.org/2000/09/xmldsig#"
MAX_XML_BYTES = 4 * 1024 * 1024
_LABEL_ROOTS = ("originatorConfidentialityLabel", "ConfidentialityLabel", "alternativeConfidentialityLabel")
_TYPES = {"RESTRICTIVE": "restrictive", "PERMISSIVE": "permissive", "INFORMATIVE": "informative"}
_DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
}


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _parse_xml(data: bytes, what: str) -> etree._Element:
    if len(data) > MAX_XML_BYTES:
        raise LabelError(f"{what}: XML larger than {MAX_XML_BYTES} bytes")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise LabelError(f"{what}: not well-formed XML: {exc}", hint="fix the line named above") from None
    if root.getroottree().docinfo.doctype:
        raise LabelError(f"{what}: a DOCTYPE is not allowed in label XML", hint="remove the DTD (entities are refused)")
    return root


def _text(el: etree._Element | None, what: str) -> str:
    if el is None or not (el.text or "").strip():
        raise LabelError(f"STANAG 4774 label: {what} is missing or empty")
    return " ".join(el.text.split())


# ---------------------------------------------------------------------------------------------------
# Writing


def label_to_4774_xml(label: Label, *, created: datetime | None = None) -> bytes:
    """An ``originatorConfidentialityLabel`` document for the label (UTF-8, with declaration)."""
    root = _label_element(label, created)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _label_element(label: Label, created: datetime | None) -> etree._Element:
    reg = registry()
    pol = reg.policy(label.policy)
    root = etree.Element(_q(NS_4774, "originatorConfidentialityLabel"), nsmap={"slab": NS_4774})
    info = etree.SubElement(root, _q(NS_4774, "ConfidentialityInformation"))
    etree.SubElement(info, _q(NS_4774, "PolicyIdentifier")).text = pol.xml_identifier
    etree.SubElement(info, _q(NS_4774, "Classification")).text = pol.levels[label.level].xml
    blocks = (
        ("restrictive", "RESTRICTIVE", sorted(label.restrictive)),
        ("informative", "INFORMATIVE", sorted(label.informative)),
    )
    for kind, type_name, values in blocks:
        if values:
            _category(info, pol.xml_tags[kind], type_name, values)
    _category(info, pol.xml_tags["permissive"], "PERMISSIVE", reg.collapse(label.releasable_to, first=pol.originator))
    stamp = (created or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    etree.SubElement(root, _q(NS_4774, "CreationDateTime")).text = stamp
    return root


def _category(parent: etree._Element, tag: str, type_name: str, values: list[str]) -> None:
    cat = etree.SubElement(parent, _q(NS_4774, "Category"), TagName=tag, Type=type_name)
    for value in values:
        etree.SubElement(cat, _q(NS_4774, "GenericValue")).text = value


# ---------------------------------------------------------------------------------------------------
# Reading


def label_from_4774_xml(data: bytes | str) -> Label:
    """The label of a STANAG 4774 confidentiality label document (or the first one inside ``data``)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    root = _parse_xml(raw, "STANAG 4774 label")
    return _label_from_element(_find_label(root))


def _find_label(root: etree._Element) -> etree._Element:
    if etree.QName(root).namespace == NS_4774 and etree.QName(root).localname in _LABEL_ROOTS:
        return root
    for name in _LABEL_ROOTS:
        found = root.find(f".//{_q(NS_4774, name)}")
        if found is not None:
            return found
    raise LabelError(
        f"no STANAG 4774 confidentiality label (namespace {NS_4774}) in the XML",
        hint="the root must be slab:originatorConfidentialityLabel",
    )


def _policy_for(identifier: str) -> Policy:
    reg = registry()
    wanted = normalise(identifier)
    for pol in reg.policies.values():
        if normalise(pol.xml_identifier) == wanted or pol.id == wanted:
            return pol
    raise LabelError(
        f"STANAG 4774 label: unknown PolicyIdentifier {identifier!r}",
        hint=f"known: {', '.join(sorted(p.xml_identifier for p in reg.policies.values()))}",
        token=identifier,
    )


def _label_from_element(el: etree._Element) -> Label:
    reg = registry()
    infos = el.findall(_q(NS_4774, "ConfidentialityInformation"))
    if len(infos) != 1:
        raise LabelError(f"STANAG 4774 label: expected one ConfidentialityInformation, found {len(infos)}")
    info = infos[0]
    for child in info:
        if etree.QName(child).namespace != NS_4774 or etree.QName(child).localname not in (
            "PolicyIdentifier",
            "Classification",
            "PrivacyMark",
            "Category",
        ):
            raise LabelError(f"STANAG 4774 label: unexpected element {child.tag}", token=str(child.tag))
    pol = _policy_for(_text(info.find(_q(NS_4774, "PolicyIdentifier")), "PolicyIdentifier"))
    classification = _text(info.find(_q(NS_4774, "Classification")), "Classification")
    rank = next(
        (lv.rank for lv in pol.levels if normalise(classification) in (normalise(lv.xml), normalise(lv.name))),
        None,
    )
    if rank is None:
        raise LabelError(
            f"STANAG 4774 label: Classification {classification!r} is not a level of policy {pol.id}",
            hint=f"{pol.id} levels: {', '.join(lv.xml for lv in pol.levels)}",
            token=classification,
        )
    restrictive: set[str] = set()
    informative: set[str] = set()
    releasable: list[str] | None = None
    for cat in info.findall(_q(NS_4774, "Category")):
        type_name = (cat.get("Type") or "").strip().upper()
        kind = _TYPES.get(type_name)
        if kind is None:
            raise LabelError(
                f"STANAG 4774 label: Category Type {cat.get('Type')!r} "
                "(expected PERMISSIVE, RESTRICTIVE or INFORMATIVE)",
                token=cat.get("Type"),
            )
        tag = " ".join((cat.get("TagName") or "").split())
        if normalise(tag) != normalise(pol.xml_tags[kind]):
            raise LabelError(
                f"STANAG 4774 label: unknown {type_name} category {tag!r} for policy {pol.id}",
                hint=f"expected TagName {pol.xml_tags[kind]!r}",
                token=tag,
            )
        values = []
        for val in cat:
            if etree.QName(val).localname != "GenericValue" or etree.QName(val).namespace != NS_4774:
                raise LabelError(f"STANAG 4774 label: unexpected element {val.tag} in Category {tag!r}")
            values.append(_text(val, f"GenericValue in {tag!r}"))
        if kind == "permissive":
            if releasable is not None:
                raise LabelError("STANAG 4774 label: the releasability category appears twice")
            releasable = [_canonical_value(v) for v in values]
            continue
        target = restrictive if kind == "restrictive" else informative
        for value in values:
            spec = pol.categories.get(value) or pol.categories.get(normalise(value))
            if spec is None or spec.kind != kind:
                raise LabelError(
                    f"STANAG 4774 label: {value!r} is not a {kind} category of policy {pol.id}", token=value
                )
            target.add(spec.name)
    rel = pol.default_releasable_to if releasable is None else reg.expand(releasable)
    return Label(pol.id, rank, "", frozenset(restrictive), rel, frozenset(informative))


def _canonical_value(value: str) -> str:
    from enclave.labels.markings import parse_value

    return parse_value(value)


# ---------------------------------------------------------------------------------------------------
# STANAG 4778 bindings


@dataclass(frozen=True)
class BoundObject:
    """A data object a binding refers to: its URI and digest."""

    uri: str
    algorithm: str  # hashlib name: sha256, sha384, sha512
    digest: bytes

    @property
    def hex(self) -> str:
        return self.digest.hex()

    def matches(self, data: bytes) -> bool:
        return hmac.compare_digest(hashlib.new(self.algorithm, data).digest(), self.digest)


@dataclass(frozen=True)
class Binding:
    """A label bound to data object(s) by hash (STANAG 4778 metadata binding)."""

    label: Label
    objects: tuple[BoundObject, ...]
    signed: bool  # a ds:SignatureValue is present (the signature is not verified here)

    def verify(self, data: bytes, uri: str | None = None) -> bool:
        """True when ``data`` hashes to a bound object (the one named ``uri`` when given)."""
        candidates = [o for o in self.objects if uri is None or o.uri == uri]
        return any(o.matches(data) for o in candidates)


def read_4778_binding(path_or_bytes: str | Path | bytes) -> Binding:
    """Read a binding: the 4774 label in its Metadata and the digests of the bound data objects."""
    if isinstance(path_or_bytes, bytes):
        data, what = path_or_bytes, "STANAG 4778 binding"
    else:
        path = Path(path_or_bytes)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise LabelError(f"{path}: cannot read binding: {exc}") from exc
        what = str(path)
    root = _parse_xml(data, what)
    bindings = (
        [root]
        if etree.QName(root).localname == "MetadataBinding"
        else root.findall(f".//{_q(NS_4778, 'MetadataBinding')}")
    )
    if etree.QName(root).namespace != NS_4778 or not bindings:
        raise LabelError(f"{what}: not a STANAG 4778 binding (namespace {NS_4778})")
    if len(bindings) != 1:
        raise LabelError(f"{what}: expected one MetadataBinding, found {len(bindings)}")
    binding = bindings[0]
    metadata = binding.find(_q(NS_4778, "Metadata"))
    if metadata is None:
        raise LabelError(f"{what}: MetadataBinding has no Metadata")
    labels = [el for name in _LABEL_ROOTS for el in metadata.iter(_q(NS_4774, name))]
    if len(labels) != 1:
        raise LabelError(f"{what}: expected one 4774 confidentiality label in Metadata, found {len(labels)}")
    label = _label_from_element(labels[0])
    refs = {(r.get("URI") or "").strip() for r in binding.iter(_q(NS_4778, "DataReference"))}
    objects: list[BoundObject] = []
    for ref in root.iter(_q(NS_DSIG, "Reference")):
        uri = (ref.get("URI") or "").strip()
        if uri.startswith("#"):
            continue  # a reference to the metadata itself, not a data object
        method = ref.find(_q(NS_DSIG, "DigestMethod"))
        algorithm = _DIGESTS.get((method.get("Algorithm") if method is not None else "") or "")
        if algorithm is None:
            raise LabelError(
                f"{what}: unsupported digest algorithm {method.get('Algorithm') if method is not None else None!r} "
                f"for {uri!r}",
                hint="use SHA-256, SHA-384 or SHA-512 (SHA-1 is refused)",
            )
        try:
            digest = base64.b64decode(_text(ref.find(_q(NS_DSIG, "DigestValue")), "DigestValue"), validate=True)
        except (ValueError, LabelError) as exc:
            raise LabelError(f"{what}: bad DigestValue for {uri!r}: {exc}") from None
        if len(digest) != hashlib.new(algorithm).digest_size:
            raise LabelError(f"{what}: DigestValue for {uri!r} has the wrong length for {algorithm}")
        objects.append(BoundObject(uri, algorithm, digest))
    if not objects:
        raise LabelError(f"{what}: binding has no data-object digest", hint="a binding must carry ds:Reference digests")
    unbound = sorted(refs - {o.uri for o in objects} - {""})
    if unbound:
        raise LabelError(f"{what}: DataReference {unbound[0]!r} has no digest in the binding information")
    return Binding(label, tuple(objects), root.find(f".//{_q(NS_DSIG, 'SignatureValue')}") is not None)


def write_4778_binding(label: Label, objects: dict[str, bytes], *, created: datetime | None = None) -> bytes:
    """A binding of ``label`` to data objects (URI -> content) by SHA-256 (unsigned)."""
    root = etree.Element(_q(NS_4778, "MetadataBindingContainer"), nsmap={"mb": NS_4778, "ds": NS_DSIG})
    binding = etree.SubElement(root, _q(NS_4778, "MetadataBinding"))
    etree.SubElement(binding, _q(NS_4778, "Metadata")).append(_label_element(label, created))
    for uri in objects:
        etree.SubElement(binding, _q(NS_4778, "DataReference"), URI=uri)
    info = etree.SubElement(root, _q(NS_4778, "BindingInformation"))
    signed_info = etree.SubElement(info, _q(NS_DSIG, "SignedInfo"))
    for uri, content in objects.items():
        ref = etree.SubElement(signed_info, _q(NS_DSIG, "Reference"), URI=uri)
        etree.SubElement(ref, _q(NS_DSIG, "DigestMethod"), Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
        etree.SubElement(ref, _q(NS_DSIG, "DigestValue")).text = base64.b64encode(
            hashlib.sha256(content).digest()
        ).decode("ascii")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
