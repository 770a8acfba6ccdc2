"""Upload a file as a signed MTOM message: WS-Security over a part that streams.

The Body (which holds the file as an MTOM part) and a Timestamp are signed
with RSA-SHA256 (``asyncmtom.wssec``, the ``wssec`` extra).  ``sign()`` reads
the file once to compute the digest over the base64 the receiver rebuilds;
httpx then sends the message, reading the file a second time.  Neither pass
holds the file or its base64 in memory.  Without ``--key``/``--cert`` a key
and a self-signed certificate are made for the run.

An embedded endpoint on 127.0.0.1 decodes the request and reports the
SHA-256 of the part it received; the example exits with status 1 if it does
not match the file.

    python examples/signed_upload.py [--size BYTES] [--file PATH] [--key PEM --cert PEM]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_endpoint import file_sha256, local_endpoint, print_receipts, write_sample_file

from asyncmtom import SOAP12, MtomEncoding, XmlWriter
from asyncmtom.wssec import Signer

NS = "urn:example:documents"


async def upload(client: httpx.AsyncClient, url: str, path: Path, signer: Signer) -> bytes:
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action="urn:example:Upload"))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Header", SOAP12.namespace, "s"):
            # BinarySecurityToken, Timestamp (signed), and the place of the Signature;
            # this endpoint knows no WS-Security, so the header is not mustUnderstand
            signature = signer.write_security(writer, must_understand=False)
        with writer.element("Body", SOAP12.namespace, "s"):
            signature.sign_element(writer)
            with writer.element("Upload", NS, "ex"):
                with writer.element("name", NS, "ex"):
                    writer.text(path.name)
                with writer.element("data", NS, "ex"):
                    await writer.pull_bytes(path, content_type="application/octet-stream")
    await signature.sign()  # the first pass over the file: the digests
    response = await client.post(url, content=writer.body(), headers=writer.headers)
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.content[:500]!r}")
    return response.content


def make_signer() -> Signer:
    """A key and a self-signed certificate, for this run only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "asyncmtom example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return Signer(key, certificate)


async def main(
    size: int, file: Path | None, key: Path | None = None, cert: Path | None = None
) -> int:
    signer = Signer.from_files(key, cert) if key and cert else make_signer()
    with tempfile.TemporaryDirectory() as tmp:
        path = file or Path(tmp) / "upload.bin"
        if file is None:
            write_sample_file(path, size)
        expected = file_sha256(path)
        async with local_endpoint() as endpoint, httpx.AsyncClient(timeout=300) as client:
            reply = await upload(client, endpoint.url, path, signer)
    receipts = print_receipts(reply)
    ok = len(receipts) == 1 and receipts[0].get("sha256") == expected
    print(f"sha256 matches the file: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16 * 2**20, help="bytes to generate")
    parser.add_argument("--file", type=Path, help="send this file instead")
    parser.add_argument("--key", type=Path, help="the private key (PEM)")
    parser.add_argument("--cert", type=Path, help="its certificate (PEM)")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.size, args.file, args.key, args.cert))
