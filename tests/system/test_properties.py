"""Property tests: whatever document and binary content, the same infoset and bytes come back.

Hypothesis draws documents (names from several scripts, namespaces, prefixes
that collide with each other and with ``xop``, attributes, text from every
character class XML 1.0 allows, nesting up to a few hundred levels) whose
elements hold binary content from 0 B to 2 MiB (CR, LF, ``--`` and
boundary-like runs spliced in, the writer's own boundary too), given through
``write_bytes``, ``push_bytes`` and ``pull_bytes`` with random chunking,
reused buffers, ``inline`` on, off or automatic, sizes declared or not.

Each document goes through the writer (``body()``, ``write_to()`` or a
sink-bound writer flushed at random points), then through the standard
library's ``email`` parser and ElementTree, and through asyncmtom's own
``read_mtom`` fed in random chunks: the infoset and every byte must come back,
parts in document order, with the predicted inline-or-part decision,
Content-Type and Content-Length.  The same documents are written with
`TextEncoding` and parsed as plain XML.

CI runs a bounded, derandomized number of examples; ``nox -s fuzz`` sets
``ASYNCMTOM_FUZZ_EXAMPLES`` for the long run (see ``tests/system/fuzz/common.py``).
"""

from __future__ import annotations

import base64
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from fuzz.common import (
    LONG,
    MiB,
    Payload,
    chunk_sizes,
    fuzz_settings,
    payload_size,
    payloads,
    split,
)
from hypothesis import event, given, note
from hypothesis import strategies as st
from mtomcheck import decode_with_email, document_order_ids, resolve_xop

import asyncmtom
from asyncmtom import (
    SOAP11,
    SOAP12,
    XMIME_NAMESPACE,
    InvalidXmlError,
    MtomEncoding,
    TextEncoding,
    WriterStateError,
    XmlWriter,
)

pytestmark = pytest.mark.anyio

# -- names, namespaces, text ---------------------------------------------------

#: Name characters from many scripts, restricted to those every common XML
#: parser accepts (the stdlib's expat follows the older, narrower XML 1.0
#: name tables; see test_names_beyond_expat_tables below).
_START_RANGES = [
    (0x41, 0x5A),
    (0x61, 0x7A),
    (0x5F, 0x5F),
    (0xC0, 0xD6),
    (0xD8, 0xF6),
    (0xF8, 0xFF),
    (0x100, 0x131),
    (0x391, 0x3A1),
    (0x3A3, 0x3A9),
    (0x410, 0x44F),
    (0x5D0, 0x5EA),
    (0xE01, 0xE2E),
    (0x3041, 0x3094),
    (0x4E00, 0x9FA5),
    (0xAC00, 0xD7A3),
]
_NAME_RANGES = [
    *_START_RANGES,
    (0x30, 0x39),
    (0x2D, 0x2E),
    (0xB7, 0xB7),
    (0x300, 0x345),
    (0x660, 0x669),
    (0x3099, 0x309A),
]


def _chars(ranges: list[tuple[int, int]]) -> st.SearchStrategy[str]:
    return st.one_of(*[st.integers(lo, hi).map(chr) for lo, hi in ranges])


ncnames = st.builds(
    lambda first, rest: first + rest,
    _chars(_START_RANGES),
    st.text(_chars(_NAME_RANGES), max_size=12),
)

#: Every character class XML 1.0 allows, the ones that need escaping first.
xml_chars = st.one_of(
    st.sampled_from(list("\t\n\r <>&\"']]>")),
    st.characters(min_codepoint=0x20, max_codepoint=0x7F),
    st.characters(min_codepoint=0x80, max_codepoint=0xD7FF),
    st.characters(min_codepoint=0xE000, max_codepoint=0xFFFD),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
)
xml_text = st.text(xml_chars, max_size=40)

