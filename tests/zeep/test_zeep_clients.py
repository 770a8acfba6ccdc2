"""asyncmtom.zeep with both zeep clients: replies as part-backed values, settings, refusals.

Each test runs the synchronous ``zeep.Client`` with `SyncMtomTransport` and
``zeep.AsyncClient`` with `MtomTransport` alike where both apply; an httpx
mock transport (no socket) receives each request, which the standard
library's ``email`` parser decodes, and answers an MTOM reply laid out by
hand as Metro sends one (the service, the endpoint and the runner are in
tests/helpers/zeepservice.py).  The real peer is in tests/interop/test_zeep_metro.py.
"""

from __future__ import annotations

import base64
import gc
import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mtomcheck import decode_with_email

from asyncmtom import MtomFormatError

zeep = pytest.importorskip("zeep")
etree = pytest.importorskip("lxml.etree")
from zeepservice import (  # noqa: E402
    KINDS,
    NS,
    REPLY_TYPE,
    SOAP12,
    XOP,
    Clients,
    Server,
    download_answer,
    mtom_reply,
    upload_reply,
    write_wsdl,
)

from asyncmtom.zeep import (  # noqa: E402
    AsyncSpooledBinary,
    Binary,
    MtomTransport,
    SpooledBinary,
    SyncMtomTransport,
    refuse_signature_over_binary,
)

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


@pytest.fixture
def wsdl(tmp_path: Path) -> str:
    return write_wsdl(tmp_path)


# --- uploads ----------------------------------------------------------------------------------


