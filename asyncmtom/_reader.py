"""The MTOM reader: decode a ``multipart/related`` XOP response as it streams in.

Two ways to read, both async context managers over the same pull-driven core:

``read_mtom(content_type, source, **limits)`` reads the whole message when
the context is entered and yields an `MtomMessage`: ``root`` (the root XML as
bytes, ``xop:Include`` elements intact), ``attachments`` (Content-ID without
brackets -> `Attachment`) and ``await resolve()`` (the root XML with every
Include replaced by canonical base64; ``iter_resolved()`` streams the same).
Parts larger than ``spool_threshold`` go to a temporary file as they arrive,
so memory stays flat whatever their size; ``Attachment.save()`` moves that
file into place instead of copying it when it can.  Every temporary file is
removed when the context exits, also on error and on cancellation.

``iter_mtom(content_type, source, **limits)`` spools nothing: it yields an
`MtomStream`; ``async for part in stream`` gives each `StreamedPart` in
arrival order (the root is the part whose ``is_root`` is true), and
``async for chunk in part`` gives its decoded bytes as they are received.
Moving on to the next part discards what was not consumed of the current one.

Strategy.  No task is spawned and nothing reads ahead: the consumer pulls,
the core awaits one chunk from the source, feeds it to the sans-I/O parser
(``_core.related``) and hands on the events; body chunks are slices of the
received buffers, whole and uncopied in the common case.  Backpressure is
therefore the HTTP client's own, and cancellation can strike only at the
await on the source.  Spooled parts are written with a blocking
``os.writev`` of each batch of received chunks (no join, no copy) as soon as
256 KiB have gathered.  That measured faster than handing batches to a worker
thread (``anyio.to_thread``), with or without overlapping the next receive: a
write into the page cache costs about as much as a thread round trip, and a
chunk written at once is still in the CPU cache.  The event loop is blocked
for one such write at a time, a fraction of a millisecond.

The source is an async iterable of bytes-like chunks (``httpx``'s
``response.aiter_bytes()``), an ``anyio.abc.ByteReceiveStream``, an object
with ``async read(n)`` (``aiohttp``'s ``response.content``, whose own async
iteration would split binary data at line breaks), or ``bytes``.  It is read
to its end so that an HTTP connection can be reused (the epilogue after the
closing delimiter is discarded); an async iterator the reader obtained is
closed when reading stops early.  A ``ByteReceiveStream`` or ``read(n)``
object belongs to the caller and is never closed.

The root is the part named by the ``start`` parameter, or the first part
when there is none.  A body whose Content-Type is not multipart (a plain SOAP
response, a SOAP fault) is read too: ``root`` is the body, no attachments.

Limits are keyword arguments (see `read_mtom`); exceeding one raises
`MtomLimitError` at once, stops reading and removes the temporary files.
Malformed input raises `MtomFormatError`; the ``multipart`` parser's own
errors never escape.  Errors raised by the source itself (network failures)
propagate unchanged.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, suppress
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Protocol, runtime_checkable

import anyio
import anyio.abc

from ._base64 import Base64Encoder
from ._body import Progress, ProgressCallback
from ._core.related import (
    XOP_MEDIA_TYPE,
    MediaType,
    PartDecoder,
    RelatedParser,
    RelatedSegment,
    make_part_decoder,
    parse_media_type,
    strip_angle_brackets,
)
from ._core.xop import Include, find_includes, inserted_text_codec, plan_splices
from ._errors import MtomError, MtomFormatError, MtomLimitError

__all__ = [
    "Attachment",
    "AsyncReadable",
    "ByteSource",
    "MtomMessage",
    "MtomStream",
    "StreamedPart",
    "iter_mtom",
    "read_mtom",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: Bytes asked of a ``receive(n)`` or ``read(n)`` source at a time.  Large, so
#: that a fast connection delivers whole socket buffers in one call (asyncio
#: queues up to 256 KiB per read) instead of slices copied out of them.
RECEIVE_SIZE = 1 * MiB
#: Spooled data is written once this much has gathered: one ``writev`` per
#: batch keeps the system call count low for small chunks without joining
#: them.  Kept small on purpose: a chunk written soon after it was received
#: is still in the CPU cache, and measured batches of 1 MiB and more were
#: markedly slower than 256 KiB ones (asyncio delivers chunks of 256 KiB, so
#: those are written as they come).
SPOOL_BATCH_SIZE = 256 * KiB
#: Chunk size when an attachment is read back from its spool file; a multiple
#: of 3 so that base64 of consecutive chunks needs no carry.
READ_BACK_SIZE = 3 * 256 * KiB
#: Most buffers one ``writev`` call accepts on common platforms (IOV_MAX).
_MAX_IOVECS = 1024

DEFAULT_PART_CONTENT_TYPE = "application/octet-stream"


@runtime_checkable
class AsyncReadable(Protocol):
    """Anything with ``async read(n)`` returning ``b""`` at the end."""

    async def read(self, n: int = -1, /) -> bytes:
        """Return up to *n* bytes, or ``b""`` at the end of the stream."""


BytesLike = bytes | bytearray | memoryview
ByteSource = (
    bytes
    | bytearray
    | memoryview
    | AsyncIterable[BytesLike]
    | anyio.abc.ByteReceiveStream
    | AsyncReadable
)


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------


class _Source:
    """Chunks from any supported source; ``b""`` means the end."""

    def __init__(
        self,
        source: ByteSource,
        progress: ProgressCallback | None = None,
        total: int | None = None,
    ) -> None:
        if progress is not None and not callable(progress):
            raise MtomFormatError("progress must be a callable taking a Progress")
        if total is not None and (
            not isinstance(total, int) or isinstance(total, bool) or total < 0
        ):
            raise MtomFormatError(f"content_length must be None or an int >= 0, not {total!r}")
        #: Reported to after every event of the message (see `read_mtom`).
        self.progress = progress
        self.total = total
        self._bytes: bytes | None = None
        self._offset = 0
        self._stream: anyio.abc.ByteReceiveStream | None = None
        self._readable: AsyncReadable | None = None
        self._iterator: AsyncIterator[BytesLike] | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._bytes = bytes(source)
        elif isinstance(source, anyio.abc.ByteReceiveStream):
            self._stream = source
        elif isinstance(source, AsyncReadable) and not isinstance(source, AsyncIterator):
            self._readable = source
        elif isinstance(source, AsyncIterable):
            self._iterator = aiter(source)
        else:
            raise MtomFormatError(
                "source must be bytes, an async iterable of bytes, an anyio "
                f"ByteReceiveStream or an object with async read(n), not {type(source).__name__}"
            )
        self.exhausted = False

    async def receive(self) -> bytes:
        if self.exhausted:
            return b""
        chunk: BytesLike = b""
        if self._bytes is not None:
            # Fed in slices: the parser copies what it hands out of a chunk
            # that holds a delimiter, so one huge chunk would be held twice.
            body, start = self._bytes, self._offset
            if start == 0 and len(body) <= RECEIVE_SIZE:
                chunk = body
            else:
                chunk = body[start : start + RECEIVE_SIZE]
            self._offset += len(chunk)
        elif self._stream is not None:
            try:
                chunk = await self._stream.receive(RECEIVE_SIZE)
            except anyio.EndOfStream:
                chunk = b""
        elif self._readable is not None:
            chunk = await self._readable.read(RECEIVE_SIZE)
        elif self._iterator is not None:
            while not chunk:
                try:
                    chunk = await self._iterator.__anext__()
                except StopAsyncIteration:
                    break
        if not chunk:
            self.exhausted = True
            return b""
        if isinstance(chunk, bytes):
            return chunk
        if isinstance(chunk, (bytearray, memoryview)):
            return bytes(chunk)
        raise MtomFormatError(f"source yielded {type(chunk).__name__}, expected a bytes-like chunk")

    async def aclose(self) -> None:
        """Close an async iterator the reader obtained; never a caller's stream."""
        iterator, self._iterator = self._iterator, None
        self.exhausted = True
        close: Callable[[], object] | None = getattr(iterator, "aclose", None)
        if close is None:
            return
        # Shielded and bounded: the iterator's cleanup (an HTTP response
        # closing its connection) must run even when we are being cancelled.
        with anyio.move_on_after(5, shield=True):
            result = close()
            if hasattr(result, "__await__"):
                await result


