"""`asyncmtom._core.related`: header parameters, transfer encodings, the parser."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asyncmtom import MtomFormatError, MtomLimitError
from asyncmtom._core.related import (
    Base64Decoder,
    RelatedParser,
    RelatedSegment,
    cid_from_href,
    make_part_decoder,
    parse_media_type,
    strip_angle_brackets,
)

# --- Content-Type parameters ------------------------------------------------


def test_media_type_quoted_and_bare_parameters() -> None:
    parsed = parse_media_type(
        'Multipart/Related; TYPE="application/xop+xml";boundary=uuid:abc-1;'
        "start=<root@x>; start-info=text/xml"
    )
    assert parsed.essence == "multipart/related"
    assert parsed.params == {
        "type": "application/xop+xml",
        "boundary": "uuid:abc-1",
        "start": "<root@x>",
        "start-info": "text/xml",
    }


def test_media_type_escaped_quotes_inside_start_info() -> None:
    parsed = parse_media_type(
        'multipart/related; start-info="application/soap+xml; action=\\"urn:a;b\\""; '
        'boundary="b; c"'
    )
    assert parsed.get("start-info") == 'application/soap+xml; action="urn:a;b"'
    assert parsed.get("boundary") == "b; c"
    assert parse_media_type(parsed.params["start-info"]).get("action") == "urn:a;b"


def test_media_type_whitespace_odd_items_and_unterminated_quote() -> None:
    parsed = parse_media_type('text/xml ;  charset = "utf-8" ; novalue ; ; a=1; b="open')
    assert parsed.essence == "text/xml"
    assert parsed.params == {"charset": "utf-8", "a": "1", "b": "open"}
    assert parse_media_type("text/xml").params == {}
    assert parse_media_type("").essence == ""


def test_media_type_first_repeated_parameter_wins() -> None:
    assert parse_media_type("a/b; x=1; X=2").get("x") == "1"


def test_angle_brackets_and_cid_urls() -> None:
    assert strip_angle_brackets(" <a@b> ") == "a@b"
    assert strip_angle_brackets("a@b") == "a@b"
    assert strip_angle_brackets("<a@b") == "<a@b"
    assert cid_from_href("cid:a@b") == "a@b"
    assert cid_from_href(" CID:http%3A%2F%2Ftempuri.org%2F1 ") == "http://tempuri.org/1"
    assert cid_from_href("http://example.com/a") is None
    assert cid_from_href("file:///etc/passwd") is None


# --- base64 transfer encoding -------------------------------------------------


@given(st.binary(max_size=600), st.lists(st.integers(1, 97), min_size=1, max_size=40))
def test_base64_decoder_any_chunking(data: bytes, cuts: list[int]) -> None:
    text = base64.encodebytes(data)  # MIME style: lines of 76 characters, LF
    decoder = Base64Decoder()
    out, position, index = b"", 0, 0
    while position < len(text):
        step = cuts[index % len(cuts)]
        out += decoder.decode(text[position : position + step])
        position += step
        index += 1
    out += decoder.finish()
    assert out == data


def test_base64_decoder_refuses_junk_and_truncation() -> None:
    with pytest.raises(MtomFormatError, match="invalid character"):
        Base64Decoder().decode(b"QUJD*EVG")
    decoder = Base64Decoder()
    assert decoder.decode(b"QUJDRA") == b"ABC"
    with pytest.raises(MtomFormatError, match="incomplete"):
        decoder.finish()


@pytest.mark.parametrize("encoding", ["", "binary", "8bit", "7bit"])
def test_identity_transfer_encodings(encoding: str) -> None:
    decoder = make_part_decoder(encoding)
    assert decoder.decode(b"\r\nQUJD\r\n") == b"\r\nQUJD\r\n"


@pytest.mark.parametrize("encoding", ["quoted-printable", "x-gzip"])
def test_other_transfer_encodings_refused(encoding: str) -> None:
    with pytest.raises(MtomFormatError, match="Content-Transfer-Encoding"):
        make_part_decoder(encoding)


# --- xop:Include spans --------------------------------------------------------


def _parse(body: bytes, boundary: str = "b", **limits: int) -> list[object]:
    settings = {"max_parts": 10, "max_header_size": 1024, "max_headers": 8, "max_part_size": 10**6}
    settings.update(limits)
    parser = RelatedParser(boundary, **settings)
    events: list[object] = list(parser.feed(body))
    events += list(parser.feed(b""))
    return events


def test_parser_events_for_parts_without_disposition() -> None:
    body = (
        b"--b\r\ncontent-id: <r@x>\r\nCONTENT-TYPE:text/xml\r\n\r\n<r/>\r\n"
        b"--b\r\nContent-ID: <p@x>\r\nContent-Transfer-Encoding:  Binary \r\n\r\n\r\nP\r\n\r\n"
        b"--b--"
    )
    events = _parse(body)
    root, first_chunk, end_root, part, second_chunk, end_part = events
    assert isinstance(root, RelatedSegment) and isinstance(part, RelatedSegment)
    assert (root.content_id, root.content_type_header) == ("r@x", "text/xml")
    assert (part.content_id, part.transfer_encoding) == ("p@x", "binary")
    assert (first_chunk, second_chunk) == (b"<r/>", b"\r\nP\r\n")
    assert end_root is None and end_part is None


def test_parser_header_section_limit_counts_all_lines() -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 40) for n in range(6))  # ~300 bytes
    body = b"--b\r\n" + headers + b"\r\nx\r\n--b--"
    assert len(_parse(body, max_header_size=400)) == 3
    with pytest.raises(MtomLimitError):
        _parse(body, max_header_size=200)


def test_parser_header_count_part_count_and_part_size_limits() -> None:
    body = b"--b\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\nxyz\r\n--b\r\nA: 1\r\n\r\n\r\n--b--"
    assert len(_parse(body)) == 5  # the empty second part has no chunk
    with pytest.raises(MtomLimitError):
        _parse(body, max_headers=2)
    with pytest.raises(MtomLimitError):
        _parse(body, max_parts=1)
    with pytest.raises(MtomLimitError):
        _parse(body, max_part_size=2)


@pytest.mark.parametrize(
    "body",
    [
        b"--b\r\nA: 1\r\n\r\nxyz",  # no closing delimiter
        b"--b\nA: 1\n\nxyz\n--b--\n",  # bare LF line breaks
        b"--b\r\nA: 1\nB: 2\r\n\r\nx\r\n--b--",  # a bare LF inside the headers
        b"--b\r\nno colon\r\n\r\nx\r\n--b--",
        b"--b\r\nA: 1\r\n\r\nx\r\n--bXY\r\n",
        b"--b\r\nContent-Length: 5\r\n\r\nx\r\n--b--",
    ],
)
def test_parser_errors_become_format_errors(body: bytes) -> None:
    with pytest.raises(MtomFormatError):
        _parse(body)


def test_parser_long_boundary_preamble_epilogue() -> None:
    boundary = "B" * 200
    body = (
        b"preamble text\r\n--"
        + boundary.encode()
        + b"\r\nA: 1\r\n\r\n"
        + os.urandom(100)
        + b"\r\n--"
        + boundary.encode()
        + b"--\r\nepilogue\r\n"
    )
    events = _parse(body, boundary)
    assert isinstance(events[0], RelatedSegment) and events[-1] is None
