"""zeep integration: zeep's clients send MTOM and read MTOM replies of any size.

Install with the ``zeep`` extra (``pip install "asyncmtom[zeep]"``).  This is
the only module of asyncmtom that imports zeep (and httpx): ``import
asyncmtom`` never does.

Usage::

    from zeep import AsyncClient, Client
    from asyncmtom.zeep import Binary, MtomTransport, SyncMtomTransport

    async with AsyncClient(wsdl, transport=MtomTransport()) as client:
        result = await client.service.upload(name="scan.pdf", data=Binary("scan.pdf"))

    with Client(wsdl, transport=SyncMtomTransport()) as client:
        reply = client.service.download(name="scan.pdf")
        reply.data.save("copy.pdf")     # a large part: spooled, saved without a copy

Strategy, requests.  zeep builds the whole SOAP envelope as an lxml tree
before it calls the transport, and it renders every ``xs:base64Binary``
value with ``base64.b64encode(value)``.  A `Binary` is therefore a ``bytes``
subclass that holds only a short unique token (27 bytes): zeep
base64-encodes the token, never the data.  The token's base64 text is
registered in a weak map that leads back to the real source (a file path,
bytes, an async iterable or ``read(n)`` object, or a push callback); the
entry lives as long as the `Binary` value does.  The transports override
``post_xml(address, envelope, headers)``, the one place where zeep hands the
envelope to a transport: `prepare_request` walks the lxml tree and writes it
again through `asyncmtom.XmlWriter` (prefixes and namespace declarations
where zeep put them, attributes, text; comments and processing instructions
dropped), and an element whose text is a registered token gets the real
source, streamed into its own part when the body is sent.  The SOAP version
comes from the envelope's namespace, the action from zeep's headers.

Strategy, replies.  A ``multipart/related`` reply is read with
`asyncmtom.read_mtom` (large parts spooled to temporary files as they
arrive).  Its root XML goes to zeep with each ``xop:Include`` replaced by
the base64 of a fresh 27-byte token, so the document zeep parses stays as
small as the root whatever the parts weigh (lxml's 10 MB text node limit
never comes near).  While zeep turns that document into Python values, its
``xs:base64Binary`` decoder hands back, for a token, the value backed by the
received part: the part's ``bytes`` when it was held in memory (up to
``spool_threshold``, 1 MiB by default), otherwise a `SpooledBinary`
(`SyncMtomTransport`) or `AsyncSpooledBinary` (`MtomTransport`) that owns
the spool file: ``save(path)`` moves it into place, ``bytes(value)`` reads
it, and the file is removed when the value is garbage collected.  A token
that ends up anywhere else (a ``string`` field, ``xs:any`` content) would
be silently wrong data, so it raises `MtomFormatError` once zeep is done; a
part that no ``xop:Include`` references (SOAP with Attachments) would be
lost, so it raises `MtomFormatError` too.

Strategy, the sync client.  `SyncMtomTransport` sends with an
``httpx.Client``; the writer and the reader, which are async, run for the
length of one call on a private event loop thread (an anyio blocking
portal): the request body is an `asyncmtom.SyncBody` pulled chunk by chunk
by httpx, and the reply is fed to the reader in batches of about 1 MiB.

Hooks.  Importing this module wraps five zeep functions, once: SOAP
bindings' ``send`` and ``send_async`` (the wrong transport for the kind of
client raises `TypeError` before anything is sent; a call made with these
transports gets its error messages cut to a readable length, and
`raw_response` is known to the transport), the bindings' ``_create`` (an
envelope holding a `Binary` that is about to be sent by any other transport
raises `TypeError`: zeep would send the placeholder), the
``xs:base64Binary`` decoder (the reply tokens above; any other text is
decoded as before), and the signature plugins' ``verify`` (a reply whose
parts were verified as it was read).  ``AsyncClient.create_service`` gives
an async proxy when the transport is `MtomTransport`.

Decisions.  The W3C ``xmime`` schema, which MTOM WSDLs of Metro, CXF and
.NET import by its URL, is answered from a copy in this module
(`XMIME_SCHEMA`).  Every request goes out as MTOM, even one without a
`Binary`, because MTOM endpoints answer plain XML with a fault; pass
``always_mtom=False`` to send such requests as zeep would.  A `Binary` that
ends up anywhere but as the whole text of an element (an attribute, text
around it) raises `MtomFormatError`; in an ``xs:list``, a ``string`` or a
``hexBinary`` field zeep itself refuses it (it joins ``str`` only; lxml
refuses the token's NUL byte).  A large received part is a value of its own
type, not ``bytes``: handing 1 GiB over as ``bytes`` would hold it in
memory.  A WS-Security signature that covers an element holding a `Binary`
and was made by zeep's ``Signature`` or ``BinarySignature`` plugin is made
again over the real bytes (`asyncmtom.wssec.sign_prepared`, the parts
streamed into the digests); any other signature over a `Binary` is refused
before anything is sent (`refuse_signature_over_binary`): it would sign the
placeholder.  A signed MTOM reply is verified with its parts as it is read,
and zeep's plugin ``verify`` accepts it then.
``operation_timeout`` applies to every call, also with a client of your own
(``None`` leaves that client's timeout); the given client's default headers,
auth, certificates and proxy are used as they are.  `MtomTransport` closes
its client on exit as zeep's ``AsyncTransport`` does, and the WSDL client if
it made it; `SyncMtomTransport` closes only a client it made, as zeep's
``Transport`` does with its session.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse
from urllib.request import url2pathname

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import requests
import zeep.client  # type: ignore[import-untyped, unused-ignore]
import zeep.exceptions  # type: ignore[import-untyped, unused-ignore]
import zeep.proxy  # type: ignore[import-untyped, unused-ignore]
import zeep.transports  # type: ignore[import-untyped, unused-ignore]
import zeep.wsdl.bindings.soap  # type: ignore[import-untyped, unused-ignore]
import zeep.wsse.signature  # type: ignore[import-untyped, unused-ignore]
import zeep.xsd.types.builtins  # type: ignore[import-untyped, unused-ignore]
from zeep.wsdl.utils import etree_to_string  # type: ignore[import-untyped, unused-ignore]

from ._body import BytesLike, ProgressCallback
from ._core.encoding import SOAP11, SOAP12, MtomEncoding, SoapVersion
from ._core.related import parse_media_type
from ._core.xop import find_includes, inserted_text_codec, plan_splices
from ._errors import MtomFormatError
from ._message import MtomMessage, read_mtom
from ._sync import SyncBody
from ._writer import XmlWriter

__all__ = [
    "XMIME_SCHEMA",
    "AsyncSpooledBinary",
    "Binary",
    "MtomRequest",
    "MtomTransport",
    "SpooledBinary",
    "SyncMtomTransport",
    "prepare_request",
    "refuse_signature_over_binary",
]

logger = logging.getLogger(__name__)

_TOKEN_PREFIX = b"\x00asyncmtom-xop:"  # 15 bytes: its base64 is a fixed 20-character prefix
_TOKEN_TEXT_PREFIX = base64.b64encode(_TOKEN_PREFIX).decode("ascii")
_TOKEN_TEXT = re.compile(re.escape(_TOKEN_TEXT_PREFIX) + "[A-Za-z0-9+/]{16}")
_REPLY_PREFIX = b"\x00asyncmtom-got:"  # the same, for the parts of a reply
_REPLY_TEXT_PREFIX = base64.b64encode(_REPLY_PREFIX).decode("ascii")
_ENVELOPES: dict[str, SoapVersion] = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}
_DSIG = "http://www.w3.org/2000/09/xmldsig#"
_USER_AGENT = f"Zeep/{zeep.__version__} (www.python-zeep.org)"
#: Longest error message text kept from zeep (whose messages may quote a whole reply).
MAX_ERROR_TEXT = 2000
#: Bytes of the reply handed at a time from the sync client's thread to the reader.
_SYNC_BATCH = 1024 * 1024

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


# --- values received in a reply --------------------------------------------------------------


class _SpoolFile:
    """The file behind a spooled value, and whether it is still ours to remove."""

    __slots__ = ("directory", "owned", "path")

    def __init__(self, directory: str, path: str) -> None:
        self.directory: str | None = directory  # private (0700), made for this one file
        self.path = path
        self.owned = True

    def remove(self) -> None:
        if self.owned:
            self.owned = False
            with suppress(OSError):
                os.unlink(self.path)
        if self.directory is not None:
            with suppress(OSError):
                os.rmdir(self.directory)
            self.directory = None


class _Spooled:
    """What `SpooledBinary` and `AsyncSpooledBinary` share: a part kept in a file."""

    def __init__(self, spool: _SpoolFile, size: int, content_type: str, content_id: str) -> None:
        self._spool = spool
        #: The part's size in bytes.
        self.size = size
        #: The part's Content-Type header as received.
        self.content_type = content_type
        #: The part's Content-ID, without angle brackets.
        self.content_id = content_id
        # The file goes when the value goes, whoever holds it last.
        self._finalizer = weakref.finalize(self, spool.remove)

    @property
    def path(self) -> Path:
        """The file that holds the data now: a temporary file until `save` moved it."""
        return Path(self._spool.path)

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return Path(self._spool.path).read_bytes()

    def open(self) -> BinaryIO:
        """The data as a binary file object opened for reading (close it when done)."""
        return open(self._spool.path, "rb")  # the caller closes it

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.content_id!r} {self.content_type!r} "
            f"size={self.size} at {self._spool.path!r}>"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a spooled value is backed by a local file and cannot be pickled")

    def _save(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        spool = self._spool
        if spool.owned:
            try:
                os.replace(spool.path, target)
            except OSError:
                pass  # another file system, most likely: copy instead
            else:
                spool.owned = False
                spool.path = os.fspath(target)
                spool.remove()  # the private directory, now empty
                return target
        shutil.copyfile(spool.path, target)
        return target


class SpooledBinary(_Spooled):
    """A binary field of a reply to `SyncMtomTransport`, kept in a temporary file.

    ``save(path)`` moves the file there when it can (same file system), so a
    part of any size is saved without a copy; the saved file then backs the
    value and is left in place.  ``bytes(value)`` reads the whole data into
    memory, ``open()`` gives a file object, ``len(value)`` is the size.  The
    temporary file is removed when the value is garbage collected.
    """

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the data to *path*, replacing any file there; returns the path."""
        return self._save(path)


