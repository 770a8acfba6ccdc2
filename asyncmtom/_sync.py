"""Synchronous HTTP clients: the async body, pulled chunk by chunk from a blocking portal.

`SyncBody` makes the writer's async body (``writer.body()``) a plain
iterable of bytes chunks for synchronous HTTP code: ``httpx.Client``
(``content=``), ``requests`` (``data=``), or zeep's sync ``Client`` through
``asyncmtom.zeep.SyncMtomTransport``.  The async side runs on an event loop
in another thread, an ``anyio.from_thread.BlockingPortal`` the caller
supplies (``anyio.from_thread.start_blocking_portal()``).

Strategy.  One task in the portal (the pump) iterates the body, so the
body's generator and every push callback it drives stay in a single task, as
they would under an async client.  The pump advances the body only when the
synchronous consumer asks for the next chunk: a chunk handed over is never
touched again before the consumer has finished with it (a push callback may
reuse its buffer once ``write`` returns, as with an async client), and
memory stays what the async body holds, one chunk.  Each chunk costs one
thread round trip; the writer hands large parts on in 2 MiB pieces, so that
is a few hundred round trips per GiB.

A failure of the body (a callback's exception, a declared size not met)
stops the pump and is raised in the consumer's thread from the iterator, so
the HTTP client aborts the request and no closing delimiter is ever sent.
Every ``iter()`` is a new pass over the body (``__aiter__`` again), so an
HTTP client that sends the body twice (auth, redirects) gets it twice where
the body allows it.  `close` (or leaving the ``with`` block) closes a pass
the HTTP client abandoned, in the pump's task, so its cleanup runs before
the portal stops.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterator
from contextlib import suppress
from types import TracebackType

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from anyio.from_thread import BlockingPortal

__all__ = ["SyncBody"]


class SyncBody:
    """``writer.body()`` as a synchronous iterable, run in an anyio ``BlockingPortal``.

    ``SyncBody(body, portal, content_length=None)``: *body* is an async
    iterable of bytes-like chunks (``writer.body()``), *portal* a running
    ``anyio.from_thread.BlockingPortal``.  ``content_length`` (pass
    ``writer.content_length``) makes ``len()`` work, which ``requests``
    needs to send a Content-Length instead of chunked encoding; without it
    ``len()`` raises ``TypeError`` and ``requests`` sends the body chunked.
    Use it as a context manager so that a pass an HTTP client left unfinished
    is closed before the portal stops::

        with anyio.from_thread.start_blocking_portal() as portal:
            ...  # build the writer; portal.call() its binary coroutines
            with SyncBody(writer.body(), portal) as body:
                httpx.post(url, content=body, headers=writer.headers)
    """

    def __init__(
        self,
        body: AsyncIterable[bytes],
        portal: BlockingPortal,
        *,
        content_length: int | None = None,
    ) -> None:
        if not isinstance(body, AsyncIterable):
            raise TypeError(f"body must be an async iterable of chunks, not {type(body).__name__}")
        if content_length is not None and (
            not isinstance(content_length, int) or isinstance(content_length, bool)
        ):
            raise TypeError(f"content_length must be an int or None, not {content_length!r}")
        if content_length is None:  # writer.body() knows its own length
            length = getattr(body, "content_length", None)
            content_length = length if isinstance(length, int) else None
        self._body = body
        self._portal = portal
        self._length = content_length
        self._passes: list[Generator[bytes, None, None]] = []

    def __bool__(self) -> bool:
        return True  # a body, even of unknown length (``requests`` tests ``data or {}``)

    def __len__(self) -> int:
        if self._length is None:
            raise TypeError("the body's length is not known (it is sent chunked)")
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        self._passes = [
            p for p in self._passes if inspect.getgeneratorstate(p) != inspect.GEN_CLOSED
        ]
        one_pass = self._pass()
        self._passes.append(one_pass)
        return one_pass

    def close(self) -> None:
        """Close every pass still open; its cleanup runs in the portal."""
        passes, self._passes = self._passes, []
        for one_pass in passes:
            one_pass.close()

    def __enter__(self) -> SyncBody:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _pass(self) -> Generator[bytes, None, None]:
        portal = self._portal
        iterator = self._body.__aiter__()
        ask_send, ask_receive = anyio.create_memory_object_stream[None](1)
        give_send, give_receive = anyio.create_memory_object_stream[bytes](1)
        pump = portal.start_task_soon(_pump, iterator, ask_receive, give_send)
        try:
            while True:
                try:
                    chunk = portal.call(_next_chunk, ask_send, give_receive)
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    break
                yield chunk
            pump.result()  # the body's own failure, if it ended with one
        finally:
            with suppress(RuntimeError):  # the portal has stopped: its loop closed the body
                portal.call(_close, ask_send, give_receive)
                if not pump.done():
                    pump.exception()  # wait for the body's cleanup; its error, if any, is moot


async def _close(asks: ObjectSendStream[None], chunks: ObjectReceiveStream[bytes]) -> None:
    await asks.aclose()  # the pump stops asking the body for more
    await chunks.aclose()


async def _next_chunk(asks: ObjectSendStream[None], chunks: ObjectReceiveStream[bytes]) -> bytes:
    await asks.send(None)
    return await chunks.receive()


async def _pump(
    iterator: AsyncIterator[bytes],
    asks: ObjectReceiveStream[None],
    chunks: ObjectSendStream[bytes],
) -> None:
    async with asks, chunks:
        try:
            async for _ in asks:
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                await chunks.send(chunk)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
