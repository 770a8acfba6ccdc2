"""One benchmark row per process: ``python benchmarks/senders.py ROW [options]``.

Each row sends (or, for the in-process rows, serializes) one payload once and
prints one JSON line: wall seconds and CPU seconds of the timed region, the
process's peak RSS (``VmHWM``, the whole life of the process: interpreter
and imports included) and the peak RSS reached before the timed region began.
``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the
parent through fork and exec, so a small sender started by ``run.py`` would
report at least ``run.py``'s own peak.
``run.py`` starts a fresh process for every row and repetition so that each
peak RSS belongs to that row alone.

The payload is one block of random bytes (``--chunk`` bytes, 64 KiB by default)
handed to the sender again and again as the same ``bytes`` object, so the data
source costs nothing and every sender gets the same chunks.  The timed region
starts once the client exists (a connection pool, a parsed WSDL) and ends when
the response has been read; the sender then checks the receiver's byte count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH_NS = "urn:asyncmtom:bench"
ACTION = "urn:asyncmtom:bench:Upload"


@dataclass
class Context:
    url: str
    host: str
    port: int
    size: int
    chunk: bytes
    parts: int
    backend: str
    wall: float = 0.0
    cpu: float = 0.0
    rss_before_kib: int = 0
    minor_faults: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def timed(self) -> Iterator[None]:
        self.rss_before_kib = peak_rss_kib()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = usage.ru_utime + usage.ru_stime
        faults0 = usage.ru_minflt
        t0 = time.perf_counter()
        yield
        self.wall = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = usage.ru_utime + usage.ru_stime - cpu0
        self.minor_faults = usage.ru_minflt - faults0


def peak_rss_kib() -> int:
    """This process's peak RSS in KiB: VmHWM, else ``ru_maxrss`` (see the module docstring)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- the payload -------------------------------------------------------------------------


def iter_chunks(size: int, chunk: bytes) -> Iterator[bytes]:
    full, rest = divmod(size, len(chunk))
    for _ in range(full):
        yield chunk
    if rest:
        yield chunk[:rest]


async def agen(size: int, chunk: bytes) -> AsyncIterator[bytes]:
    full, rest = divmod(size, len(chunk))
    for _ in range(full):
        yield chunk
    if rest:
        yield chunk[:rest]


async def push(write: Callable[[bytes], Awaitable[Any]], size: int, chunk: bytes) -> None:
    full, rest = divmod(size, len(chunk))
    for _ in range(full):
        await write(chunk)
    if rest:
        await write(chunk[:rest])


class ReadSource:
    """A pull source with ``async read(n)``, like an open file, backed by the one chunk."""

    def __init__(self, size: int, chunk: bytes) -> None:
        self.left = size
        self.chunk = chunk
        self.view = memoryview(chunk)

    async def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = len(self.chunk) if n is None or n < 0 else n
        n = min(n, self.left, len(self.chunk))
        self.left -= n
        return self.chunk if n == len(self.chunk) else self.chunk[:n]


class CountingSink:
    """The in-process destination: counts what it is sent, keeps nothing."""

    def __init__(self) -> None:
        self.count = 0
        self.calls = 0

    async def send(self, item: bytes | bytearray | memoryview) -> None:
        self.count += len(item)
        self.calls += 1


def check(ctx: Context, received: int, expected: int | None, at_least: int) -> None:
    ctx.extra["body_bytes"] = received
    if expected is not None and received != expected:
        raise SystemExit(f"receiver counted {received} bytes, expected {expected}")
    if received < at_least:
        raise SystemExit(f"receiver counted {received} bytes, fewer than the payload {at_least}")


# -- baselines ---------------------------------------------------------------------------


async def raw_socket(ctx: Context) -> None:
    """asyncio streams, the request head then 64 KiB writes, each followed by drain()."""
    reader, writer = await asyncio.open_connection(ctx.host, ctx.port)
    head = (
        f"POST / HTTP/1.1\r\nHost: {ctx.host}:{ctx.port}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {ctx.size}\r\n\r\n"
    ).encode()
    with ctx.timed():
        writer.write(head)
        for chunk in iter_chunks(ctx.size, ctx.chunk):
            writer.write(chunk)
            await writer.drain()
        response = await reader.readuntil(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in response.decode("latin-1").split("\r\n")[1:] if line
        )
        await reader.readexactly(int(headers["Content-Length"]))
    writer.close()
    await writer.wait_closed()
    check(ctx, int(headers["X-Received-Bytes"]), ctx.size, ctx.size)


