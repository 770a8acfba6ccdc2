"""`read_mtom`: a whole MTOM message, its attachments spooled, its XOP resolved.

``read_mtom(content_type, source, **limits)`` is an async context manager
that reads the whole message when it is entered and yields an `MtomMessage`:
``root`` (the root XML as bytes, ``xop:Include`` elements intact),
``attachments`` (Content-ID without brackets -> `Attachment`) and ``await
resolve()`` (the root XML with every Include replaced by canonical base64;
``iter_resolved()`` streams the same).  A body whose Content-Type is not
multipart (a plain SOAP response, a SOAP fault) is read too: ``root`` is the
body, no attachments.

Strategy.  The message is read through `MtomStream` (``_streaming``), so the
decoding rules are the sans-I/O decoder's (``_core.decoder``) and the source
kinds those of ``_sources``.  Parts larger than ``spool_threshold`` go to a
temporary file as they arrive (``_spool``), so memory stays flat whatever
their size; ``Attachment.save()`` moves that file into place instead of
copying it when it can.  Every temporary file is removed when the context
exits, also on error and on cancellation.  Resolution plans its splices with
``_core.xop`` and reads spooled parts back in chunks.

Limits are keyword arguments (`ReaderLimits` states each one's reason);
exceeding one raises `MtomLimitError` at once, stops reading and removes the
temporary files.  Malformed input raises `MtomFormatError`.  A wrong argument
type is `TypeError`, a bad value `ValueError`; entering the context twice, or
using an attachment or the message after the context exited, is
`ReaderStateError`.  Errors raised by the source itself (network failures)
propagate unchanged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import MappingProxyType, TracebackType

import anyio

from ._core.base64 import Base64Encoder
from ._core.limits import DEFAULT_LIMITS, KiB, MiB, ReaderLimits
from ._core.related import XOP_MEDIA_TYPE, MediaType, parse_media_type
from ._core.xop import Include, find_includes, inserted_text_codec, plan_splices
from ._errors import MtomFormatError, MtomLimitError, ReaderStateError
from ._progress import ProgressCallback
from ._sources import ByteSource
from ._spool import AttachmentSink, Spool, check_spool_threshold, move_into_place
from ._streaming import MtomStream, StreamedPart, _Source

__all__ = ["READ_BACK_SIZE", "Attachment", "MtomMessage", "read_mtom"]

#: Chunk size when an attachment is read back from its spool file; a multiple
#: of 3 so that base64 of consecutive chunks needs no carry.
READ_BACK_SIZE = 3 * 256 * KiB


class Attachment:
    """One non-root part of an `MtomMessage`: in memory, or spooled to a file.

    Usable while the `read_mtom` context is open; afterwards its data is gone
    (temporary file removed) and every method raises `ReaderStateError`.
    """

    def __init__(
        self,
        content_id: str,
        content_type: str,
        headers: tuple[tuple[str, str], ...],
        spool: Spool,
    ) -> None:
        #: The Content-ID without angle brackets: what ``href="cid:..."`` names.
        self.content_id = content_id
        #: The part's Content-Type header as sent (``application/octet-stream`` if absent).
        self.content_type = content_type
        #: Every header of the part: (Title-Case name, value) in order received.
        self.headers = headers
        #: Decoded size in bytes.
        self.size = 0
        self._spool = spool
        self._data: bytes | None = b""
        self._path: str | None = None
        self._owned = True  # the file at _path is a spool file, not a saved one
        self._closed = False

    def __repr__(self) -> str:
        where = "memory" if self._path is None else "file"
        return f"<Attachment {self.content_id!r} {self.content_type!r} size={self.size} in {where}>"

    @property
    def in_memory(self) -> bool:
        """True when the data is held in memory (size within ``spool_threshold``)."""
        return self._path is None

    def _check_open(self) -> None:
        if self._closed:
            raise ReaderStateError(
                f"attachment <{self.content_id}> is closed: the read_mtom context has exited"
            )

    async def read(self) -> bytes:
        """The whole content as ``bytes`` (read back from the spool file if spooled)."""
        self._check_open()
        if self._path is None:
            assert self._data is not None
            return self._data
        return await anyio.Path(self._path).read_bytes()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.iter_chunks()

    async def iter_chunks(self, chunk_size: int = READ_BACK_SIZE) -> AsyncIterator[bytes]:
        """The content in chunks of at most ``chunk_size`` bytes."""
        self._check_open()
        if self._path is None:
            data = self._data
            assert data is not None
            for offset in range(0, len(data), chunk_size):
                yield data[offset : offset + chunk_size] if len(data) > chunk_size else data
            return
        async with await anyio.open_file(self._path, "rb") as file:
            while chunk := await file.read(chunk_size):
                yield chunk

    async def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the content to ``path``, replacing any file there; returns the path.

        A spooled part is moved there (``os.replace``) when ``path`` is on the
        same filesystem as the spool directory, so nothing is copied; the
        saved file then backs this attachment and is left in place when the
        context exits.  Otherwise the content is copied.
        """
        self._check_open()
        target = Path(path)
        if self._path is None:
            assert self._data is not None
            await anyio.Path(target).write_bytes(self._data)
            return target
        source = self._path
        if self._owned:
            try:
                await anyio.to_thread.run_sync(move_into_place, source, target)
            except OSError:
                pass  # another filesystem, most likely: copy instead
            else:
                self._spool.release(source)
                self._path, self._owned = os.fspath(target), False
                return target
        await anyio.to_thread.run_sync(shutil.copyfile, source, target)
        return target

    def _close(self) -> None:
        self._closed = True
        self._data = None


