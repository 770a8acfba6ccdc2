"""Upload a file as MTOM with zeep's synchronous ``Client``: no async code to write.

The same service as ``zeep_upload.py``, called the way most zeep code is
written (a script, a Django view, a Celery task): ``zeep.Client`` with
``asyncmtom.zeep.SyncMtomTransport``.  The argument is
``asyncmtom.zeep.Binary(path)``; the file's bytes go from disk straight into
their own MIME part while httpx sends the request (the transport runs the
async writer on an event loop thread of its own), never base64 in memory.

The embedded endpoint (async) runs in a background thread here, through an
anyio blocking portal; it decodes the request and answers with the size and
SHA-256 of each part it received, and the example exits with status 1 if they
do not match the file.

    python examples/zeep_sync_upload.py [--size BYTES] [--file PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import anyio.from_thread
import zeep

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_endpoint import file_sha256, local_endpoint, write_sample_file
from zeep_upload import WSDL, report

from asyncmtom.zeep import Binary, SyncMtomTransport


def main(size: int, file: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = file or Path(tmp) / "scan.pdf"
        if file is None:
            write_sample_file(path, size)
        expected = file_sha256(path)
        with (
            anyio.from_thread.start_blocking_portal() as portal,
            portal.wrap_async_context_manager(local_endpoint()) as endpoint,
        ):
            wsdl = Path(tmp) / "documents.wsdl"
            wsdl.write_text(WSDL.format(url=endpoint.url))
            # What a user writes: a synchronous client, a Binary argument.
            with zeep.Client(str(wsdl), transport=SyncMtomTransport()) as client:
                parts = client.service.Upload(name=path.name, data=[Binary(path)])
    return report(parts, expected)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16 * 2**20, help="bytes to generate")
    parser.add_argument("--file", type=Path, help="send this file instead")
    args = parser.parse_args()
    sys.exit(main(args.size, args.file))
