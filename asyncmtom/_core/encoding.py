"""Message encodings: what the writer produces around the XML it serializes.

Rules.

- `MtomEncoding` makes a ``multipart/related`` XOP package (the MTOM wire
  format of SOAP 1.1 / SOAP 1.2, or plain XML with XOP when ``soap=None``);
  binary content larger than ``max_inline_size`` goes into its own MIME part.
- `TextEncoding` makes plain XML; every binary value is inline canonical
  base64.
- A SOAP action needs a SOAP version: SOAP 1.1 sends it as the SOAPAction
  header, SOAP 1.2 as the ``action`` parameter of the media type.
- Everything given is validated at construction, so that a bad boundary, id
  or action fails where it was written, not half way through a request.
  These are the caller's values: a wrong type is a `TypeError`, a bad value a
  `ValueError`, never `MtomFormatError`, which says what a peer sent.

Both encodings are frozen dataclasses.  `SoapVersion` describes an envelope
version: its namespace and the media type that announces it.  The sans-I/O
helpers at the bottom compute the HTTP Content-Type and SOAPAction values;
they hold no state.
"""

from __future__ import annotations

from dataclasses import dataclass

from .mime import check_action, check_boundary, check_content_id

__all__ = [
    "SOAP11",
    "SOAP12",
    "MtomEncoding",
    "SoapVersion",
    "TextEncoding",
    "soap_action_header",
    "start_info",
    "text_content_type",
]


@dataclass(frozen=True)
class SoapVersion:
    """A SOAP envelope version: its namespace and its media type."""

    version: str
    namespace: str
    media_type: str

    def __repr__(self) -> str:
        return f"SOAP{self.version.replace('.', '')}"


SOAP11 = SoapVersion("1.1", "http://schemas.xmlsoap.org/soap/envelope/", "text/xml")
"""SOAP 1.1: ``text/xml``; the action travels in the ``SOAPAction`` HTTP header."""

SOAP12 = SoapVersion("1.2", "http://www.w3.org/2003/05/soap-envelope", "application/soap+xml")
"""SOAP 1.2: ``application/soap+xml``; the action is a media type parameter."""

PLAIN_XML_MEDIA_TYPE = "application/xml"


def _check_common(soap: object, action: str | None, xml_declaration: object) -> None:
    if soap is not None and not isinstance(soap, SoapVersion):
        raise TypeError(f"soap must be SOAP11, SOAP12 or None, not {soap!r}")
    if action is not None:
        check_action(action)
        if soap is None:
            raise ValueError("an action needs a SOAP version (soap=SOAP11 or SOAP12)")
    if not isinstance(xml_declaration, bool):
        raise TypeError(f"xml_declaration must be a bool, not {xml_declaration!r}")


@dataclass(frozen=True)
class MtomEncoding:
    """MTOM/XOP: binary content above ``max_inline_size`` bytes becomes a MIME part.

    ``boundary`` and ``start_id`` are random for every writer when ``None``;
    a value given is validated and used as is.  ``max_inline_size`` is the
    largest binary value still written inline as base64: the default 767
    matches .NET (768 bytes is the first size that becomes a part), below
    which the part's headers would cost more than the base64 saves.  A value
    of the wrong type raises `TypeError`, an invalid one `ValueError`.
    """

    soap: SoapVersion | None = SOAP12
    action: str | None = None
    boundary: str | None = None
    start_id: str | None = None
    max_inline_size: int = 767
    xml_declaration: bool = False

    def __post_init__(self) -> None:
        _check_common(self.soap, self.action, self.xml_declaration)
        if self.boundary is not None:
            check_boundary(self.boundary)
        if self.start_id is not None:
            check_content_id(self.start_id, "start id")
        size = self.max_inline_size
        if not isinstance(size, int) or isinstance(size, bool):
            raise TypeError(f"max_inline_size must be an int >= 0, not {size!r}")
        if size < 0:
            raise ValueError(f"max_inline_size must be an int >= 0, not {size!r}")


@dataclass(frozen=True)
class TextEncoding:
    """Plain XML: every binary value is written inline as canonical base64."""

    soap: SoapVersion | None = SOAP12
    action: str | None = None
    xml_declaration: bool = False

    def __post_init__(self) -> None:
        _check_common(self.soap, self.action, self.xml_declaration)


def start_info(soap: SoapVersion | None, action: str | None) -> str:
    """The root's media type: ``start-info`` and the root part's ``type``."""
    if soap is None:
        return PLAIN_XML_MEDIA_TYPE
    if action is not None and soap.media_type == SOAP12.media_type:
        return f'{soap.media_type}; action="{action}"'
    return soap.media_type


def text_content_type(soap: SoapVersion | None, action: str | None) -> str:
    """HTTP Content-Type of a `TextEncoding` message."""
    return (
        start_info(soap, action).replace(";", "; charset=utf-8;", 1)
        if (";" in start_info(soap, action))
        else f"{start_info(soap, action)}; charset=utf-8"
    )


def soap_action_header(soap: SoapVersion | None, action: str | None) -> str | None:
    """The ``SOAPAction`` header value: SOAP 1.1 with an action only."""
    if soap is not None and soap.media_type == SOAP11.media_type and action is not None:
        return f'"{action}"'
    return None
