"""Load: 200 concurrent uploads through one HTTP client, every part checked by SHA-256.

One httpx client (on asyncio and on trio) and one aiohttp ClientSession each send
200 MTOM messages at once to a receiver on 127.0.0.1.  Each message carries
one to three binary values of mixed sizes (0 B to 2 MiB, most of them small),
given through ``push_bytes``, ``pull_bytes`` and ``write_bytes``, sizes
declared or not (Content-Length or chunked).  The data is generated as it is
sent and hashed on the way, so the test itself holds no payload.

The receiver parses each body as it arrives with the ``multipart`` package's
push parser (not asyncmtom's reader) and answers with the SHA-256 of every
part and the root XML; the client resolves each ``xop:Include`` and checks
every value, inline or part, against the hash of what it sent.  Every tenth
body is also kept whole and decoded by the standard library's ``email``
parser.  Peak Python memory during the run is measured with tracemalloc and
reported; it must stay far below the bytes sent, which are never all in
memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio
import httpx
import multipart  # type: ignore[import-untyped]
import pytest
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from mtomcheck import decode_with_email

from asyncmtom import SOAP11, SOAP12, MtomEncoding, XmlWriter

UPLOADS = 200
MAX_SIZE = 2 * 1024 * 1024
CHUNK = 64 * 1024
NS = "urn:load"
XOP = "http://www.w3.org/2004/08/xop/include"

# -- the receiver ------------------------------------------------------------------


class RelatedParser(multipart.PushMultipartParser):  # type: ignore[misc]
    """multipart/related parts need no Content-Disposition."""

    def _create_segment(self, headerlist: list[tuple[str, str]]) -> Any:
        return multipart.MultipartSegment(headerlist)


@dataclass
class Receiver:
    url: str
    requests: int = 0
    bytes: int = 0
    kept: list[tuple[str, bytes]] = field(default_factory=list)


async def body_chunks(buffered: BufferedByteReceiveStream, headers: dict[str, str]) -> Any:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await buffered.receive_until(b"\r\n", 1024)).split(b";")[0], 16)
            if size == 0:
                await buffered.receive_until(b"\r\n", 65536)
                return
            while size:
                chunk = await buffered.receive(min(size, CHUNK))
                size -= len(chunk)
                yield chunk
            await buffered.receive_exactly(2)
    else:
        left = int(headers.get("content-length", "0"))
        while left:
            chunk = await buffered.receive(min(left, CHUNK))
            left -= len(chunk)
            yield chunk


async def handle(stream: SocketStream, receiver: Receiver) -> None:
    async with stream:
        buffered = BufferedByteReceiveStream(stream)
        while True:  # keep-alive: one request after another
            try:
                await buffered.receive_until(b"\r\n", 65536)
            except (anyio.IncompleteRead, anyio.EndOfStream, anyio.BrokenResourceError):
                return
            headers: dict[str, str] = {}
            while line := await buffered.receive_until(b"\r\n", 65536):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            content_type = headers["content-type"]
            boundary = re.search(r'boundary="([^"]+)"', content_type)
            assert boundary is not None
            parser = RelatedParser(boundary.group(1), max_header_count=16)
            keep = receiver.requests % 10 == 0
            receiver.requests += 1
            raw = bytearray()
            parts: list[dict[str, Any]] = []
            root = bytearray()
            digest: Any = None
            async for chunk in body_chunks(buffered, headers):
                receiver.bytes += len(chunk)
                if keep:
                    raw += chunk
                for event in parser.parse(chunk):
                    if isinstance(event, multipart.MultipartSegment):
                        digest = hashlib.sha256()
                        parts.append({"id": event.header("Content-Id"), "size": 0})
                    elif event is None:
                        parts[-1]["sha256"] = digest.hexdigest()
                    else:
                        if len(parts) == 1:
                            root += event
                        digest.update(event)
                        parts[-1]["size"] += len(event)
            list(parser.parse(b""))  # the end: raises if the closing delimiter is missing
            assert parser.closed and parser.error is None
            if keep:
                receiver.kept.append((content_type, bytes(raw)))
            reply = json.dumps({"parts": parts[1:], "root": root.decode("utf-8")}).encode()
            await stream.send(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply)
            )


@asynccontextmanager
async def serve() -> AsyncIterator[Receiver]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0, backlog=512)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    receiver = Receiver(f"http://127.0.0.1:{port}/upload")
    async with listener, anyio.create_task_group() as tg:

        async def handler(stream: SocketStream) -> None:
            await handle(stream, receiver)

        tg.start_soon(listener.serve, handler)
        try:
            yield receiver
        finally:
            tg.cancel_scope.cancel()


# -- the senders --------------------------------------------------------------------


def sizes_for(upload: int) -> list[int]:
    """One to three sizes, log-uniform from 0 B to 2 MiB, the edges included."""
    rng = random.Random(upload)
    sizes = []
    for _ in range(rng.randint(1, 3)):
        pick = rng.random()
        if pick < 0.1:
            sizes.append(rng.choice([0, 1, 767, 768, MAX_SIZE]))
        else:
            sizes.append(min(MAX_SIZE, int(2 ** rng.uniform(0, 21))))
    return sizes


def generate(seed: int, size: int) -> Any:
    """The value's bytes, CHUNK at a time, from a seeded generator: never held whole."""
    rng = random.Random(seed)
    for start in range(0, size, CHUNK):
        yield rng.randbytes(min(CHUNK, size - start))


@dataclass
class Upload:
    number: int
    writer: XmlWriter
    digests: list[Any]  # hashlib objects, complete once the body is sent
    sizes: list[int]