@KINDS
def test_upload_every_kind_of_source(kind: str, wsdl: str, tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(bytes(range(256)) * 4000)

    async def chunks() -> Any:
        for i in range(3):
            yield bytes([i]) * 70_000

    for value, expected in [
        (Binary(path), path.read_bytes()),
        (Binary(b"m" * 5000), b"m" * 5000),
        (Binary(chunks()), b"".join(bytes([i]) * 70_000 for i in range(3))),
        (Binary(b""), b""),
    ]:
        server = Server()
        assert Clients(kind, wsdl, server).call("Upload", name="x", data=value) == len(expected)
        assert server.values == [expected]
        content_type = server.requests[0].headers["content-type"]
        assert content_type.startswith("multipart/related;")


# --- downloads --------------------------------------------------------------------------------


@KINDS
def test_download_values_backed_by_the_parts(kind: str, wsdl: str, tmp_path: Path) -> None:
    small, large = b"\r\nsmall\r\n", os.urandom(2 * 1024 * 1024 + 3)
    server = Server(download_answer([small, large, b""]))
    spool = tmp_path / "spool"
    spool.mkdir()
    clients = Clients(kind, wsdl, server, read_options={"spool_dir": spool})
    result = clients.call("Download", size=3)
    first, second, empty = result.data
    assert first == small and empty == b""  # in memory: plain bytes, CR/LF kept
    spooled = SpooledBinary if kind == "sync" else AsyncSpooledBinary
    assert isinstance(second, spooled)
    assert (len(second), second.content_type) == (len(large), "application/pdf")
    assert bytes(second) == large
    with second.open() as file:
        assert file.read(10) == large[:10]
    temporary = second.path
    assert temporary.is_file() and temporary.parent.parent == spool
    assert result.note == "ok"
    # the value owns its file: it goes when the value goes
    del result, first, second, empty
    gc.collect()
    assert not temporary.exists() and list(spool.iterdir()) == []


@KINDS
def test_download_save_moves_the_spooled_file(kind: str, wsdl: str, tmp_path: Path) -> None:
    large = os.urandom(1024 * 1024 + 1)
    server = Server(download_answer([large]))
    result = Clients(kind, wsdl, server).call("Download", size=1)
    [value] = result.data
    temporary = value.path
    target = tmp_path / "saved.pdf"
    if kind == "sync":
        assert value.save(target) == target
    else:
        assert anyio.run(value.save, target) == target
    assert not temporary.exists() and target.read_bytes() == large
    assert value.path == target and bytes(value) == large
    copy = tmp_path / "copy.pdf"
    if kind == "sync":
        value.save(copy)
    else:
        anyio.run(value.save, copy)
    assert copy.read_bytes() == large
    del value, result
    gc.collect()
    assert target.read_bytes() == large  # a saved file is the caller's


@KINDS
def test_reply_part_in_a_string_field_is_refused(kind: str, wsdl: str) -> None:
    server = Server(download_answer([b"data"], note_include=True))
    with pytest.raises(MtomFormatError, match="base64Binary"):
        Clients(kind, wsdl, server).call("Download", size=1)


@KINDS
def test_reply_part_no_include_references_is_refused(kind: str, wsdl: str) -> None:
    """SOAP with Attachments: a part the XML does not reference would be lost, so it fails."""

    def answer(request: httpx.Request) -> httpx.Response:
        include = f'<xop:Include xmlns:xop="{XOP}" href="cid:p0@example.org"/>'.encode()
        body = mtom_reply([b"data", b"extra"]).replace(include, b"ZGF0YQ==")
        return httpx.Response(200, headers={"Content-Type": REPLY_TYPE}, content=body)

    with pytest.raises(MtomFormatError, match="no xop:Include references"):
        Clients(kind, wsdl, Server(answer)).call("Download", size=1)


@KINDS
def test_raw_response_is_the_reply_as_received(kind: str, wsdl: str) -> None:
    body = mtom_reply([b"raw data"])
    server = Server(download_answer([b"raw data"]))
    settings = zeep.Settings(raw_response=True)
    response = Clients(kind, wsdl, server, zeep_options={"settings": settings}).call(
        "Download", size=1
    )
    assert response.content == body
    assert response.headers["content-type"] == REPLY_TYPE


@KINDS
def test_error_messages_are_cut(kind: str, wsdl: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = b"<s:Envelope " + b"x" * 100_000  # not well-formed: zeep quotes it all
        return httpx.Response(200, headers={"Content-Type": "application/soap+xml"}, content=body)

    with pytest.raises(zeep.exceptions.Error) as caught:
        Clients(kind, wsdl, Server(answer)).call("Download", size=1)
    assert len(str(caught.value)) < 2200 and "characters cut" in str(caught.value)


@KINDS
def test_always_mtom_false_sends_plain_xml_without_a_binary(kind: str, wsdl: str) -> None:
    server = Server(lambda request: upload_reply(3))
    clients = Clients(kind, wsdl, server, always_mtom=False, operation_timeout=5)
    assert clients.call("Upload", name="x", data=b"abc") == 3
    [request] = server.requests
    assert request.headers["content-type"].startswith("application/soap+xml")
    assert etree.fromstring(request.content).find(f".//{{{NS}}}data").text == "YWJj"
    assert request.extensions["timeout"]["read"] == 5
    # with a Binary, MTOM all the same
    server = Server()
    clients = Clients(kind, wsdl, server, always_mtom=False)
    assert clients.call("Upload", name="x", data=Binary(b"abc")) == 3
    assert server.requests[0].headers["content-type"].startswith("multipart/related;")


# --- the wrong transport, the placeholder ---------------------------------------------------


def test_mtom_transport_with_the_sync_client_is_refused(wsdl: str) -> None:
    server = Server()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.async_handler))
    client = zeep.Client(wsdl, transport=MtomTransport(client=http))
    with pytest.raises(TypeError, match="SyncMtomTransport"):
        client.service.Upload(name="x", data=Binary(b"abc"))
    assert server.requests == []


def test_sync_transport_with_the_async_client_is_refused(wsdl: str) -> None:
    server = Server()
    http = httpx.Client(transport=httpx.MockTransport(server.sync_handler))
    client = zeep.AsyncClient(wsdl, transport=SyncMtomTransport(client=http))
    with pytest.raises(TypeError, match="MtomTransport"):
        anyio.run(lambda: client.service.Upload(name="x", data=Binary(b"abc")))
    assert server.requests == []


def test_transports_refuse_the_other_kind_of_http_client() -> None:
    with pytest.raises(TypeError, match="SyncMtomTransport"):
        MtomTransport(client=httpx.Client())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="MtomTransport"):
        SyncMtomTransport(client=httpx.AsyncClient())  # type: ignore[arg-type]


def test_zeeps_own_transport_never_sends_the_placeholder(wsdl: str) -> None:
    sent: list[bytes] = []

    class Recording(zeep.transports.Transport):  # type: ignore[misc]
        def post(self, address: str, message: bytes, headers: dict[str, str]) -> Any:
            sent.append(message)
            raise AssertionError("sent")

    client = zeep.Client(wsdl, transport=Recording())
    with pytest.raises(TypeError, match="placeholder"):
        client.service.Upload(name="x", data=Binary(b"abc"))
    assert sent == []
    # a message without a Binary is none of this module's business
    with pytest.raises(AssertionError, match="sent"):
        client.service.Upload(name="x", data=b"abc")


