"""The command line, ``python -m asyncmtom``: look into captured MTOM traffic, or make some.

Three commands, for people debugging SOAP traffic:

- ``inspect [--content-type CT] [--full] FILE`` prints the message: its
  parts (Content-ID, type, size), each XOP reference resolved or broken,
  and the root XML pretty-printed.
- ``unpack [--content-type CT] FILE DIR`` writes the parts, the root as
  received and the resolved XML into DIR, with an ``index.json``.
- ``pack [-o OUT] [--action URI] [--mime] XML`` turns an XML file whose
  ``xop:Include`` hrefs name local files into an MTOM message and prints its
  Content-Type.

Strategy.  The input FILE is a body whose Content-Type is given with
``--content-type``, or, without it, a capture whose headers come first: a
saved HTTP request or response (request or status line, headers, blank line,
body; a chunked body is de-chunked) or a MIME message (headers, blank line,
body).  Header lines may end in CRLF or LF; the body is read as it is.  The
body is streamed from the file into `read_mtom`, so a capture of any size is
read with flat memory (large parts are spooled, and ``unpack`` moves them
into place).  Everything about XOP is judged by the reader; the command line
adds only the per-reference report, which it makes with its own expat pass
over the root (a DOCTYPE is refused there too), and the pretty-printer, which
keeps prefixes and namespace declarations as written and shortens long text
unless ``--full`` is given.

``pack`` parses the XML with expat (namespace-aware, prefixes kept) into a
list of events and replays them through `XmlWriter`: declarations stay where
they were written, comments and processing instructions are dropped, and the
element holding an ``xop:Include`` gets the named file with ``pull_bytes``,
streamed into its own part when the message is written.  An href is a path
relative to the XML file, or a ``file:`` URL; ``cid:`` and network URLs are
refused.  The part's Content-Type is the element's ``xmime:contentType``,
else a guess from the file name.  The SOAP version comes from the root
element (an Envelope in the SOAP 1.1 or 1.2 namespace), else the message is
plain XML with XOP.

Errors.  Malformed input, a missing file, a broken reference: one line on
standard error (``asyncmtom: error: ...``) and exit status 1; a usage
mistake: argparse's message and status 2.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname
from xml.parsers import expat

import anyio

from ._core.chunked import ChunkedDecoder
from ._core.encoding import SOAP11, SOAP12, MtomEncoding, SoapVersion
from ._core.related import cid_from_href, parse_media_type
from ._core.xml import XOP_NAMESPACE
from ._core.xop import find_includes
from ._errors import MtomError, MtomFormatError
from ._message import read_mtom
from ._writer import XmlWriter

__all__ = ["main"]

PROG = "asyncmtom"
#: The header section of a capture must end within this many bytes.
MAX_HEAD_SIZE = 64 * 1024
#: Bytes read from the input file at a time.
READ_SIZE = 1024 * 1024
#: Text longer than this is shortened by ``inspect`` unless ``--full``.
SHORT_TEXT = 120
_SOAP_BY_NAMESPACE: dict[str, SoapVersion] = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}


class CliError(Exception):
    """A problem to report in one line (exit status 1)."""


# --- reading a capture ------------------------------------------------------------------------


@dataclass
class Capture:
    """Where the body of FILE starts, and what its headers said."""

    content_type: str
    offset: int = 0
    chunked: bool = False
    headers: list[tuple[str, str]] = field(default_factory=list)
    first_line: str | None = None


def _is_start_line(line: str) -> bool:
    words = line.split()
    if len(words) >= 2 and words[0].startswith("HTTP/"):
        return True  # a status line
    return len(words) == 3 and words[2].startswith("HTTP/") and words[0].isupper()


def parse_head(head: bytes, name: str) -> Capture:
    """Headers at the start of a capture: ``[start line] headers blank-line``."""
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
    if head.startswith(b"--"):
        raise CliError(
            f"{name} starts with a MIME boundary: it is a bare body; "
            "give its Content-Type with --content-type"
        )
    if not ends:
        raise CliError(
            f"{name}: no blank line ends a header section in its first {len(head)} bytes; "
            "for a bare body give its Content-Type with --content-type"
        )
    end = min(ends)
    offset = end + (4 if head[end : end + 4] == b"\r\n\r\n" else 2)
    text = head[:end].decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    capture = Capture(content_type="", offset=offset)
    if lines and _is_start_line(lines[0]):
        capture.first_line = lines.pop(0)
    for number, line in enumerate(lines, 1):
        if line[:1] in (" ", "\t") and capture.headers:
            header, value = capture.headers[-1]
            capture.headers[-1] = (header, f"{value} {line.strip()}")
            continue
        header, colon, value = line.partition(":")
        if not colon or not header.strip() or " " in header.strip():
            raise CliError(
                f"{name}: header line {number} is not 'Name: value': {line[:60]!r}; "
                "for a bare body give its Content-Type with --content-type"
            )
        capture.headers.append((header.strip(), value.strip()))
    for header, value in capture.headers:
        lowered = header.lower()
        if lowered == "content-type" and not capture.content_type:
            capture.content_type = value
        elif lowered == "transfer-encoding" and "chunked" in value.lower():
            capture.chunked = True
        elif lowered == "content-encoding" and value.lower() not in ("", "identity"):
            raise CliError(f"{name}: Content-Encoding {value!r} is not supported; decode it first")
    if not capture.content_type:
        raise CliError(f"{name} has no Content-Type header; give one with --content-type")
    return capture


async def _body_chunks(path: Path, capture: Capture, counter: list[int]) -> AsyncIterator[bytes]:
    dechunker = ChunkedDecoder() if capture.chunked else None
    async with await anyio.open_file(path, "rb") as file:
        await file.seek(capture.offset)
        while chunk := await file.read(READ_SIZE):
            pieces = dechunker.feed(chunk) if dechunker is not None else [chunk]
            for piece in pieces:
                counter[0] += len(piece)
                yield piece
            if dechunker is not None and dechunker.done:
                return
    if dechunker is not None:
        dechunker.finish()


async def _capture(path: Path, content_type: str | None) -> Capture:
    if content_type is not None:
        return Capture(content_type=content_type)
    async with await anyio.open_file(path, "rb") as file:
        head = await file.read(MAX_HEAD_SIZE)
    return parse_head(head, path.name)


# --- the root XML: references and pretty-printing ----------------------------------------------


@dataclass
class Reference:
    """One ``xop:Include`` of the root: where, what it names, and whether that resolves."""

    path: str
    href: str | None
    problem: str | None = None
    content_id: str | None = None


@dataclass
class _Node:
    name: str
    attributes: list[tuple[str, str]]
    children: list[_Node | str | tuple[str, str]] = field(default_factory=list)


class _RootScanner:
    """One expat pass: a light tree for printing, and every Include with its path."""

    def __init__(self) -> None:
        self.declaration: str | None = None
        self.root: _Node | None = None
        self.references: list[Reference] = []
        self._stack: list[_Node] = []
        self._scopes: list[dict[str, str]] = [{"xml": "http://www.w3.org/XML/1998/namespace"}]
        self._names: list[str] = []
        self._counts: list[dict[str, int]] = [{}]
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.ordered_attributes = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse_doctype
        parser.XmlDeclHandler = self._declaration
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.CommentHandler = self._comment
        self._parser = parser

    def scan(self, xml: bytes) -> _RootScanner:
        try:
            self._parser.Parse(xml, True)
        except expat.ExpatError as error:
            raise MtomFormatError(f"the root part is not well-formed XML: {error}") from None
        return self

    def _refuse_doctype(self, *_: object) -> None:
        raise MtomFormatError("the root XML has a DOCTYPE: refused (no entities, no DTD)")

    def _declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        parts = [f'version="{version}"']
        if encoding:
            parts.append(f'encoding="{encoding}"')
        if standalone != -1:
            parts.append(f'standalone="{"yes" if standalone else "no"}"')
        self.declaration = f"<?xml {' '.join(parts)}?>"

    def _start(self, name: str, flat: list[str]) -> None:
        attributes = list(zip(flat[::2], flat[1::2], strict=True))
        scope = dict(self._scopes[-1])
        for key, value in attributes:
            if key == "xmlns":
                scope[""] = value
            elif key.startswith("xmlns:"):
                scope[key[6:]] = value
        self._scopes.append(scope)
        counts = self._counts[-1]
        counts[name] = counts.get(name, 0) + 1
        self._counts.append({})
        step = name if counts[name] == 1 else f"{name}[{counts[name]}]"
        self._names.append(step)
        node = _Node(name, attributes)
        if self._stack:
            parent = self._stack[-1]
            parent.children.append(node)
        else:
            self.root = node
        self._stack.append(node)
        prefix, _, local = name.rpartition(":")
        if local == "Include" and scope.get(prefix) == XOP_NAMESPACE:
            href = dict(attributes).get("href")
            reference = Reference("/" + "/".join(self._names[:-1]), href)
            if href is None:
                reference.problem = "no href attribute"
            else:
                try:
                    reference.content_id = cid_from_href(href)
                except UnicodeDecodeError:
                    reference.content_id = None
                if reference.content_id is None:
                    reference.problem = "not a cid: URL (never fetched)"
            self.references.append(reference)

    def _end(self, name: str) -> None:
        self._stack.pop()
        self._scopes.pop()
        self._names.pop()
        self._counts.pop()

    def _text(self, text: str) -> None:
        if self._stack:
            self._stack[-1].children.append(text)

    def _comment(self, text: str) -> None:
        if self._stack:
            self._stack[-1].children.append(("comment", text))


def _escape(text: str, quote: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if quote:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text.replace("\r", "&#13;")


def _shorten(text: str, full: bool) -> str:
    if full or len(text) <= SHORT_TEXT:
        return text
    return f"{text[:60]}... [{len(text)} characters]"


def pretty_xml(scanner: _RootScanner, *, full: bool = False, indent: str = "  ") -> str:
    """The scanned document indented; whitespace-only text between elements is dropped."""
    lines: list[str] = []
    if scanner.declaration:
        lines.append(scanner.declaration)

    def start_tag(node: _Node) -> str:
        attrs = "".join(f' {k}="{_escape(_shorten(v, full), True)}"' for k, v in node.attributes)
        return f"<{node.name}{attrs}"

    def emit(node: _Node, depth: int) -> None:
        pad = indent * depth
        structured = any(not isinstance(child, str) for child in node.children)
        if not structured:
            text = "".join(child for child in node.children if isinstance(child, str))
            if text:
                body = _escape(_shorten(text, full))
                lines.append(f"{pad}{start_tag(node)}>{body}</{node.name}>")
            else:
                lines.append(f"{pad}{start_tag(node)}/>")
            return
        lines.append(f"{pad}{start_tag(node)}>")
        for child in node.children:
            if isinstance(child, _Node):
                emit(child, depth + 1)
            elif isinstance(child, tuple):
                lines.append(f"{pad}{indent}<!--{child[1]}-->")
            elif child.strip():
                lines.append(f"{pad}{indent}{_escape(_shorten(child.strip(), full))}")
        lines.append(f"{pad}</{node.name}>")

    if scanner.root is not None:
        emit(scanner.root, 0)
    return "\n".join(lines)


# --- inspect -----------------------------------------------------------------------------------


def _soap_name(media_type: str) -> str:
    return {"text/xml": "SOAP 1.1", "application/soap+xml": "SOAP 1.2"}.get(media_type, "XML")


async def inspect(args: argparse.Namespace, out: IO[str]) -> int:
    """``inspect``: print parts, references and the root XML; 1 if anything is broken."""
    path = Path(args.file)
    capture = await _capture(path, args.content_type)
    counter = [0]
    async with read_mtom(capture.content_type, _body_chunks(path, capture, counter)) as message:
        if capture.first_line:
            out.write(f"capture: {capture.first_line}\n")
        for header, value in capture.headers:
            if header.lower() in ("soapaction", "content-length", "transfer-encoding"):
                out.write(f"{header}: {value}\n")
        out.write(f"Content-Type: {capture.content_type}\n")
        kind = "MTOM/XOP (multipart/related)" if message.is_multipart else "plain (not multipart)"
        out.write(f"message: {kind}, {counter[0]} bytes of body\n")
        soap = _soap_name(message.media_type)
        action = f", action {message.action}" if message.action else ""
        out.write(f"root XML: {message.media_type or 'unknown'} ({soap}{action})\n")
        root_id = f"<{message.root_content_id}>" if message.root_content_id else "(no Content-ID)"
        out.write(
            f"  root part  {root_id}  {message.root_content_type}  {len(message.root)} bytes\n"
        )
        problems: list[str] = []
        scanner: _RootScanner | None = None
        try:
            scanner = _RootScanner().scan(message.root)
        except MtomFormatError as error:
            problems.append(str(error))
        references = scanner.references if scanner is not None else []
        referenced = {r.content_id for r in references if r.content_id is not None}
        out.write(f"parts: {len(message.attachments)}\n")
        for attachment in message.attachments.values():
            unused = "" if attachment.content_id in referenced else "  (not referenced)"
            out.write(
                f"  <{attachment.content_id}>  {attachment.content_type}  "
                f"{attachment.size} bytes{unused}\n"
            )
        out.write(f"XOP references: {len(references)}\n")
        broken = 0
        for reference in references:
            target = (
                message.attachments.get(reference.content_id)
                if reference.content_id is not None
                else None
            )
            if reference.problem is None and target is None:
                reference.problem = "names no part of the message"
            if reference.problem is not None:
                broken += 1
                status = f"BROKEN: {reference.problem}"
            else:
                assert target is not None
                status = f"resolved: {target.size} bytes, {target.content_type}"
            out.write(f"  {reference.path}  {reference.href or '-'}  {status}\n")
        if broken:
            problems.append(f"{broken} broken XOP reference(s)")
        elif scanner is not None:
            try:
                find_includes(message.root)  # the reader's own rules (sole content, ...)
            except MtomFormatError as error:
                problems.append(str(error))
        if scanner is not None:
            out.write("root XML (pretty-printed):\n")
            out.write(pretty_xml(scanner, full=args.full) + "\n")
    if problems:
        raise CliError("; ".join(problems))
    return 0


# --- unpack ------------------------------------------------------------------------------------


def _extension(content_type: str) -> str:
    essence = parse_media_type(content_type).essence
    guessed = mimetypes.guess_extension(essence) if essence else None
    return guessed or ".bin"


async def unpack(args: argparse.Namespace, out: IO[str]) -> int:
    """``unpack``: parts, ``root.xml``, ``resolved.xml`` and ``index.json`` into DIR."""
    path = Path(args.file)
    target = Path(args.dir)
    capture = await _capture(path, args.content_type)
    await anyio.Path(target).mkdir(parents=True, exist_ok=True)
    counter = [0]
    async with read_mtom(
        capture.content_type, _body_chunks(path, capture, counter), spool_dir=target
    ) as message:
        index: dict[str, Any] = {
            "content_type": capture.content_type,
            "root": {
                "file": "root.xml",
                "content_id": message.root_content_id,
                "content_type": message.root_content_type,
                "size": len(message.root),
            },
            "parts": [],
        }
        await anyio.Path(target / "root.xml").write_bytes(message.root)
        out.write(f"root.xml  {len(message.root)} bytes (as received)\n")
        for number, attachment in enumerate(message.attachments.values(), 1):
            name = f"part-{number}{_extension(attachment.content_type)}"
            await attachment.save(target / name)
            index["parts"].append(
                {
                    "file": name,
                    "content_id": attachment.content_id,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                }
            )
            out.write(
                f"{name}  <{attachment.content_id}>  {attachment.content_type}  "
                f"{attachment.size} bytes\n"
            )
        problem: str | None = None
        resolved = target / "resolved.xml"
        try:
            async with await anyio.open_file(resolved, "wb") as file:
                async for chunk in message.iter_resolved():
                    await file.write(chunk)
        except MtomFormatError as error:
            resolved.unlink(missing_ok=True)
            problem = f"resolved.xml not written: {error}"
        else:
            index["resolved"] = "resolved.xml"
            out.write(f"resolved.xml  {resolved.stat().st_size} bytes\n")
        (target / "index.json").write_text(json.dumps(index, indent=2) + "\n")
        out.write("index.json\n")
    if problem is not None:
        raise CliError(problem)
    return 0


# --- pack --------------------------------------------------------------------------------------


@dataclass
class _Start:
    namespace: str | None
    local: str
    prefix: str | None
    declarations: list[tuple[str, str]]
    attributes: list[tuple[str | None, str, str | None, str]]
    include: Path | None = None  # the file of the xop:Include this element holds
    has_xmime_type: bool = False


_Event = _Start | str | None  # a start, text, or None for an end


def _split_name(name: str) -> tuple[str | None, str, str | None]:
    parts = name.split(" ")
    if len(parts) == 1:
        return None, parts[0], None
    if len(parts) == 2:
        return parts[0], parts[1], None
    return parts[0], parts[1], parts[2]


def _include_path(href: str, base: Path) -> Path:
    scheme = urlparse(href).scheme.lower()
    if scheme == "cid":
        raise CliError(
            f"xop:Include href {href!r}: pack needs hrefs naming local files "
            "(it makes the Content-IDs itself)"
        )
    if scheme == "file":
        parsed = urlparse(href)
        local = url2pathname(unquote(parsed.path))
        return (base / local) if not os.path.isabs(local) else Path(local)
    if len(scheme) > 1:
        raise CliError(f"xop:Include href {href!r} is not a local file (never fetched)")
    return base / unquote(href)


def parse_for_pack(xml: bytes, base: Path) -> list[_Event]:
    """The events of *xml*, each ``xop:Include`` folded into its parent's start."""
    events: list[_Event] = []
    pending: list[tuple[str, str]] = []
    starts: list[_Start | None] = []  # None marks an xop:Include
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.ordered_attributes = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_doctype(*_: object) -> None:
        raise CliError("the XML has a DOCTYPE: refused (no entities, no DTD)")

    def namespace(prefix: str | None, uri: str | None) -> None:
        pending.append((prefix or "", uri or ""))

    def start(name: str, flat: list[str]) -> None:
        namespace_uri, local, prefix = _split_name(name)
        if namespace_uri == XOP_NAMESPACE and local == "Include":
            parent = starts[-1] if starts else None
            if parent is None:
                raise CliError("an xop:Include must be inside an element, not the root or another")
            if parent.include is not None:
                raise CliError(f"<{parent.local}> holds two xop:Include elements")
            while events and _is_space(events[-1]):
                events.pop()  # indentation before the Include
            if events[-1] is not parent:
                raise CliError(f"xop:Include must be the only content of <{parent.local}>")
            href = dict(zip(flat[::2], flat[1::2], strict=True)).get("href")
            if href is None:
                raise CliError("an xop:Include has no href")
            parent.include = _include_path(href, base)
            pending.clear()
            starts.append(None)
            return
        if starts and starts[-1] is not None and starts[-1].include is not None:
            raise CliError(f"xop:Include must be the only content of <{starts[-1].local}>")
        attributes: list[tuple[str | None, str, str | None, str]] = []
        has_type = False
        for key, value in zip(flat[::2], flat[1::2], strict=True):
            attr_ns, attr_local, attr_prefix = _split_name(key)
            if attr_ns == "http://www.w3.org/2005/05/xmlmime" and attr_local == "contentType":
                has_type = True
            attributes.append((attr_ns, attr_local, attr_prefix, value))
        event = _Start(namespace_uri, local, prefix, list(pending), attributes)
        event.has_xmime_type = has_type
        pending.clear()
        starts.append(event)
        events.append(event)

    def end(name: str) -> None:
        if starts.pop() is not None:
            events.append(None)

    def text(data: str) -> None:
        if starts and starts[-1] is None:
            if data.strip():
                raise CliError("an xop:Include has text content")
            return
        if starts and starts[-1] is not None and starts[-1].include is not None:
            if data.strip():
                raise CliError(f"xop:Include must be the only content of <{starts[-1].local}>")
            return
        events.append(data)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.StartNamespaceDeclHandler = namespace
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(xml, True)
    except expat.ExpatError as error:
        raise CliError(f"the XML is not well-formed: {error}") from None
    return events


