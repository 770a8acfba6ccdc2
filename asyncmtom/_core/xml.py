"""Sans-I/O XML 1.0 serializer: names, namespaces, escaping, nothing else.

Rules.

- Names are NCNames; characters XML 1.0 does not allow (C0 controls other
  than tab, CR and LF, lone surrogates, U+FFFE and U+FFFF) are refused in
  text, attribute values and namespace names; a prefix needs a namespace;
  the reserved ``xml`` and ``xmlns`` prefixes cannot be rebound.  Each is an
  `InvalidXmlError`.
- A namespace declaration is written only where the binding is not already
  in scope.  A namespace with no prefix becomes the default namespace; no
  namespace at all inside a default namespace is undeclared with
  ``xmlns=""``, as document/literal services with unqualified children
  expect.
- Text escapes ``& < >`` and writes CR as ``&#13;`` (a raw CR would be turned
  into LF by any parser).  Attribute values escape ``& < > "`` and write tab,
  CR and LF as character references, so that attribute-value normalization
  on the receiving side gives back exactly the string that was written.
- Binary content (base64 text or an ``xop:Include``) is an element's only
  content.  Misuse of the structure (an attribute after content, text beside
  binary content, closing what is not open, a second root) raises
  `WriterStateError`.

Strategy.  The serializer appends UTF-8 bytes to one ``bytearray`` that its
owner drains with `XmlSerializer.take`; nothing else writes to it.  A start
tag stays open until the first piece of content (or the end of the element)
so that attributes and namespace declarations can still be added to it; an
element closed with no content becomes ``<a/>``.  Namespaces are tracked as
one dictionary of the bindings in scope, plus, per element, the list of
bindings it changed so that ``end_element`` can restore them.

No I/O, no event loop: the async writer drives this class.
"""

from __future__ import annotations

import enum
import re
from functools import lru_cache
from xml.parsers import expat

from .._errors import InvalidXmlError, WriterStateError

__all__ = [
    "XMIME_NAMESPACE",
    "XML_NAMESPACE",
    "XMLNS_NAMESPACE",
    "XOP_NAMESPACE",
    "ContentKind",
    "ElementFrame",
    "XmlSerializer",
    "check_chars",
    "check_ncname",
]

XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
XMLNS_NAMESPACE = "http://www.w3.org/2000/xmlns/"
XOP_NAMESPACE = "http://www.w3.org/2004/08/xop/include"
XMIME_NAMESPACE = "http://www.w3.org/2005/05/xmlmime"

_NAME_START = (
    "A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
    "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
    "\U00010000-\U000effff"
)
_NAME_CHAR = _NAME_START + r"\-.0-9\u00b7\u0300-\u036f\u203f-\u2040"
_NCNAME = re.compile(f"[{_NAME_START}][{_NAME_CHAR}]*")
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_SPECIAL = re.compile("[&<>\r]")
_ATTR_SPECIAL = re.compile('[&<>"\t\n\r]')
_TEXT_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_ATTR_ESCAPES = {**_TEXT_ESCAPES, '"': "&quot;", "\t": "&#9;", "\n": "&#10;"}


@lru_cache(maxsize=1024)
def check_ncname(name: str, what: str = "name") -> str:
    """Return *name* if it is an XML NCName, else raise `InvalidXmlError`.

    Fifth-edition XML 1.0 allows more name characters than the fourth edition
    that expat (and with it most peers' parsers) implements; a name that a
    fourth-edition parser refuses is refused here too, so that what is written
    can be read everywhere.
    """
    if not isinstance(name, str):
        raise InvalidXmlError(f"{what} must be a str, not {type(name).__name__}")
    if _NCNAME.fullmatch(name) is None:
        raise InvalidXmlError(f"{what} {name!r} is not a valid XML NCName")
    if not name.isascii():
        try:
            expat.ParserCreate().Parse(f"<{name}/>".encode(), True)
        except expat.ExpatError:
            raise InvalidXmlError(
                f"{what} {name!r} uses name characters that XML 1.0 (fourth edition) "
                "parsers such as expat refuse"
            ) from None
    return name


