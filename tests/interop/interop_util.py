"""Helpers shared by the interop tests: payloads, SOAP envelopes, reply parsing.

Replies are decoded here with the standard library only (the ``email`` parser
for multipart/related, ElementTree for XML), so that checking a peer's answer
never depends on the code under test.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

NS = "urn:asyncmtom:interop"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
SOAP_NS = {"11": SOAP11_NS, "12": SOAP12_NS}

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# --- payloads: byte i of a payload is (i + seed) % 251 --------------------------------------
#
# 251 is prime, so the pattern never lines up with a chunk or buffer size: a
# chunk dropped, repeated or reordered anywhere changes the digest.

_CYCLE = bytes(range(251)) * 1024  # 251 KiB; any slice of 250 KiB starts anywhere in the cycle
_CHUNK = 250 * KiB


def pattern(size: int, seed: int = 0) -> bytes:
    return b"".join(pattern_chunks(size, seed))


def pattern_chunks(size: int, seed: int = 0, chunk: int = _CHUNK) -> Iterator[bytes]:
    chunk = min(chunk, _CHUNK)
    pos = 0
    while pos < size:
        n = min(chunk, size - pos)
        start = (pos + seed) % 251
        yield _CYCLE[start : start + n]
        pos += n


async def apattern_chunks(size: int, seed: int = 0, chunk: int = _CHUNK) -> AsyncIterator[bytes]:
    for c in pattern_chunks(size, seed, chunk):
        yield c


def pattern_sha256(size: int, seed: int = 0) -> str:
    h = hashlib.sha256()
    for c in pattern_chunks(size, seed):
        h.update(c)
    return h.hexdigest()


# --- replies ---------------------------------------------------------------------------------


class SoapFault(AssertionError):
    """The peer answered with a SOAP fault or an HTTP error."""


@dataclass(frozen=True)
class Digest:
    name: str
    size: int
    sha256: str
    streaming: bool | None


@dataclass
class Reply:
    root: ET.Element
    attachments: dict[str, bytes]
    multipart: bool


def parse_reply(content_type: str, body: bytes) -> Reply:
    """A SOAP reply, plain or MTOM, decoded with the stdlib ``email`` parser."""
    if not content_type.lower().startswith("multipart/"):
        return Reply(ET.fromstring(body), {}, multipart=False)
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    assert not msg.defects, msg.defects
    parts = list(msg.iter_parts())
    assert parts, "multipart reply without parts"
    start = msg.get_param("start")
    root_part = parts[0]
    if start:
        sid = str(start).strip("<>")
        for p in parts:
            if str(p.get("Content-ID", "")).strip("<>") == sid:
                root_part = p
                break
    attachments: dict[str, bytes] = {}
    for p in parts:
        if p is root_part:
            continue
        payload = p.get_payload(decode=True)
        assert isinstance(payload, bytes)
        attachments[str(p.get("Content-ID", "")).strip("<>")] = payload
    root_bytes = root_part.get_payload(decode=True)
    assert isinstance(root_bytes, bytes)
    return Reply(ET.fromstring(root_bytes), attachments, multipart=True)


def check_fault(status: int, content_type: str, body: bytes) -> Reply:
    """Parses the reply; raises SoapFault (with the peer's message) on a fault or HTTP error."""
    try:
        reply = parse_reply(content_type, body) if body else None
    except (ET.ParseError, AssertionError) as exc:
        raise SoapFault(f"HTTP {status}, unparsable reply ({exc}): {body[:2000]!r}") from None
    if reply is not None:
        fault = _find_fault(reply.root)
        if fault is not None:
            raise SoapFault(f"HTTP {status}, SOAP fault: {fault}")
    if status != 200 or reply is None:
        raise SoapFault(f"HTTP {status}: {body[:2000]!r}")
    return reply


def _find_fault(root: ET.Element) -> str | None:
    for ns in (SOAP11_NS, SOAP12_NS):
        fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
        if fault is not None:
            return " | ".join(t.strip() for t in fault.itertext() if t.strip())
    return None


def body_child(root: ET.Element) -> ET.Element:
    for ns in (SOAP11_NS, SOAP12_NS):
        body = root.find(f"{{{ns}}}Body")
        if body is not None:
            return body[0]
    raise AssertionError(f"no SOAP Body in {ET.tostring(root)[:500]!r}")


def _digest(el: ET.Element) -> Digest:
    def text(tag: str) -> str:
        found = el.find(tag)
        if found is None:
            # spyne qualifies the children; Metro leaves them unqualified
            found = el.find(f"{{{NS}}}{tag}")
        assert found is not None, f"no <{tag}> in {ET.tostring(el)!r}"
        return found.text or ""

    streaming = el.find("streaming")
    return Digest(
        name=text("name"),
        size=int(text("size")),
        sha256=text("sha256"),
        streaming=None if streaming is None else streaming.text == "true",
    )


def digests(reply: Reply) -> list[Digest]:
    """The ``return`` elements of an upload or uploadMany response."""
    resp = body_child(reply.root)
    found = resp.findall("return") or resp.findall(f"{{{NS}}}return")
    if not found:
        # spyne: uploadResponse/uploadResult is the digest, and
        # uploadManyResponse/uploadManyResult holds one <digest> per value
        for child in resp:
            found.extend(child.findall(f"{{{NS}}}digest") or [child])
    return [_digest(e) for e in found]


# --- hand-built requests (no asyncmtom involved) ------------------------------------------


def envelope(soap: str, payload: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP_NS[soap]}"><s:Body>{payload}</s:Body></s:Envelope>'
    ).encode()


