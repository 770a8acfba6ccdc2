"""``inspect``: parts, XOP references resolved or broken, the root pretty-printed.

Everything about XOP is judged by the reader; this module adds only the
per-reference report, made with its own expat pass over the root (a DOCTYPE is
refused there too), and the pretty-printer, which keeps prefixes and namespace
declarations as written and shortens long text (beyond ``SHORT_TEXT``) unless
``--full`` is given.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.parsers import expat

from .._core.related import cid_from_href
from .._core.xml import XOP_NAMESPACE
from .._core.xop import find_includes, hardened_parser
from .._errors import MtomFormatError
from .._message import read_mtom
from ._capture import CliError, _body_chunks, _capture

#: Text longer than this is shortened by ``inspect`` unless ``--full``.
SHORT_TEXT = 120


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
        parser = hardened_parser("the root XML")
        parser.buffer_text = True
        parser.ordered_attributes = True
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
