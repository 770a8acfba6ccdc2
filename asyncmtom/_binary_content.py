"""The binary content of one element: held back, inlined as base64, or one MIME part.

Strategy.  Binary content must be an element's only content, so only the
innermost open element can hold binary state.  `BinaryContent` keeps that one
element's state (an `ElementBinary`), tied to the serializer's frame by
identity: state left behind by an element that went on to hold child
elements (its ``xmime:contentType`` attribute, say) is never consulted again,
because such an element can no longer take binary content.

Each binary call is applied in two steps.  `BinaryContent.add` is
synchronous: it validates the call, asks the core `XopPlan` whether the
content goes inline or into a part, updates the element's state and returns
where the bytes go now (an *emit*), or None when the piece went into a part
and nothing is read until the body is flushed.  The writer then awaits the
call's *run-now* closure (`run_bytes`, `run_push`, `run_pull`) with that emit,
so that the writer alone decides what a failure of the caller's source means.

A small value whose size is declared is held back (`BinaryMode.PENDING`)
until the element ends or a later call decides: several calls on one element
still give either one part or one unbroken base64 run.  Inline base64 is
written into the serializer as it is read; on a writer bound to a sink it is
handed on (*spill*) whenever ``spill_size`` bytes of XML are waiting, so even
large inline content is sent with bounded memory.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Awaitable, Callable
from typing import Any

from ._core.base64 import Base64Encoder
from ._core.mime import DEFAULT_PART_CONTENT_TYPE, check_media_type
from ._core.plan import PlannedPart, PullPiece, PushPiece, XopPlan
from ._core.xml import ElementFrame, XmlSerializer
from ._errors import PartSizeError, WriterStateError
from ._sources import BytesLike, ByteSource, SourceChunks, as_chunk

__all__ = [
    "BinaryContent",
    "BinaryMode",
    "Emit",
    "RunNow",
    "check_size",
    "known_size",
    "run_bytes",
    "run_pull",
    "run_push",
]


Emit = Callable[[bytes | memoryview], Awaitable[None]]
"""Where the bytes of a binary call go now: the held-back value, or inline base64."""

RunNow = Callable[[Emit], Awaitable[None]]
"""A binary call run at once: it reads its source and hands every chunk to the emit."""


class BinaryMode(enum.Enum):
    """Where an element's binary content goes."""

    PENDING = "pending"  # small declared values, held back until the element ends
    INLINE = "inline"  # canonical base64 in the root XML
    PART = "part"  # one MIME part, referred to by the element's xop:Include


# The members as module globals: every binary call and the end of its element
# compare them, and a global is read about three times faster than an enum member.
_PENDING, _INLINE, _PART = BinaryMode.PENDING, BinaryMode.INLINE, BinaryMode.PART


class ElementBinary:
    """The binary state of one element: held back, inlined, or one part."""

    __slots__ = (
        "content_type",
        "encoder",
        "frame",
        "mode",
        "part",
        "pending",
        "xmime_content_type",
    )

    def __init__(self, frame: ElementFrame) -> None:
        self.frame = frame
        self.mode = _PENDING
        self.pending = bytearray()
        self.encoder: Base64Encoder | None = None
        self.part: PlannedPart | None = None
        self.content_type: str | None = None  # as given to a binary call
        self.xmime_content_type: str | None = None  # from the element's xmime:contentType


class BinaryContent:
    """The binary content of the innermost open element of one writer.

    *plan* is None under `TextEncoding`: then every value is inlined.
    """

    __slots__ = ("_plan", "_serializer", "_spill", "_spill_size", "current")

    def __init__(
        self,
        serializer: XmlSerializer,
        plan: XopPlan | None,
        spill: Callable[[], Awaitable[None]] | None,
        spill_size: int,
    ) -> None:
        self._serializer = serializer
        self._plan = plan
        self._spill = spill
        self._spill_size = spill_size
        self.current: ElementBinary | None = None

    def _state(self, frame: ElementFrame) -> ElementBinary | None:
        """*frame*'s binary state; one left behind by an element that now holds it is not."""
        current = self.current
        return current if current is not None and current.frame is frame else None

    def content_type_attribute(self, value: str) -> None:
        """The element just started carries ``xmime:contentType="value"``."""
        frame = self._serializer.current
        binary = self._state(frame)
        if binary is None:
            binary = self.current = ElementBinary(frame)
        binary.xmime_content_type = value

    def end(self) -> None:
        """The innermost element ends: write out what its binary content still holds."""
        binary = self._state(self._serializer.current)
        if binary is None:
            return
        self.current = None
        mode = binary.mode
        if mode is _PENDING:
            if binary.pending:
                encoder = Base64Encoder()
                self._serializer.raw(encoder.encode(binary.pending) + encoder.finish())
        elif mode is _INLINE and binary.encoder is not None:
            self._serializer.raw(binary.encoder.finish())

    def add(
        self,
        piece: bytes | PushPiece | PullPiece,
        size: int | None,
        content_type: str | None,
        inline: bool | None,
    ) -> Emit | None:
        """Apply one binary call to the innermost element.

        Returns where its bytes go now, or None when *piece* went into the
        element's part (read when the body is flushed).
        """
        if inline is not None:
            check_inline(inline)
        if content_type is not None:
            check_media_type(content_type)
        frame = self._serializer.current
        binary = self._state(frame)
        if binary is not None:  # refuse before anything changes
            if content_type is not None and binary.content_type not in (None, content_type):
                raise WriterStateError(
                    f"<{frame.local_name}> already has the content type {binary.content_type!r}"
                )
            if inline and binary.mode is _PART:
                raise WriterStateError(
                    f"the binary content of <{frame.local_name}> is already a part; "
                    "inline=True cannot apply to it"
                )
        self._serializer.begin_binary()
        if binary is None:
            binary = self.current = ElementBinary(frame)
        if content_type is not None:
            binary.content_type = content_type
        plan = self._plan

        mode = binary.mode
        if plan is not None and mode is _PART:
            assert binary.part is not None
            if content_type is not None and binary.part.content_type != content_type:
                plan.retype(binary.part, content_type)  # the part took a default type
            binary.part.add(piece, size)
            return None

        if plan is None or mode is _INLINE or inline:
            return self._inline(binary)
        if plan.inlines(len(binary.pending), size, inline):
            return self._held_back(binary)
        self._make_part(plan, binary).add(piece, size)
        return None

    def _make_part(self, plan: XopPlan, binary: ElementBinary) -> PlannedPart:
        content_type = binary.content_type or binary.xmime_content_type or DEFAULT_PART_CONTENT_TYPE
        if binary.content_type is None and binary.xmime_content_type is not None:
            check_media_type(content_type, "xmime:contentType")
        part = plan.new_part(content_type)
        if binary.pending:
            part.add(bytes(binary.pending), len(binary.pending))
            binary.pending = bytearray()
        binary.mode = _PART
        binary.part = part
        self._serializer.xop_include(part.content_id)
        return part

    @staticmethod
    def _held_back(binary: ElementBinary) -> Emit:
        async def emit(data: bytes | memoryview) -> None:
            binary.pending += data

        return emit

    def _inline(self, binary: ElementBinary) -> Emit:
        if binary.encoder is None:
            binary.encoder = Base64Encoder()
        encoder = binary.encoder
        serializer = self._serializer
        if binary.pending:
            serializer.raw(encoder.encode(binary.pending))
            binary.pending = bytearray()
        binary.mode = _INLINE
        spill = self._spill
        spill_size = self._spill_size

        async def emit(data: bytes | memoryview) -> None:
            serializer.raw(encoder.encode(data))
            if spill is not None and serializer.buffered >= spill_size:
                await spill()

        return emit


