"""asyncmtom's reader against Metro: ``download`` responses streamed by httpx.

Metro writes the attachment while it generates it (byte i is i % 251) and
sends the response chunked.  The reader decodes it from ``aiter_bytes()``;
the SHA-256 is computed from the attachment's chunks, and the client's peak
memory is recorded (the part is spooled to a temporary file past 1 MiB).
"""

from __future__ import annotations

import base64
import hashlib
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import anyio
import httpx
import pytest
from interop_util import (
    NS,
    MiB,
    body_child,
    include_hrefs,
    no_files_in,
    pattern_sha256,
    reader,
    reset_self_hwm,
    self_hwm,
)

from asyncmtom import SOAP11, SOAP12, MtomEncoding, TextEncoding, XmlWriter

pytestmark = pytest.mark.interop

SOAP = {"11": SOAP11, "12": SOAP12}
TIMEOUT = httpx.Timeout(300.0, connect=10.0)


def download_request(soap: str, size: int, *, mtom: bool) -> XmlWriter:
    action = "urn:asyncmtom:interop:download"
    enc = (MtomEncoding if mtom else TextEncoding)(soap=SOAP[soap], action=action)
    writer = XmlWriter(enc)
    with writer.element("Envelope", SOAP[soap].namespace, "s"):
        with writer.element("Body", SOAP[soap].namespace, "s"):
            with writer.element("download", NS, "ns"):
                with writer.element("size"):
                    writer.text(str(size))
    return writer


async def download(
    metro, soap: str, size: int, *, mtom: bool = True, accept: str | None = None, tmp: Path
) -> tuple[str, int, bool, float]:
    """(sha256, size, whether the answer was multipart, seconds)."""
    read_mtom = reader()
    writer = download_request(soap, size, mtom=mtom)
    headers = dict(writer.headers)
    if accept:
        headers["Accept"] = accept
    started = time.monotonic()
    with anyio.fail_after(300):
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            async with client.stream(
                "POST", metro.url(soap), content=writer.body(), headers=headers
            ) as r:
                assert r.status_code == 200
                ct = r.headers["content-type"]
                async with read_mtom(ct, r.aiter_bytes(), spool_dir=tmp) as msg:
                    root = ET.fromstring(msg.root)
                    data = body_child(root).find("data")
                    assert data is not None
                    h = hashlib.sha256()
                    n = 0
                    if msg.attachments:
                        [cid] = include_hrefs(root)
                        att = msg.attachments[cid]
                        async for chunk in att:
                            h.update(chunk)
                            n += len(chunk)
                        assert n == att.size
                    else:
                        value = base64.b64decode(data.text or "")
                        h.update(value)
                        n = len(value)
                    multipart = bool(msg.attachments) or ct.startswith("multipart/")
    # every spool file is gone once the context has exited
    assert no_files_in(tmp)
    return h.hexdigest(), n, multipart, time.monotonic() - started


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
@pytest.mark.parametrize("size", [0, 1, 11, 14, 1 * MiB])
async def test_download_mtom(metro, tmp_path: Path, soap: str, size: int) -> None:
    """An MTOM request (root part only) gets an MTOM response from Metro.

    Sizes 11 and 14 end the part with LF and CR: the reader keeps them (zeep
    strips them, see test_zeep_peer.py).
    """
    digest, n, multipart, _ = await download(metro, soap, size, tmp=tmp_path)
    assert multipart
    assert (n, digest) == (size, pattern_sha256(size))


@pytest.mark.anyio
async def test_download_mtom_backends(metro, tmp_path: Path, anyio_backend: str) -> None:
    digest, n, multipart, _ = await download(metro, "12", 1 * MiB + 3, tmp=tmp_path)
    assert multipart
    assert (n, digest) == (1 * MiB + 3, pattern_sha256(1 * MiB + 3))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("accept", "multipart"), [(None, False), ("text/xml, application/xop+xml", True)]
)
async def test_download_plain_request(
    metro, tmp_path: Path, accept: str | None, multipart: bool
) -> None:
    """A plain request gets MTOM only with ``Accept: application/xop+xml``; both are read."""
    size = 100_000
    digest, n, got_multipart, _ = await download(
        metro, "11", size, mtom=False, accept=accept, tmp=tmp_path
    )
    assert got_multipart is multipart
    assert (n, digest) == (size, pattern_sha256(size))


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
@pytest.mark.parametrize(
    "size",
    [
        pytest.param(64 * MiB, id="64MiB"),
        pytest.param(256 * MiB, id="256MiB"),
        pytest.param(1024 * MiB, id="1GiB", marks=pytest.mark.slow),
    ],
)
async def test_download_large_flat_memory(metro, interop_report, tmp_path: Path, size: int) -> None:
    measured = reset_self_hwm()
    before = self_hwm()
    digest, n, multipart, seconds = await download(metro, "12", size, tmp=tmp_path)
    growth = self_hwm() - before
    interop_report.note_memory(
        f"download {size // MiB} MiB (reader, httpx stream)",
        f"client VmHWM +{growth / MiB:.0f} MiB, {seconds:.2f} s",
    )
    assert multipart
    assert (n, digest) == (size, pattern_sha256(size))
    # The part went to a spool file as it arrived: the client's peak memory
    # does not grow with the attachment.
    if measured:
        assert growth < 48 * MiB, f"client peak memory grew by {growth / MiB:.0f} MiB"
