"""STANAG 4774 labels and 4778 bindings through lxml: round trips, hand-written files, hostile XML."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from lxml import etree

from enclave.labels import (
    LabelError,
    label_from_4774_xml,
    label_to_4774_xml,
    parse_label,
    read_4778_binding,
    write_4778_binding,
)
from enclave.labels.xml4774 import NS_4774, NS_4778, NS_DSIG

HAND_WRITTEN = f"""<?xml version="1.0" encoding="UTF-8"?>
<slab:originatorConfidentialityLabel xmlns:slab="{NS_4774}">
  <slab:ConfidentialityInformation>
    <slab:PolicyIdentifier>NATO</slab:PolicyIdentifier>
    <slab:Classification>SECRET</slab:Classification>
    <slab:Category TagName="Special Category Designators" Type="RESTRICTIVE">
      <slab:GenericValue>ATOMAL</slab:GenericValue>
    </slab:Category>
    <slab:Category TagName="Releasable To" Type="PERMISSIVE">
      <slab:GenericValue>USA</slab:GenericValue>
      <slab:GenericValue>GBR</slab:GenericValue>
      <slab:GenericValue>SWE</slab:GenericValue>
    </slab:Category>
  </slab:ConfidentialityInformation>
  <slab:CreationDateTime>2026-01-01T00:00:00Z</slab:CreationDateTime>
</slab:originatorConfidentialityLabel>
"""


def test_read_hand_written_label() -> None:
    assert label_from_4774_xml(HAND_WRITTEN.encode()) == parse_label("NATO SECRET ATOMAL REL TO USA, GBR, SWE")


def test_written_xml_has_the_4774_structure() -> None:
    label = parse_label("COSMIC TOP SECRET ATOMAL - STAFF REL TO USA, GBR")
    root = etree.fromstring(label_to_4774_xml(label))
    ns = {"s": NS_4774}
    assert etree.QName(root).localname == "originatorConfidentialityLabel"
    assert root.findtext("s:ConfidentialityInformation/s:PolicyIdentifier", namespaces=ns) == "NATO"
    assert root.findtext("s:ConfidentialityInformation/s:Classification", namespaces=ns) == "COSMIC TOP SECRET"
    cats = {c.get("Type"): [v.text for v in c] for c in root.findall("s:ConfidentialityInformation/s:Category", ns)}
    assert cats == {"RESTRICTIVE": ["ATOMAL"], "INFORMATIVE": ["STAFF"], "PERMISSIVE": ["GBR", "USA"]}


def test_no_permissive_category_means_policy_default() -> None:
    text = HAND_WRITTEN.replace(
        HAND_WRITTEN[
            HAND_WRITTEN.index('    <slab:Category TagName="Releasable') : HAND_WRITTEN.index(
                "  </slab:ConfidentialityInformation>"
            )
        ],
        "",
    )
    assert label_from_4774_xml(text) == parse_label("NATO SECRET ATOMAL")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (">SECRET<", ">SECERT<", "not a level"),
        (">NATO</slab:PolicyIdentifier>", ">MARS</slab:PolicyIdentifier>", "unknown PolicyIdentifier"),
        (">ATOMAL<", ">ATOMALL<", "not a restrictive category"),
        (">SWE<", ">XYZ<", "XYZ"),
        ('Type="RESTRICTIVE"', 'Type="MANDATORY"', "Category Type"),
        ('TagName="Releasable To"', 'TagName="Shareable With"', "unknown PERMISSIVE category"),
        ("<slab:Classification>SECRET</slab:Classification>", "", "Classification is missing"),
        (f'xmlns:slab="{NS_4774}"', 'xmlns:slab="urn:example:other"', "no STANAG 4774"),
        ("</slab:originatorConfidentialityLabel>", "", "not well-formed"),
    ],
)
def test_bad_4774_documents(old: str, new: str, message: str) -> None:
    assert old in HAND_WRITTEN
    with pytest.raises(LabelError) as info:
        label_from_4774_xml(HAND_WRITTEN.replace(old, new).encode())
    assert message in info.value.message


def test_xxe_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SWE", encoding="utf-8")
    hostile = HAND_WRITTEN.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>',
    ).replace(">SWE<", ">&xxe;<")
    with pytest.raises(LabelError, match="DOCTYPE"):
        label_from_4774_xml(hostile.encode())


def test_billion_laughs_is_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><l>&b;</l>'
    with pytest.raises(LabelError):
        label_from_4774_xml(bomb.encode())


def test_4778_binding_round_trip(tmp_path: Path) -> None:
    label = parse_label("NATO CONFIDENTIAL REL TO NATO, SWE")
    content = b"convoy schedule\n"
    xml = write_4778_binding(label, {"report.txt": content})
    path = tmp_path / "report.txt.4778.xml"
    path.write_bytes(xml)
    binding = read_4778_binding(path)
    assert binding.label == label
    assert [o.uri for o in binding.objects] == ["report.txt"]
    assert binding.objects[0].hex == hashlib.sha256(content).hexdigest()
    assert binding.verify(content)
    assert binding.verify(content, uri="report.txt")
    assert not binding.verify(content + b"tampered")
    assert not binding.verify(content, uri="other.txt")
    assert binding.signed is False
    assert read_4778_binding(xml) == binding


def _binding(digest_alg: str, digest: bytes, extra: str = "") -> bytes:
    label = HAND_WRITTEN.split("?>", 1)[1]
    return f"""<mb:MetadataBindingContainer xmlns:mb="{NS_4778}" xmlns:ds="{NS_DSIG}">
  <mb:MetadataBinding>
    <mb:Metadata>{label}</mb:Metadata>
    <mb:DataReference URI="doc.pdf"/>{extra}
  </mb:MetadataBinding>
  <mb:BindingInformation>
    <ds:Signature><ds:SignedInfo>
      <ds:Reference URI="doc.pdf">
        <ds:DigestMethod Algorithm="{digest_alg}"/>
        <ds:DigestValue>{base64.b64encode(digest).decode()}</ds:DigestValue>
      </ds:Reference>
    </ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>
  </mb:BindingInformation>
</mb:MetadataBindingContainer>""".encode()


def test_hand_written_signed_binding() -> None:
    data = b"%PDF-1.7 fake"
    binding = read_4778_binding(_binding("http://www.w3.org/2001/04/xmlenc#sha512", hashlib.sha512(data).digest()))
    assert binding.label == parse_label("NATO SECRET ATOMAL REL TO USA, GBR, SWE")
    assert binding.signed is True
    assert binding.verify(data)


def test_bad_bindings() -> None:
    with pytest.raises(LabelError, match="SHA-1 is refused"):
        read_4778_binding(_binding("http://www.w3.org/2000/09/xmldsig#sha1", hashlib.sha1(b"x").digest()))
    with pytest.raises(LabelError, match="wrong length"):
        read_4778_binding(_binding("http://www.w3.org/2001/04/xmlenc#sha256", b"short"))
    with pytest.raises(LabelError, match="has no digest"):
        read_4778_binding(
            _binding(
                "http://www.w3.org/2001/04/xmlenc#sha256", hashlib.sha256(b"").digest(), '<mb:DataReference URI="x"/>'
            )
        )
    with pytest.raises(LabelError, match="not a STANAG 4778 binding"):
        read_4778_binding(HAND_WRITTEN.encode())
    with pytest.raises(LabelError, match="cannot read"):
        read_4778_binding(Path("/nonexistent/binding.xml"))