# -- the binary calls, run at once ------------------------------------------


class _InlineWrite:
    """The ``write`` handed to a push callback that runs at once (inline content)."""

    __slots__ = ("count", "emit", "limit", "returned", "unawaited")

    def __init__(self, emit: Emit, limit: int | None):
        self.emit = emit
        self.limit = limit
        self.count = 0
        self.returned = False
        self.unawaited = 0  # write() calls whose awaitable has not run: their chunk is lost

    def __call__(self, chunk: BytesLike) -> Awaitable[None]:
        if self.returned:
            raise WriterStateError("write() called after the push callback returned")
        self.unawaited += 1
        return self._write(chunk)

    async def _write(self, chunk: BytesLike) -> None:
        self.unawaited -= 1
        data = as_chunk(chunk)
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise PartSizeError(
                f"binary content was declared as {self.limit} bytes but the source wrote more"
            )
        await self.emit(data)


def run_bytes(piece: bytes) -> RunNow:
    """`XmlWriter.write_bytes` run at once: the value in one piece."""

    async def run(emit: Emit) -> None:
        await emit(piece)

    return run


def run_push(
    callback: Callable[..., Awaitable[object]], args: tuple[Any, ...], size: int | None
) -> RunNow:
    """`XmlWriter.push_bytes` run at once: the callback writes straight into the emit."""

    async def run(emit: Emit) -> None:
        write = _InlineWrite(emit, size)
        try:
            await callback(write, *args)
        finally:
            write.returned = True
        if write.unawaited:
            raise WriterStateError(
                "the push callback called write() without awaiting it: its chunk was lost"
            )
        if size is not None and write.count != size:
            raise PartSizeError(
                f"binary content was declared as {size} bytes but the source wrote {write.count}"
            )

    return run


def run_pull(source: ByteSource, size: int | None, read_size: int) -> RunNow:
    """`XmlWriter.pull_bytes` run at once: the source read to its end into the emit."""

    async def run(emit: Emit) -> None:
        count = 0
        chunks = SourceChunks(source, read_size)
        try:
            async for data in chunks:
                count += len(data)
                if size is not None and count > size:
                    raise PartSizeError(
                        f"binary content was declared as {size} bytes but the source delivered more"
                    )
                await emit(data)
        finally:
            await chunks.aclose()
        if size is not None and count != size:
            raise PartSizeError(
                f"binary content was declared as {size} bytes but the source delivered {count}"
            )

    return run


# -- arguments ---------------------------------------------------------------


def check_size(size: int | None) -> int | None:
    """Return a declared *size*: None or an int >= 0."""
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise (TypeError if not isinstance(size, int) or isinstance(size, bool) else ValueError)(
            f"size must be an int >= 0 or None, not {size!r}"
        )
    return size


def check_inline(inline: bool | None) -> bool | None:
    """Return *inline*: True, False or None."""
    if inline is not None and not isinstance(inline, bool):
        raise TypeError(f"inline must be True, False or None, not {inline!r}")
    return inline


def known_size(source: ByteSource) -> int | None:
    """The size of a bytes-like *source* or of the regular file behind it, else None."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return memoryview(source).nbytes
    return _file_size(source)


def _file_size(source: object) -> int | None:
    """Bytes left in a regular file behind *source*, when that can be known cheaply."""
    try:
        if isinstance(source, os.PathLike):
            st = os.stat(source)
            return st.st_size if stat.S_ISREG(st.st_mode) else None
        raw: Any = getattr(source, "wrapped", source)  # anyio.AsyncFile wraps a file object
        fileno = raw.fileno()
        st = os.fstat(fileno)
        if not stat.S_ISREG(st.st_mode):
            return None
        return max(0, st.st_size - int(raw.tell()))
    except (AttributeError, OSError, TypeError, ValueError):
        return None
