"""asyncmtom.wssec: WS-Security signatures over MTOM messages, digests streamed.

Each signed message is decoded by the standard library's ``email`` parser,
its XOP infoset rebuilt with lxml (tests/helpers/wsscheck.py), and the signature
checked by zeep's ``verify_envelope`` (python-xmlsec over libxmlsec1): code
no one here wrote.  The command-line xmlsec1 and Apache WSS4J check the same
messages in tests/interop/test_wssec_verifiers.py.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("cryptography")
etree = pytest.importorskip("lxml.etree")
zeep_signature = pytest.importorskip("zeep.wsse.signature")
pytest.importorskip("xmlsec")

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from wsscheck import Identity, make_identity, xop_infoset  # noqa: E402

from asyncmtom import (  # noqa: E402
    SOAP11,
    SOAP12,
    MtomEncoding,
    PartSizeError,
    SoapVersion,
    TextEncoding,
    WriteFunction,
    WriterStateError,
    XmlWriter,
    read_mtom,
)
from asyncmtom._core.base64 import Base64Encoder  # noqa: E402
from asyncmtom._core.digest import DigestPass, parse_xml, reference_plans  # noqa: E402
from asyncmtom.wssec import (  # noqa: E402
    RSA_SHA1,
    SHA1,
    WSU_NAMESPACE,
    Signature,
    SignatureError,
    Signer,
    verify_envelope,
    verify_message,
)

NS = "urn:example"


@pytest.fixture(scope="module")
def identity() -> Identity:
    return make_identity()


@pytest.fixture
def cert_file(identity: Identity, tmp_path: Path) -> Path:
    return identity.write(tmp_path)[1]


# --- the streamed digest (sans-I/O) ---------------------------------------------------------

ENVELOPE = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ex="urn:example"'
    b' xmlns:unused="urn:unused" xmlns:wsu="' + WSU_NAMESPACE.encode() + b'">'
    b'<s:Body wsu:Id="body"><ex:Up a="1 &amp; 2"><ex:a Id="inner">'
    b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:1.a@x"/>'
    b"</ex:a><ex:b/><ex:c>"
    b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:2.a@x"/>'
    b"</ex:c></ex:Up></s:Body></s:Envelope>"
)


def expected_digest(parts: dict[str, bytes], id_: str, hash_name: str) -> bytes:
    """Digest of the element's exc-c14n with the whole base64 in place (lxml, in memory)."""
    tree = etree.fromstring(ENVELOPE)
    for include in list(tree.iter("{http://www.w3.org/2004/08/xop/include}Include")):
        parent = include.getparent()
        parent.remove(include)
        encoder = Base64Encoder()
        data = parts[include.get("href")[4:]]
        parent.text = (encoder.encode(data) + encoder.finish()).decode()
    (element,) = tree.xpath("//*[@wsu:Id=$i or @Id=$i]", i=id_, namespaces={"wsu": WSU_NAMESPACE})
    return hashlib.new(hash_name, etree.tostring(element, method="c14n", exclusive=True)).digest()


@pytest.mark.parametrize("sizes", [(0, 0), (1, 2), (2, 3), (767, 768), (4096, 100_001)])
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 65536])
@pytest.mark.parametrize("hash_name", ["sha256", "sha1"])
def test_streamed_digest_equals_the_digest_of_the_inlined_element(
    sizes: tuple[int, int], chunk: int, hash_name: str
) -> None:
    parts = {"1.a@x": os.urandom(sizes[0]), "2.a@x": os.urandom(sizes[1])}
    plans = reference_plans(parse_xml(ENVELOPE), ["body", "inner"])
    digest = DigestPass(plans, hash_name)
    assert digest.needs == ("1.a@x", "2.a@x")
    for content_id in digest.needs:
        digest.begin(content_id)
        data = parts[content_id]
        for start in range(0, len(data), chunk):
            digest.update(memoryview(data)[start : start + chunk])
        digest.end()
    got = digest.digests()
    assert got["body"] == expected_digest(parts, "body", hash_name)
    assert got["inner"] == expected_digest(parts, "inner", hash_name)


def test_digest_pass_refuses_parts_out_of_order_or_missing() -> None:
    plans = reference_plans(parse_xml(ENVELOPE), ["body"])
    digest = DigestPass(plans, "sha256")
    with pytest.raises(ValueError, match="out of order"):
        digest.begin("2.a@x")
    digest.begin("1.a@x")
    digest.end()
    with pytest.raises(RuntimeError, match="not every part"):
        digest.digests()


