"""IHE XDS.b Provide and Register Document Set-b (ITI-41): a document sent as an MTOM part.

A Document Source submits one document to a Document Repository: a SOAP 1.2
request with WS-Addressing headers and the action
``urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b``, whose body is an
``xdsb:ProvideAndRegisterDocumentSetRequest``: the ebRIM metadata (a
SubmissionSet registry package, a DocumentEntry extrinsic object and the
HasMember association between them) followed by ``xdsb:Document``, whose
content is the document itself.  IHE ITI TF-2b requires MTOM for ITI-41:
the document goes into its own MIME part, streamed from disk.

The request is sent to the embedded endpoint on 127.0.0.1 (not a real XDS
repository: it answers a receipt with the SHA-256 of each part instead of a
RegistryResponse), and the example exits with status 1 if the digest does not
match the document.  Point it at a real repository by changing ``send``'s
URL; identifiers below are examples (OIDs under 1.3.6.1.4.1.21367, the IHE
test arc).

    python examples/xds_provide_and_register.py [--size BYTES] [--file PATH] [--trio]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from local_endpoint import file_sha256, local_endpoint, print_receipts

from asyncmtom import SOAP12, MtomEncoding, WriteFunction, XmlWriter

ACTION = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
WSA = "http://www.w3.org/2005/08/addressing"
XDSB = "urn:ihe:iti:xds-b:2007"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"

# ebRIM identifiers fixed by the XDS profile (ITI TF-3, 4.2.5).
DOCUMENT_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
DE_CLASS_CODE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_CONFIDENTIALITY = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_FORMAT_CODE = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_FACILITY_TYPE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_PRACTICE_SETTING = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
SS_CONTENT_TYPE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
SUBMITTED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Submitted"

PATIENT_ID = "8f3c2a1e6d4b4e0f^^^&1.3.6.1.4.1.21367.13.20.1000&ISO"
SOURCE_OID = "1.3.6.1.4.1.21367.13.80.110"
OID_ROOT = "1.3.6.1.4.1.21367.13.80.110.1"


def slot(w: XmlWriter, name: str, *values: str) -> None:
    with w.element("Slot", RIM, "rim"):
        w.attribute("name", name)
        with w.element("ValueList", RIM, "rim"):
            for value in values:
                with w.element("Value", RIM, "rim"):
                    w.text(value)


def name(w: XmlWriter, text: str) -> None:
    with w.element("Name", RIM, "rim"):
        with w.element("LocalizedString", RIM, "rim"):
            w.attribute("value", text)


def classification(
    w: XmlWriter, scheme: str, obj: str, code: str, coding_scheme: str, display: str
) -> None:
    with w.element("Classification", RIM, "rim"):
        w.attribute("classificationScheme", scheme)
        w.attribute("classifiedObject", obj)
        w.attribute("id", f"urn:uuid:{uuid.uuid4()}")
        w.attribute("nodeRepresentation", code)
        w.attribute(
            "objectType", "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
        )
        slot(w, "codingScheme", coding_scheme)
        name(w, display)


def external_id(w: XmlWriter, scheme: str, obj: str, value: str, label: str) -> None:
    with w.element("ExternalIdentifier", RIM, "rim"):
        w.attribute("id", f"urn:uuid:{uuid.uuid4()}")
        w.attribute("identificationScheme", scheme)
        w.attribute(
            "objectType",
            "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier",
        )
        w.attribute("registryObject", obj)
        w.attribute("value", value)
        name(w, label)


async def send_file(write: WriteFunction, path: Path) -> None:
    """The push callback: the document's bytes go straight into the MTOM part."""
    async with await anyio.open_file(path, "rb") as f:
        while chunk := await f.read(256 * 1024):
            await write(chunk)


