"""CMIS 1.1 Web Services createDocument: the content stream sent as an MTOM part.

The ObjectService's ``createDocument`` takes the new document's properties,
the target folder and a ``cmism:contentStream`` whose ``stream`` element
holds the content; the CMIS Web Services binding requires MTOM for it
(CMIS 1.1, section 3.2.4).  The request is SOAP 1.1 with a WS-Security
UsernameToken header (the binding's authentication) and the file is pushed
from disk straight into its part.

The request is sent to the embedded endpoint on 127.0.0.1 (not a CMIS
repository: it answers with the SHA-256 of each part instead of an
objectId); the example exits with status 1 if the digest does not match the
file.

    python examples/cmis_create_document.py [--size BYTES] [--file PATH] [--trio]
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import sys
import tempfile
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_endpoint import file_sha256, local_endpoint, print_receipts, write_sample_file

from asyncmtom import SOAP11, MtomEncoding, WriteFunction, XmlWriter

CMISM = "http://docs.oasis-open.org/ns/cmis/messaging/200908/"
CMIS = "http://docs.oasis-open.org/ns/cmis/core/200908/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordText"
)


async def send_file(write: WriteFunction, path: Path) -> None:
    async with await anyio.open_file(path, "rb") as f:
        while chunk := await f.read(256 * 1024):
            await write(chunk)


def prop(w: XmlWriter, kind: str, definition: str, value: str) -> None:
    with w.element(kind, CMIS, "cmis"):
        w.attribute("propertyDefinitionId", definition)
        with w.element("value", CMIS, "cmis"):
            w.text(value)


async def build_request(
    path: Path, *, repository: str, folder: str, user: str, password: str
) -> XmlWriter:
    size = (await anyio.Path(path).stat()).st_size
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # The CMIS WSDL's soapAction is empty: SOAP 1.1 still sends SOAPAction: "".
    w = XmlWriter(MtomEncoding(soap=SOAP11, action=""))
    with w.element("Envelope", SOAP11.namespace, "soapenv"):
        with w.element("Header", SOAP11.namespace, "soapenv"):
            with w.element("Security", WSSE, "wsse"):
                w.attribute("mustUnderstand", "1", SOAP11.namespace, "soapenv")
                with w.element("UsernameToken", WSSE, "wsse"):
                    with w.element("Username", WSSE, "wsse"):
                        w.text(user)
                    with w.element("Password", WSSE, "wsse"):
                        w.attribute("Type", PASSWORD_TEXT)
                        w.text(password)
        with w.element("Body", SOAP11.namespace, "soapenv"):
            with w.element("createDocument", CMISM, "cmism"):
                with w.element("repositoryId", CMISM, "cmism"):
                    w.text(repository)
                with w.element("properties", CMISM, "cmism"):
                    prop(w, "propertyId", "cmis:objectTypeId", "cmis:document")
                    prop(w, "propertyString", "cmis:name", path.name)
                with w.element("folderId", CMISM, "cmism"):
                    w.text(folder)
                with w.element("contentStream", CMISM, "cmism"):
                    with w.element("length", CMISM, "cmism"):
                        w.text(str(size))
                    with w.element("mimeType", CMISM, "cmism"):
                        w.text(mime_type)
                    with w.element("filename", CMISM, "cmism"):
                        w.text(path.name)
                    with w.element("stream", CMISM, "cmism"):
                        await w.push_bytes(
                            send_file, path, size=size, content_type=mime_type, inline=False
                        )
                with w.element("versioningState", CMISM, "cmism"):
                    w.text("major")
    return w


async def main(size: int, file: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = file or Path(tmp) / "contract.pdf"
        if file is None:
            write_sample_file(path, size, b"%PDF-1.7\n")
        expected = file_sha256(path)
        writer = await build_request(
            path,
            repository="default",
            folder="workspace://SpacesStore/contracts",
            user="admin",
            password="admin",
        )
        async with local_endpoint() as endpoint, httpx.AsyncClient(timeout=120) as client:
            response = await client.post(
                endpoint.url, content=writer.body(), headers=writer.headers
            )
    if response.status_code != 200:
        print(f"HTTP {response.status_code}: {response.text[:500]}")
        return 1
    receipts = print_receipts(response.content)
    ok = len(receipts) == 1 and receipts[0].get("sha256") == expected
    print(f"sha256 matches the file: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4 * 2**20, help="bytes to generate")
    parser.add_argument("--file", type=Path, help="send this file instead")
    parser.add_argument("--trio", action="store_true", help="run on trio instead of asyncio")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.size, args.file, backend="trio" if args.trio else "asyncio"))
