"""asyncmtom's writer against Metro: the upload matrix.

Every case is checked by the size and SHA-256 that Metro computed while it
read the attachment, and by where the value travelled (a part, which Metro
reads as a stream, or inline base64).

The matrix (see docs/interop.md) covers every value of every axis without the
full cartesian product at the large sizes:

- small sizes (0 B, 1 B, 767 B, 768 B, 1 MiB) x SOAP 1.1/1.2 x every source
  (push / pull from a file, a path or an async iterator / write_bytes, with and
  without a declared size, hence Content-Length and chunked): the full product;
- 64 MiB: each source once, SOAP versions and framings alternated;
- several attachments in one message (uploadMany), both SOAP versions, both
  framings, one of them with 64 MiB parts;
- TextEncoding (plain SOAP, inline base64) over the small sizes, both versions,
  plus a progressive (chunked) plain message;
- trio: a few cases of each kind, the rest on asyncio only to save time;
- 1 GiB (``slow``: ``--run-slow`` or ``nox -s interop``): push chunked and a
  file with Content-Length, with the server's and the client's peak memory.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import pytest
from interop_util import (
    NS,
    GiB,
    MiB,
    digests,
    pattern,
    pattern_sha256,
    remove_files,
    reset_self_hwm,
    self_hwm,
)
from mtom_cases import SOURCES, Item, build_upload, encoding_for, post

from asyncmtom import XmlWriter

pytestmark = pytest.mark.interop

ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])
SMALL = [0, 1, 767, 768, 1 * MiB]
ACTIONS = {
    "upload": "urn:asyncmtom:interop:upload",
    "uploadMany": "urn:asyncmtom:interop:uploadMany",
}


async def _upload(
    metro, soap: str, kind: str, items: list[Item], tmp_path: Path, *, name: str = "case"
):  # type: ignore[no-untyped-def]
    op = "upload" if len(items) == 1 else "uploadMany"
    async with AsyncExitStack() as stack:
        writer = await build_upload(
            encoding_for(kind, soap, ACTIONS[op]), items, stack, tmp_path, name=name
        )
        sent = await post(metro.url(soap), writer)
    got = digests(sent.reply)
    assert len(got) == len(items)
    for i, (item, d) in enumerate(zip(items, got, strict=True)):
        want_name = name if op == "upload" else f"{name}[{i}]"
        assert (d.name, d.size, d.sha256) == (
            want_name,
            item.size,
            pattern_sha256(item.size, item.seed),
        ), f"item {i}: {item}"
        # A part reaches the service as Metro's StreamingDataHandler; inline
        # base64 is decoded by JAXB into memory.
        assert d.streaming is (kind == "mtom" and item.is_part()), f"item {i}: {item}"
    # TextEncoding runs every source at once: its length is always known.
    assert sent.chunked is (kind == "mtom" and any(not it.sized for it in items))
    return sent


# --- one attachment, small sizes: the full product -------------------------------------------


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("size", SMALL)
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_upload_small(metro, tmp_path: Path, soap: str, source: str, size: int) -> None:
    await _upload(metro, soap, "mtom", [Item(source, size, seed=size % 7)], tmp_path)


# --- one attachment, 64 MiB: each source once -----------------------------------------------

LARGE_CASES = [
    ("11", "push"),
    ("12", "push-chunk"),
    ("12", "pull-file"),
    ("11", "pull-path"),
    ("11", "pull-iter"),
    ("12", "write"),
]


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize(("soap", "source"), LARGE_CASES)
async def test_upload_64mib(metro, interop_report, tmp_path: Path, soap: str, source: str) -> None:
    reset = metro.reset_hwm()
    rss = metro.vm_rss()
    reset_self_hwm()
    sent = await _upload(metro, soap, "mtom", [Item(source, 64 * MiB, seed=3)], tmp_path)
    if reset:
        interop_report.note_memory(
            f"upload 64 MiB soap{soap} {source}",
            f"server RSS before {rss / MiB:.0f} MiB, VmHWM {metro.vm_hwm() / MiB:.0f} MiB; "
            f"client VmHWM {self_hwm() / MiB:.0f} MiB, {sent.seconds:.2f} s",
        )


# --- several attachments ----------------------------------------------------------------------

MANY_SIZED = [
    Item("write", 0, 1),
    Item("push", 1, 2),
    Item("pull-file", 767, 3),
    Item("pull-path", 768, 4),
    Item("write", 768, 5),
    Item("push", 1 * MiB, 6),
]
MANY_UNSIZED = [
    Item("push-chunk", 0, 1),
    Item("write", 767, 2),
    Item("pull-iter", 1, 3),
    Item("push", 768, 4),
    Item("pull-iter", 1 * MiB, 5),
    Item("pull-file", 1 * MiB + 1, 6),
]


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_upload_many(metro, tmp_path: Path, soap: str, framing: str) -> None:
    items = MANY_SIZED if framing == "length" else MANY_UNSIZED
    await _upload(metro, soap, "mtom", items, tmp_path, name="many")


@ASYNCIO
@pytest.mark.anyio
async def test_upload_many_64mib(metro, interop_report, tmp_path: Path) -> None:
    items = [Item("push-chunk", 64 * MiB, 1), Item("write", 1, 2), Item("pull-file", 64 * MiB, 3)]
    reset = metro.reset_hwm()
    sent = await _upload(metro, "12", "mtom", items, tmp_path, name="big")
    if reset:
        interop_report.note_memory(
            "uploadMany 2 x 64 MiB + 1 B soap12 chunked",
            f"server VmHWM {metro.vm_hwm() / MiB:.0f} MiB, {sent.seconds:.2f} s",
        )


# --- TextEncoding: plain SOAP, inline base64 -------------------------------------------------


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("size", SMALL)
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_text_encoding(metro, tmp_path: Path, soap: str, size: int) -> None:
    # TextEncoding runs every source at once, so even an unsized push gives a
    # known Content-Length: the framing is always Content-Length here.
    source = SOURCES[size % len(SOURCES)]
    async with AsyncExitStack() as stack:
        writer = await build_upload(
            encoding_for("text", soap, ACTIONS["upload"]),
            [Item(source, size, 5)],
            stack,
            tmp_path,
        )
        assert "Content-Length" in writer.headers
        sent = await post(metro.url(soap), writer)
    [d] = digests(sent.reply)
    assert (d.size, d.sha256, d.streaming) == (size, pattern_sha256(size, 5), False)
    assert not sent.reply.multipart  # Metro answers plain SOAP with plain SOAP


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_text_encoding_many(metro, tmp_path: Path, soap: str) -> None:
    await _upload(metro, soap, "text", MANY_SIZED, tmp_path, name="text")


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_text_encoding_progressive_chunked(metro, soap: str) -> None:
    """A sink-bound TextEncoding writer streams plain SOAP of unknown length (chunked)."""
    import httpx
    from interop_util import check_fault
    from mtom_cases import HTTP_TIMEOUT, push_pattern

    size = 3 * MiB + 5
    send, receive = anyio.create_memory_object_stream[bytes](4)
    encoding = encoding_for("text", soap, ACTIONS["upload"])
    writer = XmlWriter(encoding, sink=send)
    soap_ns = encoding.soap.namespace  # type: ignore[union-attr]

    async def produce() -> None:
        async with send:
            with writer.element("Envelope", soap_ns, "s"):
                with writer.element("Body", soap_ns, "s"):
                    with writer.element("upload", NS, "ns"):
                        with writer.element("name"):
                            writer.text("progressive")
                        with writer.element("data"):
                            await writer.push_bytes(push_pattern, size, 9)
            await writer.aclose()

    async def body():  # type: ignore[no-untyped-def]
        async with receive:
            async for chunk in receive:
                yield chunk

    headers = writer.headers
    assert "Content-Length" not in headers
    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg, httpx.AsyncClient(timeout=HTTP_TIMEOUT) as c:
            tg.start_soon(produce)
            r = await c.post(metro.url(soap), content=body(), headers=headers)
    assert r.request.headers.get("transfer-encoding") == "chunked"
    reply = check_fault(r.status_code, r.headers.get("content-type", ""), r.content)
    [d] = digests(reply)
    assert (d.name, d.size, d.sha256) == ("progressive", size, pattern_sha256(size, 9))


# --- trio (and asyncio): a few cases of each kind -------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("soap", "kind", "items"),
    [
        ("12", "mtom", [Item("push-chunk", 1 * MiB, 1)]),
        ("11", "mtom", [Item("pull-file", 768, 2)]),
        ("11", "mtom", MANY_UNSIZED),
        ("12", "text", [Item("pull-iter", 100_000, 3)]),
    ],
    ids=["push-chunk-1MiB-soap12", "pull-file-768-soap11", "many-chunked-soap11", "text-soap12"],
)
async def test_backends(
    metro, tmp_path: Path, anyio_backend: str, soap: str, kind: str, items: list[Item]
) -> None:
    await _upload(metro, soap, kind, items, tmp_path)


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_trio_64mib(metro, tmp_path: Path) -> None:
    import trio

    trio.lowlevel.current_trio_token()  # raises RuntimeError unless trio is running
    await _upload(metro, "12", "mtom", [Item("push", 64 * MiB, 8)], tmp_path)


# --- 1 GiB (opt-in) ---------------------------------------------------------------------------


@pytest.mark.slow
@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize(("soap", "source"), [("12", "push-chunk"), ("11", "pull-file")])
async def test_upload_1gib(metro, interop_report, tmp_path: Path, soap: str, source: str) -> None:
    reset = metro.reset_hwm() and reset_self_hwm()
    rss = metro.vm_rss()
    before = self_hwm()
    try:
        sent = await _upload(metro, soap, "mtom", [Item(source, 1 * GiB, seed=1)], tmp_path)
    finally:
        remove_files(tmp_path, "*.bin")
    server_peak = metro.vm_hwm()
    client_peak = self_hwm()
    if reset:
        interop_report.note_memory(
            f"upload 1 GiB soap{soap} {source}",
            f"server RSS before {rss / MiB:.0f} MiB, VmHWM {server_peak / MiB:.0f} MiB; "
            f"client VmHWM {client_peak / MiB:.0f} MiB "
            f"({(client_peak - before) / MiB:+.0f}), {sent.seconds:.1f} s",
        )
        # Neither side can have held the gigabyte: each peak stays far below it.
        assert server_peak < 512 * MiB
        assert client_peak - before < 256 * MiB


# --- client memory of a large write_bytes value ----------------------------------------------


@ASYNCIO
@pytest.mark.anyio
async def test_write_bytes_64mib_is_not_copied_on_the_way(metro, tmp_path: Path) -> None:
    """Sending a 64 MiB ``bytes`` given to write_bytes costs the client no copy of it.

    The writer never copies immutable data; but a chunk handed to httpx is
    copied whole by h11 (``b"".join``) and again by asyncio's socket transport
    for what the kernel did not take at once.  Yielding a large value in
    slices (memoryviews of a few hundred KiB) keeps those copies small.
    """
    size = 64 * MiB
    data = pattern(size, 4)
    enc = encoding_for("mtom", "12", ACTIONS["upload"])
    writer = XmlWriter(enc)
    soap_ns = enc.soap.namespace  # type: ignore[union-attr]
    with writer.element("Envelope", soap_ns, "s"):
        with writer.element("Body", soap_ns, "s"):
            with writer.element("upload", NS, "ns"):
                with writer.element("name"):
                    writer.text("w")
                with writer.element("data"):
                    await writer.write_bytes(data)
    if not reset_self_hwm():
        pytest.skip("cannot reset this process's VmHWM (/proc/self/clear_refs)")
    before = self_hwm()
    sent = await post(metro.url("12"), writer)
    growth = self_hwm() - before
    [d] = digests(sent.reply)
    assert (d.size, d.sha256) == (size, pattern_sha256(size, 4))
    assert growth < 32 * MiB, f"the client's peak memory grew by {growth / MiB:.0f} MiB"


# --- non-ASCII text in the root part -----------------------------------------------------------


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["mtom", "text"])
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_non_ascii_text(metro, tmp_path: Path, soap: str, kind: str) -> None:
    """UTF-8 in the root part (charset=UTF-8) and markup characters reach Metro intact."""
    name = "naïve \u2013 名前 <&> \"'\t"
    await _upload(metro, soap, kind, [Item("push", 1000, 1)], tmp_path, name=name)