def _is_space(event: _Event) -> bool:
    return isinstance(event, str) and not event.strip()


def _declare(writer: XmlWriter, prefix: str, namespace: str) -> None:
    """Keep a declaration where it was written, even if no name uses it (QName values)."""
    writer.namespace(prefix or None, namespace or None)


async def build_message(xml: bytes, base: Path, action: str | None) -> tuple[XmlWriter, int]:
    """An `XmlWriter` holding *xml*, each Include's file as a part; and the part count."""
    events = parse_for_pack(xml, base)
    first = next((e for e in events if isinstance(e, _Start)), None)
    soap: SoapVersion | None = None
    if first is not None and first.local == "Envelope":
        soap = _SOAP_BY_NAMESPACE.get(first.namespace or "")
    if action is not None and soap is None:
        raise CliError("--action needs a SOAP envelope (the root element is not one)")
    writer = XmlWriter(MtomEncoding(soap=soap, action=action))
    parts = 0
    depth = 0
    for event in events:
        if isinstance(event, _Start):
            writer.start_element(event.local, event.namespace, event.prefix)
            for prefix, uri in event.declarations:
                _declare(writer, prefix, uri)
            for attr_ns, attr_local, attr_prefix, value in event.attributes:
                writer.attribute(attr_local, value, attr_ns, attr_prefix)
            depth += 1
            if event.include is not None:
                file = event.include
                if not file.is_file():
                    raise CliError(f"{file}: no such file (named by an xop:Include href)")
                content_type = None
                if not event.has_xmime_type:
                    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                await writer.pull_bytes(file, content_type=content_type, inline=False)
                parts += 1
        elif event is None:
            writer.end_element()
            depth -= 1
        elif depth:
            writer.text(event)
    return writer, parts


