""".NET's MTOM reader and writer against asyncmtom, both ways.

The peer is ``dotnet/MtomPeer.cs`` under Mono: ``XmlMtomReader`` and
``XmlMtomWriter`` from System.Runtime.Serialization, the .NET Framework
reference source behind WCF's ``MtomMessageEncoder`` and the strictest MTOM
reader in common use.  One Mono process serves the whole session; messages
travel as files in the test's temporary directory.

asyncmtom's writer -> .NET's reader: every message is written to a file as an
HTTP client would send it, then decoded with ``XmlDictionaryReader.
CreateMtomReader(stream, encodings, contentType, quotas)`` (``CreateTextReader``
for TextEncoding, as WCF's MTOM encoder does), the whole infoset walked and
each ``data`` element read with ``ReadContentAsBase64`` in 64 KiB chunks; size
and SHA-256 of every value are compared with what was sent.  Each message is
read twice: with ``XmlDictionaryReaderQuotas.Max``, and with WCF's defaults
(``MaxArrayLength`` 16384, an MTOM buffer quota of 65536 bytes).

.NET's writer -> asyncmtom's reader: messages written as WCF sends them over
HTTP (a CRLF before the first boundary, ``cid:http://tempuri.org/1/...``
hrefs, values of at most 767 bytes inlined) are decoded by ``read_mtom`` and
``iter_mtom``.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from interop_util import (
    NS,
    SOAP_NS,
    XOP_NS,
    MiB,
    body_child,
    include_hrefs,
    parse_reply,
    pattern,
    pattern_sha256,
)
from mtom_cases import SOURCES, Item, build_upload, encoding_for
from peers import DotnetMtom

from asyncmtom import SOAP11, SOAP12, MtomEncoding, XmlWriter, iter_mtom, read_mtom

pytestmark = pytest.mark.interop

ASYNCIO = pytest.mark.parametrize("anyio_backend", ["asyncio"])
SMALL = [0, 1, 767, 768, 1 * MiB]
QUOTAS = ("max", "wcf")
ACTION = "urn:asyncmtom:interop:upload"
XMIME_NS = "http://www.w3.org/2005/05/xmlmime"


class Refused(AssertionError):
    """.NET's reader refused the message."""


@dataclass(frozen=True)
class Decoded:
    values: list[tuple[int, str]]  # (size, sha256) per data element, in document order
    elements: int  # elements in the infoset (xop:Include is not one: it reads as content)
    root: str


def dotnet_read(
    dotnet: DotnetMtom, path: Path, content_type: str, quotas: str, *, chunk: int = 65536
) -> Decoded:
    lines = dotnet.command("read", quotas, "data", str(chunk), str(path), content_type)
    if lines and lines[-1].startswith("ERR "):
        raise Refused(lines[-1][4:])
    *bins, ok = lines
    assert ok.startswith("OK "), lines
    _, elements, root = ok.split(" ")
    values = []
    for line in bins:
        tag, name, size, sha = line.split(" ")
        assert (tag, name) == ("BIN", "data"), line
        values.append((int(size), sha))
    return Decoded(values, int(elements), root)


async def save_body(writer: XmlWriter, path: Path) -> str:
    """Writes the body as an HTTP client would send it; its Content-Type."""
    headers = writer.headers
    async with await anyio.open_file(path, "wb") as f:
        async for chunk in writer.body():
            await f.write(chunk)
    if "Content-Length" in headers:
        assert int(headers["Content-Length"]) == (await anyio.Path(path).stat()).st_size
    return headers["Content-Type"]


async def check_upload(
    dotnet: DotnetMtom,
    tmp_path: Path,
    soap: str,
    kind: str,
    items: list[Item],
    quotas: tuple[str, ...] = QUOTAS,
) -> None:
    """Writes an upload of *items*, has .NET read it under each of *quotas*, compares."""
    path = tmp_path / "message.bin"
    async with AsyncExitStack() as stack:
        writer = await build_upload(encoding_for(kind, soap, ACTION), items, stack, tmp_path)
        content_type = await save_body(writer, path)
    want = [(it.size, pattern_sha256(it.size, it.seed)) for it in items]
    for q in quotas:
        got = dotnet_read(dotnet, path, content_type, q)
        assert got.values == want, q
        # Envelope, Body, the operation, name, one data per item
        assert got.elements == 4 + len(items), q
        assert got.root == f"{{{SOAP_NS[soap]}}}Envelope"


# --- asyncmtom's writer, .NET's reader ------------------------------------------------------


@pytest.mark.anyio
@ASYNCIO
@pytest.mark.parametrize("size", SMALL)
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_dotnet_reads_upload(
    dotnet: DotnetMtom, tmp_path: Path, soap: str, source: str, size: int
) -> None:
    await check_upload(dotnet, tmp_path, soap, "mtom", [Item(source, size, seed=size % 7)])