def _base64_size(size: int) -> int:
    return (size + 2) // 3 * 4


class MtomMessage:
    """A decoded MTOM message (`read_mtom`): the root XML and its attachments."""

    def __init__(self, content_type: str) -> None:
        #: The Content-Type the message was read with (the HTTP header value).
        self.content_type = content_type
        #: The root XML exactly as received, ``xop:Include`` elements intact.
        self.root = b""
        #: The root's Content-ID without brackets, None if it has none.
        self.root_content_id: str | None = None
        #: The root part's Content-Type header (the body's, for a plain message).
        self.root_content_type = ""
        #: The media type of the root XML: ``application/soap+xml`` for SOAP
        #: 1.2, ``text/xml`` for SOAP 1.1 (the ``type`` of an XOP root part).
        self.media_type = ""
        #: The charset of the root XML if the headers name one.
        self.charset: str | None = None
        #: The SOAP 1.2 action, from the Content-Type, ``start-info`` or root part.
        self.action: str | None = None
        #: True when the body was ``multipart/related``.
        self.is_multipart = False
        self._attachments: dict[str, Attachment] = {}
        self.attachments: Mapping[str, Attachment] = MappingProxyType(self._attachments)
        self._limits = DEFAULT_LIMITS
        self._closed = False

    def __repr__(self) -> str:
        return f"<MtomMessage root={len(self.root)} bytes, attachments={list(self._attachments)!r}>"

    def _set_root(self, part: StreamedPart, data: bytes, stream: MtomStream) -> None:
        self.root = data
        self.root_content_id = part.content_id
        self.root_content_type = part.content_type if self.is_multipart else self.content_type
        root_type = parse_media_type(self.root_content_type)
        self.charset = root_type.get("charset")
        inner: MediaType | None = None
        if root_type.essence == XOP_MEDIA_TYPE:
            inner_text = root_type.get("type") or stream.start_info
            inner = parse_media_type(inner_text) if inner_text else None
        self.media_type = inner.essence if inner is not None else root_type.essence
        self.action = (
            stream.action
            or (inner.get("action") if inner is not None else None)
            or root_type.get("action")
        )

    async def resolve(self) -> bytes:
        """The root XML with each ``xop:Include`` replaced by its part in canonical base64.

        Raises `MtomFormatError` for an href that is not ``cid:``, names no
        part, an Include with content, a DOCTYPE or entity in the root, or XML
        that is not well-formed; `MtomLimitError` when the result would be
        larger than ``max_resolved_size``.  The result holds every attachment
        in memory (as base64); `iter_resolved` streams it instead.
        """
        return b"".join([chunk async for chunk in self.iter_resolved()])

    async def iter_resolved(self) -> AsyncIterator[bytes]:
        """`resolve` as a stream of chunks: attachments are read back as needed.

        Every reference is checked before the first chunk is produced.
        """
        if self._closed:
            raise ReaderStateError("message is closed: the read_mtom context has exited")
        includes = find_includes(self.root)
        pieces = plan_splices(self.root, includes)
        targets: dict[str, Attachment] = {}
        for include in includes:
            attachment = self._attachments.get(include.content_id)
            if attachment is None:
                # A sender that percent-encoded nothing but a literal '%'.
                attachment = self._attachments.get(include.href.strip()[4:])
            if attachment is None:
                raise MtomFormatError(
                    f"xop:Include href {include.href!r} names no part of the message"
                )
            targets[include.content_id] = attachment
        codec = inserted_text_codec(self.root)
        self._check_resolved_size(includes, targets, codec)
        for piece in pieces:
            if isinstance(piece, memoryview):
                yield bytes(piece)
                continue
            encoder = Base64Encoder()
            async for chunk in targets[piece]:
                text = encoder.encode(chunk)
                if text:
                    yield text.decode("ascii").encode(codec) if codec else text
            text = encoder.finish()
            if text:
                yield text.decode("ascii").encode(codec) if codec else text

    def _check_resolved_size(
        self, includes: list[Include], targets: dict[str, Attachment], codec: str | None
    ) -> None:
        """Refuse, before any output, a document larger than ``max_resolved_size``."""
        width = 2 if codec else 1  # UTF-16 spends two bytes per base64 character
        size = len(self.root)
        for include in includes:
            size += width * _base64_size(targets[include.content_id].size)
            size -= include.end - include.start
        every_part = sum(_base64_size(a.size) for a in self._attachments.values())
        limit = self._limits.resolved_limit(len(self.root), every_part, width)
        if size > limit:
            raise MtomLimitError(
                f"resolved document would be {size} bytes, more than max_resolved_size "
                f"({limit} bytes): the Includes name the same parts over and over"
            )

    def _close(self) -> None:
        self._closed = True
        for attachment in self._attachments.values():
            attachment._close()


