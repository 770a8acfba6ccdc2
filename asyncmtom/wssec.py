"""WS-Security signatures over MTOM messages, with the attachments streamed.

Install with the ``wssec`` extra (``pip install "asyncmtom[wssec]"``: lxml and
cryptography).  ``import asyncmtom`` never imports this module.

Usage::

    from asyncmtom import XmlWriter, MtomEncoding, SOAP12
    from asyncmtom.wssec import Signer

    signer = Signer.from_files("key.pem", "cert.pem")
    writer = XmlWriter(MtomEncoding(soap=SOAP12))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Header", SOAP12.namespace, "s"):
            signature = signer.write_security(writer)   # token, Timestamp, the Signature's place
        with writer.element("Body", SOAP12.namespace, "s"):
            signature.sign_element(writer)              # wsu:Id on Body: it is signed
            with writer.element("Upload", "urn:example", "ex"):
                await writer.pull_bytes(pathlib.Path("scan.pdf"))
    await signature.sign()                              # reads the parts once, signs
    response = await client.post(url, content=writer.body(), headers=writer.headers)

What is signed.  A signature over an element that holds an ``xop:Include``
is verified over the XOP infoset: the element as if the Include were the
canonical base64 of its part.  That is what is digested here, without ever
holding the base64: `Signature.sign` computes each signed element's exclusive
canonical form with the parts held aside (`asyncmtom._core.digest`), reads the
parts the signed elements hold once, feeding the digest the canonical bytes
before each part, the part's base64 as it streams, and the bytes after it,
then fills the ``ds:Signature`` (SignedInfo in exclusive C14N, RSA with
SHA-256 or SHA-1) into the place `Signer.write_security` kept for it.  The
body then reads the sources a second time to send them, as it does for an
authentication handshake, so a source that cannot be read twice is refused
before anything is read.  Memory stays flat: one chunk of a part and the
hash state, whatever the size.

The key is a ``cryptography`` RSA private key, the certificate an X.509
certificate whose public key must be the key's; both are checked when the
`Signer` is made.  The key is referenced as zeep references it: an X.509
``BinarySecurityToken`` with a ``wsse:Reference`` to it (zeep's
``BinarySignature``; ``key_identifier="binary-token"``, the default), or the
certificate's issuer and serial number (zeep's ``Signature``;
``key_identifier="issuer-serial"``).  Signing is `cryptography`'s: nothing
here computes RSA or a hash by hand.
"""

from __future__ import annotations

import base64
import datetime
import hmac
import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from ._body import MtomBody, PlannedPart, PullPiece
from ._core.digest import (
    WSU_NAMESPACE,
    DigestPass,
    ReferencePlan,
    exc_c14n,
    find_by_id,
    parse_xml,
    reference_plans,
)
from ._errors import MtomError, WriterStateError
from ._message import MtomMessage
from ._writer import XmlWriter

__all__ = [
    "DS_NAMESPACE",
    "EXC_C14N",
    "RSA_SHA1",
    "RSA_SHA256",
    "SHA1",
    "SHA256",
    "Signature",
    "Signer",
    "SignatureError",
    "WSSE_NAMESPACE",
    "WSU_NAMESPACE",
    "sign_prepared",
    "verify_envelope",
    "verify_message",
]

DS_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
WSSE_NAMESPACE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"

_X509_TOKEN = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
)
_BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
_SIGNATURE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    RSA_SHA256: hashes.SHA256,
    RSA_SHA1: hashes.SHA1,
}
_DIGEST_HASHES = {SHA256: "sha256", SHA1: "sha1"}
_KEY_IDENTIFIERS = ("binary-token", "issuer-serial")
_UNSIGNED = "the ds:Signature of the wsse:Security header (await signature.sign())"


class SignatureError(MtomError):
    """A signature could not be made, or a received one does not verify."""