@pytest.mark.anyio
@ASYNCIO
@pytest.mark.parametrize(
    ("source", "soap"),
    [(s, "11" if i % 2 else "12") for i, s in enumerate(SOURCES)],
)
async def test_dotnet_reads_64mib(
    dotnet: DotnetMtom, tmp_path: Path, source: str, soap: str
) -> None:
    # WCF's default quotas hold: the part streams, in document order, past the buffer quota.
    await check_upload(dotnet, tmp_path, soap, "mtom", [Item(source, 64 * MiB, seed=5)])


@pytest.mark.anyio
@ASYNCIO
@pytest.mark.parametrize("size", SMALL)
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_dotnet_reads_text_encoding(
    dotnet: DotnetMtom, tmp_path: Path, soap: str, size: int
) -> None:
    await check_upload(dotnet, tmp_path, soap, "text", [Item("push", size, seed=3)])


SEVERAL = [
    Item("push", 1 * MiB + 3, seed=1),
    Item("write", 10, seed=2),
    Item("pull-file", 768, seed=3),
    Item("pull-iter", 300_000, seed=4),
    Item("pull-path", 0, seed=5),
    Item("push-chunk", 2 * MiB, seed=6),
]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["mtom", "text"])
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_dotnet_reads_several_values(
    dotnet: DotnetMtom, tmp_path: Path, soap: str, kind: str, anyio_backend: str
) -> None:
    await check_upload(dotnet, tmp_path, soap, kind, SEVERAL)


WIRE_OPTIONS = {
    "xml declaration": (MtomEncoding(soap=SOAP12, action=ACTION, xml_declaration=True), {}),
    "odd boundary and start": (
        MtomEncoding(
            soap=SOAP11, action=ACTION, boundary="MIME_boundary-1'()+_,./:=?", start_id="s@x.y"
        ),
        {},
    ),
    "part content types": (
        MtomEncoding(soap=SOAP12),
        {"content_type": 'text/plain; charset="utf-8"', "xmime": "image/png"},
    ),
}


@pytest.mark.anyio
@ASYNCIO
@pytest.mark.parametrize("option", list(WIRE_OPTIONS), ids=list(WIRE_OPTIONS))
async def test_dotnet_reads_wire_options(dotnet: DotnetMtom, tmp_path: Path, option: str) -> None:
    encoding, opts = WIRE_OPTIONS[option]
    assert encoding.soap is not None
    env = encoding.soap.namespace
    writer = XmlWriter(encoding)
    with writer.element("Envelope", env, "s"):
        with writer.element("Body", env, "s"):
            with writer.element("upload", NS, "ns"):
                for seed in (1, 2):
                    with writer.element("data"):
                        if "xmime" in opts:
                            writer.attribute("contentType", opts["xmime"], XMIME_NS, "xmime")
                        await writer.write_bytes(
                            pattern(5000, seed), content_type=opts.get("content_type")
                        )
    path = tmp_path / "message.bin"
    content_type = await save_body(writer, path)
    for q in QUOTAS:
        got = dotnet_read(dotnet, path, content_type, q)
        assert got.values == [(5000, pattern_sha256(5000, seed)) for seed in (1, 2)]


# --- what WCF's default quotas allow ----------------------------------------------------------


async def _large_inline(tmp_path: Path, size: int) -> tuple[Path, str]:
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action=ACTION))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Body", SOAP12.namespace, "s"):
            with writer.element("upload", NS, "ns"):
                with writer.element("data"):
                    await writer.write_bytes(pattern(size), inline=True)
    path = tmp_path / "inline.bin"
    return path, await save_body(writer, path)


@pytest.mark.anyio
@ASYNCIO
async def test_dotnet_default_quotas_refuse_large_inline_content(
    dotnet: DotnetMtom, tmp_path: Path
) -> None:
    """Under MTOM the root part counts against WCF's 64 KiB buffer quota: inline base64 does not
    stream."""
    path, content_type = await _large_inline(tmp_path, 100_000)
    assert dotnet_read(dotnet, path, content_type, "max").values == [
        (100_000, pattern_sha256(100_000))
    ]
    with pytest.raises(Refused, match="MTOM buffer quota exceeded"):
        dotnet_read(dotnet, path, content_type, "wcf")


@pytest.mark.anyio
@ASYNCIO
async def test_dotnet_default_quotas_bound_a_whole_array(
    dotnet: DotnetMtom, tmp_path: Path
) -> None:
    """A value read whole (a ``byte[]`` data member) is bounded by MaxArrayLength, part or not."""
    path = tmp_path / "message.bin"
    async with AsyncExitStack() as stack:
        writer = await build_upload(
            encoding_for("mtom", "12", ACTION), [Item("push", 16385)], stack, tmp_path
        )
        content_type = await save_body(writer, path)
    got = dotnet_read(dotnet, path, content_type, "max", chunk=0)
    assert got.values == [(16385, pattern_sha256(16385))]
    with pytest.raises(Refused, match="maximum array length quota"):
        dotnet_read(dotnet, path, content_type, "wcf", chunk=0)


