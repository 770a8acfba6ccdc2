"""XmlWriter end to end: every message is decoded by the stdlib email parser."""

from __future__ import annotations

import base64
import hashlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mtomcheck import decode_with_email, document_order_ids, resolve_xop
from payloads import chunked_push, pattern

from asyncmtom import (
    SOAP11,
    SOAP12,
    XMIME_NAMESPACE,
    InvalidXmlError,
    MtomEncoding,
    MtomFormatError,
    PartSizeError,
    TextEncoding,
    WriterStateError,
    XmlWriter,
)

pytestmark = pytest.mark.anyio
NS = "urn:example"


async def collect(writer: XmlWriter) -> bytes:
    return b"".join([chunk async for chunk in writer.body()])


def envelope(writer: XmlWriter, soap: Any = SOAP12) -> Any:
    """Open Envelope/Body/Upload; the caller closes them with close(writer)."""
    writer.start_element("Envelope", soap.namespace, "s")
    writer.start_element("Body", soap.namespace, "s")
    writer.start_element("Upload", NS, "ex")


def close(writer: XmlWriter, n: int = 3) -> None:
    for _ in range(n):
        writer.end_element()


async def test_push_callback_is_deferred_and_runs_in_document_order() -> None:
    events: list[str] = []

    async def callback(write: Any, name: str, data: bytes) -> None:
        events.append(f"start {name}")
        await anyio.lowlevel.checkpoint()
        await write(data)
        events.append(f"end {name}")

    writer = XmlWriter(MtomEncoding(soap=SOAP12, action="urn:example:Upload"))
    envelope(writer)
    payloads = {name: pattern(5000 + i, i) for i, name in enumerate(["a", "b", "c"])}
    for name, data in payloads.items():
        with writer.element("data", NS, "ex"):
            await writer.push_bytes(callback, name, data)
    close(writer)
    assert events == [], "MTOM parts are not read before the body is flushed"
    assert writer.content_length is None, "no size declared: no Content-Length"
    assert "Content-Length" not in writer.headers

    chunks = aiter(writer.body())
    first = await chunks.__anext__()
    assert events == [], "the root part comes before any callback runs"
    assert b"<s:Envelope" in first
    body = first + b"".join([c async for c in chunks])
    assert events == ["start a", "end a", "start b", "end b", "start c", "end c"]

    decoded = decode_with_email(writer.content_type, body)
    assert decoded.order == document_order_ids(decoded.root)
    assert [decoded.parts[cid][1] for cid in decoded.order] == list(payloads.values())
    assert all(ct == "application/octet-stream" for ct, _ in decoded.parts.values())
    assert (
        b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml; '
        b'action=\\"urn:example:Upload\\""\r\n'
    ) in first
    tree = resolve_xop(decoded.root, decoded.parts)
    texts = [e.text for e in tree.iter(f"{{{NS}}}data")]
    assert texts == [base64.b64encode(d).decode() for d in payloads.values()]


@pytest.mark.parametrize(
    ("size", "inline"), [(0, True), (1, True), (767, True), (768, False), (5000, False)]
)
async def test_max_inline_size_boundary(size: int, inline: bool) -> None:
    data = pattern(size)
    for how in ("write", "push", "pull"):
        writer = XmlWriter(MtomEncoding())
        writer.start_element("r", NS)
        writer.start_element("d", NS)
        if how == "write":
            await writer.write_bytes(data)
        elif how == "push":
            await writer.push_bytes(chunked_push, data, 100, size=size)
        else:

            async def source() -> Any:
                for i in range(0, size, 300):
                    yield data[i : i + 300]

            await writer.pull_bytes(source(), size=size)
        close(writer, 2)
        length = writer.content_length
        body = await collect(writer)
        assert length == len(body)
        decoded = decode_with_email(writer.content_type, body)
        assert len(decoded.parts) == (0 if inline else 1), (how, size)
        tree = resolve_xop(decoded.root, decoded.parts)
        assert base64.b64decode(tree[0].text or "") == data