class AsyncSpooledBinary(_Spooled):
    """A binary field of a reply to `MtomTransport`, kept in a temporary file.

    As `SpooledBinary`, except that ``save`` and ``read`` are coroutines (the
    file work runs in a worker thread) and the value can be iterated with
    ``async for`` in chunks.
    """

    async def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the data to *path*, replacing any file there; returns the path."""
        return await anyio.to_thread.run_sync(self._save, path)

    async def read(self) -> bytes:
        """The whole data as ``bytes``."""
        return await anyio.Path(self._spool.path).read_bytes()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self._spool.path, "rb") as file:
            while chunk := await file.read(768 * 1024):
                yield chunk


class _ReplyValues:
    """The values of one reply, by the token text that stands for each in zeep's document."""

    __slots__ = ("__weakref__", "values", "verified")

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        #: True once the reply's WS-Security signature was verified with its parts.
        self.verified = False

    def add(self, value: object) -> str:
        token = base64.b64encode(_REPLY_PREFIX + secrets.token_bytes(12)).decode("ascii")
        self.values[token] = value
        _REPLIES[token] = self
        return token


# Token text -> the reply it belongs to, as long as zeep's response object holds that reply.
_REPLIES: weakref.WeakValueDictionary[str, _ReplyValues] = weakref.WeakValueDictionary()


