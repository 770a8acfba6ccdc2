"""`iter_mtom`: an MTOM message streamed part by part, nothing spooled.

``iter_mtom(content_type, source, **limits)`` is an async context manager
yielding an `MtomStream`; ``async for part in stream`` gives each
`StreamedPart` in arrival order (the root is the part whose ``is_root`` is
true), and ``async for chunk in part`` gives its decoded bytes as they are
received.  Moving on to the next part discards what was not consumed of the
current one.  `read_mtom` (``_message``) is built on the same stream.

Strategy.  No task is spawned and nothing reads ahead: the consumer pulls,
`_Pump` asks the sans-I/O `Decoder` (``_core.decoder``) for the next event and
awaits one chunk from the source only when the decoder needs data.  Body
chunks are slices of the received buffers, whole and uncopied in the common
case.  Backpressure is therefore the HTTP client's own, and cancellation can
strike only at the await on the source.

The source is any kind `_sources` accepts: ``httpx``'s
``response.aiter_bytes()``, an ``anyio.abc.ByteReceiveStream``, an object
with ``async read(n)`` (``aiohttp``'s ``response.content``, whose own async
iteration would split binary data at line breaks), bytes, or a path.  It is
read to its end so that an HTTP connection can be reused (the epilogue after
the closing delimiter is discarded); an async iterator the reader obtained is
closed when reading stops early.  A ``ByteReceiveStream`` or ``read(n)``
object belongs to the caller and is never closed.

Errors: what the peer sent is `MtomFormatError` or `MtomLimitError`; a wrong
argument type is `TypeError`, a bad value `ValueError`; using a stream after
it failed, or entering the context twice, `ReaderStateError`.  Errors raised
by the source itself (network failures) propagate unchanged.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType

import anyio
import anyio.abc

from ._core.decoder import Data, Decoder, Event, MessageEnd, NeedData, PartEnd, PartStart
from ._core.limits import DEFAULT_LIMITS, MiB, ReaderLimits
from ._errors import ReaderStateError
from ._progress import Progress, ProgressCallback
from ._sources import ByteSource, SourceChunks, check_source
from ._spool import BatchWriter

__all__ = ["RECEIVE_SIZE", "MtomStream", "StreamedPart", "iter_mtom"]

#: Bytes asked of a ``receive(n)`` or ``read(n)`` source at a time.  Large, so
#: that a fast connection delivers whole socket buffers in one call (asyncio
#: queues up to 256 KiB per read) instead of slices copied out of them.
#: Bytes given as the source are fed in slices of this size: the parser
#: copies what it hands out of a chunk that holds a delimiter, so one huge
#: chunk would be held twice.
RECEIVE_SIZE = 1 * MiB


class _Source:
    """Chunks from any supported source as ``bytes``; ``b""`` means the end."""

    def __init__(
        self,
        source: ByteSource,
        progress: ProgressCallback | None = None,
        total: int | None = None,
    ) -> None:
        check_source(source)
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking a Progress")
        if total is not None:
            if not isinstance(total, int) or isinstance(total, bool):
                raise TypeError(f"content_length must be None or an int, not {total!r}")
            if total < 0:
                raise ValueError(f"content_length must be None or an int >= 0, not {total!r}")
        #: Reported to after every event of the message (see `read_mtom`).
        self.progress = progress
        self.total = total
        self._iterator: AsyncIterator[object] | None = None
        if not isinstance(
            source, (bytes, bytearray, memoryview, os.PathLike, anyio.abc.ByteReceiveStream)
        ) and not callable(getattr(source, "read", None)):
            assert isinstance(source, AsyncIterable)
            # Obtained here so that `aclose` can close it, whatever its kind.
            source = self._iterator = aiter(source)
        self._chunks = SourceChunks(source, RECEIVE_SIZE)
        self.exhausted = False

    async def receive(self) -> bytes:
        while not self.exhausted:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                break
            if chunk:
                return chunk if type(chunk) is bytes else bytes(chunk)
        self.exhausted = True
        return b""

    async def aclose(self) -> None:
        """Close what the reader opened or obtained; never a caller's stream."""
        iterator, self._iterator = self._iterator, None
        self.exhausted = True
        # Shielded and bounded: the iterator's cleanup (an HTTP response
        # closing its connection) must run even when we are being cancelled.
        with anyio.move_on_after(5, shield=True):
            await self._chunks.aclose()
            close: Callable[[], object] | None = getattr(iterator, "aclose", None)
            if close is not None:
                result = close()
                if hasattr(result, "__await__"):
                    await result


class _Pump:
    """Decoder events, pulled one at a time; reads the source only when needed."""

    def __init__(self, content_type: str, source: _Source, limits: ReaderLimits) -> None:
        self.source = source
        self.decoder = Decoder(content_type, limits)

    async def next_event(self) -> Event:
        decoder = self.decoder
        event = decoder.next_event()
        while isinstance(event, NeedData):
            try:
                chunk = await self.source.receive()
            except BaseException as failure:
                decoder.fail(failure)
                raise
            decoder.receive_data(chunk)
            event = decoder.next_event()
        progress = self.source.progress
        if progress is not None:
            progress(
                Progress(
                    decoder.received, self.source.total, decoder.part_id, decoder.part_done, None
                )
            )
        return event


