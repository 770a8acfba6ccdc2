"""A minimal HTTP/1.1 receiver on 127.0.0.1 for tests, written on anyio.

It reads one request per connection, Content-Length or chunked, records the
headers and the raw body, and answers 200 with a small XML body.  Only what
the tests need; bounded by the test's own timeouts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    chunked: bool


@dataclass
class Server:
    url: str
    requests: list[Received] = field(default_factory=list)


async def _handle(stream: SocketStream, server: Server) -> None:
    async with stream:
        buffered = BufferedByteReceiveStream(stream)
        try:
            line = await buffered.receive_until(b"\r\n", 65536)
        except (anyio.IncompleteRead, anyio.EndOfStream):
            return
        method, path, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            line = await buffered.receive_until(b"\r\n", 65536)
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = bytearray()
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if chunked:
            while True:
                size = int((await buffered.receive_until(b"\r\n", 1024)).split(b";")[0], 16)
                if size == 0:
                    await buffered.receive_until(b"\r\n", 65536)
                    break
                body += await buffered.receive_exactly(size)
                await buffered.receive_exactly(2)
        else:
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                body += await buffered.receive(min(1 << 20, length - len(body)))
        server.requests.append(Received(method, path, headers, bytes(body), chunked))
        reply = b"<ok/>"
        await stream.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply)
        )


@asynccontextmanager
async def serve() -> AsyncIterator[Server]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server = Server(url=f"http://127.0.0.1:{port}/service")
    async with listener, anyio.create_task_group() as tg:

        async def handler(stream: SocketStream) -> None:
            await _handle(stream, server)

        tg.start_soon(listener.serve, handler)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()
