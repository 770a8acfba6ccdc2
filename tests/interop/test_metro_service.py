"""The Metro service itself, proven with requests formatted by hand.

These cases do not involve asyncmtom at all: they show that the peer the rest
of the interop suite relies on accepts an MTOM message laid out as DESIGN
section 3 prescribes, reads attachments as streams, and answers as the other
tests expect.
"""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest
from interop_util import (
    NS,
    XOP_NS,
    body_child,
    check_fault,
    digests,
    envelope,
    hand_built_mtom,
    pattern,
    soap_headers,
)

pytestmark = pytest.mark.interop

TIMEOUT = httpx.Timeout(60.0)


@pytest.mark.parametrize("soap", ["11", "12"])
def test_hand_built_mtom_upload(metro, soap: str) -> None:
    data = pattern(1000, seed=7)
    ct, body = hand_built_mtom(soap, "hand", [data])
    headers = {"Content-Type": ct}
    if soap == "11":
        headers["SOAPAction"] = '"urn:asyncmtom:interop:upload"'
    r = httpx.post(metro.url(soap), content=body, headers=headers, timeout=TIMEOUT)
    reply = check_fault(r.status_code, r.headers.get("content-type", ""), r.content)
    [d] = digests(reply)
    assert (d.name, d.size, d.sha256) == ("hand", 1000, hashlib.sha256(data).hexdigest())
    # Metro handed the part over as a stream (StreamingDataHandler.readOnce).
    assert d.streaming is True
    # Metro answers an MTOM request with an MTOM (multipart/related) response.
    assert reply.multipart


def test_hand_built_mtom_upload_many(metro) -> None:
    parts = [pattern(n, seed=i) for i, n in enumerate([0, 1, 5000])]
    ct, body = hand_built_mtom("12", "many", parts)
    r = httpx.post(metro.url("12"), content=body, headers={"Content-Type": ct}, timeout=TIMEOUT)
    reply = check_fault(r.status_code, r.headers.get("content-type", ""), r.content)
    got = [(d.name, d.size, d.sha256) for d in digests(reply)]
    want = [(f"many[{i}]", len(p), hashlib.sha256(p).hexdigest()) for i, p in enumerate(parts)]
    assert got == want


def test_hand_built_mtom_rejects_missing_part(metro) -> None:
    """A reference to a part that is not there is a fault, not a silent empty upload."""
    ct, body = hand_built_mtom("12", "broken", [b"abc"])
    body = body.replace(b"cid:part0@interop.test", b"cid:nowhere@interop.test")
    r = httpx.post(metro.url("12"), content=body, headers={"Content-Type": ct}, timeout=TIMEOUT)
    assert r.status_code == 500
    assert b"Fault" in r.content


@pytest.mark.parametrize("soap", ["11", "12"])
def test_plain_soap_inline_base64(metro, soap: str) -> None:
    data = pattern(3000, seed=1)
    b64 = base64.b64encode(data).decode()
    body = envelope(
        soap, f'<ns:upload xmlns:ns="{NS}"><name>inline</name><data>{b64}</data></ns:upload>'
    )
    r = httpx.post(
        metro.url(soap),
        content=body,
        headers=soap_headers(soap, "urn:asyncmtom:interop:upload"),
        timeout=TIMEOUT,
    )
    reply = check_fault(r.status_code, r.headers.get("content-type", ""), r.content)
    [d] = digests(reply)
    assert (d.size, d.sha256) == (3000, hashlib.sha256(data).hexdigest())
    assert not reply.multipart  # a plain request gets a plain answer
    assert d.streaming is False  # inline base64 is decoded into memory by JAXB


@pytest.mark.parametrize(
    ("accept", "multipart"),
    [(None, False), ("application/xop+xml", True), ("multipart/related", False)],
)
def test_download_mtom_needs_accept_header(metro, accept: str | None, multipart: bool) -> None:
    """Metro answers a plain request with MTOM only when ``Accept`` names application/xop+xml."""
    body = envelope("11", f'<ns:download xmlns:ns="{NS}"><size>300</size></ns:download>')
    headers = soap_headers("11", "urn:asyncmtom:interop:download")
    if accept:
        headers["Accept"] = accept
    r = httpx.post(metro.url("11"), content=body, headers=headers, timeout=TIMEOUT)
    reply = check_fault(r.status_code, r.headers.get("content-type", ""), r.content)
    assert reply.multipart is multipart
    data_el = body_child(reply.root).find("data")
    assert data_el is not None
    if multipart:
        [include] = list(data_el)
        assert include.tag == f"{{{XOP_NS}}}Include"
        cid = include.attrib["href"].removeprefix("cid:")
        assert reply.attachments[cid] == pattern(300)
    else:
        assert base64.b64decode(data_el.text or "") == pattern(300)
