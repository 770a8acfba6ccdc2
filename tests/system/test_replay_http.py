"""Real clients send the body again: Digest, NTLM, a three-leg auth flow, 307/308.

The endpoint (tests/helpers/authserver.py) checks every Digest response itself (RFC
7616) and runs pyspnego's NTLM acceptor; what it finally accepts is decoded
with the standard library's ``email`` parser and each part's SHA-256 compared
with the source's.  httpx runs on asyncio and trio, aiohttp on asyncio under a
timeout, so that a client waiting for bytes that never come fails the test.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import httpx
import pytest
from authserver import Digest, Ntlm, Policy, Redirect, Refuse, Reply, Request, serve

from asyncmtom import SOAP12, MtomEncoding, Progress, WriterStateError, XmlWriter

NS = "urn:example"
BIG = os.urandom(6 * 1024 * 1024 + 11)  # more than the socket buffers: an early answer matters
SMALL = os.urandom(70_000)
USER, PASSWORD = "alice", "correct horse"


class Probe:
    """A push callback that records its passes and its cleanup."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.starts = 0
        self.cleanups = 0

    async def __call__(self, write: Any) -> None:
        self.starts += 1
        try:
            for i in range(0, len(self.data), 256 * 1024):
                await write(self.data[i : i + 256 * 1024])
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()  # a cleanup that awaits, as closing a file does
            self.cleanups += 1


async def build(
    tmp_path: Path, *, sized: bool = True, extra: Any = None
) -> tuple[XmlWriter, Probe]:
    path = tmp_path / "small.bin"
    path.write_bytes(SMALL)
    probe = Probe(BIG)
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action="urn:example:Upload"))
    with (
        writer.element("Envelope", SOAP12.namespace, "s"),
        writer.element("Body", SOAP12.namespace, "s"),
        writer.element("Upload", NS, "ex"),
    ):
        with writer.element("big", NS, "ex"):
            await writer.push_bytes(probe, size=len(BIG) if sized else None)
        with writer.element("file", NS, "ex"):
            await writer.pull_bytes(path)
        with writer.element("bytes", NS, "ex"):
            await writer.write_bytes(SMALL[:5000])
        if extra is not None:
            with writer.element("extra", NS, "ex"):
                await writer.pull_bytes(extra)
    return writer, probe


EXPECTED = [hashlib.sha256(d).hexdigest() for d in (BIG, SMALL, SMALL[:5000])]


def check_accepted(endpoint: Any, writer: XmlWriter) -> None:
    (parts,) = endpoint.parts
    assert [parts[p.content_id] for p in writer._parts] == EXPECTED
    (accepted,) = [r for r in endpoint.received if r.body is not None][-1:]
    assert accepted.headers["content-type"] == writer.content_type
    if writer.content_length is not None:
        assert int(accepted.headers["content-length"]) == writer.content_length


# -- httpx --------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("early", [None, "drain"], ids=["401-after-body", "401-early-drain"])
@pytest.mark.parametrize("sized", [True, False], ids=["content-length", "chunked"])
async def test_httpx_digest(
    anyio_backend: str, tmp_path: Path, early: str | None, sized: bool
) -> None:
    policy = Digest(USER, PASSWORD, early=early)
    seen: list[Progress] = []
    with anyio.fail_after(60):
        async with (
            serve(policy) as endpoint,
            httpx.AsyncClient(auth=httpx.DigestAuth(USER, PASSWORD)) as client,
        ):
            writer, probe = await build(tmp_path, sized=sized)
            body = writer.body(progress=seen.append)
            response = await client.post(endpoint.url, content=body, headers=writer.headers)
    assert response.status_code == 200
    assert (policy.refused, policy.verified) == (1, 1)
    assert body.passes == 2 and probe.starts == probe.cleanups == 2
    assert {p.attempt for p in seen} == {1, 2}
    check_accepted(endpoint, writer)


@pytest.mark.anyio
async def test_httpx_digest_early_401_then_close(anyio_backend: str, tmp_path: Path) -> None:
    """The server answers 401 after the headers and closes: the client abandons pass 1.

    On trio httpx still reads the 401 and sends again; on asyncio the 401 is
    lost in httpcore (the transport is closed on the failed write), and httpx
    raises ReadError: the case the docs explain.  Either way the abandoned
    pass is cleaned up and nothing is left running.
    """
    policy = Digest(USER, PASSWORD, early="close")
    tasks = len(anyio.get_running_tasks())
    with anyio.fail_after(60):
        async with (
            serve(policy) as endpoint,
            httpx.AsyncClient(auth=httpx.DigestAuth(USER, PASSWORD)) as client,
        ):
            writer, probe = await build(tmp_path)
            try:
                response = await client.post(
                    endpoint.url, content=writer.body(), headers=writer.headers
                )
            except httpx.ReadError:
                assert anyio_backend == "asyncio"
                response = None
        if response is not None:
            assert response.status_code == 200
            check_accepted(endpoint, writer)
            assert probe.starts == 2
        while probe.cleanups < probe.starts:  # the pass abandoned last goes with the body
            gc.collect()
            await anyio.sleep(0.01)
    assert probe.cleanups == probe.starts
    assert len(anyio.get_running_tasks()) == tasks