async def build_request(url: str, document: Path) -> XmlWriter:
    now = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    unique = f"{OID_ROOT}.{int(time.time() * 1000)}"
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action=ACTION))
    w = writer
    with w.element("Envelope", SOAP12.namespace, "s"):
        with w.element("Header", SOAP12.namespace, "s"):
            with w.element("Action", WSA, "a"):
                w.attribute("mustUnderstand", "1", SOAP12.namespace, "s")
                w.text(ACTION)
            with w.element("MessageID", WSA, "a"):
                w.text(f"urn:uuid:{uuid.uuid4()}")
            with w.element("ReplyTo", WSA, "a"):
                with w.element("Address", WSA, "a"):
                    w.text("http://www.w3.org/2005/08/addressing/anonymous")
            with w.element("To", WSA, "a"):
                w.attribute("mustUnderstand", "1", SOAP12.namespace, "s")
                w.text(url)
        with w.element("Body", SOAP12.namespace, "s"):
            with w.element("ProvideAndRegisterDocumentSetRequest", XDSB, "xdsb"):
                with w.element("SubmitObjectsRequest", LCM, "lcm"):
                    with w.element("RegistryObjectList", RIM, "rim"):
                        # the DocumentEntry: metadata about the document
                        with w.element("ExtrinsicObject", RIM, "rim"):
                            w.attribute("id", "Document01")
                            w.attribute("mimeType", "application/pdf")
                            w.attribute("objectType", DOCUMENT_ENTRY)
                            w.attribute("status", SUBMITTED)
                            slot(w, "creationTime", now)
                            slot(w, "languageCode", "en-US")
                            slot(w, "serviceStartTime", now[:12])
                            slot(w, "sourcePatientId", PATIENT_ID)
                            slot(w, "sourcePatientInfo", "PID-5|Doe^Jane^^^", "PID-7|19700101")
                            name(w, "Discharge summary")
                            classification(
                                w,
                                DE_CLASS_CODE,
                                "Document01",
                                "18842-5",
                                "2.16.840.1.113883.6.1",
                                "Discharge summary",
                            )
                            classification(
                                w,
                                DE_CONFIDENTIALITY,
                                "Document01",
                                "N",
                                "2.16.840.1.113883.5.25",
                                "normal",
                            )
                            classification(
                                w,
                                DE_FORMAT_CODE,
                                "Document01",
                                "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                                "1.3.6.1.4.1.19376.1.2.3",
                                "mimeType Sufficient",
                            )
                            classification(
                                w,
                                DE_FACILITY_TYPE,
                                "Document01",
                                "22232009",
                                "2.16.840.1.113883.6.96",
                                "Hospital",
                            )
                            classification(
                                w,
                                DE_PRACTICE_SETTING,
                                "Document01",
                                "394802001",
                                "2.16.840.1.113883.6.96",
                                "General medicine",
                            )
                            classification(
                                w,
                                DE_TYPE_CODE,
                                "Document01",
                                "18842-5",
                                "2.16.840.1.113883.6.1",
                                "Discharge summary",
                            )
                            external_id(
                                w,
                                DE_PATIENT_ID,
                                "Document01",
                                PATIENT_ID,
                                "XDSDocumentEntry.patientId",
                            )
                            external_id(
                                w,
                                DE_UNIQUE_ID,
                                "Document01",
                                f"{unique}.1",
                                "XDSDocumentEntry.uniqueId",
                            )
                        # the SubmissionSet: who submits, when, for whom
                        with w.element("RegistryPackage", RIM, "rim"):
                            w.attribute("id", "SubmissionSet01")
                            w.attribute(
                                "objectType",
                                "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage",
                            )
                            slot(w, "submissionTime", now)
                            name(w, "Discharge documents")
                            classification(
                                w,
                                SS_CONTENT_TYPE,
                                "SubmissionSet01",
                                "18842-5",
                                "2.16.840.1.113883.6.1",
                                "Discharge summary",
                            )
                            external_id(
                                w,
                                SS_UNIQUE_ID,
                                "SubmissionSet01",
                                f"{unique}.2",
                                "XDSSubmissionSet.uniqueId",
                            )
                            external_id(
                                w,
                                SS_SOURCE_ID,
                                "SubmissionSet01",
                                SOURCE_OID,
                                "XDSSubmissionSet.sourceId",
                            )
                            external_id(
                                w,
                                SS_PATIENT_ID,
                                "SubmissionSet01",
                                PATIENT_ID,
                                "XDSSubmissionSet.patientId",
                            )
                        with w.element("Classification", RIM, "rim"):
                            w.attribute("classifiedObject", "SubmissionSet01")
                            w.attribute("classificationNode", SUBMISSION_SET)
                            w.attribute("id", f"urn:uuid:{uuid.uuid4()}")
                            w.attribute(
                                "objectType",
                                "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification",
                            )
                        with w.element("Association", RIM, "rim"):
                            w.attribute("associationType", HAS_MEMBER)
                            w.attribute("sourceObject", "SubmissionSet01")
                            w.attribute("targetObject", "Document01")
                            w.attribute("id", "Association01")
                            w.attribute(
                                "objectType",
                                "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association",
                            )
                            slot(w, "SubmissionSetStatus", "Original")
                # the document itself: an xop:Include here, its bytes in their own part
                with w.element("Document", XDSB, "xdsb"):
                    w.attribute("id", "Document01")
                    size = (await anyio.Path(document).stat()).st_size
                    await w.push_bytes(
                        send_file, document, size=size, content_type="application/pdf", inline=False
                    )
    return writer


def make_pdf(path: Path, size: int) -> None:
    """A stand-in document: a PDF header followed by filler bytes."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    with path.open("wb") as f:
        f.write(head)
        remaining = max(0, size - len(head))
        while remaining:
            block = os.urandom(min(remaining, 1 << 20))
            f.write(block)
            remaining -= len(block)


async def main(size: int, file: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        document = file or Path(tmp) / "discharge-summary.pdf"
        if file is None:
            make_pdf(document, size)
        expected = file_sha256(document)
        async with local_endpoint() as endpoint:
            writer = await build_request(endpoint.url, document)
            print(f"Content-Type: {writer.content_type}")
            async with httpx.AsyncClient(timeout=120) as client:
                response = await client.post(
                    endpoint.url, content=writer.body(), headers=writer.headers
                )
    if response.status_code != 200:
        print(f"HTTP {response.status_code}: {response.text[:500]}")
        return 1
    receipts = print_receipts(response.content)
    ok = (
        len(receipts) == 1
        and receipts[0].get("type") == "application/pdf"
        and receipts[0].get("sha256") == expected
    )
    print(f"sha256 matches the document: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4 * 2**20, help="document size to generate")
    parser.add_argument("--file", type=Path, help="send this file instead")
    parser.add_argument("--trio", action="store_true", help="run on trio instead of asyncio")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.size, args.file, backend="trio" if args.trio else "asyncio"))
