"""XOP planning: which binary content becomes a MIME part, and what the parts are.

Rules.  The plan follows .NET's WsPushBytes:

- with `MtomEncoding`, a value whose size is declared and which fits, with
  what the element already holds back, in ``max_inline_size`` is inlined as
  base64; a larger value, or one of unknown size, makes the element's content
  a part; ``inline=True`` forces base64, ``inline=False`` a part
  (`XopPlan.inlines`);
- an element has at most one part, whatever the number of binary calls on
  it: later content is appended to it as further pieces;
- Content-IDs are minted in document order, ``<n>.<token>@asyncmtom``, unique
  within the message and across messages (the token is random per writer);
- a part's head (delimiter and headers) is built by `MultipartFraming` from
  values checked there, and rebuilt when the part's content type changes;
- the Content-Length is known when every part's size is: the root XML plus
  the framing plus each head and content (`XopPlan.content_length`).

A part holds references, never content read ahead: ``bytes`` values, push
callbacks with their arguments (`PushPiece`) and pull sources (`PullPiece`),
read only when the body is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Union

from .mime import MultipartFraming

__all__ = ["Piece", "PlannedPart", "PullPiece", "PushPiece", "XopPlan"]


@dataclass(slots=True)
class PushPiece:
    """A push callback deferred to body time (WsPushBytes)."""

    callback: Callable[..., Awaitable[object]]
    args: tuple[Any, ...]
    size: int | None


@dataclass(slots=True)
class PullPiece:
    """A pull source deferred to body time (WsPullBytes).

    ``position`` is where a seekable source stood when it was given: every
    pass seeks there first.  ``once`` says, for a source that can be read only
    once, what it is (for the error that refuses a second pass); None when a
    pass can read it again.
    """

    source: object
    size: int | None
    position: int | None = None
    once: str | None = None


Piece = Union[bytes, PushPiece, PullPiece]  # noqa: UP007


@dataclass(slots=True)
class PlannedPart:
    """One attachment part: its framing head, id, declared size and content pieces."""

    content_id: str
    content_type: str
    head: bytes = b""
    pieces: list[Piece] = field(default_factory=list)
    size: int | None = 0
    sent: int | None = None  # its length once a pass completed it: later passes must match

    def add(self, piece: Piece, size: int | None) -> None:
        self.pieces.append(piece)
        self.size = None if self.size is None or size is None else self.size + size


class XopPlan:
    """The parts of one MTOM message: decides inline or part, mints ids, sums lengths."""

    __slots__ = ("framing", "max_inline_size", "parts", "token")

    def __init__(self, framing: MultipartFraming, token: str, max_inline_size: int) -> None:
        self.framing = framing
        self.token = token
        self.max_inline_size = max_inline_size
        self.parts: list[PlannedPart] = []

    def inlines(self, held: int, size: int | None, inline: bool | None) -> bool:
        """True when a value of *size* joins the *held* bytes inline, False for a part."""
        if inline is not None:
            return inline
        return size is not None and held + size <= self.max_inline_size

    def new_part(self, content_type: str) -> PlannedPart:
        """A new part, next in document order, with its Content-ID and head."""
        content_id = f"{len(self.parts) + 1}.{self.token}@asyncmtom"
        part = PlannedPart(
            content_id, content_type, self.framing.part_head(content_id, content_type)
        )
        self.parts.append(part)
        return part

    def retype(self, part: PlannedPart, content_type: str) -> None:
        """Give *part* another content type (checked by the caller): its head follows."""
        part.content_type = content_type
        part.head = self.framing.part_head(part.content_id, content_type)

    def content_length(self, xml_length: int) -> int | None:
        """The body's length around *xml_length* bytes of root XML; None while unknown."""
        length = xml_length + len(self.framing.root_head) + len(self.framing.closing)
        for part in self.parts:
            if part.size is None:
                return None
            length += len(part.head) + part.size
        return length