@pytest.mark.anyio
async def test_httpx_ntlm_handshake(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpx_ntlm = pytest.importorskip("httpx_ntlm")
    credentials = tmp_path / "ntlm-users"
    credentials.write_text(f"EXAMPLE:{USER}:{PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(credentials))
    policy = Ntlm()
    with anyio.fail_after(60):
        async with (
            serve(policy) as endpoint,
            httpx.AsyncClient(auth=httpx_ntlm.HttpNtlmAuth(f"EXAMPLE\\{USER}", PASSWORD)) as client,
        ):
            writer, probe = await build(tmp_path)
            body = writer.body()
            response = await client.post(endpoint.url, content=body, headers=writer.headers)
    assert response.status_code == 200
    assert policy.users == [f"EXAMPLE\\{USER}"]
    assert body.passes == 3 and probe.starts == probe.cleanups == 3
    assert len(endpoint.received) == 3, "every leg of the handshake carried the whole body"
    assert len({id(r.connection) for r in endpoint.received}) == 1, "one kept-alive connection"
    check_accepted(endpoint, writer)


class ThreeLegs(httpx.Auth):
    """An auth flow that sends the request three times, as NTLM and Negotiate do."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        for leg in ("one", "two", "three"):
            request.headers["X-Leg"] = leg
            response = yield request
            if response.status_code != 401:
                return


class LegPolicy(Policy):
    def before_body(self, request: Request) -> Reply | None:
        return None if request.headers.get("x-leg") == "three" else Reply(401)


@pytest.mark.anyio
async def test_httpx_auth_flow_sending_three_times(anyio_backend: str, tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with serve(LegPolicy()) as endpoint, httpx.AsyncClient(auth=ThreeLegs()) as client:
            writer, probe = await build(tmp_path, sized=False)
            response = await client.post(
                endpoint.url, content=writer.body(), headers=writer.headers
            )
    assert response.status_code == 200
    assert [r.headers["x-leg"] for r in endpoint.received] == ["one", "two", "three"]
    assert all(r.headers.get("transfer-encoding") == "chunked" for r in endpoint.received)
    assert probe.starts == 3
    check_accepted(endpoint, writer)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [307, 308])
async def test_httpx_follows_307_and_308(anyio_backend: str, tmp_path: Path, status: int) -> None:
    with anyio.fail_after(60):
        async with (
            serve(Redirect()) as endpoint,
            httpx.AsyncClient(follow_redirects=True) as client,
        ):
            writer, probe = await build(tmp_path)
            url = endpoint.url.replace("/service", f"/redirect/{status}")
            response = await client.post(url, content=writer.body(), headers=writer.headers)
    assert response.status_code == 200
    assert [r.path for r in endpoint.received] == [f"/redirect/{status}", "/service"]
    assert [h.status_code for h in response.history] == [status]
    assert probe.starts == 2
    check_accepted(endpoint, writer)


@pytest.mark.anyio
async def test_httpx_one_shot_source_is_refused_on_the_second_send(
    anyio_backend: str, tmp_path: Path
) -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"only once" * 1000

    policy = Digest(USER, PASSWORD)
    with anyio.fail_after(60):
        async with (
            serve(policy) as endpoint,
            httpx.AsyncClient(auth=httpx.DigestAuth(USER, PASSWORD)) as client,
        ):
            writer, _ = await build(tmp_path, extra=once())
            with pytest.raises(WriterStateError, match="can be read only once") as caught:
                await client.post(endpoint.url, content=writer.body(), headers=writer.headers)
    assert writer._parts[-1].content_id in str(caught.value)
    assert endpoint.parts == [], "nothing was accepted"


# -- aiohttp ------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("early", [None, "drain", "close"])
@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_aiohttp_digest_middleware(tmp_path: Path, early: str | None, algorithm: str) -> None:
    policy = Digest(USER, PASSWORD, algorithm=algorithm, early=early)
    with anyio.fail_after(60):
        async with serve(policy) as endpoint:
            digest = aiohttp.DigestAuthMiddleware(USER, PASSWORD)
            async with aiohttp.ClientSession(middlewares=(digest,)) as session:
                writer, probe = await build(tmp_path)
                body = writer.body()
                async with session.post(endpoint.url, data=body, headers=writer.headers) as reply:
                    assert reply.status == 200
                    await reply.read()
        while probe.cleanups < probe.starts:
            await asyncio.sleep(0.01)
    assert (policy.refused, policy.verified) == (1, 1)
    assert body.passes == 2 and probe.starts == 2
    check_accepted(endpoint, writer)


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [307, 308])
async def test_aiohttp_follows_307_and_308(tmp_path: Path, status: int) -> None:
    with anyio.fail_after(60):
        async with serve(Redirect()) as endpoint, aiohttp.ClientSession() as session:
            writer, probe = await build(tmp_path, sized=False)
            url = endpoint.url.replace("/service", f"/redirect/{status}")
            async with session.post(url, data=writer.body(), headers=writer.headers) as reply:
                assert reply.status == 200
                assert [h.status for h in reply.history] == [status]
    assert probe.starts == 2
    check_accepted(endpoint, writer)


@pytest.mark.asyncio
async def test_aiohttp_refuses_a_redirect_it_cannot_replay(tmp_path: Path) -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"only once" * 1000

    with anyio.fail_after(60):
        async with serve(Redirect()) as endpoint, aiohttp.ClientSession() as session:
            writer, _ = await build(tmp_path, extra=once())
            url = endpoint.url.replace("/service", "/redirect/307")
            with pytest.raises(aiohttp.ClientPayloadError, match="consumed"):
                await session.post(url, data=writer.body(), headers=writer.headers)
    assert endpoint.parts == []


@pytest.mark.asyncio
async def test_aiohttp_digest_auth_int_is_refused_not_buffered(tmp_path: Path) -> None:
    class AuthInt(Digest):
        def challenge(self) -> Reply:
            reply = super().challenge()
            reply.headers["WWW-Authenticate"] = reply.headers["WWW-Authenticate"].replace(
                'qop="auth"', 'qop="auth-int"'
            )
            return reply

    with anyio.fail_after(60):
        async with serve(AuthInt(USER, PASSWORD)) as endpoint:
            digest = aiohttp.DigestAuthMiddleware(USER, PASSWORD)
            async with aiohttp.ClientSession(middlewares=(digest,)) as session:
                writer, _ = await build(tmp_path)
                with pytest.raises(WriterStateError, match="auth-int"):
                    await session.post(endpoint.url, data=writer.body(), headers=writer.headers)
    assert endpoint.parts == []


# -- an early 413 ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("early", ["drain", "close"])
async def test_httpx_early_413(
    anyio_backend: str, tmp_path: Path, early: str, caplog: pytest.LogCaptureFixture
) -> None:
    """IIS and WCF refuse a large upload with 413 right after the headers.

    A server that drains the rest gets its 413 through on both backends; one
    that closes at once loses it on asyncio, where httpcore's transport is
    closed by the failed write: httpx raises an empty ReadError.  asyncmtom
    then logs why the body stopped, with the server settings to look at.
    """
    with anyio.fail_after(60):
        async with serve(Refuse(413, early)) as endpoint, httpx.AsyncClient() as client:
            writer, probe = await build(tmp_path)
            status = None
            try:
                status = (
                    await client.post(endpoint.url, content=writer.body(), headers=writer.headers)
                ).status_code
            except httpx.ReadError as exc:
                assert (anyio_backend, early, str(exc)) == ("asyncio", "close", "")
        assert status in (None, 413)
        del writer
        while probe.cleanups < probe.starts:
            gc.collect()
            await anyio.sleep(0.01)
    if early == "close":
        (record,) = [r for r in caplog.records if r.name == "asyncmtom"]
        assert "413" in record.getMessage() and "maxAllowedContentLength" in record.getMessage()
    assert endpoint.received == []


@pytest.mark.asyncio
async def test_aiohttp_early_413_keeps_the_status(tmp_path: Path) -> None:
    with anyio.fail_after(60):
        async with serve(Refuse(413, "close")) as endpoint, aiohttp.ClientSession() as session:
            writer, probe = await build(tmp_path)
            async with session.post(endpoint.url, data=writer.body(), headers=writer.headers) as r:
                assert r.status == 413
        while probe.cleanups < probe.starts:
            await asyncio.sleep(0.01)
    assert endpoint.received == []


@pytest.mark.asyncio
async def test_aiohttp_digest_refuses_a_one_shot_source(tmp_path: Path) -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"only once" * 1000

    with anyio.fail_after(60):
        async with serve(Digest(USER, PASSWORD)) as endpoint:
            digest = aiohttp.DigestAuthMiddleware(USER, PASSWORD)
            async with aiohttp.ClientSession(middlewares=(digest,)) as session:
                writer, _ = await build(tmp_path, extra=once())
                with pytest.raises(aiohttp.ClientError, match="can be read only once"):
                    await session.post(endpoint.url, data=writer.body(), headers=writer.headers)
    assert endpoint.parts == []
