"""`SyncMtomTransport`: zeep's synchronous ``Transport`` sending MTOM.

It sends with an ``httpx.Client``; the writer and the reader, which are
async, run for the length of one call on a private event loop thread (an
anyio blocking portal): the request body is an `asyncmtom.SyncBody` pulled
chunk by chunk by httpx, and the reply is fed to the reader in batches of
about 1 MiB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

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

from .._core.related import parse_media_type
from .._message import MtomMessage, read_mtom
from .._progress import ProgressCallback
from .._sync import SyncBody
from ._replies import SpooledBinary, _raw_response_wanted, _ReplyValues, _tokenize_reply
from ._transport import (
    _check_client,
    _MtomOptions,
    _read_file_url,
    _tokenized_response,
    _zeep_client,
    _zeep_response,
    logger,
)

#: Bytes of the reply handed at a time from the client's thread to the reader.
_SYNC_BATCH = 1024 * 1024


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
        _check_client(client, httpx.Client)
        # zeep's Transport.__init__ is not called: it makes a requests session.
        self._set_options(
            cache, timeout, operation_timeout, max_inline_size, always_mtom, progress, read_options
        )
        self._own_client = client is None
        if client is None:
            client = _zeep_client(httpx.Client, verify_ssl, operation_timeout, proxy)
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