async def _take_part(
    message: MtomMessage,
    content_id: str,
    href: str,
    spool_dir: str | None,
    spooled: type[_Spooled],
    taken: set[str],
) -> object:
    attachment = message.attachments.get(content_id)
    if attachment is None:  # a sender that percent-encoded nothing but a literal '%'
        attachment = message.attachments.get(href.strip()[4:])
    if attachment is None:
        raise MtomFormatError(f"xop:Include href {href[:200]!r} names no part of the message")
    taken.add(attachment.content_id)
    if attachment.in_memory:
        return await attachment.read()
    # A private directory: the saved part gets an ordinary file mode, the
    # directory keeps it from other users.  Same file system as the spool
    # file, so save() below is a rename, not a copy.
    directory = await anyio.to_thread.run_sync(
        functools.partial(tempfile.mkdtemp, prefix="asyncmtom-", dir=spool_dir)
    )
    spool = _SpoolFile(directory, os.path.join(directory, "part"))
    value = spooled(spool, attachment.size, attachment.content_type, attachment.content_id)
    try:
        await attachment.save(spool.path)
    except BaseException:
        spool.remove()
        raise
    return value


async def _verify_reply(message: MtomMessage) -> bool:
    """Verify a signed MTOM reply for a client whose ``wsse`` verifies (zeep's Signature).

    zeep's own ``verify`` would run on the XML it parses, where each part is a
    token: the digest is computed here instead, over the received parts
    (streamed from their spool files), before they are handed out.  False
    when the client has no signature plugin.
    """
    call = _CALL.get(None)
    plugin = _signature_plugin(call.client.wsse) if call is not None else None
    if plugin is None:
        return False
    from .wssec import SignatureError, verify_message

    try:
        await verify_message(message, plugin.cert_data)
    except SignatureError as exc:
        raise zeep.exceptions.SignatureVerificationFailed(str(exc)) from exc  # type: ignore[no-untyped-call, unused-ignore]
    return True


async def _tokenize_reply(
    message: MtomMessage, spool_dir: str | None, spooled: type[_Spooled]
) -> tuple[bytes, _ReplyValues]:
    """The root XML with a token for each part, and the values the tokens stand for.

    A client with zeep's ``Signature`` plugin has the reply verified first,
    with its parts (`_verify_reply`).
    """
    verified = await _verify_reply(message)
    root = message.root
    includes = find_includes(root)
    values = _ReplyValues()
    values.verified = verified
    tokens: dict[str, str] = {}
    taken: set[str] = set()
    for include in includes:
        if include.content_id not in tokens:
            value = await _take_part(
                message, include.content_id, include.href, spool_dir, spooled, taken
            )
            tokens[include.content_id] = values.add(value)
    unreferenced = [cid for cid in message.attachments if cid not in taken]
    if unreferenced:
        # SOAP with Attachments: parts the XML does not reference would be lost.
        raise MtomFormatError(
            f"the reply carries {len(unreferenced)} part(s) that no xop:Include references "
            f"(<{unreferenced[0][:200]}>...): read it with raw_response=True and "
            "asyncmtom.read_mtom, or with zeep's own transport (SOAP with Attachments)"
        )
    codec = inserted_text_codec(root) or "ascii"
    xml = b"".join(
        bytes(piece) if isinstance(piece, memoryview) else tokens[piece].encode(codec)
        for piece in plan_splices(root, includes)
    )
    return xml, values


def _mentions(value: object, tokens: set[str], seen: set[int]) -> bool:
    """Whether one of *tokens* appears as text anywhere in a zeep result."""
    if isinstance(value, str):
        return _REPLY_TEXT_PREFIX in value and any(token in value for token in tokens)
    if isinstance(value, (bytes, bytearray, memoryview, int, float, _Spooled)) or value is None:
        return False
    if id(value) in seen:
        return False
    seen.add(id(value))
    if hasattr(value, "iter") and hasattr(value, "attrib"):  # an lxml element
        return any(
            _mentions(text, tokens, seen)
            for element in value.iter()
            for text in (element.text, element.tail, *element.attrib.values())
        )
    children: Any = getattr(value, "__values__", None)  # a zeep CompoundValue
    if children is None:
        children = getattr(value, "value", None) if hasattr(value, "xsd_obj") else value
    if isinstance(children, Mapping):
        children = list(children.values())
    if isinstance(children, (list, tuple)):
        return any(_mentions(child, tokens, seen) for child in children)
    return False


