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
around it) raises `ValueError`; in an ``xs:list``, a ``string`` or a
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

from ._binary import Binary
from ._hooks import install_hooks
from ._replies import AsyncSpooledBinary, SpooledBinary
from ._request import MtomRequest, prepare_request
from ._schema import XMIME_SCHEMA
from ._sync_transport import SyncMtomTransport
from ._transport import MtomTransport
from ._wsse import refuse_signature_over_binary

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

install_hooks()
