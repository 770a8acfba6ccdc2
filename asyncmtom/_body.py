"""Streaming the body: the root part, then each deferred source into its own part.

Strategy.  The body is one native async generator, so an HTTP client can pull
it like any other content iterator and the event loop finalizes it if the
client abandons it.  Push callbacks run *inside the consumer's own task*: the
generator drives the callback's coroutine by hand (``send``/``throw``), the way
an event loop does.  ``await write(chunk)`` suspends the callback with a
private signal object; the generator yields the chunk to the consumer and
resumes the callback only when the consumer asks for the next chunk, so the
chunk has been handed on when ``write`` returns and the caller may reuse its
buffer.  Every other value the callback's coroutine yields (an asyncio future,
a trio trap) is forwarded unchanged to the event loop and the loop's answer is
sent back, so the callback may await anything: file reads, sleeps, locks.
No task is spawned and none can leak; cancellation reaches the callback at its
current await, and closing the generator (``aclose()``, or finalization of an
abandoned generator) throws ``GeneratorExit`` into the callback so that its
``finally`` blocks run, awaits included.

Buffering is bounded: chunks smaller than ``pass_through_size`` are copied
into one small buffer together with the MIME framing and handed on when it
reaches ``coalesce_size``; larger ``bytes`` chunks are handed on as they are,
never copied.  A ``write_bytes`` value of more than four ``read_size`` is the
exception: it is handed on in ``read_size`` slices, because HTTP clients copy
each chunk whole on its way to the socket and a 1 GiB chunk would cost 1 GiB.
At most one caller chunk plus one coalescing buffer is held.

Failure aborts: an exception from a callback or source propagates unchanged
(with a note naming the part's Content-ID), a declared size that is not met
raises `PartSizeError`, and in every such case the closing delimiter is never
produced, so no receiver can take the truncated body for a whole message.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
)
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Union

import anyio

from ._errors import MtomFormatError, PartSizeError, WriterStateError

__all__ = [
    "BodyStatus",
    "BytesLike",
    "PlannedPart",
    "Progress",
    "ProgressCallback",
    "PullPiece",
    "PullChunks",
    "PushPiece",
    "as_chunk",
    "iter_body",
    "with_progress",
]

BytesLike = Union[bytes, bytearray, memoryview]  # noqa: UP007 (a runtime alias on 3.10)


def as_chunk(chunk: object) -> bytes | memoryview:
    """Check that *chunk* is bytes-like; ``bytes`` are returned as is, never copied."""
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, str):
        raise MtomFormatError("binary chunks must be bytes-like, not str")
    try:
        view = memoryview(chunk)  # type: ignore[arg-type]
    except TypeError:
        raise MtomFormatError(
            f"binary chunks must be bytes-like, not {type(chunk).__name__}"
        ) from None
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


@dataclass(slots=True)
class PushPiece:
    """A push callback deferred to body time (WsPushBytes)."""

    callback: Callable[..., Awaitable[object]]
    args: tuple[Any, ...]
    size: int | None


@dataclass(slots=True)
class PullPiece:
    """A pull source deferred to body time (WsPullBytes)."""

    source: object
    size: int | None


Piece = Union[bytes, PushPiece, PullPiece]  # noqa: UP007


@dataclass(slots=True)
class PlannedPart:
    """One attachment part: its framing head, id, declared size and content pieces."""

    content_id: str
    content_type: str
    head: bytes = b""
    pieces: list[Piece] = field(default_factory=list)
    size: int | None = 0

    def add(self, piece: Piece, size: int | None) -> None:
        self.pieces.append(piece)
        self.size = None if self.size is None or size is None else self.size + size


@dataclass(slots=True)
class BodyStatus:
    """Shared with the writer: whether the body started, and which part it is in."""

    started: bool = False
    content_id: str | None = None
    part_written: int = 0
    part_size: int | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a body stands, as reported to a ``progress`` callback.

    ``done`` counts body bytes handed on so far (framing included) out of
    ``total`` (the Content-Length, or None when unknown).  ``content_id`` is the
    part being written (None while the root part goes out), with
    ``part_done`` of its ``part_size`` bytes (None when not declared).
    """

    done: int
    total: int | None
    content_id: str | None
    part_done: int
    part_size: int | None


ProgressCallback = Callable[[Progress], object]


async def with_progress(
    chunks: AsyncGenerator[bytes, None],
    status: BodyStatus,
    total: int | None,
    progress: ProgressCallback,
) -> AsyncGenerator[bytes, None]:
    """Report `Progress` for each chunk of *chunks* before handing it on."""
    done = 0
    async with aclosing(chunks):
        async for chunk in chunks:
            done += len(chunk)
            progress(
                Progress(done, total, status.content_id, status.part_written, status.part_size)
            )
            yield chunk


