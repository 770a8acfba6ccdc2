"""MtomBody: every pass over ``writer.body()`` is the whole message, the newest one wins.

Each case runs on asyncio and on trio.  Every pass is decoded by the standard
library's ``email`` parser, and passes are compared byte for byte.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from mtomcheck import decode_with_email

from asyncmtom import (
    MtomEncoding,
    PartSizeError,
    Progress,
    WriterStateError,
    XmlWriter,
    _trampoline,
)

pytestmark = pytest.mark.anyio
NS = "urn:example"
DATA = bytes(range(256)) * 4096  # 1 MiB


def writer_for(*, boundary: str = "replay-boundary") -> XmlWriter:
    writer = XmlWriter(MtomEncoding(boundary=boundary))
    writer.start_element("r", NS)
    return writer


async def push_data(write: Any, data: bytes = DATA) -> None:
    for i in range(0, len(data), 100_000):
        await write(data[i : i + 100_000])


def endless(events: list[str]) -> Any:
    """A push callback that writes until it is stopped; its cleanup awaits (shielded)."""

    async def callback(write: Any) -> None:
        try:
            while True:
                await write(b"d" * 100_000)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()
            events.append("cleanup")

    return callback


async def one_pass(body: Any) -> bytes:
    return b"".join([chunk async for chunk in body])


def part_digests(writer: XmlWriter, body: bytes) -> list[str]:
    decoded = decode_with_email(writer.content_type, body)
    return [hashlib.sha256(decoded.parts[cid][1]).hexdigest() for cid in decoded.order]


async def test_every_kind_of_source_is_sent_again_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    calls: list[str] = []

    async def push(write: Any) -> None:
        calls.append("push")
        await push_data(write)

    class Chunks:  # an async iterable that is not an iterator: iterated afresh
        def __aiter__(self) -> AsyncIterator[bytes]:
            return self.gen()

        async def gen(self) -> AsyncIterator[bytes]:
            calls.append("iterable")
            yield DATA[:1000]
            yield DATA[1000:]

    writer = XmlWriter(MtomEncoding(boundary="replay-boundary"))
    writer.start_element("r", NS)
    with writer.element("a", NS):
        await writer.write_bytes(DATA)
    with writer.element("b", NS):
        await writer.push_bytes(push, size=len(DATA))
    with writer.element("c", NS):
        await writer.pull_bytes(path)
    async with await anyio.open_file(path, "rb") as opened:
        await opened.seek(1000)  # rewound to here on every pass, not to 0
        with writer.element("d", NS):
            await writer.pull_bytes(opened)
        with writer.element("f", NS):
            await writer.pull_bytes(Chunks(), size=len(DATA))
        writer.end_element()
        headers = writer.headers
        body = writer.body()
        first = await one_pass(body)
        await opened.seek(5)  # moved by someone else between the passes
        second = await one_pass(body)
        third = await one_pass(body)
    assert first == second == third
    assert body.passes == 3
    assert int(headers["Content-Length"]) == len(first) == body.content_length
    assert calls == ["push", "iterable"] * 3
    whole = hashlib.sha256(DATA).hexdigest()
    tail = hashlib.sha256(DATA[1000:]).hexdigest()
    assert part_digests(writer, first) == [whole, whole, whole, tail, whole]
    with pytest.raises(WriterStateError):
        writer.body()  # body() itself is called once
    assert not _trampoline.DRIVEN, "no callback coroutine is held once its pass ended"


async def test_a_one_shot_source_refuses_a_second_pass_before_any_byte() -> None:
    async def agen() -> AsyncIterator[bytes]:
        yield DATA

    class Reader:
        def __init__(self) -> None:
            self.left = DATA

        async def read(self, n: int) -> bytes:
            chunk, self.left = self.left[:n], self.left[n:]
            return chunk

    for source, kind in ((agen(), "async generator"), (Reader(), r"read\(n\) that cannot seek")):
        writer = writer_for()
        with writer.element("x", NS):
            await writer.push_bytes(push_data)
        with writer.element("y", NS):
            await writer.pull_bytes(source)
        writer.end_element()
        body = writer.body()
        assert body.replayable
        part_digests(writer, await one_pass(body))
        assert not body.replayable
        received = []
        with pytest.raises(WriterStateError, match=kind) as caught:
            async for chunk in body:
                received.append(chunk)
        assert received == [], "refused before the second pass produced any byte"
        assert f"<{writer._parts[1].content_id}>" in str(caught.value)


async def test_a_different_length_on_a_later_pass_aborts_it() -> None:
    stream = [DATA]  # a push callback that drains a one-shot stream

    async def drain(write: Any) -> None:
        while stream:
            await write(stream.pop())

    writer = writer_for()
    await writer.push_bytes(drain)  # no size: chunked, the first pass sets the length
    writer.end_element()
    body = writer.body()
    part_digests(writer, await one_pass(body))
    received = bytearray()
    with pytest.raises(PartSizeError, match="sent before") as caught:
        async for chunk in body:
            received += chunk
    assert writer._parts[0].content_id in str(caught.value.__notes__)
    assert not received.endswith(b"--replay-boundary--\r\n"), "no closing delimiter"


async def test_an_abandoned_pass_is_closed_before_the_next_one_starts() -> None:
    events: list[str] = []

    async def callback(write: Any) -> None:
        events.append("start")
        try:
            await push_data(write)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()  # cleanup that awaits
            events.append("cleanup")

    writer = writer_for()
    await writer.push_bytes(callback)
    writer.end_element()
    body = writer.body()
    abandoned = aiter(body)
    await abandoned.__anext__()
    await abandoned.__anext__()  # inside the callback now; never closed (httpx's way)
    second = aiter(body)
    first_chunk = await second.__anext__()
    assert events == ["start", "cleanup"], "the old pass's cleanup ran first"
    rest = first_chunk + b"".join([c async for c in second])
    part_digests(writer, rest)
    assert events == ["start", "cleanup", "start", "cleanup"]
    with pytest.raises(WriterStateError, match="replaced"):
        await abandoned.__anext__()  # its consumer comes back: an error, not a quiet end


async def test_a_pass_waits_for_one_still_reading_in_another_task() -> None:
    release = anyio.Event()
    events: list[str] = []

    async def callback(write: Any) -> None:
        try:
            await write(b"a" * 1000)
            events.append("waiting")
            await release.wait()
            await write(b"b" * 1000)
            events.append("after wait")
        finally:
            events.append("cleanup")

    writer = writer_for()
    await writer.push_bytes(callback, size=2000)
    writer.end_element()
    body = writer.body()
    old = aiter(body)
    errors: list[BaseException] = []

    async def first_consumer() -> None:
        try:
            async for _ in old:
                pass
        except WriterStateError as exc:
            errors.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first_consumer)
            while "waiting" not in events:
                await anyio.sleep(0.01)

            async def later() -> None:
                await anyio.sleep(0.1)
                assert events == ["waiting"], "the new pass waits while the old one reads"
                release.set()

            tg.start_soon(later)
            second = await one_pass(body)  # starts while the old pass awaits in its task
    assert len(errors) == 1 and "replaced" in str(errors[0])
    assert events[:2] == ["waiting", "cleanup"], "the old pass stopped before the new one read"
    assert events.count("waiting") == 2 and events[-1] == "cleanup"
    part_digests(writer, second)


async def test_a_pass_inside_its_own_callback_is_refused() -> None:
    holder: list[Any] = []

    async def callback(write: Any) -> None:
        await write(b"x" * 100)
        async for _ in holder[0]:
            pass

    writer = writer_for()
    await writer.push_bytes(callback)
    writer.end_element()
    holder.append(writer.body())
    with pytest.raises(WriterStateError, match="inside one of its own callbacks"):
        await one_pass(holder[0])


async def test_aclose_closes_the_running_pass_and_aclosing_type_checks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[str] = []
    writer = writer_for()
    await writer.push_bytes(endless(events))
    writer.end_element()
    async with aclosing(writer.body()) as body:
        async for chunk in body:
            if len(chunk) > 1000:
                break
        assert events == [], "still open: the pass is held, not collected"
    assert events == ["cleanup"]
    assert body.passes == 1
    assert not [r for r in caplog.records if r.name == "asyncmtom"], "closed on purpose: no warning"


async def test_progress_restarts_on_every_pass_with_its_attempt() -> None:
    seen: list[Progress] = []
    writer = writer_for()
    await writer.push_bytes(push_data, size=len(DATA))
    writer.end_element()
    body = writer.body(progress=seen.append)
    first = await one_pass(body)
    count = len(seen)
    second = await one_pass(body)
    assert first == second
    assert [p.attempt for p in seen] == [1] * count + [2] * (len(seen) - count)
    for attempt in (seen[:count], seen[count:]):
        assert attempt[-1].done == attempt[-1].total == len(first)
        assert [p.done for p in attempt] == sorted(p.done for p in attempt)
        parts = [p for p in attempt if p.content_id is not None]
        assert parts[-1].part_done == len(DATA)
    assert seen[count].done < seen[count - 1].done, "the counts start again"


async def test_an_internal_pass_reads_the_parts_then_the_message_is_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def push(write: Any) -> None:
        calls.append(1)
        await push_data(write)

    writer = writer_for()
    with writer.element("a", NS):
        await writer.push_bytes(push)
    with writer.element("b", NS):
        await writer.write_bytes(DATA[:5000])
    writer.end_element()
    body = writer.body()
    digests: dict[str, Any] = {}
    async for content_id, chunk in body._part_chunks():
        digests.setdefault(content_id, hashlib.sha256()).update(chunk)
    sent = await one_pass(body)
    decoded = decode_with_email(writer.content_type, sent)
    assert {cid: d.hexdigest() for cid, d in digests.items()} == {
        cid: hashlib.sha256(data).hexdigest() for cid, (_, data) in decoded.parts.items()
    }
    assert calls == [1, 1] and body.passes == 2
    async with aclosing(body._part_chunks()) as chunks:
        async for _ in chunks:
            break  # a digest pass stopped early on purpose
    assert calls == [1, 1, 1] and body.passes == 3
    assert not [r for r in caplog.records if r.name == "asyncmtom"], "closed on purpose: no warning"


@pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning")
async def test_a_dropped_body_with_an_abandoned_pass_is_finalized() -> None:
    events: list[str] = []
    writer = writer_for()
    await writer.push_bytes(endless(events))
    writer.end_element()
    body = writer.body()
    chunks = aiter(body)
    await chunks.__anext__()
    await chunks.__anext__()
    del chunks
    await anyio.sleep(0.05)
    assert events == [], "the body holds its latest pass"
    del body
    gc.collect()
    with anyio.fail_after(5):
        while not events:
            await anyio.sleep(0.01)
    assert events == ["cleanup"]
    assert not _trampoline.DRIVEN, "the finalized pass let its callback's coroutine go"