def _new_id(kind: str) -> str:
    return f"{kind}-{secrets.token_hex(8)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Signer:
    """An RSA key and its X.509 certificate, with the algorithms to sign with.

    - ``signature_method``: `RSA_SHA256` (default) or `RSA_SHA1` for older
      peers; ``digest_method``: `SHA256` (default) or `SHA1`.
    - ``key_identifier``: ``"binary-token"`` (the certificate travels in a
      ``wsse:BinarySecurityToken``) or ``"issuer-serial"`` (the peer already
      has the certificate; KeyInfo names its issuer and serial number).

    A key that does not match the certificate, a key that is not RSA, or an
    algorithm not listed here raises ``ValueError`` now, before any message.
    """

    def __init__(
        self,
        key: rsa.RSAPrivateKey,
        certificate: x509.Certificate,
        *,
        signature_method: str = RSA_SHA256,
        digest_method: str = SHA256,
        key_identifier: str = "binary-token",
    ) -> None:
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"only RSA keys can sign here, not {type(key).__name__}")
        if not isinstance(certificate, x509.Certificate):
            raise TypeError("certificate must be a cryptography x509.Certificate")
        if signature_method not in _SIGNATURE_HASHES:
            raise ValueError(
                f"unsupported signature method {signature_method!r}: "
                f"use {RSA_SHA256!r} or {RSA_SHA1!r}"
            )
        if digest_method not in _DIGEST_HASHES:
            raise ValueError(
                f"unsupported digest method {digest_method!r}: use {SHA256!r} or {SHA1!r}"
            )
        if key_identifier not in _KEY_IDENTIFIERS:
            raise ValueError(
                f"key_identifier must be one of {', '.join(_KEY_IDENTIFIERS)}, "
                f"not {key_identifier!r}"
            )
        public = certificate.public_key()
        if (
            not isinstance(public, rsa.RSAPublicKey)
            or public.public_numbers() != key.public_key().public_numbers()
        ):
            raise ValueError("the private key does not match the certificate's public key")
        self.key = key
        self.certificate = certificate
        self.signature_method = signature_method
        self.digest_method = digest_method
        self.key_identifier = key_identifier

    @classmethod
    def from_pem(
        cls,
        key_data: bytes,
        certificate_data: bytes,
        password: bytes | str | None = None,
        **options: Any,
    ) -> Signer:
        """A signer from PEM data: the private key (encrypted with *password* or not), the cert."""
        if isinstance(password, str):
            password = password.encode("utf-8")
        key = serialization.load_pem_private_key(key_data, password)
        certificate = x509.load_pem_x509_certificate(certificate_data)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"only RSA keys can sign here, not {type(key).__name__}")
        return cls(key, certificate, **options)

    @classmethod
    def from_files(
        cls,
        key_file: str | os.PathLike[str],
        certificate_file: str | os.PathLike[str],
        password: bytes | str | None = None,
        **options: Any,
    ) -> Signer:
        """A signer from PEM files, as zeep's ``Signature(key_file, certfile, password)``."""
        with open(key_file, "rb") as f:
            key_data = f.read()
        with open(certificate_file, "rb") as f:
            certificate_data = f.read()
        return cls.from_pem(key_data, certificate_data, password, **options)

    # -- writing the header ----------------------------------------------------

    def write_security(
        self,
        writer: XmlWriter,
        *,
        timestamp: float | None = 300,
        must_understand: bool = True,
    ) -> Signature:
        """Write a ``wsse:Security`` header into the open ``soap:Header``.

        It holds the BinarySecurityToken (with ``key_identifier="binary-token"``),
        a ``wsu:Timestamp`` valid for *timestamp* seconds (None: no Timestamp),
        which is signed, and the place of the ``ds:Signature``.  Mark the other
        elements to sign with `Signature.sign_element`, then call
        `Signature.sign` once the document is complete.
        """
        if writer._sink is not None:
            raise WriterStateError("a signed message cannot be written to a sink progressively")
        if timestamp is not None and (
            not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool) or timestamp <= 0
        ):
            raise ValueError(
                f"timestamp must be a number of seconds > 0 or None, not {timestamp!r}"
            )
        soap = writer.encoding.soap
        writer.start_element("Security", WSSE_NAMESPACE, "wsse")
        if must_understand and soap is not None:
            writer.attribute("mustUnderstand", "1", soap.namespace)
        signature = Signature(self, writer)
        if self.key_identifier == "binary-token":
            der = self.certificate.public_bytes(serialization.Encoding.DER)
            with writer.element("BinarySecurityToken", WSSE_NAMESPACE, "wsse"):
                writer.attribute("EncodingType", _BASE64_BINARY)
                writer.attribute("ValueType", _X509_TOKEN)
                writer.attribute("Id", signature.token_id, WSU_NAMESPACE, "wsu")
                writer.text(_b64(der))
        if timestamp is not None:
            created = datetime.datetime.now(datetime.timezone.utc)
            expires = created + datetime.timedelta(seconds=timestamp)
            with writer.element("Timestamp", WSU_NAMESPACE, "wsu"):
                signature.sign_element(writer)
                for name, moment in (("Created", created), ("Expires", expires)):
                    with writer.element(name, WSU_NAMESPACE, "wsu"):
                        writer.text(
                            moment.strftime("%Y-%m-%dT%H:%M:%S.")
                            + f"{moment.microsecond // 1000:03d}Z"
                        )
        signature._slot = writer._serializer.mark()
        writer._unfilled.append(_UNSIGNED)
        writer.end_element()
        return signature


