"""A hand-written streaming MTOM sender: the yardstick asyncmtom must match.

It knows its one message shape in advance, so it does no XML work, no
validation and no bookkeeping at run time: one precomputed bytes object for the
root part and the attachment's MIME header, the caller's chunks passed on
untouched, one precomputed closing delimiter.  That is the least any streaming
MTOM sender can do, so its speed is the ceiling for a library that also builds
the envelope, checks declared sizes and handles errors.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator

SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
BENCH_NS = "urn:asyncmtom:bench"


def hand_mtom(
    source: AsyncIterable[bytes], size: int | None
) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    """Headers and body of a SOAP 1.2 MTOM message whose one attachment is ``source``.

    With ``size`` the headers carry a Content-Length; without it the HTTP client
    falls back to chunked transfer encoding.
    """
    boundary = f"uuid:{uuid.uuid4()}"
    root_id = f"root.{uuid.uuid4().hex}@bench.example"
    part_id = f"data.{uuid.uuid4().hex}@bench.example"
    xml = (
        f'<s:Envelope xmlns:s="{SOAP12_NS}"><s:Body>'
        f'<b:Upload xmlns:b="{BENCH_NS}"><b:name>payload.bin</b:name>'
        f'<b:data><xop:Include xmlns:xop="{XOP_NS}" href="cid:{part_id}"/></b:data>'
        "</b:Upload></s:Body></s:Envelope>"
    )
    head = (
        f"--{boundary}\r\n"
        f"Content-ID: <{root_id}>\r\n"
        'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
        "Content-Transfer-Encoding: binary\r\n\r\n"
        f"{xml}\r\n"
        f"--{boundary}\r\n"
        f"Content-ID: <{part_id}>\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Content-Type": (
            f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
            f'start="<{root_id}>"; start-info="application/soap+xml"'
        )
    }
    if size is not None:
        headers["Content-Length"] = str(len(head) + size + len(tail))

    async def body() -> AsyncIterator[bytes]:
        yield head
        async for chunk in source:
            yield chunk
        yield tail

    return headers, body()