async def test_inline_overrides() -> None:
    big, small = pattern(4000), pattern(10)
    writer = XmlWriter(MtomEncoding())
    writer.start_element("r", NS)
    with writer.element("forced-inline", NS):
        await writer.write_bytes(big, inline=True)
    with writer.element("forced-part", NS):
        await writer.write_bytes(small, inline=False)
    writer.end_element()
    body = await collect(writer)
    decoded = decode_with_email(writer.content_type, body)
    assert [p for _, p in decoded.parts.values()] == [small]
    tree = resolve_xop(decoded.root, decoded.parts)
    assert [base64.b64decode(e.text or "") for e in tree] == [big, small]


async def test_several_binary_calls_make_one_part_or_one_base64_run() -> None:
    writer = XmlWriter(MtomEncoding())
    writer.start_element("r", NS)
    with writer.element("run", NS):
        for piece in (b"a", b"bc", b"def", b"g"):
            await writer.write_bytes(piece)
    with writer.element("part", NS):
        await writer.write_bytes(b"12345")
        await writer.write_bytes(pattern(1000))
        await writer.push_bytes(chunked_push, b"xyz", 1)
    writer.end_element()
    decoded = decode_with_email(writer.content_type, await collect(writer))
    assert len(decoded.parts) == 1
    tree = resolve_xop(decoded.root, decoded.parts)
    assert tree[0].text == base64.b64encode(b"abcdefg").decode()
    assert base64.b64decode(tree[1].text or "") == b"12345" + pattern(1000) + b"xyz"


async def test_text_encoding_same_calls_give_inline_base64() -> None:
    calls = 0

    async def callback(write: Any) -> None:
        nonlocal calls
        calls += 1
        await chunked_push(write, pattern(100_000), 7777)

    writer = XmlWriter(TextEncoding(soap=SOAP11, action="urn:a"))
    envelope(writer, SOAP11)
    with writer.element("data", NS, "ex"):
        await writer.push_bytes(callback)
    assert calls == 1, "TextEncoding runs push callbacks at once"
    with writer.element("data2", NS, "ex"):
        await writer.write_bytes(bytearray(b"\x00\xff"))
    close(writer)
    assert writer.content_type == "text/xml; charset=utf-8"
    assert writer.headers["SOAPAction"] == '"urn:a"'
    body = await collect(writer)
    assert writer.headers["Content-Length"] == str(len(body))
    tree = ET.fromstring(body)
    data = tree.find(f".//{{{NS}}}data")
    assert data is not None and base64.b64decode(data.text or "") == pattern(100_000)


