"""BinaryContent: the inline-or-part application of the plan to one element's binary calls."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from asyncmtom import PartSizeError, WriterStateError
from asyncmtom._binary_content import (
    BinaryContent,
    BinaryMode,
    check_size,
    known_size,
    run_bytes,
    run_pull,
    run_push,
)
from asyncmtom._core.mime import MultipartFraming
from asyncmtom._core.plan import PushPiece, XopPlan
from asyncmtom._core.xml import XmlSerializer

pytestmark = pytest.mark.anyio


def content(max_inline_size: int = 10, mtom: bool = True) -> tuple[XmlSerializer, BinaryContent]:
    serializer = XmlSerializer()
    framing = MultipartFraming(boundary="b", start_id="root@x", start_info="text/xml")
    plan = XopPlan(framing, "t", max_inline_size) if mtom else None
    serializer.start_element("r", None, None)
    return serializer, BinaryContent(serializer, plan, None, 1024)


async def test_small_values_are_held_back_then_inlined_when_the_element_ends() -> None:
    serializer, binary = content()
    serializer.start_element("v", None, None)
    for piece in (b"ab", b"cd"):
        emit = binary.add(piece, len(piece), None, None)
        assert emit is not None
        await run_bytes(piece)(emit)
    assert binary.current is not None and binary.current.mode is BinaryMode.PENDING
    binary.end()
    serializer.end_element()
    assert binary.current is None
    assert serializer.take() == b"<r><v>YWJjZA==</v>"


async def test_a_large_value_makes_one_part_and_later_calls_join_it() -> None:
    serializer, binary = content()
    serializer.start_element("v", None, None)
    assert binary.add(b"x" * 100, 100, None, None) is None
    piece = PushPiece(run_bytes, (), None)
    assert binary.add(piece, None, "image/png", None) is None
    state = binary.current
    assert state is not None and state.mode is BinaryMode.PART and state.part is not None
    assert state.part.content_type == "image/png"  # the default type is replaced
    with pytest.raises(WriterStateError, match="already a part"):
        binary.add(b"y", 1, None, True)
    with pytest.raises(WriterStateError, match="already has the content type"):
        binary.add(b"y", 1, "text/plain", None)
    assert serializer.take().endswith(
        b'<v><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:'
        + state.part.content_id.encode()
        + b'"/>'
    )


async def test_the_xmime_content_type_belongs_to_its_own_element_only() -> None:
    serializer, binary = content()
    serializer.start_element("outer", None, None)
    binary.content_type_attribute("image/png")
    serializer.start_element("inner", None, None)
    assert binary.add(b"x" * 100, 100, None, None) is None
    assert binary.current is not None and binary.current.part is not None
    assert binary.current.part.content_type == "application/octet-stream"
    binary.end()
    serializer.end_element()
    assert binary.current is None
    with pytest.raises(WriterStateError, match="only content"):
        binary.add(b"x", 1, None, None)  # <outer> holds a child element now


async def test_text_encoding_inlines_everything() -> None:
    _, binary = content(mtom=False)
    emit = binary.add(b"x" * 100, 100, None, None)
    assert emit is not None and binary.current is not None
    assert binary.current.mode is BinaryMode.INLINE


async def test_run_push_checks_the_declared_size() -> None:
    got = bytearray()

    async def emit(data: bytes | memoryview) -> None:
        got.extend(data)

    async def callback(write, data: bytes) -> None:  # type: ignore[no-untyped-def]
        await write(data)

    await run_push(callback, (b"abc",), 3)(emit)
    assert got == b"abc"
    with pytest.raises(PartSizeError, match="declared as 2"):
        await run_push(callback, (b"abc",), 2)(emit)
    with pytest.raises(PartSizeError, match="declared as 4"):
        await run_push(callback, (b"abc",), 4)(emit)


async def test_run_pull_reads_to_the_end_and_checks_the_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"0123456789")
    got = bytearray()

    async def emit(data: bytes | memoryview) -> None:
        got.extend(data)

    await run_pull(path, 10, 4)(emit)
    assert got == b"0123456789"
    with pytest.raises(PartSizeError, match="delivered more"):
        await run_pull(path, 9, 4)(emit)


async def test_known_size(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"x" * 7)
    assert known_size(b"abc") == 3
    assert known_size(memoryview(b"abcd")) == 4
    assert known_size(path) == 7
    async with await anyio.open_file(path, "rb") as f:
        await f.read(2)
        assert known_size(f) == 5
    assert known_size(Path(os.devnull)) is None  # not a regular file


def test_check_size() -> None:
    assert check_size(None) is None
    assert check_size(0) == 0
    with pytest.raises(TypeError):
        check_size(True)
    with pytest.raises(ValueError):
        check_size(-1)
