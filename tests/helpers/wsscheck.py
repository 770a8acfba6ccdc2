"""Test keys, and the XOP infoset of a signed message, made without asyncmtom's reader.

`make_identity` creates an RSA key and a self-signed certificate at test
time (no private key is kept in the repository).  `xop_infoset` decodes an
MTOM body with the standard library's ``email`` parser and puts each part's
base64 in place of its ``xop:Include`` with lxml: the document a WS-Security
verifier checks.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from mtomcheck import decode_with_email

XOP = "http://www.w3.org/2004/08/xop/include"


@dataclass
class Identity:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def write(self, directory: Path) -> tuple[Path, Path]:
        """The key (PEM, unencrypted) and the certificate (PEM) as files in *directory*."""
        key_file = directory / "key.pem"
        cert_file = directory / "cert.pem"
        key_file.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_file.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return key_file, cert_file


def make_identity(common_name: str = "asyncmtom test", key_size: int = 2048) -> Identity:
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example, Inc."),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    return Identity(key, certificate)


def xop_infoset(content_type: str, body: bytes, *, tamper: bool = False) -> bytes:
    """The root XML with each xop:Include replaced by its part's base64 (lxml).

    ``tamper`` flips the last byte of the largest part first (or adds a byte
    to an empty one): what an attacker changing an attachment in transit sends.
    """
    decoded = decode_with_email(content_type, body)
    parts = {cid: data for cid, (_, data) in decoded.parts.items()}
    if tamper:
        assert parts, "a tampered case needs a part"
        cid = max(parts, key=lambda c: len(parts[c]))
        data = parts[cid]
        parts[cid] = data[:-1] + bytes([data[-1] ^ 1]) if data else b"\0"
    tree = etree.fromstring(decoded.root, etree.XMLParser(huge_tree=True))
    for include in list(tree.iter(f"{{{XOP}}}Include")):
        parent = include.getparent()
        parent.remove(include)
        parent.text = base64.b64encode(parts[include.get("href")[4:]]).decode("ascii")
    data: bytes = etree.tostring(tree)
    return data