class MtomStream:
    """The parts of an MTOM message in arrival order, nothing spooled (`iter_mtom`).

    ``async for part in stream`` yields each `StreamedPart` once its headers
    have arrived.  Asking for the next part discards the unread rest of the
    current one.  The iteration ends after the closing delimiter, or raises
    `MtomFormatError` (truncated body, ``start`` naming no part, ...) or
    `MtomLimitError`.  After any error (cancellation included) the stream is
    spent: the source may be half consumed, so every later pull raises
    `ReaderStateError`.
    """

    def __init__(self, content_type: str, source: _Source, limits: ReaderLimits) -> None:
        self.content_type = content_type
        self._pump = _Pump(content_type, source, limits)
        decoder = self._pump.decoder
        self._multipart = decoder.multipart
        #: The Content-ID the ``start`` parameter names (no brackets), or None.
        self.start: str | None = decoder.start
        #: The ``type`` parameter: the root's media type (``application/xop+xml``).
        self.root_type: str | None = decoder.root_type
        #: The ``start-info`` parameter: the root's media type, maybe with an action.
        self.start_info: str | None = decoder.start_info
        self._current: StreamedPart | None = None
        self._finished = False

    @property
    def action(self) -> str | None:
        """The SOAP 1.2 action of the Content-Type (``action`` or inside ``start-info``)."""
        return self._pump.decoder.action

    def __aiter__(self) -> MtomStream:
        return self

    async def __anext__(self) -> StreamedPart:
        if self._finished:
            raise StopAsyncIteration
        decoder = self._pump.decoder
        decoder.check()
        try:
            if self._current is not None:
                await self._current.discard()
                self._current = None
            event = await self._pump.next_event()
        except BaseException as failure:
            decoder.fail(failure)
            raise
        if isinstance(event, MessageEnd):
            self._finished = True
            raise StopAsyncIteration
        assert isinstance(event, PartStart), event  # the decoder's order
        self._current = StreamedPart(self, event)
        return self._current


class StreamedPart:
    """One part of an `MtomStream`, its bytes delivered once as they arrive.

    ``async for chunk in part`` yields the decoded body (base64 transfer
    encoding undone) in chunks of whatever size the network delivered;
    ``await read()`` gathers the rest into one ``bytes``; ``await save(path)``
    writes the rest to a file.  Each byte can be consumed only once.
    """

    def __init__(self, stream: MtomStream, start: PartStart) -> None:
        self._stream = stream
        #: The Content-ID without angle brackets (None only for a root without one).
        self.content_id: str | None = start.content_id
        #: The Content-Type header as sent (``application/octet-stream`` if absent).
        self.content_type: str = start.content_type
        #: Every header of the part: (Title-Case name, value) in order received.
        self.headers: tuple[tuple[str, str], ...] = start.headers
        #: True for the root part (named by ``start``, or the first part).
        self.is_root = start.is_root
        #: Decoded bytes delivered so far; the part's size once it is complete.
        self.size = 0
        #: True once the part's end has been reached.
        self.complete = False

    def __aiter__(self) -> StreamedPart:
        return self

    async def __anext__(self) -> bytes:
        if self.complete:
            raise StopAsyncIteration
        pump = self._stream._pump
        try:
            event = await pump.next_event()
        except BaseException as failure:
            pump.decoder.fail(failure)
            raise
        if isinstance(event, Data):
            self.size += len(event.data)
            return event.data
        assert isinstance(event, PartEnd), event  # the decoder's order
        self.complete = True
        raise StopAsyncIteration

    async def read(self) -> bytes:
        """The rest of the part as one ``bytes`` object."""
        return b"".join([chunk async for chunk in self])

    async def save(self, path: str | os.PathLike[str]) -> int:
        """Write the rest of the part to ``path`` (created or truncated); returns its size."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        fd = await anyio.to_thread.run_sync(os.open, os.fspath(path), flags, 0o666)
        try:
            writer = BatchWriter(fd)
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


class _Streaming:
    """The async context manager `iter_mtom` returns."""

    def __init__(self, content_type: str, source: _Source, limits: ReaderLimits) -> None:
        self._content_type = content_type
        self._source = source
        self._limits = limits
        self._entered = False

    async def __aenter__(self) -> MtomStream:
        if self._entered:
            raise ReaderStateError("iter_mtom(...) can be entered once")
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
    max_parts: int = DEFAULT_LIMITS.max_parts,
    max_header_size: int = DEFAULT_LIMITS.max_header_size,
    max_headers: int = DEFAULT_LIMITS.max_headers,
    max_part_size: int = DEFAULT_LIMITS.max_part_size,
    max_total_size: int = DEFAULT_LIMITS.max_total_size,
    max_root_size: int = DEFAULT_LIMITS.max_root_size,
    progress: ProgressCallback | None = None,
    content_length: int | None = None,
) -> AbstractAsyncContextManager[MtomStream]:
    """Stream an MTOM message part by part, spooling nothing; yields an `MtomStream`.

    The limits (`ReaderLimits` states each one's reason), ``progress`` and
    ``content_length`` mean what they mean for `read_mtom`; ``max_root_size``
    bounds the root part, whose bytes a caller usually gathers with
    ``read()``.  Leaving the context closes an async iterator source the
    reader obtained.
    """
    limits = ReaderLimits(
        max_parts=max_parts,
        max_header_size=max_header_size,
        max_headers=max_headers,
        max_part_size=max_part_size,
        max_total_size=max_total_size,
        max_root_size=max_root_size,
    )
    return _Streaming(content_type, _Source(source, progress, content_length), limits)
