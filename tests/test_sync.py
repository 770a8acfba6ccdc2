"""asyncmtom.SyncBody: the async writer's body sent by synchronous HTTP clients.

The writer runs on an anyio blocking portal; ``httpx.Client`` (with its mock
transport) and ``requests`` (against a small HTTP server on 127.0.0.1) send
the body, and the standard library's ``email`` parser decodes what arrived.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import httpx
import pytest
from httpserver import serve
from mtomcheck import decode_with_email, resolve_xop

from asyncmtom import SyncBody, XmlWriter

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = "urn:example:documents"


def upload_writer(portal: anyio.from_thread.BlockingPortal, path: Path | None) -> XmlWriter:
    writer = XmlWriter()
    with writer.element("Envelope", SOAP12, "s"), writer.element("Body", SOAP12, "s"):
        with writer.element("Upload", NS), writer.element("data", NS):
            if path is not None:
                portal.call(writer.pull_bytes, path)
            else:

                async def chunks() -> Any:
                    for i in range(5):
                        yield bytes([i]) * 100_000

                portal.call(writer.pull_bytes, chunks())
    return writer


def values(content_type: str, body: bytes) -> list[bytes]:
    decoded = decode_with_email(content_type, body)
    tree = resolve_xop(decoded.root, decoded.parts)
    return [base64.b64decode(e.text or "") for e in tree.iter(f"{{{NS}}}data")]


def test_sync_body_with_httpx_client(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(os.urandom(300_000))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200)

    with anyio.from_thread.start_blocking_portal() as portal:
        writer = upload_writer(portal, path)
        with (
            SyncBody(writer.body(), portal) as body,
            httpx.Client(transport=httpx.MockTransport(handler)) as client,
        ):
            assert len(body) == writer.content_length
            response = client.post("http://127.0.0.1:9/", content=body, headers=writer.headers)
    assert response.status_code == 200
    [request] = seen
    assert values(request.headers["content-type"], request.content) == [path.read_bytes()]
    assert request.headers["content-length"] == str(writer.content_length)


@pytest.mark.parametrize("sized", [True, False])
def test_sync_body_with_requests(tmp_path: Path, sized: bool) -> None:
    """requests sends a Content-Length when len() works, chunked encoding otherwise."""
    requests = pytest.importorskip("requests")
    path = tmp_path / "scan.pdf"
    path.write_bytes(os.urandom(200_000))

    async def run() -> Any:
        async with serve() as server:

            def post() -> Any:
                with anyio.from_thread.start_blocking_portal() as portal:
                    writer = upload_writer(portal, path if sized else None)
                    with SyncBody(writer.body(), portal) as body:
                        return writer, requests.post(
                            server.url, data=body, headers=writer.headers, timeout=30
                        )

            writer, response = await anyio.to_thread.run_sync(post)
            return writer, response, server.requests

    writer, response, received = anyio.run(run)
    assert response.status_code == 200
    [request] = received
    assert request.chunked is not sized
    expected = path.read_bytes() if sized else b"".join(bytes([i]) * 100_000 for i in range(5))
    assert values(request.headers["content-type"], request.body) == [expected]
    if sized:
        assert request.headers["content-length"] == str(writer.content_length)


def test_sync_body_failure_reaches_the_sync_caller() -> None:
    async def broken(write: Any) -> None:
        await write(b"x" * 1000)
        raise OSError("disk gone")

    with anyio.from_thread.start_blocking_portal() as portal:
        writer = XmlWriter()
        with writer.element("Envelope", SOAP12, "s"), writer.element("Body", SOAP12, "s"):
            with writer.element("data", NS):
                portal.call(writer.push_bytes, broken)
        with SyncBody(writer.body(), portal) as body:
            with pytest.raises(TypeError):
                len(body)
            received = []
            with pytest.raises(OSError, match="disk gone"):
                for chunk in body:
                    received.append(bytes(chunk))
    assert received and not b"".join(received).rstrip().endswith(b"--")


def test_sync_body_abandoned_pass_is_closed(tmp_path: Path) -> None:
    """A pass the client leaves unfinished is closed (its source too) when the block exits."""
    closed: list[bool] = []

    async def chunks() -> Any:
        try:
            for _ in range(100):
                yield b"y" * 10_000
        finally:
            closed.append(True)

    with anyio.from_thread.start_blocking_portal() as portal:
        writer = XmlWriter()
        with writer.element("Envelope", SOAP12, "s"), writer.element("Body", SOAP12, "s"):
            with writer.element("data", NS):
                portal.call(writer.pull_bytes, chunks())
        with SyncBody(writer.body(), portal) as body:
            iterator = iter(body)
            next(iterator)
            next(iterator)
        assert closed == [True]


def test_sync_body_arguments_are_checked() -> None:
    with anyio.from_thread.start_blocking_portal() as portal:
        with pytest.raises(TypeError):
            SyncBody([b"not async"], portal)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            SyncBody(_empty(), portal, content_length="1")  # type: ignore[arg-type]


async def _empty() -> Any:
    yield b""
