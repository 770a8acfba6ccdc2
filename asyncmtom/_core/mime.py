"""Sans-I/O MIME framing for MTOM packages (RFC 2046, RFC 2387, XOP, SOAP MTOM).

Rules.

- Boundaries are random (``uuid:`` followed by a UUID, as Metro and WCF do) or
  given by the caller and then checked against RFC 2046 ``bchars``, at most 70
  characters, not ending in a space.  An invalid boundary is refused, never
  replaced.
- Content-IDs are built only from ``[A-Za-z0-9.-]`` plus one ``@domain``, so
  ``href="cid:..."`` is the Content-ID without its angle brackets and needs no
  percent-encoding (RFC 2392) on any stack.
- Header values (media types, the SOAP action) are refused if they hold CR, LF,
  any other control character or non-ASCII, which rules out header injection.
- Every value checked here is the caller's (given to `MtomEncoding` or the
  writer); what a peer sent is parsed by the ``related`` module.  So a
  refusal is the caller's mistake: `ValueError` for a bad value, `TypeError`
  for one that is not a ``str``, never `MtomFormatError`.
- Parameters of the package Content-Type are always quoted; the SOAP 1.2
  action is carried inside ``start-info`` and the root part's ``type`` with
  escaped quotes, the W3C (and Metro, WCF) way.

Wire layout, no preamble, CRLF everywhere::

    --B CRLF root-headers CRLF CRLF root-xml
    CRLF --B CRLF part-headers CRLF CRLF part-bytes      (for each part)
    CRLF --B-- CRLF

Strategy: every byte of framing is computed up front from validated values, so
that the length of the whole body is known exactly whenever the parts' sizes
are, and so that nothing a caller passes can break out of a header line.
"""

from __future__ import annotations

import re
import uuid

__all__ = [
    "DEFAULT_PART_CONTENT_TYPE",
    "MultipartFraming",
    "check_action",
    "check_boundary",
    "check_content_id",
    "check_media_type",
    "make_boundary",
]

# A part whose media type nobody gave: what the writer labels it, and what the
# reader takes a part without a Content-Type header for (RFC 2046 section 4.5.1).
DEFAULT_PART_CONTENT_TYPE = "application/octet-stream"

_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_CONTENT_ID = re.compile(r"[A-Za-z0-9.\-]+@[A-Za-z0-9.\-]+")
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'  # printable ASCII but quote and backslash
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}([ \t]*;[ \t]*{_TOKEN}=({_TOKEN}|{_QUOTED}))*[ \t]*")
_ACTION = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]*")  # printable ASCII but space, quote, backslash


def make_boundary() -> str:
    """A fresh random boundary (122 random bits; 41 characters)."""
    return f"uuid:{uuid.uuid4()}"


def _checked(value: str, pattern: re.Pattern[str], what: str, expected: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the {what} must be a str, not {type(value).__name__}")
    if pattern.fullmatch(value) is None:
        raise ValueError(f"invalid {what} {value!r}: {expected}")
    return value


def check_boundary(boundary: str) -> str:
    return _checked(
        boundary,
        _BOUNDARY,
        "MIME boundary",
        "RFC 2046 allows 1 to 70 characters from [0-9A-Za-z'()+_,-./:=? ], not ending in a space",
    )


def check_content_id(content_id: str, what: str = "Content-ID") -> str:
    return _checked(
        content_id, _CONTENT_ID, what, "use [A-Za-z0-9.-] and one @domain, without angle brackets"
    )


def check_media_type(media_type: str, what: str = "content type") -> str:
    """Accept ``type/subtype`` with optional ``; name=value`` parameters, ASCII only."""
    return _checked(
        media_type,
        _MEDIA_TYPE,
        what,
        "expected 'type/subtype' with optional '; name=value' parameters, printable ASCII, "
        "no CR or LF",
    )


def check_action(action: str) -> str:
    """A SOAP action is a URI: printable ASCII without spaces, quotes or backslashes."""
    return _checked(
        action,
        _ACTION,
        "SOAP action",
        "expected a URI of printable ASCII without spaces, quotes or backslashes (no CR or LF)",
    )


class MultipartFraming:
    """The framing bytes of one MTOM package, and the exact length they add."""

    __slots__ = ("boundary", "closing", "content_type", "root_head", "start_id")

    def __init__(self, *, boundary: str, start_id: str, start_info: str) -> None:
        self.boundary = check_boundary(boundary)
        self.start_id = check_content_id(start_id, "start id")
        self.content_type = (
            f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
            f'start="<{start_id}>"; start-info="{_escape_quoted(start_info)}"'
        )
        root_type = _escape_quoted(start_info)
        self.root_head = (
            f"--{boundary}\r\n"
            f"Content-ID: <{start_id}>\r\n"
            f'Content-Type: application/xop+xml; charset=UTF-8; type="{root_type}"\r\n'
            "Content-Transfer-Encoding: binary\r\n"
            "\r\n"
        ).encode("ascii")
        self.closing = f"\r\n--{boundary}--\r\n".encode("ascii")

    def part_head(self, content_id: str, content_type: str) -> bytes:
        """Delimiter and headers that open an attachment part (values already checked)."""
        return (
            f"\r\n--{self.boundary}\r\n"
            f"Content-ID: <{content_id}>\r\n"
            f"Content-Type: {content_type}\r\n"
            "Content-Transfer-Encoding: binary\r\n"
            "\r\n"
        ).encode("ascii")


def _escape_quoted(value: str) -> str:
    """Escape a value for an RFC 2045 quoted-string (quotes and backslashes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
