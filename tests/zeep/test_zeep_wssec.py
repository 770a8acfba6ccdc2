"""zeep's WS-Security signatures through asyncmtom's transports, over the real bytes.

``wsse=BinarySignature(...)`` or ``Signature(...)`` signs zeep's envelope while
each `Binary` is still its placeholder; the transports sign it again over the
parts they stream.  Each request that the httpx mock transport receives is
decoded with the standard library's ``email`` parser, its XOP infoset rebuilt
with lxml, and the signature checked by zeep's own ``verify_envelope``
(python-xmlsec).  The mock service signs its replies with zeep's plugin (a
plain reply) or with `asyncmtom.wssec` (an MTOM reply whose part is signed),
and the client verifies them as zeep does.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

pytest.importorskip("cryptography")
pytest.importorskip("xmlsec")
zeep = pytest.importorskip("zeep")
etree = pytest.importorskip("lxml.etree")
from wsscheck import Identity, make_identity, xop_infoset  # noqa: E402
from zeep.exceptions import SignatureVerificationFailed  # noqa: E402
from zeep.wsse.signature import BinarySignature, Signature, verify_envelope  # noqa: E402
from zeepservice import (  # noqa: E402
    KINDS,
    NS,
    SOAP12,
    Clients,
    Server,
    envelope,
    write_wsdl,
)

from asyncmtom import SOAP12 as SOAP12_VERSION  # noqa: E402
from asyncmtom import (  # noqa: E402
    MtomEncoding,
    WriteFunction,
    WriterStateError,
    XmlWriter,
    wssec,
)
from asyncmtom.zeep import AsyncSpooledBinary, Binary, SpooledBinary  # noqa: E402


@pytest.fixture(scope="module")
def identity() -> Identity:
    return make_identity()


@pytest.fixture
def files(identity: Identity, tmp_path: Path) -> tuple[str, str]:
    key, cert = identity.write(tmp_path)
    return str(key), str(cert)


@pytest.fixture
def wsdl(tmp_path: Path) -> str:
    return write_wsdl(tmp_path)


class SigningServer(Server):
    """Checks each request's signature over its XOP infoset; answers signed with zeep."""

    def __init__(self, key: str, cert: str) -> None:
        super().__init__()
        self.key, self.cert = key, cert
        self.infosets: list[bytes] = []

    def handle(self, request: httpx.Request, body: bytes) -> httpx.Response:
        self.requests.append(request)
        infoset = xop_infoset(request.headers["content-type"], body)
        self.infosets.append(infoset)
        tree = etree.fromstring(infoset)
        verify_envelope(tree, self.cert)  # python-xmlsec: raises if it does not verify
        self.values = [base64.b64decode(e.text or "") for e in tree.iter(f"{{{NS}}}data")]
        reply = etree.fromstring(
            envelope(
                f'<UploadResponse xmlns="{NS}"><received>{sum(map(len, self.values))}'
                "</received></UploadResponse>"
            )
        )
        reply, _ = BinarySignature(self.key, self.cert).apply(reply, {})
        return httpx.Response(
            200, headers={"Content-Type": "application/soap+xml"}, content=etree.tostring(reply)
        )


async def push(write: WriteFunction, size: int) -> None:
    for start in range(0, size, 65536):
        await write(bytes([start % 251]) * min(65536, size - start))


@KINDS
@pytest.mark.parametrize("plugin", [BinarySignature, Signature])
def test_signed_upload_is_signed_over_the_parts(
    kind: str, plugin: type[Signature], files: tuple[str, str], wsdl: str, tmp_path: Path
) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(bytes(range(256)) * 4000)
    expected_push = b"".join(
        bytes([s % 251]) * min(65536, 300_000 - s) for s in range(0, 300_000, 65536)
    )
    for value, expected in [
        (Binary(path), path.read_bytes()),
        (Binary(b"m" * 5000), b"m" * 5000),
        (Binary.push(push, 300_000), expected_push),
        (Binary(b""), b""),
    ]:
        server = SigningServer(*files)
        clients = Clients(kind, wsdl, server, zeep_options={"wsse": plugin(*files)})
        assert clients.call("Upload", name="x", data=value) == len(expected)
        assert server.values == [expected]
        assert b"Signature" in server.infosets[0]


