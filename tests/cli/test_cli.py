"""The command line: ``python -m asyncmtom inspect | unpack | pack``.

Messages come from the writer (and are decoded by the standard library's
``email`` parser as well, tests/helpers/mtomcheck.py) or are captures written by hand
the way other stacks send them: a raw HTTP request with a chunked body,
Metro's unquoted parameters, LF-only header lines, folded headers.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import anyio
import pytest
from mtomcheck import decode_with_email, resolve_xop

from asyncmtom import SOAP11, SOAP12, MtomEncoding, XmlWriter
from asyncmtom.cli import main

XOP = "http://www.w3.org/2004/08/xop/include"
ROOT = Path(__file__).resolve().parent.parent.parent


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("asyncmtom: error: ")
    return lines[0]


async def _writer_message() -> tuple[str, bytes, bytes]:
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action="urn:example:Upload"))
    data = bytes(range(256)) * 8
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Body", SOAP12.namespace, "s"):
            with writer.element("Upload", "urn:example", "ex"):
                with writer.element("name", "urn:example", "ex"):
                    writer.text("scan.pdf & co")
                with writer.element("data", "urn:example", "ex"):
                    await writer.write_bytes(data, content_type="application/pdf")
    body = b"".join([chunk async for chunk in writer.body()])
    return writer.content_type, body, data


def writer_message() -> tuple[str, bytes, bytes]:
    content_type, body, data = anyio.run(_writer_message)
    decoded = decode_with_email(content_type, body)  # not ours
    assert [p for _, p in decoded.parts.values()] == [data]
    return content_type, body, data


# --- inspect -----------------------------------------------------------------------------------


def test_inspect_a_body_with_content_type(tmp_path: Path) -> None:
    content_type, body, data = writer_message()
    (tmp_path / "body.bin").write_bytes(body)
    status, out = run("inspect", "--content-type", content_type, str(tmp_path / "body.bin"))
    assert status == 0, out
    assert "MTOM/XOP (multipart/related)" in out
    assert "application/soap+xml (SOAP 1.2, action urn:example:Upload)" in out
    assert "parts: 1" in out and f"application/pdf  {len(data)} bytes" in out
    assert "/s:Envelope/s:Body/ex:Upload/ex:data  cid:1." in out
    assert f"resolved: {len(data)} bytes, application/pdf" in out
    pretty = out.split("root XML (pretty-printed):\n", 1)[1]
    assert pretty.splitlines()[0].startswith('<s:Envelope xmlns:s="')
    assert "    <ex:Upload" in pretty and "      <ex:name>scan.pdf &amp; co</ex:name>" in pretty
    assert ET.fromstring(pretty)  # the pretty-printed root is still XML


CHUNKED_CAPTURE_ROOT = (
    b'<?xml version="1.0" ?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<S:Body><ns2:upload xmlns:ns2="urn:asyncmtom:interop"><name>x</name><data>'
    b'<Include xmlns="http://www.w3.org/2004/08/xop/include" '
    b'href="cid:b3f1a2c0-1@example.jaxws.sun.com"/></data></ns2:upload></S:Body></S:Envelope>'
)


def metro_style_body(part: bytes) -> bytes:
    boundary = b"uuid:0cbe1d06-b3e2-4f71-ae5e-3c4d1a7d1c2e"
    return (
        b"--" + boundary + b"\r\nContent-Id: <rootpart*0cbe@example.jaxws.sun.com>\r\n"
        b'Content-Type: application/xop+xml;charset=utf-8;type="text/xml"\r\n'
        b"Content-Transfer-Encoding: binary\r\n\r\n"
        + CHUNKED_CAPTURE_ROOT
        + b"\r\n--"
        + boundary
        + b"\r\nContent-Id: <b3f1a2c0-1@example.jaxws.sun.com>\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        + part
        + b"\r\n--"
        + boundary
        + b"--"
    )


METRO_CONTENT_TYPE = (
    b'multipart/related;start="<rootpart*0cbe@example.jaxws.sun.com>";'
    b'type="application/xop+xml";boundary="uuid:0cbe1d06-b3e2-4f71-ae5e-3c4d1a7d1c2e";'
    b'start-info="text/xml"'
)


def chunked(body: bytes, size: int) -> bytes:
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\nX-Trailer: t\r\n\r\n"


def test_inspect_a_raw_http_request_with_a_chunked_body(tmp_path: Path) -> None:
    part = b"\r\n--uuid:0cbe" + bytes(range(256)) * 50  # binary, with a fake delimiter
    capture = (
        b"POST /soap11 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
        b"Content-Type: " + METRO_CONTENT_TYPE + b"\r\n"
        b'SOAPAction: "urn:asyncmtom:interop:upload"\r\nTransfer-Encoding: chunked\r\n\r\n'
        + chunked(metro_style_body(part), 997)
    )
    (tmp_path / "request.http").write_bytes(capture)
    status, out = run("inspect", str(tmp_path / "request.http"))
    assert status == 0, out
    assert out.startswith("capture: POST /soap11 HTTP/1.1\n")
    assert 'SOAPAction: "urn:asyncmtom:interop:upload"' in out
    assert "text/xml (SOAP 1.1)" in out
    assert f"<b3f1a2c0-1@example.jaxws.sun.com>  application/octet-stream  {len(part)} bytes" in out
    assert (
        "/S:Envelope/S:Body/ns2:upload/data  cid:b3f1a2c0-1@example.jaxws.sun.com  resolved" in out
    )
    assert '<?xml version="1.0"?>' in out


def test_inspect_a_mime_message_with_lf_and_folded_headers(tmp_path: Path) -> None:
    head = (
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/related;start="<rootpart*0cbe@example.jaxws.sun.com>";\n'
        b'\ttype="application/xop+xml";boundary="uuid:0cbe1d06-b3e2-4f71-ae5e-3c4d1a7d1c2e"\n\n'
    )
    (tmp_path / "message.eml").write_bytes(head + metro_style_body(b"abc"))
    status, out = run("inspect", str(tmp_path / "message.eml"))
    assert status == 0, out
    assert "application/octet-stream  3 bytes" in out and "resolved: 3 bytes" in out


def test_inspect_a_plain_soap_message(tmp_path: Path) -> None:
    body = b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>'
    (tmp_path / "plain.http").write_bytes(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml; charset=utf-8\r\n\r\n" + body
    )
    status, out = run("inspect", str(tmp_path / "plain.http"))
    assert status == 0
    assert "plain (not multipart)" in out and "parts: 0" in out and "XOP references: 0" in out


def test_inspect_reports_broken_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = (
        b'<r xmlns:xop="http://www.w3.org/2004/08/xop/include">'
        b'<a><xop:Include href="cid:here@x"/></a><a><xop:Include href="cid:gone@x"/></a>'
        b'<b><xop:Include href="http://example.com/data"/></b></r>'
    )
    body = (
        b'--B\r\nContent-ID: <root@x>\r\nContent-Type: application/xop+xml; type="application/xml"'
        b"\r\n\r\n" + root + b"\r\n--B\r\nContent-ID: <here@x>\r\n\r\n123\r\n--B\r\n"
        b"Content-ID: <spare@x>\r\n\r\n\r\n--B--\r\n"
    )
    content_type = 'multipart/related; boundary=B; type="application/xop+xml"; start="<root@x>"'
    (tmp_path / "b.bin").write_bytes(body)
    status, out = run("inspect", "--content-type", content_type, str(tmp_path / "b.bin"))
    assert status == 1
    assert "/r/a  cid:here@x  resolved: 3 bytes" in out
    assert "/r/a[2]  cid:gone@x  BROKEN: names no part of the message" in out
    assert "/r/b  http://example.com/data  BROKEN: not a cid: URL (never fetched)" in out
    assert "<spare@x>  application/octet-stream  0 bytes  (not referenced)" in out
    assert "2 broken XOP reference(s)" in one_error_line(capsys)


def test_inspect_shortens_long_text_unless_full(tmp_path: Path) -> None:
    text = base64.b64encode(os.urandom(3000)).decode()
    (tmp_path / "m.http").write_bytes(
        b"Content-Type: text/xml\r\n\r\n<a><b>" + text.encode() + b"</b></a>"
    )
    status, out = run("inspect", str(tmp_path / "m.http"))
    assert status == 0 and text not in out and f"[{len(text)} characters]" in out
    status, out = run("inspect", "--full", str(tmp_path / "m.http"))
    assert status == 0 and f"<b>{text}</b>" in out


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"--B\r\nContent-ID: <r@x>\r\n\r\n<a/>", None, "starts with a MIME boundary"),
        (b"X-Nothing: here\r\n\r\n<a/>", None, "no Content-Type header"),
        (b"just some text without headers", None, "no blank line"),
        (b"Bad header line\r\n\r\n", None, "is not 'Name: value'"),
        (
            b"--B\r\nContent-ID: <r@x>\r\n\r\n<a/>\r\n--B",
            "multipart/related; boundary=B",
            "truncated",
        ),
        (
            b"--B\r\nContent-ID: <r@x>\r\n\r\n"
            b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>\r\n--B--\r\n",
            "multipart/related; boundary=B",
            "DOCTYPE",
        ),
        (b"Content-Type: text/xml\r\nContent-Encoding: gzip\r\n\r\nxx", None, "gzip"),
        (
            b"Content-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<a/>",
            None,
            "chunked body ends",
        ),
    ],
)
def test_malformed_input_is_one_line_and_status_1(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    content_type: str | None,
    message: str,
) -> None:
    path = tmp_path / "in.bin"
    path.write_bytes(content)
    argv = (
        ["inspect", str(path)]
        if content_type is None
        else ["inspect", "--content-type", content_type, str(path)]
    )
    status, _ = run(*argv)
    assert status == 1
    assert message in one_error_line(capsys)


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _ = run("inspect", str(tmp_path / "nothing.bin"))
    assert status == 1
    assert "nothing.bin" in one_error_line(capsys)


# --- unpack ------------------------------------------------------------------------------------


def test_unpack_writes_parts_root_resolved_and_index(tmp_path: Path) -> None:
    big = os.urandom(1024 * 1024 + 17)  # spooled by the reader, then moved into place
    small = b"<not xml>"
    pdf = tmp_path / "in.pdf"
    pdf.write_bytes(big)

    async def make() -> tuple[str, bytes]:
        writer = XmlWriter(MtomEncoding(soap=SOAP11))
        with writer.element("Envelope", SOAP11.namespace, "soap"):
            with writer.element("Body", SOAP11.namespace, "soap"):
                with writer.element("put", "urn:x"):
                    with writer.element("doc"):
                        await writer.pull_bytes(pdf, content_type="application/pdf")
                    with writer.element("note"):
                        await writer.write_bytes(small, inline=False, content_type="text/plain")
        return writer.content_type, b"".join([c async for c in writer.body()])

    content_type, body = anyio.run(make)
    decoded = decode_with_email(content_type, body)
    (tmp_path / "msg.mime").write_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    status, out = run("unpack", str(tmp_path / "msg.mime"), str(tmp_path / "out" / "deep"))
    assert status == 0, out
    target = tmp_path / "out" / "deep"
    assert sorted(p.name for p in target.iterdir()) == [
        "index.json",
        "part-1.pdf",
        "part-2.txt",
        "resolved.xml",
        "root.xml",
    ]
    assert (target / "part-1.pdf").read_bytes() == big
    assert (target / "part-2.txt").read_bytes() == small
    assert (target / "root.xml").read_bytes() == decoded.root
    resolved = ET.parse(target / "resolved.xml").getroot()
    want = resolve_xop(decoded.root, decoded.parts)
    assert ET.tostring(resolved) == ET.tostring(want)
    index = json.loads((target / "index.json").read_text())
    assert [p["file"] for p in index["parts"]] == ["part-1.pdf", "part-2.txt"]
    assert index["parts"][0]["size"] == len(big) and index["resolved"] == "resolved.xml"


def test_unpack_with_a_broken_reference_keeps_the_parts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content_type, body, _ = writer_message()
    body = body.replace(b'href="cid:1.', b'href="cid:7.', 1)
    (tmp_path / "b.bin").write_bytes(body)
    status, _ = run(
        "unpack", "--content-type", content_type, str(tmp_path / "b.bin"), str(tmp_path / "d")
    )
    assert status == 1
    assert (tmp_path / "d" / "part-1.pdf").exists() and not (
        tmp_path / "d" / "resolved.xml"
    ).exists()
    assert "resolved.xml not written" in one_error_line(capsys)


# --- pack --------------------------------------------------------------------------------------

REQUEST = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{soap}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <!-- dropped -->
  <s:Body>
    <ex:Upload xmlns:ex="urn:example" xmlns:t="urn:types"
               xmlns:xmime="http://www.w3.org/2005/05/xmlmime">
      <ex:name xsi:type="t:Name">report &amp; scan</ex:name>
      <ex:data xmime:contentType="application/x-custom">
        <xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="files/a%20b.dat"/>
      </ex:data>
      <ex:image><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include"
        href="file:picture.png"/></ex:image>
      <ex:empty/>
    </ex:Upload>
  </s:Body>
</s:Envelope>
"""


