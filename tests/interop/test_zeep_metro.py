"""zeep with `asyncmtom.zeep.MtomTransport` against Metro, end to end.

zeep reads Metro's WSDL and builds each request; the transport re-writes the
envelope as MTOM with the `Binary` arguments streamed into their own parts.
Metro decodes the request (it is the decoder no one here wrote) and reports
the size and SHA-256 it computed while it read each part as a stream; zeep
parses Metro's MTOM reply after `read_mtom` resolved it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from interop_util import MiB, apattern_chunks, pattern, pattern_sha256

from asyncmtom import Progress, WriteFunction

zeep = pytest.importorskip("zeep")
from asyncmtom.zeep import Binary, MtomTransport  # noqa: E402

pytestmark = pytest.mark.interop

ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])
TIMEOUT = 60.0


def _client(metro, soap: str, replies: list[str] | None = None, **options: object):  # type: ignore[no-untyped-def]
    async def record(response: httpx.Response) -> None:
        if replies is not None:
            replies.append(response.headers.get("content-type", ""))

    transport = MtomTransport(
        client=httpx.AsyncClient(timeout=TIMEOUT, event_hooks={"response": [record]}),
        operation_timeout=TIMEOUT,
        **options,
    )
    return zeep.AsyncClient(metro.url(soap) + "?wsdl", transport=transport)


@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_zeep_upload_file_streams_a_part(metro, soap: str, tmp_path: Path) -> None:
    path = tmp_path / "scan.bin"
    path.write_bytes(pattern(1 * MiB + 5, seed=3))
    seen: list[Progress] = []
    async with _client(metro, soap, progress=seen.append) as client:
        result = await client.service.upload(name="scan.bin", data=Binary(path))
    assert (result.name, result.size, result.sha256) == (
        "scan.bin",
        1 * MiB + 5,
        pattern_sha256(1 * MiB + 5, seed=3),
    )
    # Metro read the value as a stream: it travelled in its own part.
    assert result.streaming is True
    # The body had a Content-Length (the file's size is known) and was reported as it went.
    assert seen and seen[-1].total is not None and seen[-1].done == seen[-1].total


@ASYNCIO
@pytest.mark.anyio
async def test_zeep_upload_many_sources(metro) -> None:
    async def push(write: WriteFunction, size: int) -> None:
        for chunk in (pattern(size, seed=2)[i : i + 4096] for i in range(0, size, 4096)):
            await write(chunk)

    values = [
        Binary(pattern(100, seed=0), size=100),  # small and sized: inlined as base64
        Binary(pattern(5000, seed=1)),  # bytes: a part
        Binary.push(push, 70_000),  # a push callback, no size: chunked
        Binary(apattern_chunks(300_000, seed=3), size=300_000, content_type="image/png"),
    ]
    async with _client(metro, "12") as client:
        results = await client.service.uploadMany(name="many", data=values)
    got = [(r.name, r.size, r.sha256, r.streaming) for r in results]
    assert got == [
        ("many[0]", 100, pattern_sha256(100, 0), False),
        ("many[1]", 5000, pattern_sha256(5000, 1), True),
        ("many[2]", 70_000, pattern_sha256(70_000, 2), True),
        ("many[3]", 300_000, pattern_sha256(300_000, 3), True),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_zeep_download_mtom_reply(metro, soap: str) -> None:
    """Metro answers an MTOM request with MTOM: zeep gets the attachment resolved."""
    replies: list[str] = []
    async with _client(metro, soap, replies) as client:
        data = await client.service.download(size=200_000)
    assert len(replies) == 1 and replies[0].startswith("multipart/related")
    assert isinstance(data, bytes)
    assert hashlib.sha256(data).hexdigest() == pattern_sha256(200_000)


@ASYNCIO
@pytest.mark.anyio
async def test_zeep_missing_file_fails_before_sending(metro, tmp_path: Path) -> None:
    async with _client(metro, "12") as client:
        with pytest.raises(FileNotFoundError):
            await client.service.upload(name="x", data=Binary(tmp_path / "nowhere.bin"))
        # the transport is still usable afterwards
        result = await client.service.upload(name="ok", data=Binary(b"abc"))
    assert (result.size, result.sha256) == (3, hashlib.sha256(b"abc").hexdigest())


@ASYNCIO
@pytest.mark.anyio
async def test_zeep_fault_from_metro(metro) -> None:
    """A fault comes back through zeep's normal reply processing."""
    async with _client(metro, "12") as client:
        with pytest.raises(zeep.exceptions.Fault, match="negative"):
            await client.service.download(size=-1)
