"""`asyncmtom._core.xop`: where each xop:Include lies, and what is refused."""

from __future__ import annotations

import pytest

from asyncmtom import MtomFormatError
from asyncmtom._core.xop import find_includes, inserted_text_codec, plan_splices

XOP = "http://www.w3.org/2004/08/xop/include"


def test_include_spans_keep_everything_else() -> None:
    root = (
        '<?xml version="1.0"?><s:E xmlns:s="urn:s" xmlns:x="' + XOP + '"><s:B>'
        '<a>\n  <x:Include href="cid:a%40b"/>\n</a>'
        "<b><x:Include href='cid:c@d' other=\"1\"  ></x:Include></b>"
        '<c><!-- before --><x:Include href="cid:c@d"/><?pi after?></c>'
        "</s:B></s:E>"
    ).encode()
    includes = find_includes(root)
    assert [root[i.start : i.end] for i in includes] == [
        b'<x:Include href="cid:a%40b"/>',
        b"<x:Include href='cid:c@d' other=\"1\"  ></x:Include>",
        b'<x:Include href="cid:c@d"/>',
    ]
    assert [i.content_id for i in includes] == ["a@b", "c@d", "c@d"]
    pieces = plan_splices(root, includes)
    rebuilt = b"".join(
        bytes(piece) if isinstance(piece, memoryview) else b"<" + piece.encode() + b">"
        for piece in pieces
    )
    assert rebuilt == (
        root.replace(b'<x:Include href="cid:a%40b"/>', b"<a@b>")
        .replace(b"<x:Include href='cid:c@d' other=\"1\"  ></x:Include>", b"<c@d>")
        .replace(b'<x:Include href="cid:c@d"/>', b"<c@d>")
    )


def test_include_in_default_namespace_and_no_includes() -> None:
    root = f'<r><d><Include xmlns="{XOP}" href="cid:z@z"/></d></r>'.encode()
    assert [i.content_id for i in find_includes(root)] == ["z@z"]
    assert find_includes(b"<r><Include href='cid:a'/></r>") == []  # not the XOP namespace


def test_include_spans_in_utf16_root() -> None:
    text = f'<r xmlns:x="{XOP}"><d>\u00e9<x:Include href="cid:a@b"/></d></r>'
    root = ("\ufeff" + text.replace("\u00e9", "")).encode("utf-16-le")
    (include,) = find_includes(root)
    assert root[include.start : include.end].decode("utf-16-le") == '<x:Include href="cid:a@b"/>'
    assert inserted_text_codec(root) == "utf-16-le"
    assert inserted_text_codec(b"<r/>") is None
    assert inserted_text_codec(b"\xfe\xff\x00<") == "utf-16-be"


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ('<!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>', "DOCTYPE"),
        ('<!DOCTYPE r SYSTEM "http://example.com/r.dtd"><r/>', "DOCTYPE"),
        ("<r>&undeclared;</r>", "well-formed"),
        ("<r><a></r>", "well-formed"),
        (f'<r xmlns:x="{XOP}"><d><x:Include href="http://example.com/p"/></d></r>', "not a cid"),
        (f'<r xmlns:x="{XOP}"><d><x:Include href="file:///etc/passwd"/></d></r>', "not a cid"),
        (f'<r xmlns:x="{XOP}"><d><x:Include href="a@b"/></d></r>', "not a cid"),
        (f'<r xmlns:x="{XOP}"><d><x:Include/></d></r>', "no href"),
        (f'<r xmlns:x="{XOP}"><d><x:Include href="cid:a"><e/></x:Include></d></r>', "child"),
        (f'<r xmlns:x="{XOP}"><d><x:Include href="cid:a">t</x:Include></d></r>', "text"),
        (f'<r xmlns:x="{XOP}"><d>t<x:Include href="cid:a"/></d></r>', "only content"),
        (f'<r xmlns:x="{XOP}"><d><x:Include href="cid:a"/>t</d></r>', "only content"),
        (f'<r xmlns:x="{XOP}"><d><e/><x:Include href="cid:a"/></d></r>', "only content"),
        (f'<r xmlns:x="{XOP}"><d><x:Include href="cid:a"/><e/></d></r>', "only content"),
        (f'<x:Include xmlns:x="{XOP}" href="cid:a"/>', "document element"),
    ],
)
def test_unsafe_or_invalid_root_refused(xml: str, message: str) -> None:
    with pytest.raises(MtomFormatError, match=message):
        find_includes(xml.encode())


def test_billion_laughs_refused_before_expansion() -> None:
    entities = "".join(f'<!ENTITY l{n} "{("&l" + str(n - 1) + ";") * 10}">' for n in range(1, 10))
    root = f'<!DOCTYPE r [<!ENTITY l0 "ha">{entities}]><r>&l9;</r>'.encode()
    with pytest.raises(MtomFormatError, match="DOCTYPE"):
        find_includes(root)


# --- the multipart/related parser ---------------------------------------------
