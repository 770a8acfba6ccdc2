"""Sans-I/O decoding of an HTTP/1.1 chunked body (RFC 9112 section 7.1).

Used where asyncmtom reads raw HTTP itself: a captured request or response
given to the command line.  HTTP clients undo chunking before the reader sees
a body, so the reader proper never needs this.

Rules.

- Bytes in, data out: `ChunkedDecoder.feed` takes any slice of the body and
  returns the chunk data it completes, as slices of its input; it keeps at
  most one partial size line between calls.
- A chunk size line is hexadecimal digits, optionally followed by ``;``
  extensions (ignored); it may be at most 1 KiB long.
- Each chunk's data is followed by a line break (CRLF, or a bare LF as lenient
  servers write); anything else is refused.
- The last chunk has size 0; `done` becomes true there, and whatever follows
  (trailer fields) is ignored.  A body that ends before it is truncated:
  `finish` refuses it.
- Malformed input is what a peer sent: `MtomFormatError`.
"""

from __future__ import annotations

from .._errors import MtomFormatError

__all__ = ["ChunkedDecoder"]

#: The longest chunk size line accepted (with its extensions).
MAX_SIZE_LINE = 1024


class ChunkedDecoder:
    """Incremental decoder of an HTTP/1.1 chunked body."""

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0  # data bytes left in the current chunk
        self._need_crlf = False
        #: True once the last (empty) chunk has been read.
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        """The chunk data completed by ``data``, in order."""
        out: list[bytes] = []
        buffer = self._buffer + data
        while buffer and not self.done:
            if self._remaining:
                piece = buffer[: self._remaining]
                out.append(piece)
                self._remaining -= len(piece)
                buffer = buffer[len(piece) :]
                if not self._remaining:
                    self._need_crlf = True
                continue
            if self._need_crlf:
                if len(buffer) < 2 and buffer in (b"\r", b""):
                    break
                if buffer.startswith(b"\r\n"):
                    buffer = buffer[2:]
                elif buffer.startswith(b"\n"):
                    buffer = buffer[1:]
                else:
                    raise MtomFormatError("malformed chunked body: no line break after a chunk")
                self._need_crlf = False
                continue
            line_end = buffer.find(b"\n")
            if line_end < 0:
                if len(buffer) > MAX_SIZE_LINE:
                    raise MtomFormatError("malformed chunked body: a chunk size line is too long")
                break
            line = buffer[:line_end].rstrip(b"\r").split(b";")[0].strip()
            buffer = buffer[line_end + 1 :]
            try:
                size = int(line, 16)
            except ValueError:
                raise MtomFormatError(
                    f"malformed chunked body: bad chunk size {line[:20]!r}"
                ) from None
            if size == 0:
                self.done = True
            self._remaining = size
        self._buffer = buffer
        return out

    def finish(self) -> None:
        """The body has ended: refuse it unless the last chunk was read."""
        if not self.done:
            raise MtomFormatError("the chunked body ends before its last (empty) chunk")