def soap_headers(soap: str, action: str, content_type: str | None = None) -> dict[str, str]:
    """Headers for a plain (non-MTOM) SOAP request."""
    if soap == "11":
        return {
            "Content-Type": content_type or "text/xml; charset=utf-8",
            "SOAPAction": f'"{action}"',
        }
    return {
        "Content-Type": content_type or f'application/soap+xml; charset=utf-8; action="{action}"'
    }


def hand_built_mtom(
    soap: str, name: str, parts: list[bytes], boundary: str = "MIMEBoundary.4a1f"
) -> tuple[str, bytes]:
    """An MTOM ``upload``/``uploadMany`` request formatted by hand, following DESIGN section 3."""
    op = "upload" if len(parts) == 1 else "uploadMany"
    includes = "".join(
        f'<data><xop:Include xmlns:xop="{XOP_NS}" href="cid:part{i}@interop.test"/></data>'
        for i in range(len(parts))
    )
    root = envelope(soap, f'<ns:{op} xmlns:ns="{NS}"><name>{name}</name>{includes}</ns:{op}>')
    start_info = "text/xml" if soap == "11" else "application/soap+xml"
    out = [
        f"--{boundary}\r\nContent-ID: <root@interop.test>\r\n"
        f'Content-Type: application/xop+xml; charset=UTF-8; type="{start_info}"\r\n'
        "Content-Transfer-Encoding: binary\r\n\r\n".encode(),
        root,
    ]
    for i, data in enumerate(parts):
        out.append(
            f"\r\n--{boundary}\r\nContent-ID: <part{i}@interop.test>\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Transfer-Encoding: binary\r\n\r\n".encode()
        )
        out.append(data)
    out.append(f"\r\n--{boundary}--\r\n".encode())
    ct = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<root@interop.test>"; start-info="{start_info}"'
    )
    return ct, b"".join(out)


def strip_ws(s: str) -> str:
    return re.sub(r"\s+", "", s)


# --- memory of this process ---------------------------------------------------------------


def self_hwm() -> int:
    """This process's peak resident set size in bytes (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def reset_self_hwm() -> bool:
    """Resets VmHWM to the current RSS (Linux ``clear_refs`` 5); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def remove_files(folder: Path, glob: str) -> None:
    for f in folder.glob(glob):
        f.unlink()


def no_files_in(folder: Path) -> bool:
    return not any(folder.iterdir())


# --- the reader -----------------------------------------------------------------------------


def reader():  # type: ignore[no-untyped-def]
    """``asyncmtom.read_mtom``; from its module while the package does not export it yet."""
    import asyncmtom

    read_mtom = getattr(asyncmtom, "read_mtom", None)
    if read_mtom is None:
        from asyncmtom import read_mtom
    return read_mtom


def split_http_message(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    """A recorded HTTP message: (first line, headers with lower-case names, body)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    first, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert int(headers["content-length"]) == len(body)
    return first, headers, body


def include_hrefs(root: ET.Element) -> list[str]:
    """The ``cid:`` hrefs of every xop:Include, in document order, without ``cid:``."""
    out = []
    for el in root.iter(f"{{{XOP_NS}}}Include"):
        href = el.attrib["href"]
        assert href.startswith("cid:"), href
        out.append(href[4:])
    return out