class _FileSink:
    def __init__(self, file: Any) -> None:
        self._file = file

    async def send(self, data: bytes) -> None:
        await self._file.write(data)


async def pack(args: argparse.Namespace, out: IO[str]) -> int:
    """``pack``: write the MTOM message to OUT (or standard output); print its Content-Type."""
    source = Path(args.xml)
    xml = await anyio.Path(source).read_bytes()
    writer, _parts = await build_message(xml, source.parent, args.action)
    head = b""
    if args.mime:
        lines = [f"{name}: {value}" for name, value in writer.headers.items()]
        head = ("\r\n".join([*lines, "MIME-Version: 1.0"]) + "\r\n\r\n").encode("ascii")
    if args.output in (None, "-"):
        stdout = sys.stdout.buffer
        if stdout.isatty():
            raise CliError("refusing to write a binary message to a terminal; use -o OUT")
        stdout.write(head)
        async with aclosing(writer.body()) as chunks:
            async for chunk in chunks:
                stdout.write(chunk)
        stdout.flush()
        sys.stderr.write(f"Content-Type: {writer.content_type}\n")
        return 0
    target = Path(args.output)
    partial = target.with_name(target.name + ".partial")
    try:
        async with await anyio.open_file(partial, "wb") as file:
            await file.write(head)
            await writer.write_to(_FileSink(file))
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    out.write(writer.content_type + "\n")
    return 0


