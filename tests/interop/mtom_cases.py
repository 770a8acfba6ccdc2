"""Requests built with asyncmtom's writer for the interop matrix.

An `Item` names one binary value: how the writer gets it (``source``), its
size and the seed of its byte pattern.  The sources are the three binary calls
of the writer, with and without a declared size:

========== ====================================================== ===========
source     call                                                   framing
========== ====================================================== ===========
push       ``push_bytes(callback, size=n)``                       Content-Length
push-chunk ``push_bytes(callback)`` (size unknown)                chunked
pull-file  ``pull_bytes(anyio file)`` (size from the file system) Content-Length
pull-path  ``pull_bytes(pathlib.Path)``                           Content-Length
pull-iter  ``pull_bytes(async generator)`` (size unknown)         chunked
write      ``write_bytes(bytes)``                                 Content-Length
========== ====================================================== ===========

A message is sent with Content-Length when every value's size is known, and
chunked (by httpx) as soon as one is not.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
from interop_util import NS, Reply, check_fault, pattern, pattern_chunks

from asyncmtom import SOAP11, SOAP12, MtomEncoding, TextEncoding, WriteFunction, XmlWriter

SOURCES = ("push", "push-chunk", "pull-file", "pull-path", "pull-iter", "write")
UNSIZED = frozenset({"push-chunk", "pull-iter"})
SOAP = {"11": SOAP11, "12": SOAP12}

# Bounded everything: no interop case may hang CI.
HTTP_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


@dataclass(frozen=True)
class Item:
    source: str
    size: int
    seed: int = 0

    def __post_init__(self) -> None:
        assert self.source in SOURCES, self.source

    @property
    def sized(self) -> bool:
        return self.source not in UNSIZED

    def is_part(self, max_inline_size: int = 767) -> bool:
        """Whether an MTOM writer puts this value in a part (else inline base64)."""
        return not self.sized or self.size > max_inline_size


async def push_pattern(write: WriteFunction, size: int, seed: int) -> None:
    for chunk in pattern_chunks(size, seed, chunk=64 * 1024):
        await write(chunk)


async def pull_pattern(size: int, seed: int):  # type: ignore[no-untyped-def]
    for chunk in pattern_chunks(size, seed, chunk=100_000):
        yield chunk


def write_pattern_file(path: Path, size: int, seed: int) -> Path:
    with path.open("wb") as f:
        for chunk in pattern_chunks(size, seed):
            f.write(chunk)
    return path


def encoding_for(
    kind: str, soap: str, action: str, *, xml_declaration: bool = False
) -> MtomEncoding | TextEncoding:
    if kind == "mtom":
        return MtomEncoding(soap=SOAP[soap], action=action, xml_declaration=xml_declaration)
    assert kind == "text"
    return TextEncoding(soap=SOAP[soap], action=action, xml_declaration=xml_declaration)


async def binary(writer: XmlWriter, item: Item, stack: AsyncExitStack, tmp: Path) -> None:
    """Writes *item* as the content of the element that is open now."""
    if item.source == "push":
        await writer.push_bytes(push_pattern, item.size, item.seed, size=item.size)
    elif item.source == "push-chunk":
        await writer.push_bytes(push_pattern, item.size, item.seed)
    elif item.source == "pull-file":
        path = write_pattern_file(tmp / f"pull-{id(item)}-{item.seed}.bin", item.size, item.seed)
        f = await stack.enter_async_context(await anyio.open_file(path, "rb"))
        await writer.pull_bytes(f)
    elif item.source == "pull-path":
        path = write_pattern_file(tmp / f"path-{id(item)}-{item.seed}.bin", item.size, item.seed)
        await writer.pull_bytes(path)
    elif item.source == "pull-iter":
        await writer.pull_bytes(pull_pattern(item.size, item.seed))
    else:
        await writer.write_bytes(pattern(item.size, item.seed))


async def build_upload(
    encoding: MtomEncoding | TextEncoding,
    items: list[Item],
    stack: AsyncExitStack,
    tmp: Path,
    *,
    name: str = "case",
    many: bool | None = None,
    qualified: bool = False,
) -> XmlWriter:
    """An ``upload`` (one item) or ``uploadMany`` request.

    Metro's wrapper children are unqualified (``<name>``), spyne's are in the
    service namespace: ``qualified`` chooses.
    """
    soap = encoding.soap
    assert soap is not None
    op = (
        ("uploadMany" if len(items) != 1 else "upload")
        if many is None
        else ("uploadMany" if many else "upload")
    )
    child_ns = NS if qualified else None
    writer = XmlWriter(encoding)
    with writer.element("Envelope", soap.namespace, "s"):
        with writer.element("Body", soap.namespace, "s"):
            with writer.element(op, NS, "ns"):
                with writer.element("name", child_ns):
                    writer.text(name)
                for item in items:
                    with writer.element("data", child_ns):
                        await binary(writer, item, stack, tmp)
    return writer


@dataclass
class Sent:
    response: httpx.Response
    reply: Reply
    seconds: float
    chunked: bool


async def post(url: str, writer: XmlWriter, time_limit: float = 300.0) -> Sent:
    """POSTs the writer's body with httpx; raises SoapFault on a fault."""
    headers = writer.headers
    started = time.monotonic()
    with anyio.fail_after(time_limit):
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.post(url, content=writer.body(), headers=headers)
    seconds = time.monotonic() - started
    chunked = response.request.headers.get("transfer-encoding", "").lower() == "chunked"
    assert chunked == ("Content-Length" not in headers)
    reply = check_fault(
        response.status_code, response.headers.get("content-type", ""), response.content
    )
    return Sent(response, reply, seconds, chunked)
