"""The reader on real HTTP responses: httpx (asyncio and trio) and aiohttp (asyncio).

A small anyio server on 127.0.0.1 answers every request with one canned
response, its body sent with a Content-Length or chunked, in pieces of a
given size with a pause now and then, so the client really streams.  The
client decodes the body as it arrives, straight from ``response.aiter_bytes()``
(httpx) or ``response.content`` (aiohttp), and the tests check every byte.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import anyio
import anyio.abc
import anyio.lowlevel
import httpx
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream

from asyncmtom import MtomFormatError, MtomLimitError, iter_mtom, read_mtom

MiB = 1024 * 1024
XOP = "http://www.w3.org/2004/08/xop/include"
BOUNDARY = "uuid:6c4a1f7e-0d3b-4a55-9e8f-http"
CONTENT_TYPE = (
    f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; '
    'start="<root@http>"; start-info="application/soap+xml"'
)


def mtom_body(data: bytes, *, close: bool = True) -> tuple[bytes, bytes]:
    root = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        f'<m:getResponse xmlns:m="urn:m"><m:file><xop:Include xmlns:xop="{XOP}" '
        'href="cid:file@http"/></m:file></m:getResponse></s:Body></s:Envelope>'
    ).encode()
    body = (
        f"--{BOUNDARY}\r\nContent-ID: <root@http>\r\n"
        'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
        f"Content-Transfer-Encoding: binary\r\n\r\n".encode()
        + root
        + f"\r\n--{BOUNDARY}\r\nContent-ID: <file@http>\r\nContent-Type: application/pdf\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\n".encode()
        + data
        + (f"\r\n--{BOUNDARY}--\r\n".encode() if close else b"")
    )
    return root, body


@dataclass
class Response:
    content_type: str
    body: bytes
    status: int = 200
    chunked: bool = False
    piece: int = 64 * 1024


@dataclass
class Server:
    url: str
    response: Response
    sent: list[int] = field(default_factory=list)


async def _answer(stream: anyio.abc.SocketStream, server: Server) -> None:
    async with stream:
        buffered = BufferedByteReceiveStream(stream)
        try:
            while await buffered.receive_until(b"\r\n", 65536):
                pass  # request line and headers; the tests send no body
        except (anyio.IncompleteRead, anyio.EndOfStream):
            return
        response = server.response
        framing = (
            b"Transfer-Encoding: chunked\r\n"
            if response.chunked
            else b"Content-Length: %d\r\n" % len(response.body)
        )
        head = b"HTTP/1.1 %d X\r\nContent-Type: %s\r\n%sConnection: close\r\n\r\n" % (
            response.status,
            response.content_type.encode(),
            framing,
        )
        await stream.send(head)
        sent = 0
        try:
            for offset in range(0, len(response.body), response.piece):
                piece = response.body[offset : offset + response.piece]
                if response.chunked:
                    piece = b"%x\r\n%s\r\n" % (len(piece), piece)
                await stream.send(piece)
                sent += len(piece)
                if offset % (16 * response.piece) == 0:
                    await anyio.lowlevel.checkpoint()  # the client must stream, not wait
            if response.chunked:
                await stream.send(b"0\r\n\r\n")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the client stopped reading (a limit): expected in those tests
        finally:
            server.sent.append(sent)


@asynccontextmanager
async def serve(response: Response) -> AsyncIterator[Server]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    server = Server(f"http://127.0.0.1:{port}/download", response)

    async def handler(stream: anyio.abc.SocketStream) -> None:
        await _answer(stream, server)

    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handler)
        try:
            yield server
        finally:
            group.cancel_scope.cancel()


def files_in(directory: Path) -> list[Path]:
    return list(directory.iterdir())


# --- httpx, on asyncio and trio ---------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_httpx_download_spooled_and_resolved(chunked: bool, tmp_path: Path) -> None:
    data = b"\r\n" + os.urandom(3 * MiB) + b"\r\n"
    root, body = mtom_body(data)
    with anyio.fail_after(30):
        async with (
            serve(Response(CONTENT_TYPE, body, chunked=chunked)) as server,
            httpx.AsyncClient() as client,
            client.stream("GET", server.url) as response,
            read_mtom(
                response.headers["content-type"], response.aiter_bytes(), spool_dir=tmp_path
            ) as message,
        ):
            assert message.root == root
            attachment = message.attachments["file@http"]
            assert (attachment.content_type, attachment.size) == ("application/pdf", len(data))
            assert not attachment.in_memory and len(files_in(tmp_path)) == 1
            assert await attachment.read() == data
            resolved = await message.resolve()
            assert resolved == root.replace(
                f'<xop:Include xmlns:xop="{XOP}" href="cid:file@http"/>'.encode(),
                base64.b64encode(data),
            )
    assert files_in(tmp_path) == []


@pytest.mark.anyio
async def test_httpx_streaming_parts_without_spooling(tmp_path: Path) -> None:
    data = os.urandom(2 * MiB + 7)
    root, body = mtom_body(data)
    received = bytearray()
    with anyio.fail_after(30):
        async with (
            serve(Response(CONTENT_TYPE, body, chunked=True)) as server,
            httpx.AsyncClient() as client,
            client.stream("GET", server.url) as response,
            iter_mtom(response.headers["content-type"], response.aiter_bytes()) as parts,
        ):
            async for part in parts:
                if part.is_root:
                    assert await part.read() == root
                else:
                    chunk_count = 0
                    async for chunk in part:
                        received += chunk
                        chunk_count += 1
                    assert chunk_count > 1  # it came as it arrived, not in one piece
    assert received == data


@pytest.mark.anyio
async def test_httpx_truncated_message_and_limit(tmp_path: Path) -> None:
    _, truncated = mtom_body(os.urandom(2 * MiB), close=False)
    with anyio.fail_after(30):
        async with (
            serve(Response(CONTENT_TYPE, truncated)) as server,
            httpx.AsyncClient() as client,
        ):
            async with client.stream("GET", server.url) as response:
                with pytest.raises(MtomFormatError, match="truncated"):
                    async with read_mtom(
                        response.headers["content-type"],
                        response.aiter_bytes(),
                        spool_dir=tmp_path,
                    ):
                        pass  # pragma: no cover
            assert files_in(tmp_path) == []
    _, big = mtom_body(os.urandom(16 * MiB))
    with anyio.fail_after(30):
        async with (
            serve(Response(CONTENT_TYPE, big)) as server,
            httpx.AsyncClient() as client,
            client.stream("GET", server.url) as response,
        ):
            with pytest.raises(MtomLimitError, match="max_part_size"):
                async with read_mtom(
                    response.headers["content-type"],
                    response.aiter_bytes(),
                    spool_dir=tmp_path,
                    max_part_size=MiB,
                ):
                    pass  # pragma: no cover
        assert files_in(tmp_path) == []


@pytest.mark.anyio
async def test_httpx_plain_soap_fault() -> None:
    fault = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault>'
        b"<s:Code><s:Value>s:Receiver</s:Value></s:Code></s:Fault></s:Body></s:Envelope>"
    )
    with anyio.fail_after(30):
        async with (
            serve(Response("application/soap+xml; charset=utf-8", fault, status=500)) as server,
            httpx.AsyncClient() as client,
            client.stream("POST", server.url) as response,
            read_mtom(response.headers["content-type"], response.aiter_bytes()) as message,
        ):
            assert response.status_code == 500
            assert message.root == fault and not message.attachments
            assert message.media_type == "application/soap+xml"


# --- aiohttp, on asyncio ---------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_aiohttp_download_from_response_content(chunked: bool, tmp_path: Path) -> None:
    data = b"\r\n" + os.urandom(3 * MiB) + b"\r\n"
    root, body = mtom_body(data)
    with anyio.fail_after(30):
        async with (
            serve(Response(CONTENT_TYPE, body, chunked=chunked)) as server,
            aiohttp.ClientSession() as session,
            session.get(server.url) as response,
            read_mtom(response.headers["Content-Type"], response.content, spool_dir=tmp_path) as m,
        ):
            assert m.root == root
            target = tmp_path / "saved.pdf"
            await m.attachments["file@http"].save(target)
            assert files_in(tmp_path) == [target]  # moved out of the spool, not copied
    assert target.read_bytes() == data


@pytest.mark.asyncio
async def test_aiohttp_iter_chunked_and_streaming() -> None:
    data = os.urandom(MiB + 3)
    _, body = mtom_body(data)
    with anyio.fail_after(30):
        async with serve(Response(CONTENT_TYPE, body, chunked=True)) as server:
            async with (
                aiohttp.ClientSession() as session,
                session.get(server.url) as response,
                read_mtom(
                    response.headers["Content-Type"], response.content.iter_chunked(8192)
                ) as m,
            ):
                assert await m.attachments["file@http"].read() == data
            async with (
                aiohttp.ClientSession() as session,
                session.get(server.url) as response,
                iter_mtom(response.headers["Content-Type"], response.content) as parts,
            ):
                got = {part.content_id: await part.read() async for part in parts}
            assert got["file@http"] == data