async def test_content_length_is_exact_with_known_sizes(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(pattern(300_000, 3))
    writer = XmlWriter(MtomEncoding(soap=SOAP11, action="urn:x"))
    envelope(writer, SOAP11)
    with writer.element("a", NS, "ex"):
        await writer.write_bytes(pattern(10_000))
    with writer.element("b", NS, "ex"):
        await writer.push_bytes(chunked_push, pattern(70_000, 1), 65536, size=70_000)
    async with await anyio.open_file(path, "rb") as f:
        with writer.element("c", NS, "ex"):
            await writer.pull_bytes(f)  # size from the file system
        with writer.element("d", NS, "ex"):
            await writer.pull_bytes(path)  # opened when flushed
        close(writer)
        headers = writer.headers
        assert headers["SOAPAction"] == '"urn:x"'
        body = await collect(writer)
    assert int(headers["Content-Length"]) == len(body) == writer.content_length
    decoded = decode_with_email(headers["Content-Type"], body)
    assert decoded.root_headers["Content-Type"].endswith('type="text/xml"')
    contents = [decoded.parts[cid][1] for cid in decoded.order]
    assert contents == [pattern(10_000), pattern(70_000, 1), path.read_bytes(), path.read_bytes()]


async def test_pull_bytes_takes_every_kind_of_byte_source() -> None:
    """Bytes-like values and anyio byte streams too: the kinds read_mtom reads."""
    send, receive = anyio.create_memory_object_stream[bytes](4)
    streamed = pattern(200_000, 5)

    async def feed() -> None:
        async with send:
            for i in range(0, len(streamed), 50_000):
                await send.send(streamed[i : i + 50_000])

    writer = XmlWriter()
    envelope(writer)
    with writer.element("a", NS, "ex"):
        await writer.pull_bytes(bytearray(pattern(300_000, 4)))  # size known at once
    with writer.element("b", NS, "ex"):
        await writer.pull_bytes(memoryview(pattern(1000, 6)), inline=False)
    with writer.element("c", NS, "ex"):
        await writer.pull_bytes(BufferedByteReceiveStream(receive))
    close(writer)
    assert writer.content_length is None  # the stream's length is not known
    async with anyio.create_task_group() as tg:
        tg.start_soon(feed)
        body = await collect(writer)
    decoded = decode_with_email(writer.headers["Content-Type"], body)
    contents = [decoded.parts[cid][1] for cid in decoded.order]
    assert contents == [pattern(300_000, 4), pattern(1000, 6), streamed]

    known = XmlWriter()
    envelope(known)
    with known.element("a", NS, "ex"):
        await known.pull_bytes(pattern(300_000, 4))
    close(known)
    again = known.body()
    once = b"".join([chunk async for chunk in again])
    assert known.content_length == len(once)
    assert b"".join([chunk async for chunk in again]) == once  # read again
    decoded = decode_with_email(known.headers["Content-Type"], once)
    assert [decoded.parts[cid][1] for cid in decoded.order] == [pattern(300_000, 4)]


async def test_xmime_content_type_attribute_sets_part_type() -> None:
    writer = XmlWriter(MtomEncoding())
    writer.start_element("r", NS)
    with writer.element("img", NS):
        writer.attribute("contentType", "image/png", XMIME_NAMESPACE, "xmime")
        await writer.write_bytes(pattern(2000))
    with writer.element("doc", NS):
        writer.attribute("contentType", "image/png", XMIME_NAMESPACE, "xmime")
        await writer.write_bytes(pattern(2000), content_type="application/pdf")
    writer.end_element()
    decoded = decode_with_email(writer.content_type, await collect(writer))
    assert [decoded.parts[c][0] for c in decoded.order] == ["image/png", "application/pdf"]


async def test_bytes_attribute_is_base64_and_never_a_part() -> None:
    writer = XmlWriter(MtomEncoding())
    writer.start_element("r", NS)
    writer.attribute("digest", pattern(5000))
    writer.end_element()
    body = await collect(writer)
    decoded = decode_with_email(writer.content_type, body)
    assert decoded.parts == {}
    assert ET.fromstring(decoded.root).get("digest") == base64.b64encode(pattern(5000)).decode()


async def test_progressive_sink_mode() -> None:
    sent: list[bytes] = []

    class Sink:
        async def send(self, item: bytes) -> None:
            sent.append(item)

    async with XmlWriter(MtomEncoding(), sink=Sink()) as writer:
        writer.start_element("r", NS)
        for i in range(50):
            with writer.element("item", NS):
                writer.text(str(i))
            await writer.flush(min_size=256)
        with writer.element("d", NS):
            await writer.push_bytes(chunked_push, pattern(10_000), 4096)
        writer.end_element()
        assert "Content-Length" not in writer.headers
        before_close = len(sent)
    assert before_close > 1, "flush() handed the XML on as it grew"
    decoded = decode_with_email(writer.content_type, b"".join(sent))
    assert [p for _, p in decoded.parts.values()] == [pattern(10_000)]


async def test_progressive_text_encoding_keeps_memory_bounded() -> None:
    sizes: list[int] = []

    class Sink:
        async def send(self, item: bytes) -> None:
            sizes.append(len(item))

    writer = XmlWriter(TextEncoding(soap=None), sink=Sink(), read_size=64 * 1024)
    writer.start_element("r", NS)

    async def callback(write: Any) -> None:
        block = b"\x01" * 65536
        for _ in range(64):
            await write(block)

    await writer.push_bytes(callback)
    writer.end_element()
    await writer.aclose()
    assert sum(sizes) > 4 * 1024 * 1024 * 4 // 3
    assert max(sizes) < 200 * 1024, "inline base64 was flushed as it grew"


async def test_plain_xml_with_xop_has_no_soap_action() -> None:
    writer = XmlWriter(MtomEncoding(soap=None, boundary="b-1", start_id="root@example.org"))
    writer.start_element("r", NS)
    await writer.write_bytes(pattern(1000))
    writer.end_element()
    assert writer.content_type == (
        'multipart/related; type="application/xop+xml"; boundary="b-1"; '
        'start="<root@example.org>"; start-info="application/xml"'
    )
    assert set(writer.headers) == {"Content-Type", "Content-Length"}
    decode_with_email(writer.content_type, await collect(writer))


# -- bad input: the documented error, and nothing a receiver takes for a whole message --


async def test_invalid_names_and_characters() -> None:
    writer = XmlWriter()
    with pytest.raises(InvalidXmlError):
        writer.start_element("1bad")
    with pytest.raises(InvalidXmlError):
        writer.start_element("a", NS, "bad prefix")
    writer.start_element("a", NS)
    with pytest.raises(InvalidXmlError):
        writer.attribute("b c", "v")
    with pytest.raises(InvalidXmlError):
        writer.attribute("v", "bell \x07")
    with pytest.raises(InvalidXmlError):
        writer.text("nul \x00")
    with pytest.raises(InvalidXmlError):
        writer.text("lone surrogate \ud800")
    with pytest.raises(InvalidXmlError):
        writer.text("\ufffe")


async def test_structure_errors() -> None:
    writer = XmlWriter()
    with pytest.raises(WriterStateError):
        writer.end_element()
    writer.start_element("a", NS)
    writer.text("t")
    with pytest.raises(WriterStateError):
        writer.attribute("late", "v")
    with pytest.raises(WriterStateError):
        await writer.write_bytes(b"x" * 1000)
    writer.start_element("b", NS)
    await writer.write_bytes(b"x" * 1000)
    with pytest.raises(WriterStateError):
        writer.text("beside binary")
    with pytest.raises(WriterStateError):
        writer.start_element("child")
    with pytest.raises(WriterStateError):
        await writer.write_bytes(b"y", inline=True)
    writer.end_element()
    with pytest.raises(WriterStateError):
        writer.body()  # incomplete document
    writer.end_element()
    body = writer.body()
    with pytest.raises(WriterStateError):
        writer.body()
    with pytest.raises(WriterStateError):
        writer.start_element("late")
    with pytest.raises(WriterStateError):
        await writer.write_bytes(b"late")
    await body.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"boundary": ""},
        {"boundary": "x" * 71},
        {"boundary": "bad\r\nX: y"},
        {"start_id": "<root@x>"},
        {"action": "urn:a\r\nX-Injected: yes"},
        {"max_inline_size": -1},
        {"soap": "1.2"},
    ],
)
def test_invalid_encoding_values_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)) as caught:
        MtomEncoding(**kwargs)
    assert not isinstance(caught.value, MtomFormatError)  # a caller's mistake, not a peer's


