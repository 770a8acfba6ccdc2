"""IHE XDS.b Retrieve Document Set (ITI-43) with zeep: a document received as an MTOM part.

The download side of ``xds_provide_and_register.py``: a Document Consumer
asks a Document Repository for one document by its repository and document
unique ids (``xdsb:RetrieveDocumentSetRequest``, SOAP 1.2, WS-Addressing
action ``urn:ihe:iti:2007:RetrieveDocumentSet``) and the repository answers
an ``xdsb:RetrieveDocumentSetResponse``: an ebRS ``RegistryResponse`` with
the status, then one ``xdsb:DocumentResponse`` per document whose
``xdsb:Document`` is the document itself, in its own MIME part (IHE ITI
TF-2b requires MTOM for ITI-43).

zeep builds the request from the WSDL below (WS-Addressing headers from its
``wsaw:Action``) and ``asyncmtom.zeep.MtomTransport`` reads the MTOM reply:
a document up to 1 MiB comes back as ``bytes``, a larger one as an
``AsyncSpooledBinary`` whose ``save(path)`` moves the spooled part into
place, so a document of any size is retrieved with flat memory.

The embedded endpoint on 127.0.0.1 plays the repository: it answers with the
reply written by ``asyncmtom.XmlWriter``, the document streamed from disk.
The example exits with status 1 if the saved document's SHA-256 does not
match.  Identifiers are examples (OIDs under 1.3.6.1.4.1.21367, the IHE test
arc).

    python examples/xds_retrieve_document_set.py [--size BYTES] [--file PATH] [--trio]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import anyio
import zeep

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_endpoint import file_sha256, local_endpoint, write_sample_file

from asyncmtom import SOAP12, MtomEncoding, XmlWriter
from asyncmtom.zeep import MtomTransport

ACTION = "urn:ihe:iti:2007:RetrieveDocumentSet"
REPLY_ACTION = "urn:ihe:iti:2007:RetrieveDocumentSetResponse"
XDSB = "urn:ihe:iti:xds-b:2007"
RS = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
WSA = "http://www.w3.org/2005/08/addressing"
SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
REPOSITORY_ID = "1.3.6.1.4.1.21367.13.80.110.2"
DOCUMENT_ID = "1.3.6.1.4.1.21367.13.80.110.1.42"

WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:wsaw="http://www.w3.org/2006/05/addressing/wsdl"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:ihe="urn:ihe:iti:xds-b:2007"
    xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
    targetNamespace="urn:ihe:iti:xds-b:2007">
  <wsdl:types>
    <xsd:schema targetNamespace="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
                elementFormDefault="qualified">
      <xsd:element name="RegistryResponse">
        <xsd:complexType><xsd:attribute name="status" type="xsd:anyURI" use="required"/>
        </xsd:complexType>
      </xsd:element>
    </xsd:schema>
    <xsd:schema targetNamespace="urn:ihe:iti:xds-b:2007" elementFormDefault="qualified">
      <xsd:import namespace="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"/>
      <xsd:element name="RetrieveDocumentSetRequest">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="DocumentRequest" maxOccurs="unbounded">
            <xsd:complexType><xsd:sequence>
              <xsd:element name="HomeCommunityId" type="xsd:anyURI" minOccurs="0"/>
              <xsd:element name="RepositoryUniqueId" type="xsd:string"/>
              <xsd:element name="DocumentUniqueId" type="xsd:string"/>
            </xsd:sequence></xsd:complexType>
          </xsd:element>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
      <xsd:element name="RetrieveDocumentSetResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element ref="rs:RegistryResponse"/>
          <xsd:element name="DocumentResponse" minOccurs="0" maxOccurs="unbounded">
            <xsd:complexType><xsd:sequence>
              <xsd:element name="HomeCommunityId" type="xsd:anyURI" minOccurs="0"/>
              <xsd:element name="RepositoryUniqueId" type="xsd:string"/>
              <xsd:element name="DocumentUniqueId" type="xsd:string"/>
              <xsd:element name="mimeType" type="xsd:string"/>
              <xsd:element name="Document" type="xsd:base64Binary"/>
            </xsd:sequence></xsd:complexType>
          </xsd:element>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="RetrieveDocumentSet_Message">
    <wsdl:part name="body" element="ihe:RetrieveDocumentSetRequest"/>
  </wsdl:message>
  <wsdl:message name="RetrieveDocumentSetResponse_Message">
    <wsdl:part name="body" element="ihe:RetrieveDocumentSetResponse"/>
  </wsdl:message>
  <wsdl:portType name="DocumentRepository_PortType">
    <wsdl:operation name="DocumentRepository_RetrieveDocumentSet">
      <wsdl:input message="ihe:RetrieveDocumentSet_Message"
                  wsaw:Action="urn:ihe:iti:2007:RetrieveDocumentSet"/>
      <wsdl:output message="ihe:RetrieveDocumentSetResponse_Message"
                   wsaw:Action="urn:ihe:iti:2007:RetrieveDocumentSetResponse"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="DocumentRepository_Binding_Soap12" type="ihe:DocumentRepository_PortType">
    <soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="DocumentRepository_RetrieveDocumentSet">
      <soap12:operation soapAction="urn:ihe:iti:2007:RetrieveDocumentSet"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input>
      <wsdl:output><soap12:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="DocumentRepository_Service">
    <wsdl:port name="DocumentRepository_Port_Soap12"
               binding="ihe:DocumentRepository_Binding_Soap12">
      <soap12:address location="{url}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


def repository(documents: dict[str, tuple[Path, str]]):  # type: ignore[no-untyped-def]
    """The repository's side: the ITI-43 reply to a request, each document streamed from disk."""

    async def respond(request_root: bytes) -> XmlWriter:
        root = ET.fromstring(request_root)
        asked = [
            (
                element.findtext(f"{{{XDSB}}}RepositoryUniqueId") or "",
                element.findtext(f"{{{XDSB}}}DocumentUniqueId") or "",
            )
            for element in root.iter(f"{{{XDSB}}}DocumentRequest")
        ]
        relates_to = root.findtext(f".//{{{WSA}}}MessageID")
        w = XmlWriter(MtomEncoding(soap=SOAP12, action=REPLY_ACTION))
        with w.element("Envelope", SOAP12.namespace, "s"):
            with w.element("Header", SOAP12.namespace, "s"):
                with w.element("Action", WSA, "a"):
                    w.text(REPLY_ACTION)
                if relates_to:
                    with w.element("RelatesTo", WSA, "a"):
                        w.text(relates_to)
            with w.element("Body", SOAP12.namespace, "s"):
                with w.element("RetrieveDocumentSetResponse", XDSB, "xdsb"):
                    with w.element("RegistryResponse", RS, "rs"):
                        w.attribute("status", SUCCESS)
                    for repository_id, document_id in asked:
                        if repository_id != REPOSITORY_ID or document_id not in documents:
                            continue
                        path, mime_type = documents[document_id]
                        with w.element("DocumentResponse", XDSB, "xdsb"):
                            for tag, text in [
                                ("RepositoryUniqueId", repository_id),
                                ("DocumentUniqueId", document_id),
                                ("mimeType", mime_type),
                            ]:
                                with w.element(tag, XDSB, "xdsb"):
                                    w.text(text)
                            with w.element("Document", XDSB, "xdsb"):
                                size = path.stat().st_size
                                await w.pull_bytes(path, size=size, content_type=mime_type)
        return w

    return respond


