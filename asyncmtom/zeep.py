"""zeep integration: a zeep ``AsyncClient`` sends MTOM and reads MTOM replies.

Install with the ``zeep`` extra (``pip install "asyncmtom[zeep]"``).  This is
the only module of asyncmtom that imports zeep (and httpx): ``import
asyncmtom`` never does.

Usage::

    from zeep import AsyncClient
    from asyncmtom.zeep import Binary, MtomTransport

    async with AsyncClient(wsdl, transport=MtomTransport()) as client:
        result = await client.service.upload(name="scan.pdf", data=Binary("scan.pdf"))

Strategy.  zeep builds the whole SOAP envelope as an lxml tree before it
calls the transport, and it renders every ``xs:base64Binary`` value with
``base64.b64encode(value)``.  A `Binary` is therefore a ``bytes`` subclass
that holds only a short unique token (27 bytes): zeep base64-encodes the
token, never the data.  The token's base64 text is registered in a weak map
that leads back to the real source (a file path, bytes, an async iterable or
``read(n)`` object, or a push callback); the entry lives as long as the
`Binary` value does, so nothing leaks once a call is over.

`MtomTransport` overrides ``post_xml(address, envelope, headers)``, the one
place where zeep hands the envelope to a transport.  `prepare_request`
walks the lxml tree and writes it again through `asyncmtom.XmlWriter`:
elements with their prefixes, every namespace declaration where zeep put it
(so QName values such as ``xsi:type="ns1:T"`` keep their prefixes),
attributes and text; comments and processing instructions are dropped.  An
element whose text is a registered token gets the real source instead, with
``pull_bytes``, ``push_bytes`` or ``write_bytes``: an ``xop:Include`` in the
XML, the bytes streamed into their own part when the body is sent, never
base64 in memory.  The SOAP version comes from the envelope's namespace; the
action from zeep's headers (the ``SOAPAction`` header for SOAP 1.1, the
``action`` parameter of the Content-Type for SOAP 1.2).  Every other header
zeep set is kept; Content-Type (and Content-Length, when every size is
known) are the writer's.

The request is posted with the transport's ``httpx.AsyncClient`` and the
reply is streamed.  A ``multipart/related`` reply is decoded with
`asyncmtom.read_mtom` and its XOP references are resolved (`MtomMessage.resolve`)
into a plain XML reply, which zeep then processes as usual: its own MTOM
handling (which holds the whole raw message in memory) never runs.  A plain
reply is handed on unchanged.  zeep parses the reply as one document, so a
large downloaded attachment ends up in memory as zeep's ``bytes`` value; for
downloads of any size, post the request yourself and use `asyncmtom.read_mtom`.

Decisions.  The W3C ``xmime`` schema, which MTOM WSDLs of Metro, CXF and
.NET import by its URL, is answered from a copy in this module
(`XMIME_SCHEMA`), so loading such a WSDL needs no access to www.w3.org.
Every request goes out as MTOM, even one without a `Binary`
value, because MTOM endpoints (WCF, Metro with MTOM enabled) answer plain XML
with a fault; pass ``always_mtom=False`` to send such requests as zeep would.
A `Binary` that ends up anywhere but as the whole text of an element (an
attribute, a list of values, a ``hexBinary`` or ``string`` field) raises
`MtomFormatError` instead of sending the token as data.  The sync
``zeep.Client`` is not supported: the writer is async.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
import stat
import weakref
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import zeep.transports  # type: ignore[import-untyped, unused-ignore]

from ._body import BytesLike, ProgressCallback
from ._encoding import SOAP11, SOAP12, MtomEncoding, SoapVersion
from ._errors import MtomFormatError
from ._reader import read_mtom
from ._related_parser import parse_media_type
from ._writer import XmlWriter

__all__ = ["XMIME_SCHEMA", "Binary", "MtomRequest", "MtomTransport", "prepare_request"]

logger = logging.getLogger(__name__)

_TOKEN_PREFIX = b"\x00asyncmtom-xop:"  # 15 bytes: its base64 is a fixed 20-character prefix
_TOKEN_TEXT_PREFIX = base64.b64encode(_TOKEN_PREFIX).decode("ascii")
_ENVELOPES: dict[str, SoapVersion] = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}

#: The W3C schema of the xmime namespace ("Describing Media Content of Binary
#: Data in XML", W3C Working Group Note, 4 May 2005).  Metro, CXF and .NET
#: import it by its namespace URL in every MTOM WSDL; `MtomTransport` answers
#: that URL from here, so a WSDL loads without reaching www.w3.org.
XMIME_SCHEMA = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xmime="http://www.w3.org/2005/05/xmlmime"
           targetNamespace="http://www.w3.org/2005/05/xmlmime">
  <xs:attribute name="contentType">
    <xs:simpleType>
      <xs:restriction base="xs:string">
        <xs:minLength value="3"/>
      </xs:restriction>
    </xs:simpleType>
  </xs:attribute>
  <xs:attribute name="expectedContentTypes" type="xs:string"/>
  <xs:complexType name="base64Binary">
    <xs:simpleContent>
      <xs:extension base="xs:base64Binary">
        <xs:attribute ref="xmime:contentType"/>
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>
  <xs:complexType name="hexBinary">
    <xs:simpleContent>
      <xs:extension base="xs:hexBinary">
        <xs:attribute ref="xmime:contentType"/>
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>
</xs:schema>
"""
_BUNDLED = {
    "http://www.w3.org/2005/05/xmlmime": XMIME_SCHEMA,
    "https://www.w3.org/2005/05/xmlmime": XMIME_SCHEMA,
    "http://www.w3.org/2005/05/xmlmime/": XMIME_SCHEMA,
}


