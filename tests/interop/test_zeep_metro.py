"""zeep with `asyncmtom.zeep`'s transports against Metro, end to end, with both clients.

zeep reads Metro's WSDL and builds each request; the transport re-writes the
envelope as MTOM with the `Binary` arguments streamed into their own parts.
Metro decodes the request (it is the decoder no one here wrote) and reports
the size and SHA-256 it computed while it read each part as a stream; zeep
parses Metro's MTOM reply, each part handed over as bytes or a spooled value.
The synchronous ``zeep.Client`` (`SyncMtomTransport`) and ``zeep.AsyncClient``
(`MtomTransport`) run the same sizes, SOAP 1.1 and 1.2; the download's peak
memory is measured in a process of its own.
"""

from __future__ import annotations

import gc
import hashlib
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from interop_util import (
    MiB,
    apattern_chunks,
    pattern,
    pattern_chunks,
    pattern_sha256,
    reset_self_hwm,
)

from asyncmtom import Progress, WriteFunction

zeep = pytest.importorskip("zeep")
from asyncmtom.zeep import (  # noqa: E402
    XMIME_SCHEMA,
    AsyncSpooledBinary,
    Binary,
    MtomTransport,
    SpooledBinary,
    SyncMtomTransport,
)

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


# --- both clients, SOAP 1.1 and 1.2, uploads and downloads from 0 B to 64 MiB --------------------

SIZES = [
    pytest.param(0, id="0B"),
    pytest.param(1, id="1B"),
    pytest.param(768, id="768B"),
    pytest.param(1 * MiB + 5, id="1MiB+5"),  # past spool_threshold: spooled
    pytest.param(64 * MiB, id="64MiB"),
    pytest.param(1024 * MiB, id="1GiB", marks=pytest.mark.slow),
]


def _sync_client(metro, soap: str, **options: object) -> zeep.Client:  # type: ignore[no-untyped-def]
    transport = SyncMtomTransport(operation_timeout=TIMEOUT, **options)
    return zeep.Client(metro.url(soap) + "?wsdl", transport=transport)


def _value_digest(value: object, tmp_path: Path, saved: Path | None) -> tuple[int, str]:
    """The size and SHA-256 of a downloaded value, from the file save() wrote if spooled."""
    if isinstance(value, bytes):
        return len(value), hashlib.sha256(value).hexdigest()
    assert isinstance(value, (SpooledBinary, AsyncSpooledBinary))
    assert saved is not None and value.path == saved  # moved into place, not copied
    digest = hashlib.sha256()
    with saved.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return saved.stat().st_size, digest.hexdigest()


