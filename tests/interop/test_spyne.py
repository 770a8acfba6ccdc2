"""asyncmtom's writer against spyne, a Python SOAP server that accepts MTOM.

spyne (2.14, Python <= 3.11) runs in a subprocess under wsgiref; see
``spyne_server.py`` for what it needs.  Every case is checked by the size and
SHA-256 spyne computed.  What spyne requires of a request, and asyncmtom's
answer to each:

- Content-Length: spyne (under wsgiref) reads a chunked body as empty and
  faults ("Invalid MtoM request").  asyncmtom sends Content-Length whenever
  every size is known: declare ``size=`` on push_bytes, pull from a file, or
  use write_bytes.
- No XML declaration in the root part (lxml refuses a decoded str with an
  encoding declaration): ``MtomEncoding(xml_declaration=False)`` is the default.
- The ``start`` parameter must equal the root's Content-ID header byte for
  byte (angle brackets included): asyncmtom writes both the same way.
- Qualified child elements (its schema is elementFormDefault="qualified"),
  where Metro's are unqualified: that is the service's schema, not MTOM.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from interop_util import MiB, SoapFault, digests, pattern_sha256
from mtom_cases import Item, build_upload, encoding_for, post

pytestmark = pytest.mark.interop

ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])
SIZED = ["push", "pull-file", "pull-path", "write"]


async def upload(spyne_server, soap: str, kind: str, items: list[Item], tmp: Path, **kw):  # type: ignore[no-untyped-def]
    op = "upload" if len(items) == 1 else "uploadMany"
    async with AsyncExitStack() as stack:
        writer = await build_upload(
            encoding_for(kind, soap, f"urn:asyncmtom:interop:{op}", **kw),
            items,
            stack,
            tmp,
            name="spyne",
            qualified=True,
        )
        sent = await post(spyne_server.url(f"/soap{soap}"), writer)
    got = [(d.size, d.sha256) for d in digests(sent.reply)]
    assert got == [(it.size, pattern_sha256(it.size, it.seed)) for it in items]
    return sent


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("size", [0, 1, 767, 768, 1 * MiB])
@pytest.mark.parametrize("source", SIZED)
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_spyne_upload(
    spyne_server, tmp_path: Path, soap: str, source: str, size: int
) -> None:
    sent = await upload(spyne_server, soap, "mtom", [Item(source, size, 2)], tmp_path)
    assert not sent.chunked


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["mtom", "text"])
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_spyne_upload_many(spyne_server, tmp_path: Path, soap: str, kind: str) -> None:
    items = [
        Item("write", 0, 1),
        Item("push", 1, 2),
        Item("pull-file", 767, 3),
        Item("push", 768, 4),
        Item("pull-path", 100_000, 5),
    ]
    await upload(spyne_server, soap, kind, items, tmp_path)


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_spyne_text_encoding(spyne_server, tmp_path: Path, soap: str) -> None:
    await upload(spyne_server, soap, "text", [Item("push", 1 * MiB, 6)], tmp_path)


@pytest.mark.anyio
async def test_spyne_backends(spyne_server, tmp_path: Path, anyio_backend: str) -> None:
    await upload(spyne_server, "12", "mtom", [Item("pull-file", 5000, 7)], tmp_path)


@ASYNCIO
@pytest.mark.anyio
async def test_spyne_64mib(spyne_server, interop_report, tmp_path: Path) -> None:
    """spyne holds the message several times over: its peak memory grows with it."""
    spyne_server.reset_hwm()
    rss = spyne_server.vm_rss()
    sent = await upload(spyne_server, "11", "mtom", [Item("push", 64 * MiB, 8)], tmp_path)
    interop_report.note_memory(
        "spyne upload 64 MiB soap11 push",
        f"server RSS before {rss / MiB:.0f} MiB, VmHWM {spyne_server.vm_hwm() / MiB:.0f} MiB, "
        f"{sent.seconds:.2f} s",
    )


@ASYNCIO
@pytest.mark.anyio
async def test_spyne_refuses_chunked(spyne_server, tmp_path: Path) -> None:
    """Under wsgiref spyne reads a chunked body as empty: send Content-Length to it.

    spyne answers at once with a fault and closes the connection, so the
    client sees either that fault or, when the close overtakes the rest of the
    body, a reset connection.
    """
    with pytest.raises((SoapFault, httpx.TransportError)) as caught:
        await upload(spyne_server, "11", "mtom", [Item("push-chunk", 1000, 9)], tmp_path)
    if isinstance(caught.value, SoapFault):
        assert "Invalid MtoM request" in str(caught.value)


@ASYNCIO
@pytest.mark.anyio
async def test_spyne_refuses_xml_declaration(spyne_server, tmp_path: Path) -> None:
    """spyne's MTOM path fails on an XML declaration in the root part (HTTP 500)."""
    with pytest.raises(SoapFault, match="HTTP 500"):
        await upload(
            spyne_server, "11", "mtom", [Item("push", 1000, 9)], tmp_path, xml_declaration=True
        )
    # the same request without the declaration (asyncmtom's default) passes
    await upload(spyne_server, "11", "mtom", [Item("push", 1000, 9)], tmp_path)


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_spyne_non_ascii_text(spyne_server, tmp_path: Path, soap: str) -> None:
    name = "naïve \u2013 名前 <&> \"'"
    async with AsyncExitStack() as stack:
        writer = await build_upload(
            encoding_for("mtom", soap, "urn:asyncmtom:interop:upload"),
            [Item("push", 1000, 1)],
            stack,
            tmp_path,
            name=name,
            qualified=True,
        )
        sent = await post(spyne_server.url(f"/soap{soap}"), writer)
    [d] = digests(sent.reply)
    assert (d.name, d.size) == (name, 1000)