@dataclass(frozen=True, slots=True)
class _Reference:
    id: str
    digest: bytes


class Signature:
    """The ``ds:Signature`` of one message (from `Signer.write_security`), filled in by `sign`."""

    def __init__(self, signer: Signer, writer: XmlWriter) -> None:
        self.signer = signer
        self.writer = writer
        self.token_id = _new_id("X509")
        self.id = _new_id("SIG")
        #: The ids of the signed elements, in the order their References are written.
        self.ids: list[str] = []
        self._slot: int | None = None
        self._signed = False

    def sign_element(self, writer: XmlWriter, id: str | None = None) -> str:
        """Sign the element just started: give it a ``wsu:Id`` (made up if *id* is None)."""
        if writer is not self.writer:
            raise ValueError("this Signature belongs to another writer")
        id = id or _new_id("id")
        writer.attribute("Id", id, WSU_NAMESPACE, "wsu")
        self.add_reference(id)
        return id

    def add_reference(self, id: str) -> None:
        """Sign the element that carries the id *id* (``wsu:Id``, ``Id`` or ``ID``)."""
        if not isinstance(id, str) or not id:
            raise ValueError("an id must be a non-empty str")
        if id in self.ids:
            raise ValueError(f"the element {id!r} is signed already")
        self.ids.append(id)

    async def sign(self) -> None:
        """Compute the digests (one pass over the signed parts) and fill in the signature.

        Call it once the document is complete and before the body is sent.
        Every error (a source that cannot be read twice, a declared size not
        met, a source's own error) is raised here, before anything is sent.
        """
        writer = self.writer
        if self._signed:
            raise WriterStateError("this message is signed already")
        if self._slot is None:
            raise WriterStateError("write_security() did not complete")
        if not writer.complete:
            raise WriterStateError("the document is not complete: close every element first")
        writer._check_writable()
        if not self.ids:
            raise ValueError("nothing to sign: mark the Body with sign_element()")
        hash_name = _DIGEST_HASHES[self.signer.digest_method]
        digests = await _document_digests(
            writer, self._slot, [(id_, hash_name, None) for id_ in self.ids]
        )
        references = [_Reference(id_, digests[id_]) for id_ in self.ids]
        writer._serializer.insert(self._slot, self._render(references))
        writer._unfilled.remove(_UNSIGNED)
        self._signed = True

    def _render(self, references: Sequence[_Reference]) -> bytes:
        signer = self.signer
        parts = [
            "<ds:SignedInfo>",
            f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>',
            f"<ds:SignatureMethod Algorithm={quoteattr(signer.signature_method)}/>",
        ]
        for ref in references:
            parts += [
                f"<ds:Reference URI={quoteattr('#' + ref.id)}>",
                f'<ds:Transforms><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms>',
                f"<ds:DigestMethod Algorithm={quoteattr(signer.digest_method)}/>",
                f"<ds:DigestValue>{_b64(ref.digest)}</ds:DigestValue>",
                "</ds:Reference>",
            ]
        parts.append("</ds:SignedInfo>")
        signed_info = "".join(parts)
        head = f'<ds:Signature xmlns:ds="{DS_NAMESPACE}" Id="{self.id}">'
        tree = etree.fromstring((head + signed_info + "</ds:Signature>").encode("utf-8"))
        canonical = exc_c14n(tree[0])
        value = signer.key.sign(
            canonical, padding.PKCS1v15(), _SIGNATURE_HASHES[signer.signature_method]()
        )
        return (
            head
            + signed_info
            + f"<ds:SignatureValue>{_b64(value)}</ds:SignatureValue>"
            + self._key_info()
            + "</ds:Signature>"
        ).encode("utf-8")

    def _key_info(self) -> str:
        signer = self.signer
        head = (
            f'<ds:KeyInfo Id="{_new_id("KI")}"><wsse:SecurityTokenReference '
            f'xmlns:wsse="{WSSE_NAMESPACE}" xmlns:wsu="{WSU_NAMESPACE}" '
            f'wsu:Id="{_new_id("STR")}">'
        )
        tail = "</wsse:SecurityTokenReference></ds:KeyInfo>"
        if signer.key_identifier == "binary-token":
            return (
                head + f'<wsse:Reference URI="#{self.token_id}" ValueType="{_X509_TOKEN}"/>' + tail
            )
        certificate = signer.certificate
        return (
            head
            + "<ds:X509Data><ds:X509IssuerSerial>"
            + f"<ds:X509IssuerName>{escape(certificate.issuer.rfc4514_string())}"
            + "</ds:X509IssuerName>"
            + f"<ds:X509SerialNumber>{certificate.serial_number}</ds:X509SerialNumber>"
            + "</ds:X509IssuerSerial></ds:X509Data>"
            + tail
        )


