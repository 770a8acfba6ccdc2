"""One pass over the body (``_pass.iter_body``): the chunks it hands on, and how it ends.

The chunks: large ``bytes`` pass uncopied, small writes coalesce, a write
returns once its chunk was handed on, large parts are joined (a reused buffer
stays safe, nothing is held back while the callback waits, glibc recycles the
joined chunks).  Every message is decoded by the standard library's ``email``.

How it ends: cancellation, abandonment and aclose() run the callback's
cleanup; a failing source is noted with its part's Content-ID; an abandoned
pass is logged.  Each case runs on asyncio and on trio and checks that no task
is left behind and that the bytes handed on never end with the closing
delimiter.
"""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
from contextlib import aclosing
from itertools import accumulate
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from mtomcheck import decode_with_email
from payloads import chunked_push, pattern

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


# -- the chunks a pass hands on: passed, coalesced, joined ------------------------------


async def test_large_bytes_chunks_pass_through_uncopied_and_small_ones_coalesce() -> None:
    big = os.urandom(1 << 20)
    writer = XmlWriter(MtomEncoding())
    writer.start_element("r", NS)
    with writer.element("big", NS):
        await writer.push_bytes(chunked_push, b"", 1)
        await writer.write_bytes(big)
    with writer.element("small", NS):
        await writer.push_bytes(chunked_push, pattern(200_000), 100)
    writer.end_element()
    chunks = [c async for c in writer.body()]
    assert any(c is big for c in chunks), "a large bytes chunk is handed on as the same object"
    small_chunks = chunks[[c is big for c in chunks].index(True) + 1 :]
    assert len(small_chunks) <= 5, "2000 writes of 100 bytes are coalesced into a few chunks"
    decode_with_email(writer.content_type, b"".join(chunks))


async def test_write_returns_only_once_the_chunk_was_handed_on() -> None:
    """Without joining, each write is handed on before it returns."""
    progress: list[int] = []

    async def callback(write: Any) -> None:
        for i in range(3):
            await write(bytes([i]) * 100_000)
            progress.append(i)

    writer = XmlWriter(MtomEncoding(), join_size=0)
    writer.start_element("r", NS)
    await writer.push_bytes(callback)
    writer.end_element()
    body = writer.body()
    seen = []
    async for chunk in body:
        if len(chunk) == 100_000:
            seen.append((chunk[0], list(progress)))
    assert seen == [(0, []), (1, [0]), (2, [0, 1])]


@pytest.mark.parametrize("sized", [True, False])
async def test_a_reused_buffer_is_safe_while_chunks_are_joined(sized: bool) -> None:
    """Joined chunks are taken by reference only when immutable; others are copied."""
    data = pattern(160 * 65536, seed=3)  # beyond 16 join sizes: joined, sized or not

    async def callback(write: Any) -> None:
        buffer = bytearray(65536)
        for i in range(0, len(data), 65536):
            buffer[:] = data[i : i + 65536]
            await write(buffer)  # the same buffer, overwritten after every write
            await write(memoryview(buffer)[:0])

    writer = XmlWriter(MtomEncoding(), join_size=512 * 1024)
    with writer.element("r", NS):
        await writer.push_bytes(callback, size=len(data) if sized else None)
    chunks = [c async for c in writer.body()]
    assert max(len(c) for c in chunks) >= 512 * 1024, "the part was joined"
    decoded = decode_with_email(writer.content_type, b"".join(chunks))
    assert [p for _, p in decoded.parts.values()] == [data]