# ---------------------------------------------------------------------------
# The pull-driven core
# ---------------------------------------------------------------------------


class _End:
    """The event after the last part: the body is complete."""


_END = _End()
_Event = RelatedSegment | bytes | None | _End


class _Limits:
    __slots__ = (
        "max_header_size",
        "max_headers",
        "max_part_size",
        "max_parts",
        "max_root_size",
        "max_total_size",
    )

    def __init__(
        self,
        *,
        max_parts: int,
        max_header_size: int,
        max_headers: int,
        max_part_size: int,
        max_total_size: int,
        max_root_size: int,
    ) -> None:
        for name, value in (
            ("max_parts", max_parts),
            ("max_header_size", max_header_size),
            ("max_headers", max_headers),
            ("max_part_size", max_part_size),
            ("max_total_size", max_total_size),
            ("max_root_size", max_root_size),
        ):
            if not isinstance(value, int) or value < 1:
                raise MtomFormatError(f"{name} must be a positive integer, not {value!r}")
        self.max_parts = max_parts
        self.max_header_size = max_header_size
        self.max_headers = max_headers
        self.max_part_size = max_part_size
        self.max_total_size = max_total_size
        self.max_root_size = max_root_size


class _Pump:
    """Parser events, pulled one at a time; reads the source only when needed.

    A plain (non-multipart) body gives the same events as a one-part message:
    a segment carrying its Content-Type, the body's chunks, ``None``.  Once
    any error has escaped, every later pull raises `MtomError`: the source may
    be half consumed and nothing after it can be trusted.
    """

    def __init__(self, content_type: str, source: _Source, limits: _Limits) -> None:
        self._source = source
        self._limits = limits
        self._received = 0
        self._part_id: str | None = None
        self._part_done = 0
        self._events: Iterator[RelatedSegment | bytes | None] = iter(())
        self._failure: BaseException | None = None
        self._parser: RelatedParser | None = None
        self._plain_state = 0  # 0: segment next, 1: in the body, 2: done
        self._plain_segment = RelatedSegment([("Content-Type", content_type)])
        media_type = parse_media_type(content_type)
        if media_type.essence.startswith("multipart/"):
            if media_type.essence != "multipart/related":
                raise MtomFormatError(f"expected multipart/related, not {media_type.essence}")
            boundary = media_type.get("boundary")
            if not boundary:
                raise MtomFormatError("multipart/related Content-Type has no boundary")
            if any(char in boundary for char in "\r\n"):
                raise MtomFormatError("boundary holds a line break")
            self._parser = RelatedParser(
                boundary,
                max_parts=limits.max_parts,
                max_header_size=limits.max_header_size,
                max_headers=limits.max_headers,
                max_part_size=limits.max_part_size,
            )

    async def next_event(self) -> _Event:
        self.check()
        try:
            event = await self._next_event()
        except BaseException as failure:
            self.fail(failure)
            raise
        progress = self._source.progress
        if progress is not None:
            if isinstance(event, RelatedSegment):
                self._part_id = event.content_id
                self._part_done = 0
            elif isinstance(event, bytes):
                self._part_done += len(event)
            progress(
                Progress(self._received, self._source.total, self._part_id, self._part_done, None)
            )
        return event

    def check(self) -> None:
        if self._failure is not None:
            raise MtomError("reading this message failed earlier") from self._failure

    def fail(self, failure: BaseException) -> None:
        if self._failure is None:
            self._failure = failure

    async def _next_event(self) -> _Event:
        if self._parser is None:
            return await self._next_plain_event()
        while True:
            for event in self._events:
                return event
            chunk = await self._receive()
            self._events = self._parser.feed(chunk)
            if not chunk:
                # End of input: this raises if the closing delimiter is missing.
                for event in self._events:  # pragma: no cover - nothing can follow
                    return event
                return _END

    async def _next_plain_event(self) -> _Event:
        if self._plain_state == 0:
            self._plain_state = 1
            return self._plain_segment
        if self._plain_state == 1:
            chunk = await self._receive()
            if chunk:
                return chunk
            self._plain_state = 2
            return None
        return _END

    async def _receive(self) -> bytes:
        chunk = await self._source.receive()
        self._received += len(chunk)
        if self._received > self._limits.max_total_size:
            raise MtomLimitError(
                f"message larger than max_total_size ({self._limits.max_total_size} bytes)"
            )
        return chunk


