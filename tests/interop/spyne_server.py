"""spyne as a Python SOAP peer: the ``upload`` and ``uploadMany`` operations.

Run by the interop fixtures in a subprocess: it serves the same service as the
Metro one (namespace ``urn:asyncmtom:interop``) with spyne's SOAP 1.1 protocol
at ``/soap11`` and SOAP 1.2 at ``/soap12``, under the standard library's
wsgiref server on 127.0.0.1, prints ``READY <port>`` and serves until its
standard input closes.

spyne accepts MTOM (``multipart/related``) requests by folding every part back
into the XML as base64 before it parses the envelope (``collapse_swa``): the
whole message is held in memory, several times over.  It needs, for large
payloads, ``huge_tree`` (lxml refuses text nodes over 10 MB otherwise) and a
raised ``max_content_length`` (2 MiB by default); it cannot read a chunked
request body (wsgiref does not de-chunk), and its MTOM path refuses a root part
that starts with an XML declaration.

Usage: ``python spyne_server.py [port]``.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from spyne import Application, ByteArray, ComplexModel, Integer, ServiceBase, Unicode, rpc
from spyne.model.complex import Array
from spyne.protocol.soap import Soap11, Soap12
from spyne.server.wsgi import WsgiApplication

NS = "urn:asyncmtom:interop"
MAX_CONTENT_LENGTH = 2 * 1024**3


class Digest(ComplexModel):
    __namespace__ = NS
    __type_name__ = "digest"
    name = Unicode
    size = Integer
    sha256 = Unicode


def _digest(name: str, chunks: list[bytes] | None) -> Digest:
    h = hashlib.sha256()
    size = 0
    for chunk in chunks or ():
        h.update(chunk)
        size += len(chunk)
    return Digest(name=name, size=size, sha256=h.hexdigest())


class InteropService(ServiceBase):
    @rpc(Unicode, ByteArray, _returns=Digest, _body_style="wrapped")
    def upload(ctx, name, data):  # type: ignore[no-untyped-def]
        return _digest(name, data)

    @rpc(
        Unicode,
        ByteArray.customize(max_occurs="unbounded"),
        _returns=Array(Digest),
        _body_style="wrapped",
    )
    def uploadMany(ctx, name, data):  # type: ignore[no-untyped-def]
        return [_digest(f"{name}[{i}]", d) for i, d in enumerate(data or [])]


def application(soap: type) -> WsgiApplication:
    app = Application(
        [InteropService],
        tns=NS,
        name="InteropService",
        in_protocol=soap(huge_tree=True),
        out_protocol=soap(),
    )
    return WsgiApplication(app, max_content_length=MAX_CONTENT_LENGTH)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    apps = {"/soap11": application(Soap11), "/soap12": application(Soap12)}

    def dispatch(environ, start_response):  # type: ignore[no-untyped-def]
        app = apps.get(environ.get("PATH_INFO", ""))
        if app is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        return app(environ, start_response)

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = make_server("127.0.0.1", port, dispatch, WSGIServer, QuietHandler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    ).start()
    print(f"READY {server.server_address[1]}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.shutdown()


if __name__ == "__main__":
    main()
