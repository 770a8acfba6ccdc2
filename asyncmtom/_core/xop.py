"""Sans-I/O XOP resolution: find each ``xop:Include`` in the root XML, safely.

Rules.

- A document type declaration is refused outright, so no entity can be
  declared, expanded (no "billion laughs") or fetched (no external entity);
  parameter entity parsing is off as well.
- An href that is not a ``cid:`` URL (``http:``, ``file:``, ...) is refused,
  never fetched.
- Refused per XOP 1.0 section 3: an Include without ``href``, with element
  children or non-whitespace text, beside other content of its parent, or as
  the document element.  Whitespace around an Include (pretty-printed XML) is
  kept as written; XML Schema collapses it in ``xs:base64Binary``.
- Two Includes may name the same part.
- Every expat parser of the package that reads XML someone else wrote is made
  by `hardened_parser`, so these refusals live in one place.
- Everything refused is `MtomFormatError`: the root is what a peer sent.

Strategy.  The root part is parsed once with the standard library's expat
(no new dependency) only to learn *where* each ``xop:Include`` element lies:
its byte span in the root as received.  Resolution then splices canonical
base64 into those spans and copies every other byte unchanged, so the XML
keeps the sender's prefixes, namespace declarations, whitespace, comments and
encoding, and the rewrite can stream: `plan_splices` returns the pieces in
order, the async shell encodes each part as it reads it.

Expat reports the byte offset where each event starts
(``CurrentByteIndex``).  An Include's span starts at its own start event and
ends where the next event begins: character data or the end tag of its
parent, since XOP allows nothing else beside it.  This needs no scanning for
``>`` and so holds for any encoding expat reads; base64 is ASCII and is
written in the root's encoding (UTF-16 when the root starts with a UTF-16
byte order mark, otherwise any ASCII-compatible encoding as is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.parsers import expat

from .._errors import MtomFormatError
from .related import cid_from_href
from .xml import XOP_NAMESPACE

__all__ = [
    "XOP_NAMESPACE",
    "Include",
    "find_includes",
    "hardened_parser",
    "inserted_text_codec",
    "plan_splices",
]

_INCLUDE = f"{XOP_NAMESPACE} Include"
_XML_WHITESPACE = " \t\r\n"


def hardened_parser(
    subject: str,
    error: Callable[[str], Exception] = MtomFormatError,
    namespace_separator: str | None = None,
) -> expat.XMLParserType:
    """An expat parser that refuses any DTD, entity declaration or external entity.

    The refusals raise ``error`` with a message naming ``subject`` (``"root
    XML"``); the caller sets its own content handlers.
    """

    def refuse_doctype(*_: object) -> None:
        raise error(f"{subject} has a DOCTYPE: refused (no entities, no DTD)")

    def refuse_entity(*_: object) -> None:
        raise error(f"{subject} declares an entity: refused")

    def refuse_external_entity(*_: object) -> int:
        raise error(f"{subject} references an external entity: refused")

    parser = expat.ParserCreate(namespace_separator=namespace_separator)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_external_entity
    return parser


@dataclass(frozen=True)
class Include:
    """One ``xop:Include``: the bytes ``root[start:end]`` and the part it names."""

    start: int
    end: int
    content_id: str
    href: str


class _Frame:
    __slots__ = ("has_element", "has_include", "has_text", "is_include")

    def __init__(self, is_include: bool) -> None:
        self.is_include = is_include
        self.has_include = False
        self.has_element = False
        self.has_text = False


class _IncludeScanner:
    def __init__(self) -> None:
        self.includes: list[Include] = []
        self._stack: list[_Frame] = []
        self._open: tuple[int, str, str] | None = None  # start, content id, href
        self._ended: tuple[int, str, str] | None = None  # waiting for its end offset
        parser = hardened_parser("root XML", namespace_separator=" ")
        parser.buffer_text = False
        parser.StartElementHandler = self._start_element
        parser.EndElementHandler = self._end_element
        parser.CharacterDataHandler = self._character_data
        parser.CommentHandler = self._other_event
        parser.ProcessingInstructionHandler = self._other_event
        parser.StartCdataSectionHandler = self._other_event
        self._parser = parser

    def scan(self, root: bytes) -> list[Include]:
        try:
            self._parser.Parse(root, True)
        except expat.ExpatError as error:
            raise MtomFormatError(f"root part is not well-formed XML: {error}") from None
        return self.includes

    def _close_span(self) -> None:
        if self._ended is not None:
            start, content_id, href = self._ended
            self._ended = None
            self.includes.append(Include(start, self._parser.CurrentByteIndex, content_id, href))

    def _other_event(self, *_: object) -> None:
        self._close_span()

    def _start_element(self, name: str, attributes: dict[str, str]) -> None:
        self._close_span()
        is_include = name == _INCLUDE
        if self._stack:
            parent = self._stack[-1]
            if parent.is_include:
                raise MtomFormatError("xop:Include has a child element")
            if parent.has_include or (is_include and (parent.has_element or parent.has_text)):
                raise MtomFormatError("xop:Include must be the only content of its element")
            parent.has_element = True
            parent.has_include = is_include
        elif is_include:
            raise MtomFormatError("xop:Include is the document element")
        self._stack.append(_Frame(is_include))
        if is_include:
            href = attributes.get("href")
            if href is None:
                raise MtomFormatError("xop:Include has no href attribute")
            try:
                content_id = cid_from_href(href)
            except UnicodeDecodeError:
                content_id = None
            if content_id is None:
                raise MtomFormatError(
                    f"xop:Include href {href!r} is not a cid: URL (never fetched)"
                )
            self._open = (self._parser.CurrentByteIndex, content_id, href)

    def _end_element(self, name: str) -> None:
        self._close_span()
        self._stack.pop()
        if name == _INCLUDE:
            self._ended, self._open = self._open, None

    def _character_data(self, text: str) -> None:
        self._close_span()
        if not text.strip(_XML_WHITESPACE):
            return
        frame = self._stack[-1]
        if frame.is_include:
            raise MtomFormatError("xop:Include has text content")
        if frame.has_include:
            raise MtomFormatError("xop:Include must be the only content of its element")
        frame.has_text = True


def find_includes(root: bytes) -> list[Include]:
    """Every ``xop:Include`` of the root XML in document order, or `MtomFormatError`."""
    return _IncludeScanner().scan(root)


def inserted_text_codec(root: bytes) -> str | None:
    """The codec that ASCII text spliced into ``root`` needs, None if as is."""
    if root.startswith(b"\xff\xfe"):
        return "utf-16-le"
    if root.startswith(b"\xfe\xff"):
        return "utf-16-be"
    return None


def plan_splices(root: bytes, includes: Sequence[Include]) -> list[memoryview | str]:
    """The resolved document as pieces: unchanged XML bytes, or a Content-ID to encode."""
    view = memoryview(root)
    pieces: list[memoryview | str] = []
    position = 0
    for include in includes:
        if include.start > position:
            pieces.append(view[position : include.start])
        pieces.append(include.content_id)
        position = include.end
    if position < len(root):
        pieces.append(view[position:])
    return pieces