def test_zeeps_async_transport_never_sends_the_placeholder(wsdl: str) -> None:
    server = Server()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.async_handler))
    client = zeep.AsyncClient(wsdl, transport=zeep.transports.AsyncTransport(client=http))

    async def run() -> None:
        await client.service.Upload(name="x", data=Binary(b"abc"))

    with pytest.raises(TypeError, match="MtomTransport"):
        anyio.run(run)
    assert server.requests == []


@KINDS
@pytest.mark.parametrize(
    ("field", "error"),
    [
        ("stamp", "attribute"),  # an attribute
        ("blobs", "expected str"),  # an xsd:list: zeep joins str only
        # a string or hexBinary field: lxml refuses the token's NUL byte (or its bytes)
        ("label", "XML compatible|can't decode"),
        ("hex", "XML compatible|can't decode"),
    ],
)
def test_binary_in_the_wrong_place_is_refused(kind: str, wsdl: str, field: str, error: str) -> None:
    server = Server()
    value: object = [Binary(b"a"), Binary(b"b")] if field == "blobs" else Binary(b"abc")
    with pytest.raises((TypeError, ValueError), match=error):
        Clients(kind, wsdl, server).call("Upload", name="x", **{field: value})
    assert server.requests == []


@KINDS
def test_digest_auth_sends_the_body_again(kind: str, wsdl: str, tmp_path: Path) -> None:
    """httpx's DigestAuth answers a 401 by sending the request again: the whole message."""
    path = tmp_path / "scan.pdf"
    path.write_bytes(os.urandom(200_000))
    server = Server()
    handle = server.handle

    def challenge(request: httpx.Request, body: bytes) -> httpx.Response:
        if "authorization" not in request.headers:
            server.requests.append(request)
            return httpx.Response(
                401, headers={"WWW-Authenticate": 'Digest realm="r", nonce="n0", qop="auth"'}
            )
        assert request.headers["authorization"].startswith("Digest ")
        return handle(request, body)

    server.handle = challenge  # type: ignore[method-assign]
    clients = Clients(kind, wsdl, server, client_options={"auth": httpx.DigestAuth("u", "p")})
    assert clients.call("Upload", name="x", data=Binary(path)) == 200_000
    assert server.values == [path.read_bytes()]
    first, second = server.requests
    assert first.headers["content-length"] == second.headers["content-length"]


def test_proxy_option_sends_through_the_proxy(wsdl: str) -> None:
    """``proxy=`` reaches the HTTP clients the transports make (absolute-form requests)."""
    from httpserver import serve

    async def run() -> list[Any]:
        async with serve() as proxy:
            url = proxy.url.rsplit("/", 1)[0]
            transport = MtomTransport(proxy=url)
            async with zeep.AsyncClient(wsdl, transport=transport) as client:
                with pytest.raises(zeep.exceptions.Error):  # the proxy answers <ok/>
                    await client.service.Upload(name="x", data=Binary(b"p" * 1000))

            def sync_call() -> None:
                with zeep.Client(wsdl, transport=SyncMtomTransport(proxy=url)) as client:
                    with pytest.raises(zeep.exceptions.Error):
                        client.service.Upload(name="x", data=Binary(b"p" * 1000))

            await anyio.to_thread.run_sync(sync_call)
            return proxy.requests

    requests = anyio.run(run)
    assert [r.path for r in requests] == ["http://127.0.0.1:9/documents"] * 2
    for request in requests:
        decoded = decode_with_email(request.headers["content-type"], request.body)
        assert [data for _, data in decoded.parts.values()] == [b"p" * 1000]


# --- settings --------------------------------------------------------------------------------


@KINDS
def test_zeep_settings_and_the_clients_own(kind: str, wsdl: str) -> None:
    server = Server()
    clients = Clients(
        kind,
        wsdl,
        server,
        operation_timeout=7,
        client_options={"headers": {"X-Tenant": "t1"}, "auth": httpx.BasicAuth("u", "p")},
        zeep_options={"settings": zeep.Settings(extra_http_headers={"X-Trace": "abc"})},
    )
    assert clients.call("Upload", name="x", data=Binary(b"d" * 2000)) == 2000
    request = server.requests[0]
    assert request.headers["x-tenant"] == "t1"  # the given client's default headers
    assert request.headers["x-trace"] == "abc"  # zeep's extra_http_headers
    assert request.headers["authorization"] == "Basic dTpw"
    assert request.extensions["timeout"]["read"] == 7  # operation_timeout, with client=


