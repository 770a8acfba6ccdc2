"""The reader's decoding state machine: body bytes in, events out, no I/O.

A `Decoder` is given the HTTP Content-Type of a body and a `ReaderLimits`;
the shell hands it the body as it arrives (`Decoder.receive_data`, ``b""``
at the end) and pulls events (`Decoder.next_event`) until it asks for data
(`NEED_DATA`).  The events are frozen values, as in h11 and wsproto:

    PartStart  -> Data* -> PartEnd   for each part, in arrival order
    MessageEnd                       once, after the closing delimiter

Rules.

- Content type.  ``multipart/related`` is decoded part by part (``boundary``
  required, without line breaks); any other ``multipart/*`` is refused; any
  other type is a plain body (a plain SOAP response, a fault), decoded as one
  root part whose only header is that Content-Type.
- The root is the part the ``start`` parameter names, else the first part.
  Every other part must have a Content-ID; no two parts may share one; a
  ``start`` naming no part, or a body without parts, is refused at the end.
- A root without a Content-Type header has the ``type`` parameter's media
  type (RFC 2387); any other part without one is ``application/octet-stream``.
- `Data` is the part's body with its transfer encoding undone (``base64``
  decoded incrementally, identity encodings as received); it is never
  empty.  Body chunks are slices of the received data, uncopied where no
  delimiter is near.
- Limits, counted on the bytes as received: ``max_total_size`` over the
  whole body (checked as data arrives, before it is parsed),
  ``max_root_size`` over the root's body, and ``max_parts``,
  ``max_header_size``, ``max_headers``, ``max_part_size`` in the parser.
- Anything malformed is `MtomFormatError`, a limit `MtomLimitError`: both say
  what the peer sent.  A ``content_type`` that is not a ``str`` is the
  caller's mistake: `TypeError`.  After any failure (also one the shell reports with
  `Decoder.fail`, such as the source's own error or a cancellation), every
  later call raises `ReaderStateError`: the body may be half consumed and
  nothing after it can be trusted.
- Counters for progress reports: `received` body bytes, and `part_done`
  bytes received of the part `part_id`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain

from .._errors import MtomFormatError, MtomLimitError, ReaderStateError
from .limits import ReaderLimits
from .mime import DEFAULT_PART_CONTENT_TYPE
from .related import (
    PartDecoder,
    RelatedParser,
    RelatedSegment,
    make_part_decoder,
    parse_media_type,
    strip_angle_brackets,
)

__all__ = [
    "NEED_DATA",
    "Data",
    "Decoder",
    "Event",
    "MessageEnd",
    "NeedData",
    "PartEnd",
    "PartStart",
]


@dataclass(frozen=True, slots=True)
class PartStart:
    """A part's headers are complete."""

    #: The Content-ID without angle brackets (None only for a root without one).
    content_id: str | None
    #: The Content-Type header as sent, or the default (see the rules).
    content_type: str
    #: Every header of the part: (Title-Case name, value) in order received.
    headers: tuple[tuple[str, str], ...]
    #: True for the root part.
    is_root: bool


