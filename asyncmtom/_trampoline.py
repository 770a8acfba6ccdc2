"""The push-callback trampoline: a callback's coroutine, driven by hand.

Strategy.  A deferred push callback runs inside the consumer's own task, so
no task is spawned and none can leak: `trampoline` is a small synchronous
generator that steps the callback's coroutine (``send``/``throw``), the way an
event loop does, and yields every value the coroutine yields.  ``await
write(chunk)`` yields a `ChunkSignal`; anything else (an asyncio future, a
trio trap) is for the event loop.  The body's pass (``_pass.iter_body``)
decides what to do with each: a chunk is handed on to the consumer, any other
value is forwarded to the loop with `Forward` and the loop's answer is sent
back into the trampoline (an exception to raise in the callback instead is
set as ``write.thrown`` first).

``write`` (`PushWrite`) is usable only while the trampoline steps the
coroutine: awaited from another task, its signal would reach that task's
event loop, so that is a `WriterStateError`, as is a ``write`` after the
callback returned.  When the trampoline ends, however it ends, the coroutine
is closed (its ``finally`` blocks run) and ``write`` is dead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any

from ._errors import WriterStateError
from ._sources import BytesLike, as_chunk

__all__ = ["DRIVEN", "ChunkSignal", "Forward", "PushWrite", "trampoline"]

#: The trampolines running now.  Held here too, not only by the pass's frame:
#: when an abandoned pass becomes garbage in a reference cycle, the collector
#: would otherwise close a trampoline, and with it the callback's coroutine, on
#: its own, at once (its cleanup could not await), before the event loop's
#: finalizer closes the pass and throws into it properly.
DRIVEN: dict[int, object] = {}


class ChunkSignal:
    """What ``await write(chunk)`` yields to the trampoline driving the callback."""

    __slots__ = ("data", "write")

    def __init__(self, data: bytes | memoryview, write: PushWrite) -> None:
        self.data = data
        self.write = write

    def __await__(self) -> Generator[Any, None, None]:
        if not self.write.active:
            # Awaited in another task: the signal would reach that task's event loop.
            raise WriterStateError(
                "write() must be awaited by the push callback itself, not from another task"
            )
        yield self


class Forward:
    """Forward one value yielded by the callback's coroutine to the event loop."""

    __slots__ = ("signal",)

    def __init__(self, signal: object) -> None:
        self.signal = signal

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.signal)


class PushWrite:
    """The ``write`` function handed to a deferred push callback."""

    __slots__ = ("active", "content_id", "returned", "thrown", "unawaited")

    def __init__(self, content_id: str) -> None:
        self.content_id = content_id
        self.active = False
        self.returned = False
        self.thrown: BaseException | None = None  # to raise in the callback at its next step
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
        signal = ChunkSignal(as_chunk(chunk), self)
        self.unawaited += 1
        return signal


def trampoline(
    callback: Callable[..., Awaitable[object]], args: tuple[Any, ...], write: PushWrite
) -> Generator[object, object, None]:
    """Step ``callback(write, *args)``: yields what its coroutine yields.

    Each ``send(value)`` resumes the coroutine with *value* (the first, which
    calls the callback, with None); to raise an exception in it instead, set
    ``write.thrown`` before the ``send``.  `StopIteration` means the callback
    returned.  The generator is held in `DRIVEN` until it ends, so that the
    garbage collector never closes it (and the callback) on its own.
    """
    steps = _drive(callback, args, write)
    DRIVEN[id(write)] = steps
    return steps


def _drive(
    callback: Callable[..., Awaitable[object]], args: tuple[Any, ...], write: PushWrite
) -> Generator[object, object, None]:
    try:
        awaitable = callback(write, *args)
        if not isinstance(awaitable, Awaitable):
            raise TypeError(
                f"a push callback must be an async function; it returned {type(awaitable).__name__}"
            )
        steps = awaitable.__await__()
        send: object = None
        try:
            while True:
                write.active = True
                thrown = write.thrown
                try:
                    if thrown is None:
                        signal = steps.send(send)
                    else:
                        write.thrown = None
                        signal = steps.throw(thrown)
                except StopIteration:
                    return
                finally:
                    write.active = False
                send = yield signal
        finally:
            write.returned = True
            close = getattr(steps, "close", None)
            if close is not None:
                close()
    finally:
        del DRIVEN[id(write)]