@pytest.mark.anyio
@ASYNCIO
def _lf_line_breaks(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def _root_id_without_brackets(data: bytes) -> bytes:
    head, _, rest = data.partition(b"Content-ID: <root.")
    return head + b"Content-ID: root." + rest.replace(b"@asyncmtom>", b"@asyncmtom", 1)


@pytest.mark.anyio
@ASYNCIO
@pytest.mark.parametrize(
    ("spoil", "error"),
    [
        (_lf_line_breaks, "MIME parts are truncated"),
        (_root_id_without_brackets, "is not found"),
    ],
    ids=["LF line breaks", "root Content-ID without angle brackets"],
)
async def test_dotnet_reader_is_strict(
    dotnet: DotnetMtom, tmp_path: Path, spoil: Callable[[bytes], bytes], error: str
) -> None:
    """The peer refuses what the specifications do not allow: its acceptance above means
    something."""
    path = tmp_path / "message.bin"
    async with AsyncExitStack() as stack:
        writer = await build_upload(
            encoding_for("mtom", "12", ACTION), [Item("push", 1000)], stack, tmp_path
        )
        content_type = await save_body(writer, path)
    assert dotnet_read(dotnet, path, content_type, "max").values == [(1000, pattern_sha256(1000))]
    spoiled = tmp_path / "spoiled.bin"
    spoiled.write_bytes(spoil(path.read_bytes()))
    with pytest.raises(Refused, match=error):
        dotnet_read(dotnet, spoiled, content_type, "max")


# --- .NET's writer, asyncmtom's reader --------------------------------------------------------


def dotnet_write(dotnet: DotnetMtom, path: Path, soap: str, sizes: list[int], seed: int) -> str:
    lines = dotnet.command("write", soap, ",".join(map(str, sizes)), str(seed), str(path))
    assert len(lines) == 1 and lines[0].startswith("CT "), lines
    return lines[0][3:]


def values_of(root: bytes, soap: str) -> list[ET.Element]:
    op = body_child(ET.fromstring(root))
    assert op.tag == f"{{{NS}}}upload"
    assert ET.fromstring(root).tag == f"{{{SOAP_NS[soap]}}}Envelope"
    return op.findall("data")


WCF_SIZES = {
    "small": [0, 1, 767, 768, 1 * MiB],
    "several-parts": [70_000, 3, 1 * MiB + 1, 768],
}


@pytest.mark.anyio
@pytest.mark.parametrize("sizes", list(WCF_SIZES), ids=list(WCF_SIZES))
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_read_mtom_reads_dotnet(
    dotnet: DotnetMtom, tmp_path: Path, soap: str, sizes: str, anyio_backend: str
) -> None:
    values = WCF_SIZES[sizes]
    path = tmp_path / "wcf.bin"
    content_type = dotnet_write(dotnet, path, soap, values, seed=2)
    body = path.read_bytes()
    assert body.startswith(b"\r\n--uuid:")  # .NET's CRLF before the first boundary
    assert 'start="<http://tempuri.org/0>"' in content_type
    async with read_mtom(content_type, body) as msg:
        assert msg.is_multipart
        assert msg.media_type == ("text/xml" if soap == "11" else "application/soap+xml")
        hrefs = include_hrefs(ET.fromstring(msg.root))
        # cid:http://tempuri.org/1/<ticks>, then /2/..., one per part
        assert [h.split("/")[3] for h in hrefs] == [str(i + 1) for i in range(len(hrefs))]
        assert all(h.startswith("http://tempuri.org/") for h in hrefs)
        got = []
        for el in values_of(msg.root, soap):
            include = el.find(f"{{{XOP_NS}}}Include")
            if include is None:  # .NET inlines values of at most 767 bytes
                data = base64.b64decode(el.text or "")
            else:
                data = await msg.attachments[include.attrib["href"][4:]].read()
            got.append(data)
        resolved = [base64.b64decode(el.text or "") for el in values_of(await msg.resolve(), soap)]
    want = [pattern(n, 2 + k) for k, n in enumerate(values)]
    assert got == want
    assert resolved == want
    assert [len(d) > 767 for d in got] == [n > 767 for n in values]
    # the stdlib email parser agrees on the attachments
    reply = parse_reply(content_type, body)
    assert sorted(len(v) for v in reply.attachments.values()) == sorted(
        n for n in values if n > 767
    )


@pytest.mark.anyio
@ASYNCIO
async def test_iter_mtom_reads_dotnet_64mib(dotnet: DotnetMtom, tmp_path: Path) -> None:
    size = 64 * MiB
    path = tmp_path / "wcf.bin"
    content_type = dotnet_write(dotnet, path, "12", [size, 5], seed=9)
    sums: dict[str, tuple[int, str]] = {}
    root = b""
    async with await anyio.open_file(path, "rb") as f:
        async with iter_mtom(content_type, f) as stream:
            async for part in stream:
                if part.is_root:
                    root = await part.read()
                    continue
                h, n = hashlib.sha256(), 0
                async for chunk in part:
                    h.update(chunk)
                    n += len(chunk)
                sums[part.content_id] = (n, h.hexdigest())
    (href,) = include_hrefs(ET.fromstring(root))
    assert sums == {href: (size, pattern_sha256(size, 9))}
    small = values_of(root, "12")[1]
    assert base64.b64decode(small.text or "") == pattern(5, 10)