async def main(size: int, file: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        stored = file or Path(tmp) / "stored.pdf"
        if file is None:
            write_sample_file(stored, size, b"%PDF-1.4\n")
        expected = file_sha256(stored)
        documents = {DOCUMENT_ID: (stored, "application/pdf")}
        target = Path(tmp) / "retrieved.pdf"
        async with local_endpoint(respond=repository(documents)) as endpoint:
            wsdl = Path(tmp) / "repository.wsdl"
            wsdl.write_text(WSDL.format(url=endpoint.url))
            async with zeep.AsyncClient(str(wsdl), transport=MtomTransport()) as client:
                reply = await client.service.DocumentRepository_RetrieveDocumentSet(
                    DocumentRequest=[
                        {"RepositoryUniqueId": REPOSITORY_ID, "DocumentUniqueId": DOCUMENT_ID}
                    ]
                )
                print(f"registry response: {reply.RegistryResponse.status}")
                for response in reply.DocumentResponse:
                    document = response.Document
                    # Up to 1 MiB the part is bytes; larger, a spooled file, moved into place.
                    if isinstance(document, bytes):
                        target.write_bytes(document)
                    else:
                        await document.save(target)
                    print(
                        f"retrieved {response.DocumentUniqueId} ({response.mimeType}): "
                        f"{len(document)} bytes as {type(document).__name__}"
                    )
        ok = (
            reply.RegistryResponse.status == SUCCESS
            and len(reply.DocumentResponse) == 1
            and file_sha256(target) == expected
        )
    print(f"sha256 matches the stored document: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16 * 2**20, help="bytes to generate")
    parser.add_argument("--file", type=Path, help="serve this file as the stored document")
    parser.add_argument("--trio", action="store_true", help="run on trio instead of asyncio")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.size, args.file, backend="trio" if args.trio else "asyncio"))