NAMESPACES = [
    None,
    "urn:a",
    "urn:b",
    "http://example.com/ns?x=1&y=<2>",
    "urn:\u00e9t\u00e9:\u4e2d:\U0001f600",
    "urn:quote\"apos'",
    SOAP12.namespace,
    SOAP11.namespace,
]
#: Element prefixes, ``xop`` among them (bound to a namespace that is not XOP's).
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
ELEMENT_PREFIXES = [None, None, "p", "q", "s", "xop", "\u00e9t", "a-b.c"]
#: Attribute prefixes, each always bound to its own namespace: a prefix
#: redeclared on a start tag that already uses it is tested on its own
#: (test_prefixes_keep_their_meaning).
ATTRIBUTE_PREFIXES = {"ap": "urn:ap", "aq": "urn:aq"}
CONTENT_TYPES = [None, None, "application/pdf", 'image/png; name="a b.png"', "text/plain;q=1"]

# -- documents -------------------------------------------------------------------


@dataclass
class Attr:
    name: str
    value: str | bytes
    namespace: str | None
    prefix: str | None


@dataclass
class BinCall:
    kind: str  # "write", "push" or "pull"
    payload: Payload
    declared: bool
    inline: bool | None
    chunks: list[int]
    buffer: str  # "bytes", "bytearray", "memoryview" or "reuse" (one buffer, rewritten)
    source: str  # pull only: "agen", "reader" or "path"
    checkpoints: bool


@dataclass
class Elem:
    name: str
    namespace: str | None
    prefix: str | None
    attrs: list[Attr] = field(default_factory=list)
    xmime: str | None = None
    content_type: str | None = None
    children: list[str | Elem] = field(default_factory=list)
    binary: list[BinCall] | None = None
    flush: int | None = None  # sink-bound writers: flush(min_size) after the start tag


@st.composite
def attributes(draw: st.DrawFn) -> list[Attr]:
    attrs: list[Attr] = []
    seen: set[tuple[str | None, str]] = set()
    for _ in range(draw(st.integers(0, 3))):
        name = draw(ncnames)
        prefix = draw(st.sampled_from([None, None, None, *ATTRIBUTE_PREFIXES]))
        if prefix is None:
            namespace = draw(st.sampled_from(NAMESPACES))
        else:
            namespace = ATTRIBUTE_PREFIXES[prefix]
        if name == "xmlns" or (namespace, name) in seen:
            continue
        value: str | bytes = draw(st.one_of(xml_text, st.binary(max_size=30)))
        seen.add((namespace, name))
        attrs.append(Attr(name, value, namespace, prefix))
    if draw(st.integers(0, 9)) == 0 and (XML_NAMESPACE, "lang") not in seen:
        attrs.append(Attr("lang", "en", XML_NAMESPACE, "xml"))
    return attrs


@st.composite
def bin_calls(draw: st.DrawFn, budget: list[int]) -> list[BinCall]:
    calls = []
    for _ in range(draw(st.integers(1, 3))):
        payload = draw(payloads())
        if payload_size(payload) > budget[0]:
            payload = Payload(min(payload.size, budget[0]) if payload.literal is None else 0)
        budget[0] -= payload_size(payload)
        kind = draw(st.sampled_from(["write", "push", "pull"]))
        calls.append(
            BinCall(
                kind=kind,
                payload=payload,
                declared=draw(st.booleans()),
                inline=draw(st.sampled_from([None, None, True, False])),
                chunks=draw(chunk_sizes),
                buffer=draw(st.sampled_from(["bytes", "bytearray", "memoryview", "reuse"])),
                source=draw(st.sampled_from(["agen", "reader", "path"])),
                checkpoints=draw(st.booleans()),
            )
        )
    return calls


