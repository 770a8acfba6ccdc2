"""Messages produced by Metro's own client and service, decoded by asyncmtom's reader.

``data/`` holds recordings made with ``capture_metro.py`` (Metro's JAX-WS
client, MTOM enabled, talking to the Metro service through a recording
proxy); one test here makes fresh recordings with the installed Metro and
decodes those too.  Each decoded value is checked by size and SHA-256, and
the stdlib ``email`` parser decodes the same bytes as a cross-check.

What Metro's messages do that asyncmtom's own do not (the reader must cope):
``Content-Id`` spelled so, parameters without spaces after ``;``, a ``*`` in
the root's Content-ID, an XML declaration in the root part, the SOAP 1.2
action inside ``start-info`` with backslash-escaped quotes, no CRLF after the
closing delimiter, and an MTOM request with no attachment at all (the client
sends multipart/related whenever MTOM is enabled).
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from capture_metro import MANIFEST, capture_all
from interop_util import include_hrefs, parse_reply, reader, split_http_message

pytestmark = pytest.mark.interop

DATA = Path(__file__).resolve().parent / "data"
STORED = json.loads(MANIFEST.read_text())
MESSAGES = [
    pytest.param(entry[side], id=entry[side]["file"].removesuffix(".http"))
    for entry in STORED
    for side in ("request", "response")
]


async def decode(raw: bytes) -> list[tuple[int, str]]:
    """(size, sha256) of every xop:Include's part, in document order, read by read_mtom."""
    first, headers, body = split_http_message(raw)
    read_mtom = reader()
    async with read_mtom(headers["content-type"], body) as msg:
        assert msg.is_multipart  # Metro with MTOM enabled always sends multipart/related
        if first.startswith("POST /soap12"):
            # the action, from start-info with its quotes escaped
            assert msg.action is not None
            assert msg.action.startswith("urn:asyncmtom:interop:")
            assert msg.media_type == "application/soap+xml"
        elif first.startswith("POST /soap11"):
            assert msg.media_type == "text/xml"
        root = ET.fromstring(msg.root)
        out = []
        for cid in include_hrefs(root):
            data = await msg.attachments[cid].read()
            out.append((len(data), hashlib.sha256(data).hexdigest()))
        resolved = ET.fromstring(await msg.resolve())
        assert include_hrefs(resolved) == []
    # the same bytes through the stdlib email parser
    reply = parse_reply(headers["content-type"], body)
    cross = [
        (len(reply.attachments[cid]), hashlib.sha256(reply.attachments[cid]).hexdigest())
        for cid in include_hrefs(reply.root)
    ]
    assert out == cross
    return out


def expected(values: list[dict]) -> list[tuple[int, str]]:
    return [(v["size"], v["sha256"]) for v in values]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
@pytest.mark.parametrize("message", MESSAGES)
async def test_stored_metro_message(message: dict) -> None:
    raw = (DATA / message["file"]).read_bytes()
    assert await decode(raw) == expected(message["values"])


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_metro_messages_live(metro, java_build, tmp_path: Path) -> None:
    """Fresh recordings from the installed Metro decode like the stored ones."""
    manifest = capture_all(java_build, metro, tmp_path / "data", tmp_path / "client")
    assert [(e["soap"], e["operation"]) for e in manifest] == [
        (e["soap"], e["operation"]) for e in STORED
    ]
    for entry in manifest:
        for side in ("request", "response"):
            raw = (tmp_path / "data" / entry[side]["file"]).read_bytes()
            assert await decode(raw) == expected(entry[side]["values"]), entry[side]["file"]
        # Metro's client read what Metro's service sent (its own digests)
        if entry["operation"] == "download":
            [v] = entry["response"]["values"]
            assert entry["client_printed"] == [f"download {v['size']} {v['sha256']}"]
        else:
            assert [line.split()[1:] for line in entry["client_printed"]] == [
                [str(v["size"]), v["sha256"]] for v in entry["request"]["values"]
            ]


@pytest.mark.parametrize("message", MESSAGES)
def test_stored_metro_message_cli(message: dict, tmp_path: Path) -> None:
    """``python -m asyncmtom inspect`` and ``unpack`` read Metro's recordings."""
    import subprocess
    import sys

    path = DATA / message["file"]
    run = [sys.executable, "-m", "asyncmtom"]
    inspect = subprocess.run(
        [*run, "inspect", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert inspect.returncode == 0, inspect.stderr
    assert f"XOP references: {len(message['values'])}" in inspect.stdout
    out = tmp_path / "unpacked"
    unpack = subprocess.run(
        [*run, "unpack", str(path), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unpack.returncode == 0, unpack.stderr
    parts = sorted(out.glob("part-*"), key=lambda p: int(p.stem.split("-")[1]))
    got = [(p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest()) for p in parts]
    assert got == expected(message["values"])