class _Source:
    """What a `Binary` stands for; the weak map's value (``bytes`` cannot be weakly referenced)."""

    __slots__ = ("__weakref__", "args", "content_type", "inline", "kind", "size", "value")

    def __init__(
        self,
        kind: str,
        value: Any,
        args: tuple[Any, ...],
        size: int | None,
        content_type: str | None,
        inline: bool | None,
    ) -> None:
        self.kind = kind  # "bytes", "path", "pull" or "push"
        self.value = value
        self.args = args
        self.size = size
        self.content_type = content_type
        self.inline = inline


_REGISTRY: weakref.WeakValueDictionary[str, _Source] = weakref.WeakValueDictionary()


def _check_options(size: object, content_type: object, inline: object) -> None:
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise MtomFormatError(f"size must be an int >= 0 or None, not {size!r}")
    if content_type is not None and not isinstance(content_type, str):
        raise MtomFormatError(f"content_type must be a str or None, not {content_type!r}")
    if inline is not None and not isinstance(inline, bool):
        raise MtomFormatError(f"inline must be True, False or None, not {inline!r}")


class Binary(bytes):
    """A ``base64Binary`` argument for zeep that is sent as an MTOM part.

    ``Binary(source, *, size=None, content_type=None, inline=None)`` where
    *source* is a file path (``str`` or ``os.PathLike``; opened when the body
    is sent), bytes-like data, an async iterable of bytes-like chunks, or an
    object with ``async read(n)``.  `Binary.push` takes a push callback
    instead.  ``size``, ``content_type`` and ``inline`` mean what they mean for
    `XmlWriter.pull_bytes`: a declared size is a promise; without one a file's
    size is read from the file system.

    The value itself is a short token, not the data: give it to zeep as the
    value of a ``base64Binary`` element and send the request with
    `MtomTransport`.  A path, bytes or a push callback can be sent again; an
    iterator or stream is consumed by the first request.  A `Binary` is
    immutable: copying it gives the same object, and it cannot be pickled.
    """

    _source: _Source

    def __new__(
        cls,
        source: str | os.PathLike[str] | BytesLike | AsyncIterable[BytesLike] | object,
        *,
        size: int | None = None,
        content_type: str | None = None,
        inline: bool | None = None,
    ) -> Binary:
        _check_options(size, content_type, inline)
        value: object = source
        if isinstance(source, (str, os.PathLike)):
            kind, value = "path", Path(source)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            kind = "bytes"
        elif isinstance(source, AsyncIterable) or callable(getattr(source, "read", None)):
            kind = "pull"
        else:
            raise MtomFormatError(
                "Binary() takes a file path, bytes-like data, an async iterable of chunks "
                f"or an object with async read(n), not {type(source).__name__}; "
                "use Binary.push() for a push callback"
            )
        return cls._make(_Source(kind, value, (), size, content_type, inline))

    @classmethod
    def push(
        cls,
        callback: Callable[..., Awaitable[object]],
        *args: Any,
        size: int | None = None,
        content_type: str | None = None,
        inline: bool | None = None,
    ) -> Binary:
        """A value streamed by ``await callback(write, *args)`` (see `XmlWriter.push_bytes`)."""
        if not callable(callback):
            raise MtomFormatError("Binary.push() needs an async callback(write, *args)")
        _check_options(size, content_type, inline)
        return cls._make(_Source("push", callback, args, size, content_type, inline))

    @classmethod
    def _make(cls, source: _Source) -> Binary:
        self = super().__new__(cls, _TOKEN_PREFIX + secrets.token_bytes(12))
        self._source = source
        _REGISTRY[self.token] = source
        return self

    @property
    def token(self) -> str:
        """The base64 text zeep writes for this value: what `prepare_request` looks for."""
        return base64.b64encode(self).decode("ascii")

    @property
    def source(self) -> object:
        """The path, data, stream or callback this value stands for."""
        return self._source.value

    @property
    def size(self) -> int | None:
        """The declared size, or None."""
        return self._source.size

    @property
    def content_type(self) -> str | None:
        """The part's Content-Type, or None (then ``xmime:contentType`` or the default)."""
        return self._source.content_type

    def __repr__(self) -> str:
        source = self._source
        shown = repr(source.value) if source.kind == "path" else type(source.value).__name__
        return f"<Binary {source.kind} {shown} size={source.size}>"

    def __copy__(self) -> Binary:
        return self

    def __deepcopy__(self, memo: object) -> Binary:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a Binary stands for a local source and cannot be pickled")


