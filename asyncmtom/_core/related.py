"""Sans-I/O decoding of ``multipart/related`` (RFC 2387) for the MTOM reader.

Rules.

- Parts are identified by ``Content-ID`` and need no ``Content-Disposition``;
  the root is chosen by the decoder (``_core.decoder``), not here.
- Tolerated, as real MTOM stacks (WCF, Metro, CXF, gSOAP, Axis2) differ:
  parameters quoted or not, ``start`` with or without angle brackets, a
  Content-ID without them, header names in any case, folded header lines, no
  space after the colon, a preamble, an epilogue, no CRLF after the closing
  delimiter, a boundary longer than RFC 2046's 70 characters, and ``binary``,
  ``8bit``, ``7bit``, absent or ``base64`` transfer encodings (`Base64Decoder`
  decodes the last one incrementally).
- Line breaks must be CRLF, as MIME requires: a message whose line breaks were
  rewritten to bare LF has had its binary parts rewritten too, so it is
  refused (`MtomFormatError`) rather than decoded into silently corrupt data.
  ``quoted-printable`` and unknown transfer encodings are refused for the same
  reason: no MTOM stack sends them and guessing would corrupt data.
- ``max_header_size`` counts the whole header section of a part, not one line.
- Every failure of the underlying parser is translated by `translate_error`:
  ``ParserLimitReached`` becomes `MtomLimitError`, any other parser error
  `MtomFormatError`.  Nothing else escapes.

Strategy.  Bytes in, events out, no I/O and no awaits: the decoder feeds
received chunks to `RelatedParser` and turns its events into the reader's.
The parser is a subclass of ``multipart.PushMultipartParser``, which finds
delimiters with ``bytes.find`` and hands out body chunks as slices of the
received buffers (the whole buffer, uncopied, when no delimiter is near), so
the cost per byte is one scan.  `RelatedParser` only changes what the
form-data parser would refuse (``_create_segment`` is the extension point).
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import multipart  # type: ignore[import-untyped]

from .._errors import MtomError, MtomFormatError, MtomLimitError

__all__ = [
    "XOP_MEDIA_TYPE",
    "cid_from_href",
    "Base64Decoder",
    "MediaType",
    "PartDecoder",
    "RelatedParser",
    "RelatedSegment",
    "make_part_decoder",
    "parse_media_type",
    "strip_angle_brackets",
    "translate_error",
]

XOP_MEDIA_TYPE = "application/xop+xml"

_IDENTITY_ENCODINGS = frozenset({"", "binary", "8bit", "7bit"})
_WHITESPACE = b" \t\r\n"
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


@dataclass(frozen=True)
class MediaType:
    """A parsed Content-Type value: lower-case ``type/subtype`` and parameters.

    Parameter names are lower case; values are unquoted and unescaped, in the
    case the sender wrote.  The first occurrence of a repeated name wins.
    """

    essence: str
    params: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.params.get(name)


def parse_media_type(value: str) -> MediaType:
    """Parse ``type/subtype; name=value; name="quoted \\"value\\""``.

    Forgiving on purpose: whitespace anywhere between items, values quoted or
    bare (a bare value runs to the next ``;``, so ``start=<id@host>`` works
    although ``<`` is not a token character), backslash escapes inside quotes,
    a missing closing quote taken to run to the end, items without ``=``
    skipped.
    """
    essence, _, rest = value.partition(";")
    params: dict[str, str] = {}
    position, length = 0, len(rest)
    equals = -1  # reused while still ahead: a run of ';' must not make this quadratic
    while position < length:
        if equals < position:
            equals = rest.find("=", position)
        semicolon = rest.find(";", position)
        if equals < 0:
            break
        if 0 <= semicolon < equals:  # an item without a value
            position = semicolon + 1
            continue
        name = rest[position:equals].strip(" \t;").lower()
        position = equals + 1
        while position < length and rest[position] in " \t":
            position += 1
        if position < length and rest[position] == '"':
            chars: list[str] = []
            position += 1
            while position < length and rest[position] != '"':
                if rest[position] == "\\" and position + 1 < length:
                    position += 1
                chars.append(rest[position])
                position += 1
            item = "".join(chars)
            position += 1  # the closing quote
            semicolon = rest.find(";", position)
            position = length if semicolon < 0 else semicolon + 1
        else:
            semicolon = rest.find(";", position)
            end = length if semicolon < 0 else semicolon
            item = rest[position:end].strip(" \t")
            position = end + 1
        if name and name not in params:
            params[name] = item
    return MediaType(essence.strip(" \t").lower(), params)


def strip_angle_brackets(value: str) -> str:
    """``<id@host>`` and ``id@host`` both name the part ``id@host``."""
    value = value.strip(" \t")
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip(" \t")
    return value


def cid_from_href(href: str) -> str | None:
    """The Content-ID a ``cid:`` URL names (RFC 2392: percent-decoded), else None."""
    href = href.strip(" \t\r\n")
    if href[:4].lower() != "cid:":
        return None
    return unquote(href[4:], errors="strict")


def translate_error(error: Exception) -> MtomError:
    """The package's error for a failure of the ``multipart`` parser."""
    if isinstance(error, MtomError):
        return error
    message = str(error.args[0]) if error.args else str(error)
    if isinstance(error, multipart.ParserLimitReached):
        return MtomLimitError(message)
    if "Unexpected end of multipart stream" in message:
        message = "truncated multipart body: the closing delimiter is missing"
    elif "line break" in message:
        message += " (MIME needs CRLF line breaks; bare LF is refused)"
    return MtomFormatError(message)