@st.composite
def elements(draw: st.DrawFn, depth: int, budget: list[int]) -> Elem:
    namespace = draw(st.sampled_from(NAMESPACES))
    elem = Elem(
        name=draw(ncnames),
        namespace=namespace,
        prefix=draw(st.sampled_from(ELEMENT_PREFIXES)) if namespace else None,
        attrs=draw(attributes()),
        flush=draw(st.sampled_from([None, None, 0, 100, 64 * 1024])),
    )
    kinds = ["binary", "binary", "text", "empty"] + (["children"] * 3 if depth < 4 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "binary":
        elem.binary = draw(bin_calls(budget))
        elem.content_type = draw(st.sampled_from(CONTENT_TYPES))
        if draw(st.integers(0, 3)) == 0:
            elem.xmime = draw(st.sampled_from(["image/jpeg", "application/x-test; v=1"]))
    elif kind == "text":
        elem.children = [draw(xml_text)]
    elif kind == "children":
        for _ in range(draw(st.integers(1, 4))):
            if draw(st.booleans()):
                elem.children.append(draw(xml_text))
            elem.children.append(draw(elements(depth + 1, budget)))
    return elem


@st.composite
def documents(draw: st.DrawFn) -> Elem:
    budget = [(12 if LONG else 3) * MiB]
    root = draw(elements(0, budget))
    nesting = draw(st.sampled_from([0, 0, 0, 1, 30, 250]))
    for _ in range(nesting):  # deep nesting: the document so far at the bottom of a chain
        root = Elem(draw(st.sampled_from(["n", "\u4e2d"])), "urn:a", None, children=[root])
    return root


# -- expectations ------------------------------------------------------------------

PENDING, INLINE, PART = "pending", "inline", "part"


@dataclass
class Expected:
    """What the writer should produce, computed while the document is written."""

    parts: list[tuple[str, bytes]] = field(default_factory=list)  # (content type, data)
    size_known: bool = True
    refused: int = 0  # binary calls the writer must refuse (inline=True on a part)


def clark(namespace: str | None, name: str) -> str:
    return f"{{{namespace}}}{name}" if namespace else name


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _merge(children: list[Any], item: Any) -> None:
    if isinstance(item, str):
        if not item:
            return
        if children and isinstance(children[-1], str):
            children[-1] += item
            return
    children.append(item)


def infoset(element: ET.Element) -> tuple[Any, ...]:
    """Name, attributes and children (adjacent text merged, empty text dropped)."""
    children: list[Any] = []
    _merge(children, element.text or "")
    for child in element:
        children.append(infoset(child))
        _merge(children, child.tail or "")
    return (element.tag, tuple(sorted(element.attrib.items())), tuple(children))


def first_difference(got: Any, want: Any, path: str = "") -> str:
    """Where two infosets first differ, for a readable failure."""
    if type(got) is not type(want) or not isinstance(got, tuple):
        return f"{path}: {got!r} != {want!r}"
    if len(got) != len(want):
        return f"{path}: {len(got)} items != {len(want)}: {got!r} != {want!r}"
    for index, (a, b) in enumerate(zip(got, want, strict=True)):
        if a != b:
            return first_difference(a, b, f"{path}/{index}")
    return f"{path}: equal"


def attr_text(value: str | bytes) -> str:
    return value if isinstance(value, str) else b64(value)


# -- writing -----------------------------------------------------------------------


async def push_callback(
    write: Any, data: bytes, cuts: list[tuple[int, int]], buffer: str, checkpoints: bool
) -> None:
    reuse = bytearray(max((end - start for start, end in cuts), default=0))
    for start, end in cuts:
        if checkpoints:
            await anyio.lowlevel.checkpoint()
        if buffer == "bytes":
            await write(data[start:end])
        elif buffer == "bytearray":
            await write(bytearray(data[start:end]))
        elif buffer == "memoryview":
            await write(memoryview(data)[start:end])
        else:  # one buffer, rewritten as soon as write() returns
            n = end - start
            reuse[:n] = data[start:end]
            await write(memoryview(reuse)[:n])
            reuse[:n] = b"\xa5" * n


async def chunk_source(
    data: bytes, cuts: list[tuple[int, int]], buffer: str, checkpoints: bool
) -> AsyncIterator[Any]:
    reuse = bytearray(max((end - start for start, end in cuts), default=0))
    for start, end in cuts:
        if checkpoints:
            await anyio.lowlevel.checkpoint()
        if buffer == "reuse":
            n = end - start
            reuse[:n] = data[start:end]
            yield memoryview(reuse)[:n]
            reuse[:n] = b"\xa5" * n
        elif buffer == "bytearray":
            yield bytearray(data[start:end])
        elif buffer == "memoryview":
            yield memoryview(data)[start:end]
        else:
            yield data[start:end]


class Reader:
    """An object with ``async read(n)``, returning short reads of its own choosing."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data = data
        self.sizes = sizes
        self.position = 0
        self.calls = 0

    async def read(self, n: int = -1) -> bytes:
        size = min(n, self.sizes[self.calls % len(self.sizes)])
        self.calls += 1
        chunk = self.data[self.position : self.position + size]
        self.position += len(chunk)
        await anyio.lowlevel.checkpoint()
        return chunk


@dataclass
class Run:
    writer: XmlWriter
    text: bool
    max_inline: int
    boundary_runs: tuple[bytes, ...]
    tmp: Path
    sink: bool
    expected: Expected = field(default_factory=Expected)
    files: int = 0


async def write_binary(run: Run, elem: Elem, calls: list[BinCall]) -> str:
    """Write one element's binary calls; returns the expected base64 text."""
    writer = run.writer
    mode, pending = PENDING, 0
    content = bytearray()
    part_type = elem.content_type or elem.xmime or "application/octet-stream"
    for index, call in enumerate(calls):
        data = call.payload.build(run.boundary_runs)
        size_known = (
            call.kind == "write" or call.declared or (call.kind, call.source) == ("pull", "path")
        )
        content_type = elem.content_type if index == 0 else None
        # The inline-or-part model of the README.
        if run.text:
            new_mode = INLINE
        elif mode == PART:
            new_mode = "refused" if call.inline is True else PART
        elif mode == INLINE or call.inline is True:
            new_mode = INLINE
        elif call.inline is None and size_known and pending + len(data) <= run.max_inline:
            new_mode = PENDING
        else:
            new_mode = PART
        cuts = split(data, call.chunks)
        size = len(data) if call.declared else None
        try:
            if call.kind == "write":
                value: Any = data
                if call.buffer in ("bytearray", "reuse"):
                    value = bytearray(data)
                elif call.buffer == "memoryview":
                    value = memoryview(data)
                await writer.write_bytes(value, content_type=content_type, inline=call.inline)
                if isinstance(value, bytearray):
                    value[:] = b"\xa5" * len(value)  # a mutable buffer was copied
            elif call.kind == "push":
                await writer.push_bytes(
                    push_callback,
                    data,
                    cuts,
                    call.buffer,
                    call.checkpoints,
                    size=size,
                    content_type=content_type,
                    inline=call.inline,
                )
            else:
                source: Any
                if call.source == "agen":
                    source = chunk_source(data, cuts, call.buffer, call.checkpoints)
                elif call.source == "reader":
                    source = Reader(data, call.chunks)
                else:
                    run.files += 1
                    source = run.tmp / f"{run.files}.bin"
                    source.write_bytes(data)
                await writer.pull_bytes(
                    source, size=size, content_type=content_type, inline=call.inline
                )
        except WriterStateError:
            assert new_mode == "refused", f"binary call {index} refused unexpectedly"
            run.expected.refused += 1
            continue
        assert new_mode != "refused", "inline=True on content that is already a part"
        if new_mode == PENDING:
            pending += len(data)
        elif new_mode == PART and mode != PART:
            run.expected.parts.append((part_type, b""))
        if new_mode == PART and not size_known:
            run.expected.size_known = False
        mode = new_mode
        content += data
    if mode == PART:
        ctype, _ = run.expected.parts[-1]
        run.expected.parts[-1] = (ctype, bytes(content))
    event(f"binary element: {mode}")
    return b64(bytes(content))


async def write_element(run: Run, elem: Elem) -> tuple[Any, ...]:
    """Write *elem* and return its expected infoset."""
    writer = run.writer
    writer.start_element(elem.name, elem.namespace, elem.prefix)
    attrs = []
    for attr in elem.attrs:
        writer.attribute(attr.name, attr.value, attr.namespace, attr.prefix)
        attrs.append((clark(attr.namespace, attr.name), attr_text(attr.value)))
    if elem.xmime is not None:
        writer.attribute("contentType", elem.xmime, XMIME_NAMESPACE, "xmime")
        attrs.append((clark(XMIME_NAMESPACE, "contentType"), elem.xmime))
    if elem.flush is not None and run.sink:
        await writer.flush(elem.flush)
    children: list[Any] = []
    if elem.binary is not None:
        _merge(children, await write_binary(run, elem, elem.binary))
    for child in elem.children:
        if isinstance(child, str):
            writer.text(child)
            _merge(children, child)
        else:
            children.append(await write_element(run, child))
    writer.end_element()
    return (clark(elem.namespace, elem.name), tuple(sorted(attrs)), tuple(children))


class Collect:
    """A sink: ``async send(bytes)``."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.sends = 0

    async def send(self, item: bytes) -> None:
        assert isinstance(item, bytes)
        self.data += item
        self.sends += 1


async def produce(
    doc: Elem, encoding: Any, output: str, tuning: dict[str, int], tmp: Path, boundary: bool
) -> tuple[XmlWriter, bytes, tuple[Any, ...], Expected]:
    sink = Collect() if output == "sink" else None
    writer = XmlWriter(encoding, sink=sink, **tuning)
    runs: tuple[bytes, ...] = ()
    if boundary and writer.is_mtom:
        # The writer's own boundary, less its last character, inside the data.
        delimiter = writer.content_type.split('boundary="')[1].split('"')[0]
        # "!" never ends a boundary the writer makes (a UUID): the run is never
        # the delimiter itself, which MIME forbids inside a part.
        prefix = delimiter[:-1].encode()
        runs = (b"\r\n--" + prefix + b"!", b"--" + prefix + b"!--")
    run = Run(
        writer,
        isinstance(encoding, TextEncoding),
        getattr(encoding, "max_inline_size", 0),
        runs,
        tmp,
        sink is not None,
    )
    expected_tree = await write_element(run, doc)
    length = writer.content_length
    if output == "sink":
        assert length is None
        await writer.aclose()
        assert sink is not None
        body = bytes(sink.data)
    else:
        if run.expected.size_known:
            assert length is not None, "every size is known: so is the Content-Length"
            assert writer.headers["Content-Length"] == str(length)
        else:
            assert length is None and "Content-Length" not in writer.headers
        if output == "write_to":
            stream = Collect()
            await writer.write_to(stream)
            body = bytes(stream.data)
        else:
            chunks = []
            async for chunk in writer.body():
                assert isinstance(chunk, bytes)
                chunks.append(chunk)
            body = b"".join(chunks)
        if length is not None:
            assert len(body) == length
    return writer, body, expected_tree, run.expected


async def random_chunks(body: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    for start, end in split(body, sizes):
        yield body[start:end]


async def check_with_read_mtom(
    content_type: str, body: bytes, sizes: list[int], root: bytes, parts: dict[str, bytes]
) -> bytes | None:
    """Read *body* back with asyncmtom's reader, if it is there; returns the resolved XML."""
    read_mtom = getattr(asyncmtom, "read_mtom", None)
    if read_mtom is None:
        return None
    async with read_mtom(content_type, random_chunks(body, sizes)) as message:
        assert message.root == root
        assert sorted(message.attachments) == sorted(parts)
        for content_id, data in parts.items():
            assert await message.attachments[content_id].read() == data
        resolved: bytes = await message.resolve()
    return resolved


# -- the properties ----------------------------------------------------------------

tunings = st.fixed_dictionaries(
    {
        "read_size": st.sampled_from([1, 7, 4096, 256 * 1024]),
        "coalesce_size": st.sampled_from([1, 100, 64 * 1024]),
        "pass_through_size": st.sampled_from([1, 100, 16 * 1024]),
    }
)


def _tame(tuning: dict[str, int], doc: Elem) -> dict[str, int]:
    """One-byte reads of a megabyte file take minutes: small read sizes for small content."""
    total = 0
    stack = [doc]
    while stack:
        elem = stack.pop()
        total += sum(payload_size(call.payload) for call in elem.binary or [])
        stack.extend(child for child in elem.children if isinstance(child, Elem))
    if total > 64 * 1024:
        tuning = {**tuning, "read_size": max(tuning["read_size"], 4096)}
    return tuning


@given(
    doc=documents(),
    soap=st.sampled_from([SOAP12, SOAP11, None]),
    max_inline=st.sampled_from([767, 767, 0, 5000]),
    output=st.sampled_from(["body", "body", "write_to", "sink"]),
    tuning=tunings,
    declaration=st.booleans(),
    boundary=st.booleans(),
    read_sizes=chunk_sizes,
)
@fuzz_settings(60)
async def test_mtom_round_trip(
    anyio_backend: str,
    doc: Elem,
    soap: Any,
    max_inline: int,
    output: str,
    tuning: dict[str, int],
    declaration: bool,
    boundary: bool,
    read_sizes: list[int],
) -> None:
    encoding = MtomEncoding(soap=soap, max_inline_size=max_inline, xml_declaration=declaration)
    with tempfile.TemporaryDirectory() as tmp:
        writer, body, expected_tree, expected = await produce(
            doc, encoding, output, _tame(tuning, doc), Path(tmp), boundary
        )
    note(f"body: {len(body)} bytes, {len(expected.parts)} parts")
    event(f"parts: {min(len(expected.parts), 5)}{'+' if len(expected.parts) > 5 else ''}")
    decoded = decode_with_email(writer.content_type, body)
    assert decoded.order == document_order_ids(decoded.root), "parts in document order"
    got = [(decoded.parts[cid][0], decoded.parts[cid][1]) for cid in decoded.order]
    assert [data for _, data in got] == [data for _, data in expected.parts]
    assert [ctype for ctype, _ in got] == [ct.split(";")[0] for ct, _ in expected.parts]
    tree = resolve_xop(decoded.root, decoded.parts)
    got_tree = infoset(tree)
    assert got_tree == expected_tree, first_difference(got_tree, expected_tree)
    assert decoded.root.startswith(b"<?xml") == declaration

    resolved = await check_with_read_mtom(
        writer.content_type,
        body,
        read_sizes,
        decoded.root,
        {cid: data for cid, (_, data) in decoded.parts.items()},
    )
    if resolved is not None:
        assert infoset(ET.fromstring(resolved)) == expected_tree


@given(
    doc=documents(),
    soap=st.sampled_from([SOAP12, SOAP11, None]),
    output=st.sampled_from(["body", "write_to", "sink"]),
    tuning=tunings,
    read_sizes=chunk_sizes,
)
@fuzz_settings(25, long_share=0.5)
async def test_text_encoding_round_trip(
    anyio_backend: str,
    doc: Elem,
    soap: Any,
    output: str,
    tuning: dict[str, int],
    read_sizes: list[int],
) -> None:
    encoding = TextEncoding(soap=soap)
    with tempfile.TemporaryDirectory() as tmp:
        writer, body, expected_tree, expected = await produce(
            doc, encoding, output, _tame(tuning, doc), Path(tmp), False
        )
    assert not expected.parts and expected.refused == 0
    assert writer.content_type.split(";")[0] == (soap.media_type if soap else "application/xml")
    assert infoset(ET.fromstring(body)) == expected_tree
    read_mtom = getattr(asyncmtom, "read_mtom", None)
    if read_mtom is not None:
        async with read_mtom(writer.content_type, random_chunks(body, read_sizes)) as message:
            assert message.root == body
            assert not message.attachments


# -- refusals ------------------------------------------------------------------------

forbidden_chars = st.one_of(
    st.integers(0, 0x1F).filter(lambda c: c not in (9, 10, 13)).map(chr),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.sampled_from(["\ufffe", "\uffff"]),
)


@given(
    before=xml_text,
    bad=forbidden_chars,
    after=xml_text,
    where=st.sampled_from(["text", "attribute", "namespace"]),
)
@fuzz_settings(40, long_share=0.2)
def test_characters_xml_forbids_are_refused(before: str, bad: str, after: str, where: str) -> None:
    writer = XmlWriter(TextEncoding(soap=None))
    value = before + bad + after
    with pytest.raises(InvalidXmlError):
        if where == "namespace":
            writer.start_element("r", value)
        writer.start_element("r", "urn:a")
        if where == "text":
            writer.text(value)
        else:
            writer.attribute("a", value)
    assert writer.complete is False


@given(name=st.text(max_size=8))
@fuzz_settings(60, long_share=0.2)
def test_names_are_ncnames_or_refused(name: str) -> None:
    """A name the writer accepts is one the stdlib parser reads back; any other is refused."""
    writer = XmlWriter(TextEncoding(soap=None))
    try:
        writer.start_element(name, "urn:a", None)
    except InvalidXmlError:
        assert ":" in name or not name or _not_an_ncname(name)
        return
    writer.end_element()
    element = ET.fromstring(writer._root_xml())  # names expat refuses are refused
    assert element.tag == f"{{urn:a}}{name}"


def _in_ranges(char: str, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= ord(char) <= hi for lo, hi in ranges)


def _not_an_ncname(name: str) -> bool:
    try:
        ET.fromstring(f'<a:{name} xmlns:a="urn:x"/>'.encode("utf-8", "surrogatepass"))
    except (ET.ParseError, UnicodeError):
        return True
    return False


def test_name_alphabet_is_accepted_by_the_writer_and_expat() -> None:
    for lo, hi in _NAME_RANGES:
        for code in {lo, (lo + hi) // 2, hi}:
            name = "a" + chr(code)
            XmlWriter(TextEncoding()).start_element(name)
            ET.fromstring(f"<{name}/>")


async def test_names_beyond_expat_tables() -> None:
    writer = XmlWriter(MtomEncoding(soap=None))
    try:
        writer.start_element("\u2070x", "urn:a")
    except InvalidXmlError:
        return  # refused, as a fourth-edition parser would: fine
    await writer.write_bytes(b"z" * 1000)
    writer.end_element()
    body = b"".join([chunk async for chunk in writer.body()])
    decoded = decode_with_email(writer.content_type, body)
    resolve_xop(decoded.root, decoded.parts)


async def test_attribute_prefix_cannot_rebind_the_element(anyio_backend: str) -> None:
    writer = XmlWriter(TextEncoding(soap=None))
    writer.start_element("r", "urn:1", "p")
    writer.start_element("c", "urn:1", "p")
    try:
        writer.attribute("a", "v", "urn:2", "p")
    except InvalidXmlError:
        return  # refused: fine
    writer.end_element()
    writer.end_element()
    body = b"".join([chunk async for chunk in writer.body()])
    child = ET.fromstring(body)[0]
    assert child.tag == "{urn:1}c", body
    assert child.get("{urn:2}a") == "v"


async def test_content_type_on_a_later_call_is_not_dropped(anyio_backend: str) -> None:
    writer = XmlWriter(MtomEncoding(soap=None))
    writer.start_element("r", "urn:a")
    await writer.write_bytes(b"x" * 1000)
    try:
        await writer.write_bytes(b"y" * 1000, content_type="image/png")
    except WriterStateError:
        return  # refused: fine
    writer.end_element()
    body = b"".join([chunk async for chunk in writer.body()])
    decoded = decode_with_email(writer.content_type, body)
    ((content_type, _),) = decoded.parts.values()
    assert content_type == "image/png"


async def test_attribute_prefix_cannot_rebind_an_earlier_attribute(anyio_backend: str) -> None:
    writer = XmlWriter(TextEncoding(soap=None))
    writer.start_element("r", "urn:1")
    writer.attribute("x", "1", "urn:1", "p")
    writer.start_element("c", "urn:1")
    writer.attribute("a", "2", "urn:1")  # takes the prefix p, bound on <r>
    try:
        writer.attribute("b", "3", "urn:2", "p")
    except InvalidXmlError:
        return  # refused: fine
    writer.end_element()
    writer.end_element()
    body = b"".join([chunk async for chunk in writer.body()])
    child = ET.fromstring(body)[0]
    assert dict(child.attrib) == {"{urn:1}a": "2", "{urn:2}b": "3"}, body


@st.composite
def prefix_trees(draw: st.DrawFn, depth: int = 0) -> Elem:
    """Small trees whose element and attribute prefixes share two names and two namespaces."""
    namespaces = ["urn:1", "urn:2"]
    namespace = draw(st.sampled_from([None, *namespaces]))
    elem = Elem(
        draw(st.sampled_from(["e", "f"])),
        namespace,
        draw(st.sampled_from([None, "p", "q"])) if namespace else None,
    )
    seen = set()
    for _ in range(draw(st.integers(0, 3))):
        attr = Attr(
            draw(st.sampled_from(["a", "b"])),
            "v",
            draw(st.sampled_from(namespaces)),
            draw(st.sampled_from([None, "p", "q"])),
        )
        if (attr.namespace, attr.name) not in seen:
            seen.add((attr.namespace, attr.name))
            elem.attrs.append(attr)
    if depth < 3:
        elem.children = draw(st.lists(prefix_trees(depth + 1), max_size=3))
    return elem


@given(doc=prefix_trees())
@fuzz_settings(150, long_share=0.5)
def test_prefixes_keep_their_meaning(doc: Elem) -> None:
    """Any prefixes: each name keeps its namespace, or the writer refuses the call."""
    writer = XmlWriter(TextEncoding(soap=None))

    def write(elem: Elem) -> tuple[Any, ...] | None:
        writer.start_element(elem.name, elem.namespace, elem.prefix)
        attrs = []
        for attr in elem.attrs:
            try:
                writer.attribute(attr.name, attr.value, attr.namespace, attr.prefix)
            except InvalidXmlError:
                return None  # a conflict the writer saw: refusing is fine
            attrs.append((clark(attr.namespace, attr.name), attr_text(attr.value)))
        children = []
        for child in elem.children:
            got = write(child)
            if got is None:
                return None
            children.append(got)
        writer.end_element()
        return (clark(elem.namespace, elem.name), tuple(sorted(attrs)), tuple(children))

    expected = write(doc)
    if expected is None:
        return
    got = infoset(ET.fromstring(writer._root_xml()))
    assert got == expected, first_difference(got, expected)


async def test_a_refused_call_changes_nothing(anyio_backend: str) -> None:
    writer = XmlWriter(MtomEncoding(soap=None))
    writer.start_element("r", "urn:a")
    await writer.write_bytes(b"x" * 1000)
    with pytest.raises(WriterStateError):
        await writer.write_bytes(b"y", content_type="image/png", inline=True)
    writer.end_element()
    body = b"".join([chunk async for chunk in writer.body()])
    decoded = decode_with_email(writer.content_type, body)
    ((content_type, _),) = decoded.parts.values()
    assert content_type == "application/octet-stream"