def check_chars(value: str, what: str = "text") -> str:
    """Return *value* if every character is allowed in XML 1.0."""
    if not isinstance(value, str):
        raise InvalidXmlError(f"{what} must be a str, not {type(value).__name__}")
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        raise InvalidXmlError(
            f"{what} holds U+{ord(bad.group()):04X} at index {bad.start()}, "
            "a character XML 1.0 does not allow"
        )
    return value


def _escape_text(value: str) -> bytes:
    if _TEXT_SPECIAL.search(value):
        value = _TEXT_SPECIAL.sub(lambda m: _TEXT_ESCAPES[m.group()], value)
    return value.encode("utf-8")


def _escape_attribute(value: str) -> bytes:
    if _ATTR_SPECIAL.search(value):
        value = _ATTR_SPECIAL.sub(lambda m: _ATTR_ESCAPES[m.group()], value)
    return value.encode("utf-8")


class ContentKind(enum.Enum):
    """What an open element holds so far (XOP needs binary content alone)."""

    EMPTY = "empty"
    TEXT = "text"
    CHILDREN = "children"
    BINARY = "binary"


# The members as module globals: every start tag and every text compares
# them, and a global is read about three times faster than an enum member.
_EMPTY, _TEXT, _CHILDREN, _BINARY = (
    ContentKind.EMPTY,
    ContentKind.TEXT,
    ContentKind.CHILDREN,
    ContentKind.BINARY,
)


class ElementFrame:
    """One open element: its name, what it holds so far, the bindings it changed."""

    __slots__ = (
        "attributes",
        "content",
        "declared",
        "local_name",
        "namespace",
        "qname",
        "restore",
        "used",
    )

    def __init__(self, qname: bytes, local_name: str, namespace: str | None) -> None:
        self.qname = qname
        self.local_name = local_name
        self.namespace = namespace
        self.content = _EMPTY
        self.restore: list[tuple[str, str | None]] = []
        self.declared: dict[str, str | None] = {}
        self.attributes: set[tuple[str | None, str]] = set()
        # prefixes the start tag's own names use ("" for the default namespace):
        # none of them may be bound to another namespace on the same tag.
        self.used: dict[str, str | None] = {}


