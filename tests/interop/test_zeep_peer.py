"""zeep, the Python SOAP client, beside Metro and asyncmtom.

zeep sends plain SOAP only (inline base64; it has no MTOM writer), and reads
MTOM replies.  These tests pin down how it differs from Metro and from
asyncmtom's reader:

- zeep loads Metro's WSDL, whose schema imports the xmlmime schema from
  www.w3.org: tests give zeep a transport that serves a stub of that schema
  and refuses every address but 127.0.0.1.
- Metro answers a plain request with MTOM only when ``Accept`` names
  application/xop+xml; zeep sends no such header unless told to.
- zeep takes the first MIME part as the root (it ignores ``start``) and matches
  ``cid:`` hrefs to Content-ID headers after percent-decoding them.
- zeep strips CR and LF bytes from both ends of every part whose
  Content-Transfer-Encoding is ``binary``: a binary value that starts or ends
  with one comes out shorter.  Metro and asyncmtom both label parts ``binary``
  (as the MTOM specifications say); asyncmtom's reader keeps every byte.
- zeep decodes the MTOM messages asyncmtom's writer produces (both SOAP
  versions, inline and part values alike), with the same CR/LF caveat.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import anyio
import pytest
import requests
import zeep
from interop_util import NS, MiB, pattern, pattern_sha256, reader, split_http_message
from requests.structures import CaseInsensitiveDict

from asyncmtom import SOAP11, SOAP12, MtomEncoding, XmlWriter

pytestmark = pytest.mark.interop

XMIME_URL = "http://www.w3.org/2005/05/xmlmime"
XMIME_STUB = (
    b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    b'targetNamespace="http://www.w3.org/2005/05/xmlmime">'
    b'<xs:attribute name="contentType" type="xs:string"/>'
    b'<xs:attribute name="expectedContentTypes" type="xs:string"/>'
    b"</xs:schema>"
)


class LocalTransport(zeep.Transport):
    """Loads documents from 127.0.0.1 only; serves a stub of the xmlmime schema."""

    def __init__(self, accept: str | None = None, reply: tuple[str, bytes] | None = None) -> None:
        session = requests.Session()
        if accept:
            session.headers["Accept"] = accept
        super().__init__(session=session, timeout=60, operation_timeout=120)
        self.reply = reply

    def load(self, url: str) -> bytes:
        if url == XMIME_URL:
            return XMIME_STUB
        assert urlsplit(url).hostname == "127.0.0.1", f"refusing to fetch {url}"
        return super().load(url)

    def post_xml(self, address, envelope, headers):  # type: ignore[no-untyped-def]
        assert urlsplit(address).hostname == "127.0.0.1", f"refusing to post to {address}"
        if self.reply is None:
            return super().post_xml(address, envelope, headers)
        # Answer with a prepared message instead of the network.
        content_type, body = self.reply
        response = requests.Response()
        response.status_code = 200
        response.headers = CaseInsensitiveDict({"Content-Type": content_type})
        response._content = body
        response.url = address
        return response


def metro_client(metro, soap: str, **kw) -> zeep.Client:  # type: ignore[no-untyped-def]
    return zeep.Client(metro.url(soap) + "?wsdl", transport=LocalTransport(**kw))


@pytest.mark.parametrize("accept", [None, "application/xop+xml"])
@pytest.mark.parametrize("soap", ["11", "12"])
def test_zeep_and_metro(metro, soap: str, accept: str | None) -> None:
    client = metro_client(metro, soap, accept=accept)
    data = client.service.download(5000)
    assert data == pattern(5000)
    result = client.service.upload("zeep", pattern(3000, 1))
    assert (result.size, result.sha256) == (3000, pattern_sha256(3000, 1))
    assert result.streaming is False  # zeep sent inline base64


def test_zeep_strips_crlf_from_binary_parts(metro) -> None:
    """Metro's MTOM answer of 11 bytes ends with LF: zeep returns 10, the reader 11."""
    plain = metro_client(metro, "11").service.download(11)
    assert plain == pattern(11)  # inline base64: exact
    mtom = metro_client(metro, "11", accept="application/xop+xml").service.download(11)
    assert mtom == pattern(11)[:-1], "zeep no longer strips CR/LF: update docs/interop.md"


def test_reader_keeps_crlf_where_zeep_strips(metro) -> None:
    """The same kind of answer, read by asyncmtom's reader: every byte is kept."""
    import httpx

    body = (
        f'<s:Envelope xmlns:s="{SOAP11.namespace}"><s:Body><ns:download xmlns:ns="{NS}">'
        "<size>14</size></ns:download></s:Body></s:Envelope>"
    ).encode()
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"urn:asyncmtom:interop:download"',
        "Accept": "application/xop+xml",
    }
    r = httpx.post(metro.url("11"), content=body, headers=headers, timeout=60)

    async def read() -> bytes:
        async with reader()(r.headers["content-type"], r.content) as msg:
            [att] = msg.attachments.values()
            return await att.read()

    assert anyio.run(read) == pattern(14)  # ends with CR


# --- zeep reading the MTOM messages asyncmtom writes ------------------------------------


async def mtom_download_response(soap: str, data: bytes) -> tuple[str, bytes]:
    version = SOAP11 if soap == "11" else SOAP12
    writer = XmlWriter(MtomEncoding(soap=version))
    with writer.element("Envelope", version.namespace, "S"):
        with writer.element("Body", version.namespace, "S"):
            with writer.element("downloadResponse", NS, "ns2"):
                with writer.element("data"):
                    await writer.write_bytes(data)
    body = b"".join([chunk async for chunk in writer.body()])
    assert writer.content_length == len(body)
    return writer.content_type, body


@pytest.mark.parametrize("size", [0, 1, 767, 768, 1 * MiB])
@pytest.mark.parametrize("soap", ["11", "12"])
def test_zeep_reads_asyncmtom_messages(metro, soap: str, size: int) -> None:
    data = pattern(size, 2)
    reply = anyio.run(mtom_download_response, soap, data)
    client = metro_client(metro, soap, reply=reply)
    got = client.service.download(size)
    assert hashlib.sha256(got or b"").hexdigest() == hashlib.sha256(data).hexdigest()


def test_zeep_strips_crlf_from_asyncmtom_parts(metro) -> None:
    """1015 bytes of the pattern end with LF: zeep drops it from asyncmtom's part too."""
    data = pattern(1015)
    assert data.endswith(b"\n")
    reply = anyio.run(mtom_download_response, "12", data)
    got = metro_client(metro, "12", reply=reply).service.download(1015)
    assert got == data[:-1], "zeep no longer strips CR/LF: update docs/interop.md"


def test_zeep_reads_metro_recordings(metro) -> None:
    """zeep decodes the recorded Metro download responses (3000 bytes, no CR/LF at the ends)."""
    from pathlib import Path

    data_dir = Path(__file__).resolve().parent / "data"
    for soap in ("11", "12"):
        raw = (data_dir / f"metro-soap{soap}-download-response.http").read_bytes()
        _, headers, body = split_http_message(raw)
        client = metro_client(metro, soap, reply=(headers["content-type"], body))
        assert client.service.download(3000) == pattern(3000)