Message = Callable[[], tuple[dict[str, str], Any]]


async def aiohttp_post(ctx: Context, message: Message) -> int:
    """POST the (headers, body) that ``message()`` builds, inside the timed region."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        with ctx.timed():
            headers, body = message()
            async with http.post(ctx.url, data=body, headers=headers) as response:
                await response.read()
                response.raise_for_status()
        return int(response.headers["X-Received-Bytes"])


async def httpx_post(ctx: Context, message: Message) -> int:
    """POST the (headers, body) that ``message()`` builds, inside the timed region."""
    import httpx

    async with httpx.AsyncClient(timeout=None) as client:
        with ctx.timed():
            headers, body = message()
            response = await client.post(ctx.url, content=body, headers=headers)
            response.raise_for_status()
        return int(response.headers["X-Received-Bytes"])


OCTETS = "application/octet-stream"


def octets(ctx: Context, with_length: bool) -> Message:
    headers = {"Content-Type": OCTETS}
    if with_length:
        headers["Content-Length"] = str(ctx.size)
    return lambda: (headers, agen(ctx.size, ctx.chunk))


async def aiohttp_agen_cl(ctx: Context) -> None:
    check(ctx, await aiohttp_post(ctx, octets(ctx, True)), ctx.size, ctx.size)


async def aiohttp_agen_chunked(ctx: Context) -> None:
    check(ctx, await aiohttp_post(ctx, octets(ctx, False)), ctx.size, ctx.size)


async def httpx_agen_cl(ctx: Context) -> None:
    check(ctx, await httpx_post(ctx, octets(ctx, True)), ctx.size, ctx.size)


async def httpx_agen_chunked(ctx: Context) -> None:
    check(ctx, await httpx_post(ctx, octets(ctx, False)), ctx.size, ctx.size)


async def hand_mtom_httpx(ctx: Context, with_length: bool) -> None:
    from handmtom import hand_mtom

    built: list[dict[str, str]] = []

    def message() -> tuple[dict[str, str], Any]:
        headers, body = hand_mtom(agen(ctx.size, ctx.chunk), ctx.size if with_length else None)
        built.append(headers)
        return headers, body

    received = await httpx_post(ctx, message)
    expected = int(built[0]["Content-Length"]) if with_length else None
    check(ctx, received, expected, ctx.size)


async def hand_mtom_httpx_cl(ctx: Context) -> None:
    await hand_mtom_httpx(ctx, True)


async def hand_mtom_httpx_chunked(ctx: Context) -> None:
    await hand_mtom_httpx(ctx, False)


def zeep_inline(ctx: Context) -> None:
    """zeep (requests transport) sending the payload inline as base64 (no MTOM)."""
    from zeep import Client
    from zeep.transports import Transport

    client = Client(str(HERE / "bench.wsdl"), transport=Transport())  # type: ignore[no-untyped-call]
    service = client.create_service(f"{{{BENCH_NS}}}BenchBinding", ctx.url)  # type: ignore[no-untyped-call]
    full, rest = divmod(ctx.size, len(ctx.chunk))
    payload = ctx.chunk * full + ctx.chunk[:rest]  # zeep needs the whole value in memory
    with ctx.timed():
        received = service.Upload(name="payload.bin", data=payload)
    check(ctx, int(received), None, ctx.size * 4 // 3)


# -- asyncmtom ---------------------------------------------------------------------------


def make_signer() -> Any:
    """An RSA-2048 key and a self-signed certificate for the signed rows (made untimed)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    from asyncmtom.wssec import Signer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "asyncmtom benchmark")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return Signer(key, certificate)