def _pack_inputs(tmp_path: Path, soap: str) -> tuple[Path, bytes, bytes]:
    (tmp_path / "files").mkdir()
    a = os.urandom(5000)
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)
    (tmp_path / "files" / "a b.dat").write_bytes(a)
    (tmp_path / "picture.png").write_bytes(png)
    xml = tmp_path / "request.xml"
    xml.write_text(REQUEST.format(soap=soap))
    return xml, a, png


@pytest.mark.parametrize("soap", [SOAP11, SOAP12])
def test_pack_makes_a_message_email_decodes(tmp_path: Path, soap: object) -> None:
    assert soap is SOAP11 or soap is SOAP12
    xml, a, png = _pack_inputs(tmp_path, soap.namespace)
    status, out = run("pack", str(xml), "-o", str(tmp_path / "out.bin"), "--action", "urn:x:Up")
    assert status == 0
    content_type = out.strip()
    assert content_type.startswith('multipart/related; type="application/xop+xml"')
    if soap is SOAP12:
        assert 'start-info="application/soap+xml; action=\\"urn:x:Up\\""' in content_type
    else:
        assert 'start-info="text/xml"' in content_type
    decoded = decode_with_email(content_type, (tmp_path / "out.bin").read_bytes())
    assert [t for t, _ in decoded.parts.values()] == ["application/x-custom", "image/png"]
    assert [p for _, p in decoded.parts.values()] == [a, png]
    tree = resolve_xop(decoded.root, decoded.parts)
    ns = {"ex": "urn:example"}
    assert base64.b64decode(tree.find(".//ex:data", ns).text or "") == a  # type: ignore[union-attr]
    # a prefix only an attribute value uses keeps its declaration, where it was written
    assert b'xmlns:t="urn:types"' in decoded.root and b'xsi:type="t:Name"' in decoded.root
    assert b"dropped" not in decoded.root and b"<ex:empty/>" in decoded.root