async def prepare(number: int) -> Upload:
    rng = random.Random(number * 7919)
    soap = rng.choice([SOAP11, SOAP12])
    writer = XmlWriter(MtomEncoding(soap=soap, action="urn:load:Upload"))
    sizes = sizes_for(number)
    digests = [hashlib.sha256() for _ in sizes]
    with writer.element("Envelope", soap.namespace, "s"):
        with writer.element("Body", soap.namespace, "s"):
            with writer.element("Upload", NS, "u"):
                for index, size in enumerate(sizes):
                    seed = number * 10 + index
                    digest = digests[index]
                    declared = size if rng.random() < 0.6 else None
                    how = rng.choice(
                        ["push", "pull", "write"] if size <= CHUNK else ["push", "pull"]
                    )
                    with writer.element("data", NS, "u"):
                        if how == "push":
                            await writer.push_bytes(push, seed, size, digest, size=declared)
                        elif how == "pull":
                            await writer.pull_bytes(pull(seed, size, digest), size=declared)
                        else:
                            value = b"".join(generate(seed, size))
                            digest.update(value)
                            await writer.write_bytes(value)
    return Upload(number, writer, digests, sizes)


async def push(
    write: Callable[[bytes], Awaitable[None]], seed: int, size: int, digest: Any
) -> None:
    for chunk in generate(seed, size):
        digest.update(chunk)
        await write(chunk)


async def pull(seed: int, size: int, digest: Any) -> AsyncIterator[bytes]:
    for chunk in generate(seed, size):
        digest.update(chunk)
        yield chunk


def verify(upload: Upload, reply: dict[str, Any]) -> int:
    """Every value, inline or part, has the hash of what was sent; returns the parts seen."""
    parts = {part["id"].strip("<>"): part for part in reply["parts"]}
    tree = ET.fromstring(reply["root"])
    values = list(tree.iter(f"{{{NS}}}data"))
    assert len(values) == len(upload.sizes)
    for element, digest, size in zip(values, upload.digests, upload.sizes, strict=True):
        includes = list(element)
        if includes:
            (xop,) = includes
            assert xop.tag == f"{{{XOP}}}Include"
            part = parts.pop(xop.get("href", "")[4:])
            assert part["size"] == size
            assert part["sha256"] == digest.hexdigest()
        else:
            data = base64.b64decode(element.text or "")
            assert len(data) == size and hashlib.sha256(data).digest() == digest.digest()
    assert not parts, "every part is referenced"
    return len(reply["parts"])


@dataclass
class Run:
    uploads: list[Upload]
    total: int
    seconds: float = 0.0
    peak: int = 0


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """Peak Python allocations in the block (tracemalloc): ``[bytes]`` once it ends.

    The resident set is no measure here: memory freed by earlier tests is
    reused without growing it.  tracemalloc slows the run down a few times,
    which the run can afford.
    """
    result = [0]
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        yield result
        result[0] = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


Sender = Callable[[Upload], Awaitable[dict[str, Any]]]


async def measured(sender: Callable[[str], Sender]) -> tuple[Run, Receiver]:
    """Send every upload at once with ``sender(url)``, measure, verify every reply."""
    uploads = [await prepare(number) for number in range(UPLOADS)]
    run = Run(uploads, sum(sum(u.sizes) for u in uploads))
    replies: dict[int, dict[str, Any]] = {}
    async with serve() as receiver:
        send = sender(receiver.url)
        with peak_memory() as peak:
            started = time.perf_counter()
            with anyio.fail_after(120):
                async with anyio.create_task_group() as tg:
                    for upload in uploads:

                        async def one(upload: Upload = upload) -> None:
                            replies[upload.number] = await send(upload)

                        tg.start_soon(one)
            run.seconds = time.perf_counter() - started
        (run.peak,) = peak
    parts = sum(verify(upload, replies[upload.number]) for upload in uploads)
    for content_type, body in receiver.kept:
        decode_with_email(content_type, body)
    print(
        f"{UPLOADS} concurrent uploads, {parts} parts, {run.total / 2**20:.1f} MiB of "
        f"binary content ({receiver.bytes / 2**20:.1f} MiB on the wire) in "
        f"{run.seconds:.2f} s; peak Python memory {run.peak / 2**20:.1f} MiB"
    )
    return run, receiver


def check(run: Run, receiver: Receiver) -> None:
    assert receiver.requests == UPLOADS
    assert len(receiver.kept) == UPLOADS // 10
    # Nothing holds a whole payload: the peak stays far below what was sent
    # (what remains is per-connection buffers of the client and the receiver).
    assert run.peak < receiver.bytes / 2
    assert run.peak < UPLOADS * 512 * 1024


@pytest.mark.anyio
async def test_httpx_concurrent_uploads(anyio_backend: str) -> None:
    limits = httpx.Limits(max_connections=UPLOADS, max_keepalive_connections=UPLOADS)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        def sender(url: str) -> Sender:
            async def send(upload: Upload) -> dict[str, Any]:
                writer = upload.writer
                response = await client.post(url, content=writer.body(), headers=writer.headers)
                assert response.status_code == 200
                return dict(response.json())

            return send

        run, receiver = await measured(sender)
    check(run, receiver)


@pytest.mark.asyncio
async def test_aiohttp_concurrent_uploads() -> None:
    connector = aiohttp.TCPConnector(limit=UPLOADS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        def sender(url: str) -> Sender:
            async def send(upload: Upload) -> dict[str, Any]:
                writer = upload.writer
                async with session.post(url, data=writer.body(), headers=writer.headers) as reply:
                    assert reply.status == 200
                    return dict(await reply.json())

            return send

        run, receiver = await measured(sender)
    check(run, receiver)