async def fill_writer(ctx: Context, mode: str, declare_size: bool) -> Any:
    """The Upload message; with ``ctx.extra["signer"]``, signed (Body and Timestamp)."""
    from asyncmtom import SOAP12, MtomEncoding, XmlWriter

    writer = XmlWriter(MtomEncoding(soap=SOAP12, action=ACTION))
    size = ctx.size if declare_size else None
    signer = ctx.extra.pop("signer", None)
    signature = None
    with writer.element("Envelope", SOAP12.namespace, "s"):
        if signer is not None:
            with writer.element("Header", SOAP12.namespace, "s"):
                signature = signer.write_security(writer)
        with writer.element("Body", SOAP12.namespace, "s"):
            if signature is not None:
                signature.sign_element(writer)
            await fill_upload(ctx, writer, mode, size)
    if signature is not None:
        await signature.sign()  # the first pass over the part: its digest
    return writer


async def fill_upload(ctx: Context, writer: Any, mode: str, size: int | None) -> None:
    with writer.element("Upload", BENCH_NS, "b"):
        with writer.element("name", BENCH_NS, "b"):
            writer.text("payload.bin")
        with writer.element("data", BENCH_NS, "b"):
            if mode == "push":
                await writer.push_bytes(push, ctx.size, ctx.chunk, size=size)
            elif mode == "pull":
                await writer.pull_bytes(agen(ctx.size, ctx.chunk), size=size)
            elif mode == "read":
                await writer.pull_bytes(ReadSource(ctx.size, ctx.chunk), size=size)
            else:
                raise ValueError(mode)


async def rechunked(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """The body's chunks joined into chunks of at least ``size`` bytes (one copy each)."""
    batch: list[bytes] = []
    gathered = 0
    async for chunk in chunks:
        batch.append(chunk)
        gathered += len(chunk)
        if gathered >= size:
            yield b"".join(batch)
            batch.clear()
            gathered = 0
    if batch:
        yield b"".join(batch)


async def asyncmtom_http(
    ctx: Context, client: str, mode: str, declare_size: bool, join: int = 0, digest: bool = False
) -> None:
    """One upload; with ``digest`` the receiver answers 401 after the headers and the
    client's Digest authentication sends the whole message again."""
    state: dict[str, Any] = {}
    url = ctx.url.rstrip("/") + "/digest" if digest else ctx.url

    def body(writer: Any) -> Any:
        state["body"] = writer.body()
        return rechunked(state["body"], join) if join else state["body"]

    if client == "httpx":
        import httpx

        auth = httpx.DigestAuth("bench", "bench") if digest else None
        async with httpx.AsyncClient(timeout=None, auth=auth) as http_client:
            with ctx.timed():
                writer = await fill_writer(ctx, mode, declare_size)
                state["length"] = writer.content_length
                response = await http_client.post(url, content=body(writer), headers=writer.headers)
                response.raise_for_status()
            received = int(response.headers["X-Received-Bytes"])
    else:
        import aiohttp

        middlewares = (aiohttp.DigestAuthMiddleware("bench", "bench"),) if digest else ()
        async with aiohttp.ClientSession(middlewares=middlewares) as aio_client:
            with ctx.timed():
                writer = await fill_writer(ctx, mode, declare_size)
                state["length"] = writer.content_length
                async with aio_client.post(
                    url, data=body(writer), headers=writer.headers
                ) as aio_response:
                    await aio_response.read()
                    aio_response.raise_for_status()
            received = int(aio_response.headers["X-Received-Bytes"])
    if declare_size and state["length"] is None:
        raise SystemExit("the writer did not compute a Content-Length for a declared size")
    passes = getattr(state["body"], "passes", 1)
    if digest and passes != 2:
        raise SystemExit(f"the Digest row made {passes} passes over the body, not 2")
    ctx.extra["passes"] = passes
    check(ctx, received, state["length"], ctx.size)


def make_http_row(
    client: str,
    mode: str,
    declare_size: bool,
    join: int = 0,
    signed: bool = False,
    digest: bool = False,
) -> Callable[[Context], Any]:
    async def row(ctx: Context) -> None:
        if signed:
            ctx.extra["signer"] = make_signer()
        await asyncmtom_http(ctx, client, mode, declare_size, join, digest)

    return row


async def asyncmtom_sink(ctx: Context, mode: str, how: str) -> None:
    sink = CountingSink()
    with ctx.timed():
        writer = await fill_writer(ctx, mode, True)
        if how == "write_to":
            await writer.write_to(sink)
        else:
            async for piece in writer.body():
                await sink.send(piece)
    ctx.extra["sends"] = sink.calls
    check(ctx, sink.count, writer.content_length, ctx.size)


async def asyncmtom_push_sink(ctx: Context) -> None:
    await asyncmtom_sink(ctx, "push", "write_to")


async def asyncmtom_pull_sink(ctx: Context) -> None:
    await asyncmtom_sink(ctx, "pull", "write_to")


async def asyncmtom_read_sink(ctx: Context) -> None:
    await asyncmtom_sink(ctx, "read", "write_to")


async def asyncmtom_push_body(ctx: Context) -> None:
    await asyncmtom_sink(ctx, "push", "body")


async def asyncmtom_signed_push_sink(ctx: Context) -> None:
    """asyncmtom-push-sink with the Body and a Timestamp signed: two passes over the part."""
    ctx.extra["signer"] = make_signer()
    await asyncmtom_sink(ctx, "push", "write_to")


async def memcopy_sink(ctx: Context) -> None:
    """The yardstick for in-process serialization: copy every chunk once, count it."""
    target = bytearray(len(ctx.chunk))
    view = memoryview(target)
    count = 0
    with ctx.timed():
        for chunk in iter_chunks(ctx.size, ctx.chunk):
            n = len(chunk)
            view[:n] = memoryview(chunk)
            count += n
    check(ctx, count, ctx.size, ctx.size)


async def fill_parts(ctx: Context) -> Any:
    from asyncmtom import SOAP12, MtomEncoding, XmlWriter

    part = ctx.chunk[: ctx.size]
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action=ACTION))

    async def one(write: Callable[[bytes], Awaitable[Any]]) -> None:
        await write(part)

    with (
        writer.element("Envelope", SOAP12.namespace, "s"),
        writer.element("Body", SOAP12.namespace, "s"),
        writer.element("UploadMany", BENCH_NS, "b"),
    ):
        for _ in range(ctx.parts):
            with writer.element("data", BENCH_NS, "b"):
                await writer.push_bytes(one, size=len(part))
    return writer


