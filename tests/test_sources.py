"""Sources of bytes: every kind read as checked chunks, replay planned, what was opened closed.

Each case runs on asyncio and on trio, with `SourceChunks` and `replay_of`
called directly (the writer and reader tests go through them too).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from asyncmtom._sources import SourceChunks, as_chunk, check_source, replay_of

pytestmark = pytest.mark.anyio
DATA = bytes(range(256)) * 40  # 10,240 bytes


async def read_all(chunks: SourceChunks) -> list[bytes]:
    try:
        return [bytes(chunk) async for chunk in chunks]
    finally:
        await chunks.aclose()


class Readable:
    """``async read(n)`` over a buffer; seekable unless told otherwise."""

    def __init__(self, data: bytes, *, seekable: bool = True) -> None:
        self.file = io.BytesIO(data)
        if seekable:
            self.seek = self._seek
            self.tell = self._tell

    async def read(self, n: int = -1) -> bytes:
        return self.file.read(n)

    async def _seek(self, position: int) -> int:
        return self.file.seek(position)

    def _tell(self) -> int:
        return self.file.tell()


async def test_bytes_like_values_come_in_read_size_slices_uncopied() -> None:
    assert await read_all(SourceChunks(DATA, 4096)) == [DATA[:4096], DATA[4096:8192], DATA[8192:]]
    small = SourceChunks(DATA, len(DATA))
    assert await small.__anext__() is DATA, "a value within read_size is handed on as it is"
    view = await SourceChunks(bytearray(DATA), 4096).__anext__()
    assert type(view) is memoryview and bytes(view) == DATA[:4096]


async def test_a_path_is_opened_on_first_use_and_closed_by_aclose(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    chunks = SourceChunks(path, 4096)
    first = await chunks.__anext__()
    assert chunks._opened is not None
    await chunks.aclose()
    assert chunks._opened is None and bytes(first) == DATA[:4096]
    assert b"".join(await read_all(SourceChunks(path, 4096))) == DATA


async def test_read_n_seeks_to_the_position_it_was_given_at() -> None:
    source = Readable(DATA)
    source.file.seek(100)
    position, once = await replay_of(source)
    assert (position, once) == (100, None)
    for _ in range(2):  # every pass reads the same bytes
        assert b"".join(await read_all(SourceChunks(source, 4096, position))) == DATA[100:]


async def test_a_byte_stream_is_received_until_its_end() -> None:
    send, receive = anyio.create_memory_object_stream[bytes](10)
    for piece in (DATA[:5000], DATA[5000:]):
        await send.send(piece)
    await send.aclose()
    buffered = BufferedByteReceiveStream(receive)
    assert b"".join(await read_all(SourceChunks(buffered, 4096))) == DATA
    assert await replay_of(buffered) == (None, "a byte stream")


async def test_async_iterables_and_generators_and_what_aclose_closes() -> None:
    events: list[str] = []

    async def gen() -> Any:
        try:
            yield DATA[:10]
            yield bytearray(DATA[10:20])
        finally:
            events.append("closed")

    class Iterable:
        def __aiter__(self) -> Any:
            return gen()

    assert b"".join(await read_all(SourceChunks(Iterable(), 4096))) == DATA[:20]
    assert events == ["closed"]
    unstarted = gen()
    await SourceChunks(unstarted, 4096).aclose()  # aborted before its first chunk
    assert unstarted.ag_frame is None, "closed: it can no longer start"
    started = SourceChunks(gen(), 4096)
    await started.__anext__()
    await started.aclose()
    assert events == ["closed", "closed"]
    assert await replay_of(Iterable()) == (None, None)
    assert await replay_of(gen()) == (None, "an async generator")


async def test_sources_that_read_once_are_named_for_the_error() -> None:
    assert await replay_of(DATA) == (None, None)
    assert await replay_of(Path("anywhere")) == (None, None)
    assert await replay_of(Readable(DATA, seekable=False)) == (
        None,
        "an object with read(n) that cannot seek",
    )

    class Iterator:
        def __aiter__(self) -> Any:
            return self

        async def __anext__(self) -> bytes:
            raise StopAsyncIteration

    assert await replay_of(Iterator()) == (None, "an async iterator")


async def test_what_is_not_a_source_or_a_chunk_is_a_type_error() -> None:
    for wrong in ("text", 42, None):
        with pytest.raises(TypeError, match="a source must be"):
            check_source(wrong)
        with pytest.raises(TypeError, match="a source must be"):
            await SourceChunks(wrong, 4096).__anext__()

    async def gen() -> Any:
        yield "text"

    with pytest.raises(TypeError, match="not str"):
        await SourceChunks(gen(), 4096).__anext__()
    with pytest.raises(TypeError, match="not int"):
        as_chunk(5)
    flat = as_chunk(memoryview(bytes(8)).cast("B", (2, 4)))
    assert type(flat) is memoryview and flat.ndim == 1 and flat.nbytes == 8
