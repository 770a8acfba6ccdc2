"""iter_mtom: parts in arrival order, nothing spooled, a spent stream after an error."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import anyio.abc
import pytest
from readercases import (
    ROOT_HEADERS,
    CountingSource,
    KiB,
    MiB,
    build,
    chunks_of,
    content_type,
    envelope,
    files_in,
    include,
    part_headers,
    simple_message,
    stat_of,
)

from asyncmtom import MtomFormatError, MtomLimitError, ReaderStateError, iter_mtom

pytestmark = pytest.mark.anyio


# --- iter_mtom: streaming, no spooling ------------------------------------------------


async def test_iter_mtom_arrival_order_and_root_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    one, two = os.urandom(2 * MiB), b"\r\ntwo\r\n"
    root = envelope(include("cid:one@x"), include("cid:two@x"))
    body = build([(part_headers("one@x"), one), (ROOT_HEADERS, root), (part_headers("two@x"), two)])
    seen = []
    async with iter_mtom(content_type(), chunks_of(body, 100 * KiB)) as stream:
        async for part in stream:
            seen.append((part.content_id, part.is_root, part.content_type, await part.read()))
            assert part.complete and part.size == len(seen[-1][3])
    assert seen == [
        ("one@x", False, "application/octet-stream", one),
        ("root@x", True, 'application/xop+xml; charset=UTF-8; type="application/soap+xml"', root),
        ("two@x", False, "application/octet-stream", two),
    ]
    assert files_in(tmp_path) == []  # nothing spooled


async def test_iter_mtom_delivers_chunks_before_the_part_ends() -> None:
    data = os.urandom(300 * KiB)
    body = simple_message(data)
    cut = body.index(data) + 100 * KiB
    send, receive = anyio.create_memory_object_stream[bytes](10)
    async with send, receive, iter_mtom(content_type(), receive) as stream:
        await send.send(body[:cut])
        parts = aiter(stream)
        root = await anext(parts)
        assert root.is_root and await root.read() == envelope(include("cid:data@x"))
        attachment = await anext(parts)
        with anyio.fail_after(5):
            first = await anext(aiter(attachment))  # the rest has not been sent
        assert data.startswith(first) and 0 < len(first) <= 100 * KiB
        await send.send(body[cut:])
        send.close()
        rest = await attachment.read()
        assert first + rest == data
        with pytest.raises(StopAsyncIteration):
            await anext(parts)


async def test_iter_mtom_skipping_parts_and_left_behind_part(tmp_path: Path) -> None:
    body = build(
        [
            (ROOT_HEADERS, envelope("x")),
            (part_headers("a@x"), os.urandom(200_000)),
            (part_headers("b@x"), b"bee"),
        ]
    )
    async with iter_mtom(content_type(), chunks_of(body, 4096)) as stream:
        parts = [part async for part in stream]  # nothing read: each is discarded
        assert [p.content_id for p in parts] == ["root@x", "a@x", "b@x"]
        assert all(p.complete for p in parts)
        assert parts[1].size == 200_000
    async with iter_mtom(content_type(), chunks_of(body, 4096)) as stream:
        async for part in stream:
            if part.content_id == "a@x":
                first = part
                break
        nxt = await anext(aiter(stream))
        assert await nxt.read() == b"bee"
        with pytest.raises(StopAsyncIteration):
            await anext(aiter(first))  # discarded to the end when the stream moved on
    async with iter_mtom(content_type(), chunks_of(body, 4096)) as stream:
        async for part in stream:
            if part.content_id == "a@x":
                assert await part.save(tmp_path / "a.bin") == 200_000
    assert stat_of(tmp_path / "a.bin").st_size == 200_000


async def test_iter_mtom_errors_and_limits() -> None:
    with pytest.raises(MtomFormatError, match="truncated"):
        async with iter_mtom(content_type(), simple_message(b"x")[:-10]) as stream:
            async for part in stream:
                await part.read()
    with pytest.raises(MtomLimitError, match="max_root_size"):
        async with iter_mtom("text/xml", envelope("r" * 5000), max_root_size=1000) as stream:
            async for part in stream:
                await part.read()
    source = CountingSource(simple_message(os.urandom(MiB)), 1000)
    async with iter_mtom(content_type(), source) as stream:
        async for _part in stream:
            break  # an early exit closes the source we were given
    assert source.closed and source.delivered < MiB


async def test_iter_mtom_plain_body() -> None:
    async with iter_mtom("text/xml", envelope("plain")) as stream:
        parts = [(part.is_root, part.content_id, await part.read()) async for part in stream]
        assert stream.action is None
    assert parts == [(True, None, envelope("plain"))]


async def test_stream_unusable_after_an_error() -> None:
    bad = build(
        [
            (ROOT_HEADERS, envelope("x")),
            (["Content-ID: <a@x>", "Content-Transfer-Encoding: base64"], b"QUJD!!!!"),
            (part_headers("b@x"), b"b"),
        ]
    )
    async with iter_mtom(content_type(), bad) as stream:
        parts = aiter(stream)
        await (await anext(parts)).read()
        part = await anext(parts)
        with pytest.raises(MtomFormatError, match="base64"):
            await part.read()
        with pytest.raises(ReaderStateError, match="failed earlier"):
            await anext(parts)


async def test_iter_mtom_entered_once_and_arguments_checked() -> None:
    streaming = iter_mtom(content_type(), simple_message(b"x"))
    async with streaming as stream:
        with pytest.raises(ReaderStateError, match="once"):
            await streaming.__aenter__()
        assert [part.is_root async for part in stream] == [True, False]
    with pytest.raises(ValueError, match="max_root_size"):
        iter_mtom(content_type(), b"", max_root_size=0)
    with pytest.raises(TypeError, match="max_parts"):
        iter_mtom(content_type(), b"", max_parts="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source"):
        iter_mtom(content_type(), "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="content_length"):
        iter_mtom(content_type(), b"", content_length=-1)
