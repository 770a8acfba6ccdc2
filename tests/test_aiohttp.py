"""``asyncmtom._aiohttp``: the body reaches aiohttp as a payload that can be sent again.

aiohttp sends an async iterable once; `MtomPayload` gives it a new pass for
every write, so a Digest handshake or a redirect resends the message.  It is
registered with aiohttp's payload registry by `XmlWriter.body`, and only in a
process that has imported aiohttp already: asyncmtom never imports it.  The
resends themselves run against real servers in ``tests/system``.
"""

from __future__ import annotations

import subprocess
import sys


def test_aiohttp_payload_is_registered_only_where_aiohttp_is_imported() -> None:
    """``import asyncmtom`` and ``body()`` never import aiohttp; with aiohttp, body() registers."""
    script = """
import sys, anyio
from asyncmtom import XmlWriter, MtomEncoding, MtomBody
async def make():
    w = XmlWriter(MtomEncoding()); w.start_element("r", "urn:x")
    await w.write_bytes(b"x" * 1000); w.end_element()
    return w.body()
body = anyio.run(make)
assert "aiohttp" not in sys.modules, "body() imported aiohttp"
import aiohttp.payload
assert type(aiohttp.payload.get_payload(anyio.run(make))).__name__ == "MtomPayload"
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