class _ChunkSignal:
    """What ``await write(chunk)`` yields to the body generator driving the callback."""

    __slots__ = ("data", "write")

    def __init__(self, data: bytes | memoryview, write: _PushWrite) -> None:
        self.data = data
        self.write = write

    def __await__(self) -> Generator[Any, None, None]:
        if not self.write.active:
            # Awaited in another task: the signal would reach that task's event loop.
            raise WriterStateError(
                "write() must be awaited by the push callback itself, not from another task"
            )
        yield self


class _Forward:
    """Forward one value yielded by the callback's coroutine to the event loop."""

    __slots__ = ("signal",)

    def __init__(self, signal: object) -> None:
        self.signal = signal

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.signal)


class _PushWrite:
    """The ``write`` function handed to a deferred push callback."""

    __slots__ = ("active", "content_id", "returned", "unawaited")

    def __init__(self, content_id: str) -> None:
        self.content_id = content_id
        self.active = False
        self.returned = False
        self.unawaited = 0  # write() calls whose chunk the driver has not received

    def __call__(self, chunk: BytesLike) -> Awaitable[None]:
        if self.returned:
            raise WriterStateError(
                f"write() called after the push callback of part <{self.content_id}> returned"
            )
        if not self.active:
            raise WriterStateError(
                "write() must be awaited by the push callback itself, not from another task"
            )
        signal = _ChunkSignal(as_chunk(chunk), self)
        self.unawaited += 1
        return signal


def _note(exc: BaseException, content_id: str) -> None:
    note = f"asyncmtom: raised while streaming the MTOM part <{content_id}>"
    notes = getattr(exc, "__notes__", None)
    if notes is not None and note in notes:
        return
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # Python 3.10
        exc.__notes__ = [*(notes or []), note]  # type: ignore[attr-defined]


def _size_error(part: PlannedPart, got: int, more: bool) -> PartSizeError:
    if more:
        return PartSizeError(
            f"part <{part.content_id}> was declared as {part.size} bytes "
            f"but its sources wrote more ({got} so far)"
        )
    return PartSizeError(
        f"part <{part.content_id}> was declared as {part.size} bytes but its sources wrote {got}"
    )


class _Outbox:
    """Turns the chunks of the body into what is handed on: coalesced, passed, or joined.

    Plain mode: chunks below ``pass_through_size`` are copied into ``out``
    (with the MIME framing) and handed on at ``coalesce_size``; larger ones
    pass through as they are.  Join mode (large parts of a body with a known
    length): ``bytes`` are collected by reference and handed on joined, once
    ``join_size`` is reached, because HTTP clients pay per chunk (httpx: about
    28 us, more than the copy of 64 KiB) far more than per byte.
    """

    __slots__ = ("batch", "batched", "coalesce_size", "join_size", "joining", "out", "pass_through")

    def __init__(self, coalesce_size: int, pass_through_size: int, join_size: int) -> None:
        self.out = bytearray()
        self.batch: list[bytes] = []
        self.batched = 0
        self.joining = False
        self.coalesce_size = coalesce_size
        self.pass_through = pass_through_size
        self.join_size = join_size

    def add(self, data: bytes | memoryview) -> list[bytes]:
        """Take one chunk; return the chunks now ready to hand on, in order."""
        size = len(data)
        if self.joining and size < self.join_size:
            if self.out:
                self.batch.append(bytes(self.out))
                self.batched += len(self.out)
                del self.out[:]
            self.batch.append(data if type(data) is bytes else bytes(data))
            self.batched += size
            if self.batched >= self.join_size:
                return [self.take_batch()]
            return []
        if size < self.pass_through and not self.batch:
            self.out += data
            if len(self.out) >= self.coalesce_size:
                coalesced = bytes(self.out)
                del self.out[:]
                return [coalesced]
            return []
        ready = self.flush()
        ready.append(data if type(data) is bytes else bytes(data))
        return ready

    def take_batch(self) -> bytes:
        joined = b"".join(self.batch)
        self.batch.clear()
        self.batched = 0
        return joined

    def flush(self) -> list[bytes]:
        ready = [self.take_batch()] if self.batch else []
        if self.out:
            ready.append(bytes(self.out))
            del self.out[:]
        return ready


