"""The async XML writer: structure is synchronous, binary content is awaited.

Strategy.  `XmlWriter` owns a sans-I/O `XmlSerializer` (the root XML, built in
memory; it is small next to the attachments) and a plan of MIME parts.  Each
binary call on an element either writes canonical base64 into the XML now or
appends a piece to that element's part; the ``xop:Include`` is written the
moment the element's content becomes a part.  Parts hold references only: a
``bytes`` value, a push callback with its arguments, or a pull source.  No
attachment data is read until the body is flushed, so memory does not grow
with attachment size.

The inline-or-part decision (MTOM only) follows .NET's WsPushBytes: a value
whose size is declared and fits in ``max_inline_size`` is read at once and
inlined; anything larger or of unknown size becomes a part.  Small values are
held back until the element ends, so that several calls on one element still
give either one part or one unbroken base64 run.  ``inline=True`` forces base64
(the source is read now), ``inline=False`` forces a part.

With `TextEncoding` every source is read at once into base64.  A writer bound
to a ``sink`` streams progressively: `flush` hands on the XML written so far
and large inline base64 is flushed as it grows, so even a TextEncoding message
of any size is sent with bounded memory.

Once `body` has started (or the writer failed), every further write raises
`WriterStateError`: a message is either whole or visibly broken.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from collections.abc import (
    Awaitable,
    Callable,
    Iterator,
)
from contextlib import aclosing, contextmanager
from typing import Any, Protocol

from ._body import MtomBody, pull_piece
from ._core.base64 import Base64Encoder
from ._core.encoding import (
    MtomEncoding,
    TextEncoding,
    soap_action_header,
    start_info,
    text_content_type,
)
from ._core.mime import MultipartFraming, check_media_type, make_boundary
from ._core.plan import PlannedPart, PullPiece, PushPiece, XopPlan
from ._core.xml import XMIME_NAMESPACE, ElementFrame, XmlSerializer, check_ncname
from ._errors import PartSizeError, WriterStateError
from ._progress import ProgressCallback
from ._sources import BytesLike, ByteSource, SourceChunks, as_chunk, check_source

__all__ = ["ByteSink", "WriteFunction", "XmlWriter"]

WriteFunction = Callable[[BytesLike], Awaitable[None]]
"""The ``write`` a push callback receives: ``await write(chunk)``."""

DEFAULT_CONTENT_TYPE = "application/octet-stream"

_PENDING, _INLINE, _PART = 0, 1, 2


class ByteSink(Protocol):
    """Anything with ``async send(bytes)``: an ``anyio.abc.ByteSendStream`` for one."""

    async def send(self, item: bytes, /) -> None:
        """Hand on one chunk of the body."""


class _Binary:
    """Binary content of one element: held back, inlined, or one part."""

    __slots__ = ("content_type", "encoder", "mode", "part", "pending")

    def __init__(self) -> None:
        self.mode = _PENDING
        self.pending = bytearray()
        self.encoder: Base64Encoder | None = None
        self.part: PlannedPart | None = None
        self.content_type: str | None = None


class _InlineWrite:
    """The ``write`` handed to a callback that runs at once (inline content)."""

    __slots__ = ("count", "emit", "limit", "returned", "unawaited")

    def __init__(self, emit: Callable[[bytes | memoryview], Awaitable[None]], limit: int | None):
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


def _check_size(size: int | None) -> int | None:
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise (TypeError if not isinstance(size, int) or isinstance(size, bool) else ValueError)(
            f"size must be an int >= 0 or None, not {size!r}"
        )
    return size


def _check_inline(inline: bool | None) -> bool | None:
    if inline is not None and not isinstance(inline, bool):
        raise TypeError(f"inline must be True, False or None, not {inline!r}")
    return inline


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


class XmlWriter:
    """An async XML writer whose binary content streams into MTOM parts.

    ``encoding`` chooses the output: `MtomEncoding` (default) or
    `TextEncoding`.  Bind a ``sink`` (anything with ``async send(bytes)``) for
    progressive output with `flush` and `aclose`; without one, send the
    finished document with `body` or `write_to`.

    Tuning limits, each a keyword argument:

    - ``read_size`` (256 KiB): how much is asked of a pull source's
      ``read(n)`` at a time; large reads keep the per-chunk cost of the HTTP
      client low, and it bounds what one read holds in memory.
    - ``coalesce_size`` (64 KiB): small writes and MIME framing are gathered
      into chunks of about this size before they are handed on, so that the
      HTTP client sees few, large chunks.
    - ``pass_through_size`` (16 KiB): chunks at least this large are handed on
      as they are, never copied; smaller ones are copied into the coalescing
      buffer.
    - ``join_size`` (2 MiB; 0 turns it off): the chunks of parts declared
      of 32 MiB or more (16 times this), or of unknown size past their first
      32 MiB, are joined into chunks of about this size.  HTTP clients pay
      per chunk (httpx about 28 us, more than copying 64 KiB), so one copy
      of the data makes httpx two to three
      times faster; see "Joining" in ``_body.py`` for how a chunked body's
      joined chunks avoid page faults.
    """

    def __init__(
        self,
        encoding: MtomEncoding | TextEncoding | None = None,
        *,
        sink: ByteSink | None = None,
        read_size: int = 256 * 1024,
        coalesce_size: int = 64 * 1024,
        pass_through_size: int = 16 * 1024,
        join_size: int = 2 * 1024 * 1024,
    ) -> None:
        if encoding is None:
            encoding = MtomEncoding()
        if not isinstance(encoding, (MtomEncoding, TextEncoding)):
            raise TypeError(f"encoding must be an MtomEncoding or a TextEncoding, not {encoding!r}")
        for name, value in (
            ("read_size", read_size),
            ("coalesce_size", coalesce_size),
            ("pass_through_size", pass_through_size),
        ):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int >= 1, not {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be an int >= 1, not {value!r}")
        if not isinstance(join_size, int) or isinstance(join_size, bool):
            raise TypeError(f"join_size must be an int >= 0, not {join_size!r}")
        if join_size < 0:
            raise ValueError(f"join_size must be an int >= 0, not {join_size!r}")
        if sink is not None and not callable(getattr(sink, "send", None)):
            raise TypeError("sink must have an async send(bytes) method")
        self.encoding = encoding
        self._sink = sink
        self._read_size = read_size
        self._coalesce_size = coalesce_size
        self._pass_through_size = pass_through_size
        self._join_size = join_size
        self._serializer = XmlSerializer(xml_declaration=encoding.xml_declaration)
        self._started = False
        self._failed: BaseException | None = None
        self._busy = False
        self._sent_head = False
        self._xml_handed_on = 0  # root XML bytes already drained from the serializer
        self._closed = False
        # Places in the root XML still to be filled in before anything is sent
        # (a WS-Security signature, once its digests are known): what each is.
        self._unfilled: list[str] = []
        self._framing: MultipartFraming | None = None
        self._plan: XopPlan | None = None
        if isinstance(encoding, MtomEncoding):
            token = secrets.token_hex(8)
            self._framing = MultipartFraming(
                boundary=encoding.boundary or make_boundary(),
                start_id=encoding.start_id or f"root.{token}@asyncmtom",
                start_info=start_info(encoding.soap, encoding.action),
            )
            self._plan = XopPlan(self._framing, token, encoding.max_inline_size)
            content_type = self._framing.content_type
        else:
            content_type = text_content_type(encoding.soap, encoding.action)
        #: The HTTP Content-Type of the message, known from construction.
        self.content_type: str = content_type

    # -- state -------------------------------------------------------------

    @property
    def _parts(self) -> list[PlannedPart]:
        """The planned parts in document order (library code reads them: a digest pass)."""
        return [] if self._plan is None else self._plan.parts

    @property
    def is_mtom(self) -> bool:
        """True when the output is a multipart/related XOP package."""
        return self._framing is not None

    @property
    def complete(self) -> bool:
        """True once the root element is closed."""
        return self._serializer.complete

    def _check_writable(self) -> None:
        if self._failed is not None:
            raise WriterStateError(
                "the writer failed earlier and its output is aborted"
            ) from self._failed
        if self._started or self._closed:
            raise WriterStateError("the body has started: the document can no longer change")
        if self._busy:
            raise WriterStateError("a binary write on this writer is still in progress")

    def _fail(self, exc: BaseException) -> None:
        if self._failed is None:
            self._failed = exc

    # -- structure ---------------------------------------------------------

    def start_element(
        self, name: str, namespace: str | None = None, prefix: str | None = None
    ) -> None:
        """Open element *name* (a local name) in *namespace*, using *prefix* if given."""
        self._check_writable()
        self._serializer.start_element(name, namespace, prefix)

    def end_element(self) -> None:
        """Close the innermost open element."""
        self._check_writable()
        frame = self._serializer.current
        binary = frame.binary
        if isinstance(binary, _Binary):
            if binary.mode == _PENDING and binary.pending:
                encoder = Base64Encoder()
                self._serializer.raw(encoder.encode(binary.pending) + encoder.finish())
            elif binary.mode == _INLINE and binary.encoder is not None:
                self._serializer.raw(binary.encoder.finish())
        self._serializer.end_element()

    @contextmanager
    def element(
        self, name: str, namespace: str | None = None, prefix: str | None = None
    ) -> Iterator[None]:
        """``with writer.element(...):`` brackets `start_element` / `end_element`."""
        self.start_element(name, namespace, prefix)
        yield
        self.end_element()

    def attribute(
        self,
        name: str,
        value: str | BytesLike,
        namespace: str | None = None,
        prefix: str | None = None,
    ) -> None:
        """Add an attribute to the element just started; bytes become canonical base64."""
        self._check_writable()
        if isinstance(value, str):
            text = value
        else:
            data = as_chunk(value)
            encoder = Base64Encoder()
            text = (encoder.encode(data) + encoder.finish()).decode("ascii")
        self._serializer.attribute(name, text, namespace, prefix)
        if (namespace or None) == XMIME_NAMESPACE and name == "contentType":
            self._serializer.current.xmime_content_type = text

    def namespace(self, prefix: str | None, namespace: str | None) -> None:
        """Declare *prefix* (None: the default namespace) on the element just started.

        Like ``WsWriteXmlnsAttribute``: written only where the binding is not
        already in scope.  Element and attribute names declare what they use by
        themselves; this is for prefixes that only values use
        (``xsi:type="t:Name"``).  ``namespace=None`` with no prefix undeclares
        the default namespace.
        """
        self._check_writable()
        if prefix is not None:
            check_ncname(prefix, "prefix")
        self._serializer.declare(prefix or "", namespace)

    def text(self, value: str) -> None:
        """Write character data (escaped)."""
        self._check_writable()
        self._serializer.text(value)

    # -- places filled in later ---------------------------------------------

    def _reserve(self, what: str | None = None) -> int:
        """Close the open start tag and return a place where an element is filled in later.

        A WS-Security signature goes there once the digests of what it signs
        are known.  When *what* names the place, `body` refuses to start until
        `_fill` has filled it in, so that the message never goes out without it.
        """
        slot = self._serializer.mark()
        if what is not None:
            self._unfilled.append(what)
        return slot

    def _fill(self, slot: int, data: bytes, what: str | None = None) -> None:
        """Put the serialized element *data* at *slot*, a place `_reserve` returned."""
        self._serializer.insert(slot, data)
        if what is not None:
            self._unfilled.remove(what)

    def _root_xml(self) -> bytes:
        """The root XML written so far (a signature's digests are computed over it)."""
        return self._serializer.peek()

    # -- binary content ----------------------------------------------------

    async def write_bytes(
        self,
        data: BytesLike,
        *,
        content_type: str | None = None,
        inline: bool | None = None,
    ) -> None:
        """Write *data* as the element's binary content (WsWriteBytes).

        ``bytes`` and read-only buffers are referenced, never copied; a mutable
        buffer (``bytearray``) is copied once so that later changes to it do
        not reach the message.
        """
        view = as_chunk(data)
        piece = view if isinstance(view, bytes) else view.tobytes()

        async def run(emit: Callable[[bytes | memoryview], Awaitable[None]]) -> None:
            await emit(piece)

        await self._binary(run, piece, len(piece), content_type, inline)

    async def push_bytes(
        self,
        callback: Callable[..., Awaitable[object]],
        *args: Any,
        size: int | None = None,
        content_type: str | None = None,
        inline: bool | None = None,
    ) -> None:
        """Stream the element's binary content from ``callback(write, *args)`` (WsPushBytes).

        Under MTOM, when the content becomes a part, the callback is NOT called
        now: the ``xop:Include`` is written now and the callback runs when the
        body is flushed, after the root part, in document order.  It may also
        run at once (TextEncoding, or a declared size within the inline limit).
        """
        if not callable(callback):
            raise TypeError("push_bytes() needs an async callback(write, *args)")
        size = _check_size(size)

        async def run(emit: Callable[[bytes | memoryview], Awaitable[None]]) -> None:
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
                    f"binary content was declared as {size} bytes but the source wrote "
                    f"{write.count}"
                )

        await self._binary(run, PushPiece(callback, args, size), size, content_type, inline)

    async def pull_bytes(
        self,
        source: ByteSource,
        *,
        size: int | None = None,
        content_type: str | None = None,
        inline: bool | None = None,
    ) -> None:
        """Stream the element's binary content from *source* (WsPullBytes).

        *source* is any `ByteSource`: an async iterable of bytes-like chunks,
        an object with ``async read(n)`` (an ``anyio.AsyncFile``), an
        ``os.PathLike`` naming a file that is opened when the part is
        flushed, an anyio ``ByteReceiveStream``, or a bytes-like value;
        anything else is a `TypeError`.  Without ``size``, the size of a
        bytes-like value or of a regular file is known at once.

        A message sent again (see `body`) reads the source again: a path is
        opened again, an object with ``seek`` and ``tell`` is rewound to where
        it stands now; an async iterator or generator, or an object with only
        ``read(n)``, can be sent once.
        """
        size = _check_size(size)
        check_source(source)
        if size is None:
            if isinstance(source, (bytes, bytearray, memoryview)):
                size = memoryview(source).nbytes
            else:
                size = _file_size(source)

        async def run(emit: Callable[[bytes | memoryview], Awaitable[None]]) -> None:
            count = 0
            chunks = SourceChunks(source, self._read_size)
            try:
                async for data in chunks:
                    count += len(data)
                    if size is not None and count > size:
                        raise PartSizeError(
                            f"binary content was declared as {size} bytes but the source "
                            "delivered more"
                        )
                    await emit(data)
            finally:
                await chunks.aclose()
            if size is not None and count != size:
                raise PartSizeError(
                    f"binary content was declared as {size} bytes but the source delivered {count}"
                )

        await self._binary(run, await pull_piece(source, size), size, content_type, inline)

    async def _binary(
        self,
        run_now: Callable[[Callable[[bytes | memoryview], Awaitable[None]]], Awaitable[None]],
        piece: bytes | PushPiece | PullPiece,
        size: int | None,
        content_type: str | None,
        inline: bool | None,
    ) -> None:
        self._check_writable()
        inline = _check_inline(inline)
        if content_type is not None:
            check_media_type(content_type)
        frame = self._serializer.current
        existing = frame.binary
        if isinstance(existing, _Binary):  # refuse before anything changes
            if content_type is not None and existing.content_type not in (None, content_type):
                raise WriterStateError(
                    f"<{frame.local_name}> already has the content type {existing.content_type!r}"
                )
            if inline and existing.mode == _PART:
                raise WriterStateError(
                    f"the binary content of <{frame.local_name}> is already a part; "
                    "inline=True cannot apply to it"
                )
        self._serializer.begin_binary()
        binary = frame.binary
        if not isinstance(binary, _Binary):
            binary = frame.binary = _Binary()
        if content_type is not None:
            binary.content_type = content_type
        encoding = self.encoding

        if isinstance(encoding, MtomEncoding) and binary.mode == _PART:
            assert binary.part is not None
            if content_type is not None and binary.part.content_type != content_type:
                assert self._plan is not None  # the part took a default type: replace it
                self._plan.retype(binary.part, content_type)
            binary.part.add(piece, size)
            return

        if isinstance(encoding, TextEncoding) or binary.mode == _INLINE or inline:
            await self._run_inline(frame, binary, run_now)
            return

        assert self._plan is not None
        if self._plan.inlines(len(binary.pending), size, inline):
            await self._run_pending(binary, run_now)
            return
        self._make_part(frame, binary)
        assert binary.part is not None
        binary.part.add(piece, size)

    def _make_part(self, frame: ElementFrame, binary: _Binary) -> None:
        assert self._plan is not None
        content_type = binary.content_type or frame.xmime_content_type or DEFAULT_CONTENT_TYPE
        if binary.content_type is None and frame.xmime_content_type is not None:
            check_media_type(content_type, "xmime:contentType")
        part = self._plan.new_part(content_type)
        if binary.pending:
            part.add(bytes(binary.pending), len(binary.pending))
            binary.pending = bytearray()
        binary.mode = _PART
        binary.part = part
        self._serializer.xop_include(part.content_id)

    async def _run_pending(
        self,
        binary: _Binary,
        run_now: Callable[[Callable[[bytes | memoryview], Awaitable[None]]], Awaitable[None]],
    ) -> None:
        async def emit(data: bytes | memoryview) -> None:
            binary.pending += data

        await self._guarded(run_now, emit)

    async def _run_inline(
        self,
        frame: ElementFrame,
        binary: _Binary,
        run_now: Callable[[Callable[[bytes | memoryview], Awaitable[None]]], Awaitable[None]],
    ) -> None:
        if binary.encoder is None:
            binary.encoder = Base64Encoder()
        encoder = binary.encoder
        if binary.pending:
            self._serializer.raw(encoder.encode(binary.pending))
            binary.pending = bytearray()
        binary.mode = _INLINE
        serializer = self._serializer
        sink = self._sink
        threshold = self._read_size

        async def emit(data: bytes | memoryview) -> None:
            serializer.raw(encoder.encode(data))
            if sink is not None and serializer.buffered >= threshold:
                await self._send_buffer()

        await self._guarded(run_now, emit)

    async def _guarded(
        self,
        run_now: Callable[[Callable[[bytes | memoryview], Awaitable[None]]], Awaitable[None]],
        emit: Callable[[bytes | memoryview], Awaitable[None]],
    ) -> None:
        self._busy = True
        try:
            await run_now(emit)
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            self._busy = False

    # -- output ------------------------------------------------------------

    @property
    def content_length(self) -> int | None:
        """The exact body length, or None while unknown (then the client sends chunked)."""
        if self._sink is not None or not self._serializer.complete:
            return None
        length = self._xml_handed_on + self._serializer.buffered
        return length if self._plan is None else self._plan.content_length(length)

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers for the message: Content-Type, Content-Length when known, SOAPAction."""
        headers = {"Content-Type": self.content_type}
        length = self.content_length
        if length is not None:
            headers["Content-Length"] = str(length)
        action = soap_action_header(self.encoding.soap, self.encoding.action)
        if action is not None:
            headers["SOAPAction"] = action
        return headers

    def body(self, *, progress: ProgressCallback | None = None) -> MtomBody:
        """The message body: an async iterable of bytes chunks that can be sent again.

        Give it to httpx as ``content=`` or to aiohttp as ``data=``.  Deferred
        push callbacks and pull sources run while it is iterated, each straight
        into its own part.  Every ``async for`` over it produces the whole
        message from the start, byte for byte the same, so an HTTP client may
        send it again (a Digest or NTLM handshake, a 307/308 redirect): push
        callbacks are called again and sources read again; a source that can
        be read only once makes a second pass raise `WriterStateError` before
        it produces any byte.  ``body()`` itself is called once.
        ``progress``, if given, is called with a `Progress` before each chunk
        is handed on (keep it quick: it runs in the sender); its ``attempt``
        counts the passes.
        """
        if self._sink is not None:
            raise WriterStateError("this writer is bound to a sink: use flush() and aclose()")
        self._check_writable()
        if not self._serializer.complete:
            raise WriterStateError(
                "the document is not complete: close every element before sending the body"
            )
        if self._unfilled:
            raise WriterStateError(
                f"{self._unfilled[0]} is not filled in yet: the message would go out without it"
            )
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking a Progress")
        if "aiohttp" in sys.modules:  # aiohttp can only send it again through our payload
            from ._aiohttp import register_payload

            register_payload()
        return self._make_body(progress)

    def _make_body(self, progress: ProgressCallback | None = None) -> MtomBody:
        total = self.content_length
        self._started = True
        xml = self._serializer.take()
        self._xml_handed_on += len(xml)
        first = xml if self._framing is None or self._sent_head else self._framing.root_head + xml
        return MtomBody(
            first,
            self._parts,
            b"" if self._framing is None else self._framing.closing,
            content_type=self.content_type,
            content_length=total,
            read_size=self._read_size,
            coalesce_size=self._coalesce_size,
            pass_through_size=self._pass_through_size,
            join_size=self._join_size,
            progress=progress,
        )

    async def write_to(self, stream: ByteSink, *, progress: ProgressCallback | None = None) -> None:
        """Send the whole body into *stream* (``async send(bytes)``), closing the body after."""
        if not callable(getattr(stream, "send", None)):
            raise TypeError("write_to() needs an object with an async send(bytes) method")
        async with aclosing(self.body(progress=progress)) as body:
            async for chunk in body:
                await stream.send(chunk)

    # -- progressive output (sink-bound writers) -----------------------------

    async def _send_buffer(self) -> None:
        assert self._sink is not None
        data = self._serializer.take()
        self._xml_handed_on += len(data)
        if not self._sent_head and self._framing is not None:
            data = self._framing.root_head + data
        self._sent_head = True
        if data:
            try:
                await self._sink.send(data)
            except BaseException as exc:
                self._fail(exc)
                raise

    async def flush(self, min_size: int = 0) -> None:
        """Hand the XML written so far to the sink, if at least *min_size* bytes are waiting."""
        if self._sink is None:
            raise WriterStateError("flush() needs a writer bound to a sink")
        self._check_writable()
        if self._serializer.buffered >= min_size:
            await self._send_buffer()

    async def aclose(self) -> None:
        """Finish a sink-bound message: the rest of the XML, every part, the closing delimiter."""
        if self._sink is None:
            raise WriterStateError("aclose() needs a writer bound to a sink")
        self._check_writable()
        if not self._serializer.complete:
            exc = WriterStateError(
                "the document is not complete: close every element before aclose()"
            )
            self._fail(exc)
            raise exc
        sink = self._sink
        self._closed = True
        try:
            async with aclosing(self._make_body()) as body:
                async for chunk in body:
                    if chunk:
                        await sink.send(chunk)
        except BaseException as exc:
            self._fail(exc)
            raise

    async def __aenter__(self) -> XmlWriter:
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self._fail(exc)  # abort: the closing delimiter is never written
            return
        if self._sink is not None:
            await self.aclose()
