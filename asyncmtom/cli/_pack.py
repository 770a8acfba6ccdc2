"""``pack``: XML whose ``xop:Include`` hrefs name local files, as an MTOM message.

The XML is parsed with expat (namespace-aware, prefixes kept) into a list of
events replayed through `XmlWriter`: declarations stay where they were
written, comments and processing instructions are dropped, and the element
holding an ``xop:Include`` gets the named file with ``pull_bytes``, streamed
into its own part when the message is written.  An href is a path relative to
the XML file, or a ``file:`` URL; ``cid:`` and network URLs are refused.  The
part's Content-Type is the element's ``xmime:contentType``, else a guess from
the file name.  The SOAP version comes from the root element (an Envelope in
the SOAP 1.1 or 1.2 namespace), else the message is plain XML with XOP.

A value the writer refuses as a caller's mistake (`ValueError`) is the user's:
``--action`` is checked before the XML is read, an ``xmime:contentType`` when
its element is replayed, and either is reported as one line (`CliError`).
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import sys
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname
from xml.parsers import expat

import anyio

from .._core.encoding import SOAP11, SOAP12, MtomEncoding, SoapVersion
from .._core.mime import DEFAULT_PART_CONTENT_TYPE, check_action
from .._core.xml import XOP_NAMESPACE
from .._core.xop import hardened_parser
from .._tree import StartTag, write_start
from .._writer import XmlWriter
from ._capture import CliError

_SOAP_BY_NAMESPACE: dict[str, SoapVersion] = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}


@dataclass
class _Start(StartTag):
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
    pending: list[tuple[str | None, str | None]] = []
    starts: list[_Start | None] = []  # None marks an xop:Include
    parser = hardened_parser("the XML", CliError, namespace_separator=" ")
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.ordered_attributes = True

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
            write_start(writer, event)
            depth += 1
            if event.include is not None:
                file = event.include
                if not file.is_file():
                    raise CliError(f"{file}: no such file (named by an xop:Include href)")
                content_type = None
                if not event.has_xmime_type:
                    content_type = mimetypes.guess_type(file.name)[0] or DEFAULT_PART_CONTENT_TYPE
                try:
                    await writer.pull_bytes(file, content_type=content_type, inline=False)
                except ValueError as error:  # the writer refuses the element's xmime:contentType
                    raise CliError(f"<{event.local}>: {error}") from None
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
    if args.action is not None:
        try:
            check_action(args.action)
        except ValueError as error:
            raise CliError(f"--action: {error}") from None
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