async def iter_body(
    first: bytes,
    parts: list[PlannedPart],
    closing: bytes,
    status: BodyStatus,
    *,
    read_size: int,
    coalesce_size: int,
    pass_through_size: int,
    join_size: int = 0,
) -> AsyncGenerator[bytes, None]:
    """Yield *first*, then every part (head and content), then *closing*.

    ``join_size`` > 0 joins the chunks of parts of at least 16 times that size
    (declared) into chunks of about ``join_size``; the writer asks for it only
    when the body has a Content-Length (a chunked body would be copied again
    by the client's framing, which costs more than joining saves).
    """
    status.started = True
    box = _Outbox(coalesce_size, pass_through_size, join_size)
    if first:
        yield first  # the root part on its own: the receiver can start parsing at once
    for part in parts:
        for ready in box.flush() if box.batch else ():
            yield ready
        box.out += part.head
        box.joining = bool(join_size) and part.size is not None and part.size >= 16 * join_size
        slice_size = max(read_size, join_size) if box.joining else read_size
        written = 0
        status.content_id = part.content_id
        status.part_written = 0
        status.part_size = part.size
        limit = part.size
        try:
            for piece in part.pieces:
                if type(piece) is bytes:
                    written += len(piece)
                    status.part_written = written
                    if limit is not None and written > limit:
                        raise _size_error(part, written, True)
                    if len(piece) <= 4 * slice_size:
                        for ready in box.add(piece):
                            yield ready
                    else:
                        # One huge chunk would be copied whole on its way to the
                        # socket (h11 joins framing, the transport buffers the
                        # unsent rest): slices keep that copy small.
                        view = memoryview(piece)
                        for start in range(0, len(piece), slice_size):
                            for ready in box.add(bytes(view[start : start + slice_size])):
                                yield ready
                elif type(piece) is PushPiece:
                    write = _PushWrite(part.content_id)
                    awaitable = piece.callback(write, *piece.args)
                    if not isinstance(awaitable, Awaitable):
                        raise MtomFormatError(
                            "a push callback must be an async function; "
                            f"it returned {type(awaitable).__name__}"
                        )
                    steps = awaitable.__await__()
                    send: Any = None
                    throw: BaseException | None = None
                    size_error: PartSizeError | None = None
                    gone: BaseException | None = None
                    try:
                        while True:
                            write.active = True
                            try:
                                signal = steps.send(send) if throw is None else steps.throw(throw)
                            except StopIteration:
                                break
                            finally:
                                write.active = False
                            send = throw = None
                            if type(signal) is _ChunkSignal:
                                if gone is not None:
                                    throw = gone  # the consumer is gone
                                    continue
                                write.unawaited -= 1
                                data = signal.data
                                written += len(data)
                                status.part_written = written
                                if limit is not None and written > limit:
                                    size_error = throw = _size_error(part, written, True)
                                    continue
                                try:
                                    for ready in box.add(data):
                                        yield ready
                                except BaseException as exc:  # aclose() or athrow()
                                    throw = gone = exc
                            else:
                                try:
                                    send = await _Forward(signal)
                                except BaseException as exc:
                                    throw = exc
                    finally:
                        write.returned = True
                        close = getattr(steps, "close", None)
                        if close is not None:
                            close()
                    if gone is not None:
                        raise gone
                    if size_error is not None:
                        raise size_error
                    if write.unawaited:
                        raise WriterStateError(
                            "the push callback called write() without awaiting it: "
                            "its chunk was lost"
                        )
                else:
                    assert type(piece) is PullPiece
                    chunks = PullChunks(piece.source, read_size)
                    try:
                        async for data in chunks:
                            written += len(data)
                            status.part_written = written
                            if limit is not None and written > limit:
                                raise _size_error(part, written, True)
                            for ready in box.add(data):
                                yield ready
                    finally:
                        await chunks.aclose()
            if limit is not None and written != limit:
                raise _size_error(part, written, False)
        except Exception as exc:
            _note(exc, part.content_id)
            raise
        if box.batch or len(box.out) >= coalesce_size:
            for ready in box.flush():
                yield ready
    box.out += closing
    for ready in box.flush():
        yield ready


class PullChunks:
    """The chunks of a pull source, checked bytes-like, whatever its kind.

    A source with ``async read(n)`` is read ``read_size`` bytes at a time; an
    ``os.PathLike`` is opened on first use and closed by `aclose`; an async
    generator given as a source is closed by `aclose` too, so its cleanup runs
    when the body is aborted.  A plain class (not an async generator), so that
    nothing of it is left for the event loop to finalize.
    """

    __slots__ = ("_iterator", "_opened", "_read", "read_size", "source")

    def __init__(self, source: object, read_size: int) -> None:
        self.source = source
        self.read_size = read_size
        self._opened: anyio.AsyncFile[bytes] | None = None
        self._read: Callable[[int], Awaitable[object]] | None = None
        self._iterator: AsyncIterator[object] | None = None

    def __aiter__(self) -> PullChunks:
        return self

    async def __anext__(self) -> bytes | memoryview:
        if self._read is None and self._iterator is None:
            source = self.source
            if isinstance(source, os.PathLike):
                self._opened = source = await anyio.open_file(source, "rb")
            read = getattr(source, "read", None)
            if callable(read):
                self._read = read
            elif isinstance(source, AsyncIterable):
                self._iterator = aiter(source)
            else:
                raise MtomFormatError(
                    "a pull source must be an async iterable of bytes-like chunks, an object "
                    "with an async read(n) method, or an os.PathLike"
                )
        if self._read is not None:
            chunk = await self._read(self.read_size)
            if not chunk:
                raise StopAsyncIteration
        else:
            assert self._iterator is not None
            chunk = await self._iterator.__anext__()
        return as_chunk(chunk)

    async def aclose(self) -> None:
        if self._opened is not None:
            opened, self._opened = self._opened, None
            await opened.aclose()
        elif inspect.isasyncgen(self.source):
            await self.source.aclose()
