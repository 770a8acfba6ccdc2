"""Digests of signed elements over the XOP infoset, fed as the parts stream.

Rules.

- A WS-Security signature over an element that holds an ``xop:Include`` is
  computed and verified over the XOP infoset: the element as if the Include
  were replaced by the base64 of its part (XOP 1.0, section 3.2: the
  canonical lexical form of ``xs:base64Binary``, no line breaks).
- Elements are canonicalized with exclusive C14N, without comments.
- A part is fed once, in document order, whatever the number of references
  that hold it.

The root XML is small; the parts may be gigabytes.  So the canonical form is
computed once over the root XML with the binary content held aside, and the
parts are fed through later.

Strategy.  `reference_plans` takes the parsed root XML (lxml), puts a unique
marker text in place of each ``xop:Include``, computes each signed element's
exclusive canonical form (exc-c14n, without comments) and splits it at the
markers: literal canonical bytes, then a Content-ID, then literal bytes, and
so on.  Base64 text holds no character that canonicalization escapes, so the
canonical form with the base64 in place of a marker is exactly the literal
bytes around it joined with the base64.

`DigestPass` is the sans-I/O half: its caller streams each part it
`needs` with `begin`, `update` (any chunking) and `end`, in document order;
every reference whose next segment is that part is fed the canonical base64
(at most two bytes carried between chunks, padded once at the end), and the
literal bytes that follow.  The base64 is encoded once, whatever the number
of references that hold the part (Body and an element inside it, say).
No I/O and no event loop here; lxml is the only import beyond the standard
library, and only the WS-Security extra installs it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from .base64 import Base64Encoder
from .xml import XOP_NAMESPACE

__all__ = [
    "DigestPass",
    "exc_c14n",
    "ReferencePlan",
    "WSU_NAMESPACE",
    "find_by_id",
    "parse_xml",
    "reference_plans",
]

WSU_NAMESPACE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_INCLUDE = f"{{{XOP_NAMESPACE}}}Include"
# The attributes a same-document reference ("#id") may name, as WSS4J and
# xmlsec resolve them: wsu:Id first, then the unqualified Id and ID.
_ID_ATTRIBUTES = (f"{{{WSU_NAMESPACE}}}Id", "Id", "ID")

Segment = bytes | str  # literal canonical bytes, or the Content-ID of a part


@dataclass(frozen=True, slots=True)
class ReferencePlan:
    """One signed element: its exclusive canonical form, with parts held aside.

    ``segments`` alternates literal canonical bytes (``bytes``) with
    Content-IDs (``str``) whose canonical base64 goes in between.
    """

    id: str
    segments: tuple[Segment, ...]

    @property
    def content_ids(self) -> tuple[str, ...]:
        return tuple(s for s in self.segments if isinstance(s, str))


def parse_xml(xml: bytes) -> Any:
    """Parse a root XML document without entity expansion or network access."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False
    )
    try:
        return etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the XML to sign or verify is not well-formed: {exc}") from None


def find_by_id(root: Any, wanted: Iterable[str]) -> dict[str, Any]:
    """The element that carries each id in *wanted* (wsu:Id, Id or ID); a duplicate is an error."""
    wanted = set(wanted)
    found: dict[str, Any] = {}
    for element in root.iter(etree.Element):
        for name in _ID_ATTRIBUTES:
            value = element.get(name)
            if value in wanted:
                if value in found and found[value] is not element:
                    raise ValueError(f"two elements carry the id {value!r}")
                found[value] = element
    missing = wanted - found.keys()
    if missing:
        raise ValueError(f"no element carries the id {sorted(missing)[0]!r}")
    return found


def _hold_parts_aside(root: Any) -> tuple[re.Pattern[bytes], dict[bytes, str]]:
    """Replace each xop:Include by a marker text; return the markers' pattern and Content-IDs."""
    token = secrets.token_hex(8)
    markers: dict[bytes, str] = {}
    for include in list(root.iter(_INCLUDE)):
        parent = include.getparent()
        href = include.get("href") or ""
        if parent is None or not href.startswith("cid:"):
            raise ValueError(f"an xop:Include with the href {href!r} cannot be signed")
        if (parent.text or "").strip() or len(parent) != 1 or (include.tail or "").strip():
            raise ValueError("an xop:Include must be the only content of its element")
        marker = f"xop{token}n{len(markers)}x"
        markers[marker.encode("ascii")] = unquote(href[4:])
        parent.remove(include)
        parent.text = marker
    pattern = re.compile(b"xop" + token.encode("ascii") + b"n[0-9]+x")
    return pattern, markers


