"""One pass over the body: the root part, then each part's pieces, then the closing.

Strategy. A pass is one native async generator (`iter_body`), so an HTTP
client can pull it like any other content iterator and the event loop
finalizes it if the client abandons it. It walks the plan (``_core.plan``) in
document order: ``bytes`` pieces as they are, pull sources through
``_sources.SourceChunks``, push callbacks driven in place. Push callbacks run
*inside the consumer's own task*: the pass steps the callback's coroutine by
hand through the trampoline of ``_trampoline``, the way an event loop does.
``await write(chunk)`` suspends the callback with a `ChunkSignal`; the pass
yields the chunk to the consumer and resumes the callback only when the
consumer asks for the next chunk, so the chunk has been handed on when
``write`` returns and the caller may reuse its buffer. Every other value the
callback's coroutine yields (an asyncio future, a trio trap) is forwarded
unchanged to the event loop and the loop's answer is sent back, so the
callback may await anything: file reads, sleeps, locks. No task is spawned
and none can leak; cancellation reaches the callback at its current await,
and closing the pass (``aclose()``, or finalization of an abandoned pass)
throws ``GeneratorExit`` into the callback so that its ``finally`` blocks
run, awaits included. The driving loop is written out inside `iter_body`
itself: an async generator cannot delegate to another without a layer that
every chunk would cross.

Buffering is bounded (the policy is ``_core.outbox``): chunks smaller than
``pass_through_size`` are copied into one small buffer together with the
MIME framing and handed on when it reaches ``coalesce_size``; larger
``bytes`` chunks are handed on as they are, never copied.  A ``write_bytes``
value of more than four ``read_size`` is the exception: it is handed on in
``read_size`` slices, because HTTP clients copy each chunk whole on its way
to the socket and a 1 GiB chunk would cost 1 GiB. At most one caller chunk
plus one coalescing buffer is held.

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
raises `PartSizeError` (on a later pass, so does a length other than the
first pass sent), and in every such case the closing delimiter is never
produced, so no receiver can take the truncated body for a whole message. A
pass its consumer leaves unfinished without closing it is logged as a
warning when the event loop finalizes it: that is often the only trace of a
server that refused the upload.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from types import AsyncGeneratorType
from typing import TYPE_CHECKING, Any

import anyio

from ._core.outbox import Outbox, RawOutbox
from ._core.plan import PlannedPart, PullPiece, PushPiece
from ._errors import MtomError, PartSizeError, WriterStateError
from ._sources import SourceChunks
from ._trampoline import ChunkSignal, Forward, PushWrite, trampoline

if TYPE_CHECKING:
    from ._body import MtomBody

__all__ = ["BodyStatus", "iter_body", "replaced"]

logger = logging.getLogger("asyncmtom")


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


def replaced() -> WriterStateError:
    """The error for the consumer of a pass that was closed or replaced by a newer one."""
    return WriterStateError(
        "this pass over the body was closed, or replaced by a newer pass that sends "
        "the message again; only one pass runs at a time"
    )


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

    Made when the part starts: it sets the pass's status to the part and the
    outbox's join mode.  Push callbacks and pull sources go through the same
    checks for every chunk: the progress status, the start of joining for a
    part of unknown size, the declared (or first-pass) size, and a newer pass
    that replaced this one.  `end` checks the length the part came to.
    """

    __slots__ = ("box", "join_from", "join_size", "limit", "part", "status", "written")

    def __init__(
        self, part: PlannedPart, status: BodyStatus, box: Outbox, join_size: int, raw: bool
    ) -> None:
        self.part = part
        self.status = status
        self.box = box
        self.join_size = join_size
        self.written = 0
        # Joined: a part declared of 16 join sizes or more at once; a part of
        # unknown size once that much of it was written (a small one is never
        # held whole, however many run at the same time).
        box.joining = bool(join_size) and part.size is not None and part.size >= 16 * join_size
        self.join_from = 16 * join_size if join_size and part.size is None and not raw else 0
        if box.joining and not raw:
            _settle_allocator(join_size)
        self.limit = part.size if part.size is not None else part.sent
        status.content_id = part.content_id
        status.part_written = 0
        status.part_size = part.size

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
            return replaced()
        return None

    def end(self) -> None:
        """The part is complete: check its length, and keep the first pass's."""
        part = self.part
        if self.limit is not None and self.written != self.limit:
            raise _size_error(part, self.written, False)
        if part.sent is None:
            part.sent = self.written


