"""Verifying a signed message, its parts digested as they are read.

Only the forms this package makes are accepted: same-document ``#id``
references with one exclusive C14N transform, RSA with SHA-256 or SHA-1.
Anything else, or a digest or signature that does not match, raises
`SignatureError`.
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .._core.digest import (
    exc_c14n,
    find_by_id,
    parse_xml,
    reference_plans,
)
from .._message import MtomMessage
from ._sign import _digests
from ._signer import (
    _DIGEST_HASHES,
    _DS,
    _SIGNATURE_HASHES,
    EXC_C14N,
    WSSE_NAMESPACE,
    SignatureError,
    _algorithm,
    _prefix_list,
    _references,
)


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
