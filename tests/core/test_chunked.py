"""`asyncmtom._core.chunked`: HTTP/1.1 chunked bodies, in any slicing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asyncmtom import MtomFormatError
from asyncmtom._core.chunked import ChunkedDecoder


def encode(data: bytes, size: int, *, crlf: bytes = b"\r\n", extension: bytes = b"") -> bytes:
    out = b""
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        out += b"%x" % len(piece) + extension + crlf + piece + crlf
    return out + b"0" + crlf + crlf


def decode(body: bytes, cuts: list[int]) -> tuple[bytes, ChunkedDecoder]:
    decoder = ChunkedDecoder()
    out = b""
    start = 0
    for cut in [*cuts, len(body)]:
        out += b"".join(decoder.feed(body[start : start + cut]))
        start += cut
    out += b"".join(decoder.feed(body[start:]))
    return out, decoder


@given(
    st.binary(max_size=500),
    st.integers(1, 97),
    st.lists(st.integers(1, 13), max_size=40),
    st.sampled_from([b"\r\n", b"\n"]),
)
def test_any_slicing_gives_the_data(data: bytes, size: int, cuts: list[int], crlf: bytes) -> None:
    body = encode(data, size, crlf=crlf, extension=b";name=value")
    out, decoder = decode(body, cuts)
    assert out == data
    assert decoder.done
    decoder.finish()


def test_trailer_after_the_last_chunk_is_ignored() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n") == [b"abc"]
    assert decoder.feed(b"garbage") == []
    assert decoder.done


def test_truncated_body_refused_at_finish() -> None:
    decoder = ChunkedDecoder()
    assert decoder.feed(b"5\r\n<a/>") == [b"<a/>"]
    with pytest.raises(MtomFormatError, match="ends before its last"):
        decoder.finish()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"3\r\nabcX", "no line break after a chunk"),
        (b"zz\r\n", "bad chunk size"),
        (b"1" * 1025, "size line is too long"),
    ],
)
def test_malformed_bodies_refused(body: bytes, message: str) -> None:
    with pytest.raises(MtomFormatError, match=message):
        ChunkedDecoder().feed(body)
