"""The examples under examples/ keep working, with small sizes.

Each example is run twice: as shipped, in a subprocess against the embedded
endpoint (examples/local_endpoint.py, which decodes with ``read_mtom``); and
in this process with that endpoint swapped for one that decodes the request
with the standard library's ``email`` parser (tests/helpers/mtomcheck.py) and reports
the same receipt, so every message an example writes is also decoded by
something not ours.  A wrong digest in the receipt must make an example fail.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import inspect
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from mtomcheck import Decoded, decode_with_email, resolve_xop

import asyncmtom

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NAMES = [
    "aiohttp_upload",
    "zeep_upload",
    "zeep_sync_upload",
    "xds_provide_and_register",
    "cmis_create_document",
    "signed_upload",
]

pytestmark = pytest.mark.skipif(
    not hasattr(asyncmtom, "read_mtom"),
    reason="examples/local_endpoint.py needs asyncmtom.read_mtom",
)


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


@pytest.mark.parametrize("name", [*NAMES, "xds_retrieve_document_set"])
def test_example_runs_as_shipped(name: str) -> None:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--size", "300000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "matches the" in done.stdout and ": True" in done.stdout


# --- the same examples against an endpoint that decodes with email -----------------------------


@dataclass
class EmailEndpoint:
    url: str
    decoded: list[Decoded] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lie: bool = False  # report a wrong digest (or, answering downloads, send a wrong byte)
    respond: Any = None  # the example's own reply maker, for a download
    replies: list[Decoded] = field(default_factory=list)


async def _serve_one(stream: SocketStream, endpoint: EmailEndpoint) -> None:
    async with stream:
        buffered = BufferedByteReceiveStream(stream)
        await buffered.receive_until(b"\r\n", 8192)
        headers: dict[str, str] = {}
        while line := await buffered.receive_until(b"\r\n", 65536):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = bytearray()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await buffered.receive_until(b"\r\n", 1024)).split(b";")[0], 16):
                body += await buffered.receive_exactly(size)
                await buffered.receive_exactly(2)
            await buffered.receive_until(b"\r\n", 8192)
        else:
            body += await buffered.receive_exactly(int(headers.get("content-length", "0")))
        if "multipart/" in headers["content-type"]:
            decoded = decode_with_email(headers["content-type"], bytes(body))
            resolve_xop(decoded.root, decoded.parts)  # each part referenced once, Includes alone
        else:
            decoded = Decoded(bytes(body), {}, {}, [])
        endpoint.decoded.append(decoded)
        endpoint.headers.append(headers)
        if endpoint.respond is not None:
            await _send_reply(stream, endpoint, decoded.root)
            return
        items = ""
        for content_id, (content_type, data) in decoded.parts.items():
            digest = "0" * 64 if endpoint.lie else hashlib.sha256(data).hexdigest()
            items += (
                f'<r:part id="{content_id}" type="{content_type}" size="{len(data)}" '
                f'sha256="{digest}"/>'
            )
        reply = (
            '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
            f"<r:UploadResponse xmlns:r='urn:example:receipt'>{items}</r:UploadResponse>"
            "</s:Body></s:Envelope>"
        ).encode()
        await stream.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply)
        )


async def _send_reply(stream: SocketStream, endpoint: EmailEndpoint, request_root: bytes) -> None:
    """The example's own MTOM reply, decoded with ``email`` on its way out."""
    writer = await endpoint.respond(request_root)
    body = bytearray(b"".join([bytes(chunk) async for chunk in writer.body()]))
    reply = decode_with_email(writer.content_type, bytes(body))
    resolve_xop(reply.root, reply.parts)
    endpoint.replies.append(reply)
    if endpoint.lie:
        body[-200] ^= 1  # inside the last part: the document
    head = "".join(f"{name}: {value}\r\n" for name, value in writer.headers.items())
    await stream.send(f"HTTP/1.1 200 OK\r\n{head}Connection: close\r\n\r\n".encode() + body)


def email_endpoint(endpoint: EmailEndpoint):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def serve(respond: Any = None) -> AsyncIterator[EmailEndpoint]:
        endpoint.respond = respond
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        endpoint.url = f"http://127.0.0.1:{listener.extra(SocketAttribute.local_port)}/upload"

        async def handler(stream: SocketStream) -> None:
            await _serve_one(stream, endpoint)

        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, handler)
            try:
                yield endpoint
            finally:
                tg.cancel_scope.cancel()

    return serve


