"""One pass over the body (``_pass.iter_body``): how it ends when it does not finish.

Cancellation, abandonment and aclose() run the callback's cleanup; a failing
source is noted with its part's Content-ID; an abandoned pass is logged.  Each
case runs on asyncio and on trio and checks that no task is left behind and
that the bytes handed on never end with the closing delimiter.
"""

from __future__ import annotations

import gc
from contextlib import aclosing
from itertools import accumulate
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from asyncmtom import MtomEncoding, XmlWriter

pytestmark = pytest.mark.anyio
NS = "urn:example"


def make_writer(callback: Any, boundary: str = "test-boundary") -> XmlWriter:
    writer = XmlWriter(MtomEncoding(boundary=boundary))
    writer.start_element("r", NS)
    return writer


async def finish(writer: XmlWriter, callback: Any) -> XmlWriter:
    await writer.push_bytes(callback)
    writer.end_element()
    return writer


def task_count() -> int:
    return len(anyio.get_running_tasks())


async def test_consumer_cancelled_while_callback_awaits() -> None:
    events: list[str] = []
    received = bytearray()

    async def callback(write: Any) -> None:
        try:
            await write(b"a" * 100_000)
            await anyio.sleep(3600)
        except BaseException as exc:
            events.append(f"raised {type(exc).__name__}")
            raise
        finally:
            with anyio.CancelScope(shield=True):  # cleanup that awaits is shielded
                await anyio.lowlevel.checkpoint()
            events.append("cleanup")

    tasks = task_count()
    writer = await finish(make_writer(callback), callback)
    with anyio.move_on_after(0.2) as scope:
        async for chunk in writer.body():
            received += chunk
    assert scope.cancelled_caught
    assert events[-1] == "cleanup" and events[0].startswith("raised")
    assert not bytes(received).endswith(b"--test-boundary--\r\n")
    assert len(received) >= 100_000
    assert task_count() == tasks


async def test_consumer_closes_iterator_midway() -> None:
    events: list[str] = []

    async def callback(write: Any) -> None:
        try:
            for _ in range(100):
                await write(b"b" * 100_000)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()
            events.append("cleanup")

    writer = await finish(make_writer(callback), callback)
    received = bytearray()
    async with aclosing(writer.body()) as chunks:
        async for chunk in chunks:
            received += chunk
            if len(received) > 300_000:
                break
    assert events == ["cleanup"], "aclose() runs the callback's cleanup at once"
    assert b"--test-boundary--" not in received


async def test_write_to_stream_failure_runs_cleanup_at_once() -> None:
    events: list[str] = []

    class BrokenStream:
        def __init__(self) -> None:
            self.sent = 0

        async def send(self, item: bytes) -> None:
            self.sent += 1
            if self.sent == 3:
                raise anyio.BrokenResourceError("peer went away")

    async def callback(write: Any) -> None:
        try:
            while True:
                await write(b"c" * 100_000)
        finally:
            events.append("cleanup")

    writer = await finish(make_writer(callback), callback)
    with pytest.raises(anyio.BrokenResourceError):
        await writer.write_to(BrokenStream())
    assert events == ["cleanup"]


@pytest.mark.filterwarnings("ignore:Async generator:ResourceWarning")
async def test_abandoned_iterator_is_finalized_by_the_event_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """httpx never calls aclose() on a content iterator: finalization must run cleanup.

    trio cancels async work in the finalizer of an abandoned generator, so the
    callback's cleanup shields what it awaits, as anyio code does anyway.  The
    abandoned pass is logged with where it stopped.
    """
    events: list[str] = []

    async def callback(write: Any) -> None:
        try:
            while True:
                await write(b"d" * 100_000)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()
            events.append("cleanup")

    writer = await finish(make_writer(callback), callback)
    body = aiter(writer.body())
    await body.__anext__()
    await body.__anext__()
    del body
    gc.collect()
    with anyio.fail_after(5):
        while not events:
            await anyio.sleep(0.01)
    assert events == ["cleanup"]
    (record,) = [r for r in caplog.records if r.name == "asyncmtom"]
    where = f"in part <{writer._parts[0].content_id}> after 100000 of its bytes (pass 1)"
    assert where in record.getMessage()


async def test_cancel_during_pull_source() -> None:
    events: list[str] = []

    async def source() -> Any:
        try:
            yield b"e" * 100_000
            await anyio.sleep(3600)
            yield b"never"
        finally:
            events.append("source closed")

    writer = make_writer(None)
    await writer.pull_bytes(source())
    writer.end_element()
    tasks = task_count()
    received = bytearray()
    with anyio.move_on_after(0.2):
        async for chunk in writer.body():
            received += chunk
    assert events == ["source closed"]
    assert not received.endswith(b"--\r\n")
    assert task_count() == tasks


async def test_callback_may_use_its_own_task_group_between_writes() -> None:
    async def callback(write: Any) -> None:
        send, receive = anyio.create_memory_object_stream[bytes](1)

        async def produce() -> None:
            async with send:
                for i in range(10):
                    await send.send(bytes([i]) * 50_000)

        chunks = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            async with receive:
                async for chunk in receive:
                    chunks.append(chunk)
        for chunk in chunks:
            await write(chunk)

    writer = await finish(make_writer(callback), callback)
    body = b"".join([c async for c in writer.body()])
    assert body.endswith(b"--test-boundary--\r\n")
    assert len(body) > 500_000


async def test_a_failing_pull_source_is_noted_once_with_its_content_id() -> None:
    class Boom(Exception):
        pass

    async def source() -> Any:
        yield b"f" * 100_000
        raise Boom("gone")

    writer = make_writer(None)
    await writer.pull_bytes(source())
    writer.end_element()
    received = bytearray()
    with pytest.raises(Boom) as caught:
        async for chunk in writer.body():
            received += chunk
    (note,) = caught.value.__notes__
    assert f"<{writer._parts[0].content_id}>" in note
    assert not received.endswith(b"--\r\n")


@pytest.mark.parametrize("join_size", [0, 64])
async def test_empty_chunks_are_not_handed_on_nor_reported(join_size: int) -> None:
    """Empty writes and empty source chunks add nothing: no empty chunk, no extra report."""

    async def push(write: Any) -> None:
        for chunk in (b"a" * 1000, b"", bytearray(), b"b" * 1000, b""):
            await write(chunk)
            await anyio.lowlevel.checkpoint()  # what was written is handed on here

    class Source:  # an async iterable: read again by every pass
        async def __aiter__(self) -> Any:
            for chunk in (b"c" * 2000, b"", memoryview(b""), b"d" * 10, b""):
                yield chunk

    writer = XmlWriter(MtomEncoding(boundary="test-boundary"), join_size=join_size)
    with writer.element("r", NS):
        await writer.push_bytes(push, size=2000)
        await writer.pull_bytes(Source(), size=2010)
    reports: list[Any] = []
    body = writer.body(progress=reports.append)
    chunks = [c async for c in body]
    assert all(chunks), "no empty chunk is handed on"
    assert [r.done for r in reports] == list(accumulate(len(c) for c in chunks))
    assert b"".join(chunks).endswith(b"--test-boundary--\r\n")
    digested = [c async for _, c in body._part_chunks()]  # a pass that reads the parts only
    assert all(digested)
    assert b"".join(digested) == b"a" * 1000 + b"b" * 1000 + b"c" * 2000 + b"d" * 10