def test_pack_mime_round_trips_through_inspect_and_unpack(tmp_path: Path) -> None:
    xml, a, png = _pack_inputs(tmp_path, SOAP12.namespace)
    status, _ = run("pack", "--mime", str(xml), "-o", str(tmp_path / "msg.mime"))
    assert status == 0
    status, out = run("inspect", str(tmp_path / "msg.mime"))
    assert status == 0 and out.count("resolved: ") == 2
    status, _ = run("unpack", str(tmp_path / "msg.mime"), str(tmp_path / "u"))
    assert status == 0
    assert (tmp_path / "u" / "part-1.bin").read_bytes() == a
    assert (tmp_path / "u" / "part-2.png").read_bytes() == png


def test_pack_plain_xml_without_soap(tmp_path: Path) -> None:
    (tmp_path / "d.bin").write_bytes(b"\x00" * 100)
    (tmp_path / "doc.xml").write_text(
        f'<doc><blob><i:Include xmlns:i="{XOP}" href="d.bin"/></blob></doc>'
    )
    status, out = run("pack", str(tmp_path / "doc.xml"), "-o", str(tmp_path / "o"))
    assert status == 0 and 'start-info="application/xml"' in out
    decoded = decode_with_email(out.strip(), (tmp_path / "o").read_bytes())
    assert list(decoded.parts.values()) == [("application/octet-stream", b"\x00" * 100)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f'<a><b><xop:Include xmlns:xop="{XOP}" href="cid:x@y"/></b></a>', "local files"),
        (f'<a><b><xop:Include xmlns:xop="{XOP}" href="https://h/x"/></b></a>', "never fetched"),
        (f'<a><b><xop:Include xmlns:xop="{XOP}" href="nope.bin"/></b></a>', "no such file"),
        (f'<a><b>text<xop:Include xmlns:xop="{XOP}" href="d"/></b></a>', "only content"),
        (f'<a><b><xop:Include xmlns:xop="{XOP}" href="d"/>text</b></a>', "only content"),
        (f'<a><b><xop:Include xmlns:xop="{XOP}" href="d"/><c/></b></a>', "only content"),
        (f'<a><b><xop:Include xmlns:xop="{XOP}"/></b></a>', "no href"),
        (f'<xop:Include xmlns:xop="{XOP}" href="d"/>', "inside an element"),
        ("<a><b></a>", "not well-formed"),
        ("<!DOCTYPE a><a/>", "DOCTYPE"),
    ],
)
def test_pack_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    (tmp_path / "d").write_bytes(b"data")
    (tmp_path / "in.xml").write_text(body)
    status, _ = run("pack", str(tmp_path / "in.xml"), "-o", str(tmp_path / "out"))
    assert status == 1
    assert message in one_error_line(capsys)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_pack_action_needs_soap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in.xml").write_text("<a/>")
    status, _ = run(
        "pack", str(tmp_path / "in.xml"), "-o", str(tmp_path / "o"), "--action", "urn:a"
    )
    assert status == 1 and "--action needs a SOAP envelope" in one_error_line(capsys)