class RelatedSegment(multipart.MultipartSegment):  # type: ignore[misc]
    """The headers of one part of a ``multipart/related`` body."""

    content_id: str | None
    content_type_header: str | None
    transfer_encoding: str

    def __init__(self, headerlist: list[tuple[str, str]]) -> None:
        super().__init__(headerlist)
        self.content_id = None
        self.content_type_header = None
        self.transfer_encoding = ""
        for name, value in headerlist:
            if name == "Content-Id" and self.content_id is None:
                self.content_id = strip_angle_brackets(value)
            elif name == "Content-Type" and self.content_type_header is None:
                self.content_type_header = value.strip(" \t")
            elif name == "Content-Transfer-Encoding":
                self.transfer_encoding = value.strip(" \t").lower()

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Header names in Title-Case, values stripped, in the order received."""
        return tuple(self.headerlist)


class RelatedParser(multipart.PushMultipartParser):  # type: ignore[misc]
    """``PushMultipartParser`` for ``multipart/related``: parts named by Content-ID.

    Events, as for the base class: a `RelatedSegment` when a part's headers
    are complete, then its body as non-empty ``bytes`` chunks, then ``None``
    when the part ends.  ``max_header_size`` bounds the whole header section
    of one part (all lines, CRLFs included), not only its longest line.
    """

    def __init__(
        self,
        boundary: str,
        *,
        max_parts: int,
        max_header_size: int,
        max_headers: int,
        max_part_size: float,
    ) -> None:
        super().__init__(
            boundary,
            max_header_size=max_header_size,
            max_header_count=max_headers,
            max_segment_size=max_part_size,
            max_segment_count=max_parts,
            header_charset="utf8",
            strict=False,
        )
        self._header_section_size = 0

    def _on_segment_start(self) -> None:
        super()._on_segment_start()
        self._header_section_size = 0

    def _on_segment_headerline(self, line: bytes) -> None:
        if b"\n" in line or b"\r" in line:
            # The base class splits at CRLF only, so a bare LF or CR would
            # otherwise end up inside a header value.
            raise multipart.ParserError("Invalid line break in segment header")
        self._header_section_size += len(line) + 2
        if self._header_section_size > self.max_header_size:
            raise multipart.ParserLimitReached("Maximum segment header section size exceeded")
        super()._on_segment_headerline(line)

    def _create_segment(self, headerlist: list[tuple[str, str]]) -> RelatedSegment:
        headers = [(name, value.rstrip(" \t")) for name, value in headerlist]
        return RelatedSegment(headers)

    def feed(self, chunk: bytes) -> Iterator[RelatedSegment | bytes | None]:
        """`parse` with the package's errors; an empty chunk means end of input."""
        try:
            yield from self.parse(chunk)
        except multipart.ParserLimitReached as error:
            raise MtomLimitError(self._limit_message(error)) from None
        except multipart.MultipartError as error:
            raise translate_error(error) from None

    def _limit_message(self, error: Exception) -> str:
        """Name the keyword argument to raise, not the base class's internals."""
        text = str(error.args[0]) if error.args else ""
        if "count" in text and "header" in text:
            return f"a part has more header lines than max_headers ({self.max_header_count})"
        if "header" in text:
            return (
                f"a part's headers are larger than max_header_size ({self.max_header_size} bytes)"
            )
        if "count" in text:
            return f"the message has more parts than max_parts ({self.max_segment_count})"
        return f"a part is larger than max_part_size ({self.max_segment_size} bytes)"


class PartDecoder:
    """Identity decoding: ``binary``, ``8bit``, ``7bit`` or no transfer encoding."""

    __slots__ = ()

    def decode(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""


class Base64Decoder(PartDecoder):
    """Incremental ``Content-Transfer-Encoding: base64`` decoding.

    Line breaks and other whitespace are dropped; at most three characters of
    an incomplete quantum are carried to the next chunk.  Any other byte that
    is not in the base64 alphabet raises `MtomFormatError`.
    """

    __slots__ = ("_carry",)

    def __init__(self) -> None:
        self._carry = b""

    def decode(self, chunk: bytes) -> bytes:
        text = self._carry + chunk.translate(None, _WHITESPACE)
        whole = len(text) - len(text) % 4
        self._carry = text[whole:]
        return _decode_base64(text[:whole]) if whole else b""

    def finish(self) -> bytes:
        carry, self._carry = self._carry, b""
        if carry:
            raise MtomFormatError("base64 part body ends with an incomplete 4-character group")
        return b""


def _decode_base64(text: bytes) -> bytes:
    if text.translate(None, _BASE64_ALPHABET):
        raise MtomFormatError("invalid character in base64 part body")
    try:
        return binascii.a2b_base64(text)
    except binascii.Error as error:
        raise MtomFormatError(f"invalid base64 in part body: {error}") from None


def make_part_decoder(transfer_encoding: str) -> PartDecoder:
    """The decoder for a part's Content-Transfer-Encoding, or `MtomFormatError`."""
    if transfer_encoding in _IDENTITY_ENCODINGS:
        return PartDecoder()
    if transfer_encoding == "base64":
        return Base64Decoder()
    raise MtomFormatError(
        f"unsupported Content-Transfer-Encoding {transfer_encoding!r}: "
        "expected binary, 8bit, 7bit or base64"
    )
