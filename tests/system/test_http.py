"""Real HTTP clients send the body: httpx (asyncio and trio) and aiohttp (asyncio).

The receiver is a plain socket server on 127.0.0.1; every request it got is
decoded by the stdlib email parser and checked byte for byte.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import aiohttp
import anyio
import httpx
import pytest
from httpserver import serve
from mtomcheck import decode_with_email, resolve_xop

from asyncmtom import SOAP11, SOAP12, MtomEncoding, TextEncoding, XmlWriter

NS = "urn:example"
PAYLOAD = os.urandom(3 * 1024 * 1024 + 17)


async def send_file_like(write: Any, data: bytes) -> None:
    for i in range(0, len(data), 256 * 1024):
        await write(data[i : i + 256 * 1024])


async def build(size_known: bool, encoding: Any = None) -> XmlWriter:
    writer = XmlWriter(encoding or MtomEncoding(soap=SOAP12, action="urn:example:Upload"))
    soap = writer.encoding.soap
    with (
        writer.element("Envelope", soap.namespace, "s"),
        writer.element("Body", soap.namespace, "s"),
        writer.element("Upload", NS, "ex"),
    ):
        with writer.element("name", NS, "ex"):
            writer.text("scan.pdf")
        with writer.element("data", NS, "ex"):
            await writer.push_bytes(
                send_file_like, PAYLOAD, size=len(PAYLOAD) if size_known else None
            )
    return writer


def check(received: Any, writer: XmlWriter, chunked: bool) -> None:
    assert received.chunked is chunked
    assert received.headers["content-type"] == writer.content_type
    decoded = decode_with_email(received.headers["content-type"], received.body)
    ((_content_type, data),) = decoded.parts.values()
    assert hashlib.sha256(data).digest() == hashlib.sha256(PAYLOAD).digest()
    resolve_xop(decoded.root, decoded.parts)


@pytest.mark.anyio
@pytest.mark.parametrize("size_known", [True, False], ids=["content-length", "chunked"])
async def test_httpx_upload(anyio_backend: str, size_known: bool) -> None:
    with anyio.fail_after(30):
        async with serve() as server, httpx.AsyncClient() as client:
            writer = await build(size_known)
            response = await client.post(server.url, content=writer.body(), headers=writer.headers)
            assert response.status_code == 200
            (received,) = server.requests
            if size_known:
                assert int(received.headers["content-length"]) == len(received.body)
            check(received, writer, chunked=not size_known)


@pytest.mark.anyio
async def test_httpx_text_encoding_soap11(anyio_backend: str) -> None:
    with anyio.fail_after(30):
        async with serve() as server, httpx.AsyncClient() as client:
            writer = await build(True, TextEncoding(soap=SOAP11, action="urn:example:Upload"))
            response = await client.post(server.url, content=writer.body(), headers=writer.headers)
            assert response.status_code == 200
            (received,) = server.requests
            assert received.headers["soapaction"] == '"urn:example:Upload"'
            assert PAYLOAD[:300] not in received.body  # inline base64, no raw bytes
            assert len(received.body) == int(received.headers["content-length"])


@pytest.mark.asyncio
@pytest.mark.parametrize("size_known", [True, False], ids=["content-length", "chunked"])
async def test_aiohttp_upload(size_known: bool) -> None:
    async with serve() as server, aiohttp.ClientSession() as session:
        writer = await build(size_known)
        async with session.post(
            server.url,
            data=writer.body(),
            headers=writer.headers,
            timeout=aiohttp.ClientTimeout(total=30),
        ) as response:
            assert response.status == 200
        (received,) = server.requests
        check(received, writer, chunked=not size_known)


@pytest.mark.anyio
async def test_server_failure_aborts_and_runs_cleanup(anyio_backend: str) -> None:
    """The peer closes mid-body: the client fails and the callback's cleanup runs."""
    events: list[str] = []

    async def endless(write: Any) -> None:
        try:
            while True:
                await write(b"x" * 65536)
        finally:
            events.append("cleanup")

    async def reject(stream: Any) -> None:
        async with stream:
            await stream.receive()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    writer = XmlWriter(MtomEncoding())
    writer.start_element("r", NS)
    await writer.push_bytes(endless)
    writer.end_element()
    with anyio.fail_after(30):
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, reject)
            async with httpx.AsyncClient() as client:
                with pytest.raises(httpx.HTTPError):
                    await client.post(
                        f"http://127.0.0.1:{port}/", content=writer.body(), headers=writer.headers
                    )
            tg.cancel_scope.cancel()
        import gc

        gc.collect()
        while not events:
            await anyio.sleep(0.01)
    assert events == ["cleanup"]
