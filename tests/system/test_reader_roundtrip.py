"""Writer to reader, and messages from writers that are not ours.

The strongest check of ``resolve()`` available: the same document written
with `MtomEncoding` and read back must give, byte for byte, what the writer
produces with `TextEncoding` (every binary value inline as canonical base64),
because the reader keeps every byte of the root but the Include elements.
Each message is also decoded by the standard library's ``email`` package, and
the parts must agree.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import anyio
import pytest
from mtomcheck import decode_with_email

from asyncmtom import (
    SOAP11,
    SOAP12,
    MtomEncoding,
    SoapVersion,
    TextEncoding,
    XmlWriter,
    iter_mtom,
    read_mtom,
)

MiB = 1024 * 1024
XOP = "http://www.w3.org/2004/08/xop/include"

Fill = Callable[[XmlWriter, list[bytes]], Awaitable[None]]


async def write_document(
    encoding: MtomEncoding | TextEncoding, soap: SoapVersion | None, values: list[bytes]
) -> tuple[str, bytes]:
    """A response with one ``data`` element per value, written three different ways."""
    writer = XmlWriter(encoding)

    async def push(write: Callable[[bytes], Awaitable[None]], data: bytes) -> None:
        for offset in range(0, len(data), 100_000):
            await write(data[offset : offset + 100_000])

    async def pull(data: bytes) -> AsyncIterator[bytes]:
        for offset in range(0, len(data), 77_777):
            yield data[offset : offset + 77_777]

    async def content() -> None:
        with writer.element("DownloadResponse", "urn:example", "ex"):
            for index, value in enumerate(values):
                with writer.element("data", "urn:example", "ex"):
                    if index % 3 == 0:
                        await writer.write_bytes(value, content_type="image/png")
                    elif index % 3 == 1:
                        await writer.push_bytes(push, value, size=len(value))
                    else:
                        await writer.pull_bytes(pull(value))
                with writer.element("name"):
                    writer.text(f"value {index} & <more>")

    if soap is None:
        await content()
    else:
        with writer.element("Envelope", soap.namespace, "s"):
            with writer.element("Body", soap.namespace, "s"):
                await content()
    body = b"".join([chunk async for chunk in writer.body()])
    return writer.content_type, body


VALUES = {
    "empty-and-tiny": [b"", b"x", b"\r\n"],
    "edges": [b"\r\n" + os.urandom(1000) + b"\r\n", b"\n" * 800, b"\r" * 767, b"--" * 500],
    "spooled": [os.urandom(MiB + 1), os.urandom(100), os.urandom(2 * MiB)],
}


@pytest.mark.anyio
@pytest.mark.parametrize("soap", [SOAP12, SOAP11, None], ids=["soap12", "soap11", "plain"])
@pytest.mark.parametrize("values", list(VALUES.values()), ids=list(VALUES))
async def test_resolve_equals_text_encoding(
    soap: SoapVersion | None, values: list[bytes], tmp_path: Path
) -> None:
    action = "urn:example:Download" if soap is not None else None
    mtom_type, mtom_body = await write_document(
        MtomEncoding(soap=soap, action=action), soap, values
    )
    _, text_body = await write_document(TextEncoding(soap=soap, action=action), soap, values)

    async def chunks() -> AsyncIterator[bytes]:
        for offset in range(0, len(mtom_body), 65_536):
            yield mtom_body[offset : offset + 65_536]

    foreign = decode_with_email(mtom_type, mtom_body)
    async with read_mtom(mtom_type, chunks(), spool_dir=tmp_path) as message:
        assert await message.resolve() == text_body
        assert message.root == foreign.root
        assert {cid: await a.read() for cid, a in message.attachments.items()} == {
            cid: data for cid, (_, data) in foreign.parts.items()
        }
        assert list(message.attachments) == foreign.order
        if soap is not None:
            assert message.media_type == soap.media_type
            # SOAP 1.1 carries its action in the SOAPAction HTTP header, not here.
            assert message.action == (action if soap is SOAP12 else None)
    assert os.listdir(tmp_path) == []


@pytest.mark.anyio
async def test_writer_body_streamed_into_iter_mtom() -> None:
    """Parts in document order, each hashed as it streams, none kept."""
    values = [os.urandom(3 * MiB), os.urandom(5000)]
    mtom_type, mtom_body = await write_document(MtomEncoding(soap=SOAP12), SOAP12, values)
    roots = 0
    digests = []
    async with iter_mtom(mtom_type, mtom_body) as parts:
        async for part in parts:
            digest = hashlib.sha256()
            async for chunk in part:
                digest.update(chunk)
            if part.is_root:
                roots += 1
            else:
                digests.append(digest.hexdigest())
    assert digests == [hashlib.sha256(value).hexdigest() for value in values]
    assert roots == 1


@pytest.mark.anyio
async def test_writer_to_reader_through_a_pipe() -> None:
    """write_to() into one end of a socket pair, read_mtom() from the other, concurrently."""
    values = [os.urandom(4 * MiB)]
    writer = XmlWriter(MtomEncoding(soap=SOAP12))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Body", SOAP12.namespace, "s"):
            with writer.element("data", "urn:example", "ex"):
                await writer.write_bytes(values[0])
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    result: list[bytes] = []

    async def serve_one(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await writer.write_to(stream)

    with anyio.fail_after(30):
        async with listener, anyio.create_task_group() as group:
            group.start_soon(listener.serve, serve_one)
            async with (
                await anyio.connect_tcp("127.0.0.1", port) as stream,
                read_mtom(writer.content_type, stream) as message,
            ):
                (attachment,) = message.attachments.values()
                result.append(await attachment.read())
            group.cancel_scope.cancel()
    assert result == values


@pytest.mark.asyncio
async def test_aiohttp_multipart_writer_related() -> None:
    """aiohttp's MultipartWriter("related"): Content-Length headers, its own quoting."""
    data = b"\r\n" + os.urandom(200_000) + b"\r\n"
    root = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<m:r xmlns:m="urn:m"><m:d><xop:Include xmlns:xop="{XOP}" href="cid:d@aiohttp"/>'
        "</m:d></m:r></s:Body></s:Envelope>"
    ).encode()
    with aiohttp.MultipartWriter("related", boundary="aiohttp-boundary-0123") as multipart:
        multipart.append(
            root,
            {
                "Content-Type": 'application/xop+xml; charset=UTF-8; type="text/xml"',
                "Content-ID": "<root@aiohttp>",
            },
        )
        multipart.append(
            data, {"Content-Type": "application/octet-stream", "Content-ID": "<d@aiohttp>"}
        )

    class Collect:
        def __init__(self) -> None:
            self.buffer = bytearray()

        async def write(self, chunk: bytes) -> None:
            self.buffer += chunk

    sink = Collect()
    await multipart.write(sink)  # type: ignore[arg-type]
    content_type = multipart.headers["Content-Type"] + '; start="<root@aiohttp>"'
    async with read_mtom(content_type, bytes(sink.buffer)) as message:
        assert message.root == root
        assert message.media_type == "text/xml"
        assert await message.attachments["d@aiohttp"].read() == data
        resolved = await message.resolve()
    assert b"xop:Include" not in resolved and resolved.startswith(root[:60])


@pytest.mark.anyio
async def test_writer_body_iterator_is_the_source(tmp_path: Path) -> None:
    """XmlWriter.body() straight into read_mtom; then the same body from a file."""
    value = os.urandom(2 * MiB + 1)

    def make_writer() -> XmlWriter:
        return XmlWriter(MtomEncoding(soap=SOAP12, boundary="fixed-boundary", start_id="r@x"))

    async def fill(writer: XmlWriter) -> None:
        with writer.element("Envelope", SOAP12.namespace, "s"):
            with writer.element("Body", SOAP12.namespace, "s"):
                with writer.element("data", "urn:example", "ex"):
                    await writer.write_bytes(value)

    writer = make_writer()
    await fill(writer)
    async with read_mtom(writer.content_type, writer.body()) as message:
        (attachment,) = message.attachments.values()
        assert await attachment.read() == value

    writer = make_writer()
    await fill(writer)
    saved = anyio.Path(tmp_path / "body.bin")
    await saved.write_bytes(b"".join([chunk async for chunk in writer.body()]))
    async with await anyio.open_file(saved, "rb") as file:  # its read(n), not its lines
        async with read_mtom(writer.content_type, file) as message:
            (attachment,) = message.attachments.values()
            assert await attachment.read() == value
