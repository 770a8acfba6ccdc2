"""Canonical base64 with the 3-byte carry: any chunking gives b64encode of the whole."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from asyncmtom._core.base64 import Base64Encoder


@given(st.lists(st.binary(max_size=50), max_size=20))
def test_chunked_encoding_equals_whole(chunks: list[bytes]) -> None:
    encoder = Base64Encoder()
    text = b"".join(encoder.encode(c) for c in chunks) + encoder.finish()
    assert text == base64.b64encode(b"".join(chunks))


def test_carry_across_one_byte_chunks() -> None:
    encoder = Base64Encoder()
    assert encoder.encode(b"a") == b""
    assert encoder.encode(b"b") == b""
    assert encoder.encode(b"c") == b"YWJj"
    assert encoder.encode(memoryview(b"d")) == b""
    assert encoder.finish() == b"ZA=="
    assert encoder.finish() == b""


def test_no_line_breaks_in_long_runs() -> None:
    encoder = Base64Encoder()
    text = encoder.encode(bytes(range(256)) * 100) + encoder.finish()
    assert b"\n" not in text and len(text) == 4 * ((25600 + 2) // 3)
