"""Reading a capture: headers first (HTTP or MIME), then the body, streamed.

FILE is a body whose Content-Type is given with ``--content-type``, or a
capture whose headers come first: a saved HTTP request or response (request or
status line, headers, blank line, body; a chunked body is de-chunked) or a MIME
message (headers, blank line, body).  Header lines may end in CRLF or LF; the
body is read as it is, from the file, in chunks of ``READ_SIZE``: a capture of
any size is read with flat memory.  Every problem here is what the capture
holds, reported as `CliError` (one line, exit status 1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from .._core.chunked import ChunkedDecoder

#: The header section of a capture must end within this many bytes.
MAX_HEAD_SIZE = 64 * 1024
#: Bytes read from the input file at a time.
READ_SIZE = 1024 * 1024


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