# --- what must never reach the wire ------------------------------------------------------------


def _binary_tokens(text: str | None) -> list[str]:
    """The registered `Binary` tokens in *text* (the token of a value no longer alive is none)."""
    if not text or _TOKEN_TEXT_PREFIX not in text:
        return []
    return [token for token in _TOKEN_TEXT.findall(text) if token in _REGISTRY]


def _holds_binary(element: Any) -> bool:
    for node in element.iter():
        texts = [node.text, node.tail if node is not element else None]
        if isinstance(node.tag, str):
            texts.extend(node.attrib.values())
        if any(_binary_tokens(text) for text in texts):
            return True
    return False


def _signed_elements(envelope: Any) -> Iterator[tuple[Any, Any]]:
    """(signature, element) for each element a ``ds:Signature`` in *envelope* covers."""
    for reference in envelope.iter(f"{{{_DSIG}}}Reference"):
        signature = next(
            (a for a in reference.iterancestors() if a.tag == f"{{{_DSIG}}}Signature"), None
        )
        uri = reference.get("URI")
        if uri == "":
            yield signature, envelope
        elif uri is not None and uri.startswith("#") and len(uri) > 1:
            wanted = uri[1:]
            for element in envelope.iter():
                if not isinstance(element.tag, str):
                    continue
                for name, value in element.attrib.items():
                    if value == wanted and name.rpartition("}")[2] in ("Id", "ID", "id"):
                        yield signature, element


def _signatures_over_binary(envelope: Any) -> list[tuple[Any, Any]]:
    """(signature, element) for each signed element that holds a `Binary`."""
    return [(sig, element) for sig, element in _signed_elements(envelope) if _holds_binary(element)]


def refuse_signature_over_binary(envelope: Any) -> None:
    """Refuse an envelope whose XML signature covers an element that holds a `Binary`.

    zeep's WS-Security (``wsse=Signature(...)``, ``BinarySignature(...)``)
    signs the envelope before the transport sees it, when a `Binary` is
    still its placeholder: the digest would be over the placeholder, not the
    bytes that are sent, and a receiver (which verifies with the base64 of
    the part in place of the ``xop:Include``) rejects it.  Raises
    `ValueError` so that no such message is ever sent.  The transports do
    not call this for a signature made by zeep's ``Signature`` or
    ``BinarySignature`` plugin: they sign such a message again over the
    real bytes (`prepare_request`'s ``wsse``).
    """
    for _, element in _signatures_over_binary(envelope):
        name = element.tag.rpartition("}")[2] if isinstance(element.tag, str) else "?"
        raise ValueError(
            f"a WS-Security signature covers <{name}>, which holds a Binary: it would "
            "sign the Binary's placeholder, not the bytes sent as an MTOM part, and the "
            "receiver would reject it.  Only a signature made by zeep's Signature or "
            "BinarySignature plugin (wsse=) is signed again over the real bytes; send the "
            "value as bytes (inline base64) to sign it otherwise, or leave it unsigned"
        )


def _signature_plugin(wsse: object) -> Any:
    """The one zeep ``Signature``/``BinarySignature`` plugin in a client's ``wsse``, or None."""
    from zeep.wsse.signature import MemorySignature  # type: ignore[import-untyped, unused-ignore]

    plugins = wsse if isinstance(wsse, list) else [wsse]
    found = [plugin for plugin in plugins if isinstance(plugin, MemorySignature)]
    return found[0] if len(found) == 1 else None


def _hold_signature(envelope: Any, wsse: object) -> _HeldSignature | None:
    """The signature to make again over the parts, or None when nothing signed holds a Binary.

    Refuses (``ValueError``) what cannot be signed again: a signature not made
    by exactly one zeep ``Signature``/``BinarySignature`` plugin, or several.
    """
    covering = _signatures_over_binary(envelope)
    if not covering:
        return None
    signatures = {id(sig): sig for sig, _ in covering}
    signature = next(iter(signatures.values()))
    plugin = _signature_plugin(wsse)
    if plugin is None or len(signatures) != 1 or signature is None:
        refuse_signature_over_binary(envelope)
    try:
        from .wssec import Signer
    except ImportError as exc:  # cryptography or lxml missing
        raise ValueError(
            "a WS-Security signature covers a Binary: signing it over the MTOM part needs "
            f'the wssec extra (pip install "asyncmtom[wssec]"): {exc}'
        ) from None
    signer = Signer.from_pem(plugin.key_data, plugin.cert_data, plugin.password)
    return _HeldSignature(signature, signer)


def _refuse_placeholder(envelope: Any, transport: object) -> None:
    """Refuse an envelope holding a `Binary` that a transport not of this module would send."""
    if _REGISTRY and _holds_binary(envelope):
        raise TypeError(
            f"this zeep client's transport ({type(transport).__module__}."
            f"{type(transport).__qualname__}) would send a Binary's 27-byte placeholder "
            "instead of its data: use asyncmtom.zeep.MtomTransport with zeep.AsyncClient, "
            "or asyncmtom.zeep.SyncMtomTransport with zeep.Client"
        )


def _cut(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters cut)"


