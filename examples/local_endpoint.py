"""A small MTOM-capable SOAP endpoint on 127.0.0.1, for the examples.

It accepts one HTTP/1.1 POST per connection (Content-Length or chunked),
decodes the body with ``asyncmtom.read_mtom`` while it streams in, and answers
a SOAP envelope that reports, for every attachment, its Content-ID, content
type, size and SHA-256, so the client can check what arrived.  Plain
(non-MTOM) SOAP requests are accepted too.  Given a ``respond`` coroutine
function, it answers with the message that returns instead (an `XmlWriter`
holding the reply, given the request's root XML), sent with ``write_to``:
the download side, an MTOM reply streamed from disk.  Built on anyio only, so it runs
under asyncio and trio alike.
"""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import anyio
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

import asyncmtom

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

#: Makes the reply to a request, given the request's root XML.
Responder = Callable[[bytes], Awaitable[asyncmtom.XmlWriter]]


@dataclass
class Upload:
    content_id: str
    content_type: str
    size: int
    sha256: str


@dataclass
class Endpoint:
    url: str
    received: list[list[Upload]] = field(default_factory=list)
    respond: Responder | None = None


async def _body(
    buffered: BufferedByteReceiveStream, headers: dict[str, str]
) -> AsyncIterator[bytes]:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await buffered.receive_until(b"\r\n", 1024)).split(b";")[0], 16)
            if size == 0:
                await buffered.receive_until(b"\r\n", 8192)
                return
            remaining = size
            while remaining:
                chunk = await buffered.receive(min(remaining, 1 << 20))
                remaining -= len(chunk)
                yield chunk
            await buffered.receive_exactly(2)
    else:
        remaining = int(headers.get("content-length", "0"))
        while remaining:
            chunk = await buffered.receive(min(remaining, 1 << 20))
            remaining -= len(chunk)
            yield chunk


async def _handle(stream: SocketStream, endpoint: Endpoint) -> None:
    async with stream:
        buffered = BufferedByteReceiveStream(stream)
        try:
            await buffered.receive_until(b"\r\n", 8192)  # request line
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return
        headers: dict[str, str] = {}
        while line := await buffered.receive_until(b"\r\n", 65536):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        uploads: list[Upload] = []
        status = "200 OK"
        reply_writer: asyncmtom.XmlWriter | None = None
        try:
            async with asyncmtom.read_mtom(
                headers.get("content-type", ""), _body(buffered, headers)
            ) as message:
                if endpoint.respond is not None:
                    reply_writer = await endpoint.respond(message.root)
                for attachment in message.attachments.values():
                    digest = hashlib.sha256()
                    async for chunk in attachment:
                        digest.update(chunk)
                    uploads.append(
                        Upload(
                            attachment.content_id,
                            attachment.content_type,
                            attachment.size,
                            digest.hexdigest(),
                        )
                    )
            items = "".join(
                f'<r:part id="{escape(u.content_id)}" type="{escape(u.content_type)}" '
                f'size="{u.size}" sha256="{u.sha256}"/>'
                for u in uploads
            )
            reply = f"<r:UploadResponse xmlns:r='urn:example:receipt'>{items}</r:UploadResponse>"
        except asyncmtom.MtomError as exc:
            status = "400 Bad Request"
            reply = f"<s:Fault><s:Reason><s:Text>{escape(str(exc))}</s:Text></s:Reason></s:Fault>"
        endpoint.received.append(uploads)
        if reply_writer is not None and status == "200 OK":
            head = "".join(f"{k}: {v}\r\n" for k, v in reply_writer.headers.items())
            assert reply_writer.content_length is not None, "the reply's sizes are known"
            await stream.send(f"HTTP/1.1 200 OK\r\n{head}Connection: close\r\n\r\n".encode())
            await reply_writer.write_to(stream)
            return
        data = (f'<s:Envelope xmlns:s="{SOAP12}"><s:Body>{reply}</s:Body></s:Envelope>').encode()
        await stream.send(
            f"HTTP/1.1 {status}\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )


def write_sample_file(path: str | os.PathLike[str], size: int, head: bytes = b"") -> None:
    """A file of *size* bytes, *head* then random bytes, written 1 MiB at a time.

    Never the whole file in memory: the examples are run at hundreds of MiB
    to show that the upload or download itself keeps memory flat.
    """
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        f.write(head[:size])
        remaining = size - min(len(head), size)
        while remaining > 0:
            remaining -= f.write(block[: min(remaining, len(block))])


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks, as the endpoint reports it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def print_receipts(reply: bytes) -> list[ET.Element]:
    """Print and return the endpoint's receipt for each part it received."""
    receipts = ET.fromstring(reply).findall(".//{urn:example:receipt}part")
    for receipt in receipts:
        print(
            f"endpoint received <{receipt.get('id')}> ({receipt.get('type')}): "
            f"{receipt.get('size')} bytes, sha256 {receipt.get('sha256')}"
        )
    return receipts


@asynccontextmanager
async def local_endpoint(respond: Responder | None = None) -> AsyncIterator[Endpoint]:
    """Serve on a free port of 127.0.0.1 for the duration of the ``async with``."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(SocketAttribute.local_port)
    endpoint = Endpoint(url=f"http://127.0.0.1:{port}/upload", respond=respond)

    async def handler(stream: SocketStream) -> None:
        await _handle(stream, endpoint)

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handler)
        try:
            yield endpoint
        finally:
            tg.cancel_scope.cancel()
