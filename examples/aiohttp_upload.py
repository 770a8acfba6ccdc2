"""Upload a file as MTOM with aiohttp, streamed from disk into its MIME part.

The same writer as with httpx: aiohttp takes ``writer.body()`` as ``data=``
and the writer's headers (Content-Type, and Content-Length since the file's
size is known).  An embedded endpoint on 127.0.0.1 decodes the request and
reports the SHA-256 of what it received; the example exits with status 1 if
it does not match the file.

    python examples/aiohttp_upload.py [--size BYTES] [--file PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_endpoint import file_sha256, local_endpoint, print_receipts, write_sample_file

from asyncmtom import SOAP12, MtomEncoding, XmlWriter

NS = "urn:example:documents"


async def upload(session: aiohttp.ClientSession, url: str, path: Path) -> bytes:
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action="urn:example:Upload"))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Body", SOAP12.namespace, "s"):
            with writer.element("Upload", NS, "ex"):
                with writer.element("name", NS, "ex"):
                    writer.text(path.name)
                with writer.element("data", NS, "ex"):
                    # a path is opened when the body reaches the part, and closed after
                    await writer.pull_bytes(path, content_type="application/octet-stream")
    async with session.post(url, data=writer.body(), headers=writer.headers) as response:
        reply = await response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {reply[:500]!r}")
        return reply


async def main(size: int, file: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = file or Path(tmp) / "upload.bin"
        if file is None:
            write_sample_file(path, size)
        expected = file_sha256(path)
        async with local_endpoint() as endpoint, aiohttp.ClientSession() as session:
            reply = await upload(session, endpoint.url, path)
    receipts = print_receipts(reply)
    ok = len(receipts) == 1 and receipts[0].get("sha256") == expected
    print(f"sha256 matches the file: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16 * 2**20, help="bytes to generate")
    parser.add_argument("--file", type=Path, help="send this file instead")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.size, args.file)))