def _cut_error(error: BaseException) -> None:
    """Shorten a zeep error whose message quotes a whole document (its attributes are kept)."""
    if any(isinstance(arg, str) and len(arg) > MAX_ERROR_TEXT for arg in error.args):
        error.args = tuple(_cut(a) if isinstance(a, str) else a for a in error.args)
    message = getattr(error, "message", None)
    if isinstance(message, str) and len(message) > MAX_ERROR_TEXT:
        error.message = _cut(message)  # type: ignore[attr-defined]


# --- requests ----------------------------------------------------------------------------------


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


@dataclass
class _HeldSignature:
    """zeep's ``ds:Signature`` over placeholders: left out of the XML, signed again after."""

    element: Any
    signer: Any  # asyncmtom.wssec.Signer
    slot: int | None = None


async def _write_element(
    writer: XmlWriter,
    element: Any,
    parent_nsmap: Mapping[Any, str],
    held: _HeldSignature | None = None,
) -> int:
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
        if held is not None and child is held.element:
            held.slot = writer._serializer.mark()  # the signature goes here once it is made
        elif isinstance(child.tag, str):
            found += await _write_element(writer, child, nsmap, held)
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
    wsse: object = None,
) -> MtomRequest:
    """Write zeep's lxml *envelope* through an `XmlWriter` as an MTOM message.

    *headers* are the HTTP headers zeep made for the envelope (they give the
    SOAP action); the result keeps them, with the writer's Content-Type.
    Each element whose text is a `Binary` token gets the `Binary`'s real
    source as its binary content.  Data is not read here (except a value of
    a declared size within ``max_inline_size``, which is inlined); a file
    source must exist now.

    An envelope whose WS-Security signature covers a `Binary` was signed
    over the placeholder.  With *wsse*, the client's ``wsse`` whose zeep
    ``Signature`` or ``BinarySignature`` plugin made that signature, it is
    signed again over the real bytes (`asyncmtom.wssec.sign_prepared`: the
    parts are read once for the digests, the body reads them again to send
    them, so each must be readable twice); without one it is refused
    (`refuse_signature_over_binary`).  Either way, before anything is sent.
    """
    headers = dict(headers or {})
    soap, action = _soap_and_action(envelope, headers)
    held = _hold_signature(envelope, wsse)
    writer = XmlWriter(MtomEncoding(soap=soap, action=action, max_inline_size=max_inline_size))
    binaries = await _write_element(writer, envelope, {}, held)
    if held is not None:
        from .wssec import sign_prepared

        assert held.slot is not None
        await sign_prepared(writer, held.slot, held.element, held.signer)
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


# --- the transports ------------------------------------------------------------------------------


@dataclass
class _Call:
    """One operation call through a zeep SOAP binding: its client and the replies it read."""

    client: Any
    replies: list[_ReplyValues] = field(default_factory=list)


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("asyncmtom_zeep_call")


def _raw_response_wanted() -> bool:
    call = _CALL.get(None)
    return call is not None and bool(call.client.settings.raw_response)


def _zeep_response(
    response: httpx.Response, content: bytes, headers: httpx.Headers | None = None
) -> requests.Response:
    """The ``requests.Response`` zeep's reply processing expects (as zeep's own transports)."""
    new = requests.Response()
    new._content = content
    new.status_code = response.status_code
    new.headers = headers if headers is not None else response.headers  # type: ignore[assignment]
    new.cookies = response.cookies  # type: ignore[assignment]
    new.encoding = response.encoding
    return new


def _tokenized_response(
    response: httpx.Response, message: MtomMessage, xml: bytes, values: _ReplyValues
) -> requests.Response:
    headers = httpx.Headers(response.headers)
    for name in ("content-length", "content-encoding", "transfer-encoding"):
        if name in headers:
            del headers[name]
    headers["content-type"] = (
        f"{message.media_type or 'text/xml'}; charset={message.charset or 'utf-8'}"
    )
    new = _zeep_response(response, xml, headers)
    # zeep holds the response while it turns the XML into values: the reply's
    # tokens resolve as long as it does (the registry's references are weak).
    new.asyncmtom_values = values  # type: ignore[attr-defined]
    call = _CALL.get(None)
    if call is not None:
        call.replies.append(values)
    return new


def _read_file_url(url: str) -> bytes | None:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(url2pathname(parsed.path)).read_bytes()


class _MtomOptions:
    """What both transports share: MTOM options, the bundled schema, timeouts, requests."""

    operation_timeout: float | None

    def _set_options(
        self,
        cache: Any,
        timeout: float | None,
        operation_timeout: float | None,
        max_inline_size: int,
        always_mtom: bool,
        progress: ProgressCallback | None,
        read_options: Mapping[str, Any] | None,
    ) -> None:
        MtomEncoding(max_inline_size=max_inline_size)  # validates it now
        # The attributes zeep's own code reads (Transport.load, settings()).
        self.cache = cache
        self.load_timeout = timeout
        self.operation_timeout = operation_timeout
        self.logger = logger
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking a Progress")
        self.max_inline_size = max_inline_size
        self.always_mtom = always_mtom
        self.progress = progress
        self.read_options: dict[str, Any] = dict(read_options or {})
        spool_dir = self.read_options.get("spool_dir")
        self._spool_dir = os.fspath(spool_dir) if spool_dir is not None else None

    def load(self, url: str) -> bytes:
        """Load a WSDL or schema for zeep; the W3C xmime schema comes from `XMIME_SCHEMA`."""
        bundled = _BUNDLED.get(url)
        if bundled is not None:
            return bundled
        content: bytes = super().load(url)  # type: ignore[misc]
        return content

    def _timeout(self) -> Any:
        """``operation_timeout`` for this request, or the client's own timeout when it is None."""
        if self.operation_timeout is None:
            return httpx.USE_CLIENT_DEFAULT
        return self.operation_timeout

    async def _prepare(self, envelope: Any, headers: Mapping[str, str]) -> MtomRequest | None:
        """The MTOM request for *envelope*, or None to send it as plain XML."""
        call = _CALL.get(None)
        request = await prepare_request(
            envelope,
            headers,
            max_inline_size=self.max_inline_size,
            wsse=call.client.wsse if call is not None else None,
        )
        if not request.binaries and not self.always_mtom:
            return None
        logger.debug(
            "HTTP Post: MTOM, %d binary value(s), Content-Type %s",
            request.binaries,
            request.writer.content_type,
        )
        return request