def _check_rereadable(part: PlannedPart) -> None:
    for piece in part.pieces:
        if type(piece) is PullPiece and piece.once is not None:
            raise WriterStateError(
                f"part <{part.content_id}> is signed, so its source is read twice (once for "
                f"the digest, once to send it), but it is read from {piece.once}, which can be "
                "read only once: give bytes, a path, a seekable file or a push callback"
            )


async def _part_content(writer: XmlWriter, part: PlannedPart) -> AsyncIterator[bytes]:
    """The content of one planned part, read from its sources (the digest pass).

    A pass of its own over a body of that one part (`MtomBody._part_chunks`):
    it records the part's length, so the send that follows must give the part
    exactly the bytes that were digested (else `PartSizeError`).
    """
    body = MtomBody(
        b"",
        [part],
        b"",
        content_type=writer.content_type,
        content_length=None,
        read_size=writer._read_size,
        coalesce_size=1,
        pass_through_size=1,
    )
    chunks = body._part_chunks()
    async with aclosing(chunks):
        async for _, chunk in chunks:
            yield chunk


async def _document_digests(
    writer: XmlWriter, slot: int, references: Sequence[tuple[str, str, Sequence[str] | None]]
) -> dict[str, bytes]:
    """The digests of the signed elements of *writer*'s complete document, parts streamed.

    *references* gives each signed element's id, hashlib name and
    InclusiveNamespaces prefixes.  The signature goes at *slot* (a mark in
    the root XML): no signed element may hold it.  Every part a signed
    element holds must be readable twice; it is read once here.
    """
    if not writer.complete:
        raise WriterStateError("the document is not complete: close every element first")
    writer._check_writable()
    if writer._sink is not None:
        raise WriterStateError("a signed message cannot be written to a sink progressively")
    buffer = writer._serializer.buffer
    placeholder = f'<ds:Signature xmlns:ds="{DS_NAMESPACE}"/>'.encode("ascii")
    root = parse_xml(bytes(buffer[:slot]) + placeholder + bytes(buffer[slot:]))
    ids = [id_ for id_, _, _ in references]
    elements = find_by_id(root, ids)
    marker = next(root.iter(f"{{{DS_NAMESPACE}}}Signature"))
    for id_, element in elements.items():
        if element is marker or any(a is element for a in marker.iterancestors()):
            raise ValueError(
                f"the element {id_!r} holds the signature itself; sign the Body and "
                "the Timestamp, not the Envelope or the Header"
            )
    marker.getparent().remove(marker)
    plans = reference_plans(root, ids, {id_: p for id_, _, p in references if p})
    parts = {part.content_id: part for part in writer._parts}
    for content_id in {c for plan in plans for c in plan.content_ids}:
        if content_id not in parts:
            raise ValueError(f"a signed element refers to <{content_id}>, which is not a part")
        _check_rereadable(parts[content_id])
    digests: dict[str, bytes] = {}
    for hash_name in dict.fromkeys(h for _, h, _ in references):
        chosen = [p for p, (_, h, _) in zip(plans, references, strict=True) if h == hash_name]
        digests.update(
            await _digests(chosen, hash_name, lambda cid: _part_content(writer, parts[cid]))
        )
    return digests


async def _digests(
    plans: Sequence[ReferencePlan],
    hash_name: str,
    content: Callable[[str], AsyncIterator[bytes]],
) -> dict[str, bytes]:
    digest = DigestPass(plans, hash_name)
    for content_id in digest.needs:
        digest.begin(content_id)
        chunks = content(content_id)
        async with aclosing(chunks):  # type: ignore[type-var]
            async for chunk in chunks:
                digest.update(chunk)
        digest.end()
    return digest.digests()