@dataclass(frozen=True)
class MtomRequest:
    """What `prepare_request` makes: the writer holding the envelope, and the HTTP headers."""

    #: The envelope, complete, ready for ``writer.body()`` or ``writer.write_to()``.
    writer: XmlWriter
    #: zeep's headers with the writer's Content-Type (and Content-Length when known).
    headers: dict[str, str]
    #: How many `Binary` values the envelope held.
    binaries: int


def _split(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace or None, local
    return None, tag


def _declare(writer: XmlWriter, prefix: str | None, namespace: str | None) -> None:
    """Declare *prefix* on the element just started, if it is not already in scope."""
    # XmlWriter declares namespaces only where names use them; a prefix that
    # only QName values use (xsi:type="ns1:T") needs its declaration kept too.
    writer.namespace(prefix or None, namespace or None)


def _check_no_token(value: str, where: str) -> None:
    if _TOKEN_TEXT_PREFIX in value:
        raise MtomFormatError(
            f"a Binary value was rendered into {where}; a Binary must be the whole value "
            "of a base64Binary element"
        )


def _soap_and_action(envelope: Any, headers: Mapping[str, str]) -> tuple[SoapVersion, str | None]:
    namespace, local = _split(envelope.tag) if isinstance(envelope.tag, str) else (None, "")
    soap = _ENVELOPES.get(namespace or "")
    if soap is None or local != "Envelope":
        raise MtomFormatError(
            f"not a SOAP 1.1 or 1.2 envelope: the root element is {envelope.tag!r}"
        )
    lowered = {name.lower(): value for name, value in headers.items()}
    action: str | None
    if soap is SOAP11:
        action = lowered.get("soapaction", "").strip().strip('"') or None
    else:
        action = parse_media_type(lowered.get("content-type", "")).get("action")
        if action == "None":  # zeep writes action="None" when the WSDL gives no soapAction
            action = None
    return soap, action or None


async def _binary(writer: XmlWriter, source: _Source) -> None:
    options: dict[str, Any] = {"content_type": source.content_type, "inline": source.inline}
    if source.kind == "bytes":
        data = source.value
        if source.size is not None and source.size != len(data):
            raise MtomFormatError(
                f"a Binary of {len(data)} bytes was declared as {source.size} bytes"
            )
        await writer.write_bytes(data, **options)
    elif source.kind == "path":
        path: Path = source.value
        size = source.size
        if size is None:
            st = os.stat(path)  # a missing file fails here, before anything is sent
            size = st.st_size if stat.S_ISREG(st.st_mode) else None
        await writer.pull_bytes(path, size=size, **options)
    elif source.kind == "pull":
        await writer.pull_bytes(source.value, size=source.size, **options)
    else:
        await writer.push_bytes(source.value, *source.args, size=source.size, **options)


async def _write_element(writer: XmlWriter, element: Any, parent_nsmap: Mapping[Any, str]) -> int:
    namespace, local = _split(element.tag)
    writer.start_element(local, namespace, element.prefix)
    nsmap: Mapping[Any, str] = element.nsmap
    for prefix, uri in nsmap.items():
        if parent_nsmap.get(prefix) != uri:
            _declare(writer, prefix, uri)
    for key, value in element.attrib.items():
        attr_namespace, attr_name = _split(key)
        _check_no_token(value, f"the attribute {attr_name!r}")
        attr_prefix = None
        if attr_namespace is not None:
            attr_prefix = next((p for p, uri in nsmap.items() if p and uri == attr_namespace), None)
        writer.attribute(attr_name, value, attr_namespace, attr_prefix)
    found = 0
    text = element.text
    children = [child for child in element]
    if text:
        source = _REGISTRY.get(text.strip()) if not children else None
        if source is not None:
            await _binary(writer, source)
            found += 1
        else:
            _check_no_token(text, f"the text of <{local}>")
            writer.text(text)
    for child in children:
        if isinstance(child.tag, str):
            found += await _write_element(writer, child, nsmap)
        # comments, processing instructions and entities are dropped, their tails kept
        if child.tail:
            _check_no_token(child.tail, f"the text of <{local}>")
            writer.text(child.tail)
    writer.end_element()
    return found


async def prepare_request(
    envelope: Any,
    headers: Mapping[str, str] | None = None,
    *,
    max_inline_size: int = 767,
) -> MtomRequest:
    """Write zeep's lxml *envelope* through an `XmlWriter` as an MTOM message.

    *headers* are the HTTP headers zeep made for the envelope (they give the
    SOAP action); the result keeps them, with the writer's Content-Type.
    Each element whose text is a `Binary` token gets the `Binary`'s real
    source as its binary content.  Data is not read here (except a value of
    a declared size within ``max_inline_size``, which is inlined); a file
    source must exist now.
    """
    headers = dict(headers or {})
    soap, action = _soap_and_action(envelope, headers)
    writer = XmlWriter(MtomEncoding(soap=soap, action=action, max_inline_size=max_inline_size))
    binaries = await _write_element(writer, envelope, {})
    merged = {
        name: value
        for name, value in headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    for name, value in writer.headers.items():
        for existing in [n for n in merged if n.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return MtomRequest(writer, merged, binaries)


class MtomTransport(zeep.transports.AsyncTransport):  # type: ignore[misc, unused-ignore]
    """A zeep ``AsyncTransport`` that sends MTOM requests and decodes MTOM replies.

    Keyword arguments are zeep's (``client``, ``wsdl_client``, ``cache``,
    ``timeout``, ``operation_timeout``, ``verify_ssl``, ``proxy``) plus:

    - ``max_inline_size`` (767): a `Binary` of a declared size up to this is
      inlined as base64 (as .NET does); larger or unsized ones become parts.
    - ``always_mtom`` (True): send MTOM even when the envelope holds no
      `Binary`; False sends those requests as plain XML, as zeep would.
    - ``progress``: a callable given a `Progress` for each chunk of every
      request body (``XmlWriter.body(progress=...)``); keep it quick.
    - ``read_options``: keyword arguments for `read_mtom` when a reply is
      MTOM (its limits, ``spool_threshold``, ``spool_dir``).
    """

    def __init__(
        self,
        *,
        max_inline_size: int = 767,
        always_mtom: bool = True,
        progress: ProgressCallback | None = None,
        read_options: Mapping[str, Any] | None = None,
        **transport_options: Any,
    ) -> None:
        super().__init__(**transport_options)  # type: ignore[no-untyped-call, unused-ignore]
        MtomEncoding(max_inline_size=max_inline_size)  # validates it now
        if progress is not None and not callable(progress):
            raise MtomFormatError("progress must be a callable taking a Progress")
        self.max_inline_size = max_inline_size
        self.always_mtom = always_mtom
        self.progress = progress
        self.read_options: dict[str, Any] = dict(read_options or {})

    def load(self, url: str) -> bytes:
        """Load a WSDL or schema for zeep; the W3C xmime schema comes from `XMIME_SCHEMA`."""
        bundled = _BUNDLED.get(url)
        if bundled is not None:
            return bundled
        content: bytes = super().load(url)  # type: ignore[no-untyped-call, unused-ignore]
        return content

    async def post_xml(self, address: str, envelope: Any, headers: Mapping[str, str]) -> Any:
        """Send *envelope* as MTOM; return zeep's response object, the reply resolved."""
        request = await prepare_request(envelope, headers, max_inline_size=self.max_inline_size)
        if not request.binaries and not self.always_mtom:
            return await super().post_xml(address, envelope, headers)  # type: ignore[no-untyped-call, unused-ignore]
        logger.debug(
            "HTTP Post to %s: MTOM, %d binary value(s), Content-Type %s",
            address,
            request.binaries,
            request.writer.content_type,
        )
        http_request = self.client.build_request(
            "POST",
            address,
            content=request.writer.body(progress=self.progress),
            headers=request.headers,
        )
        response = await self.client.send(http_request, stream=True)
        try:
            reply = await self._read_reply(response)
        finally:
            await response.aclose()
        logger.debug(
            "HTTP Response from %s (status: %d): %d bytes of XML",
            address,
            reply.status_code,
            len(reply.content),
        )
        return self.new_response(reply)  # type: ignore[no-untyped-call, unused-ignore]

    async def _read_reply(self, response: httpx.Response) -> httpx.Response:
        content_type = response.headers.get("content-type", "")
        if parse_media_type(content_type).essence != "multipart/related":
            await response.aread()
            return response
        async with read_mtom(content_type, response.aiter_bytes(), **self.read_options) as message:
            xml = await message.resolve()
            media_type = message.media_type or "text/xml"
            charset = message.charset or "utf-8"
        headers = httpx.Headers(response.headers)
        for name in ("content-length", "content-encoding", "transfer-encoding"):
            if name in headers:
                del headers[name]
        headers["content-type"] = f"{media_type}; charset={charset}"
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=xml,
            request=response.request,
            extensions=response.extensions,
        )
