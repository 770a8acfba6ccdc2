"""Signed MTOM messages checked by independent WS-Security verifiers.

asyncmtom.wssec signs a message whose attachments stream (the digest covers
each part's base64 without the base64 ever being held).  Each message is
decoded with the standard library's ``email`` parser and its XOP infoset
rebuilt with lxml (each ``xop:Include`` replaced by its part's base64,
tests/helpers/wsscheck.py); then two verifiers no one here wrote check it:

- ``xmlsec1 --verify`` (Debian's xmlsec1, libxmlsec1 over OpenSSL) with the
  certificate given on the command line;
- Apache WSS4J 1.6 (Debian's libwss4j-java, the WS-Security engine of CXF),
  ``WSSecurityEngine.processSecurityHeader`` with the certificate as the only
  trusted one (``wss4j/interop/WssVerify.java``), which also resolves the
  key from the message (BinarySecurityToken or issuer and serial number) and
  must report both the Body and the Timestamp as signed.

The matrix: sizes 0 B (an empty part), 767 B (inline), 768 B, 1 MiB and
64 MiB, one part each, SOAP 1.1 and 1.2, both key identifiers and both
algorithm families alternated; several parts in one message; and for each
message with a part, the same message with one byte of its largest part
flipped, which both verifiers must reject.

The other way round: WSS4J signs an envelope (``wss4j/interop/WssSign.java``,
Body and Timestamp, InclusiveNamespaces prefix lists as CXF writes them), the
base64 of its data is moved into a part as an MTOM service sends it, and
`asyncmtom.wssec.verify_message` must accept it, and refuse it with one byte
of the part changed.
"""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest
from interop_util import MiB, pattern_chunks
from peers import JavaBuild

pytest.importorskip("cryptography")
pytest.importorskip("lxml")
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from wsscheck import Identity, make_identity, xop_infoset

from asyncmtom import (
    SOAP11,
    SOAP12,
    MtomEncoding,
    SoapVersion,
    WriteFunction,
    XmlWriter,
    read_mtom,
)
from asyncmtom.wssec import (
    RSA_SHA1,
    SHA1,
    WSU_NAMESPACE,
    SignatureError,
    Signer,
    verify_message,
)

pytestmark = pytest.mark.interop

VERIFY_TIMEOUT = 300.0
NS = "urn:asyncmtom:interop"

# (soap, signer options) alternated over the sizes, so that every value of each axis
# meets both verifiers.
FLAVOURS = [
    ("12", {}),
    ("11", {"key_identifier": "issuer-serial"}),
    ("12", {"signature_method": RSA_SHA1, "digest_method": SHA1}),
    ("11", {}),
    ("12", {"key_identifier": "issuer-serial", "digest_method": SHA1}),
]
SIZES = [0, 767, 768, 1 * MiB, 64 * MiB]
CASES = [(size, *FLAVOURS[i]) for i, size in enumerate(SIZES)]
SOAPS = {"11": SOAP11, "12": SOAP12}


@pytest.fixture(scope="module")
def identity() -> Identity:
    return make_identity()


async def push_pattern(write: WriteFunction, size: int, seed: int) -> None:
    for chunk in pattern_chunks(size, seed):
        await write(chunk)


async def write_signed(
    signer: Signer, soap: SoapVersion, sizes: list[int], tmp_path: Path
) -> tuple[str, bytes]:
    """An Upload signed over Body and Timestamp, one element per size; the parts are a
    file (pulled by path) and push callbacks, alternately."""
    writer = XmlWriter(MtomEncoding(soap=soap))
    with writer.element("Envelope", soap.namespace, "s"):
        with writer.element("Header", soap.namespace, "s"):
            signature = signer.write_security(writer)
        with writer.element("Body", soap.namespace, "s"):
            signature.sign_element(writer)
            with writer.element("uploadMany", NS, "ns"):
                for i, size in enumerate(sizes):
                    with writer.element("item", NS, "ns"):
                        writer.attribute(
                            "contentType",
                            "application/octet-stream",
                            "http://www.w3.org/2005/05/xmlmime",
                            "xmime",
                        )
                        if i % 2 == 0:
                            path = tmp_path / f"part{i}.bin"
                            with path.open("wb") as f:
                                for chunk in pattern_chunks(size, i):
                                    f.write(chunk)
                            await writer.pull_bytes(path, inline=False if size == 0 else None)
                        else:
                            await writer.push_bytes(push_pattern, size, i, size=size)
    await signature.sign()
    body = b"".join([chunk async for chunk in writer.body()])
    return writer.content_type, body