def _zeep_user_agent(client: httpx.Client | httpx.AsyncClient) -> None:
    client.headers["User-Agent"] = _USER_AGENT


class MtomTransport(_MtomOptions, zeep.transports.AsyncTransport):  # type: ignore[misc, unused-ignore]
    """A zeep ``AsyncTransport`` for ``zeep.AsyncClient``: MTOM requests and replies.

    zeep's keyword arguments keep their meaning: ``client`` (an
    ``httpx.AsyncClient``, used as given: its headers, auth, certificates
    and proxy), ``wsdl_client`` (an ``httpx.Client`` that loads the WSDL),
    ``cache``, ``timeout`` (loading the WSDL), ``operation_timeout`` (every
    call; None leaves the client's own timeout), ``verify_ssl`` and
    ``proxy`` (for the clients made here).  Added:

    - ``max_inline_size`` (767): a `Binary` of a declared size up to this is
      inlined as base64 (as .NET does); larger or unsized ones become parts.
    - ``always_mtom`` (True): send MTOM even when the envelope holds no
      `Binary`; False sends those requests as plain XML, as zeep would.
    - ``progress``: a callable given a `Progress` for each chunk of every
      request body (``XmlWriter.body(progress=...)``); keep it quick.
    - ``read_options``: keyword arguments for `read_mtom` when a reply is
      MTOM (its limits, ``spool_threshold``, ``spool_dir``).

    A binary field that arrived as a part comes back as ``bytes`` (up to
    ``spool_threshold``) or as an `AsyncSpooledBinary`.
    """

    _close_session = False  # zeep's Transport.__del__ reads it

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        wsdl_client: httpx.Client | None = None,
        cache: Any = None,
        timeout: float | None = 300,
        operation_timeout: float | None = None,
        verify_ssl: Any = True,
        proxy: Any = None,
        max_inline_size: int = 767,
        always_mtom: bool = True,
        progress: ProgressCallback | None = None,
        read_options: Mapping[str, Any] | None = None,
    ) -> None:
        if client is not None and not isinstance(client, httpx.AsyncClient):
            raise TypeError(
                f"MtomTransport needs an httpx.AsyncClient, not {type(client).__name__}; "
                "for zeep.Client and an httpx.Client use SyncMtomTransport"
            )
        # zeep's AsyncTransport.__init__ is not called: it replaces the given
        # client's headers.
        self._set_options(
            cache, timeout, operation_timeout, max_inline_size, always_mtom, progress, read_options
        )
        self._own_wsdl_client = wsdl_client is None
        if wsdl_client is None:
            wsdl_client = httpx.Client(verify=verify_ssl, timeout=timeout, proxy=proxy)
            _zeep_user_agent(wsdl_client)
        self.wsdl_client = wsdl_client
        if client is None:
            client = httpx.AsyncClient(verify=verify_ssl, timeout=operation_timeout, proxy=proxy)
            _zeep_user_agent(client)
        self.client = client

    async def aclose(self) -> None:
        """Close the client (as zeep's ``AsyncTransport`` does) and the WSDL client made here."""
        await self.client.aclose()
        if self._own_wsdl_client:
            self.wsdl_client.close()

    def _load_remote_data(self, url: str) -> bytes:
        local = _read_file_url(url)
        if local is not None:
            return local
        content: bytes = super()._load_remote_data(url)  # type: ignore[no-untyped-call, unused-ignore]
        return content

    async def get(self, address: str, params: Any, headers: Mapping[str, str]) -> Any:
        """zeep's GET (HTTP bindings), with ``operation_timeout``."""
        response = await self.client.get(
            address, params=params, headers=headers, timeout=self._timeout()
        )
        return _zeep_response(response, response.content)

    async def post(self, address: str, message: Any, headers: Mapping[str, str]) -> Any:
        """zeep's plain POST, with ``operation_timeout``; the httpx response."""
        return await self.client.post(
            address, content=message, headers=headers, timeout=self._timeout()
        )

    async def post_xml(self, address: str, envelope: Any, headers: Mapping[str, str]) -> Any:
        """Send *envelope* as MTOM; return zeep's response object for the reply."""
        request = await self._prepare(envelope, headers)
        if request is None:
            content: Any = etree_to_string(envelope)  # type: ignore[no-untyped-call, unused-ignore]
            send_headers = dict(headers)
        else:
            content, send_headers = request.writer.body(progress=self.progress), request.headers
        http_request = self.client.build_request(
            "POST", address, content=content, headers=send_headers, timeout=self._timeout()
        )
        response = await self.client.send(http_request, stream=True)
        try:
            return await self._read_reply(response)
        finally:
            await response.aclose()

    async def _read_reply(self, response: httpx.Response) -> requests.Response:
        content_type = response.headers.get("content-type", "")
        logger.debug("HTTP Response (status: %d): %s", response.status_code, content_type)
        if _raw_response_wanted() or parse_media_type(content_type).essence != "multipart/related":
            return _zeep_response(response, await response.aread())
        async with read_mtom(content_type, response.aiter_bytes(), **self.read_options) as message:
            xml, values = await _tokenize_reply(message, self._spool_dir, AsyncSpooledBinary)
        return _tokenized_response(response, message, xml, values)