@pytest.mark.parametrize("soap", ["11", "12"])
@pytest.mark.parametrize("size", SIZES)
def test_sync_client_upload(metro, soap: str, size: int, tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    with path.open("wb") as file:
        for chunk in pattern_chunks(size, seed=5):
            file.write(chunk)
    with _sync_client(metro, soap) as client:
        result = client.service.upload(name="up", data=Binary(path))
    assert (result.size, result.sha256) == (size, pattern_sha256(size, seed=5))
    if size > 767:
        assert result.streaming is True


@pytest.mark.parametrize("soap", ["11", "12"])
@pytest.mark.parametrize("size", SIZES)
def test_sync_client_download(metro, soap: str, size: int, tmp_path: Path) -> None:
    with _sync_client(metro, soap, read_options={"spool_dir": tmp_path}) as client:
        value = client.service.download(size=size)
        saved = None
        if isinstance(value, SpooledBinary):
            saved = value.save(tmp_path / "saved.bin")
        assert _value_digest(value, tmp_path, saved) == (size, pattern_sha256(size))
    assert isinstance(value, bytes) is (size <= MiB)
    del value
    gc.collect()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["saved.bin"] if saved else [])


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
@pytest.mark.parametrize("size", SIZES)
async def test_async_client_upload(metro, soap: str, size: int, tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    with path.open("wb") as file:
        for chunk in pattern_chunks(size, seed=6):
            file.write(chunk)
    async with _client(metro, soap) as client:
        result = await client.service.upload(name="up", data=Binary(path))
    assert (result.size, result.sha256) == (size, pattern_sha256(size, seed=6))


@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
@pytest.mark.parametrize("size", SIZES)
async def test_async_client_download(metro, soap: str, size: int, tmp_path: Path) -> None:
    async with _client(metro, soap, read_options={"spool_dir": tmp_path}) as client:
        value = await client.service.download(size=size)
    saved = None
    if isinstance(value, AsyncSpooledBinary):
        saved = await value.save(tmp_path / "saved.bin")
    assert _value_digest(value, tmp_path, saved) == (size, pattern_sha256(size))
    assert isinstance(value, bytes) is (size <= MiB)


# --- refusals against the real peer ------------------------------------------------------------


def test_sync_client_refuses_the_async_transport(metro) -> None:
    transport = MtomTransport()
    client = zeep.Client(metro.url("12") + "?wsdl", transport=transport)
    with pytest.raises(TypeError, match="SyncMtomTransport"):
        client.service.upload(name="x", data=Binary(b"abc"))
    anyio.run(transport.aclose)


@ASYNCIO
@pytest.mark.anyio
async def test_async_client_refuses_the_sync_transport(metro) -> None:
    client = zeep.AsyncClient(metro.url("12") + "?wsdl", transport=SyncMtomTransport())
    with pytest.raises(TypeError, match="MtomTransport"):
        await client.service.upload(name="x", data=Binary(b"abc"))
    client.transport.close()


def test_zeeps_own_transport_refuses_a_binary(metro) -> None:
    class Offline(zeep.Transport):  # type: ignore[misc]
        def load(self, url: str) -> bytes:  # the xmime schema without www.w3.org
            return XMIME_SCHEMA if "xmlmime" in url else super().load(url)  # type: ignore[no-any-return]

    with zeep.Client(metro.url("11") + "?wsdl", transport=Offline()) as client:
        with pytest.raises(TypeError, match="placeholder"):
            client.service.upload(name="x", data=Binary(b"abc"))
        # the same value as bytes goes inline, as zeep sends it
        assert client.service.upload(name="x", data=b"abc").size == 3
    client.transport.session.close()


def test_sync_client_fault_and_username_token(metro) -> None:
    from zeep.wsse.username import UsernameToken

    transport = SyncMtomTransport(operation_timeout=TIMEOUT)
    wsse = UsernameToken("alice", "secret")
    with zeep.Client(metro.url("11") + "?wsdl", transport=transport, wsse=wsse) as client:
        with pytest.raises(zeep.exceptions.Fault, match="negative"):
            client.service.download(size=-1)


# --- the download's memory, in a process of its own ------------------------------------------

_MEMORY_CHILD = r"""
import asyncio, hashlib, os, sys, time, zeep
from asyncmtom.zeep import MtomTransport, SyncMtomTransport

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

kind, wsdl, size, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

def sync():
    with zeep.Client(wsdl, transport=SyncMtomTransport(operation_timeout=600)) as client:
        client.service.download(size=1)  # warm: the first call's imports and allocations
        before = status("VmRSS")
        started = time.monotonic()
        client.service.download(size=size).save(target)
        return before, time.monotonic() - started

async def run_async():
    async with zeep.AsyncClient(wsdl, transport=MtomTransport(operation_timeout=600)) as client:
        await client.service.download(size=1)
        before = status("VmRSS")
        started = time.monotonic()
        await (await client.service.download(size=size)).save(target)
        return before, time.monotonic() - started

open("/proc/self/clear_refs", "w").write("5")  # VmHWM from here
before, seconds = sync() if kind == "sync" else asyncio.run(run_async())
print(before, status("VmHWM"), f"{seconds:.3f}")
"""


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(
    "size",
    [
        pytest.param(64 * MiB, id="64MiB"),
        pytest.param(1024 * MiB, id="1GiB", marks=pytest.mark.slow),
    ],
)
def test_download_memory_in_a_subprocess(
    metro, interop_report, kind: str, size: int, tmp_path: Path
) -> None:
    """A download through zeep, saved with save(): peak RSS grows by less than 64 MiB."""
    if not reset_self_hwm():
        pytest.skip("VmHWM cannot be reset here (/proc/self/clear_refs)")
    target = tmp_path / "saved.bin"
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, kind, metro.url("12") + "?wsdl", str(size), target],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    before, peak, seconds = out.stdout.split()
    growth = int(peak) - int(before)
    interop_report.note_memory(
        f"zeep {kind} download {size // MiB} MiB, save()",
        f"client VmHWM +{growth / MiB:.0f} MiB over {int(before) / MiB:.0f} MiB, {seconds} s",
    )
    assert target.stat().st_size == size
    assert growth < 64 * MiB, f"peak RSS grew by {growth / MiB:.0f} MiB"
