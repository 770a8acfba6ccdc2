"""Signing a message whose signed elements hold attachments, the parts streamed.

`Signature.sign` computes each signed element's exclusive canonical form with
the parts held aside (`asyncmtom._core.digest`), reads the parts the signed
elements hold once, feeding the digest the canonical bytes before each part,
the part's base64 as it streams and the bytes after it, then fills the
``ds:Signature`` into the place `Signer.write_security` kept for it.
`sign_prepared` does the same for an envelope replayed from zeep.  A source
that cannot be read twice (once for the digest, once to send) is refused
before anything is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from .._body import MtomBody
from .._core.digest import (
    WSU_NAMESPACE,
    DigestPass,
    ReferencePlan,
    exc_c14n,
    find_by_id,
    parse_xml,
    reference_plans,
)
from .._core.plan import PlannedPart, PullPiece
from .._errors import WriterStateError
from .._writer import XmlWriter
from ._signer import (
    _DIGEST_HASHES,
    _DS,
    _SIGNATURE_HASHES,
    _UNSIGNED,
    _X509_TOKEN,
    DS_NAMESPACE,
    EXC_C14N,
    WSSE_NAMESPACE,
    SignatureError,
    Signer,
    _algorithm,
    _b64,
    _new_id,
    _prefix_list,
    _references,
)


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
        writer._fill(self._slot, self._render(references), _UNSIGNED)
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
    InclusiveNamespaces prefixes.  The signature goes at *slot* (a place reserved in
    the root XML): no signed element may hold it.  Every part a signed
    element holds must be readable twice; it is read once here.
    """
    if not writer.complete:
        raise WriterStateError("the document is not complete: close every element first")
    writer._check_writable()
    if writer._sink is not None:
        raise WriterStateError("a signed message cannot be written to a sink progressively")
    xml = writer._root_xml()
    placeholder = f'<ds:Signature xmlns:ds="{DS_NAMESPACE}"/>'.encode("ascii")
    root = parse_xml(xml[:slot] + placeholder + xml[slot:])
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
    stood (the place the writer reserved for it).  What cannot be signed here (a
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
    writer._fill(slot, etree.tostring(signature))
