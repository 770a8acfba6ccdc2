"""MIME framing: boundaries, Content-IDs, header values, exact framing bytes.

Every value checked here is the caller's: a refusal is a plain `ValueError`
(a bad value) or `TypeError` (not a str), never `MtomFormatError`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from asyncmtom._core.mime import (
    MultipartFraming,
    check_action,
    check_boundary,
    check_content_id,
    check_media_type,
    make_boundary,
)


def test_random_boundaries_are_valid_and_distinct() -> None:
    boundaries = {make_boundary() for _ in range(100)}
    assert len(boundaries) == 100
    for b in boundaries:
        assert check_boundary(b) == b and len(b) <= 70


@pytest.mark.parametrize(
    "boundary", ["", "a" * 71, "ends with space ", "semi;colon", 'quote"', "crlf\r\n", "é"]
)
def test_invalid_boundaries_refused(boundary: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_boundary(boundary)
    assert type(caught.value) is ValueError


@pytest.mark.parametrize("boundary", ["a", "a" * 70, "'()+_,-./:=? x"])
def test_valid_boundaries_accepted(boundary: str) -> None:
    assert check_boundary(boundary) == boundary


@pytest.mark.parametrize("cid", ["<a@b>", "a", "a@b@c", "a b@c", "a%20@b", "a@b\r\nX: y", "a_b@c"])
def test_invalid_content_ids_refused(cid: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_content_id(cid)
    assert type(caught.value) is ValueError


@pytest.mark.parametrize(
    "value",
    [
        "text/plain\r\nX-Injected: 1",
        "text/plain\nX: y",
        'application/pdf; name="\u00e9"',
        "nonsense",
        "",
        "a/b; c",
    ],
)
def test_header_injection_through_media_type_refused(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_media_type(value)
    assert type(caught.value) is ValueError


@pytest.mark.parametrize(
    "value", ["application/pdf", 'text/plain; charset="utf-8"', "image/png;q=1"]
)
def test_media_types_accepted(value: str) -> None:
    assert check_media_type(value) == value


@pytest.mark.parametrize("action", ["urn:a\r\nX: y", 'urn:"a"', "urn:a b", "urn:\u00e9", "a\\b"])
def test_invalid_actions_refused(action: str) -> None:
    with pytest.raises(ValueError) as caught:
        check_action(action)
    assert type(caught.value) is ValueError


@pytest.mark.parametrize(
    "check", [check_boundary, check_content_id, check_media_type, check_action]
)
@pytest.mark.parametrize("value", [None, b"a@b", 7])
def test_values_that_are_not_str_are_type_errors(check: Any, value: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        check(value)


def test_framing_refuses_a_bad_boundary_or_start_id_as_value_errors() -> None:
    with pytest.raises(ValueError, match="boundary") as caught:
        MultipartFraming(boundary="a\r\nb", start_id="root@x", start_info="text/xml")
    assert type(caught.value) is ValueError
    with pytest.raises(ValueError, match="start id") as caught:
        MultipartFraming(boundary="b", start_id="<root@x>", start_info="text/xml")
    assert type(caught.value) is ValueError


def test_framing_bytes() -> None:
    framing = MultipartFraming(
        boundary="b0", start_id="root@x", start_info='application/soap+xml; action="urn:a"'
    )
    assert framing.content_type == (
        'multipart/related; type="application/xop+xml"; boundary="b0"; start="<root@x>"; '
        'start-info="application/soap+xml; action=\\"urn:a\\""'
    )
    assert framing.root_head.startswith(b"--b0\r\nContent-ID: <root@x>\r\n")
    assert b'type="application/soap+xml; action=\\"urn:a\\""' in framing.root_head
    assert framing.part_head("1@x", "image/png") == (
        b"\r\n--b0\r\nContent-ID: <1@x>\r\nContent-Type: image/png\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n"
    )
    assert framing.closing == b"\r\n--b0--\r\n"
    assert re.fullmatch(rb"[\x20-\x7e\r\n]*", framing.root_head)