async def asyncmtom_parts_sink(ctx: Context) -> None:
    """``--parts`` parts of ``--size`` bytes each (pushed), serialized to a counting sink."""
    sink = CountingSink()
    with ctx.timed():
        writer = await fill_parts(ctx)
        await writer.write_to(sink)
    ctx.extra["parts_per_s"] = ctx.parts / ctx.wall
    ctx.extra["sends"] = sink.calls
    check(ctx, sink.count, writer.content_length, ctx.size * ctx.parts)


async def asyncmtom_parts_httpx(ctx: Context) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=None) as client:
        with ctx.timed():
            writer = await fill_parts(ctx)
            response = await client.post(ctx.url, content=writer.body(), headers=writer.headers)
            response.raise_for_status()
    ctx.extra["parts_per_s"] = ctx.parts / ctx.wall
    check(
        ctx,
        int(response.headers["X-Received-Bytes"]),
        writer.content_length,
        ctx.size * ctx.parts,
    )


# -- the reader (bench_reader.py drives the reading; mtom_source.py sends) --------------


def make_reader_row(mode: str) -> Callable[[Context], Awaitable[None]]:
    """A reader row: ``bench_reader.client(mode, ...)`` against the MTOM source at ``--url``."""

    async def row(ctx: Context) -> None:
        import bench_reader

        from asyncmtom import iter_mtom, read_mtom  # noqa: F401  (imported here, not timed)

        with ctx.timed():
            elapsed = await bench_reader.client(mode, ctx.port, ctx.size)
        ctx.extra["connect_s"] = ctx.wall - elapsed
        ctx.wall = elapsed  # the client's own clock: from connected to message read

    return row


READER_MODES = {
    "reader-raw": "raw",
    "reader-raw-file": "raw+file",
    "reader-read-mtom": "read_mtom",
    "reader-iter-mtom": "iter_mtom",
}


# -- the table of rows -------------------------------------------------------------------

