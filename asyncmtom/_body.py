"""Streaming the body: the root part, then each deferred source into its own part.

Strategy. The body is one native async generator, so an HTTP client can pull it
like any other content iterator and the event loop finalizes it if the client
abandons it. Push callbacks run *inside the consumer's own task*: the generator
drives the callback's coroutine by hand (``send``/``throw``), the way an event
loop does, through the trampoline of ``_trampoline``. ``await write(chunk)``
suspends the callback with a private signal object; the generator yields the
chunk to the consumer and resumes the callback only when the consumer asks for
the next chunk, so the chunk has been handed on when ``write`` returns and the
caller may reuse its buffer. Every other value the callback's coroutine yields
(an asyncio future, a trio trap) is forwarded unchanged to the event loop and
the loop's answer is sent back, so the callback may await anything: file reads,
sleeps, locks. No task is spawned and none can leak; cancellation reaches the
callback at its current await, and closing the generator (``aclose()``, or
finalization of an abandoned generator) throws ``GeneratorExit`` into the
callback so that its ``finally`` blocks run, awaits included.

Buffering is bounded (the policy is ``_core.outbox``, the parts' plan
``_core.plan``): chunks smaller than ``pass_through_size`` are copied
into one small buffer together with the MIME framing and handed on when it
reaches ``coalesce_size``; larger ``bytes`` chunks are handed on as they are,
never copied.  A ``write_bytes`` value of more than four ``read_size`` is the
exception: it is handed on in ``read_size`` slices, because HTTP clients copy
each chunk whole on its way to the socket and a 1 GiB chunk would cost 1 GiB.
At most one caller chunk plus one coalescing buffer is held.

Joining. HTTP clients pay per chunk (httpx about 28 us, more than copying
64 KiB), so the chunks of a large part (declared of at least 16 ``join_size``,
or of unknown size once that much of it was written) are collected by
reference and handed on joined into chunks of about ``join_size``: one copy
of the data, held once (chunks of a quarter ``join_size`` or more are large
enough: they pass uncopied). What a push callback wrote is handed on as soon
as it awaits anything else than ``write`` (a file read, a socket): joining
gathers what is there, it never holds data back while the producer waits. A
chunked body gets its chunks copied again by the client's framing (h11 and
aiohttp join size line, data and CRLF), so every joined chunk costs two
fresh large blocks; glibc maps blocks above its mmap threshold (128 KiB at
first) and unmaps them when freed, or trims the freed heap top, and the next
chunk faults every page in again (250,000 faults and twice the CPU per GiB).
The first pass that joins therefore frees one block of four join sizes once
per process: glibc then raises its threshold to that size and its trim
threshold to twice it (the dynamic threshold of ``mallopt(3)``), and the
chunks are recycled from the heap. The price: up to eight join sizes of
freed memory may stay with the process instead of going back to the system,
as they would after any block of that size the program itself freed.

Failure aborts: an exception from a callback or source propagates unchanged
(with a note naming the part's Content-ID), a declared size that is not met
raises `PartSizeError`, and in every such case the closing delimiter is never
produced, so no receiver can take the truncated body for a whole message.

Sending again.  HTTP clients send a body more than once (a Digest or NTLM
handshake, a 307/308 redirect), so `MtomBody` is an async *iterable*, not an
iterator: every ``async for`` over it is a new pass, one native async generator
of its own, that produces the whole message from the start by calling the push
callbacks again and reading the sources again (a path is opened again, a
seekable file is rewound to where it stood when it was given).  A source that
can be read once only is refused before a second pass produces any byte, and a
part whose length differs from what an earlier pass sent aborts the pass.  A
client that abandons a pass midway (httpx on an early 401) never closes it: the
body holds its latest pass, so the next pass closes it first (the callback's
cleanup runs before the message starts again), ``aclose()`` closes it at once,
and otherwise the event loop finalizes it when the body itself is dropped.
Only one pass runs at a time; the newest one wins, and the pass it replaced
raises `WriterStateError` if its consumer comes back.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import (
    AsyncGenerator,
    Awaitable,
)
from contextlib import aclosing
from dataclasses import dataclass
from types import AsyncGeneratorType
from typing import Any

import anyio

from ._core.outbox import Outbox, RawOutbox
from ._core.plan import PlannedPart, PullPiece, PushPiece
from ._errors import MtomError, PartSizeError, WriterStateError
from ._progress import Progress, ProgressCallback
from ._sources import SourceChunks, replay_of
from ._trampoline import ChunkSignal, Forward, PushWrite, trampoline

__all__ = [
    "BodyPass",
    "BodyStatus",
    "MtomBody",
    "iter_body",
    "pull_piece",
]

logger = logging.getLogger("asyncmtom")


async def pull_piece(source: object, size: int | None) -> PullPiece:
    """Plan a pull source: how each pass reads it again, or why none can."""
    position, once = await replay_of(source)
    return PullPiece(source, size, position, once)


@dataclass(slots=True, eq=False)
class BodyStatus:
    """One pass over the body: its number, which part it is in, and how it ends.

    ``gen`` refers weakly to the pass's outermost generator, so that an
    abandoned pass can still be finalized by the event loop; ``superseded``
    is set when a newer pass (or `MtomBody.aclose`) took over.
    """

    number: int = 0
    content_id: str | None = None
    part_written: int = 0
    part_size: int | None = None
    superseded: bool = False
    closed: bool = False  # closed on purpose by its consumer (BodyPass.aclose)
    finished: bool = False
    done: anyio.Event | None = None
    gen: weakref.ref[AsyncGeneratorType[Any, None]] | None = None

    def track(self, gen: AsyncGenerator[Any, None]) -> None:
        assert isinstance(gen, AsyncGeneratorType)
        self.gen = weakref.ref(gen)


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
    wrote = f"more ({got} so far)" if more else str(got)
    if part.size is None:  # the length an earlier pass sent is the promise
        return PartSizeError(
            f"part <{part.content_id}> had {part.sent} bytes when the message was sent "
            f"before, but this pass wrote {wrote}: a message sent again must be the same"
        )
    if more:
        return PartSizeError(
            f"part <{part.content_id}> was declared as {part.size} bytes "
            f"but its sources wrote {wrote}"
        )
    return PartSizeError(
        f"part <{part.content_id}> was declared as {part.size} bytes but its sources wrote {got}"
    )


def _log_abandoned(status: BodyStatus) -> None:
    """A pass its client left unfinished and never came back to: say what that may mean.

    httpx on asyncio reports a server that refused the upload after the headers
    and closed the connection (WCF with 413, IIS request filtering with 404.13)
    as an empty ``ReadError``: the status is lost, and this line is the only
    trace of why.
    """
    where = (
        "in the root part"
        if status.content_id is None
        else f"in part <{status.content_id}> after {status.part_written} of its bytes"
    )
    logger.warning(
        "the HTTP client stopped sending the MTOM body %s (pass %d) and did not finish it: "
        "the connection failed or the server answered before the end of the upload. A "
        "server that refuses a large upload answers at once and closes (WCF: 413, "
        "maxReceivedMessageSize; IIS: 404.13, requestLimits maxAllowedContentLength); "
        "httpx on asyncio then reports an empty ReadError instead of that status",
        where,
        status.number,
    )


_allocator_settled = False


def _settle_allocator(join_size: int) -> None:
    """Free one block of four join sizes, once per process (see "Joining" above)."""
    global _allocator_settled
    if not _allocator_settled:
        _allocator_settled = True
        # bytes(n) is calloc'ed (its pages are never touched) and freed at once:
        # only glibc's dynamic mmap threshold moves; other allocators ignore it.
        block = bytes(4 * join_size)
        del block


class _PartCount:
    """One part's content bytes so far, and what they decide chunk by chunk.

    Push callbacks and pull sources go through the same checks for every chunk:
    the progress status, the start of joining for a part of unknown size, the
    declared (or first-pass) size, and a newer pass that replaced this one.
    """

    __slots__ = ("box", "join_from", "join_size", "limit", "part", "status", "written")

    def __init__(
        self,
        part: PlannedPart,
        status: BodyStatus,
        box: Outbox,
        limit: int | None,
        join_from: int,
        join_size: int,
    ) -> None:
        self.part = part
        self.status = status
        self.box = box
        self.limit = limit
        self.join_from = join_from
        self.join_size = join_size
        self.written = 0

    def take(self, size: int) -> MtomError | None:
        """Count one chunk of *size* bytes; the error that ends the part, if any."""
        self.written = written = self.written + size
        self.status.part_written = written
        if self.join_from and written >= self.join_from:
            self.join_from = 0
            self.box.joining = True
            _settle_allocator(self.join_size)
        if self.limit is not None and written > self.limit:
            return _size_error(self.part, written, True)
        if self.status.superseded:
            return _replaced()
        return None


def _replaced() -> WriterStateError:
    return WriterStateError(
        "this pass over the body was closed, or replaced by a newer pass that sends "
        "the message again; only one pass runs at a time"
    )


class BodyPass:
    """One pass over an `MtomBody`, as its consumer iterates it.

    A plain class around the pass's native async generator: the generator
    alone would end quietly once a newer pass had closed it, where the
    consumer that comes back must get an error.
    """

    __slots__ = ("_done", "_gen", "_progress", "_status", "_total")

    def __init__(
        self,
        gen: AsyncGenerator[bytes, None],
        status: BodyStatus,
        progress: ProgressCallback | None = None,
        total: int | None = None,
    ) -> None:
        self._gen = gen
        self._status = status
        self._progress = progress
        self._total = total
        self._done = 0

    def __aiter__(self) -> BodyPass:
        return self

    def __anext__(self) -> Awaitable[bytes]:
        if self._status.superseded:
            raise _replaced()
        if self._progress is None:
            return self._gen.__anext__()
        return self._reported()

    async def _reported(self) -> bytes:
        # Reported here rather than by a second generator around the pass: two
        # generators would be finalized separately, in any order, when abandoned.
        chunk = await self._gen.__anext__()
        self._done += len(chunk)
        status, progress = self._status, self._progress
        assert progress is not None
        progress(
            Progress(
                self._done,
                self._total,
                status.content_id,
                status.part_written,
                status.part_size,
                status.number,
            )
        )
        return chunk

    async def aclose(self) -> None:
        """Close this pass now: the running callback's cleanup runs at once."""
        self._status.closed = True
        await self._gen.aclose()