# --- main --------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PROG}",
        description="Inspect, unpack and make MTOM/XOP (multipart/related) SOAP messages.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    helps = {
        "content_type": "the body's Content-Type; without it FILE must start with headers "
        "(a saved HTTP request or response, or a MIME message)",
        "file": "a captured message: a body (with --content-type) or headers, a blank line, body",
    }
    inspect_cmd = commands.add_parser(
        "inspect",
        help="print parts, XOP references and the root XML",
        description="Print each part (Content-ID, type, size), each XOP reference resolved "
        "or broken, and the root XML pretty-printed. Exit status 1 if anything is broken.",
    )
    inspect_cmd.add_argument("--content-type", metavar="CT", help=helps["content_type"])
    inspect_cmd.add_argument("--full", action="store_true", help="do not shorten long text")
    inspect_cmd.add_argument("file", metavar="FILE", help=helps["file"])
    unpack_cmd = commands.add_parser(
        "unpack",
        help="write the parts and the resolved XML into a directory",
        description="Write root.xml (as received), resolved.xml (each xop:Include replaced "
        "by base64), part-N.EXT for every part and index.json into DIR (created if needed; "
        "files of those names are replaced).",
    )
    unpack_cmd.add_argument("--content-type", metavar="CT", help=helps["content_type"])
    unpack_cmd.add_argument("file", metavar="FILE", help=helps["file"])
    unpack_cmd.add_argument("dir", metavar="DIR", help="the directory to write into")
    pack_cmd = commands.add_parser(
        "pack",
        help="make an MTOM message from XML whose xop:Include hrefs name local files",
        description="Each xop:Include href (a path relative to XML, or a file: URL) becomes "
        "a part holding that file. The message goes to OUT and its Content-Type is printed; "
        "without -o the message goes to standard output and the Content-Type to standard "
        "error.",
    )
    pack_cmd.add_argument("xml", metavar="XML", help="the XML file")
    pack_cmd.add_argument("-o", "--output", metavar="OUT", help="where to write the message")
    pack_cmd.add_argument("--action", metavar="URI", help="the SOAP action")
    pack_cmd.add_argument(
        "--mime",
        action="store_true",
        help="write the HTTP headers first (a MIME message 'inspect' reads without --content-type)",
    )
    return parser


async def _run(args: argparse.Namespace, out: IO[str]) -> int:
    if args.command == "inspect":
        return await inspect(args, out)
    if args.command == "unpack":
        return await unpack(args, out)
    return await pack(args, out)


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status."""
    args = _parser().parse_args(argv)
    stream = out if out is not None else sys.stdout
    try:
        return anyio.run(_run, args, stream)
    except (CliError, MtomError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        sys.stderr.write(f"{PROG}: error: {message}\n")
        return 1
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        sys.stderr.write(f"{PROG}: error: {where}{error.strerror or error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