async def sign_prepared(writer: XmlWriter, slot: int, signature: Any, signer: Signer) -> None:
    """Complete a ``ds:Signature`` made over placeholders and put it into *writer* at *slot*.

    For zeep's WS-Security plugins, which sign the envelope before the
    transport sees it: *signature* is that ``ds:Signature`` (an lxml
    element), kept as it is (its KeyInfo, its ids, its algorithms) except
    for each Reference's DigestValue, computed here over the document the
    writer holds with the parts streamed, and the SignatureValue over the new
    SignedInfo, made with *signer*'s key.  *slot* is where the signature
    stood (`XmlSerializer.mark`).  What cannot be signed here (a
    canonicalization, transform or algorithm not supported, a reference
    that is not ``#id``) raises `SignatureError` before anything is read.
    """
    # A copy, parsed: lxml's find() misses nodes that libxmlsec made (zeep's
    # templates), and the copy carries every namespace declaration it needs.
    signature = etree.fromstring(etree.tostring(signature))
    signed_info = signature.find(f"{_DS}SignedInfo")
    if signed_info is None:
        raise SignatureError("the signature has no SignedInfo")
    c14n = signed_info.find(f"{_DS}CanonicalizationMethod")
    if _algorithm(c14n, "CanonicalizationMethod") != EXC_C14N:
        raise SignatureError(f"unsupported canonicalization {c14n.get('Algorithm')!r}")
    method = _algorithm(signed_info.find(f"{_DS}SignatureMethod"), "SignatureMethod")
    if method not in _SIGNATURE_HASHES:
        raise SignatureError(f"unsupported signature method {method!r}")
    references = _references(signed_info)
    digests = await _document_digests(
        writer, slot, [(r[0], _DIGEST_HASHES[r[2]], r[1]) for r in references]
    )
    for id_, _, _, _, element in references:
        element.find(f"{_DS}DigestValue").text = _b64(digests[id_])
    canonical = exc_c14n(signed_info, _prefix_list(c14n))
    value = signer.key.sign(canonical, padding.PKCS1v15(), _SIGNATURE_HASHES[method]())
    signature_value = signature.find(f"{_DS}SignatureValue")
    if signature_value is None:
        raise SignatureError("the signature has no SignatureValue")
    signature_value.text = _b64(value)
    writer._serializer.insert(slot, etree.tostring(signature))


# -- verifying ---------------------------------------------------------------------------


def _references(signed_info: Any) -> list[tuple[str, list[str] | None, str, bytes, Any]]:
    """Each Reference: (id, prefix list, digest method, digest value, element); only the
    forms this module handles: ``#id`` with one exclusive C14N transform."""
    references = []
    for reference in signed_info.iterfind(f"{_DS}Reference"):
        uri = reference.get("URI") or ""
        if not uri.startswith("#") or len(uri) < 2:
            raise SignatureError(f"unsupported reference {uri!r}: only same-document #id")
        transforms = reference.findall(f"{_DS}Transforms/{_DS}Transform")
        if len(transforms) != 1 or _algorithm(transforms[0], "Transform") != EXC_C14N:
            raise SignatureError(f"unsupported transforms in the reference {uri!r}")
        digest_method = _algorithm(reference.find(f"{_DS}DigestMethod"), "DigestMethod")
        if digest_method not in _DIGEST_HASHES:
            raise SignatureError(f"unsupported digest method {digest_method!r}")
        text = reference.findtext(f"{_DS}DigestValue") or ""
        expected = base64.b64decode("".join(text.split()))
        prefixes = _prefix_list(transforms[0])
        references.append((uri[1:], prefixes, digest_method, expected, reference))
    if not references:
        raise SignatureError("the signature has no Reference")
    ids = [r[0] for r in references]
    if len(set(ids)) != len(ids):
        raise SignatureError("the signature refers to one element twice")
    return references


_DS = f"{{{DS_NAMESPACE}}}"
_INCLUSIVE = f"{{{EXC_C14N}}}InclusiveNamespaces"


def _prefix_list(method: Any) -> list[str] | None:
    inclusive = method.find(_INCLUSIVE)
    if inclusive is None:
        return None
    prefixes = (inclusive.get("PrefixList") or "").split()
    if "#default" in prefixes:
        raise SignatureError("an InclusiveNamespaces PrefixList with #default is not supported")
    return prefixes


def _algorithm(element: Any, what: str) -> str:
    if element is None:
        raise SignatureError(f"the signature has no {what}")
    return str(element.get("Algorithm") or "")