def test_plans_refuse_an_include_beside_other_content() -> None:
    xml = ENVELOPE.replace(b'<ex:a Id="inner">', b'<ex:a Id="inner">text')
    with pytest.raises(ValueError, match="only content"):
        reference_plans(parse_xml(xml), ["body"])


# --- signed messages ------------------------------------------------------------------------


async def push_pattern(write: WriteFunction, size: int) -> None:
    for start in range(0, size, 100_000):
        await write(bytes([start % 251]) * min(100_000, size - start))


async def signed_message(
    signer: Signer, soap: SoapVersion, sources: list[tuple[str, object, int]], *, mtom: bool = True
) -> tuple[str, bytes]:
    """An Upload with one element per source, Body and Timestamp signed; (content type, body)."""
    writer = XmlWriter(MtomEncoding(soap=soap) if mtom else TextEncoding(soap=soap))
    with writer.element("Envelope", soap.namespace, "s"):
        with writer.element("Header", soap.namespace, "s"):
            signature = signer.write_security(writer)
        with writer.element("Body", soap.namespace, "s"):
            signature.sign_element(writer)
            with writer.element("Upload", NS, "ex"):
                with writer.element("name", NS, "ex"):
                    writer.text("scan & co.pdf")
                for kind, source, size in sources:
                    with writer.element("data", NS, "ex"):
                        if kind == "bytes":
                            assert isinstance(source, bytes)
                            await writer.write_bytes(source, inline=False if not size else None)
                        elif kind == "path":
                            await writer.pull_bytes(source, size=size)
                        else:
                            await writer.push_bytes(push_pattern, size, size=size)
    await signature.sign()
    chunks = [chunk async for chunk in writer.body()]
    return writer.content_type, b"".join(chunks)


async def one_element(
    signer: Signer, write: Callable[[XmlWriter], Awaitable[None]], **options: Any
) -> tuple[XmlWriter, Signature]:
    """A SOAP 1.2 envelope whose signed Body holds one element written by *write*."""
    writer = XmlWriter(MtomEncoding(soap=SOAP12))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Header", SOAP12.namespace, "s"):
            signature = signer.write_security(writer, **options)
        with writer.element("Body", SOAP12.namespace, "s"):
            signature.sign_element(writer)
            with writer.element("data", NS, "ex"):
                await write(writer)
    return writer, signature


def verify(content_type: str, body: bytes, cert_file: Path, *, tamper: bool = False) -> None:
    if not content_type.startswith("multipart/related"):
        xml = body
    else:
        xml = xop_infoset(content_type, body, tamper=tamper)
    zeep_signature.verify_envelope(etree.fromstring(xml), str(cert_file))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("soap", "options"),
    [
        (SOAP12, {}),
        (SOAP11, {"key_identifier": "issuer-serial"}),
        (SOAP11, {"signature_method": RSA_SHA1, "digest_method": SHA1}),
    ],
)
@pytest.mark.parametrize("kind", ["bytes", "path", "push"])
@pytest.mark.parametrize("size", [0, 767, 768, 300_000])
async def test_signed_mtom_message_verifies(
    identity: Identity,
    cert_file: Path,
    tmp_path: Path,
    soap: SoapVersion,
    options: dict[str, str],
    kind: str,
    size: int,
) -> None:
    data = os.urandom(size)
    source: object = data
    if kind == "path":
        source = tmp_path / "data.bin"
        (tmp_path / "data.bin").write_bytes(data)
    signer = Signer(identity.key, identity.certificate, **options)
    content_type, body = await signed_message(signer, soap, [(kind, source, size)])
    verify(content_type, body, cert_file)
    if size >= 768 or (size == 0 and kind == "bytes"):
        assert b"xop:Include" in body
        with pytest.raises(zeep_signature.SignatureVerificationFailed):
            verify(content_type, body, cert_file, tamper=True)


@pytest.mark.anyio
async def test_several_parts_and_plain_text(identity: Identity, cert_file: Path) -> None:
    signer = Signer(identity.key, identity.certificate)
    sources = [("bytes", os.urandom(n), n) for n in (0, 768, 5000)] + [("push", None, 70_000)]
    content_type, body = await signed_message(signer, SOAP12, sources)
    assert body.count(b"Content-ID: <") == 5
    verify(content_type, body, cert_file)
    with pytest.raises(zeep_signature.SignatureVerificationFailed):
        verify(content_type, body, cert_file, tamper=True)
    content_type, body = await signed_message(signer, SOAP11, sources[1:], mtom=False)
    assert content_type.startswith("text/xml")
    verify(content_type, body, cert_file)