@dataclass(frozen=True, slots=True)
class Data:
    """Decoded bytes of the current part."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PartEnd:
    """The current part is complete."""


@dataclass(frozen=True, slots=True)
class MessageEnd:
    """The closing delimiter (or a plain body's end) has been reached."""


class NeedData:
    """`Decoder.next_event` needs more body (`Decoder.receive_data`) first."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()
Event = PartStart | Data | PartEnd | MessageEnd
_PART_END = PartEnd()
_MESSAGE_END = MessageEnd()


class _PendingPartEnd:
    """Put in the parser's event stream after a base64 part's last decoded bytes."""


_PENDING_PART_END = _PendingPartEnd()


class Decoder:
    """One message's decoding state (see the module docstring for its rules)."""

    def __init__(self, content_type: str, limits: ReaderLimits) -> None:
        if not isinstance(content_type, str):  # the caller's mistake, not what the peer sent
            raise TypeError(f"content_type must be a str, not {type(content_type).__name__}")
        self._limits = limits
        self._failure: BaseException | None = None
        #: Body bytes received so far.
        self.received = 0
        #: The Content-ID of the current part (None before the first, or for a root without one).
        self.part_id: str | None = None
        #: Bytes received of the current part (as sent, before any transfer decoding).
        self.part_done = 0
        self._events: Iterator[RelatedSegment | bytes | _PendingPartEnd | None] = iter(())
        self._ended = False  # receive_data(b"") was called
        self._finished = False  # MessageEnd was returned
        self._part_decoder: PartDecoder | None = None  # None between parts
        self._decode: Callable[[bytes], bytes] | None = None  # None: identity
        self._root_limit: int | None = None  # max_root_size while in the root
        self._raw_size = 0
        self._seen_ids: set[str] = set()
        self._root_seen = False
        self._parser: RelatedParser | None = None
        media_type = parse_media_type(content_type)
        if media_type.essence.startswith("multipart/"):
            if media_type.essence != "multipart/related":
                raise MtomFormatError(f"expected multipart/related, not {media_type.essence}")
            boundary = media_type.get("boundary")
            if not boundary:
                raise MtomFormatError("multipart/related Content-Type has no boundary")
            if any(char in boundary for char in "\r\n"):
                raise MtomFormatError("boundary holds a line break")
            self._parser = RelatedParser(
                boundary,
                max_parts=limits.max_parts,
                max_header_size=limits.max_header_size,
                max_headers=limits.max_headers,
                max_part_size=limits.max_part_size,
            )
        else:
            # A plain body: one root part whose only header is the Content-Type.
            self._events = iter((RelatedSegment([("Content-Type", content_type)]),))
        #: True when the body is ``multipart/related``.
        self.multipart = self._parser is not None
        start = media_type.get("start")
        #: The Content-ID the ``start`` parameter names (no brackets), or None.
        self.start: str | None = strip_angle_brackets(start) if start else None
        #: The ``type`` parameter: the root's media type (``application/xop+xml``).
        self.root_type: str | None = media_type.get("type")
        #: The ``start-info`` parameter: the root's media type, maybe with an action.
        self.start_info: str | None = media_type.get("start-info")
        action = media_type.get("action")
        if action is None and self.start_info:
            action = parse_media_type(self.start_info).get("action")
        #: The SOAP 1.2 action of the Content-Type (``action`` or inside ``start-info``).
        self.action: str | None = action

    def receive_data(self, data: bytes) -> None:
        """More of the body; ``b""`` means it has ended."""
        self.check()
        try:
            if self._ended:
                raise ReaderStateError("receive_data after the end of the body")
            self.received += len(data)
            if self.received > self._limits.max_total_size:
                raise MtomLimitError(
                    f"message larger than max_total_size ({self._limits.max_total_size} bytes)"
                )
            if not data:
                self._ended = True
            if self._parser is not None:
                self._events = self._parser.feed(data)
            elif data:
                self._events = chain(self._events, (data,))
        except BaseException as failure:
            self.fail(failure)
            raise

    def next_event(self) -> Event | NeedData:
        """The next event, or `NEED_DATA` until `receive_data` is called."""
        if self._failure is not None:
            raise ReaderStateError("reading this message failed earlier") from self._failure
        try:
            # The body chunks of a part are the hot path: handled inline.
            for raw in self._events:
                if type(raw) is bytes:
                    self.part_done += len(raw)
                    if self._root_limit is not None:
                        self._check_root_size(len(raw))
                    decode = self._decode
                    data = raw if decode is None else decode(raw)
                    if data:
                        return Data(data)
                elif raw is None:
                    return self._end_part()
                elif isinstance(raw, RelatedSegment):
                    return self._start_part(raw)
                else:
                    return _PART_END  # after a base64 tail
            if not self._ended:
                return NEED_DATA
            if self._parser is None and self._part_decoder is not None:
                return self._end_part()  # a plain body ends with the input
            return self._end_message()
        except BaseException as failure:
            self.fail(failure)
            raise

    def check(self) -> None:
        """Raise `ReaderStateError` if decoding failed earlier."""
        if self._failure is not None:
            raise ReaderStateError("reading this message failed earlier") from self._failure

    def fail(self, failure: BaseException) -> None:
        """Record a failure: every later call raises `ReaderStateError`."""
        if self._failure is None:
            self._failure = failure

    def _start_part(self, segment: RelatedSegment) -> PartStart:
        content_id = segment.content_id
        if not self.multipart:
            is_root = True
        elif self.start is not None:
            is_root = content_id == self.start
        else:
            is_root = not self._root_seen and not self._seen_ids
        if is_root:
            self._root_seen = True
        elif not content_id:
            raise MtomFormatError("a part other than the root has no Content-ID")
        if content_id:
            if content_id in self._seen_ids:
                raise MtomFormatError(f"two parts have the Content-ID <{content_id}>")
            self._seen_ids.add(content_id)
        elif is_root:
            self._seen_ids.add("")  # later parts are not the root
        content_type = segment.content_type_header
        if content_type is None:
            # RFC 2387: ``type`` is the root's type.
            content_type = (is_root and self.root_type) or DEFAULT_PART_CONTENT_TYPE
        self._part_decoder = make_part_decoder(segment.transfer_encoding)
        # Identity encodings hand the chunk on as is: no call per chunk.
        self._decode = (
            None if type(self._part_decoder) is PartDecoder else self._part_decoder.decode
        )
        self._root_limit = self._limits.max_root_size if is_root else None
        self._raw_size = 0
        self.part_id = content_id
        self.part_done = 0
        return PartStart(content_id or None, content_type, segment.headers, is_root)

    def _check_root_size(self, size: int) -> None:
        self._raw_size += size
        if self._root_limit is not None and self._raw_size > self._root_limit:
            raise MtomLimitError(f"root part larger than max_root_size ({self._root_limit} bytes)")

    def _end_part(self) -> Data | PartEnd:
        assert self._part_decoder is not None
        tail = self._part_decoder.finish()
        self._part_decoder = self._decode = None
        if tail:
            self._events = chain((_PENDING_PART_END,), self._events)
            return Data(tail)
        return _PART_END

    def _end_message(self) -> MessageEnd:
        if self._finished:
            return _MESSAGE_END
        self._finished = True
        if self.start is not None and not self._root_seen:
            raise MtomFormatError(f"start names part <{self.start}>, which the message lacks")
        if not self._root_seen:
            raise MtomFormatError("multipart body has no part")
        return _MESSAGE_END