def test_pack_refuses_a_bad_action_before_reading_the_xml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.xml"  # never read: the argument is refused first
    status, _ = run("pack", str(missing), "-o", str(tmp_path / "o"), "--action", 'urn:"a"')
    assert status == 1 and "--action: invalid SOAP action" in one_error_line(capsys)
    assert not (tmp_path / "o").exists()


def test_pack_refuses_a_bad_xmime_content_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "d").write_bytes(b"data")
    (tmp_path / "in.xml").write_text(
        f'<a><b xmlns:m="http://www.w3.org/2005/05/xmlmime" m:contentType="nonsense">'
        f'<x:Include xmlns:x="{XOP}" href="d"/></b></a>'
    )
    status, _ = run("pack", str(tmp_path / "in.xml"), "-o", str(tmp_path / "o"))
    assert status == 1 and "<b>: invalid xmime:contentType" in one_error_line(capsys)
    assert not (tmp_path / "o").exists()


# --- python -m asyncmtom -----------------------------------------------------------------------


def test_python_dash_m(tmp_path: Path) -> None:
    (tmp_path / "d").write_bytes(b"x" * 2000)
    (tmp_path / "in.xml").write_text(f'<a><b><x:Include xmlns:x="{XOP}" href="d"/></b></a>')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(tmp_path / "stdout.bin", "wb") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "asyncmtom", "pack", str(tmp_path / "in.xml")],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    content_type = done.stderr.decode().removeprefix("Content-Type: ").strip()
    decoded = decode_with_email(content_type, (tmp_path / "stdout.bin").read_bytes())
    assert [p for _, p in decoded.parts.values()] == [b"x" * 2000]
    usage = subprocess.run(
        [sys.executable, "-m", "asyncmtom", "frobnicate"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2 and b"invalid choice" in usage.stderr
