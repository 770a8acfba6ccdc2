"""Reader fuzzing: whatever arrives, `read_mtom` and `iter_mtom` raise only `MtomError`s.

Hypothesis mutates valid MTOM messages (truncation, byte flips, insertions,
deletions, duplicated slices, header rewrites, Content-Type rewrites,
boundary runs inside data) and feeds them in random chunks, with small limits
so that every limit is reached too.  The oracle: reading (and ``resolve()``,
and reading back every attachment) either succeeds within the limits or raises
a subclass of `MtomError`; never another exception, never a hang (each run is
bounded in time), and no temporary file is left in the spool directory.

Targeted tests cover what mutation rarely reaches: DTD and entity bombs,
external entities, ``http:`` and ``file:`` hrefs, deep nesting, thousands of
tiny parts, huge headers, duplicate Content-IDs, endless and failing
sources, cancellation, and an amplification bomb (one part referenced many
times).  Every input that once failed is kept in ``tests/system/fuzz/corpus`` and
replayed here.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from fuzz.common import fuzz_settings
from hypothesis import event, given, note
from hypothesis import strategies as st

from asyncmtom import MtomError, MtomFormatError, MtomLimitError, iter_mtom, read_mtom

pytestmark = pytest.mark.anyio

CORPUS = Path(__file__).parent / "fuzz" / "corpus"
XOP = "http://www.w3.org/2004/08/xop/include"
TIME_LIMIT = 20  # seconds for one read of a fuzzed message, far above any real need

# -- seed messages ----------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    content_type: str
    body: bytes


def include(content_id: str) -> str:
    return f'<xop:Include xmlns:xop="{XOP}" href="cid:{content_id}"/>'


def mtom(
    root: str | bytes,
    parts: list[tuple[str, bytes]],
    *,
    boundary: str = "MIMEBoundary_fz",
    start: str | None = "root@fz",
    quoted: bool = True,
    preamble: bytes = b"",
    epilogue: bytes = b"\r\n",
    transfer: str = "binary",
    soap_type: str = "application/soap+xml",
) -> Message:
    """A multipart/related XOP message built by hand (so that it can be built wrong)."""
    q = '"' if quoted else ""
    params = f"type={q}application/xop+xml{q}; boundary={q}{boundary}{q}"
    if start is not None:
        params += f"; start={q}<{start}>{q}"
    params += f'; start-info="{soap_type}"'
    root_bytes = root.encode() if isinstance(root, str) else root
    out = bytearray(preamble)
    out += f"--{boundary}\r\n".encode()
    if start is not None:
        out += f"Content-ID: <{start}>\r\n".encode()
    out += f'Content-Type: application/xop+xml; charset=UTF-8; type="{soap_type}"\r\n'.encode()
    out += b"Content-Transfer-Encoding: binary\r\n\r\n" + root_bytes
    for content_id, data in parts:
        out += f"\r\n--{boundary}\r\nContent-ID: <{content_id}>\r\n".encode()
        out += b"Content-Type: application/octet-stream\r\n"
        out += f"Content-Transfer-Encoding: {transfer}\r\n\r\n".encode() + data
    out += f"\r\n--{boundary}--".encode() + epilogue
    return Message(f"multipart/related; {params}", bytes(out))


def envelope(body: str) -> str:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
        f'<s:Body><m:R xmlns:m="urn:fz">{body}</m:R></s:Body></s:Envelope>'
    )


def blob(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def seed_messages() -> list[Message]:
    a, b = blob(1, 3000), b"\r\n--MIMEBoundary_f\r\n--\r\n" + blob(2, 200)
    return [
        mtom(envelope(f"<m:a>{include('a@fz')}</m:a>"), [("a@fz", a)]),
        mtom(
            envelope(f"<m:a>{include('a@fz')}</m:a><m:b>{include('b@fz')}</m:b>"),
            [("a@fz", a), ("b@fz", b)],
        ),
        mtom(envelope("<m:t>text only</m:t>"), [], start=None, quoted=False),
        mtom(envelope(f"<m:a>{include('a@fz')}</m:a>"), [("a@fz", b"")], preamble=b"pre\r\n"),
        mtom(
            envelope(f"<m:a>{include('a@fz')}</m:a>"),
            [("a@fz", b"QUJD\r\nREVG\r\n")],
            transfer="base64",
            epilogue=b"",
        ),
        mtom(
            envelope("".join(f"<m:p>{include(f'{i}@fz')}</m:p>" for i in range(6))),
            [(f"{i}@fz", blob(i, i * 50)) for i in range(6)],
            boundary="uuid:0a0b0c0d-1111-4222-8333-444455556666",
        ),
        Message("application/soap+xml; charset=utf-8", envelope("<m:plain/>").encode()),
        Message("text/xml", b"<?xml version='1.0'?><a>plain</a>"),
    ]


SEEDS = seed_messages()

# -- mutations ---------------------------------------------------------------------

INSERTS = [
    b"\r\n",
    b"\n",
    b"\r",
    b"--",
    b"\r\n--MIMEBoundary_fz",
    b"\r\n--MIMEBoundary_fz\r\n",
    b"\r\n--MIMEBoundary_fz--\r\n",
    b"\r\n--MIMEBoundary_fz\r\nContent-ID: <a@fz>\r\n\r\n",
    b"\r\n\r\n",
    b"\x00",
    b"\xff\xfe\xfd",
    b"\xc3\x28",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Length: 7\r\n",
    b"Content-ID: <a@fz>\r\n",
    b" folded\r\n",
    b"X-Long: " + b"x" * 20000 + b"\r\n",
    b"<!DOCTYPE a [<!ENTITY e 'x'>]>",
    b"&e;",
    b"<![CDATA[x]]>",
    b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:a@fz"/>',
    b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="http://x/"/>',
    b'href="file:///etc/passwd"',
    b"%",
    b"cid:%ZZ",
    b"\xef\xbb\xbf",
]

CONTENT_TYPE_REWRITES = [
    lambda ct: ct.replace("boundary=", "boundary-x="),
    lambda ct: ct.replace("MIMEBoundary_fz", "MIMEBoundary_f"),
    lambda ct: ct.replace("MIMEBoundary_fz", "MIMEBoundary_fzz"),
    lambda ct: ct.replace("MIMEBoundary_fz", ""),
    lambda ct: ct.replace("root@fz", "nowhere@fz"),
    lambda ct: ct.replace("root@fz", "a@fz"),
    lambda ct: ct.replace('"', ""),
    lambda ct: ct.replace('"', "", 1),
    lambda ct: ct.replace("multipart/related", "multipart/mixed"),
    lambda ct: ct.replace("multipart/related", "text/xml"),
    lambda ct: ct.replace(";", "", 1),
    lambda ct: ct + '; boundary="other"',
    lambda ct: "boundary=" + ct,
    lambda ct: ct.upper(),
    lambda ct: "",
    lambda ct: "multipart/related",
    lambda ct: "multipart/related; boundary=\r\n",
    lambda ct: "multipart/related; boundary=" + "b" * 5000,
    lambda ct: ct + "; \u00e9=\u00e9",
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Message, list[str]]:
    message = draw(st.sampled_from(SEEDS))
    content_type, body = message.content_type, bytearray(message.body)
    done = []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate", "ctype", "swap"])
        )
        done.append(op)
        where = draw(st.integers(0, len(body)))
        if op == "truncate":
            del body[where:]
        elif op == "flip" and body:
            body[where % len(body)] ^= draw(st.integers(1, 255))
        elif op == "insert":
            body[where:where] = draw(st.sampled_from(INSERTS) | st.binary(max_size=20))
        elif op == "delete":
            del body[where : where + draw(st.integers(1, 40))]
        elif op == "duplicate":
            size = draw(st.integers(1, 400))
            body[where:where] = body[where : where + size]
        elif op == "swap":  # one header line's value for another's
            text = bytes(body)
            lines = [i for i in range(len(text)) if text.startswith(b"\r\nContent-", i)]
            if len(lines) >= 2:
                i, j = draw(st.sampled_from(lines)), draw(st.sampled_from(lines))
                li = text[i : text.find(b"\r\n", i + 2)]
                lj = text[j : text.find(b"\r\n", j + 2)]
                body = bytearray(text.replace(li, lj, 1))
        else:
            content_type = draw(st.sampled_from(CONTENT_TYPE_REWRITES))(content_type)
    return Message(content_type, bytes(body)), done


GENEROUS = {
    "max_parts": 1000,
    "max_header_size": 16 * 1024,
    "max_headers": 32,
    "max_part_size": 2**32,
    "max_total_size": 2**33,
    "max_root_size": 32 * 1024 * 1024,
}
#: The defaults half of the time (so that mutations reach deep into the
#: parser), small limits the other half (so that every limit is reached).
limits = st.one_of(
    st.just(GENEROUS),
    st.fixed_dictionaries(
        {
            "max_parts": st.sampled_from([1, 3, 1000]),
            "max_header_size": st.sampled_from([100, 16 * 1024]),
            "max_headers": st.sampled_from([2, 32]),
            "max_part_size": st.sampled_from([100, 4000, 2**32]),
            "max_total_size": st.sampled_from([500, 10_000, 2**33]),
            "max_root_size": st.sampled_from([50, 32 * 1024 * 1024]),
        }
    ),
)

chunkings = st.lists(st.integers(1, 5000), min_size=1, max_size=4)

# -- the oracle ----------------------------------------------------------------------


async def chunks_of(body: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    position, index = 0, 0
    while position < len(body):
        size = sizes[index % len(sizes)]
        yield body[position : position + size]
        position += size
        index += 1
        if index % 7 == 0:
            await anyio.lowlevel.checkpoint()


@dataclass
class Outcome:
    error: MtomError | None
    parts: int = 0
    root_size: int = 0
    sizes: tuple[int, ...] = ()
    digest: str = ""  # of the root, every attachment and the resolved XML, when read


async def read_whole(
    message: Message, sizes: list[int], limit: dict[str, int], spool: str, threshold: int
) -> Outcome:
    """`read_mtom`, every attachment read back, `resolve()`; only `MtomError` may escape."""
    outcome = Outcome(None)
    try:
        with anyio.fail_after(TIME_LIMIT):
            async with read_mtom(
                message.content_type,
                chunks_of(message.body, sizes),
                spool_threshold=threshold,
                spool_dir=spool,
                **limit,
            ) as result:
                outcome.parts = 1 + len(result.attachments)
                outcome.root_size = len(result.root)
                digest = hashlib.sha256(result.root)
                sizes_seen = []
                for content_id, attachment in sorted(result.attachments.items()):
                    data = await attachment.read()
                    assert len(data) == attachment.size
                    sizes_seen.append(attachment.size)
                    digest.update(content_id.encode() + b"\0" + data)
                outcome.sizes = tuple(sizes_seen)
                resolved = await result.resolve()
                assert isinstance(resolved, bytes)
                digest.update(resolved)
                outcome.digest = digest.hexdigest()
    except MtomError as exc:
        outcome.error = exc
    assert os.listdir(spool) == [], "no temporary file is left behind"
    return outcome


async def read_streaming(message: Message, sizes: list[int], limit: dict[str, int]) -> None:
    """`iter_mtom`, part by part, some parts skipped; only `MtomError` may escape."""
    with anyio.fail_after(TIME_LIMIT):
        try:
            async with iter_mtom(
                message.content_type, chunks_of(message.body, sizes), **limit
            ) as stream:
                number = 0
                async for part in stream:
                    number += 1
                    if number % 2:
                        async for chunk in part:
                            assert isinstance(chunk, bytes)
        except MtomError:
            pass


def check_limits(outcome: Outcome, limit: dict[str, int]) -> None:
    """A read that succeeded stayed within its limits."""
    if outcome.error is None:
        assert outcome.parts <= limit["max_parts"]
        assert outcome.root_size <= limit["max_root_size"]
        assert all(size <= limit["max_part_size"] for size in outcome.sizes)
        assert sum(outcome.sizes) + outcome.root_size <= limit["max_total_size"]


@given(
    case=mutated(),
    sizes=chunkings,
    limit=limits,
    threshold=st.sampled_from([0, 100, 1024 * 1024]),
)
@fuzz_settings(200, long_share=4.0)
async def test_mutated_messages_raise_only_documented_errors(
    anyio_backend: str,
    case: tuple[Message, list[str]],
    sizes: list[int],
    limit: dict[str, int],
    threshold: int,
) -> None:
    message, operations = case
    note(f"content type: {message.content_type!r}; operations: {operations}")
    with tempfile.TemporaryDirectory() as spool:
        outcome = await read_whole(message, sizes, limit, spool, threshold)
        # However the bytes are cut, a message reads or fails alike, to the same result.
        whole = await read_whole(message, [len(message.body) or 1], limit, spool, threshold)
    event(f"read_mtom: {type(outcome.error).__name__ if outcome.error else 'read'}")
    check_limits(outcome, limit)
    assert (outcome.error is None) == (whole.error is None), (outcome.error, whole.error)
    assert outcome.digest == whole.digest
    await read_streaming(message, sizes, limit)


@given(case=st.sampled_from(SEEDS), sizes=chunkings)
@fuzz_settings(30, long_share=0.1)
async def test_seed_messages_are_read(anyio_backend: str, case: Message, sizes: list[int]) -> None:
    """The unmutated seeds are valid: they must read without error (else fuzzing proves little)."""
    with tempfile.TemporaryDirectory() as spool:
        outcome = await read_whole(case, sizes, GENEROUS, spool, 100)
    assert outcome.error is None, outcome.error


@given(data=st.binary(max_size=3000), sizes=chunkings, limit=limits)
@fuzz_settings(60, long_share=1.0)
async def test_random_bytes(
    anyio_backend: str, data: bytes, sizes: list[int], limit: dict[str, int]
) -> None:
    with tempfile.TemporaryDirectory() as spool:
        for content_type in (SEEDS[0].content_type, "text/xml"):
            await read_whole(Message(content_type, data), sizes, limit, spool, 0)


# -- targeted bad inputs ---------------------------------------------------------------


async def read_expect(
    message: Message,
    error: type[MtomError] | None,
    *,
    resolve: bool = True,
    spool_threshold: int = 0,
    **limit: Any,
) -> MtomError | None:
    """Read *message*; it must raise *error* (from reading or from resolve()), or succeed."""
    with tempfile.TemporaryDirectory() as spool:
        try:
            with anyio.fail_after(TIME_LIMIT):
                async with read_mtom(
                    message.content_type,
                    message.body,
                    spool_dir=spool,
                    spool_threshold=spool_threshold,
                    **limit,
                ) as result:
                    for attachment in result.attachments.values():
                        await attachment.read()
                    if resolve:
                        await result.resolve()
        except MtomError as exc:
            assert error is not None, f"unexpected {exc!r}"
            assert isinstance(exc, error), repr(exc)
            return exc
        finally:
            assert os.listdir(spool) == []
    assert error is None, f"expected {error.__name__}"
    return None


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i + 1} "{("&lol" + (str(i) if i else "") + ";") * 10}">' for i in range(9)
    )
    + "]><lolz>&lol9;</lolz>"
)
XXE = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
PARAMETER_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><r/>'
)

BAD_ROOTS = {
    "billion-laughs": BILLION_LAUGHS,
    "external-entity": XXE,
    "parameter-entity": PARAMETER_ENTITY,
    "http-href": envelope(
        f'<m:a><xop:Include xmlns:xop="{XOP}" href="http://127.0.0.1:9/"/></m:a>'
    ),
    "file-href": envelope(f'<m:a><xop:Include xmlns:xop="{XOP}" href="file:///etc/passwd"/></m:a>'),
    "relative-href": envelope(f'<m:a><xop:Include xmlns:xop="{XOP}" href="a@fz"/></m:a>'),
    "no-href": envelope(f'<m:a><xop:Include xmlns:xop="{XOP}"/></m:a>'),
    "missing-part": envelope(f"<m:a>{include('missing@fz')}</m:a>"),
    "bad-percent": envelope(f'<m:a><xop:Include xmlns:xop="{XOP}" href="cid:%FF%FE"/></m:a>'),
    "text-in-include": envelope(
        f'<m:a><xop:Include xmlns:xop="{XOP}" href="cid:a@fz">x</xop:Include></m:a>'
    ),
    "child-in-include": envelope(
        f'<m:a><xop:Include xmlns:xop="{XOP}" href="cid:a@fz"><b/></xop:Include></m:a>'
    ),
    "text-beside-include": envelope(f"<m:a>text{include('a@fz')}</m:a>"),
    "two-includes": envelope(f"<m:a>{include('a@fz')}{include('a@fz')}</m:a>"),
    "include-as-root": include("a@fz"),
    "not-well-formed": "<a><b></a>",
    "empty-root": "",
}


@pytest.mark.parametrize("name", sorted(BAD_ROOTS))
async def test_bad_root_xml_is_refused(anyio_backend: str, name: str) -> None:
    root = BAD_ROOTS[name]
    message = mtom(root, [("a@fz", b"attachment")])
    tracemalloc.start()
    try:
        await read_expect(message, MtomFormatError)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"{peak} bytes allocated refusing {name}"


async def test_includes_pointing_at_one_part_twice_are_allowed(anyio_backend: str) -> None:
    root = envelope(f"<m:a>{include('a@fz')}</m:a><m:b>{include('a@fz')}</m:b>")
    await read_expect(mtom(root, [("a@fz", b"shared")]), None)


async def test_a_small_part_named_three_times_is_resolved(anyio_backend: str) -> None:
    root = envelope("".join(f"<m:p>{include('a@fz')}</m:p>" for _ in range(3)))
    await read_expect(mtom(root, [("a@fz", b"logo" * 2500)]), None)


async def test_deep_nesting(anyio_backend: str) -> None:
    depth = 100_000
    root = "<a>" * depth + include("a@fz") + "</a>" * depth
    started = time.perf_counter()
    await read_expect(mtom(root, [("a@fz", b"deep")]), None)
    assert time.perf_counter() - started < TIME_LIMIT


async def test_thousands_of_tiny_parts(anyio_backend: str) -> None:
    count = 5000
    root = envelope("".join(f"<m:p>{include(f'{i}@fz')}</m:p>" for i in range(count)))
    message = mtom(root, [(f"{i}@fz", bytes([i % 256])) for i in range(count)])
    threshold = 1024 * 1024  # the default: tiny parts stay in memory
    error = await read_expect(message, MtomLimitError, spool_threshold=threshold)
    assert "max_parts" in str(error) or "segment" in str(error).lower()
    started = time.perf_counter()
    await read_expect(message, None, spool_threshold=threshold, max_parts=count + 1)
    elapsed = time.perf_counter() - started
    print(f"{count} parts read and resolved in {elapsed:.2f} s")
    assert elapsed < TIME_LIMIT


@pytest.mark.parametrize("shape", ["one-long-line", "many-lines", "folded"])
async def test_huge_headers(anyio_backend: str, shape: str) -> None:
    message = mtom(envelope(f"<m:a>{include('a@fz')}</m:a>"), [("a@fz", b"x")])
    if shape == "one-long-line":
        extra = b"X-Huge: " + b"h" * (1024 * 1024) + b"\r\n"
    elif shape == "many-lines":
        extra = b"".join(b"X-%d: v\r\n" % i for i in range(20_000))
    else:
        extra = b"X-Folded: v\r\n" + b" more\r\n" * 20_000
    body = message.body.replace(b"Content-ID: <a@fz>\r\n", b"Content-ID: <a@fz>\r\n" + extra)
    tracemalloc.start()
    try:
        await read_expect(Message(message.content_type, body), MtomLimitError)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024 + 2 * len(body)


async def test_duplicate_content_ids(anyio_backend: str) -> None:
    root = envelope(f"<m:a>{include('a@fz')}</m:a>")
    await read_expect(mtom(root, [("a@fz", b"one"), ("a@fz", b"two")]), MtomFormatError)
    await read_expect(mtom(root, [("root@fz", b"x"), ("a@fz", b"y")]), MtomFormatError)


async def test_boundary_inside_data(anyio_backend: str) -> None:
    """A part holding its own delimiter is cut there; the rest never passes for valid parts."""
    data = b"before\r\n--MIMEBoundary_fz\r\nafter"
    message = mtom(envelope(f"<m:a>{include('a@fz')}</m:a>"), [("a@fz", data)])
    await read_expect(message, MtomFormatError)
    data = b"before\r\n--MIMEBoundary_fz--\r\nafter"  # looks like the end
    message = mtom(envelope(f"<m:a>{include('a@fz')}</m:a>"), [("a@fz", data)])
    with tempfile.TemporaryDirectory() as spool:
        async with read_mtom(message.content_type, message.body, spool_dir=spool) as result:
            # The message ends at the first closing delimiter, as MIME says: the
            # part is what came before it, and nothing after is taken as data.
            assert await result.attachments["a@fz"].read() == b"before"


@pytest.mark.parametrize(
    ("limit", "value", "size"),
    [
        ("max_root_size", 1000, 5000),
        ("max_part_size", 1000, 5000),
        ("max_total_size", 3000, 5000),
    ],
)
async def test_size_limits(anyio_backend: str, limit: str, value: int, size: int) -> None:
    if limit == "max_root_size":
        message = mtom(envelope("<m:t>" + "x" * size + "</m:t>"), [])
    else:
        message = mtom(envelope(f"<m:a>{include('a@fz')}</m:a>"), [("a@fz", b"y" * size)])
    error = await read_expect(message, MtomLimitError, **{limit: value})
    assert limit in str(error) or "size" in str(error).lower()
    await read_expect(message, None, **{limit: 10 * size})


async def test_endless_source_stops_at_max_total_size(anyio_backend: str) -> None:
    async def endless() -> AsyncIterator[bytes]:
        head = mtom(envelope(f"<m:a>{include('a@fz')}</m:a>"), [("a@fz", b"")]).body
        yield head[: head.rindex(b"\r\n--")]
        while True:
            yield b"z" * 65536

    message = mtom("", [])
    with tempfile.TemporaryDirectory() as spool, anyio.fail_after(TIME_LIMIT):
        with pytest.raises(MtomLimitError):
            async with read_mtom(
                message.content_type, endless(), spool_dir=spool, max_total_size=10 * 2**20
            ):
                pass
        assert os.listdir(spool) == []


async def test_failing_source_and_cancellation_remove_spool_files(anyio_backend: str) -> None:
    class NetworkDown(Exception):
        pass

    message = mtom(envelope(f"<m:a>{include('a@fz')}</m:a>"), [("a@fz", blob(3, 300_000))])
    cut = len(message.body) - 1000

    async def failing() -> AsyncIterator[bytes]:
        yield message.body[:cut]
        raise NetworkDown

    async def stalled() -> AsyncIterator[bytes]:
        yield message.body[:cut]
        await anyio.sleep(3600)

    with tempfile.TemporaryDirectory() as spool:
        with pytest.raises(NetworkDown):
            async with read_mtom(
                message.content_type, failing(), spool_dir=spool, spool_threshold=0
            ):
                pass
        assert os.listdir(spool) == []
        with anyio.move_on_after(0.3) as scope:
            async with read_mtom(
                message.content_type, stalled(), spool_dir=spool, spool_threshold=0
            ):
                pass
        assert scope.cancelled_caught
        assert os.listdir(spool) == []


async def test_reference_amplification_is_bounded(anyio_backend: str) -> None:
    """A 64 KiB part named by 20 000 Includes (a 1 MiB message) would resolve to 1.7 GB."""
    count = 20_000
    root = envelope("".join(f"<m:p>{include('a@fz')}</m:p>" for _ in range(count)))
    message = mtom(root, [("a@fz", blob(4, 65536))])
    produced = 0
    with tempfile.TemporaryDirectory() as spool:
        try:
            async with read_mtom(message.content_type, message.body, spool_dir=spool) as result:
                async for chunk in result.iter_resolved():
                    produced += len(chunk)
                    if produced > 100 * len(message.body):
                        break  # stop before the machine runs out of memory
        except MtomError:
            return  # refused: fine
    assert produced <= 100 * len(message.body), "output 100 times the message size"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_media_type_parsing_is_linear(anyio_backend: str) -> None:
    """A 600 kB Content-Type: linear parsing takes under 0.1 s, quadratic over a second."""
    message = mtom(envelope("<m:t/>"), [])
    content_type = "multipart/related; " + "x;" * 300_000 + 'boundary="MIMEBoundary_fz"'
    started = time.perf_counter()
    async with read_mtom(content_type, message.body):
        pass
    assert time.perf_counter() - started < 0.4


# -- regression inputs ---------------------------------------------------------------------


def corpus_cases() -> list[Any]:
    cases = []
    for path in sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []:
        cases.append(pytest.param(json.loads(path.read_text("utf-8")), id=path.stem))
    return cases


@pytest.mark.parametrize("case", corpus_cases())
async def test_corpus(anyio_backend: str, case: dict[str, Any]) -> None:
    """Inputs kept from fuzzing: each still gets the outcome recorded in ``expect``.

    ``expect`` is ``read``, or the name of the `MtomError` subclass raised.
    A crash saved by ``tests/system/fuzz/run.py`` has no ``expect`` until it is fixed
    and the outcome is recorded: then only "an MtomError or a read" is checked.
    """
    message = Message(case["content_type"], bytes.fromhex(case["body"]))
    limit = {**GENEROUS, **case.get("limits", {})}
    with tempfile.TemporaryDirectory() as spool:
        for sizes in ([len(message.body) or 1], [1], [7, 4096]):
            outcome = await read_whole(message, sizes, limit, spool, case.get("spool_threshold", 0))
            got = type(outcome.error).__name__ if outcome.error else "read"
            assert case.get("expect", got) == got, case.get("note")
            await read_streaming(message, sizes, limit)
