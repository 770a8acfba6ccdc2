"""Signing identities: `Signer`, the algorithm names, `SignatureError`.

A `Signer` holds a ``cryptography`` RSA private key and the X.509 certificate
whose public key must be the key's; both are checked when it is made.  It
writes the ``wsse:Security`` header (the token, a Timestamp and the place kept
for the ``ds:Signature``) and references the key as zeep does: a
``BinarySecurityToken`` (``key_identifier="binary-token"``) or the
certificate's issuer and serial number (``"issuer-serial"``).
"""

from __future__ import annotations

import base64
import datetime
import os
import secrets
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .._core.digest import (
    WSU_NAMESPACE,
)
from .._errors import MtomError, WriterStateError
from .._writer import XmlWriter

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

if TYPE_CHECKING:
    from ._sign import Signature


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
        from ._sign import Signature  # the signature module builds on this one

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
        signature._slot = writer._reserve(_UNSIGNED)
        writer.end_element()
        return signature


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
