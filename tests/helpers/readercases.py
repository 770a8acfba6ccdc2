"""Shared by the reader's tests: messages written byte by byte, sources of every kind.

Messages are written byte by byte here (``build``), so that each quirk a real
stack shows is exactly what the reader gets; ``decode`` feeds them in small
chunks so that every delimiter and header also lands across chunk edges.
Expected results are computed independently: the resolved XML is the root
with the ``xop:Include`` text replaced by ``base64.b64encode`` of the part.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc

from asyncmtom import StreamedPart, read_mtom

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XOP = "http://www.w3.org/2004/08/xop/include"
BOUNDARY = "MIMEBoundary_5a3c0d"
KiB = 1024
MiB = 1024 * KiB


def include(href: str) -> str:
    return f'<xop:Include xmlns:xop="{XOP}" href="{href}"/>'


def envelope(*values: str) -> bytes:
    """A SOAP 1.2 response whose ``m:v`` elements hold the given content."""
    body = "".join(f"<m:v>{value}</m:v>" for value in values)
    return (
        f'<s:Envelope xmlns:s="{SOAP12}"><s:Body><m:r xmlns:m="urn:m">{body}'
        "</m:r></s:Body></s:Envelope>"
    ).encode()


ROOT_HEADERS = [
    "Content-ID: <root@x>",
    'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"',
    "Content-Transfer-Encoding: binary",
]


def part_headers(content_id: str, content_type: str = "application/octet-stream") -> list[str]:
    return [
        f"Content-ID: <{content_id}>",
        f"Content-Type: {content_type}",
        "Content-Transfer-Encoding: binary",
    ]


def content_type(boundary: str = BOUNDARY, start: str | None = "<root@x>", **extra: str) -> str:
    value = f'multipart/related; type="application/xop+xml"; boundary="{boundary}"'
    if start is not None:
        value += f'; start="{start}"'
    value += '; start-info="application/soap+xml"'
    for name, item in extra.items():
        value += f'; {name.replace("_", "-")}="{item}"'
    return value


def build(
    parts: Sequence[tuple[Sequence[str], bytes]],
    boundary: str = BOUNDARY,
    *,
    preamble: bytes = b"",
    epilogue: bytes = b"",
    final_crlf: bool = True,
) -> bytes:
    """A multipart body exactly as given: no normalisation of any kind."""
    delimiter = b"--" + boundary.encode()
    sections = [
        delimiter + b"\r\n" + b"".join(h.encode() + b"\r\n" for h in headers) + b"\r\n" + body
        for headers, body in parts
    ]
    out = b"\r\n".join(sections) + b"\r\n" + delimiter + b"--"
    if final_crlf:
        out += b"\r\n"
    if preamble:
        out = preamble + b"\r\n" + out
    return out + epilogue


def simple_message(data: bytes, content_id: str = "data@x") -> bytes:
    return build(
        [(ROOT_HEADERS, envelope(include(f"cid:{content_id}"))), (part_headers(content_id), data)]
    )


async def chunks_of(body: bytes, size: int | None) -> AsyncIterator[bytes]:
    if size is None:
        yield body
        return
    for offset in range(0, len(body), size):
        yield body[offset : offset + size]


@dataclass
class Decoded:
    root: bytes
    attachments: dict[str, tuple[str, bytes]]
    resolved: bytes | None
    media_type: str
    action: str | None
    root_content_id: str | None


async def decode(
    ctype: str, body: bytes, *, chunk_size: int | None = 5, resolve: bool = True, **limits: object
) -> Decoded:
    async with read_mtom(ctype, chunks_of(body, chunk_size), **limits) as message:  # type: ignore[arg-type]
        attachments = {
            cid: (attachment.content_type, await attachment.read())
            for cid, attachment in message.attachments.items()
        }
        for cid, attachment in message.attachments.items():
            assert attachment.content_id == cid
            assert attachment.size == len(attachments[cid][1])
        resolved = await message.resolve() if resolve else None
        return Decoded(
            message.root,
            attachments,
            resolved,
            message.media_type,
            message.action,
            message.root_content_id,
        )


def resolved_by_hand(root: bytes, replacements: dict[str, bytes]) -> bytes:
    for include_text, data in replacements.items():
        root = root.replace(include_text.encode(), base64.b64encode(data))
    return root


def files_in(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def stat_of(path: Path) -> os.stat_result:
    return path.stat()


def contents(path: Path) -> bytes:
    return path.read_bytes()


class CountingSource:
    """An async iterator of chunks that records how far it was read and if it was closed."""

    def __init__(self, body: bytes, chunk_size: int = 64 * KiB) -> None:
        self.body = body
        self.chunk_size = chunk_size
        self.delivered = 0
        self.closed = False

    def __aiter__(self) -> CountingSource:
        return self

    async def __anext__(self) -> bytes:
        if self.delivered >= len(self.body):
            raise StopAsyncIteration
        chunk = self.body[self.delivered : self.delivered + self.chunk_size]
        self.delivered += len(chunk)
        return chunk

    async def aclose(self) -> None:
        self.closed = True


def many_parts(count: int, size: int = 10) -> bytes:
    parts = [(ROOT_HEADERS, envelope("x"))]
    parts += [(part_headers(f"p{n}@x"), b"p" * size) for n in range(count)]
    return build(parts)


class StallingSource:
    """Delivers ``body`` then waits forever: the reader is stuck inside a spooled part."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.stalled = anyio.Event()
        self.closed = False

    def __aiter__(self) -> StallingSource:
        return self

    async def __anext__(self) -> bytes:
        if self.body:
            chunk, self.body = self.body[: 256 * KiB], self.body[256 * KiB :]
            return chunk
        self.stalled.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        self.closed = True


class ChunkReceiveStream(anyio.abc.ByteReceiveStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.requested: list[int] = []
        self.closed = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        self.requested.append(max_bytes)
        if not self.chunks:
            raise anyio.EndOfStream
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


class LineIterableReader:
    """Like aiohttp's StreamReader: ``read(n)`` for bytes, ``async for`` for lines."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def read(self, n: int = -1) -> bytes:
        chunk, self.body = self.body[:n], self.body[n:]
        return chunk

    def __aiter__(self) -> AsyncIterator[bytes]:  # pragma: no cover - must not be used
        raise AssertionError("the reader must use read(n)")


async def drain(part: StreamedPart) -> int:
    async for _ in part:
        pass
    return part.size
