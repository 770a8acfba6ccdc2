"""The error taxonomy: what a peer sent apart from what the caller did.

``except MtomFormatError`` around a read must catch everything a malformed
message causes and nothing a caller's mistake causes: the same kind of bad
value (a boundary, a Content-ID, a media type) is a `MtomFormatError` when a
peer sent it and a plain `ValueError` or `TypeError` when the caller gave it.
"""

from __future__ import annotations

import pytest
from readercases import ROOT_HEADERS, build, content_type, envelope, include, part_headers

from asyncmtom import (
    InvalidXmlError,
    MtomEncoding,
    MtomError,
    MtomFormatError,
    MtomLimitError,
    PartSizeError,
    ReaderStateError,
    WriterStateError,
    XmlWriter,
    read_mtom,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (MtomFormatError, ValueError),
        (InvalidXmlError, ValueError),
        (WriterStateError, RuntimeError),
        (ReaderStateError, RuntimeError),
        (MtomLimitError, MtomError),
        (PartSizeError, MtomError),
    ],
)
def test_every_error_is_an_mtom_error_and_the_builtin_one_expects(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, MtomError) and issubclass(error, builtin)


def test_limit_and_format_errors_are_apart() -> None:
    assert not issubclass(MtomLimitError, ValueError)
    assert not issubclass(MtomFormatError, MtomLimitError)
    assert not issubclass(MtomLimitError, MtomFormatError)


async def _read(ctype: str, body: bytes) -> None:
    async with read_mtom(ctype, body) as message:
        await message.resolve()


_PEER_MESSAGES = {
    "a boundary with a line break": (content_type("a\r\nb"), b""),
    "a Content-Type without boundary": ('multipart/related; type="application/xop+xml"', b""),
    "a truncated body": (content_type(), build([(ROOT_HEADERS, envelope())])[:-10]),
    "two parts with one Content-ID": (
        content_type(),
        build(
            [(ROOT_HEADERS, envelope()), (part_headers("a@x"), b"1"), (part_headers("a@x"), b"2")]
        ),
    ),
    "an Include naming no part": (
        content_type(),
        build([(ROOT_HEADERS, envelope(include("cid:no@x")))]),
    ),
    "an Include whose href is not cid:": (
        content_type(),
        build([(ROOT_HEADERS, envelope(include("http://example.com/x")))]),
    ),
}


@pytest.mark.parametrize("case", list(_PEER_MESSAGES))
async def test_except_mtom_format_error_catches_what_a_peer_sent(case: str) -> None:
    ctype, body = _PEER_MESSAGES[case]
    try:
        await _read(ctype, body)
    except MtomFormatError:
        pass
    else:
        pytest.fail(f"{case}: no MtomFormatError")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"boundary": "a\r\nb"}, ValueError),
        ({"start_id": "<root@x>"}, ValueError),
        ({"action": "urn:a b"}, ValueError),
        ({"soap": "1.2"}, TypeError),
    ],
)
def test_except_mtom_format_error_lets_a_callers_mistake_through(
    kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        try:
            MtomEncoding(**kwargs)  # type: ignore[arg-type]
        except MtomFormatError:
            pytest.fail("a caller's mistake reported as what a peer sent")
    assert not isinstance(caught.value, MtomError)


async def test_a_bad_content_type_given_to_the_writer_is_a_value_error() -> None:
    writer = XmlWriter()
    writer.start_element("a", "urn:a")
    for content_type_given, error in [("text/plain\r\nX: y", ValueError), (7, TypeError)]:
        with pytest.raises(error) as caught:
            await writer.write_bytes(b"x" * 1000, content_type=content_type_given)  # type: ignore[arg-type]
        assert type(caught.value) is error


@pytest.mark.parametrize("given", [None, b"multipart/related", 5])
async def test_a_content_type_that_is_not_a_str_is_a_type_error(given: object) -> None:
    with pytest.raises(TypeError, match="content_type must be a str") as caught:
        await _read(given, b"")  # type: ignore[arg-type]
    assert not isinstance(caught.value, MtomError)