@KINDS
def test_a_changed_part_fails_verification(kind: str, files: tuple[str, str], wsdl: str) -> None:
    server = SigningServer(*files)
    clients = Clients(kind, wsdl, server, zeep_options={"wsse": BinarySignature(*files)})
    clients.call("Upload", name="x", data=Binary(b"q" * 5000))
    body = server.requests[0].content
    content_type = server.requests[0].headers["content-type"]
    tampered = xop_infoset(content_type, body, tamper=True)
    with pytest.raises(SignatureVerificationFailed):
        verify_envelope(etree.fromstring(tampered), files[1])


@KINDS
def test_a_source_read_once_is_refused_before_anything_is_sent(
    kind: str, files: tuple[str, str], wsdl: str
) -> None:
    async def once() -> AsyncIterator[bytes]:
        yield b"y" * 5000

    server = SigningServer(*files)
    clients = Clients(kind, wsdl, server, zeep_options={"wsse": BinarySignature(*files)})
    with pytest.raises(WriterStateError, match="can be read only once"):
        clients.call("Upload", name="x", data=Binary(once()))
    assert server.requests == []


@KINDS
def test_a_key_that_does_not_match_is_refused(
    kind: str, files: tuple[str, str], wsdl: str, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other_key, _ = make_identity("other").write(tmp_path / "other")
    server = SigningServer(*files)
    wsse = BinarySignature(str(other_key), files[1])
    clients = Clients(kind, wsdl, server, zeep_options={"wsse": wsse})
    # zeep's own xmlsec signing accepts any key; the transport refuses before sending
    with pytest.raises(ValueError, match="does not match"):
        clients.call("Upload", name="x", data=Binary(b"q" * 5000))
    assert server.requests == []


def signed_mtom_reply(identity: Identity, data: bytes, *, tamper: bool = False) -> Any:
    """A DownloadResponse whose part is signed by asyncmtom.wssec (as a service would)."""

    async def make() -> tuple[str, bytes]:
        signer = wssec.Signer(identity.key, identity.certificate)
        writer = XmlWriter(MtomEncoding(soap=SOAP12_VERSION))
        with writer.element("Envelope", SOAP12, "s"):
            with writer.element("Header", SOAP12, "s"):
                signature = signer.write_security(writer, must_understand=False)
            with writer.element("Body", SOAP12, "s"):
                signature.sign_element(writer)
                with writer.element("DownloadResponse", NS, "ex"):
                    with writer.element("data", NS, "ex"):
                        await writer.write_bytes(data)
                    with writer.element("note", NS, "ex"):
                        writer.text("ok")
        await signature.sign()
        return writer.content_type, b"".join([c async for c in writer.body()])

    content_type, body = anyio.run(make)
    if tamper:
        at = body.index(data[:100])
        body = body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": content_type}, content=body)

    return answer


@KINDS
@pytest.mark.parametrize("size", [5000, 3 * 1024 * 1024])
def test_signed_mtom_reply_is_verified_with_its_parts(
    kind: str, size: int, identity: Identity, files: tuple[str, str], wsdl: str
) -> None:
    data = bytes(range(256)) * (size // 256)
    server = Server(signed_mtom_reply(identity, data))
    clients = Clients(kind, wsdl, server, zeep_options={"wsse": Signature(*files)})
    result = clients.call("Download", size=size)
    value = result.data[0]
    if size > 1024 * 1024:
        assert isinstance(value, (SpooledBinary, AsyncSpooledBinary))
        value = bytes(value)
    assert value == data
    server = Server(signed_mtom_reply(identity, data, tamper=True))
    clients = Clients(kind, wsdl, server, zeep_options={"wsse": Signature(*files)})
    with pytest.raises(SignatureVerificationFailed):
        clients.call("Download", size=size)
