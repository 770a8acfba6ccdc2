"""The Documents service the zeep tests compile, and the mock endpoint that answers it.

One WSDL (operations ``Upload`` and ``Download``, document/literal, a SOAP 1.1
or 1.2 binding) around the schema elements a test module declares; the
envelopes and replies the endpoint answers with; and, for the tests that run
both zeep clients alike, the endpoint (`Server`, behind an httpx mock
transport: no socket) and `Clients`, which runs one operation with
``zeep.Client`` and `SyncMtomTransport` or ``zeep.AsyncClient`` and
`MtomTransport`.  Import it after ``pytest.importorskip("zeep")``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import zeep
from mtomcheck import decode_with_email, resolve_xop

from asyncmtom.zeep import MtomTransport, SyncMtomTransport

NS = "urn:example:documents"
XOP = "http://www.w3.org/2004/08/xop/include"
SOAP_NS = {
    "11": "http://schemas.xmlsoap.org/soap/envelope/",
    "12": "http://www.w3.org/2003/05/soap-envelope",
}
SOAP12 = SOAP_NS["12"]
_WSDL_SOAP = {
    "11": "http://schemas.xmlsoap.org/wsdl/soap/",
    "12": "http://schemas.xmlsoap.org/wsdl/soap12/",
}

#: The schema of the tests that run both clients: ``Upload`` has a field of every
#: kind a `Binary` may wrongly land in, ``DownloadResponse`` any number of parts.
ELEMENTS = """\
      <xsd:simpleType name="Blobs"><xsd:list itemType="xsd:base64Binary"/></xsd:simpleType>
      <xsd:element name="Upload">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="name" type="xsd:string"/>
          <xsd:element name="data" type="xsd:base64Binary" minOccurs="0"/>
          <xsd:element name="label" type="xsd:string" minOccurs="0"/>
          <xsd:element name="hex" type="xsd:hexBinary" minOccurs="0"/>
          <xsd:element name="blobs" type="ex:Blobs" minOccurs="0"/>
        </xsd:sequence>
        <xsd:attribute name="stamp" type="xsd:base64Binary"/>
        </xsd:complexType>
      </xsd:element>
      <xsd:element name="DownloadResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="data" type="xsd:base64Binary" maxOccurs="unbounded"/>
          <xsd:element name="note" type="xsd:string"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
"""


def documents_wsdl(
    elements: str, soap: str = "12", location: str = "http://127.0.0.1:9/documents"
) -> str:
    """The WSDL; *elements* declare ``Upload`` and ``DownloadResponse`` (and any import)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="{_WSDL_SOAP[soap]}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xmime="http://www.w3.org/2005/05/xmlmime" xmlns:ex="{NS}"
    targetNamespace="{NS}">
  <wsdl:types>
    <xsd:schema targetNamespace="{NS}" elementFormDefault="qualified">
{elements}
      <xsd:element name="UploadResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="received" type="xsd:long"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="Download">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="size" type="xsd:long"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="UploadIn"><wsdl:part name="p" element="ex:Upload"/></wsdl:message>
  <wsdl:message name="UploadOut"><wsdl:part name="p" element="ex:UploadResponse"/></wsdl:message>
  <wsdl:message name="DownloadIn"><wsdl:part name="p" element="ex:Download"/></wsdl:message>
  <wsdl:message name="DownloadOut">
    <wsdl:part name="p" element="ex:DownloadResponse"/>
  </wsdl:message>
  <wsdl:portType name="Documents">
    <wsdl:operation name="Upload">
      <wsdl:input message="ex:UploadIn"/><wsdl:output message="ex:UploadOut"/>
    </wsdl:operation>
    <wsdl:operation name="Download">
      <wsdl:input message="ex:DownloadIn"/><wsdl:output message="ex:DownloadOut"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="DocumentsBinding" type="ex:Documents">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Upload">
      <soap:operation soapAction="urn:example:Upload"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
    <wsdl:operation name="Download">
      <soap:operation soapAction="urn:example:Download"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="Documents">
    <wsdl:port name="DocumentsPort" binding="ex:DocumentsBinding">
      <soap:address location="{location}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def write_wsdl(directory: Path, elements: str = ELEMENTS, soap: str = "12", **options: str) -> str:
    """`documents_wsdl` written into *directory*; its path, for ``zeep.Client(path)``."""
    path = directory / f"documents{soap}.wsdl"
    path.write_text(documents_wsdl(elements, soap, **options))
    return str(path)