class SyncMtomTransport(_MtomOptions, zeep.transports.Transport):  # type: ignore[misc, unused-ignore]
    """A zeep ``Transport`` for the synchronous ``zeep.Client``: MTOM requests and replies.

    It sends with an ``httpx.Client``; the async writer and reader run on a
    private event loop thread for the length of each call (an anyio
    blocking portal), so `Binary` sources stream from disk with flat memory
    as with `MtomTransport`.  A push callback or async source of a `Binary`
    runs on that thread's event loop (asyncio), and so does ``progress``.

    zeep's keyword arguments keep their meaning: ``client`` (an
    ``httpx.Client``, used as given, also to load the WSDL), ``cache``,
    ``timeout`` (loading the WSDL), ``operation_timeout`` (every call; None
    leaves the client's own timeout), ``verify_ssl`` and ``proxy`` (for the
    client made here).  ``max_inline_size``, ``always_mtom``, ``progress``
    and ``read_options`` are `MtomTransport`'s.  A binary field that arrived
    as a part comes back as ``bytes`` or as a `SpooledBinary`.  ``close()``
    (``with zeep.Client(...)`` calls it) closes the client if it was made here.
    """

    _close_session = False  # zeep's Transport.__del__ reads it

    def __init__(
        self,
        *,
        client: httpx.Client | None = None,
        cache: Any = None,
        timeout: float | None = 300,
        operation_timeout: float | None = None,
        verify_ssl: Any = True,
        proxy: Any = None,
        max_inline_size: int = 767,
        always_mtom: bool = True,
        progress: ProgressCallback | None = None,
        read_options: Mapping[str, Any] | None = None,
    ) -> None:
        if client is not None and not isinstance(client, httpx.Client):
            raise TypeError(
                f"SyncMtomTransport needs an httpx.Client, not {type(client).__name__}; "
                "for zeep.AsyncClient and an httpx.AsyncClient use MtomTransport"
            )
        # zeep's Transport.__init__ is not called: it makes a requests session.
        self._set_options(
            cache, timeout, operation_timeout, max_inline_size, always_mtom, progress, read_options
        )
        self._own_client = client is None
        if client is None:
            client = httpx.Client(verify=verify_ssl, timeout=operation_timeout, proxy=proxy)
            _zeep_user_agent(client)
        self.client = client

    def close(self) -> None:
        """Close the client if it was made here."""
        if self._own_client:
            self.client.close()

    def _load_remote_data(self, url: str) -> bytes:
        local = _read_file_url(url)
        if local is not None:
            return local
        response = self.client.get(url, timeout=self.load_timeout)
        if response.is_error:
            raise zeep.exceptions.TransportError(status_code=response.status_code)  # type: ignore[no-untyped-call, unused-ignore]
        return response.content

    def get(self, address: str, params: Any, headers: Mapping[str, str]) -> Any:
        """zeep's GET (HTTP bindings), with ``operation_timeout``."""
        response = self.client.get(address, params=params, headers=headers, timeout=self._timeout())
        return _zeep_response(response, response.content)

    def post(self, address: str, message: Any, headers: Mapping[str, str]) -> Any:
        """zeep's plain POST, with ``operation_timeout``."""
        response = self.client.post(
            address, content=message, headers=headers, timeout=self._timeout()
        )
        return _zeep_response(response, response.content)

    def post_xml(self, address: str, envelope: Any, headers: Mapping[str, str]) -> Any:
        """Send *envelope* as MTOM; return zeep's response object for the reply."""
        with anyio.from_thread.start_blocking_portal() as portal:
            request = portal.call(self._prepare, envelope, headers)
            if request is None:
                message = etree_to_string(envelope)  # type: ignore[no-untyped-call, unused-ignore]
                return self.post(address, message, headers)
            body = SyncBody(request.writer.body(progress=self.progress), portal)
            with body:
                http_request = self.client.build_request(
                    "POST", address, content=body, headers=request.headers, timeout=self._timeout()
                )
                response = self.client.send(http_request, stream=True)
            try:
                return self._read_reply(response, portal)
            finally:
                response.close()

    def _read_reply(
        self, response: httpx.Response, portal: anyio.from_thread.BlockingPortal
    ) -> requests.Response:
        content_type = response.headers.get("content-type", "")
        logger.debug("HTTP Response (status: %d): %s", response.status_code, content_type)
        if _raw_response_wanted() or parse_media_type(content_type).essence != "multipart/related":
            return _zeep_response(response, response.read())
        xml, values, message = portal.call(self._read_mtom, content_type, response.iter_bytes())
        return _tokenized_response(response, message, xml, values)

    async def _read_mtom(
        self, content_type: str, chunks: Iterator[bytes]
    ) -> tuple[bytes, _ReplyValues, MtomMessage]:
        async with read_mtom(content_type, _batches(chunks), **self.read_options) as message:
            xml, values = await _tokenize_reply(message, self._spool_dir, SpooledBinary)
        return xml, values, message


