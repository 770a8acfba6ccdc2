"""`MtomTransport`: zeep's ``AsyncTransport`` sending MTOM over ``httpx``.

The transport overrides ``post_xml(address, envelope, headers)``, the one
place zeep hands the envelope to a transport: the envelope is replayed into an
`XmlWriter` (`._request`), its body streamed by httpx, and a
``multipart/related`` reply read with `asyncmtom.read_mtom` and tokenized for
zeep (`._replies`).  The options shared with the sync transport (timeouts,
``always_mtom``, the bundled xmime schema, the reader's limits) live in
`_MtomOptions`, and two functions serve both: `_check_client` refuses the
other kind of httpx client, naming the transport that takes it; `_zeep_client`
makes a missing client with zeep's settings.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse
from urllib.request import url2pathname

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

from .._core.encoding import MtomEncoding
from .._core.related import parse_media_type
from .._message import MtomMessage, read_mtom
from .._progress import ProgressCallback
from ._replies import _CALL, AsyncSpooledBinary, _raw_response_wanted, _ReplyValues, _tokenize_reply
from ._request import MtomRequest, prepare_request
from ._schema import BUNDLED

logger = logging.getLogger(__name__)


_USER_AGENT = f"Zeep/{zeep.__version__} (www.python-zeep.org)"
#: Longest error message text kept from zeep (whose messages may quote a whole reply).
MAX_ERROR_TEXT = 2000

_HttpClient = TypeVar("_HttpClient", httpx.Client, httpx.AsyncClient)
#: The transport that sends with each kind of httpx client, named when the other is given.
_TRANSPORT_FOR = {httpx.AsyncClient: "MtomTransport", httpx.Client: "SyncMtomTransport"}


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
        """Check and keep the options (zeep's own ``__init__`` is not called)."""
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
        bundled = BUNDLED.get(url)
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


def _check_client(client: object, kind: type[httpx.Client | httpx.AsyncClient]) -> None:
    """Refuse an httpx client of the other kind, naming the transport that takes it."""
    if client is None or isinstance(client, kind):
        return
    other = httpx.Client if kind is httpx.AsyncClient else httpx.AsyncClient
    raise TypeError(
        f"{_TRANSPORT_FOR[kind]} needs an httpx.{kind.__name__}, not {type(client).__name__}; "
        f"for zeep.{other.__name__} and an httpx.{other.__name__} use {_TRANSPORT_FOR[other]}"
    )


def _zeep_client(
    kind: type[_HttpClient], verify_ssl: Any, timeout: float | None, proxy: Any
) -> _HttpClient:
    """An httpx client made with zeep's settings, for a transport given none."""
    client = kind(verify=verify_ssl, timeout=timeout, proxy=proxy)
    client.headers["User-Agent"] = _USER_AGENT
    return client


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
        _check_client(client, httpx.AsyncClient)
        # zeep's AsyncTransport.__init__ is not called: it replaces the given
        # client's headers.
        self._set_options(
            cache, timeout, operation_timeout, max_inline_size, always_mtom, progress, read_options
        )
        self._own_wsdl_client = wsdl_client is None
        if wsdl_client is None:
            wsdl_client = _zeep_client(httpx.Client, verify_ssl, timeout, proxy)
        self.wsdl_client = wsdl_client
        if client is None:
            client = _zeep_client(httpx.AsyncClient, verify_ssl, operation_timeout, proxy)
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
