"""The zeep functions this package wraps, once, at import.

SOAP bindings' ``send`` and ``send_async`` (the wrong transport for the kind
of client raises `TypeError` before anything is sent; error messages are cut
to a readable length; ``raw_response`` is known to the transport), the
bindings' ``_create`` (an envelope holding a `Binary` about to be sent by any
other transport raises `TypeError`), the ``xs:base64Binary`` decoder (reply
tokens become part-backed values), the signature plugins' ``verify`` (a reply
whose parts were verified as it was read) and ``AsyncClient.create_service``
(an async proxy for `MtomTransport`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import zeep.client  # type: ignore[import-untyped, unused-ignore]
import zeep.exceptions  # type: ignore[import-untyped, unused-ignore]
import zeep.proxy  # type: ignore[import-untyped, unused-ignore]
import zeep.transports  # type: ignore[import-untyped, unused-ignore]
import zeep.wsdl.bindings.soap  # type: ignore[import-untyped, unused-ignore]
import zeep.wsse.signature  # type: ignore[import-untyped, unused-ignore]
import zeep.xsd.types.builtins  # type: ignore[import-untyped, unused-ignore]

from .._errors import MtomFormatError
from ._replies import _CALL, _REPLIES, _REPLY_TEXT_PREFIX, _Call, _mentions
from ._sync_transport import SyncMtomTransport
from ._transport import MtomTransport, _cut_error
from ._wsse import _refuse_placeholder

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


def install_hooks() -> None:
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
