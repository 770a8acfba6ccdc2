"""The sans-I/O serializer: names, namespace scoping, escaping, refusals."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from asyncmtom import InvalidXmlError, WriterStateError
from asyncmtom._core.xml import XML_NAMESPACE, XmlSerializer


def build(steps: list[tuple]) -> bytes:
    s = XmlSerializer()
    for op, *args in steps:
        getattr(s, op)(*args)
    return s.take()


def test_declarations_only_where_not_in_scope() -> None:
    out = build(
        [
            ("start_element", "Envelope", "urn:s", "s"),
            ("start_element", "Body", "urn:s", "s"),
            ("start_element", "Op", "urn:x", None),
            ("start_element", "child", "urn:x", None),
            ("end_element",),
            ("end_element",),
            ("end_element",),
            ("end_element",),
        ]
    )
    assert out == (
        b'<s:Envelope xmlns:s="urn:s"><s:Body><Op xmlns="urn:x"><child/></Op></s:Body></s:Envelope>'
    )
    tree = ET.fromstring(out)
    assert tree[0][0][0].tag == "{urn:x}child"


def test_no_namespace_inside_default_namespace_is_undeclared() -> None:
    out = build(
        [
            ("start_element", "Op", "urn:x", None),
            ("start_element", "arg", None, None),
            ("text", "v"),
            ("end_element",),
            ("start_element", "q", "urn:x", None),
            ("end_element",),
            ("end_element",),
        ]
    )
    assert out == b'<Op xmlns="urn:x"><arg xmlns="">v</arg><q/></Op>'
    tree = ET.fromstring(out)
    assert [c.tag for c in tree] == ["arg", "{urn:x}q"]


def test_prefix_rebinding_restored_after_element() -> None:
    out = build(
        [
            ("start_element", "a", "urn:1", "p"),
            ("start_element", "b", "urn:2", "p"),
            ("end_element",),
            ("start_element", "c", "urn:1", "p"),
            ("end_element",),
            ("end_element",),
        ]
    )
    assert out == b'<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:2"/><p:c/></p:a>'


def test_escaping_round_trips_through_a_parser() -> None:
    text = "a < b && c > d\r\nline\ttab ]]> \u00e9\U0001f600"
    value = 'q"uote <&> \t\r\n end'
    s = XmlSerializer()
    s.start_element("r", None, None)
    s.attribute("v", value)
    s.text(text)
    s.end_element()
    tree = ET.fromstring(s.take())
    assert tree.get("v") == value
    assert tree.text == text


def test_namespaced_attribute_gets_a_prefix() -> None:
    s = XmlSerializer()
    s.start_element("r", "urn:x", None)
    s.attribute("type", "xs:string", "http://www.w3.org/2001/XMLSchema-instance")
    s.attribute("lang", "en", XML_NAMESPACE, "xml")
    s.end_element()
    tree = ET.fromstring(s.take())
    assert tree.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "xs:string"
    assert tree.get(f"{{{XML_NAMESPACE}}}lang") == "en"


@pytest.mark.parametrize("name", ["", "1a", "a b", "a:b", "-a", "a\x00", "\u00d7"])
def test_invalid_names_refused(name: str) -> None:
    s = XmlSerializer()
    with pytest.raises(InvalidXmlError):
        s.start_element(name, None, None)


@pytest.mark.parametrize(
    ("prefix", "namespace"),
    [("p", None), ("xmlns", "urn:x"), ("xml", "urn:x"), ("p", XML_NAMESPACE), ("1p", "urn:x")],
)
def test_invalid_prefixes_refused(prefix: str, namespace: str | None) -> None:
    with pytest.raises(InvalidXmlError):
        XmlSerializer().start_element("a", namespace, prefix)


def test_structure_misuse() -> None:
    s = XmlSerializer()
    with pytest.raises(WriterStateError):
        s.end_element()
    with pytest.raises(WriterStateError):
        s.text("outside")
    s.start_element("a", None, None)
    s.text("x")
    with pytest.raises(WriterStateError):
        s.attribute("late", "v")
    s.end_element()
    with pytest.raises(WriterStateError):
        s.start_element("second", None, None)
    assert s.complete


def test_duplicate_attribute_refused() -> None:
    s = XmlSerializer()
    s.start_element("a", None, None)
    s.attribute("x", "1")
    with pytest.raises(InvalidXmlError):
        s.attribute("x", "2")


@pytest.mark.parametrize("bad", ["a\x00b", "\x0b", "\ud800", "\ufffe", "\uffff"])
def test_characters_xml_does_not_allow_are_refused_in_text_and_attribute_values(bad: str) -> None:
    s = XmlSerializer()
    s.start_element("a", None, None)
    with pytest.raises(InvalidXmlError, match="attribute value holds U"):
        s.attribute("x", bad)
    with pytest.raises(InvalidXmlError, match="text holds U"):
        s.text(bad)
    s.end_element()
    assert s.take() == b"<a/>"


def test_values_that_are_not_str_are_refused() -> None:
    s = XmlSerializer()
    s.start_element("a", None, None)
    with pytest.raises(InvalidXmlError, match="attribute value must be a str"):
        s.attribute("x", b"v")  # type: ignore[arg-type]
    with pytest.raises(InvalidXmlError, match="text must be a str"):
        s.text(1)  # type: ignore[arg-type]


def test_take_hands_on_each_byte_once() -> None:
    s = XmlSerializer(xml_declaration=True)
    s.start_element("a", None, None)
    s.text("x")
    assert s.buffered == len(s.peek()) == len(b'<?xml version="1.0" encoding="utf-8"?><a>x')
    assert s.take() == b'<?xml version="1.0" encoding="utf-8"?><a>x'
    assert s.buffered == 0
    s.end_element()
    assert s.take() == b"</a>"
    assert s.take() == b""


def test_a_mark_is_filled_in_later() -> None:
    s = XmlSerializer()
    s.start_element("Header", None, None)
    s.start_element("Timestamp", None, None)
    s.end_element()
    slot = s.mark()
    s.end_element()
    s.insert(slot, b"<Signature/>")
    assert s.take() == b"<Header><Timestamp/><Signature/></Header>"