def _next_batch(chunks: Iterator[bytes]) -> list[bytes]:
    batch: list[bytes] = []
    size = 0
    for chunk in chunks:
        batch.append(chunk)
        size += len(chunk)
        if size >= _SYNC_BATCH:
            break
    return batch


async def _batches(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The sync client's reply as an async source: a worker thread reads ~1 MiB at a time."""
    while batch := await anyio.to_thread.run_sync(_next_batch, chunks):
        for chunk in batch:
            yield chunk


_TRANSPORTS = (MtomTransport, SyncMtomTransport)


# --- hooks into zeep, installed once on import -------------------------------------------


@contextmanager
def _calling(client: Any) -> Iterator[_Call]:
    call = _Call(client)
    reset = _CALL.set(call)
    try:
        yield call
    except zeep.exceptions.Error as error:
        if isinstance(client.transport, _TRANSPORTS):
            _cut_error(error)
        raise
    finally:
        _CALL.reset(reset)


def _check_delivered(call: _Call, result: object) -> None:
    """Refuse a reply whose part landed in a field zeep did not decode as base64Binary."""
    tokens: set[str] = set()
    for values in call.replies:
        tokens.update(values.values)
    if tokens and _mentions(result, tokens, set()):
        raise MtomFormatError(
            "the reply references an MTOM part (xop:Include) from a field that the WSDL "
            "does not type as xs:base64Binary, so zeep cannot hand it over as data; read "
            "such a reply with raw_response=True and asyncmtom.read_mtom"
        )


def _install_hooks() -> None:
    binding: Any = zeep.wsdl.bindings.soap.SoapBinding
    if getattr(binding, "_asyncmtom_hooks", False):
        return
    binding._asyncmtom_hooks = True
    send, send_async, create = binding.send, binding.send_async, binding._create

    @functools.wraps(send)
    def hooked_send(self: Any, client: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(client.transport, MtomTransport):
            raise TypeError(
                "MtomTransport serves zeep.AsyncClient; the synchronous zeep.Client needs "
                "asyncmtom.zeep.SyncMtomTransport"
            )
        with _calling(client) as call:
            result = send(self, client, options, *args, **kwargs)
            _check_delivered(call, result)
            return result

    @functools.wraps(send_async)
    async def hooked_send_async(
        self: Any, client: Any, options: Any, *args: Any, **kwargs: Any
    ) -> Any:
        if isinstance(client.transport, SyncMtomTransport):
            raise TypeError(
                "SyncMtomTransport serves the synchronous zeep.Client; zeep.AsyncClient needs "
                "asyncmtom.zeep.MtomTransport"
            )
        with _calling(client) as call:
            result = await send_async(self, client, options, *args, **kwargs)
            _check_delivered(call, result)
            return result

    @functools.wraps(create)
    def hooked_create(
        self: Any, operation: Any, args: Any, kwargs: Any, client: Any = None, options: Any = None
    ) -> Any:
        envelope, headers = create(self, operation, args, kwargs, client=client, options=options)
        call = _CALL.get(None)
        if (
            call is not None
            and client is not None
            and call.client is client
            and not isinstance(client.transport, _TRANSPORTS)
        ):
            _refuse_placeholder(envelope, client.transport)
        return envelope, headers

    binding.send, binding.send_async, binding._create = (
        hooked_send,
        hooked_send_async,
        hooked_create,
    )

    base64_type: Any = zeep.xsd.types.builtins.Base64Binary
    pythonvalue = base64_type.pythonvalue

    @functools.wraps(pythonvalue)
    def hooked_pythonvalue(self: Any, value: Any) -> Any:
        if isinstance(value, str) and _REPLY_TEXT_PREFIX in value[:100]:
            token = value.strip()
            values = _REPLIES.get(token)
            if values is not None:
                return values.values[token]
        return pythonvalue(self, value)

    base64_type.pythonvalue = hooked_pythonvalue

    signature_type: Any = zeep.wsse.signature.MemorySignature
    verify = signature_type.verify

    @functools.wraps(verify)
    def hooked_verify(self: Any, envelope: Any) -> Any:
        # A reply whose parts stand as tokens in zeep's document was verified
        # with the parts themselves when it was read; zeep would digest tokens.
        for text in envelope.itertext():
            if _REPLY_TEXT_PREFIX in text[:100]:
                values = _REPLIES.get(text.strip())
                if values is not None:
                    if not values.verified:
                        raise zeep.exceptions.SignatureVerificationFailed()  # type: ignore[no-untyped-call, unused-ignore]
                    return envelope
        return verify(self, envelope)

    signature_type.verify = hooked_verify

    async_client: Any = zeep.client.AsyncClient
    create_service = async_client.create_service

    @functools.wraps(create_service)
    def hooked_create_service(self: Any, binding_name: str, address: str) -> Any:
        proxy = create_service(self, binding_name, address)
        if isinstance(self.transport, MtomTransport):
            return zeep.proxy.AsyncServiceProxy(self, proxy._binding, **proxy._binding_options)  # type: ignore[no-untyped-call, unused-ignore]
        return proxy

    async_client.create_service = hooked_create_service


_install_hooks()
