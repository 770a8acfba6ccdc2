"""The writer's body sent by aiohttp (``data=writer.body()``) to Metro.

aiohttp sends an async iterator chunked unless a Content-Length header is
given; ``writer.headers`` carries one whenever every size is known, and
aiohttp then sends exactly that many bytes.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from interop_util import MiB, check_fault, digests, pattern_sha256
from mtom_cases import Item, build_upload, encoding_for

pytestmark = pytest.mark.interop


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("soap", "item", "chunked"),
    [
        ("12", Item("push-chunk", 1 * MiB + 1, 3), True),
        ("11", Item("pull-file", 1 * MiB + 2, 4), False),
        ("12", Item("pull-iter", 64 * MiB, 5), True),
    ],
    ids=["push-chunked-soap12", "file-length-soap11", "iter-64MiB-chunked-soap12"],
)
async def test_aiohttp_upload(metro, tmp_path: Path, soap: str, item: Item, chunked: bool) -> None:
    async with AsyncExitStack() as stack:
        writer = await build_upload(
            encoding_for("mtom", soap, "urn:asyncmtom:interop:upload"), [item], stack, tmp_path
        )
        headers = writer.headers
        assert ("Content-Length" not in headers) is chunked
        timeout = aiohttp.ClientTimeout(total=300, connect=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(metro.url(soap), data=writer.body(), headers=headers) as r,
        ):
            body = await r.read()
            sent = r.request_info.headers
            status, content_type = r.status, r.headers.get("Content-Type", "")
    assert (sent.get("Transfer-Encoding", "").lower() == "chunked") is chunked
    [d] = digests(check_fault(status, content_type, body))
    assert (d.size, d.sha256, d.streaming) == (
        item.size,
        pattern_sha256(item.size, item.seed),
        True,
    )