ASYNC_ROWS: dict[str, Callable[[Context], Awaitable[None]]] = {
    "raw-socket": raw_socket,
    "aiohttp-agen-cl": aiohttp_agen_cl,
    "aiohttp-agen-chunked": aiohttp_agen_chunked,
    "httpx-agen-cl": httpx_agen_cl,
    "httpx-agen-chunked": httpx_agen_chunked,
    "hand-mtom-httpx-cl": hand_mtom_httpx_cl,
    "hand-mtom-httpx-chunked": hand_mtom_httpx_chunked,
    "memcopy-sink": memcopy_sink,
    "asyncmtom-push-sink": asyncmtom_push_sink,
    "asyncmtom-pull-sink": asyncmtom_pull_sink,
    "asyncmtom-read-sink": asyncmtom_read_sink,
    "asyncmtom-push-body": asyncmtom_push_body,
    "asyncmtom-signed-push-sink": asyncmtom_signed_push_sink,
    "asyncmtom-signed-push-httpx-cl": make_http_row("httpx", "push", True, signed=True),
    "asyncmtom-push-httpx-digest": make_http_row("httpx", "push", True, digest=True),
    "asyncmtom-push-aiohttp-digest": make_http_row("aiohttp", "push", True, digest=True),
    "asyncmtom-parts-sink": asyncmtom_parts_sink,
    "asyncmtom-parts-httpx": asyncmtom_parts_httpx,
}
for _client in ("httpx", "aiohttp"):
    for _mode in ("push", "pull"):
        ASYNC_ROWS[f"asyncmtom-{_mode}-{_client}-cl"] = make_http_row(_client, _mode, True)
        ASYNC_ROWS[f"asyncmtom-{_mode}-{_client}-chunked"] = make_http_row(_client, _mode, False)
        # The same with the body re-chunked to 1 MiB by the caller (see README: per-chunk cost).
        ASYNC_ROWS[f"asyncmtom-{_mode}-{_client}-cl-1mib"] = make_http_row(
            _client, _mode, True, 1 << 20
        )

for _name, _mode in READER_MODES.items():
    ASYNC_ROWS[_name] = make_reader_row(_mode)

SYNC_ROWS: dict[str, Callable[[Context], None]] = {"zeep-inline": zeep_inline}

# Rows that need asyncio itself; the others run on --backend (asyncio or trio) via anyio.
ASYNCIO_ONLY = {"raw-socket"} | {name for name in ASYNC_ROWS if "aiohttp" in name}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", choices=sorted([*ASYNC_ROWS, *SYNC_ROWS]))
    parser.add_argument("--url", default="http://127.0.0.1:8080/")
    parser.add_argument("--size", type=int, required=True, help="payload bytes (per part)")
    parser.add_argument("--chunk", type=int, default=64 * 1024, help="bytes per write")
    parser.add_argument("--parts", type=int, default=1)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the row into FILE")
    args = parser.parse_args(argv)

    host_port = args.url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    ctx = Context(
        url=args.url,
        host=host,
        port=int(port),
        size=args.size,
        chunk=os.urandom(args.chunk),
        parts=args.parts,
        backend=args.backend,
    )

    if args.row.startswith("asyncmtom"):
        import asyncmtom  # noqa: F401  (imported here, not in the timed region)

    def run() -> None:
        if args.row in SYNC_ROWS:
            SYNC_ROWS[args.row](ctx)
            return
        row = ASYNC_ROWS[args.row]
        if args.backend == "asyncio":
            asyncio.run(row(ctx))  # type: ignore[arg-type]
        elif args.row in ASYNCIO_ONLY:
            raise SystemExit(f"{args.row} runs on asyncio only")
        else:
            import anyio

            anyio.run(row, ctx, backend=args.backend)

    if args.profile:
        import cProfile

        cProfile.runctx("run()", globals(), {"run": run}, filename=args.profile)
    else:
        run()
    result = {
        "row": args.row,
        "size": ctx.size,
        "wall": ctx.wall,
        "cpu": ctx.cpu,
        "maxrss_kib": peak_rss_kib(),
        "rss_before_kib": ctx.rss_before_kib,
        "minor_faults": ctx.minor_faults,
        **ctx.extra,
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