class MtomStream:
    """The parts of an MTOM message in arrival order, nothing spooled (`iter_mtom`).

    ``async for part in stream`` yields each `StreamedPart` once its headers
    have arrived.  Asking for the next part discards the unread rest of the
    current one.  The iteration ends after the closing delimiter, or raises
    `MtomFormatError` (truncated body, ``start`` naming no part, ...) or
    `MtomLimitError`.  After any error (cancellation included) the stream is
    spent: the source may be half consumed, so every later pull raises
    `MtomError`.
    """

    def __init__(self, content_type: str, source: _Source, limits: _Limits) -> None:
        self.content_type = content_type
        self._pump = _Pump(content_type, source, limits)
        media_type = parse_media_type(content_type)
        self._limits = limits
        self._multipart = media_type.essence == "multipart/related"
        start = media_type.get("start")
        #: The Content-ID the ``start`` parameter names (no brackets), or None.
        self.start: str | None = strip_angle_brackets(start) if start else None
        #: The ``type`` parameter: the root's media type (``application/xop+xml``).
        self.root_type: str | None = media_type.get("type")
        start_info = media_type.get("start-info")
        #: The ``start-info`` parameter: the root's media type, maybe with an action.
        self.start_info: str | None = start_info
        self._action = media_type.get("action")
        if self._action is None and start_info:
            self._action = parse_media_type(start_info).get("action")
        self._current: StreamedPart | None = None
        self._seen_ids: set[str] = set()
        self._root_seen = False
        self._finished = False

    @property
    def action(self) -> str | None:
        """The SOAP 1.2 action of the Content-Type (``action`` or inside ``start-info``)."""
        return self._action

    def __aiter__(self) -> MtomStream:
        return self

    async def __anext__(self) -> StreamedPart:
        if self._finished:
            raise StopAsyncIteration
        self._pump.check()
        try:
            return await self._next_part()
        except BaseException as failure:
            self._pump.fail(failure)
            raise

    async def _next_part(self) -> StreamedPart:
        if self._current is not None:
            await self._current.discard()
            self._current = None
        event = await self._pump.next_event()
        if isinstance(event, _End):
            self._finished = True
            if self.start is not None and not self._root_seen:
                raise MtomFormatError(f"start names part <{self.start}>, which the message lacks")
            if not self._root_seen:
                raise MtomFormatError("multipart body has no part")
            raise StopAsyncIteration
        if not isinstance(event, RelatedSegment):  # pragma: no cover - parser contract
            raise MtomFormatError("part body without headers")
        self._current = self._new_part(event)
        return self._current

    def _new_part(self, segment: RelatedSegment) -> StreamedPart:
        content_id = segment.content_id
        if not self._multipart:
            is_root = True
        elif self.start is not None:
            is_root = content_id == self.start
        else:
            is_root = not self._root_seen and not self._seen_ids
        if is_root:
            self._root_seen = True
        elif not content_id:
            raise MtomFormatError("a part other than the root has no Content-ID")
        if content_id:
            if content_id in self._seen_ids:
                raise MtomFormatError(f"two parts have the Content-ID <{content_id}>")
            self._seen_ids.add(content_id)
        elif is_root:
            self._seen_ids.add("")  # later parts are not the root
        size_limit = self._limits.max_root_size if is_root else None
        part = StreamedPart(self, segment, is_root, size_limit)
        if is_root and segment.content_type_header is None and self.root_type:
            part.content_type = self.root_type  # RFC 2387: ``type`` is the root's type
        return part

    async def _next_body_event(self) -> bytes | None:
        event = await self._pump.next_event()
        if isinstance(event, bytes) or event is None:
            return event
        raise MtomFormatError("part ended without a delimiter")  # pragma: no cover