def envelope(body: str, soap: str = "12") -> bytes:
    return f'<s:Envelope xmlns:s="{SOAP_NS[soap]}"><s:Body>{body}</s:Body></s:Envelope>'.encode()


def upload_reply(received: int, soap: str = "12") -> httpx.Response:
    """The plain SOAP ``UploadResponse`` saying how many bytes arrived."""
    media = "text/xml" if soap == "11" else "application/soap+xml"
    body = envelope(
        f'<UploadResponse xmlns="{NS}"><received>{received}</received></UploadResponse>', soap
    )
    return httpx.Response(200, headers={"Content-Type": f"{media}; charset=utf-8"}, content=body)


BOUNDARY = "uuid:4b4d9b37-0c5f-4d42-bfdd-1f1d1c63d9f1"
REPLY_TYPE = (
    f'multipart/related;start="<root@example.org>";type="application/xop+xml";'
    f'boundary="{BOUNDARY}";start-info="application/soap+xml"'
)


def mtom_reply(parts: list[bytes], *, note: str = "ok", note_include: bool = False) -> bytes:
    """A DownloadResponse with one ``data`` element per part (Metro's layout)."""
    include = '<xop:Include xmlns:xop="' + XOP + '" href="cid:p{}@example.org"/>'
    fields = "".join(f"<ex:data>{include.format(i)}</ex:data>" for i in range(len(parts)))
    note_xml = include.format(0) if note_include else note
    root = envelope(
        f'<ex:DownloadResponse xmlns:ex="{NS}">{fields}<ex:note>{note_xml}</ex:note>'
        "</ex:DownloadResponse>"
    )
    body = (
        f"--{BOUNDARY}\r\nContent-Id: <root@example.org>\r\n"
        'Content-Type: application/xop+xml;charset=utf-8;type="application/soap+xml"\r\n'
        "Content-Transfer-Encoding: binary\r\n\r\n".encode()
        + root
    )
    for i, data in enumerate(parts):
        body += (
            f"\r\n--{BOUNDARY}\r\nContent-Id: <p{i}@example.org>\r\n"
            "Content-Type: application/pdf\r\nContent-Transfer-Encoding: binary\r\n\r\n".encode()
            + data
        )
    return body + f"\r\n--{BOUNDARY}--".encode()


def download_answer(
    parts: list[bytes], **options: Any
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Type": REPLY_TYPE}, content=mtom_reply(parts, **options)
        )

    return answer


class Server:
    """The mock server: records each request (decoded with ``email``) and answers it."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.values: list[bytes] = []
        self.answer = answer

    def handle(self, request: httpx.Request, body: bytes) -> httpx.Response:
        self.requests.append(request)
        if self.answer is not None:
            return self.answer(request)
        decoded = decode_with_email(request.headers["content-type"], body)
        tree = resolve_xop(decoded.root, decoded.parts)
        self.values = [base64.b64decode(e.text or "") for e in tree.iter(f"{{{NS}}}data")]
        return upload_reply(sum(map(len, self.values)))

    def sync_handler(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request, request.read())

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request, await request.aread())


class Clients:
    """Runs one operation with either kind of zeep client and its transport."""

    def __init__(self, kind: str, wsdl: str, server: Server, **options: Any) -> None:
        self.kind, self.wsdl, self.server = kind, wsdl, server
        self.client_options = options.pop("client_options", {})
        self.zeep_options = options.pop("zeep_options", {})
        self.options = options
        self.transport: Any = None

    def make(self) -> Any:
        if self.kind == "sync":
            http: Any = httpx.Client(
                transport=httpx.MockTransport(self.server.sync_handler), **self.client_options
            )
            self.transport = SyncMtomTransport(client=http, **self.options)
            return zeep.Client(self.wsdl, transport=self.transport, **self.zeep_options)
        http = httpx.AsyncClient(
            transport=httpx.MockTransport(self.server.async_handler), **self.client_options
        )
        self.transport = MtomTransport(client=http, **self.options)
        return zeep.AsyncClient(self.wsdl, transport=self.transport, **self.zeep_options)

    def call(self, operation: str, **kwargs: Any) -> Any:
        """The operation's result (the sync client in this thread, the async one in a loop)."""
        client = self.make()
        if self.kind == "sync":
            with client:
                return client.service[operation](**kwargs)

        async def run() -> Any:
            async with client:
                return await client.service[operation](**kwargs)

        return anyio.run(run)


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])
