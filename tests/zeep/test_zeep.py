"""asyncmtom.zeep: zeep's AsyncClient sends MTOM and reads MTOM replies.

zeep builds every request from a WSDL; an httpx mock transport (no socket)
receives the body, which the standard library's ``email`` parser decodes
(tests/helpers/mtomcheck.py), and answers either plain SOAP or an MTOM reply laid
out by hand the way Metro sends one; zeep parses the answer.  The real peer
(Metro) is in tests/interop/test_zeep_metro.py.
"""

from __future__ import annotations

import base64
import copy
import gc
import hashlib
import os
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import httpx
import pytest
from mtomcheck import decode_with_email, resolve_xop

from asyncmtom import WriteFunction

zeep = pytest.importorskip("zeep")
etree = pytest.importorskip("lxml.etree")
from zeepservice import NS, SOAP_NS, XOP, envelope, upload_reply, write_wsdl  # noqa: E402

from asyncmtom.zeep import (  # noqa: E402
    XMIME_SCHEMA,
    AsyncSpooledBinary,
    Binary,
    MtomTransport,
    prepare_request,
)

#: Upload takes any number of ``data`` values and one typed by xmime (its schema is
#: bundled); DownloadResponse carries one part.
ELEMENTS = """\
      <xsd:import namespace="http://www.w3.org/2005/05/xmlmime"
                  schemaLocation="http://www.w3.org/2005/05/xmlmime"/>
      <xsd:element name="Upload">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="name" type="xsd:string"/>
          <xsd:element name="data" type="xsd:base64Binary" maxOccurs="unbounded"/>
          <xsd:element name="typed" type="xmime:base64Binary" minOccurs="0"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="DownloadResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="data" type="xsd:base64Binary"/>
          <xsd:element name="note" type="xsd:string"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
"""

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def client(tmp_path: Path, soap: str, handler: Handler, **options: object):  # type: ignore[no-untyped-def]
    transport = MtomTransport(
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), **options
    )
    return zeep.AsyncClient(write_wsdl(tmp_path, ELEMENTS, soap), transport=transport)


class Received:
    """What the mock server decoded with ``email``, for the test to check."""

    def __init__(self) -> None:
        self.headers: httpx.Headers | None = None
        self.root = b""
        self.parts: dict[str, tuple[str, bytes]] = {}
        self.values: list[bytes] = []
        self.typed: tuple[str | None, bytes] | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.headers = request.headers
        body = await request.aread()
        decoded = decode_with_email(request.headers["content-type"], body)
        self.root, self.parts = decoded.root, decoded.parts
        tree = resolve_xop(decoded.root, decoded.parts)
        self.values = [base64.b64decode(e.text or "") for e in tree.iter(f"{{{NS}}}data")]
        typed = tree.find(f".//{{{NS}}}typed")
        if typed is not None:
            content_type = typed.get("{http://www.w3.org/2005/05/xmlmime}contentType")
            self.typed = (content_type, base64.b64decode(typed.text or ""))
        soap = "11" if SOAP_NS["11"].encode() in decoded.root else "12"
        return upload_reply(sum(len(v) for v in self.values), soap)