def exc_c14n(element: Any, inclusive_prefixes: Sequence[str] | None = None) -> bytes:
    """The exclusive canonical form (without comments) of *element*'s subtree.

    ``inclusive_prefixes`` is the transform's InclusiveNamespaces PrefixList
    (prefixes rendered as in inclusive C14N), which WSS4J writes.
    """
    data: bytes = etree.tostring(
        element,
        method="c14n",
        exclusive=True,
        with_comments=False,
        inclusive_ns_prefixes=list(inclusive_prefixes) if inclusive_prefixes else None,
    )
    return data


def reference_plans(
    root: Any, ids: Sequence[str], prefixes: Mapping[str, Sequence[str]] | None = None
) -> list[ReferencePlan]:
    """The canonical forms of the elements carrying *ids* under *root*, parts held aside.

    *root* is a parsed document (`parse_xml`); its xop:Include elements are
    replaced by markers in place.  *prefixes* gives an id's InclusiveNamespaces
    PrefixList, if it has one.
    """
    pattern, markers = _hold_parts_aside(root)
    elements = find_by_id(root, ids)
    plans = []
    for id_ in ids:
        canonical = exc_c14n(elements[id_], (prefixes or {}).get(id_))
        segments: list[Segment] = []
        start = 0
        for match in pattern.finditer(canonical):
            segments.append(canonical[start : match.start()])
            segments.append(markers[match.group()])
            start = match.end()
        segments.append(canonical[start:])
        plans.append(ReferencePlan(id_, tuple(segments)))
    return plans


class _Running:
    __slots__ = ("hash", "plan", "position")

    def __init__(self, plan: ReferencePlan, hash_name: str) -> None:
        self.plan = plan
        self.hash = hashlib.new(hash_name)
        self.position = 0
        self.advance()

    def advance(self) -> None:
        """Feed literal segments up to the next part (or the end)."""
        segments = self.plan.segments
        while self.position < len(segments) and isinstance(segments[self.position], bytes):
            self.hash.update(segments[self.position])  # type: ignore[arg-type]
            self.position += 1

    @property
    def waiting_for(self) -> str | None:
        segments = self.plan.segments
        if self.position < len(segments):
            segment = segments[self.position]
            assert isinstance(segment, str)
            return segment
        return None


class DigestPass:
    """Digests of several references, fed the parts they hold in document order.

    ``hash_name`` is a hashlib name (``"sha256"``, ``"sha1"``).  Call
    `begin` with a Content-ID from `needs` (in that order), `update` with its
    content in chunks of any size, `end`, and finally `digests`.
    """

    def __init__(self, plans: Sequence[ReferencePlan], hash_name: str) -> None:
        seen: set[str] = set()
        order: list[str] = []
        for plan in plans:
            ids = plan.content_ids
            if len(set(ids)) != len(ids):
                raise ValueError("a signed element refers to the same part twice")
            for content_id in ids:
                if content_id not in seen:
                    seen.add(content_id)
                    order.append(content_id)
        self._running = [_Running(plan, hash_name) for plan in plans]
        self._order = order
        #: The Content-IDs whose content the digests need, in the order they must come.
        self.needs: tuple[str, ...] = tuple(order)
        self._next = 0
        self._active: list[_Running] = []
        self._encoder: Base64Encoder | None = None
        self._content_id: str | None = None

    def begin(self, content_id: str) -> None:
        """Start feeding the content of part *content_id*."""
        if self._encoder is not None:
            raise RuntimeError(f"part <{self._content_id}> has not ended")
        if self._next >= len(self._order) or self._order[self._next] != content_id:
            expected = self._order[self._next] if self._next < len(self._order) else None
            raise ValueError(f"part <{content_id}> out of order: expected <{expected}>")
        self._next += 1
        self._active = [r for r in self._running if r.waiting_for == content_id]
        self._encoder = Base64Encoder()
        self._content_id = content_id

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed one chunk of the current part."""
        if self._encoder is None:
            raise RuntimeError("update() outside begin() and end()")
        text = self._encoder.encode(data)
        if text:
            for running in self._active:
                running.hash.update(text)

    def end(self) -> None:
        """The current part is complete."""
        if self._encoder is None:
            raise RuntimeError("end() without begin()")
        text = self._encoder.finish()
        for running in self._active:
            running.hash.update(text)
            running.position += 1
            running.advance()
        self._encoder = None
        self._active = []

    def digests(self) -> dict[str, bytes]:
        """Each reference's digest, by id, once every needed part has been fed."""
        if self._encoder is not None or self._next != len(self._order):
            raise RuntimeError("not every part the signed elements hold has been fed")
        return {r.plan.id: r.hash.digest() for r in self._running}