@KINDS
def test_transport_settings_timeout(kind: str, wsdl: str) -> None:
    server = Server()
    clients = Clients(kind, wsdl, server)
    client = clients.make()
    with clients.transport.settings(timeout=3):
        if kind == "sync":
            client.service.Upload(name="x", data=Binary(b"abc"))
        else:
            anyio.run(lambda: client.service.Upload(name="x", data=Binary(b"abc")))
    assert server.requests[0].extensions["timeout"]["read"] == 3
    assert clients.transport.operation_timeout is None


@KINDS
def test_plugins_see_the_placeholders(kind: str, wsdl: str) -> None:
    seen: dict[str, str] = {}

    class Plugin(zeep.Plugin):  # type: ignore[misc]
        def egress(self, envelope: Any, http_headers: Any, operation: Any, options: Any) -> Any:
            data = envelope.find(f".//{{{NS}}}data")
            if data is not None:
                seen["out"] = data.text
            return envelope, http_headers

        def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
            data = envelope.find(f".//{{{NS}}}data")
            if data is not None:
                seen["in"] = data.text
            return envelope, http_headers

    value = Binary(b"x" * 1000)
    server = Server()
    Clients(kind, wsdl, server, zeep_options={"plugins": [Plugin()]}).call(
        "Upload", name="x", data=value
    )
    assert seen["out"] == value.token
    server = Server(download_answer([b"y" * 1000]))
    result = Clients(kind, wsdl, server, zeep_options={"plugins": [Plugin()]}).call(
        "Download", size=1
    )
    assert result.data == [b"y" * 1000]
    assert len(seen["in"]) == 36 and base64.b64decode(seen["in"]) != b"y" * 1000


def test_clients_made_by_the_transports_are_closed(wsdl: str) -> None:
    sync = SyncMtomTransport()
    with zeep.Client(wsdl, transport=sync):
        pass
    assert sync.client.is_closed
    given = httpx.Client()
    with zeep.Client(wsdl, transport=SyncMtomTransport(client=given)):
        pass
    assert not given.is_closed  # as zeep's Transport with a session of the caller's
    given.close()

    transport = MtomTransport()

    async def run() -> None:
        async with zeep.AsyncClient(wsdl, transport=transport):
            pass

    anyio.run(run)
    assert transport.client.is_closed and transport.wsdl_client.is_closed


def test_no_resource_warning_after_a_call_with_either_client(wsdl: str) -> None:
    """The clients and streams a call opens are closed: nothing is left for the collector."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for kind in ("sync", "async"):
            server = Server(download_answer([os.urandom(2 * 1024 * 1024)]))
            value = Clients(kind, wsdl, server).call("Download", size=1).data[0]
            assert len(value) == 2 * 1024 * 1024
            del value
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_async_create_service_gives_an_async_proxy(wsdl: str) -> None:
    server = Server()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server.async_handler))
    client = zeep.AsyncClient(wsdl, transport=MtomTransport(client=http))
    service = client.create_service(f"{{{NS}}}DocumentsBinding", "http://127.0.0.1:9/other")

    async def run() -> Any:
        async with client:
            return await service.Upload(name="x", data=Binary(b"abc"))

    assert anyio.run(run) == 3
    assert str(server.requests[0].url) == "http://127.0.0.1:9/other"


# --- WS-Security --------------------------------------------------------------------------------


class FakeSignature:
    """Signs the way zeep's Signature lays a signature out (wsu:Id on Body, ds:Reference)."""

    def apply(self, envelope: Any, headers: Any) -> Any:
        body = envelope.find(f"{{{SOAP12}}}Body")
        body.set(f"{{{WSU}}}Id", "id-body")
        header = envelope.find(f"{{{SOAP12}}}Header")
        if header is None:
            header = etree.Element(f"{{{SOAP12}}}Header")
            envelope.insert(0, header)
        security = etree.SubElement(header, f"{{{WSSE}}}Security")
        signature = etree.SubElement(security, f"{{{DSIG}}}Signature")
        info = etree.SubElement(signature, f"{{{DSIG}}}SignedInfo")
        etree.SubElement(info, f"{{{DSIG}}}Reference", URI="#id-body")
        return envelope, headers

    def verify(self, envelope: Any) -> Any:
        return envelope