async def _retire(status: BodyStatus) -> None:
    """End an unfinished pass before another one starts (or on `MtomBody.aclose`)."""
    gen = status.gen() if status.gen is not None else None
    if gen is not None and gen.ag_running and gen.ag_await is None:
        # Its frame is on our own stack: a callback of that pass iterates the body.
        raise WriterStateError("a pass over the body cannot start inside one of its own callbacks")
    status.superseded = True
    if gen is not None and not gen.ag_running:
        await gen.aclose()  # suspended where it handed a chunk on: its cleanup runs now
        return
    # Awaiting in another task (a source read, or its own cleanup): it stops at
    # its next chunk.  Wait for it: two passes never read a source at once, and
    # the cleanup of the old one has run when the new one starts.
    if status.done is None:
        status.done = anyio.Event()
    await status.done.wait()


class MtomBody:
    """The body of a message: an async iterable whose every pass sends it whole.

    `XmlWriter.body` returns one.  Give it to httpx as ``content=`` or to
    aiohttp as ``data=``; an HTTP client that sends the request again (an
    authentication handshake, a 307/308 redirect) iterates it again and gets
    the same bytes: push callbacks are called again and sources read again.
    ``content_type`` and ``content_length`` (None when unknown) describe it.
    ``aclose()`` closes the pass in progress, if any, at once (its cleanup
    runs); a later ``async for`` starts a new pass.
    """

    __slots__ = (
        "_current",
        "_passes",
        "_running",
        "closing",
        "coalesce_size",
        "content_length",
        "content_type",
        "first",
        "join_size",
        "parts",
        "pass_through_size",
        "progress",
        "read_size",
    )

    def __init__(
        self,
        first: bytes,
        parts: list[PlannedPart],
        closing: bytes,
        *,
        content_type: str,
        content_length: int | None,
        read_size: int,
        coalesce_size: int,
        pass_through_size: int,
        join_size: int = 0,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.first = first
        self.parts = parts
        self.closing = closing
        self.content_type = content_type
        self.content_length = content_length
        self.read_size = read_size
        self.coalesce_size = coalesce_size
        self.pass_through_size = pass_through_size
        self.join_size = join_size
        self.progress = progress
        self._passes = 0
        self._current: BodyStatus | None = None
        self._running: AsyncGenerator[Any, None] | None = None

    def __aiter__(self) -> BodyPass:
        status = BodyStatus()
        gen = iter_body(self, status)
        status.track(gen)
        return BodyPass(gen, status, self.progress, self.content_length)

    @property
    def passes(self) -> int:
        """How many passes have started (2 or more: the message was sent again)."""
        return self._passes

    @property
    def replayable(self) -> bool:
        """Whether another pass can run: no pass yet, or no source that reads once."""
        return self._passes == 0 or self._once() is None

    def _once(self) -> tuple[str, str] | None:
        for part in self.parts:
            for piece in part.pieces:
                if type(piece) is PullPiece and piece.once is not None:
                    return part.content_id, piece.once
        return None

    async def aclose(self) -> None:
        """Close the pass in progress, if any: its callback's cleanup runs now."""
        status = self._current
        if status is not None and not status.finished:
            await _retire(status)

    async def _part_chunks(self) -> AsyncGenerator[tuple[str, bytes], None]:
        """A pass that reads every part's content without sending it.

        Yields ``(content_id, chunk)`` in document order, without framing or
        coalescing, for library code that must read the content before the
        message goes out (a digest for a signature).  It counts as a pass: a
        later one reads the sources again and must give each part the same
        length.
        """
        status = BodyStatus()
        gen = iter_body(self, status, raw=True)
        status.track(gen)
        async with aclosing(gen):
            try:
                async for data in gen:
                    assert status.content_id is not None
                    yield status.content_id, data
            finally:
                status.closed = True  # stopped by its consumer, not abandoned
        if status.superseded:
            raise _replaced()

    async def _begin(self, status: BodyStatus) -> None:
        previous = self._current
        self._current = status
        # Held until a newer pass or the body itself goes: a pass its client
        # abandoned without closing it is closed by the next pass or by aclose(),
        # at once, and otherwise finalized by the event loop with the body.
        self._running = status.gen() if status.gen is not None else None
        if previous is not None and not previous.finished:
            await _retire(previous)
        self._passes += 1
        status.number = self._passes
        if status.number > 1:
            once = self._once()
            if once is not None:
                content_id, kind = once
                raise WriterStateError(
                    f"part <{content_id}> is read from {kind}, which can be read only once, "
                    "so the message cannot be sent again (the HTTP client sends a body again "
                    "for an authentication handshake or a 307/308 redirect): give bytes, a "
                    "path, a seekable file or a push callback, or authenticate before the "
                    "first request (a Basic Authorization header, a warmed-up connection)"
                )


async def iter_body(
    body: MtomBody, status: BodyStatus, *, raw: bool = False
) -> AsyncGenerator[bytes, None]:
    """One pass: the root part, then every part (head and content), then the closing.

    ``join_size`` > 0 joins the chunks of parts declared of at least 16 times
    that size, or of unknown size once that much was written, into chunks of
    about ``join_size`` (see "Joining" in the module docstring). ``raw``
    yields the parts' content only, as it comes (see `MtomBody._part_chunks`).
    """
    try:
        await body._begin(status)
        read_size = body.read_size
        coalesce_size = body.coalesce_size
        join_size = body.join_size
        box = (RawOutbox if raw else Outbox)(coalesce_size, body.pass_through_size, join_size)
        first, parts, closing = body.first, body.parts, body.closing
        # The body holds this generator while it is the latest pass; holding the
        # body in return would make a cycle that only the garbage collector breaks.
        del body
        if first and not raw:
            yield first  # the root part on its own: the receiver can start parsing at once
        for part in parts:
            for ready in box.flush() if box.batch else ():
                yield ready
            box.out += part.head
            # Joined: a part declared of 16 join sizes or more at once; a part of
            # unknown size once that much of it was written (a small one is never
            # held whole, however many run at the same time).
            box.joining = bool(join_size) and part.size is not None and part.size >= 16 * join_size
            join_from = 16 * join_size if join_size and part.size is None and not raw else 0
            if box.joining and not raw:
                _settle_allocator(join_size)
            slice_size = max(read_size, join_size) if box.joining else read_size
            status.content_id = part.content_id
            status.part_written = 0
            status.part_size = part.size
            limit = part.size if part.size is not None else part.sent
            count = _PartCount(part, status, box, limit, join_from, join_size)
            try:
                if status.superseded:
                    raise _replaced()
                for piece in part.pieces:
                    if type(piece) is bytes:
                        count.written += len(piece)
                        status.part_written = count.written
                        if limit is not None and count.written > limit:
                            raise _size_error(part, count.written, True)
                        if raw or len(piece) <= 4 * slice_size:
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
                        write = PushWrite(part.content_id)
                        steps = trampoline(piece.callback, piece.args, write)
                        send: Any = None
                        throw: BaseException | None = None
                        refused: MtomError | None = None
                        gone: BaseException | None = None
                        try:
                            while True:
                                if throw is not None:
                                    write.thrown = throw
                                try:
                                    signal = steps.send(send)
                                except StopIteration:
                                    break
                                send = throw = None
                                if type(signal) is ChunkSignal:
                                    if gone is not None:
                                        throw = gone  # the consumer is gone
                                        continue
                                    write.unawaited -= 1
                                    data = signal.data
                                    error = count.take(len(data))
                                    if error is not None:
                                        refused = throw = error
                                        continue
                                    try:
                                        for ready in box.add(data):
                                            yield ready
                                    except BaseException as exc:  # aclose() or athrow()
                                        throw = gone = exc
                                else:
                                    if box.batch and gone is None:
                                        # The callback waits for something: what it
                                        # wrote is handed on first, never held back.
                                        # Should the consumer leave meanwhile, the
                                        # callback learns it at its next write, as
                                        # always: the await it is in (perhaps a
                                        # shielded cleanup) completes first.
                                        try:
                                            for ready in box.flush():
                                                yield ready
                                        except BaseException as exc:  # aclose() or athrow()
                                            gone = exc
                                    try:
                                        send = await Forward(signal)
                                    except BaseException as exc:
                                        throw = exc
                        finally:
                            steps.close()
                        if gone is not None:
                            raise gone
                        if refused is not None:
                            raise refused
                        if write.unawaited:
                            raise WriterStateError(
                                "the push callback called write() without awaiting it: "
                                "its chunk was lost"
                            )
                    else:
                        assert type(piece) is PullPiece
                        chunks = SourceChunks(piece.source, read_size, piece.position)
                        try:
                            async for data in chunks:
                                error = count.take(len(data))
                                if error is not None:
                                    raise error
                                for ready in box.add(data):
                                    yield ready
                        finally:
                            await chunks.aclose()
                if limit is not None and count.written != limit:
                    raise _size_error(part, count.written, False)
                if part.sent is None:
                    part.sent = count.written
            except Exception as exc:
                _note(exc, part.content_id)
                raise
            if box.batch or len(box.out) >= coalesce_size:
                for ready in box.flush():
                    yield ready
        if status.superseded:
            raise _replaced()
        box.out += closing
        for ready in box.flush():
            yield ready
    except GeneratorExit:
        if not (status.superseded or status.closed):
            _log_abandoned(status)
        raise
    finally:
        status.finished = True
        if status.done is not None:
            status.done.set()
