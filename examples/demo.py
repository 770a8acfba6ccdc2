"""Demo: stream a large file to a SOAP 1.2 service as MTOM with httpx.

An embedded endpoint on 127.0.0.1 decodes the request as it arrives and
reports the size and SHA-256 of what it received; the demo checks them
against the file.  The file's bytes go from disk straight into their MIME
part: memory stays flat whatever the size.

    python examples/demo.py [--size-mib 256] [--trio]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_endpoint import local_endpoint

from asyncmtom import SOAP12, MtomEncoding, Progress, WriteFunction, XmlWriter

NS = "urn:example:documents"


async def send_file(write: WriteFunction, path: Path) -> None:
    """The push callback: read the file in large chunks straight into the part."""
    async with await anyio.open_file(path, "rb") as f:
        while chunk := await f.read(256 * 1024):
            await write(chunk)


def make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        for offset in range(0, size, len(block)):
            piece = block[: min(len(block), size - offset)]
            f.write(piece)
            digest.update(piece)
    return digest.hexdigest()


class ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.started = time.perf_counter()
        self.last_drawn = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.perf_counter()
        finished = progress.total is not None and progress.done == progress.total
        if not self.enabled or (now - self.last_drawn < 0.1 and not finished):
            return
        self.last_drawn = now
        total = progress.total or 0
        fraction = progress.done / total if total else 0.0
        bar = "#" * int(fraction * 30)
        rate = progress.done / max(now - self.started, 1e-9) / 1e6
        sys.stderr.write(f"\r[{bar:<30}] {fraction:6.1%} {rate:7.0f} MB/s")
        if finished:
            sys.stderr.write("\n")
        sys.stderr.flush()


async def upload(url: str, path: Path) -> httpx.Response:
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action="urn:example:Upload"))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Body", SOAP12.namespace, "s"):
            with writer.element("Upload", NS, "ex"):
                with writer.element("name", NS, "ex"):
                    writer.text(path.name)
                with writer.element("data", NS, "ex"):
                    size = (await anyio.Path(path).stat()).st_size
                    await writer.push_bytes(
                        send_file, path, size=size, content_type="application/pdf"
                    )
    print(f"Content-Type: {writer.content_type}")
    print(f"Content-Length: {writer.content_length}")
    async with httpx.AsyncClient(timeout=120) as client:
        return await client.post(
            url, content=writer.body(progress=ProgressBar()), headers=writer.headers
        )


async def main(size: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.pdf"
        expected = make_file(path, size)
        async with local_endpoint() as endpoint:
            started = time.perf_counter()
            response = await upload(endpoint.url, path)
            elapsed = time.perf_counter() - started
    receipt = ET.fromstring(response.content).find(".//{urn:example:receipt}part")
    if response.status_code != 200 or receipt is None:
        print(f"upload failed: HTTP {response.status_code}\n{response.text}")
        return 1
    ok = receipt.get("sha256") == expected and receipt.get("size") == str(size)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"server received part <{receipt.get('id')}> ({receipt.get('type')}): "
        f"{receipt.get('size')} bytes, sha256 {receipt.get('sha256')}"
    )
    print(f"sha256 matches the file: {ok}")
    print(
        f"{size / 2**20:.0f} MiB in {elapsed:.2f} s ({size / elapsed / 1e6:.0f} MB/s, client "
        f"and server in one process); peak memory {peak:.0f} MiB"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256, help="attachment size (MiB)")
    parser.add_argument("--trio", action="store_true", help="run on trio instead of asyncio")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.size_mib * 2**20, backend="trio" if args.trio else "asyncio"))