async def test_header_injection_through_content_type_refused() -> None:
    writer = XmlWriter()
    writer.start_element("a", NS)
    with pytest.raises(ValueError) as caught:
        await writer.write_bytes(b"x" * 1000, content_type="text/plain\r\nX-Injected: 1")
    assert type(caught.value) is ValueError
    writer.attribute("contentType", "text/plain\r\nX: 1", XMIME_NAMESPACE)
    with pytest.raises(ValueError) as caught:
        await writer.write_bytes(b"x" * 1000)
    assert type(caught.value) is ValueError


async def test_bad_argument_types() -> None:
    writer = XmlWriter()
    writer.start_element("a", NS)
    with pytest.raises(TypeError):
        await writer.write_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await writer.push_bytes(chunked_push, b"", 1, size=-1)
    with pytest.raises(TypeError):
        await writer.push_bytes(chunked_push, b"", 1, size="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await writer.pull_bytes(12)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        XmlWriter("mtom")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        XmlWriter(join_size=-1)


def assert_aborted(received: bytes, boundary_marker: bytes = b"--\r\n") -> None:
    assert not received.rstrip().endswith(b"--"), "no closing delimiter after a failure"


async def test_callback_raising_midway_aborts_with_a_note() -> None:
    cleaned = []

    class Boom(Exception):
        pass

    async def callback(write: Any) -> None:
        try:
            await write(b"a" * 50_000)
            raise Boom("disk gone")
        finally:
            cleaned.append(True)

    writer = XmlWriter()
    writer.start_element("r", NS)
    await writer.push_bytes(callback)
    writer.end_element()
    received = b""
    with pytest.raises(Boom) as info:
        async for chunk in writer.body():
            received += chunk
    assert cleaned == [True]
    assert any("1." in note and "@asyncmtom" in note for note in info.value.__notes__)
    assert_aborted(received)
    with pytest.raises(WriterStateError):
        writer.body()


@pytest.mark.parametrize(("declared", "actual"), [(100_000, 99_999), (100_000, 100_001), (5, 6)])
async def test_size_mismatch_aborts(declared: int, actual: int) -> None:
    for how in ("push", "pull"):
        writer = XmlWriter()
        writer.start_element("r", NS)
        data = pattern(actual)
        if how == "push":
            await_ = writer.push_bytes(chunked_push, data, 1000, size=declared)
        else:

            async def source(data: bytes = data) -> Any:
                yield data

            await_ = writer.pull_bytes(source(), size=declared)
        received = b""
        with pytest.raises(PartSizeError):
            await await_  # a size within the inline limit is read at once
            writer.end_element()
            async for chunk in writer.body():
                received += chunk
        assert_aborted(received)


async def test_callback_that_writes_after_returning() -> None:
    saved: list[Any] = []

    async def callback(write: Any) -> None:
        saved.append(write)
        await write(b"x" * 1000)

    writer = XmlWriter()
    writer.start_element("r", NS)
    await writer.push_bytes(callback)
    writer.end_element()
    await collect(writer)
    with pytest.raises(WriterStateError):
        await saved[0](b"late")


async def test_write_from_another_task_is_refused() -> None:
    errors: list[BaseException] = []

    async def callback(write: Any) -> None:
        async def other() -> None:
            try:
                await write(b"from elsewhere")
            except WriterStateError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
        await write(b"ok" * 1000)

    writer = XmlWriter()
    writer.start_element("r", NS)
    await writer.push_bytes(callback)
    writer.end_element()
    decoded = decode_with_email(writer.content_type, await collect(writer))
    assert len(errors) == 1
    assert [p for _, p in decoded.parts.values()] == [b"ok" * 1000]


async def test_failed_inline_callback_fails_the_writer() -> None:
    async def callback(write: Any) -> None:
        raise OSError("nope")

    writer = XmlWriter(TextEncoding())
    writer.start_element("r", NS)
    with pytest.raises(OSError):
        await writer.push_bytes(callback)
    with pytest.raises(WriterStateError):
        writer.end_element()


async def test_sha256_of_large_streamed_part() -> None:
    digest = hashlib.sha256()
    total = 32 * 1024 * 1024

    async def callback(write: Any) -> None:
        block = os.urandom(256 * 1024)
        for _ in range(total // len(block)):
            digest.update(block)
            await write(block)

    writer = XmlWriter()
    writer.start_element("r", NS)
    await writer.push_bytes(callback, size=total)
    writer.end_element()
    seen = hashlib.sha256()
    length = 0
    start = None
    async for chunk in writer.body():
        length += len(chunk)
        if start is None:
            start = chunk
            continue
        seen.update(chunk)
    assert length == writer.content_length


async def test_progress_reports_every_byte() -> None:
    reports: list[Any] = []
    writer = XmlWriter(MtomEncoding())
    writer.start_element("r", NS)
    with writer.element("a", NS):
        await writer.push_bytes(chunked_push, pattern(300_000), 65536, size=300_000)
    with writer.element("b", NS):
        await writer.write_bytes(pattern(2000))
    writer.end_element()
    total = writer.content_length
    body = b"".join([c async for c in writer.body(progress=reports.append)])
    assert reports[-1].done == total == len(body)
    assert all(r.total == total for r in reports)
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    first_part = [r for r in reports if r.content_id and r.content_id.startswith("1.")]
    assert first_part[-1].part_done == first_part[-1].part_size == 300_000
    assert reports[0].content_id is None  # the root part