class XmlSerializer:
    """Serialize one XML document into UTF-8 bytes, drained with `take`."""

    def __init__(self, *, xml_declaration: bool = False) -> None:
        self._buffer = bytearray()
        if xml_declaration:
            self._buffer += b'<?xml version="1.0" encoding="utf-8"?>'
        self._bindings: dict[str, str | None] = {"xml": XML_NAMESPACE}
        self._stack: list[ElementFrame] = []
        self._tag_open = False
        self._root_done = False
        self._generated_prefixes = 0

    # -- state -------------------------------------------------------------

    @property
    def complete(self) -> bool:
        """True once the root element has been closed."""
        return self._root_done and not self._stack

    @property
    def buffered(self) -> int:
        """How many bytes are serialized and not yet taken."""
        return len(self._buffer)

    def take(self) -> bytes:
        """Return the bytes serialized since the last `take`, and forget them."""
        data = bytes(self._buffer)
        del self._buffer[:]
        return data

    def peek(self) -> bytes:
        """The bytes serialized since the last `take`, kept."""
        return bytes(self._buffer)

    @property
    def current(self) -> ElementFrame:
        if not self._stack:
            raise WriterStateError("no element is open")
        return self._stack[-1]

    def _close_start_tag(self) -> None:
        if self._tag_open:
            self._buffer += b">"
            self._tag_open = False

    # -- namespaces --------------------------------------------------------

    def _bind(self, frame: ElementFrame, prefix: str, namespace: str | None) -> None:
        """Declare *prefix* (``""`` is the default namespace) on *frame*'s start tag."""
        if prefix in frame.used and frame.used[prefix] != namespace:
            shown = f"prefix {prefix!r}" if prefix else "the default namespace"
            raise InvalidXmlError(
                f"{shown} already names {frame.used[prefix]!r} on this start tag "
                f"and cannot be bound to {namespace!r} there"
            )
        if prefix in frame.declared:
            if frame.declared[prefix] != namespace:
                shown = f"prefix {prefix!r}" if prefix else "the default namespace"
                raise InvalidXmlError(
                    f"{shown} is bound to {frame.declared[prefix]!r} on this element "
                    f"and cannot also be bound to {namespace!r}"
                )
            return
        frame.declared[prefix] = namespace
        frame.restore.append((prefix, self._bindings.get(prefix)))
        self._bindings[prefix] = namespace
        value = _escape_attribute(namespace or "")
        if prefix:
            self._buffer += b" xmlns:" + prefix.encode("utf-8") + b'="' + value + b'"'
        else:
            self._buffer += b' xmlns="' + value + b'"'

    @staticmethod
    def _check_prefix(prefix: str, namespace: str | None) -> None:
        check_ncname(prefix, "prefix")
        if namespace is None:
            raise InvalidXmlError(f"prefix {prefix!r} needs a namespace")
        if prefix == "xmlns" or namespace == XMLNS_NAMESPACE:
            raise InvalidXmlError("namespace declarations are written by the writer itself")
        if (prefix == "xml") != (namespace == XML_NAMESPACE):
            raise InvalidXmlError("the prefix 'xml' is reserved for the XML namespace")

    def _prefix_for_attribute(self, frame: ElementFrame, namespace: str) -> str:
        for prefix, bound in self._bindings.items():
            if prefix and bound == namespace:
                return prefix
        while True:
            prefix = f"ns{self._generated_prefixes}"
            self._generated_prefixes += 1
            if prefix not in self._bindings and prefix not in frame.declared:
                return prefix

    def declare(self, prefix: str, namespace: str | None) -> None:
        """Declare *prefix* (``""``: the default namespace) on the open start tag.

        Nothing is written where the binding is already in scope.  Needed for
        prefixes that only QName values use (``xsi:type="t:Name"``).
        """
        if not self._stack or not self._tag_open:
            raise WriterStateError("a namespace declaration must come directly after its start tag")
        if namespace is not None:
            check_chars(namespace, "namespace")
        namespace = namespace or None
        if prefix:
            self._check_prefix(prefix, namespace)
        if prefix == "xml" or self._bindings.get(prefix) == namespace:
            return
        self._bind(self._stack[-1], prefix, namespace)

    # -- structure ---------------------------------------------------------

    def start_element(self, name: str, namespace: str | None, prefix: str | None) -> None:
        check_ncname(name)
        if namespace is not None:
            check_chars(namespace, "namespace")
        namespace = namespace or None
        if self._stack:
            parent = self._stack[-1]
            if parent.content is _BINARY:
                raise WriterStateError(
                    f"<{parent.local_name}> holds binary content, which must be its only content"
                )
            parent.content = _CHILDREN
        elif self._root_done:
            raise WriterStateError("the document already has its root element")
        if prefix is not None:
            self._check_prefix(prefix, namespace)
            qname = f"{prefix}:{name}".encode()
        else:
            qname = name.encode("utf-8")
        self._close_start_tag()
        self._buffer += b"<" + qname
        frame = ElementFrame(qname, name, namespace)
        self._stack.append(frame)
        self._tag_open = True
        if prefix is not None:
            if prefix != "xml" and self._bindings.get(prefix) != namespace:
                self._bind(frame, prefix, namespace)
            frame.used[prefix] = namespace
        else:
            if self._bindings.get("") != namespace:
                self._bind(frame, "", namespace)
            frame.used[""] = namespace

    def attribute(
        self, name: str, value: str, namespace: str | None = None, prefix: str | None = None
    ) -> None:
        check_chars(value, "attribute value")
        check_ncname(name)
        namespace = namespace or None
        if not self._stack or not self._tag_open:
            raise WriterStateError("an attribute must come directly after its start tag")
        frame = self._stack[-1]
        if namespace is None and prefix is None and name == "xmlns":
            raise InvalidXmlError("namespace declarations are written by the writer itself")
        if namespace is not None:
            check_chars(namespace, "namespace")
            if prefix is None:
                prefix = self._prefix_for_attribute(frame, namespace)
        if prefix is not None:
            self._check_prefix(prefix, namespace)
            if prefix != "xml" and self._bindings.get(prefix) != namespace:
                self._bind(frame, prefix, namespace)
            frame.used[prefix] = namespace
            qname = f"{prefix}:{name}".encode()
        else:
            qname = name.encode("utf-8")
        key = (namespace, name)
        if key in frame.attributes:
            raise InvalidXmlError(f"attribute {name!r} is already set on this element")
        frame.attributes.add(key)
        self._buffer += b" " + qname + b'="' + _escape_attribute(value) + b'"'

    def text(self, value: str) -> None:
        check_chars(value)
        if not self._stack:
            raise WriterStateError("text must be inside the root element")
        frame = self._stack[-1]
        if frame.content is _BINARY:
            raise WriterStateError(
                f"<{frame.local_name}> holds binary content, which must be its only content"
            )
        if not value:
            return
        if frame.content is _EMPTY:
            frame.content = _TEXT
        self._close_start_tag()
        self._buffer += _escape_text(value)

    def end_element(self) -> None:
        if not self._stack:
            raise WriterStateError("end_element() with no open element")
        frame = self._stack.pop()
        if self._tag_open:
            self._buffer += b"/>"
            self._tag_open = False
        else:
            self._buffer += b"</" + frame.qname + b">"
        for prefix, previous in reversed(frame.restore):
            if previous is None and prefix:
                del self._bindings[prefix]
            else:
                self._bindings[prefix] = previous
        if not self._stack:
            self._root_done = True

    # -- places filled in later ----------------------------------------------

    def mark(self) -> int:
        """Close the open start tag and return the offset (in what is not yet taken) of what
        comes next.

        A signature is spliced in at such a mark once the digests are known;
        the open element counts as holding a child from now on.
        """
        frame = self.current
        if frame.content is _TEXT or frame.content is _BINARY:
            raise WriterStateError(f"<{frame.local_name}> cannot hold child elements here")
        frame.content = _CHILDREN
        self._close_start_tag()
        return len(self._buffer)

    def insert(self, offset: int, data: bytes) -> None:
        """Insert serialized XML (a whole element) at *offset*, a `mark` not yet taken."""
        self._buffer[offset:offset] = data

    # -- binary content ----------------------------------------------------

    def begin_binary(self) -> None:
        """Mark the current element as holding binary content, and open its content."""
        frame = self.current
        if frame.content is _TEXT or frame.content is _CHILDREN:
            raise WriterStateError(
                f"binary content must be the only content of <{frame.local_name}>, "
                "which already holds text or child elements"
            )
        frame.content = _BINARY
        self._close_start_tag()

    def raw(self, data: bytes) -> None:
        """Append already-serialized content (base64 text) to the open element."""
        self._buffer += data

    def xop_include(self, content_id: str) -> None:
        """Write the ``xop:Include`` that refers to the part *content_id*."""
        if self._bindings.get("xop") == XOP_NAMESPACE:
            self._buffer += b'<xop:Include href="cid:' + content_id.encode("ascii") + b'"/>'
        else:
            self._buffer += (
                (b'<xop:Include xmlns:xop="' + XOP_NAMESPACE.encode("ascii") + b'" href="cid:')
                + content_id.encode("ascii")
                + b'"/>'
            )
