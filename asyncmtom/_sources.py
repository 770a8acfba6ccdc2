"""Sources of bytes: the one adapter for every kind of source writer and reader accept.

Strategy.  A source is one of the kinds in `ByteSource`: a bytes-like value, an
``os.PathLike`` naming a file, an anyio ``ByteReceiveStream``, an object with
``async read(n)`` (an ``anyio.AsyncFile``, a file-like wrapper), or an async
iterable of bytes-like chunks.  `SourceChunks` reads any of them as bytes-like
chunks, checked here and nowhere else: a ``str`` or any other type is a
`TypeError`, raised before anything is sent.  Kinds are told apart in one
order: bytes-like, path, stream, ``read(n)``, async iterable (an
``AsyncFile`` is both readable and iterable by lines; it is read).

Replayability.  A message may be sent more than once (an HTTP client repeats
a body after an authentication handshake or a redirect), so `replay_of`
says, when a source is given, how it can be read again: bytes and paths
always can (a path is opened again), an object that can ``seek`` and
``tell`` is rewound to where it stood then, an async iterable is asked for a
new iterator; an async iterator or generator, a stream, or ``read(n)``
without ``seek``, can be read once, and `replay_of` names what it is for the
error that refuses a second pass.

Chunks are handed on as given (``bytes`` never copied; other bytes-like
values as a flat byte ``memoryview``), so a caller may keep reusing its
buffer only once the chunk was handed on.  An empty chunk from an async
iterable is handed on too, and counts for nothing: the body's outbox never
passes one on, the reader skips it (only ``read(n)`` ends on ``b""``).
Closing a `SourceChunks` closes what it opened (a file) and an async
generator it iterated, never a caller's stream or file.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Protocol, Union, runtime_checkable

import anyio
import anyio.abc

__all__ = [
    "AsyncReadable",
    "ByteSource",
    "BytesLike",
    "SourceChunks",
    "as_chunk",
    "check_source",
    "replay_of",
]

BytesLike = Union[bytes, bytearray, memoryview]  # noqa: UP007 (a runtime alias on 3.10)


@runtime_checkable
class AsyncReadable(Protocol):
    """Anything with ``async read(n)`` returning ``b""`` at the end."""

    async def read(self, n: int = -1, /) -> bytes:
        """Return up to *n* bytes, or ``b""`` at the end of the stream."""


ByteSource = Union[
    bytes,
    bytearray,
    memoryview,
    "os.PathLike[str]",
    "os.PathLike[bytes]",
    anyio.abc.ByteReceiveStream,
    AsyncReadable,
    AsyncIterable[BytesLike],
]
"""Every kind of source: bytes-like, a path, a stream, ``async read(n)``, chunks."""

_KINDS = (
    "bytes-like, an os.PathLike, an anyio ByteReceiveStream, an object with an async "
    "read(n) method, or an async iterable of bytes-like chunks"
)


def as_chunk(chunk: object) -> bytes | memoryview:
    """Check that *chunk* is bytes-like; ``bytes`` are returned as is, never copied."""
    if type(chunk) is bytes:
        return chunk
    if isinstance(chunk, str):
        raise TypeError("binary chunks must be bytes-like, not str")
    try:
        view = memoryview(chunk)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"binary chunks must be bytes-like, not {type(chunk).__name__}") from None
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


def _is_bytes(source: object) -> bool:
    return isinstance(source, (bytes, bytearray, memoryview))


def check_source(source: object) -> None:
    """Refuse, with a `TypeError`, anything that is not one of the `ByteSource` kinds."""
    if (
        _is_bytes(source)
        or isinstance(source, (os.PathLike, anyio.abc.ByteReceiveStream, AsyncIterable))
        or callable(getattr(source, "read", None))
    ):
        return
    raise TypeError(f"a source must be {_KINDS}, not {type(source).__name__}")


async def _resolve(value: object) -> object:
    return await value if inspect.isawaitable(value) else value


async def _position(source: object) -> int | None:
    """Where a seekable source stands now, or None when it cannot be rewound."""
    seek = getattr(source, "seek", None)
    tell = getattr(source, "tell", None)
    if not (callable(seek) and callable(tell)):
        return None
    seekable = getattr(source, "seekable", None)
    try:
        if callable(seekable) and not await _resolve(seekable()):
            return None
        position = await _resolve(tell())
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return position if isinstance(position, int) and not isinstance(position, bool) else None


async def replay_of(source: object) -> tuple[int | None, str | None]:
    """Plan how *source* is read again: ``(position, once)``.

    ``position`` is where a seekable source stands now (every read seeks
    there first); ``once`` names a source that can be read once only (for the
    error that refuses a second pass), None when it can be read again.
    """
    if _is_bytes(source) or isinstance(source, os.PathLike):
        return None, None  # held, or opened again by every read
    if isinstance(source, anyio.abc.ByteReceiveStream):
        return None, "a byte stream"
    if callable(getattr(source, "read", None)):
        position = await _position(source)
        return position, ("an object with read(n) that cannot seek" if position is None else None)
    if hasattr(type(source), "__anext__"):
        return None, "an async generator" if inspect.isasyncgen(source) else "an async iterator"
    return None, None  # an async iterable: aiter() again on every read


class SourceChunks:
    """The chunks of a source, checked bytes-like, whatever its kind.

    Bytes-like values come in ``read_size`` slices; a source with ``async
    read(n)`` is read ``read_size`` bytes at a time, after seeking to
    ``position`` when one is given (where the source stood when it was handed
    over, so that every pass reads the same bytes); an ``os.PathLike`` is
    opened on first use and closed by `aclose`; an async generator (given as
    the source, or returned by its ``__aiter__``) is closed by `aclose` too,
    so its cleanup runs when the body is aborted.  A plain class (not an
    async generator), so that nothing of it is left for the event loop to
    finalize.
    """

    __slots__ = (
        "_iterator",
        "_offset",
        "_opened",
        "_read",
        "_receive",
        "position",
        "read_size",
        "source",
    )

    def __init__(self, source: object, read_size: int, position: int | None = None) -> None:
        self.source = source
        self.read_size = read_size
        self.position = position
        self._offset = 0
        self._opened: anyio.AsyncFile[bytes] | None = None
        self._read: Callable[[int], Awaitable[object]] | None = None
        self._receive: anyio.abc.ByteReceiveStream | None = None
        self._iterator: AsyncIterator[object] | None = None

    def __aiter__(self) -> SourceChunks:
        return self

    async def __anext__(self) -> bytes | memoryview:
        read = self._read
        if read is not None:  # the common case first: one call per chunk
            chunk = await read(self.read_size)
            if not chunk:
                raise StopAsyncIteration
            return as_chunk(chunk)
        if self._iterator is not None:
            return as_chunk(await self._iterator.__anext__())
        return await self._first()

    async def _first(self) -> bytes | memoryview:
        """Set up the source on its first chunk (bytes-like values: every chunk)."""
        source = self.source
        if isinstance(source, (bytes, bytearray, memoryview)):
            start = self._offset
            if start >= len(source):
                raise StopAsyncIteration
            self._offset = start + self.read_size
            if start == 0 and len(source) <= self.read_size:
                return as_chunk(source)
            return as_chunk(memoryview(source)[start : start + self.read_size])
        if isinstance(source, os.PathLike):
            self._opened = await anyio.open_file(source, "rb")
            self._read = self._opened.read
        elif isinstance(source, anyio.abc.ByteReceiveStream):
            self._receive = source
            self._read = self._received
        else:
            read = getattr(source, "read", None)
            if callable(read):
                if self.position is not None:
                    await _resolve(source.seek(self.position))  # type: ignore[attr-defined]
                self._read = read
            elif isinstance(source, AsyncIterable):
                self._iterator = aiter(source)
            else:
                raise TypeError(f"a source must be {_KINDS}, not {type(source).__name__}")
        return await self.__anext__()

    async def _received(self, n: int) -> bytes:
        assert self._receive is not None
        try:
            return await self._receive.receive(n)
        except anyio.EndOfStream:
            return b""

    async def aclose(self) -> None:
        if self._opened is not None:
            opened, self._opened = self._opened, None
            await opened.aclose()
        elif inspect.isasyncgen(self._iterator):
            await self._iterator.aclose()
        elif self._iterator is None and inspect.isasyncgen(self.source):
            await self.source.aclose()  # aborted before its first chunk: still closed
