"""The body of a message: an async iterable whose every pass sends it whole.

Strategy.  HTTP clients send a body more than once (a Digest or NTLM
handshake, a 307/308 redirect), so `MtomBody` is an async *iterable*, not an
iterator: every ``async for`` over it is a new pass (``_pass.iter_body``, one
native async generator of its own) that produces the whole message from the
start by calling the push callbacks again and reading the sources again (a
path is opened again, a seekable file is rewound to where it stood when it
was given: `pull_piece` plans that when the source is given).  A source that
can be read once only is refused before a second pass produces any byte, and
a part whose length differs from what an earlier pass sent aborts the pass.

Only one pass runs at a time; the newest one wins.  A client that abandons a
pass midway (httpx on an early 401) never closes it: the body holds its
latest pass, so the next pass closes it first (the callback's cleanup runs
before the message starts again), ``aclose()`` closes it at once, and
otherwise the event loop finalizes it when the body itself is dropped.  The
pass it replaced raises `WriterStateError` if its consumer comes back: the
consumer iterates a `BodyPass`, a plain class around the pass's generator that
checks this on every chunk and, when asked, reports `Progress` (a second
generator around the pass would be finalized apart from it, in any order).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable
from contextlib import aclosing
from typing import Any

import anyio

from ._core.plan import PlannedPart, PullPiece
from ._errors import WriterStateError
from ._pass import BodyStatus, iter_body, replaced
from ._progress import Progress, ProgressCallback
from ._sources import replay_of

__all__ = ["BodyPass", "MtomBody", "pull_piece"]


async def pull_piece(source: object, size: int | None) -> PullPiece:
    """Plan a pull source: how each pass reads it again, or why none can."""
    position, once = await replay_of(source)
    return PullPiece(source, size, position, once)


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
            raise replaced()
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
            raise replaced()

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