async def test_joined_writes_are_handed_on_when_the_callback_waits() -> None:
    """Joining gathers what is written back to back; a callback that awaits anything else
    first sees what it wrote handed on."""
    seen: list[int] = []

    async def callback(write: Any) -> None:
        for _ in range(84):  # 8.4 MB: joining starts at the last of these (16 join sizes)
            await write(b"\xaa" * 100_000)
        for i in range(3):
            await write(bytes([i]) * 100_000)
            await write(bytes([i]) * 100_000)
            await anyio.lowlevel.checkpoint()  # waits, as a read from a file or socket does
            seen.append(i)

    writer = XmlWriter(MtomEncoding(), join_size=512 * 1024)
    with writer.element("r", NS):
        await writer.push_bytes(callback)
    handed: list[tuple[int, int, list[int]]] = []
    async for chunk in writer.body():
        if len(chunk) >= 200_000:  # the first carries the part's MIME head before the data
            handed.append((chunk[-200_000], chunk[-1], list(seen)))
    assert handed == [(0, 0, []), (1, 1, [0]), (2, 2, [0, 1])]


@pytest.mark.parametrize("known_size", [True, False])
async def test_large_parts_are_joined_with_or_without_a_content_length(known_size: bool) -> None:
    """Declared of 16 join sizes: joined from the start; of unknown size: from there on."""
    data = os.urandom(12 * 1024 * 1024 + 5)
    writer = XmlWriter(MtomEncoding(), join_size=512 * 1024)
    writer.start_element("r", NS)
    with writer.element("a", NS):
        await writer.push_bytes(
            chunked_push, data, 65536 - 7, size=len(data) if known_size else None
        )
    with writer.element("b", NS):
        await writer.write_bytes(b"small" * 300)
    writer.end_element()
    assert (writer.content_length is not None) is known_size
    chunks = [c async for c in writer.body()]
    decoded = decode_with_email(writer.content_type, b"".join(chunks))
    assert [decoded.parts[c][1] for c in decoded.order] == [data, b"small" * 300]
    largest = max(len(c) for c in chunks)
    assert 512 * 1024 <= largest < 512 * 1024 + 65536, "joined into ~join_size chunks"
    if known_size:
        assert len(chunks) < 30
    else:  # 8 MiB in 65529-byte writes, then joined
        assert 8 * 1024 * 1024 // 65529 < len(chunks) < 8 * 1024 * 1024 // 65529 + 20


_FAULTS_SCRIPT = """
import asyncio, os, resource, sys
import asyncmtom._pass as body
from asyncmtom import MtomEncoding, XmlWriter
if sys.argv[1] == "unsettled":
    body._allocator_settled = True  # as if it had run: it will not
async def push(write):
    block = os.urandom(65536)
    for _ in range(1536):
        await write(block)
async def main():
    writer = XmlWriter(MtomEncoding(), join_size=2 << 20)
    with writer.element("r", "urn:x"):
        await writer.push_bytes(push)  # 96 MiB of unknown size: joined after 32 MiB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    async for chunk in writer.body():
        framed = b"%x\\r\\n" % len(chunk) + chunk + b"\\r\\n"  # as aiohttp frames it
        del framed
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
asyncio.run(main())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's dynamic mmap threshold")
def test_joined_chunks_of_a_chunked_body_are_recycled_not_faulted_in() -> None:
    """The first joining pass moves glibc's mmap threshold: no page faults per joined chunk."""

    def faults(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", _FAULTS_SCRIPT, mode],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return int(done.stdout)

    settled, unsettled = faults("settled"), faults("unsettled")
    # The joined 64 MiB, framed twice, is 32,768 pages: faulted in per chunk unless recycled.
    assert unsettled > 24_000
    assert settled < unsettled // 4


async def test_a_known_part_below_sixteen_join_sizes_is_not_joined() -> None:
    data = os.urandom(4 * 1024 * 1024)
    writer = XmlWriter(MtomEncoding(), join_size=512 * 1024)
    with writer.element("r", NS):
        await writer.push_bytes(chunked_push, data, 65536, size=len(data))
    chunks = [c async for c in writer.body()]
    assert max(len(c) for c in chunks) <= 65536 + 1024
    decoded = decode_with_email(writer.content_type, b"".join(chunks))
    assert [decoded.parts[c][1] for c in decoded.order] == [data]