class StreamedPart:
    """One part of an `MtomStream`, its bytes delivered once as they arrive.

    ``async for chunk in part`` yields the decoded body (base64 transfer
    encoding undone) in chunks of whatever size the network delivered;
    ``await read()`` gathers the rest into one ``bytes``; ``await save(path)``
    writes the rest to a file.  Each byte can be consumed only once.
    """

    def __init__(
        self,
        stream: MtomStream,
        segment: RelatedSegment,
        is_root: bool,
        size_limit: int | None,
    ) -> None:
        self._stream = stream
        self._decoder: PartDecoder = make_part_decoder(segment.transfer_encoding)
        self._size_limit = size_limit
        self._raw_size = 0
        #: The Content-ID without angle brackets (None only for a root without one).
        self.content_id: str | None = segment.content_id or None
        #: The Content-Type header as sent (``application/octet-stream`` if absent).
        self.content_type: str = segment.content_type_header or DEFAULT_PART_CONTENT_TYPE
        #: Every header of the part: (Title-Case name, value) in order received.
        self.headers: tuple[tuple[str, str], ...] = segment.headers
        #: True for the root part (named by ``start``, or the first part).
        self.is_root = is_root
        #: Decoded bytes delivered so far; the part's size once it is complete.
        self.size = 0
        #: True once the part's end has been reached.
        self.complete = False

    def __aiter__(self) -> StreamedPart:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._next_chunk()
        except StopAsyncIteration:
            raise
        except BaseException as failure:
            self._stream._pump.fail(failure)
            raise

    async def _next_chunk(self) -> bytes:
        while not self.complete:
            event = await self._stream._next_body_event()
            if event is None:
                self.complete = True
                tail = self._decoder.finish()
                if tail:
                    self.size += len(tail)
                    return tail
                break
            self._raw_size += len(event)
            if self._size_limit is not None and self._raw_size > self._size_limit:
                raise MtomLimitError(
                    f"root part larger than max_root_size ({self._size_limit} bytes)"
                )
            data = self._decoder.decode(event)
            if data:
                self.size += len(data)
                return data
        raise StopAsyncIteration

    async def read(self) -> bytes:
        """The rest of the part as one ``bytes`` object."""
        return b"".join([chunk async for chunk in self])

    async def save(self, path: str | os.PathLike[str]) -> int:
        """Write the rest of the part to ``path`` (created or truncated); returns its size."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        fd = await anyio.to_thread.run_sync(os.open, os.fspath(path), flags, 0o666)
        try:
            writer = _BatchWriter(fd)
            async for chunk in self:
                writer.write(chunk)
            writer.flush()
            return writer.written
        finally:
            os.close(fd)

    async def discard(self) -> None:
        """Skip the rest of the part (still decoded, so errors are not missed)."""
        async for _ in self:
            pass


# ---------------------------------------------------------------------------
# Spooling
# ---------------------------------------------------------------------------


class _BatchWriter:
    """Gather chunks and write them with one ``os.writev`` per batch: no join, no copy."""

    __slots__ = ("_batch", "_batch_size", "_fd", "written")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._batch: list[bytes] = []
        self._batch_size = 0
        self.written = 0

    def write(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batch_size += len(chunk)
        if self._batch_size >= SPOOL_BATCH_SIZE or len(self._batch) >= _MAX_IOVECS:
            self.flush()

    def flush(self) -> None:
        batch, self._batch = self._batch, []
        remaining, self._batch_size = self._batch_size, 0
        self.written += remaining
        views = [memoryview(chunk) for chunk in batch if chunk]
        while remaining:
            done = _writev(self._fd, views)
            remaining -= done
            while done and views:  # a short write: drop what was written
                if done >= len(views[0]):
                    done -= len(views.pop(0))
                else:
                    views[0] = views[0][done:]
                    done = 0


def _writev(fd: int, views: list[memoryview]) -> int:
    if hasattr(os, "writev"):
        return os.writev(fd, views)
    return os.write(fd, views[0])  # Windows: no writev; the caller loops


class _Spool:
    """The temporary files of one message; `cleanup` removes every one still ours."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        self._directory = os.fspath(directory) if directory is not None else None
        self._paths: set[str] = set()

    def create(self) -> tuple[int, str]:
        fd, path = tempfile.mkstemp(prefix="asyncmtom-", suffix=".part", dir=self._directory)
        self._paths.add(path)
        return fd, path

    def release(self, path: str) -> None:
        """The file has been moved into the caller's hands: not ours to remove."""
        self._paths.discard(path)

    def cleanup(self) -> None:
        paths, self._paths = self._paths, set()
        for path in paths:
            with suppress(FileNotFoundError):
                os.unlink(path)


