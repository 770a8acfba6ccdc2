"""Decode messages with decoders that are not ours, and check the MTOM wire rules.

`decode_with_email` parses a body with the standard library's ``email``
package (it must report no defects); `resolve_xop` uses ``xml.etree`` to put
each attachment back into the XML as base64, so tests compare the infoset the
sender meant with the one a receiver gets.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

XOP = "http://www.w3.org/2004/08/xop/include"
CONTENT_ID = re.compile(r"<([A-Za-z0-9.\-]+@[A-Za-z0-9.\-]+)>")


@dataclass
class Decoded:
    root: bytes
    root_headers: dict[str, str]
    parts: dict[str, tuple[str, bytes]]  # content id -> (content type, bytes)
    order: list[str]


def decode_with_email(content_type: str, body: bytes) -> Decoded:
    """Parse an MTOM body with ``email``; assert the wire rules on the way."""
    assert body.startswith(b"--"), "no preamble: the body starts with the first delimiter"
    assert body.endswith(b"--\r\n"), "the body ends with the closing delimiter and CRLF"
    message = email.message_from_bytes(
        b"Content-Type: " + content_type.encode("ascii") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body,
        policy=email.policy.HTTP,
    )
    assert not message.defects, message.defects
    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "application/xop+xml"
    start = message.get_param("start")
    start_info = message.get_param("start-info")
    boundary = message.get_boundary()
    assert boundary is not None and 1 <= len(boundary) <= 70
    for name in ("type", "boundary", "start", "start-info"):
        assert re.search(rf'{name}="', content_type), f"parameter {name} is quoted"
    parts = list(message.iter_parts())
    assert parts, "at least the root part"
    root = parts[0]
    assert not root.defects, root.defects
    assert root["Content-ID"] == start, "the root part comes first and is named by start"
    assert root.get_content_type() == "application/xop+xml"
    assert root.get_param("type") == start_info
    assert root.get_content_charset() == "utf-8"
    assert root["Content-Transfer-Encoding"] in ("binary", "8bit")
    decoded = Decoded(
        root=root.get_payload(decode=True),
        root_headers={k: str(v) for k, v in root.items()},
        parts={},
        order=[],
    )
    for part in parts[1:]:
        assert not part.defects, part.defects
        match = CONTENT_ID.fullmatch(part["Content-ID"])
        assert match, f"Content-ID {part['Content-ID']!r} uses [A-Za-z0-9.-]@domain"
        assert part["Content-Transfer-Encoding"] == "binary"
        content_id = match.group(1)
        assert content_id not in decoded.parts, "Content-IDs are unique"
        payload = part.get_payload(decode=True)
        decoded.parts[content_id] = (part.get_content_type(), payload)
        decoded.order.append(content_id)
    return decoded


def resolve_xop(root: bytes, parts: dict[str, tuple[str, bytes]]) -> ET.Element:
    """Replace every xop:Include by the base64 of its part; check each one is the sole child."""
    tree = ET.fromstring(root)
    used = []
    for parent in tree.iter():
        for child in list(parent):
            if child.tag == f"{{{XOP}}}Include":
                assert len(parent) == 1 and not (parent.text or "").strip(), "sole child"
                href = child.get("href")
                assert href is not None and href.startswith("cid:")
                content_id = href[4:]
                assert content_id in parts, f"href {href} names a part"
                used.append(content_id)
                parent.remove(child)
                parent.text = base64.b64encode(parts[content_id][1]).decode("ascii")
    assert sorted(used) == sorted(parts), "every part is referenced exactly once"
    return tree


def document_order_ids(root: bytes) -> list[str]:
    tree = ET.fromstring(root)
    return [e.get("href", "")[4:] for e in tree.iter(f"{{{XOP}}}Include")]


def canonical(element: ET.Element) -> str:
    return ET.canonicalize(ET.tostring(element), strip_text=False)