async def agen(data: bytes, chunk: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        yield data[i : i + chunk]


async def push(write: WriteFunction, data: bytes) -> None:
    for i in range(0, len(data), 1000):
        await write(data[i : i + 1000])


@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_zeep_sends_every_kind_of_binary_as_mtom(tmp_path: Path, soap: str) -> None:
    file_data = bytes(range(256)) * 40
    (tmp_path / "scan.pdf").write_bytes(file_data)
    values = [
        Binary(tmp_path / "scan.pdf", content_type="application/pdf"),
        Binary(b"tiny", size=4),  # declared and small: inline base64
        Binary(b"m" * 5000),
        Binary(agen(b"g" * 70_000, 8192)),
        Binary.push(push, b"p" * 3000, size=3000),
        Binary(b"forced", inline=False),
    ]
    received = Received()
    async with client(tmp_path, soap, received) as zc:
        result = await zc.service.Upload(name="scan.pdf", data=values)
    expected = [file_data, b"tiny", b"m" * 5000, b"g" * 70_000, b"p" * 3000, b"forced"]
    assert result == sum(map(len, expected))
    assert received.values == expected
    # five parts, in document order; the small sized value stayed inline
    assert len(received.parts) == 5
    assert next(iter(received.parts.values()))[0] == "application/pdf"
    assert received.root.count(b"xop:Include") == 5 and b"dGlueQ==" in received.root
    # never the data's base64 in the root, nor the tokens
    assert base64.b64encode(b"m" * 5000) not in received.root
    assert all(v.token.encode() not in received.root for v in values)
    headers = received.headers
    assert headers is not None
    start_info = 'start-info="text/xml"' if soap == "11" else 'action=\\"urn:example:Upload\\"'
    assert start_info in headers["content-type"]
    assert headers["soapaction"] == '"urn:example:Upload"'
    # an async generator's size is not known: chunked, no Content-Length
    assert "content-length" not in headers


class BytesPath:
    """An ``os.PathLike[bytes]``."""

    def __init__(self, path: Path) -> None:
        self.path = os.fsencode(path)

    def __fspath__(self) -> bytes:
        return self.path


@pytest.mark.anyio
async def test_zeep_content_length_when_sizes_known(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"a" * 4000)
    received = Received()
    seen: list[object] = []
    async with client(tmp_path, "12", received, progress=seen.append) as zc:
        # a path as os.PathLike[str], str and os.PathLike[bytes]: each opened when the
        # body is sent (plain bytes are the data itself)
        paths = [tmp_path / "a.bin", str(tmp_path / "a.bin"), BytesPath(tmp_path / "a.bin")]
        await zc.service.Upload(name="x", data=[Binary(path) for path in paths])
    assert received.headers is not None
    assert received.values == [b"a" * 4000] * 3
    length = int(received.headers["content-length"])
    assert length > 3 * 4000
    assert seen and seen[-1].done  # type: ignore[attr-defined] == length


@pytest.mark.anyio
async def test_xmime_content_type_attribute_names_the_part(tmp_path: Path) -> None:
    """The xmime schema is imported by URL (served from the bundled copy, offline)."""
    received = Received()
    async with client(tmp_path, "12", received) as zc:
        await zc.service.Upload(
            name="x",
            data=[b"plain bytes, inline as zeep does"],
            typed={"_value_1": Binary(b"\x89PNG" * 500), "contentType": "image/png"},
        )
    assert received.typed == ("image/png", b"\x89PNG" * 500)
    assert [t for t, _ in received.parts.values()] == ["image/png"]
    assert received.values == [b"plain bytes, inline as zeep does"]


def mtom_reply(soap: str, data: bytes) -> httpx.Response:
    """An MTOM reply laid out as Metro sends one (unquoted type, LF-free binary part)."""
    media = "text/xml" if soap == "11" else "application/soap+xml"
    root = envelope(
        f'<ns2:DownloadResponse xmlns:ns2="{NS}"><ns2:data>'
        f'<xop:Include xmlns:xop="{XOP}" href="cid:a%2Fb@example.jaxws.sun.com"/>'
        "</ns2:data><ns2:note>&lt;ok&gt;</ns2:note></ns2:DownloadResponse>",
        soap,
    )
    boundary = "uuid:4b4d9b37-0c5f-4d42-bfdd-1f1d1c63d9f1"
    body = (
        f"--{boundary}\r\nContent-Id: <rootpart*4b4d@example.jaxws.sun.com>\r\n"
        f'Content-Type: application/xop+xml;charset=utf-8;type="{media}"\r\n'
        "Content-Transfer-Encoding: binary\r\n\r\n".encode()
        + root
        + f"\r\n--{boundary}\r\nContent-Id: <a/b@example.jaxws.sun.com>\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--".encode()
    )
    content_type = (
        f'multipart/related;start="<rootpart*4b4d@example.jaxws.sun.com>";'
        f'type="application/xop+xml";boundary="{boundary}";start-info="{media}"'
    )
    return httpx.Response(200, headers={"Content-Type": content_type}, content=body)


@pytest.mark.anyio
@pytest.mark.parametrize("soap", ["11", "12"])
async def test_zeep_reads_an_mtom_reply(tmp_path: Path, soap: str) -> None:
    data = bytes(range(256)) * 3000 + b"\r\n--uuid:\r\n"  # binary, with CR/LF and a fake delimiter
    requests: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        requests.append(request)
        return mtom_reply(soap, data)

    async with client(tmp_path, soap, handler, read_options={"spool_threshold": 1024}) as zc:
        result = await zc.service.Download(size=len(data))
    assert isinstance(result.data, AsyncSpooledBinary)  # past spool_threshold: spooled
    assert bytes(result.data) == data and await result.data.read() == data
    assert result.note == "<ok>"
    # the request went out as MTOM too (there was no Binary in it)
    assert requests[0].headers["content-type"].startswith("multipart/related;")


@pytest.mark.anyio
async def test_always_mtom_false_sends_plain_xml_without_binary(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        seen.append(request)
        return upload_reply(3)

    async with client(tmp_path, "12", handler, always_mtom=False) as zc:
        assert await zc.service.Upload(name="x", data=[b"abc"]) == 3
    assert seen[0].headers["content-type"].startswith("application/soap+xml")
    assert etree.fromstring(seen[0].content).find(f".//{{{NS}}}data").text == "YWJj"


@pytest.mark.anyio
async def test_zeep_fault_reply(tmp_path: Path) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        fault = envelope(
            "<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code>"
            '<s:Reason><s:Text xml:lang="en">disk full</s:Text></s:Reason></s:Fault>',
        )
        return httpx.Response(500, headers={"Content-Type": "application/soap+xml"}, content=fault)

    async with client(tmp_path, "12", handler) as zc:
        with pytest.raises(zeep.exceptions.Fault, match="disk full"):
            await zc.service.Upload(name="x", data=[Binary(b"z" * 2000)])


@pytest.mark.anyio
async def test_missing_file_fails_before_anything_is_sent(tmp_path: Path) -> None:
    sent: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return upload_reply(0)

    async with client(tmp_path, "12", handler) as zc:
        with pytest.raises(FileNotFoundError):
            await zc.service.Upload(name="x", data=[Binary(tmp_path / "missing.pdf")])
    assert sent == []


@pytest.mark.anyio
async def test_failing_source_aborts_the_request(tmp_path: Path) -> None:
    """The source's own error reaches the caller; no complete message reaches the server."""

    async def broken(write: WriteFunction) -> None:
        await write(b"x" * 20_000)
        raise OSError("disk gone")

    served: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        served.append(request)  # httpx's mock reads the whole body before calling this
        return upload_reply(0)

    async with client(tmp_path, "12", handler) as zc:
        with pytest.raises(OSError, match="disk gone") as caught:
            await zc.service.Upload(name="x", data=[Binary.push(broken)])
    assert served == []
    assert any("MTOM part" in note for note in getattr(caught.value, "__notes__", []))


# --- prepare_request on envelopes made by hand ---------------------------------------------


def test_namespaces_attributes_and_text_survive() -> None:
    """Declarations only QName values use, default namespaces, xmlns="", tails, attributes."""
    source = (
        '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        '<soap:Header><wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing"'
        ' soap:mustUnderstand="true">urn:x</wsa:To></soap:Header>'
        '<soap:Body><Op xmlns="urn:op" xmlns:t="urn:types" a="1" t:b="2&amp;&#10;3">'
        '<v xsi:type="xsd:string">text &lt; &amp; more</v><!-- dropped -->tail'
        '<inner xmlns="">unqualified<deep xsi:type="t:Deep"/></inner>'
        "<?pi dropped?><t:last>é ✓</t:last></Op></soap:Body></soap:Envelope>"
    )
    tree = etree.fromstring(source)
    request = anyio.run(
        prepare_request, tree, {"Content-Type": 'application/soap+xml; action="urn:op"'}
    )
    assert request.binaries == 0
    body = anyio.run(_collect, request.writer.body())
    decoded = decode_with_email(request.headers["Content-Type"], body)
    want = etree.tostring(tree, method="c14n", with_comments=False)
    want = want.replace(b"<?pi dropped?>", b"")
    got = etree.tostring(etree.fromstring(decoded.root), method="c14n")
    assert got == want
    assert 'action=\\"urn:op\\"' in request.headers["Content-Type"]


async def _collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


@pytest.mark.parametrize(
    ("soap", "body", "message"),
    [("12", '<x a="{token}"/>', "attribute"), ("11", "<x>{token} {token}</x>", "whole value")],
)
def test_binary_in_an_attribute_or_inside_longer_text_is_refused(
    soap: str, body: str, message: str
) -> None:
    value = Binary(b"data")
    tree = etree.fromstring(envelope(body.format(token=value.token), soap))
    with pytest.raises(ValueError, match=message):
        anyio.run(prepare_request, tree)


def test_not_a_soap_envelope_is_refused() -> None:
    with pytest.raises(ValueError, match="not a SOAP"):
        anyio.run(prepare_request, etree.fromstring("<Envelope/>"))


def test_soap11_without_action_keeps_zeeps_empty_soapaction() -> None:
    tree = etree.fromstring(f'<s:Envelope xmlns:s="{SOAP_NS["11"]}"><s:Body/></s:Envelope>')
    request = anyio.run(
        prepare_request, tree, {"SOAPAction": '""', "Content-Type": "text/xml; charset=utf-8"}
    )
    assert request.headers["SOAPAction"] == '""'
    assert request.headers["Content-Type"].startswith("multipart/related;")
    assert 'start-info="text/xml"' in request.headers["Content-Type"]


def test_soap12_action_none_written_by_zeep_is_dropped() -> None:
    tree = etree.fromstring(f'<s:Envelope xmlns:s="{SOAP_NS["12"]}"><s:Body/></s:Envelope>')
    request = anyio.run(
        prepare_request,
        tree,
        {"Content-Type": 'application/soap+xml; charset=utf-8; action="None"'},
    )
    assert 'start-info="application/soap+xml"' in request.headers["Content-Type"]


# --- Binary --------------------------------------------------------------------------------


def test_binary_is_a_short_token_registered_weakly() -> None:
    from asyncmtom.zeep import _binary as adapter

    value = Binary(b"x" * 1_000_000)
    assert isinstance(value, bytes) and len(value) == 27
    assert base64.b64encode(value).decode() == value.token
    assert adapter._REGISTRY[value.token] is value._source
    assert Binary(b"x").token != Binary(b"x").token
    assert copy.copy(value) is value and copy.deepcopy([value])[0] is value
    with pytest.raises(TypeError):
        pickle.dumps(value)
    token = value.token
    del value
    gc.collect()
    assert token not in adapter._REGISTRY


def test_binary_arguments_are_checked() -> None:
    with pytest.raises(TypeError):
        Binary(42)
    with pytest.raises(ValueError):
        Binary(b"x", size=-1)
    with pytest.raises(TypeError):
        Binary(b"x", inline="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Binary.push("not callable")  # type: ignore[arg-type]
    value = Binary("scan.pdf", size=3, content_type="application/pdf")
    assert (value.source, value.size, value.content_type) == (
        Path("scan.pdf"),
        3,
        "application/pdf",
    )
    assert "scan.pdf" in repr(value)


def test_bundled_xmime_schema_is_served_offline() -> None:
    transport = MtomTransport()
    assert transport.load("http://www.w3.org/2005/05/xmlmime") == XMIME_SCHEMA
    schema = etree.fromstring(XMIME_SCHEMA)
    assert schema.get("targetNamespace") == "http://www.w3.org/2005/05/xmlmime"
    assert hashlib.sha256(XMIME_SCHEMA).hexdigest()  # bytes, parseable


def test_importing_asyncmtom_does_not_import_zeep_or_httpx() -> None:
    import subprocess
    import sys

    code = "import sys, asyncmtom; print('zeep' in sys.modules, 'httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