@pytest.mark.anyio
async def test_push_callback_runs_once_for_the_digest_and_once_to_send(
    identity: Identity, cert_file: Path
) -> None:
    calls = 0

    async def push(write: WriteFunction) -> None:
        nonlocal calls
        calls += 1
        await write(b"x" * 10_000)

    signer = Signer(identity.key, identity.certificate)
    writer, signature = await one_element(
        signer, lambda writer: writer.push_bytes(push), timestamp=None
    )
    await signature.sign()
    assert calls == 1
    body = b"".join([chunk async for chunk in writer.body()])
    assert calls == 2
    verify(writer.content_type, body, cert_file)


def test_signer_from_files_with_an_encrypted_key(identity: Identity, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key_file, cert_file = identity.write(tmp_path)
    key_file.write_bytes(
        identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    signer = Signer.from_files(key_file, cert_file, "secret", key_identifier="issuer-serial")
    assert signer.certificate == identity.certificate
    with pytest.raises((TypeError, ValueError)):
        Signer.from_files(key_file, cert_file, "wrong")


# --- bad input: refused before anything is read or sent --------------------------------------


def test_key_that_does_not_match_the_certificate(identity: Identity) -> None:
    other = make_identity("other")
    with pytest.raises(ValueError, match="does not match"):
        Signer(other.key, identity.certificate)


def test_unsupported_algorithms_and_keys(identity: Identity) -> None:
    with pytest.raises(ValueError, match="unsupported signature method"):
        Signer(identity.key, identity.certificate, signature_method="urn:hmac-sha256")
    with pytest.raises(ValueError, match="unsupported digest method"):
        Signer(identity.key, identity.certificate, digest_method="urn:md5")
    with pytest.raises(ValueError, match="key_identifier"):
        Signer(identity.key, identity.certificate, key_identifier="thumbprint")
    writer = XmlWriter(MtomEncoding(soap=SOAP12))
    writer.start_element("Envelope", SOAP12.namespace, "s")
    writer.start_element("Header", SOAP12.namespace, "s")
    for bad in (0, -5, "300", True):
        with pytest.raises(ValueError, match="timestamp"):
            Signer(identity.key, identity.certificate).write_security(writer, timestamp=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="only RSA keys"):
        Signer(ec.generate_private_key(ec.SECP256R1()), identity.certificate)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_source_that_cannot_be_read_twice_is_refused_before_it_is_read(
    identity: Identity,
) -> None:
    pulled = 0

    async def once() -> AsyncIterator[bytes]:
        nonlocal pulled
        pulled += 1
        yield b"y" * 5000

    signer = Signer(identity.key, identity.certificate)
    _, signature = await one_element(signer, lambda writer: writer.pull_bytes(once()))
    with pytest.raises(WriterStateError, match="can be read only once"):
        await signature.sign()
    assert pulled == 0


@pytest.mark.anyio
async def test_forgetting_to_sign_is_refused_when_the_body_is_asked_for(
    identity: Identity,
) -> None:
    signer = Signer(identity.key, identity.certificate)
    writer, signature = await one_element(signer, lambda writer: writer.write_bytes(b"x" * 900))
    with pytest.raises(WriterStateError, match="not filled in"):
        writer.body()
    await signature.sign()
    assert b"SignatureValue" in b"".join([chunk async for chunk in writer.body()])


@pytest.mark.anyio
async def test_a_seekable_file_is_read_twice_from_where_it_stood(
    identity: Identity, cert_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    data = os.urandom(200_000)
    path.write_bytes(b"skipped" + data)
    signer = Signer(identity.key, identity.certificate)
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(7)
        writer, signature = await one_element(signer, lambda writer: writer.pull_bytes(f))
        await signature.sign()
        body = b"".join([chunk async for chunk in writer.body()])
    assert data in body
    verify(writer.content_type, body, cert_file)


@pytest.mark.anyio
async def test_a_source_that_changes_length_after_the_digest_aborts_the_send(
    identity: Identity,
) -> None:
    calls = 0

    async def shrinking(write: WriteFunction) -> None:
        nonlocal calls
        calls += 1
        await write(b"z" * (5000 - calls))

    signer = Signer(identity.key, identity.certificate)
    writer, signature = await one_element(signer, lambda writer: writer.push_bytes(shrinking))
    await signature.sign()
    with pytest.raises(PartSizeError):
        async for _ in writer.body():
            pass


@pytest.mark.anyio
async def test_a_declared_size_not_met_fails_in_the_digest_pass(identity: Identity) -> None:
    signer = Signer(identity.key, identity.certificate)
    _, signature = await one_element(
        signer, lambda writer: writer.push_bytes(push_pattern, 5000, size=6000)
    )
    with pytest.raises(PartSizeError):
        await signature.sign()


@pytest.mark.anyio
async def test_signing_what_holds_the_signature_or_nothing(identity: Identity) -> None:
    signer = Signer(identity.key, identity.certificate)
    writer = XmlWriter(MtomEncoding(soap=SOAP12))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        writer.attribute("Id", "env", WSU_NAMESPACE, "wsu")
        with writer.element("Header", SOAP12.namespace, "s"):
            signature = signer.write_security(writer, timestamp=None)
        with writer.element("Body", SOAP12.namespace, "s"):
            pass
    with pytest.raises(ValueError, match="nothing to sign"):
        await signature.sign()
    signature.add_reference("env")
    with pytest.raises(ValueError, match="holds the signature itself"):
        await signature.sign()


def test_module_is_not_imported_by_the_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys, asyncmtom; print(sorted(m for m in "
        "('lxml', 'cryptography', 'asyncmtom.wssec') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- verifying received messages -------------------------------------------------------------


async def signed_body(signer: Signer, size: int) -> tuple[str, bytes]:
    return await signed_message(
        signer, SOAP12, [("push", None, size), ("bytes", b"abc" * 300, 900)]
    )


@pytest.mark.anyio
@pytest.mark.parametrize("size", [0, 5000, 3 * 1024 * 1024])
async def test_verify_message_streams_the_received_parts(identity: Identity, size: int) -> None:
    signer = Signer(identity.key, identity.certificate)
    content_type, body = await signed_body(signer, size)
    async with read_mtom(content_type, body, spool_threshold=64 * 1024) as message:
        ids = await verify_message(message, identity.certificate)
    assert len(ids) == 2
    infoset = xop_infoset(content_type, body)
    assert verify_envelope(infoset, identity.certificate) == ids
    tampered = xop_infoset(content_type, body, tamper=True)
    with pytest.raises(SignatureError, match="digest"):
        verify_envelope(tampered, identity.certificate)


@pytest.mark.anyio
async def test_verify_message_refuses_a_changed_part_a_wrong_key_and_an_unsigned_body(
    identity: Identity,
) -> None:
    signer = Signer(identity.key, identity.certificate)
    content_type, body = await signed_body(signer, 5000)
    changed = body.replace(bytes([0]) * 100, bytes([1]) + bytes([0]) * 99, 1)
    assert changed != body
    async with read_mtom(content_type, changed) as message:
        with pytest.raises(SignatureError, match="digest of the element"):
            await verify_message(message, identity.certificate)
    async with read_mtom(content_type, body) as message:
        with pytest.raises(SignatureError, match="SignatureValue does not verify"):
            await verify_message(message, make_identity("other").certificate)
    writer, signature = await one_element(signer, lambda writer: writer.write_bytes(b"x" * 900))
    signature.ids.clear()
    signature.add_reference(next(iter(signature_timestamp_ids(writer))))
    await signature.sign()
    plain = b"".join([chunk async for chunk in writer.body()])
    async with read_mtom(writer.content_type, plain) as message:
        with pytest.raises(SignatureError, match="does not cover the SOAP Body"):
            await verify_message(message, identity.certificate)


def signature_timestamp_ids(writer: XmlWriter) -> list[str]:
    tree = etree.fromstring(writer._root_xml())
    return [
        str(e.get(f"{{{WSU_NAMESPACE}}}Id")) for e in tree.iter(f"{{{WSU_NAMESPACE}}}Timestamp")
    ]


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("methods", [{}, {"signature_method": "rsa-sha256"}])
def test_verify_envelope_accepts_what_zeep_signs(
    identity: Identity, tmp_path: Path, binary: bool, methods: dict[str, str]
) -> None:
    import xmlsec
    from zeep.wsse.signature import BinarySignature
    from zeep.wsse.signature import Signature as ZeepSignature

    key_file, cert_file = identity.write(tmp_path)
    options: dict[str, Any] = {}
    if methods:
        options = {
            "signature_method": xmlsec.Transform.RSA_SHA256,
            "digest_method": xmlsec.Transform.SHA256,
        }
    plugin = (BinarySignature if binary else ZeepSignature)(
        str(key_file), str(cert_file), **options
    )
    envelope = etree.fromstring(
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b'<soap:Header/><soap:Body><ex:Up xmlns:ex="urn:example">hello</ex:Up>'
        b"</soap:Body></soap:Envelope>"
    )
    envelope, _ = plugin.apply(envelope, {})
    xml = etree.tostring(envelope)
    assert verify_envelope(xml, cert_file)  # the Body, at least
    with pytest.raises(SignatureError):
        verify_envelope(xml.replace(b"hello", b"hellO"), cert_file)