def _load_certificate(certificate: x509.Certificate | bytes | str | os.PathLike[str]) -> Any:
    if isinstance(certificate, x509.Certificate):
        return certificate.public_key()
    if isinstance(certificate, bytes):
        return x509.load_pem_x509_certificate(certificate).public_key()
    with open(certificate, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).public_key()


async def _verify(
    root_xml: bytes,
    certificate: x509.Certificate | bytes | str | os.PathLike[str],
    content: Callable[[str], AsyncIterator[bytes]],
) -> list[str]:
    public_key = _load_certificate(certificate)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("only RSA certificates are supported")
    root = parse_xml(root_xml)
    soap = root.tag.partition("}")[0] + "}" if root.tag.startswith("{") else ""
    security = root.find(f"{soap}Header/{{{WSSE_NAMESPACE}}}Security")
    signature = None if security is None else security.find(f"{_DS}Signature")
    if signature is None:
        raise SignatureError("the message has no wsse:Security header with a ds:Signature")
    signed_info = signature.find(f"{_DS}SignedInfo")
    if signed_info is None:
        raise SignatureError("the signature has no SignedInfo")
    c14n = signed_info.find(f"{_DS}CanonicalizationMethod")
    if _algorithm(c14n, "CanonicalizationMethod") != EXC_C14N:
        raise SignatureError(
            f"unsupported canonicalization {c14n.get('Algorithm')!r}: only {EXC_C14N}"
        )
    method = _algorithm(signed_info.find(f"{_DS}SignatureMethod"), "SignatureMethod")
    if method not in _SIGNATURE_HASHES:
        raise SignatureError(f"unsupported signature method {method!r}")
    canonical = exc_c14n(signed_info, _prefix_list(c14n))
    value = base64.b64decode("".join((signature.findtext(f"{_DS}SignatureValue") or "").split()))
    try:
        public_key.verify(value, canonical, padding.PKCS1v15(), _SIGNATURE_HASHES[method]())
    except InvalidSignature:
        raise SignatureError("the SignatureValue does not verify with the certificate") from None

    references = _references(signed_info)
    ids = [r[0] for r in references]
    try:
        elements = find_by_id(root, ids)
    except ValueError as exc:
        raise SignatureError(str(exc)) from None
    body = root.find(f"{soap}Body")
    if body is None or all(element is not body for element in elements.values()):
        raise SignatureError("the signature does not cover the SOAP Body")
    plans = reference_plans(root, ids, {r[0]: r[1] for r in references if r[1]})
    for plan, (id_, _, digest_method, expected, _) in zip(plans, references, strict=True):
        got = await _digests([plan], _DIGEST_HASHES[digest_method], content)
        if not hmac.compare_digest(got[id_], expected):
            raise SignatureError(f"the digest of the element {id_!r} does not match")
    return ids


async def verify_message(
    message: MtomMessage, certificate: x509.Certificate | bytes | str | os.PathLike[str]
) -> list[str]:
    """Verify the WS-Security signature of a received message, its parts streamed.

    *message* is what `asyncmtom.read_mtom` gives (an MTOM or a plain reply);
    *certificate* the signer's X.509 certificate (a ``cryptography``
    certificate, PEM bytes, or a PEM file path), as for zeep's
    ``verify_envelope(envelope, certfile)``: the key is taken from it, never
    from the message.  Each signed element's digest is computed over the XOP
    infoset, the received parts (spooled, when large) read back in chunks.
    Returns the ids of the signed elements; raises `SignatureError` if the
    signature or a digest does not verify, if an algorithm is not supported,
    or if the SOAP Body is not signed.  The Timestamp's times are not checked.
    """
    attachments = message.attachments

    def content(content_id: str) -> AsyncIterator[bytes]:
        attachment = attachments.get(content_id)
        if attachment is None:
            raise SignatureError(f"a signed element refers to <{content_id}>, which is missing")
        return attachment.iter_chunks()

    return await _verify(message.root, certificate, content)


def verify_envelope(
    envelope: bytes, certificate: x509.Certificate | bytes | str | os.PathLike[str]
) -> list[str]:
    """Verify the WS-Security signature of a SOAP envelope given as XML bytes (no parts).

    The same checks as `verify_message`, for a plain reply or an MTOM reply
    whose parts have been put back as base64 (in memory).
    """

    def content(content_id: str) -> AsyncIterator[bytes]:
        raise SignatureError(f"a signed element refers to the part <{content_id}>")

    coroutine = _verify(envelope, certificate, content)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("verify_envelope() awaited a part")  # pragma: no cover