def run_in_process(name: str, lie: bool = False, size: int = 200_000) -> tuple[int, EmailEndpoint]:
    module = load(name)
    endpoint = EmailEndpoint(url="", lie=lie)
    module.local_endpoint = email_endpoint(endpoint)

    if not inspect.iscoroutinefunction(module.main):  # a synchronous example
        return int(module.main(200_000, None)), endpoint

    async def go() -> int:
        with anyio.fail_after(60):
            return int(await module.main(size, None))

    return anyio.run(go), endpoint


@pytest.mark.parametrize("name", NAMES)
def test_example_message_decodes_with_email(name: str) -> None:
    status, endpoint = run_in_process(name)
    assert status == 0
    [decoded] = endpoint.decoded
    [(_, data)] = decoded.parts.values()
    assert len(data) == 200_000
    root = ET.fromstring(decoded.root)
    include = root.find(".//{http://www.w3.org/2004/08/xop/include}Include")
    assert include is not None


@pytest.mark.parametrize("name", NAMES)
def test_example_fails_on_a_wrong_digest(name: str) -> None:
    status, _ = run_in_process(name, lie=True)
    assert status == 1


def test_xds_request_is_an_iti41_request() -> None:
    _, endpoint = run_in_process("xds_provide_and_register")
    [decoded], [headers] = endpoint.decoded, endpoint.headers
    action = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
    assert f'start-info="application/soap+xml; action=\\"{action}\\""' in headers["content-type"]
    root = resolve_xop(decoded.root, decoded.parts)
    wsa = "{http://www.w3.org/2005/08/addressing}"
    assert root.findtext(f".//{wsa}Action") == action
    assert (root.findtext(f".//{wsa}MessageID") or "").startswith("urn:uuid:")
    assert root.findtext(f".//{wsa}To") == endpoint.url
    request = root.find(".//{urn:ihe:iti:xds-b:2007}ProvideAndRegisterDocumentSetRequest")
    assert request is not None
    rim = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
    entry = request.find(f".//{rim}ExtrinsicObject")
    assert entry is not None and entry.get("id") == "Document01"
    assert entry.get("objectType") == "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
    association = request.find(f".//{rim}Association")
    assert association is not None and association.get("targetObject") == "Document01"
    document = request.find("{urn:ihe:iti:xds-b:2007}Document")
    assert document is not None and document.get("id") == "Document01"
    [(content_type, data)] = decoded.parts.values()
    assert content_type == "application/pdf" and data.startswith(b"%PDF-")
    assert base64.b64decode(document.text or "") == data


def test_cmis_request_is_a_create_document() -> None:
    _, endpoint = run_in_process("cmis_create_document")
    [decoded], [headers] = endpoint.decoded, endpoint.headers
    assert headers["soapaction"] == '""' and 'start-info="text/xml"' in headers["content-type"]
    root = resolve_xop(decoded.root, decoded.parts)
    cmism = "{http://docs.oasis-open.org/ns/cmis/messaging/200908/}"
    stream = root.find(f".//{cmism}createDocument/{cmism}contentStream")
    assert stream is not None
    [(content_type, data)] = decoded.parts.values()
    assert stream.findtext(f"{cmism}length") == str(len(data))
    assert stream.findtext(f"{cmism}mimeType") == content_type == "application/pdf"
    assert base64.b64decode(stream.findtext(f"{cmism}stream") or "") == data


@pytest.mark.parametrize("size", [200_000, 3_000_000])  # in memory; spooled past 1 MiB
def test_xds_retrieve_is_an_iti43_exchange(size: int) -> None:
    status, endpoint = run_in_process("xds_retrieve_document_set", size=size)
    assert status == 0
    [request], [headers], [reply] = endpoint.decoded, endpoint.headers, endpoint.replies
    action = "urn:ihe:iti:2007:RetrieveDocumentSet"
    assert f'start-info="application/soap+xml; action=\\"{action}\\""' in headers["content-type"]
    root = ET.fromstring(request.root)
    wsa = "{http://www.w3.org/2005/08/addressing}"
    xdsb = "{urn:ihe:iti:xds-b:2007}"
    assert root.findtext(f".//{wsa}Action") == action
    [asked] = root.iter(f"{xdsb}DocumentRequest")
    assert asked.findtext(f"{xdsb}RepositoryUniqueId") == "1.3.6.1.4.1.21367.13.80.110.2"
    answer = resolve_xop(reply.root, reply.parts)
    assert answer.findtext(f".//{wsa}Action") == action + "Response"
    [document] = answer.iter(f"{xdsb}Document")
    [(content_type, data)] = reply.parts.values()
    assert content_type == "application/pdf" and len(data) == size and data.startswith(b"%PDF-")
    assert base64.b64decode(document.text or "") == data


def test_xds_retrieve_fails_on_a_wrong_byte() -> None:
    status, _ = run_in_process("xds_retrieve_document_set", lie=True, size=3_000_000)
    assert status == 1