def _push_ended(write: PushWrite, gone: BaseException | None, refused: MtomError | None) -> None:
    """Raise what ended a push callback's piece early, if anything did."""
    if gone is not None:
        raise gone
    if refused is not None:
        raise refused
    if write.unawaited:
        raise WriterStateError(
            "the push callback called write() without awaiting it: its chunk was lost"
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
    streaming: str | None = None  # the part being streamed: what it raises is noted
    steps: Generator[object, object, None] | None = None  # the push callback being driven
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
            count = _PartCount(part, status, box, join_size, raw)
            slice_size = max(read_size, join_size) if box.joining else read_size
            streaming = part.content_id
            if status.superseded:
                raise replaced()
            for piece in part.pieces:
                if type(piece) is bytes:
                    count.written += len(piece)
                    status.part_written = count.written
                    if count.limit is not None and count.written > count.limit:
                        raise _size_error(part, count.written, True)
                    if raw or len(piece) <= 4 * slice_size:
                        for ready in box.add(piece):
                            yield ready
                        continue
                    # One huge chunk would be copied whole on its way to the socket
                    # (h11 joins framing, the transport buffers the unsent rest):
                    # slices keep that copy small.
                    view = memoryview(piece)
                    for start in range(0, len(piece), slice_size):
                        for ready in box.add(bytes(view[start : start + slice_size])):
                            yield ready
                    continue
                if type(piece) is PullPiece:
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
                    continue
                assert type(piece) is PushPiece
                # Drive the callback: hand each chunk on, forward everything else to
                # the event loop. An exception for the callback (the consumer left,
                # the part is refused, the loop raised) is thrown in at its next step;
                # whatever ends this loop early is closed by the ``finally`` below.
                write = PushWrite(part.content_id)
                steps = trampoline(piece.callback, piece.args, write)
                send: Any = None
                throw: BaseException | None = None
                refused: MtomError | None = None
                gone: BaseException | None = None
                while True:
                    if throw is not None:
                        write.thrown = throw
                    try:
                        signal = steps.send(send)
                    except StopIteration:
                        break
                    send = throw = None
                    if type(signal) is not ChunkSignal:
                        if box.batch and gone is None:
                            # The callback waits for something: what it wrote is
                            # handed on first, never held back. Should the consumer
                            # leave meanwhile, the callback learns it at its next
                            # write, as always: the await it is in (perhaps a
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
                        continue
                    if gone is not None:
                        throw = gone  # the consumer is gone
                        continue
                    write.unawaited -= 1
                    data = signal.data
                    # count.take(), written out: this is the cost of every pushed chunk
                    # (a callback writing 4 KiB chunks spends 7 % of its time in the call).
                    count.written = written = count.written + len(data)
                    status.part_written = written
                    if (
                        (count.join_from and written >= count.join_from)
                        or (count.limit is not None and written > count.limit)
                        or status.superseded
                    ):
                        error = count.take(0)
                        if error is not None:
                            refused = throw = error
                            continue
                    try:
                        for ready in box.add(data):
                            yield ready
                    except BaseException as exc:  # aclose() or athrow()
                        throw = gone = exc
                steps = None
                _push_ended(write, gone, refused)
            count.end()
            streaming = None
            if box.batch or len(box.out) >= coalesce_size:
                for ready in box.flush():
                    yield ready
        if status.superseded:
            raise replaced()
        box.out += closing
        for ready in box.flush():
            yield ready
    except GeneratorExit:
        if not (status.superseded or status.closed):
            _log_abandoned(status)
        raise
    except Exception as exc:
        if streaming is not None:
            _note(exc, streaming)
        raise
    finally:
        status.finished = True
        if status.done is not None:
            status.done.set()  # a waiting pass resumes later: the close below runs first
        if steps is not None:
            steps.close()  # the callback's coroutine is closed: its finally blocks run