@KINDS
def test_signature_over_a_binary_is_refused(kind: str, wsdl: str) -> None:
    server = Server()
    clients = Clients(kind, wsdl, server, zeep_options={"wsse": FakeSignature()})
    with pytest.raises(ValueError, match="signature covers <Body>"):
        clients.call("Upload", name="x", data=Binary(b"z" * 5000))
    assert server.requests == []
    # signed without a Binary: sent
    assert clients.call("Upload", name="x", data=b"z" * 5000) == 5000


def test_refuse_signature_over_binary_follows_the_references() -> None:
    value = Binary(b"abc")
    tree = etree.fromstring(
        f'<s:Envelope xmlns:s="{SOAP12}" xmlns:ds="{DSIG}" xmlns:wsu="{WSU}"><s:Header>'
        '<ds:Signature><ds:Reference URI="#ts"/></ds:Signature>'
        '<wsu:Timestamp wsu:Id="ts"/></s:Header>'
        f'<s:Body wsu:Id="b"><x>{value.token}</x></s:Body></s:Envelope>'
    )
    refuse_signature_over_binary(tree)  # only the timestamp is signed
    tree.find(f".//{{{DSIG}}}Reference").set("URI", "")  # the whole document
    with pytest.raises(ValueError, match="Envelope"):
        refuse_signature_over_binary(tree)


@KINDS
def test_username_token_is_sent(kind: str, wsdl: str) -> None:
    from zeep.wsse.username import UsernameToken

    server = Server()
    clients = Clients(kind, wsdl, server, zeep_options={"wsse": UsernameToken("alice", "secret")})
    assert clients.call("Upload", name="x", data=Binary(b"q" * 3000)) == 3000
    request = server.requests[0]
    decoded = decode_with_email(request.headers["content-type"], request.content)
    root = etree.fromstring(decoded.root)
    assert root.find(f".//{{{WSSE}}}Username").text == "alice"
    assert root.find(f".//{{{WSSE}}}Password").text == "secret"


# --- TLS with a client certificate -----------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make test certificates")
    d = tmp_path_factory.mktemp("tls")
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", *extra, cwd=d)  # fmt: skip
    return d


def test_tls_client_certificate_of_the_given_client(wsdl: str, tls_files: Path) -> None:
    """The given client's TLS settings (CA, client certificate) carry the MTOM request."""
    from anyio.streams.tls import TLSListener
    from httpserver import Server as Recorder
    from httpserver import _handle

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tls_files / "server.pem", tls_files / "server.key")
    server_context.load_verify_locations(tls_files / "ca.pem")
    server_context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no request
    client_context = ssl.create_default_context(cafile=str(tls_files / "ca.pem"))
    client_context.load_cert_chain(tls_files / "client.pem", tls_files / "client.key")

    async def run() -> Recorder:
        tcp = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = tcp.extra(anyio.abc.SocketAttribute.local_port)
        recorder = Recorder(url=f"https://127.0.0.1:{port}/documents")
        listener = TLSListener(tcp, server_context, standard_compatible=False)
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, lambda stream: _handle(stream, recorder))
            service_address = recorder.url
            http = httpx.AsyncClient(verify=client_context)
            async with zeep.AsyncClient(wsdl, transport=MtomTransport(client=http)) as client:
                service = client.create_service(f"{{{NS}}}DocumentsBinding", service_address)
                with pytest.raises(zeep.exceptions.Error):  # the server answers <ok/>
                    await service.Upload(name="x", data=Binary(b"t" * 1000))

            def sync_call() -> None:
                transport = SyncMtomTransport(verify_ssl=client_context)
                with zeep.Client(wsdl, transport=transport) as client:
                    service = client.create_service(f"{{{NS}}}DocumentsBinding", service_address)
                    with pytest.raises(zeep.exceptions.Error):
                        service.Upload(name="x", data=Binary(b"t" * 1000))

            await anyio.to_thread.run_sync(sync_call)
            tg.cancel_scope.cancel()
        return recorder

    recorder = anyio.run(run)
    assert len(recorder.requests) == 2
    for request in recorder.requests:
        decoded = decode_with_email(request.headers["content-type"], request.body)
        assert [data for _, data in decoded.parts.values()] == [b"t" * 1000]
