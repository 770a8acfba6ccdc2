"""The async XML writer: structure is synchronous, binary content is awaited.

Strategy.  `XmlWriter` is a facade over three pieces: a sans-I/O
`XmlSerializer` (the root XML, built in memory; it is small next to the
attachments), the core's `XopPlan` of MIME parts, and `BinaryContent`
(``_binary_content.py``), which applies the plan to each binary call.  Each
binary call on an element either writes canonical base64 into the XML now or
appends a piece to that element's part; the ``xop:Include`` is written the
moment the element's content becomes a part.  Parts hold references only: a
``bytes`` value, a push callback with its arguments, or a pull source.  No
attachment data is read until the body is flushed, so memory does not grow
with attachment size.

The inline-or-part decision (MTOM only) follows .NET's WsPushBytes: a value
whose size is declared and fits in ``max_inline_size`` is read at once and
inlined; anything larger or of unknown size becomes a part.  ``inline=True``
forces base64 (the source is read now), ``inline=False`` forces a part.

With `TextEncoding` every source is read at once into base64.  A writer bound
to a ``sink`` streams progressively: `flush` hands on the XML written so far
and large inline base64 is flushed as it grows, so even a TextEncoding message
of any size is sent with bounded memory.  Without a sink, `body` hands the
root XML and the planned parts to `MtomBody` (``_body.py``), which streams them.

Once `body` has started (or the writer failed, which is when a caller's
source fails while it is read at once), every further write raises
`WriterStateError`: a message is either whole or visibly broken.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import aclosing, contextmanager
from typing import Any

from ._binary_content import (
    BinaryContent,
    RunNow,
    check_size,
    known_size,
    run_bytes,
    run_pull,
    run_push,
)
from ._body import MtomBody, pull_piece
from ._core.base64 import Base64Encoder
from ._core.encoding import MtomEncoding, TextEncoding
from ._core.plan import PlannedPart, PullPiece, PushPiece
from ._core.xml import XMIME_NAMESPACE, XmlSerializer, check_ncname
from ._errors import WriterStateError
from ._output import ByteSink, MessageOutput
from ._progress import ProgressCallback
from ._sources import BytesLike, ByteSource, as_chunk, check_source

__all__ = ["ByteSink", "WriteFunction", "XmlWriter"]

WriteFunction = Callable[[BytesLike], Awaitable[None]]
"""The ``write`` a push callback receives: ``await write(chunk)``."""


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
      times faster; see "Joining" in ``_pass.py`` for how a chunked body's
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
        self._serializer = XmlSerializer(xml_declaration=encoding.xml_declaration)
        self._output = MessageOutput(
            encoding,
            self._serializer,
            read_size=read_size,
            coalesce_size=coalesce_size,
            pass_through_size=pass_through_size,
            join_size=join_size,
        )
        if sink is not None and not callable(getattr(sink, "send", None)):
            raise TypeError("sink must have an async send(bytes) method")
        self.encoding = encoding
        self._sink = sink
        self._read_size = read_size
        self._started = False
        self._failed: BaseException | None = None
        self._busy = False
        self._closed = False
        self._binary = BinaryContent(
            self._serializer,
            self._output.plan,
            None if sink is None else self._send_buffer,
            read_size,
        )
        #: The HTTP Content-Type of the message, known from construction.
        self.content_type: str = self._output.content_type

    # -- state -------------------------------------------------------------

    @property
    def _parts(self) -> list[PlannedPart]:
        """The planned parts in document order (library code reads them: a digest pass)."""
        return self._output.parts

    @property
    def is_mtom(self) -> bool:
        """True when the output is a multipart/related XOP package."""
        return self._output.framing is not None

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
        if self._binary.current is not None:
            self._binary.end()
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
            self._binary.content_type_attribute(text)

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
        """A place for an element filled in later (a signature); `body` waits for a named one."""
        return self._output.reserve(what)

    def _fill(self, slot: int, data: bytes, what: str | None = None) -> None:
        """Put the serialized element *data* at *slot*, a place `_reserve` returned."""
        self._output.fill(slot, data, what)

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
        await self._add_binary(run_bytes(piece), piece, len(piece), content_type, inline)

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
        size = check_size(size)
        run = run_push(callback, args, size)
        await self._add_binary(run, PushPiece(callback, args, size), size, content_type, inline)

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
        size = check_size(size)
        check_source(source)
        if size is None:
            size = known_size(source)
        run = run_pull(source, size, self._read_size)
        await self._add_binary(run, await pull_piece(source, size), size, content_type, inline)

    async def _add_binary(
        self,
        run_now: RunNow,
        piece: bytes | PushPiece | PullPiece,
        size: int | None,
        content_type: str | None,
        inline: bool | None,
    ) -> None:
        self._check_writable()
        emit = self._binary.add(piece, size, content_type, inline)
        if emit is None:
            return  # a part: nothing is read before the body is flushed
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
        return None if self._sink is not None else self._output.content_length()

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers for the message: Content-Type, Content-Length when known, SOAPAction."""
        return self._output.headers(self.content_length)

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
        self._output.check_filled()
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking a Progress")
        if "aiohttp" in sys.modules:  # aiohttp can only send it again through our payload
            from ._aiohttp import register_payload

            register_payload()
        return self._make_body(progress)

    def _make_body(self, progress: ProgressCallback | None = None) -> MtomBody:
        total = self.content_length
        self._started = True
        return self._output.make_body(total, progress)

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
        try:
            await self._output.spill(self._sink)
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