def run_xmlsec1(xmlsec1: str, message: Path, cert: Path, soap: SoapVersion) -> tuple[bool, str]:
    proc = subprocess.run(
        [
            xmlsec1,
            "--verify",
            "--id-attr:Id",
            f"{soap.namespace}:Body",
            "--id-attr:Id",
            f"{WSU_NAMESPACE}:Timestamp",
            "--pubkey-cert-pem",
            str(cert),
            str(message),
        ],
        capture_output=True,
        text=True,
        timeout=VERIFY_TIMEOUT,
        check=False,
    )
    return proc.returncode == 0, proc.stdout + proc.stderr


def run_wss4j(build: JavaBuild, message: Path, cert: Path, tmp_path: Path) -> tuple[bool, str]:
    proc = subprocess.run(
        [
            *build.jvm(tmp_path, heap="-Xmx1g", quick_start=True),
            "interop.WssVerify",
            str(message),
            str(cert),
        ],
        capture_output=True,
        text=True,
        timeout=VERIFY_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode == 0, proc.stdout + proc.stderr[-3000:]


def check(
    verifier: str,
    request: pytest.FixtureRequest,
    content_type: str,
    body: bytes,
    cert: Path,
    soap: SoapVersion,
    tmp_path: Path,
) -> None:
    for tamper in (False, True) if b"xop:Include" in body else (False,):
        message = tmp_path / ("tampered.xml" if tamper else "message.xml")
        message.write_bytes(xop_infoset(content_type, body, tamper=tamper))
        if verifier == "xmlsec1":
            ok, output = run_xmlsec1(request.getfixturevalue("xmlsec1"), message, cert, soap)
            if ok:
                assert "SignedInfo References (ok/all): 2/2" in output, output
        else:
            build = request.getfixturevalue("wss4j")
            ok, output = run_wss4j(build, message, cert, tmp_path)
            if ok:
                assert f"SIGNED {{{soap.namespace}}}Body" in output, output
                assert f"SIGNED {{{WSU_NAMESPACE}}}Timestamp" in output, output
        assert ok != tamper, (
            f"{verifier} {'accepted a tampered' if tamper else 'rejected the'} message:\n{output}"
        )
        message.unlink()


@pytest.mark.anyio
@pytest.mark.parametrize("verifier", ["xmlsec1", "wss4j"])
@pytest.mark.parametrize(
    ("size", "soap", "options"), CASES, ids=[f"{c[0]}B-soap{c[1]}" for c in CASES]
)
async def test_one_part(
    verifier: str,
    size: int,
    soap: str,
    options: dict[str, str],
    identity: Identity,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    anyio_backend: str,
) -> None:
    if anyio_backend == "trio" and size > MiB:
        pytest.skip("the large case runs once, on asyncio")
    cert = identity.write(tmp_path)[1]
    signer = Signer(identity.key, identity.certificate, **options)
    content_type, body = await write_signed(signer, SOAPS[soap], [size], tmp_path)
    assert (b"xop:Include" in body) == (size != 767)
    check(verifier, request, content_type, body, cert, SOAPS[soap], tmp_path)


@pytest.mark.anyio
@pytest.mark.parametrize("verifier", ["xmlsec1", "wss4j"])
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_several_parts(
    verifier: str,
    soap: str,
    identity: Identity,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    cert = identity.write(tmp_path)[1]
    signer = Signer(identity.key, identity.certificate)
    sizes = [0, 768, 1 * MiB, 5, 3 * MiB + 1]
    content_type, body = await write_signed(signer, SOAPS[soap], sizes, tmp_path)
    assert body.count(b"<xop:Include") == 4
    check(verifier, request, content_type, body, cert, SOAPS[soap], tmp_path)


# --- the other way: WSS4J signs (as a CXF service signs a reply), asyncmtom verifies ---------


def wss4j_sign(
    build: JavaBuild, message: Path, store: Path, soap: SoapVersion, tmp_path: Path
) -> bytes:
    """*message* signed by WSS4J (``interop.WssSign``): Body and Timestamp, a BST."""
    out = tmp_path / "signed.xml"
    proc = subprocess.run(
        [
            *build.jvm(tmp_path, heap="-Xmx1g", quick_start=True),
            "interop.WssSign",
            str(message),
            str(out),
            str(store),
            "pw",
            soap.namespace,
        ],
        capture_output=True,
        text=True,
        timeout=VERIFY_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out.read_bytes()


def mtom_from_signed(signed: bytes, soap: SoapVersion, data: bytes) -> tuple[str, bytes]:
    """The signed envelope as an MTOM package: the base64 of <ns:data> moved into a part
    (laid out by hand here, as a service would send it)."""
    include = b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:p1@x"/>'
    root, count = re.subn(
        rb"<ns:data(?:/>|>[A-Za-z0-9+/=]*</ns:data>)",
        b"<ns:data>" + include + b"</ns:data>",
        signed,
    )
    assert count == 1
    boundary = "uuid:6c3fb3ab-boundary"
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<root@x>"; start-info="{soap.media_type}"'
    )
    body = b"".join(
        [
            f"--{boundary}\r\nContent-ID: <root@x>\r\n".encode(),
            f'Content-Type: application/xop+xml; charset=UTF-8; type="{soap.media_type}"\r\n'
            "Content-Transfer-Encoding: binary\r\n\r\n".encode(),
            root,
            f"\r\n--{boundary}\r\nContent-ID: <p1@x>\r\n".encode(),
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n",
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return content_type, body


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the signing peer is what is tested
@pytest.mark.parametrize("soap", ["11", "12"])
@pytest.mark.parametrize("size", [0, 768, 1 * MiB, 16 * MiB])
async def test_verify_message_accepts_what_wss4j_signs(
    soap: str,
    size: int,
    identity: Identity,
    wss4j: JavaBuild,
    tmp_path: Path,
) -> None:
    version = SOAPS[soap]
    data = b"".join(pattern_chunks(size, 7))
    envelope = (
        f'<soap:Envelope xmlns:soap="{version.namespace}"><soap:Header/><soap:Body>'
        f'<ns:reply xmlns:ns="{NS}"><ns:name>scan.pdf</ns:name><ns:data>'
        f"{base64.b64encode(data).decode()}</ns:data></ns:reply></soap:Body></soap:Envelope>"
    )
    (tmp_path / "in.xml").write_text(envelope)
    store = tmp_path / "signer.p12"
    store.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"signer", identity.key, identity.certificate, None, BestAvailableEncryption(b"pw")
        )
    )
    signed = wss4j_sign(wss4j, tmp_path / "in.xml", store, version, tmp_path)
    assert b"InclusiveNamespaces" in signed
    content_type, body = mtom_from_signed(signed, version, data)
    async with read_mtom(content_type, body) as message:
        assert len(await verify_message(message, identity.certificate)) == 2
    if size:
        at = body.rindex(data[-1:])
        tampered = body[:at] + bytes([body[at] ^ 1]) + body[at + 1 :]
        async with read_mtom(content_type, tampered) as message:
            with pytest.raises(SignatureError, match="digest"):
                await verify_message(message, identity.certificate)
