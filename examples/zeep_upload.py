"""Upload a file as MTOM with zeep: a ``base64Binary`` argument streamed into its own part.

zeep reads the service's WSDL and builds the request as usual; the argument
is given as ``asyncmtom.zeep.Binary(path)`` and ``MtomTransport`` sends the
envelope as MTOM with the file's bytes going from disk straight into their
part (never base64 in memory).  The reply is parsed by zeep.

The WSDL below describes the embedded endpoint on 127.0.0.1 (SOAP 1.2,
document/literal), which decodes the request and answers with the size and
SHA-256 of each part it received; the example exits with status 1 if they do
not match the file.

    python examples/zeep_upload.py [--size BYTES] [--file PATH] [--trio]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
import zeep

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_endpoint import file_sha256, local_endpoint, write_sample_file

from asyncmtom.zeep import Binary, MtomTransport

WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:xmime="http://www.w3.org/2005/05/xmlmime"
    xmlns:ex="urn:example:documents" xmlns:r="urn:example:receipt"
    targetNamespace="urn:example:documents">
  <wsdl:types>
    <xsd:schema targetNamespace="urn:example:documents" elementFormDefault="qualified">
      <xsd:import namespace="http://www.w3.org/2005/05/xmlmime"
                  schemaLocation="http://www.w3.org/2005/05/xmlmime"/>
      <xsd:element name="Upload">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="name" type="xsd:string"/>
          <xsd:element name="data" type="xsd:base64Binary" maxOccurs="unbounded"
                       xmime:expectedContentTypes="application/octet-stream"/>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
    </xsd:schema>
    <xsd:schema targetNamespace="urn:example:receipt" elementFormDefault="qualified">
      <xsd:element name="UploadResponse">
        <xsd:complexType><xsd:sequence>
          <xsd:element name="part" minOccurs="0" maxOccurs="unbounded">
            <xsd:complexType>
              <xsd:attribute name="id" type="xsd:string"/>
              <xsd:attribute name="type" type="xsd:string"/>
              <xsd:attribute name="size" type="xsd:long"/>
              <xsd:attribute name="sha256" type="xsd:string"/>
            </xsd:complexType>
          </xsd:element>
        </xsd:sequence></xsd:complexType>
      </xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="UploadRequest">
    <wsdl:part name="parameters" element="ex:Upload"/>
  </wsdl:message>
  <wsdl:message name="UploadResponse">
    <wsdl:part name="parameters" element="r:UploadResponse"/>
  </wsdl:message>
  <wsdl:portType name="Documents">
    <wsdl:operation name="Upload">
      <wsdl:input message="ex:UploadRequest"/>
      <wsdl:output message="ex:UploadResponse"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="DocumentsSoap12" type="ex:Documents">
    <soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Upload">
      <soap12:operation soapAction="urn:example:Upload"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input>
      <wsdl:output><soap12:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="Documents">
    <wsdl:port name="DocumentsSoap12" binding="ex:DocumentsSoap12">
      <soap12:address location="{url}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""


async def main(size: int, file: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = file or Path(tmp) / "scan.pdf"
        if file is None:
            write_sample_file(path, size)
        expected = file_sha256(path)
        async with local_endpoint() as endpoint:
            wsdl = Path(tmp) / "documents.wsdl"
            wsdl.write_text(WSDL.format(url=endpoint.url))
            # zeep loads the WSDL synchronously: from a file here, and the xmime
            # schema it imports comes from MtomTransport's bundled copy.
            async with zeep.AsyncClient(str(wsdl), transport=MtomTransport()) as client:
                parts = await client.service.Upload(name=path.name, data=[Binary(path)])
    return report(parts, expected)


def report(parts: list[Any], expected: str) -> int:
    """Print the endpoint's receipts; 0 if it received one part with the file's SHA-256."""
    for part in parts:
        print(
            f"endpoint received <{part.id}> ({part.type}): {part.size} bytes, sha256 {part.sha256}"
        )
    ok = len(parts) == 1 and parts[0].sha256 == expected
    print(f"sha256 matches the file: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16 * 2**20, help="bytes to generate")
    parser.add_argument("--file", type=Path, help="send this file instead")
    parser.add_argument("--trio", action="store_true", help="run on trio instead of asyncio")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.size, args.file, backend="trio" if args.trio else "asyncio"))