class Attachment:
    """One non-root part of an `MtomMessage`: in memory, or spooled to a file.

    Usable while the `read_mtom` context is open; afterwards its data is gone
    (temporary file removed) and every method raises `MtomError`.
    """

    def __init__(
        self,
        content_id: str,
        content_type: str,
        headers: tuple[tuple[str, str], ...],
        spool: _Spool,
    ) -> None:
        #: The Content-ID without angle brackets: what ``href="cid:..."`` names.
        self.content_id = content_id
        #: The part's Content-Type header as sent (``application/octet-stream`` if absent).
        self.content_type = content_type
        #: Every header of the part: (Title-Case name, value) in order received.
        self.headers = headers
        #: Decoded size in bytes.
        self.size = 0
        self._spool = spool
        self._data: bytes | None = b""
        self._path: str | None = None
        self._owned = True  # the file at _path is a spool file, not a saved one
        self._closed = False

    def __repr__(self) -> str:
        where = "memory" if self._path is None else "file"
        return f"<Attachment {self.content_id!r} {self.content_type!r} size={self.size} in {where}>"

    @property
    def in_memory(self) -> bool:
        """True when the data is held in memory (size within ``spool_threshold``)."""
        return self._path is None

    def _check_open(self) -> None:
        if self._closed:
            raise MtomError(
                f"attachment <{self.content_id}> is closed: the read_mtom context has exited"
            )

    async def read(self) -> bytes:
        """The whole content as ``bytes`` (read back from the spool file if spooled)."""
        self._check_open()
        if self._path is None:
            assert self._data is not None
            return self._data
        return await anyio.Path(self._path).read_bytes()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.iter_chunks()

    async def iter_chunks(self, chunk_size: int = READ_BACK_SIZE) -> AsyncIterator[bytes]:
        """The content in chunks of at most ``chunk_size`` bytes."""
        self._check_open()
        if self._path is None:
            data = self._data
            assert data is not None
            for offset in range(0, len(data), chunk_size):
                yield data[offset : offset + chunk_size] if len(data) > chunk_size else data
            return
        async with await anyio.open_file(self._path, "rb") as file:
            while chunk := await file.read(chunk_size):
                yield chunk

    async def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the content to ``path``, replacing any file there; returns the path.

        A spooled part is moved there (``os.replace``) when ``path`` is on the
        same filesystem as the spool directory, so nothing is copied; the
        saved file then backs this attachment and is left in place when the
        context exits.  Otherwise the content is copied.
        """
        self._check_open()
        target = Path(path)
        if self._path is None:
            assert self._data is not None
            await anyio.Path(target).write_bytes(self._data)
            return target
        source = self._path
        if self._owned:
            try:
                await anyio.to_thread.run_sync(_move_into_place, source, target)
            except OSError:
                pass  # another filesystem, most likely: copy instead
            else:
                self._spool.release(source)
                self._path, self._owned = os.fspath(target), False
                return target
        await anyio.to_thread.run_sync(shutil.copyfile, source, target)
        return target

    def _close(self) -> None:
        self._closed = True
        self._data = None


def _base64_size(size: int) -> int:
    return (size + 2) // 3 * 4


def _move_into_place(source: str, target: Path) -> None:
    os.replace(source, target)
    # mkstemp made the file private (0600); a saved file gets the mode any
    # new file of this process would get.  The move has happened either way.
    with suppress(OSError):
        os.chmod(target, 0o666 & ~_umask())


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it elsewhere
    os.umask(mask)
    return mask


class _AttachmentSink:
    """Collect one part: in memory up to the threshold, then into a spool file."""

    def __init__(self, attachment: Attachment, spool: _Spool, threshold: int) -> None:
        self._attachment = attachment
        self._spool = spool
        self._threshold = threshold
        self._chunks: list[bytes] = []
        self._size = 0
        self._fd = -1
        self._writer: _BatchWriter | None = None

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._writer is not None:
            self._writer.write(chunk)
            return
        self._chunks.append(chunk)
        if self._size > self._threshold:
            self._fd, path = self._spool.create()
            self._attachment._path = path
            self._writer = _BatchWriter(self._fd)
            for held in self._chunks:
                self._writer.write(held)
            self._chunks = []

    def finish(self) -> None:
        attachment = self._attachment
        attachment.size = self._size
        if self._writer is not None:
            self._writer.flush()
            self.close()
        else:
            chunks, self._chunks = self._chunks, []
            attachment._data = chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


# ---------------------------------------------------------------------------
# The whole message
# ---------------------------------------------------------------------------


class MtomMessage:
    """A decoded MTOM message (`read_mtom`): the root XML and its attachments."""

    def __init__(self, content_type: str) -> None:
        #: The Content-Type the message was read with (the HTTP header value).
        self.content_type = content_type
        #: The root XML exactly as received, ``xop:Include`` elements intact.
        self.root = b""
        #: The root's Content-ID without brackets, None if it has none.
        self.root_content_id: str | None = None
        #: The root part's Content-Type header (the body's, for a plain message).
        self.root_content_type = ""
        #: The media type of the root XML: ``application/soap+xml`` for SOAP
        #: 1.2, ``text/xml`` for SOAP 1.1 (the ``type`` of an XOP root part).
        self.media_type = ""
        #: The charset of the root XML if the headers name one.
        self.charset: str | None = None
        #: The SOAP 1.2 action, from the Content-Type, ``start-info`` or root part.
        self.action: str | None = None
        #: True when the body was ``multipart/related``.
        self.is_multipart = False
        self._attachments: dict[str, Attachment] = {}
        self.attachments: Mapping[str, Attachment] = MappingProxyType(self._attachments)
        self._max_resolved_size: int | None = None
        self._max_root_size = 32 * MiB
        self._closed = False

    def __repr__(self) -> str:
        return f"<MtomMessage root={len(self.root)} bytes, attachments={list(self._attachments)!r}>"

    def _set_root(self, part: StreamedPart, data: bytes, stream: MtomStream) -> None:
        self.root = data
        self.root_content_id = part.content_id
        self.root_content_type = part.content_type if self.is_multipart else self.content_type
        root_type = parse_media_type(self.root_content_type)
        self.charset = root_type.get("charset")
        inner: MediaType | None = None
        if root_type.essence == XOP_MEDIA_TYPE:
            inner_text = root_type.get("type") or stream.start_info
            inner = parse_media_type(inner_text) if inner_text else None
        self.media_type = inner.essence if inner is not None else root_type.essence
        self.action = (
            stream.action
            or (inner.get("action") if inner is not None else None)
            or root_type.get("action")
        )

    async def resolve(self) -> bytes:
        """The root XML with each ``xop:Include`` replaced by its part in canonical base64.

        Raises `MtomFormatError` for an href that is not ``cid:``, names no
        part, an Include with content, a DOCTYPE or entity in the root, or XML
        that is not well-formed; `MtomLimitError` when the result would be
        larger than ``max_resolved_size``.  The result holds every attachment
        in memory (as base64); `iter_resolved` streams it instead.
        """
        return b"".join([chunk async for chunk in self.iter_resolved()])

    async def iter_resolved(self) -> AsyncIterator[bytes]:
        """`resolve` as a stream of chunks: attachments are read back as needed.

        Every reference is checked before the first chunk is produced.
        """
        if self._closed:
            raise MtomError("message is closed: the read_mtom context has exited")
        includes = find_includes(self.root)
        pieces = plan_splices(self.root, includes)
        targets: dict[str, Attachment] = {}
        for include in includes:
            attachment = self._attachments.get(include.content_id)
            if attachment is None:
                # A sender that percent-encoded nothing but a literal '%'.
                attachment = self._attachments.get(include.href.strip()[4:])
            if attachment is None:
                raise MtomFormatError(
                    f"xop:Include href {include.href!r} names no part of the message"
                )
            targets[include.content_id] = attachment
        codec = inserted_text_codec(self.root)
        self._check_resolved_size(includes, targets, codec)
        for piece in pieces:
            if isinstance(piece, memoryview):
                yield bytes(piece)
                continue
            encoder = Base64Encoder()
            async for chunk in targets[piece]:
                text = encoder.encode(chunk)
                if text:
                    yield text.decode("ascii").encode(codec) if codec else text
            text = encoder.finish()
            if text:
                yield text.decode("ascii").encode(codec) if codec else text

    def _check_resolved_size(
        self, includes: list[Include], targets: dict[str, Attachment], codec: str | None
    ) -> None:
        """Refuse, before any output, a document larger than ``max_resolved_size``."""
        width = 2 if codec else 1  # UTF-16 spends two bytes per base64 character
        size = len(self.root)
        for include in includes:
            size += width * _base64_size(targets[include.content_id].size)
            size -= include.end - include.start
        limit = self._max_resolved_size
        if limit is None:
            every_part = sum(_base64_size(a.size) for a in self._attachments.values())
            # Each part may be named twice over; and a small message may always
            # resolve to max_root_size, so that the default never refuses a
            # modest document whose few Includes share a part.
            limit = max(len(self.root) + 2 * width * every_part, self._max_root_size)
        if size > limit:
            raise MtomLimitError(
                f"resolved document would be {size} bytes, more than max_resolved_size "
                f"({limit} bytes): the Includes name the same parts over and over"
            )

    def _close(self) -> None:
        self._closed = True
        for attachment in self._attachments.values():
            attachment._close()


class _Reading:
    """The async context manager `read_mtom` returns."""

    def __init__(
        self,
        content_type: str,
        source: _Source,
        limits: _Limits,
        spool_threshold: int,
        spool_dir: str | os.PathLike[str] | None,
        max_resolved_size: int | None,
    ) -> None:
        self._content_type = content_type
        self._max_resolved_size = max_resolved_size
        self._source = source
        self._limits = limits
        self._spool_threshold = spool_threshold
        self._spool = _Spool(spool_dir)
        self._message: MtomMessage | None = None

    async def __aenter__(self) -> MtomMessage:
        if self._message is not None:
            raise MtomError("read_mtom(...) can be entered once")
        message = self._message = MtomMessage(self._content_type)
        message._max_resolved_size = self._max_resolved_size
        message._max_root_size = self._limits.max_root_size
        sink: _AttachmentSink | None = None
        try:
            stream = MtomStream(self._content_type, self._source, self._limits)
            message.is_multipart = stream._multipart
            async for part in stream:
                if part.is_root:
                    message._set_root(part, await part.read(), stream)
                    continue
                assert part.content_id is not None
                attachment = Attachment(
                    part.content_id, part.content_type, part.headers, self._spool
                )
                message._attachments[part.content_id] = attachment
                sink = _AttachmentSink(attachment, self._spool, self._spool_threshold)
                async for chunk in part:
                    sink.write(chunk)
                sink.finish()
                sink = None
        except BaseException:
            if sink is not None:
                sink.close()
            await self._close()
            raise
        finally:
            await self._source.aclose()
        return message

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._message is not None:
            self._message._close()
        self._spool.cleanup()
        await self._source.aclose()


def read_mtom(
    content_type: str,
    source: ByteSource,
    *,
    # Real responses carry a root and a handful of attachments; each part
    # costs a header parse and a table entry, so a flood of tiny parts is
    # stopped here.
    max_parts: int = 1000,
    # Bytes in the header section of one part (all lines).  MTOM part
    # headers are about 200 bytes; 16 KiB leaves room for long Content-IDs
    # and extra headers while bounding what a part header can make us hold.
    max_header_size: int = 16 * KiB,
    # Header lines per part.  MTOM parts carry 3 or 4 (Content-ID,
    # Content-Type, Content-Transfer-Encoding, maybe Content-Length).
    max_headers: int = 32,
    # Bytes of one part as received.  Memory stays flat whatever the size
    # (large parts are spooled), so this bounds disk use per part.
    max_part_size: int = 4 * GiB,
    # Bytes of the whole body, epilogue included: bounds disk use and time.
    max_total_size: int = 8 * GiB,
    # Bytes of the root part, which is held in memory and parsed as a whole
    # by resolve(); binary content belongs in attachments.  Also the bound of
    # a plain (non-multipart) body.
    max_root_size: int = 32 * MiB,
    # Parts larger than this go to a temporary file as they arrive.  Smaller
    # parts stay in memory, where a file would cost more than it saves.
    spool_threshold: int = 1 * MiB,
    # Where spooled parts go (the system's temporary directory by default).
    # On the same filesystem as save() targets, save() moves, never copies.
    spool_dir: str | os.PathLike[str] | None = None,
    # Bytes resolve() and iter_resolved() may produce.  Two Includes may name
    # the same part, so the output is not bounded by the message: a part of
    # 64 KiB named by 20 000 Includes would resolve to 1.7 GB.  None: the
    # root's size plus twice the base64 of all attachments together (every
    # part can be named twice over).  Checked before any output.
    max_resolved_size: int | None = None,
    progress: ProgressCallback | None = None,
    content_length: int | None = None,
) -> AbstractAsyncContextManager[MtomMessage]:
    """Read a whole MTOM message; an async context manager yielding an `MtomMessage`.

    ``content_type`` is the HTTP Content-Type header value; ``source`` the
    body (see the module docstring for the accepted kinds).  The message is
    read when the context is entered; temporary files live until it exits.
    ``progress``, if given, is called with a `Progress` as the body arrives:
    ``done`` bytes received of ``content_length`` (the response's, if the
    caller passes it; else None), and ``part_done`` bytes of the part
    ``content_id`` (its size is not known before it ends: ``part_size`` is
    None).
    """
    limits = _Limits(
        max_parts=max_parts,
        max_header_size=max_header_size,
        max_headers=max_headers,
        max_part_size=max_part_size,
        max_total_size=max_total_size,
        max_root_size=max_root_size,
    )
    if not isinstance(spool_threshold, int) or spool_threshold < 0:
        raise MtomFormatError(
            f"spool_threshold must be a non-negative integer, not {spool_threshold!r}"
        )
    if max_resolved_size is not None and (
        not isinstance(max_resolved_size, int) or max_resolved_size < 0
    ):
        raise MtomFormatError(
            f"max_resolved_size must be None or an integer >= 0, not {max_resolved_size!r}"
        )
    return _Reading(
        content_type,
        _Source(source, progress, content_length),
        limits,
        spool_threshold,
        spool_dir,
        max_resolved_size,
    )


class _Streaming:
    """The async context manager `iter_mtom` returns."""

    def __init__(self, content_type: str, source: _Source, limits: _Limits) -> None:
        self._content_type = content_type
        self._source = source
        self._limits = limits
        self._entered = False

    async def __aenter__(self) -> MtomStream:
        if self._entered:
            raise MtomError("iter_mtom(...) can be entered once")
        self._entered = True
        try:
            return MtomStream(self._content_type, self._source, self._limits)
        except BaseException:
            await self._source.aclose()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._source.aclose()


def iter_mtom(
    content_type: str,
    source: ByteSource,
    *,
    max_parts: int = 1000,
    max_header_size: int = 16 * KiB,
    max_headers: int = 32,
    max_part_size: int = 4 * GiB,
    max_total_size: int = 8 * GiB,
    max_root_size: int = 32 * MiB,
    progress: ProgressCallback | None = None,
    content_length: int | None = None,
) -> AbstractAsyncContextManager[MtomStream]:
    """Stream an MTOM message part by part, spooling nothing; yields an `MtomStream`.

    The limits, ``progress`` and ``content_length`` mean what they mean for
    `read_mtom`; ``max_root_size`` bounds the root part, whose bytes a caller
    usually gathers with ``read()``.  Leaving the context closes an async
    iterator source the reader obtained.
    """
    limits = _Limits(
        max_parts=max_parts,
        max_header_size=max_header_size,
        max_headers=max_headers,
        max_part_size=max_part_size,
        max_total_size=max_total_size,
        max_root_size=max_root_size,
    )
    return _Streaming(content_type, _Source(source, progress, content_length), limits)
