"""How a written message leaves the writer: its framing, its length, its body.

Strategy.  `MessageOutput` holds what decides the bytes on the wire besides
the XML itself: the MIME framing of an MTOM package (boundary, root part head,
closing delimiter) and the core's `XopPlan` of parts, or neither under
`TextEncoding`; the HTTP Content-Type, known from construction; and the
tuning limits of the body, validated here once.  The root XML is drained from
the serializer exactly once, by whichever comes first of the two ways out:
`make_body`, the rest of the message as an `MtomBody` (a body that can be
sent again, for an HTTP client or for a sink's last step), or `spill`, the
XML written so far sent straight into a sink.  The root part's head goes out
in front of the first XML handed on, and the bytes already handed on are
counted so that the Content-Length stays exact.

Places in the root XML can be reserved and filled in later (a WS-Security
signature, once the digests of what it signs are known); a named place that
is still empty keeps the message from being handed on, so that it never goes
out without it.  The writer's state rules (what may be written when, what a
failure aborts) stay in `XmlWriter`.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from ._body import MtomBody
from ._core.encoding import (
    MtomEncoding,
    TextEncoding,
    soap_action_header,
    start_info,
    text_content_type,
)
from ._core.mime import MultipartFraming, make_boundary
from ._core.plan import PlannedPart, XopPlan
from ._core.xml import XmlSerializer
from ._errors import WriterStateError
from ._progress import ProgressCallback

__all__ = ["ByteSink", "MessageOutput"]


class ByteSink(Protocol):
    """Anything with ``async send(bytes)``: an ``anyio.abc.ByteSendStream`` for one."""

    async def send(self, item: bytes, /) -> None:
        """Hand on one chunk of the body."""


def _check_size(name: str, value: int, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= {least}, not {value!r}")
    if value < least:
        raise ValueError(f"{name} must be an int >= {least}, not {value!r}")


class MessageOutput:
    """The framing, length and body of one message written by an `XmlWriter`."""

    __slots__ = (
        "_coalesce_size",
        "_handed_on",
        "_join_size",
        "_pass_through_size",
        "_sent_head",
        "_serializer",
        "_soap_action",
        "_unfilled",
        "content_type",
        "framing",
        "plan",
        "read_size",
    )

    def __init__(
        self,
        encoding: MtomEncoding | TextEncoding,
        serializer: XmlSerializer,
        *,
        read_size: int,
        coalesce_size: int,
        pass_through_size: int,
        join_size: int,
    ) -> None:
        _check_size("read_size", read_size, 1)
        _check_size("coalesce_size", coalesce_size, 1)
        _check_size("pass_through_size", pass_through_size, 1)
        _check_size("join_size", join_size, 0)
        self._serializer = serializer
        self.read_size = read_size
        self._coalesce_size = coalesce_size
        self._pass_through_size = pass_through_size
        self._join_size = join_size
        self._sent_head = False
        self._handed_on = 0  # root XML bytes already drained from the serializer
        # Places in the root XML still to be filled in before anything is sent
        # (a WS-Security signature, once its digests are known): what each is.
        self._unfilled: list[str] = []
        self._soap_action = soap_action_header(encoding.soap, encoding.action)
        self.framing: MultipartFraming | None = None
        self.plan: XopPlan | None = None
        if isinstance(encoding, MtomEncoding):
            token = secrets.token_hex(8)
            self.framing = MultipartFraming(
                boundary=encoding.boundary or make_boundary(),
                start_id=encoding.start_id or f"root.{token}@asyncmtom",
                start_info=start_info(encoding.soap, encoding.action),
            )
            self.plan = XopPlan(self.framing, token, encoding.max_inline_size)
            self.content_type = self.framing.content_type
        else:
            self.content_type = text_content_type(encoding.soap, encoding.action)

    @property
    def parts(self) -> list[PlannedPart]:
        """The planned parts in document order."""
        return [] if self.plan is None else self.plan.parts

    def content_length(self) -> int | None:
        """The exact length of the whole message, once the document is complete."""
        if not self._serializer.complete:
            return None
        length = self._handed_on + self._serializer.buffered
        return length if self.plan is None else self.plan.content_length(length)

    def headers(self, content_length: int | None) -> dict[str, str]:
        """HTTP headers: Content-Type, Content-Length when known, SOAPAction when SOAP 1.1."""
        headers = {"Content-Type": self.content_type}
        if content_length is not None:
            headers["Content-Length"] = str(content_length)
        if self._soap_action is not None:
            headers["SOAPAction"] = self._soap_action
        return headers

    def reserve(self, what: str | None) -> int:
        """Close the open start tag and return where an element is filled in later.

        When *what* names the place, `check_filled` refuses until `fill` has
        filled it in.
        """
        slot = self._serializer.mark()
        if what is not None:
            self._unfilled.append(what)
        return slot

    def fill(self, slot: int, data: bytes, what: str | None) -> None:
        """Put the serialized element *data* at *slot*, a place `reserve` returned."""
        self._serializer.insert(slot, data)
        if what is not None:
            self._unfilled.remove(what)

    def check_filled(self) -> None:
        """Refuse to hand on a message whose reserved places are not all filled in."""
        if self._unfilled:
            raise WriterStateError(
                f"{self._unfilled[0]} is not filled in yet: the message would go out without it"
            )

    def _take_xml(self) -> bytes:
        xml = self._serializer.take()
        self._handed_on += len(xml)
        if self._sent_head or self.framing is None:
            return xml
        self._sent_head = True
        return self.framing.root_head + xml

    def make_body(self, content_length: int | None, progress: ProgressCallback | None) -> MtomBody:
        """The rest of the message: the XML not yet handed on, every part, the closing."""
        return MtomBody(
            self._take_xml(),
            self.parts,
            b"" if self.framing is None else self.framing.closing,
            content_type=self.content_type,
            content_length=content_length,
            read_size=self.read_size,
            coalesce_size=self._coalesce_size,
            pass_through_size=self._pass_through_size,
            join_size=self._join_size,
            progress=progress,
        )

    async def spill(self, sink: ByteSink) -> None:
        """Send the XML written so far (after the root part's head, the first time) to *sink*."""
        data = self._take_xml()
        if data:
            await sink.send(data)
