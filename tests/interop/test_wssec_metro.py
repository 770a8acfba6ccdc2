"""A signed upload to a real service: Metro reads the parts of a signed MTOM message.

The interop service has no WS-Security policy, so the ``wsse:Security``
header goes without ``mustUnderstand`` and Metro ignores it; what this shows
is the two passes a signature costs, against a real receiver: the digest pass
reads the file once, the send reads it again, and Metro's size and SHA-256
of what it received must be the file's.  The same message's signature is
checked by xmlsec1 (its XOP infoset) at the small size.  The client's peak
memory (VmHWM, reset before the call) is recorded in the interop report:
64 MiB in every run, 1 GiB with ``--run-slow``.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import httpx
import pytest
from interop_util import (
    NS,
    GiB,
    MiB,
    check_fault,
    digests,
    pattern_chunks,
    pattern_sha256,
    reset_self_hwm,
    self_hwm,
)

pytest.importorskip("cryptography")
pytest.importorskip("lxml")
from wsscheck import make_identity, xop_infoset

from asyncmtom import SOAP11, SOAP12, MtomEncoding, XmlWriter
from asyncmtom.wssec import WSU_NAMESPACE, Signer

pytestmark = pytest.mark.interop
ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])
SOAPS = {"11": SOAP11, "12": SOAP12}


def write_file(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        for chunk in pattern_chunks(size, 5):
            f.write(chunk)
    return path


async def signed_upload(  # type: ignore[no-untyped-def]
    metro, soap: str, path: Path, size: int, interop_report, tmp_path: Path, *, check: bool
) -> None:
    """Sign and send *path* (the file's size is *size*); with *check*, keep the message and
    verify its signature with xmlsec1 too."""
    identity = make_identity()
    cert = identity.write(tmp_path)[1] if check else None
    version = SOAPS[soap]
    signer = Signer(identity.key, identity.certificate)
    reset_self_hwm()
    before = self_hwm()
    started = time.monotonic()
    writer = XmlWriter(MtomEncoding(soap=version, action="urn:asyncmtom:interop:upload"))
    with writer.element("Envelope", version.namespace, "s"):
        with writer.element("Header", version.namespace, "s"):
            signature = signer.write_security(writer, must_understand=False)
        with writer.element("Body", version.namespace, "s"):
            signature.sign_element(writer)
            with writer.element("upload", NS, "ns"):
                with writer.element("name"):
                    writer.text("signed")
                with writer.element("data"):
                    await writer.pull_bytes(path)
    await signature.sign()
    signed = time.monotonic()
    captured: list[bytes] = []

    async def body():  # type: ignore[no-untyped-def]
        async for chunk in writer.body():
            if cert is not None:
                captured.append(chunk)
            yield chunk

    with anyio.fail_after(600):
        async with httpx.AsyncClient(timeout=300) as client:
            response = await client.post(metro.url(soap), content=body(), headers=writer.headers)
    done = time.monotonic()
    reply = check_fault(
        response.status_code, response.headers.get("content-type", ""), response.content
    )
    (got,) = digests(reply)
    assert (got.name, got.size, got.sha256) == ("signed", size, pattern_sha256(size, 5))
    assert got.streaming
    interop_report.note_memory(
        f"signed upload {size // MiB} MiB soap{soap} (file, httpx, Metro)",
        f"client VmHWM {self_hwm() / MiB:.0f} MiB (was {before / MiB:.0f} MiB before the call); "
        f"digest pass {signed - started:.2f} s, send {done - signed:.2f} s",
    )
    if cert is not None:
        message = tmp_path / "message.xml"
        message.write_bytes(xop_infoset(writer.content_type, b"".join(captured)))
        proc = await anyio.run_process(
            [
                "xmlsec1",
                "--verify",
                "--id-attr:Id",
                f"{version.namespace}:Body",
                "--id-attr:Id",
                f"{WSU_NAMESPACE}:Timestamp",
                "--pubkey-cert-pem",
                str(cert),
                str(message),
            ],
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")


@ASYNCIO
@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_signed_upload_1mib(  # type: ignore[no-untyped-def]
    metro, xmlsec1, interop_report, tmp_path: Path, soap: str
) -> None:
    size = 1 * MiB + 3
    path = write_file(tmp_path / "data.bin", size)
    await signed_upload(metro, soap, path, size, interop_report, tmp_path, check=True)


@ASYNCIO
@pytest.mark.anyio
async def test_signed_upload_64mib(metro, interop_report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_file(tmp_path / "data.bin", 64 * MiB)
    await signed_upload(metro, "12", path, 64 * MiB, interop_report, tmp_path, check=False)


@ASYNCIO
@pytest.mark.slow
@pytest.mark.anyio
async def test_signed_upload_1gib(metro, interop_report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_file(tmp_path / "data.bin", 1 * GiB)
    try:
        await signed_upload(metro, "11", path, 1 * GiB, interop_report, tmp_path, check=False)
    finally:
        path.unlink()
