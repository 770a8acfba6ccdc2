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

from .._core.digest import WSU_NAMESPACE
from ._sign import Signature, sign_prepared
from ._signer import (
    DS_NAMESPACE,
    EXC_C14N,
    RSA_SHA1,
    RSA_SHA256,
    SHA1,
    SHA256,
    WSSE_NAMESPACE,
    SignatureError,
    Signer,
)
from ._verify import verify_envelope, verify_message

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
