"""read_mtom: decoding, tolerance of real stacks' quirks, errors, limits, cleanup.

The messages and sources come from ``readercases``; expected results are
computed independently there (``resolved_by_hand``) or by the standard library.
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.abc
import pytest
from readercases import (
    BOUNDARY,
    ROOT_HEADERS,
    SOAP12,
    XOP,
    ChunkReceiveStream,
    CountingSource,
    KiB,
    LineIterableReader,
    MiB,
    StallingSource,
    build,
    chunks_of,
    content_type,
    contents,
    decode,
    drain,
    envelope,
    files_in,
    include,
    many_parts,
    part_headers,
    resolved_by_hand,
    simple_message,
    stat_of,
)

from asyncmtom import (
    MtomFormatError,
    MtomLimitError,
    ReaderStateError,
    iter_mtom,
    read_mtom,
)

pytestmark = pytest.mark.anyio


# --- the common case, any chunking -------------------------------------------


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 7, 64, 4096])
async def test_decodes_root_and_attachments_in_any_chunking(chunk_size: int | None) -> None:
    first = b"\r\n--" + BOUNDARY[:-1].encode() + b"\r\n" + os.urandom(3000) + b"\r\n"
    second = b"\r\n"
    root = envelope(include("cid:first@x"), include("cid:second@x"))
    body = build(
        [
            (ROOT_HEADERS, root),
            (part_headers("first@x", "image/png"), first),
            (part_headers("second@x"), second),
        ]
    )
    decoded = await decode(content_type(), body, chunk_size=chunk_size)
    assert decoded.root == root
    assert decoded.root_content_id == "root@x"
    assert decoded.media_type == "application/soap+xml"
    assert decoded.attachments == {
        "first@x": ("image/png", first),
        "second@x": ("application/octet-stream", second),
    }
    assert decoded.resolved == resolved_by_hand(
        root, {include("cid:first@x"): first, include("cid:second@x"): second}
    )


async def test_binary_parts_keep_leading_and_trailing_crlf() -> None:
    """zeep strips line breaks at the edges of binary parts; every byte counts here."""
    for data in (b"\r\n", b"\r\n\r\n", b"\n\rX\r\n", b"\r", b"\n", b"", b"--", b"\r\n--"):
        decoded = await decode(content_type(), simple_message(data), chunk_size=2)
        assert decoded.attachments["data@x"][1] == data


async def test_two_includes_may_name_the_same_part() -> None:
    data = os.urandom(100)
    root = envelope(include("cid:data@x"), include("cid:data@x"))
    body = build([(ROOT_HEADERS, root), (part_headers("data@x"), data)])
    decoded = await decode(content_type(), body)
    assert decoded.resolved == resolved_by_hand(root, {include("cid:data@x"): data})
    assert decoded.resolved is not None and decoded.resolved.count(base64.b64encode(data)) == 2


async def test_large_part_spooled_small_part_in_memory(tmp_path: Path) -> None:
    big, small = os.urandom(MiB + 1), os.urandom(MiB)
    root = envelope(include("cid:big@x"), include("cid:small@x"))
    body = build(
        [(ROOT_HEADERS, root), (part_headers("big@x"), big), (part_headers("small@x"), small)]
    )
    async with read_mtom(content_type(), chunks_of(body, 64 * KiB), spool_dir=tmp_path) as message:
        assert not message.attachments["big@x"].in_memory
        assert message.attachments["small@x"].in_memory
        assert len(files_in(tmp_path)) == 1
        assert await message.attachments["big@x"].read() == big
        assert await message.resolve() == resolved_by_hand(
            root, {include("cid:big@x"): big, include("cid:small@x"): small}
        )
        streamed = b"".join([chunk async for chunk in message.iter_resolved()])
        assert streamed == await message.resolve()
    assert files_in(tmp_path) == []


async def test_spool_threshold_zero_spools_every_part(tmp_path: Path) -> None:
    body = simple_message(b"abc")
    async with read_mtom(content_type(), body, spool_threshold=0, spool_dir=tmp_path) as message:
        assert not message.attachments["data@x"].in_memory
        assert await message.attachments["data@x"].read() == b"abc"
    assert files_in(tmp_path) == []


# --- tolerance: each quirk a real stack shows ----------------------------------


@pytest.mark.parametrize(
    "ctype",
    [
        f"multipart/related; type=application/xop+xml; boundary={BOUNDARY}; start=<root@x>",
        f'multipart/related;type="application/xop+xml";boundary="{BOUNDARY}";start="root@x"',
        f"Multipart/Related; Boundary={BOUNDARY}; START=root@x; Type=application/xop+xml",
        f'multipart/related ;\tboundary = "{BOUNDARY}" ; start = "<root@x>"',
    ],
    ids=["unquoted", "quoted-no-brackets", "case", "spaces"],
)
async def test_parameters_quoted_or_not_start_with_or_without_brackets(ctype: str) -> None:
    data = os.urandom(50)
    attachment = (part_headers("data@x"), data)
    root_part = (ROOT_HEADERS, envelope(include("cid:data@x")))
    decoded = await decode(ctype, build([attachment, root_part]))  # root found by start
    assert decoded.root_content_id == "root@x"
    assert decoded.attachments == {"data@x": ("application/octet-stream", data)}


async def test_root_is_first_part_without_start() -> None:
    decoded = await decode(content_type(start=None), simple_message(b"x"))
    assert decoded.root_content_id == "root@x"
    assert list(decoded.attachments) == ["data@x"]


async def test_attachments_before_the_root_named_by_start() -> None:
    one, two = os.urandom(10), os.urandom(20)
    root = envelope(include("cid:one@x"), include("cid:two@x"))
    body = build([(part_headers("one@x"), one), (part_headers("two@x"), two), (ROOT_HEADERS, root)])
    decoded = await decode(content_type(), body)
    assert decoded.root == root
    assert decoded.resolved == resolved_by_hand(
        root, {include("cid:one@x"): one, include("cid:two@x"): two}
    )


async def test_header_names_in_any_case_and_no_space_after_colon() -> None:
    data = os.urandom(64)
    headers = ["content-id:<data@x>", "CONTENT-TYPE:image/jpeg", "content-transfer-encoding:BINARY"]
    root_headers = ["CONTENT-ID:<root@x>", 'content-type:application/xop+xml;type="text/xml"']
    body = build([(root_headers, envelope(include("cid:data@x"))), (headers, data)])
    decoded = await decode(content_type(), body)
    assert decoded.attachments == {"data@x": ("image/jpeg", data)}
    assert decoded.media_type == "text/xml"


async def test_folded_header_lines() -> None:
    root_headers = [
        "Content-ID:",
        " <root@x>",
        "Content-Type: application/xop+xml;",
        '\tcharset=UTF-8; type="application/soap+xml;',
        ' action=\\"urn:folded\\""',
    ]
    body = build([(root_headers, envelope(include("cid:data@x"))), (part_headers("data@x"), b"d")])
    decoded = await decode(content_type(), body)
    assert decoded.root_content_id == "root@x"
    assert decoded.action == "urn:folded"


async def test_preamble_epilogue_and_no_final_crlf() -> None:
    data = os.urandom(300)
    for preamble, epilogue, final_crlf in [
        (b"This is a multi-part message in MIME format.", b"", True),
        (b"", b"epilogue text\r\n", True),
        (b"preamble", b"", False),
        (b"", b"", False),
    ]:
        body = build(
            [(ROOT_HEADERS, envelope(include("cid:data@x"))), (part_headers("data@x"), data)],
            preamble=preamble,
            epilogue=epilogue,
            final_crlf=final_crlf,
        )
        decoded = await decode(content_type(), body, chunk_size=3)
        assert decoded.attachments["data@x"][1] == data


async def test_content_id_without_angle_brackets() -> None:
    headers = ["Content-ID: data@x", "Content-Type: application/octet-stream"]
    body = build([(["Content-ID: root@x"], envelope(include("cid:data@x"))), (headers, b"abc")])
    decoded = await decode(content_type(), body)
    assert decoded.root_content_id == "root@x"
    assert decoded.attachments["data@x"][1] == b"abc"


async def test_percent_encoded_href_wcf_style() -> None:
    """WCF names parts with URLs and percent-encodes them in the href (RFC 2392)."""
    content_id = "http://tempuri.org/1/634537185443106547"
    href = "cid:http%3A%2F%2Ftempuri.org%2F1%2F634537185443106547"
    root = envelope(include(href))
    body = build(
        [
            (["Content-ID: <http://tempuri.org/0>", *ROOT_HEADERS[1:]], root),
            (part_headers(content_id), b"wcf"),
        ]
    )
    decoded = await decode(content_type(start="<http://tempuri.org/0>"), body)
    assert decoded.resolved == resolved_by_hand(root, {include(href): b"wcf"})


@pytest.mark.parametrize("encoding", ["binary", "8bit", "7bit", None, "BASE64"])
async def test_transfer_encodings(encoding: str | None) -> None:
    data = bytes(range(256)) * 5
    headers = ["Content-ID: <data@x>", "Content-Type: application/octet-stream"]
    payload = data
    if encoding is not None:
        headers.append(f"Content-Transfer-Encoding: {encoding}")
        if encoding == "BASE64":
            payload = base64.encodebytes(data).replace(b"\n", b"\r\n")
    body = build([(ROOT_HEADERS, envelope(include("cid:data@x"))), (headers, payload)])
    decoded = await decode(content_type(), body, chunk_size=33)
    assert decoded.attachments["data@x"][1] == data


async def test_base64_root_part_decoded() -> None:
    root = envelope(include("cid:data@x"))
    headers = [*ROOT_HEADERS[:2], "Content-Transfer-Encoding: base64"]
    body = build([(headers, base64.encodebytes(root)), (part_headers("data@x"), b"d")])
    decoded = await decode(content_type(), body)
    assert decoded.root == root


@pytest.mark.parametrize(
    ("ctype", "root_type"),
    [
        (
            content_type(start_info_ignored="x").replace(
                'start-info="application/soap+xml"',
                'start-info="application/soap+xml; action=\\"urn:in-start-info\\""',
            ),
            'application/xop+xml; type="application/soap+xml"',
        ),
        (
            content_type(action="urn:own-parameter"),
            'application/xop+xml; type="application/soap+xml"',
        ),
        (content_type(), 'application/xop+xml; type="application/soap+xml; action=\\"urn:root\\""'),
    ],
    ids=["start-info", "parameter", "root-part-type"],
)
async def test_soap12_action_wherever_it_is(ctype: str, root_type: str) -> None:
    body = build([(["Content-ID: <root@x>", f"Content-Type: {root_type}"], envelope("x"))])
    decoded = await decode(ctype, body)
    assert decoded.action in {"urn:in-start-info", "urn:own-parameter", "urn:root"}
    assert decoded.action is not None and decoded.action.split(":")[1] in ctype + root_type
    assert decoded.media_type == "application/soap+xml"


async def test_whitespace_around_include_pretty_printed() -> None:
    data = os.urandom(40)
    root = (
        f'<s:Envelope xmlns:s="{SOAP12}">\n  <s:Body>\n    <m:r xmlns:m="urn:m">\n'
        f'      <m:v>\n        <xop:Include xmlns:xop="{XOP}"\n'
        '                     href="cid:data@x" />\n      </m:v>\n'
        "    </m:r>\n  </s:Body>\n</s:Envelope>\n"
    ).encode()
    include_text = f'<xop:Include xmlns:xop="{XOP}"\n                     href="cid:data@x" />'
    body = build([(ROOT_HEADERS, root), (part_headers("data@x"), data)])
    decoded = await decode(content_type(), body)
    assert decoded.resolved == root.replace(include_text.encode(), base64.b64encode(data))


async def test_boundary_longer_than_70_characters() -> None:
    boundary = "=_Part_" + "0123456789" * 12
    body = build(
        [(ROOT_HEADERS, envelope(include("cid:data@x"))), (part_headers("data@x"), b"L")], boundary
    )
    decoded = await decode(content_type(boundary), body)
    assert decoded.attachments["data@x"][1] == b"L"


async def test_extra_part_nothing_references() -> None:
    body = build(
        [
            (ROOT_HEADERS, envelope(include("cid:data@x"))),
            (part_headers("data@x"), b"used"),
            (part_headers("spare@x", "text/plain"), b"unused"),
        ]
    )
    decoded = await decode(content_type(), body)
    assert decoded.attachments["spare@x"] == ("text/plain", b"unused")
    assert decoded.resolved is not None and b"unused" not in decoded.resolved


@pytest.mark.parametrize(
    "ctype",
    ['application/soap+xml; charset=utf-8; action="urn:plain"', "text/xml; charset=utf-8", ""],
)
async def test_plain_soap_response(ctype: str) -> None:
    root = envelope("plain")
    decoded = await decode(ctype, root)
    assert decoded.root == root
    assert decoded.attachments == {}
    assert decoded.resolved == root
    assert decoded.action == ("urn:plain" if "action" in ctype else None)


async def test_plain_response_with_include_cannot_resolve() -> None:
    async with read_mtom("text/xml", envelope(include("cid:a@x"))) as message:
        with pytest.raises(MtomFormatError, match="names no part"):
            await message.resolve()


async def test_lf_only_line_breaks_are_refused() -> None:
    body = simple_message(b"binary\r\n").replace(b"\r\n", b"\n")
    with pytest.raises(MtomFormatError, match="CRLF"):
        await decode(content_type(), body)


# --- foreign writers ------------------------------------------------------------


async def test_stdlib_email_writer_base64_parts() -> None:
    """The email package writes parts base64-encoded with MIME line breaks."""
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.policy import SMTP

    data = os.urandom(5000) + b"\r\n"
    related = MIMEMultipart("related", boundary=BOUNDARY, start="<root@x>")
    root = MIMEApplication(envelope(include("cid:data@x")), "xop+xml", type="text/xml")
    root.add_header("Content-ID", "<root@x>")
    part = MIMEApplication(data)
    part.add_header("Content-ID", "<data@x>")
    related.attach(root)
    related.attach(part)
    raw = related.as_bytes(policy=SMTP)
    _, _, body = raw.partition(b"\r\n\r\n")
    ctype = related["Content-Type"]
    decoded = await decode(ctype, body, chunk_size=100)
    assert decoded.attachments["data@x"][1] == data
    assert decoded.media_type == "text/xml"
    assert decoded.resolved == resolved_by_hand(decoded.root, {include("cid:data@x"): data})


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "body", "message"),
    [
        (content_type(), simple_message(b"x")[:-12], "truncated"),
        (content_type(), simple_message(b"x")[:40], "truncated"),
        (content_type(), b"", "truncated"),
        (content_type(start="<other@x>"), simple_message(b"x"), "start names"),
        ("multipart/related; start=<root@x>", simple_message(b"x"), "no boundary"),
        (content_type().replace("related", "mixed"), simple_message(b"x"), "multipart/related"),
        (
            content_type(),
            build([(ROOT_HEADERS, b"<r/>"), (["Content-Type: a/b"], b"x")]),
            "no Content-ID",
        ),
        (
            content_type(),
            build(
                [(ROOT_HEADERS, b"<r/>"), (part_headers("a@x"), b"1"), (part_headers("a@x"), b"2")]
            ),
            "two parts",
        ),
        (
            content_type(),
            build(
                [
                    (ROOT_HEADERS, b"<r/>"),
                    (["Content-ID: <a@x>", "Content-Transfer-Encoding: quoted-printable"], b"=41"),
                ]
            ),
            "quoted-printable",
        ),
        (
            content_type(),
            build(
                [
                    (ROOT_HEADERS, b"<r/>"),
                    (["Content-ID: <a@x>", "Content-Transfer-Encoding: base64"], b"QUJD!!"),
                ]
            ),
            "base64",
        ),
        (content_type(start=None), f"--{BOUNDARY}--\r\n".encode(), "no part"),
    ],
    ids=[
        "truncated-body",
        "truncated-headers",
        "empty",
        "start-missing",
        "no-boundary",
        "not-related",
        "no-content-id",
        "duplicate-id",
        "quoted-printable",
        "bad-base64",
        "no-parts",
    ],
)
async def test_malformed_messages(ctype: str, body: bytes, message: str, tmp_path: Path) -> None:
    with pytest.raises(MtomFormatError, match=message):
        await decode(ctype, body, spool_dir=tmp_path, spool_threshold=0)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("include_text", "message"),
    [
        (include("http://example.com/data"), "not a cid"),
        (include("file:///etc/passwd"), "not a cid"),
        (include("cid:missing@x"), "names no part"),
        (f'<xop:Include xmlns:xop="{XOP}"/>', "no href"),
        (f'<xop:Include xmlns:xop="{XOP}" href="cid:data@x"><c/></xop:Include>', "child"),
        (f'<xop:Include xmlns:xop="{XOP}" href="cid:data@x">text</xop:Include>', "text"),
    ],
)
async def test_resolve_refuses_bad_includes(include_text: str, message: str) -> None:
    body = build([(ROOT_HEADERS, envelope(include_text)), (part_headers("data@x"), b"d")])
    async with read_mtom(content_type(), body) as decoded:
        assert decoded.attachments["data@x"].size == 1  # the message itself reads fine
        with pytest.raises(MtomFormatError, match=message):
            await decoded.resolve()
        with pytest.raises(MtomFormatError, match=message):
            async for _ in decoded.iter_resolved():
                pass


async def test_resolve_refuses_doctype_in_root() -> None:
    root = b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>'
    async with read_mtom("text/xml", root) as message:
        assert message.root == root
        with pytest.raises(MtomFormatError, match="DOCTYPE"):
            await message.resolve()


async def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_parts"):
        read_mtom(content_type(), b"", max_parts=0)
    with pytest.raises(ValueError, match="spool_threshold"):
        read_mtom(content_type(), b"", spool_threshold=-1)
    with pytest.raises(TypeError, match="source"):
        read_mtom(content_type(), "text")  # type: ignore[arg-type]

    async def strings() -> AsyncIterator[str]:
        yield "text"

    with pytest.raises(TypeError, match="str"):
        async with read_mtom(content_type(), strings()):  # type: ignore[arg-type]
            pass


# --- limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "limits", "stop_within"),
    [
        (many_parts(10), {"max_parts": 5}, None),
        (
            build([(ROOT_HEADERS, b"<r/>"), ([*part_headers("a@x"), "X-Pad: " + "p" * 2000], b"")]),
            {"max_header_size": 1024},
            None,
        ),
        (
            build([(ROOT_HEADERS, b"<r/>"), ([*part_headers("a@x"), *["X-N: 1"] * 8], b"")]),
            {"max_headers": 8},
            None,
        ),
        (simple_message(os.urandom(4 * MiB)), {"max_part_size": 2 * MiB}, 2 * MiB),
        (many_parts(4, MiB), {"max_total_size": 2 * MiB}, 2 * MiB),
        (
            build([(ROOT_HEADERS, envelope("r" * (2 * MiB))), (part_headers("a@x"), b"x")]),
            {"max_root_size": MiB},
            MiB,
        ),
    ],
    ids=["parts", "header-size", "headers", "part-size", "total-size", "root-size"],
)
async def test_each_limit_stops_reading_at_once(
    body: bytes, limits: dict[str, int], stop_within: int | None, tmp_path: Path
) -> None:
    source = CountingSource(body)
    with pytest.raises(MtomLimitError):
        async with read_mtom(
            content_type(), source, spool_dir=tmp_path, spool_threshold=0, **limits
        ):
            pytest.fail("the context must not be entered")  # pragma: no cover
    assert source.closed
    assert files_in(tmp_path) == []
    if stop_within is not None:
        assert source.delivered <= stop_within + 2 * source.chunk_size < len(body)


async def test_limits_are_inclusive() -> None:
    data = os.urandom(1000)
    body = simple_message(data)
    async with read_mtom(content_type(), body, max_part_size=1000, max_total_size=len(body)) as m:
        assert m.attachments["data@x"].size == 1000


async def test_plain_body_bounded_by_root_size() -> None:
    with pytest.raises(MtomLimitError, match="max_root_size"):
        await decode("text/xml", envelope("r" * 5000), max_root_size=1000)


async def test_epilogue_counts_against_total_size() -> None:
    body = simple_message(b"x") + b"\r\n" + b"e" * 10_000
    with pytest.raises(MtomLimitError, match="max_total_size"):
        await decode(content_type(), body, max_total_size=len(body) - 10)


# --- temporary files: exit, errors, cancellation -----------------------------------


async def test_temp_files_removed_on_exit_and_attachments_closed(tmp_path: Path) -> None:
    data = os.urandom(2 * MiB)
    async with read_mtom(content_type(), simple_message(data), spool_dir=tmp_path) as message:
        attachment = message.attachments["data@x"]
        (spooled,) = files_in(tmp_path)
        assert stat_of(spooled).st_size == len(data)
        assert stat.S_IMODE(stat_of(spooled).st_mode) == 0o600
    assert not spooled.exists()
    for use in (attachment.read(), attachment.save(tmp_path / "late"), message.resolve()):
        with pytest.raises(ReaderStateError, match=r"exited|closed"):
            await use
    with pytest.raises(ReaderStateError):
        async for _ in attachment:
            pass  # pragma: no cover


async def test_temp_files_removed_when_the_body_raises(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        async with read_mtom(
            content_type(), simple_message(os.urandom(MiB + 1)), spool_dir=tmp_path
        ):
            assert len(files_in(tmp_path)) == 1
            raise KeyError("user code failed")
    assert files_in(tmp_path) == []


async def test_cancellation_while_reading_removes_temp_files(tmp_path: Path) -> None:
    full = simple_message(os.urandom(3 * MiB))
    source = StallingSource(full[: 2 * MiB])
    async with anyio.create_task_group() as group:

        async def reader() -> None:
            async with read_mtom(content_type(), source, spool_dir=tmp_path):
                pytest.fail("the body never completes")  # pragma: no cover

        group.start_soon(reader)
        with anyio.fail_after(10):
            await source.stalled.wait()
        assert len(files_in(tmp_path)) == 1
        group.cancel_scope.cancel()
    assert files_in(tmp_path) == []
    assert source.closed


async def test_cancellation_inside_the_context_removes_temp_files(tmp_path: Path) -> None:
    with anyio.move_on_after(0.05) as scope:
        async with read_mtom(
            content_type(), simple_message(os.urandom(MiB + 1)), spool_dir=tmp_path
        ):
            assert len(files_in(tmp_path)) == 1
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert files_in(tmp_path) == []


async def test_source_errors_propagate_unchanged(tmp_path: Path) -> None:
    failure = ConnectionResetError("peer went away")

    async def failing() -> AsyncIterator[bytes]:
        yield simple_message(os.urandom(2 * MiB))[: MiB + MiB // 2]
        raise failure

    with pytest.raises(ConnectionResetError) as caught:
        async with read_mtom(content_type(), failing(), spool_dir=tmp_path):
            pass  # pragma: no cover
    assert caught.value is failure
    assert files_in(tmp_path) == []


# --- attachments: read, iterate, save --------------------------------------------


async def test_attachment_api(tmp_path: Path) -> None:
    data = os.urandom(MiB + 12345)
    headers = [*part_headers("data@x", "image/png"), "X-Extra: yes"]
    body = build([(ROOT_HEADERS, envelope(include("cid:data@x"))), (headers, data)])
    async with read_mtom(content_type(), body, spool_dir=tmp_path) as message:
        attachment = message.attachments["data@x"]
        assert (attachment.content_id, attachment.content_type, attachment.size) == (
            "data@x",
            "image/png",
            len(data),
        )
        assert ("X-Extra", "yes") in attachment.headers
        assert "data@x" in repr(attachment) and "file" in repr(attachment)
        assert b"".join([chunk async for chunk in attachment]) == data
        sizes = [len(chunk) async for chunk in attachment.iter_chunks(100_000)]
        assert max(sizes) == 100_000 and sum(sizes) == len(data)
        assert dict(message.attachments) == {"data@x": attachment}
        with pytest.raises(TypeError):
            message.attachments["other"] = attachment  # type: ignore[index]


async def test_in_memory_attachment_chunks() -> None:
    data = os.urandom(1000)
    async with read_mtom(content_type(), simple_message(data)) as message:
        attachment = message.attachments["data@x"]
        assert attachment.in_memory and "memory" in repr(attachment)
        assert [len(c) async for c in attachment.iter_chunks(300)] == [300, 300, 300, 100]
        assert b"".join([c async for c in attachment]) == data


async def test_save_moves_the_spooled_file(tmp_path: Path) -> None:
    spool, target = tmp_path / "spool", tmp_path / "out.bin"
    spool.mkdir()
    data = os.urandom(MiB + 1)
    async with read_mtom(content_type(), simple_message(data), spool_dir=spool) as message:
        attachment = message.attachments["data@x"]
        (spooled,) = files_in(spool)
        inode = stat_of(spooled).st_ino
        assert await attachment.save(target) == target
        assert files_in(spool) == []  # moved, not copied
        assert stat_of(target).st_ino == inode
        umask = os.umask(0o022)
        os.umask(umask)
        assert stat.S_IMODE(stat_of(target).st_mode) == 0o666 & ~umask
        assert await attachment.read() == data  # the saved file backs it now
        second = tmp_path / "copy.bin"
        await attachment.save(second)
        assert contents(second) == data and stat_of(target).st_ino != stat_of(second).st_ino
    assert contents(target) == data  # the caller's file is left in place
    assert contents(second) == data


async def test_save_copies_when_the_move_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()

    def cross_device(source: object, target: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", cross_device)
    data = os.urandom(MiB + 1)
    async with read_mtom(content_type(), simple_message(data), spool_dir=spool) as message:
        await message.attachments["data@x"].save(tmp_path / "out.bin")
        assert len(files_in(spool)) == 1
    assert contents(tmp_path / "out.bin") == data
    assert files_in(spool) == []


async def test_save_in_memory_attachment(tmp_path: Path) -> None:
    async with read_mtom(content_type(), simple_message(b"small")) as message:
        await message.attachments["data@x"].save(tmp_path / "small.bin")
    assert contents(tmp_path / "small.bin") == b"small"


async def test_context_entered_once() -> None:
    reading = read_mtom(content_type(), simple_message(b"x"))
    async with reading:
        with pytest.raises(ReaderStateError, match="once"):
            await reading.__aenter__()


# --- sources ------------------------------------------------------------------------


async def test_every_kind_of_source() -> None:
    data = b"\r\n" + os.urandom(70_000) + b"\r\n"
    body = simple_message(data)

    async def views() -> AsyncIterator[memoryview | bytearray]:
        for offset in range(0, len(body), 1000):
            yield memoryview(body)[offset : offset + 1000]
            yield bytearray()  # empty chunks are skipped

    stream = ChunkReceiveStream([body[:100], body[100:]])
    sources: list[object] = [
        body,
        bytearray(body),
        memoryview(body),
        views(),
        stream,
        LineIterableReader(body),
    ]
    for source in sources:
        async with read_mtom(content_type(), source) as message:  # type: ignore[arg-type]
            assert await message.attachments["data@x"].read() == data
    assert not stream.closed  # the caller's stream stays the caller's
    assert min(stream.requested) >= 64 * KiB


# --- memory -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["read_mtom", "iter_mtom"])
async def test_memory_stays_flat_whatever_the_part_size(mode: str, tmp_path: Path) -> None:
    """A 48 MiB part in fresh 256 KiB chunks: the peak of traced allocations stays small."""
    import tracemalloc

    size, block = 48 * MiB, os.urandom(256 * KiB)
    head, _, tail = simple_message(b"\x00").partition(b"\x00")

    async def source() -> AsyncIterator[bytes]:
        yield head
        for _ in range(size // len(block)):
            yield bytes(bytearray(block))  # a new object each time, as a socket gives
        yield tail

    tracemalloc.start()
    try:
        if mode == "read_mtom":
            async with read_mtom(content_type(), source(), spool_dir=tmp_path) as message:
                assert message.attachments["data@x"].size == size
        else:
            async with iter_mtom(content_type(), source()) as stream:
                sizes = [await drain(part) async for part in stream]
                assert sizes[1] == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * MiB, f"peak {peak / MiB:.1f} MiB for a {size / MiB:.0f} MiB part"


# --- details ------------------------------------------------------------------------------


async def test_root_without_content_type_takes_the_multipart_type() -> None:
    body = build(
        [
            (["Content-ID: <root@x>"], envelope(include("cid:data@x"))),
            (part_headers("data@x"), b"d"),
        ]
    )
    decoded = await decode(content_type(), body)
    assert decoded.media_type == "application/soap+xml"  # from start-info, via type=xop


async def test_href_naming_a_content_id_with_a_literal_percent() -> None:
    """A sender that did not percent-encode a '%' in its Content-ID still resolves."""
    root = envelope(include("cid:a%41@x"))
    body = build([(ROOT_HEADERS, root), (part_headers("a%41@x"), b"literal")])
    decoded = await decode(content_type(), body)
    assert decoded.resolved == resolved_by_hand(root, {include("cid:a%41@x"): b"literal"})


async def test_bytes_source_is_not_held_twice(tmp_path: Path) -> None:
    """A body given as one bytes object is fed in slices: no copy of a whole part."""
    import tracemalloc

    body = simple_message(os.urandom(24 * MiB))
    tracemalloc.start()
    try:
        async with read_mtom(content_type(), body, spool_dir=tmp_path) as message:
            assert message.attachments["data@x"].size == 24 * MiB
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * MiB


async def test_include_amplification_refused_before_any_output() -> None:
    """One 64 KiB part named by 2000 Includes: 170 MB of output from a 200 KB message."""
    data = os.urandom(64 * KiB)
    root = envelope(*[include("cid:data@x")] * 2000)
    body = build([(ROOT_HEADERS, root), (part_headers("data@x"), data)])
    async with read_mtom(content_type(), body) as message:
        with pytest.raises(MtomLimitError, match="max_resolved_size"):
            await message.resolve()
        produced = []
        with pytest.raises(MtomLimitError, match="max_resolved_size"):
            async for chunk in message.iter_resolved():
                produced.append(chunk)  # pragma: no cover - refused before the first
        assert produced == []
    async with read_mtom(content_type(), body, max_resolved_size=200 * MiB) as message:
        resolved = await message.resolve()
        assert resolved.count(base64.b64encode(data)) == 2000


async def test_resolved_size_default_allows_naming_parts_twice() -> None:
    big, small = os.urandom(100_000), os.urandom(10)
    root = envelope(include("cid:big@x"), include("cid:big@x"), *[include("cid:small@x")] * 50)
    body = build(
        [(ROOT_HEADERS, root), (part_headers("big@x"), big), (part_headers("small@x"), small)]
    )
    async with read_mtom(content_type(), body) as message:
        resolved = await message.resolve()
    assert resolved.count(base64.b64encode(big)) == 2
    async with read_mtom(content_type(), body, max_resolved_size=len(resolved) - 1) as message:
        with pytest.raises(MtomLimitError):
            await message.resolve()
    async with read_mtom(content_type(), body, max_resolved_size=len(resolved)) as message:
        assert await message.resolve() == resolved


async def test_progress_reports_bytes_received_per_part() -> None:
    from asyncmtom import MtomEncoding, Progress, XmlWriter

    writer = XmlWriter(MtomEncoding())
    writer.start_element("r", "urn:x")
    data = os.urandom(3 * 1024 * 1024 + 1)
    await writer.write_bytes(data)
    writer.end_element()
    body = b"".join([c async for c in writer.body()])
    reports: list[Progress] = []
    async with read_mtom(
        writer.content_type, body, progress=reports.append, content_length=len(body)
    ) as message:
        (attachment,) = message.attachments.values()
    assert reports[-1].done == reports[-1].total == len(body)
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    last_of_part = [r for r in reports if r.content_id == attachment.content_id][-1]
    assert last_of_part.part_done == len(data)
    with pytest.raises(TypeError):
        read_mtom(writer.content_type, body, progress=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        read_mtom(writer.content_type, 12)  # type: ignore[arg-type]