class _Reading:
    """The async context manager `read_mtom` returns."""

    def __init__(
        self,
        content_type: str,
        source: _Source,
        limits: ReaderLimits,
        spool_threshold: int,
        spool_dir: str | os.PathLike[str] | None,
    ) -> None:
        self._content_type = content_type
        self._source = source
        self._limits = limits
        self._spool_threshold = spool_threshold
        self._spool = Spool(spool_dir)
        self._message: MtomMessage | None = None

    async def __aenter__(self) -> MtomMessage:
        if self._message is not None:
            raise ReaderStateError("read_mtom(...) can be entered once")
        message = self._message = MtomMessage(self._content_type)
        message._limits = self._limits
        sink: AttachmentSink | None = None
        try:
            stream = MtomStream(self._content_type, self._source, self._limits)
            message.is_multipart = stream._multipart
            async for part in stream:
                if part.is_root:
                    message._set_root(part, await part.read(), stream)
                    continue
                assert part.content_id is not None
                attachment = Attachment(
                    part.content_id, part.content_type, part.headers, self._spool
                )
                message._attachments[part.content_id] = attachment
                sink = AttachmentSink(self._spool, self._spool_threshold)
                async for chunk in part:
                    sink.write(chunk)
                sink.finish()
                attachment.size, attachment._data, attachment._path = (
                    sink.size,
                    sink.data,
                    sink.path,
                )
                sink = None
        except BaseException:
            if sink is not None:
                sink.close()
            await self._close()
            raise
        finally:
            await self._source.aclose()
        return message

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._message is not None:
            self._message._close()
        self._spool.cleanup()
        await self._source.aclose()


def read_mtom(
    content_type: str,
    source: ByteSource,
    *,
    max_parts: int = DEFAULT_LIMITS.max_parts,
    max_header_size: int = DEFAULT_LIMITS.max_header_size,
    max_headers: int = DEFAULT_LIMITS.max_headers,
    max_part_size: int = DEFAULT_LIMITS.max_part_size,
    max_total_size: int = DEFAULT_LIMITS.max_total_size,
    max_root_size: int = DEFAULT_LIMITS.max_root_size,
    # Parts larger than this go to a temporary file as they arrive.  Smaller
    # parts stay in memory, where a file would cost more than it saves.
    spool_threshold: int = 1 * MiB,
    # Where spooled parts go (the system's temporary directory by default).
    # On the same filesystem as save() targets, save() moves, never copies.
    spool_dir: str | os.PathLike[str] | None = None,
    max_resolved_size: int | None = DEFAULT_LIMITS.max_resolved_size,
    progress: ProgressCallback | None = None,
    content_length: int | None = None,
) -> AbstractAsyncContextManager[MtomMessage]:
    """Read a whole MTOM message; an async context manager yielding an `MtomMessage`.

    ``content_type`` is the HTTP Content-Type header value; ``source`` the
    body (see the module docstring for the accepted kinds).  `ReaderLimits`
    states the reason of each limit and its default.  The message is
    read when the context is entered; temporary files live until it exits.
    ``progress``, if given, is called with a `Progress` as the body arrives:
    ``done`` bytes received of ``content_length`` (the response's, if the
    caller passes it; else None), and ``part_done`` bytes of the part
    ``content_id`` (its size is not known before it ends: ``part_size`` is
    None).
    """
    limits = ReaderLimits(
        max_parts=max_parts,
        max_header_size=max_header_size,
        max_headers=max_headers,
        max_part_size=max_part_size,
        max_total_size=max_total_size,
        max_root_size=max_root_size,
        max_resolved_size=max_resolved_size,
    )
    spool_threshold = check_spool_threshold(spool_threshold)
    return _Reading(
        content_type, _Source(source, progress, content_length), limits, spool_threshold, spool_dir
    )
