"""The benchmark's receiving end: a minimal HTTP/1.1 server that counts bytes.

Strategy: the receiver must never be the bottleneck, so that what the table
measures is the sender.  It runs in its own process, one blocking thread per
connection (there is only ever one busy connection at a time), and reads with
``recv_into`` into one preallocated 1 MiB buffer: no allocation per read, no
copy of the body, no parsing of the payload.  A body with ``Content-Length`` is
received in reads bounded by the bytes still expected; a chunked body is walked
by its framing, each chunk's data counted straight out of the buffer or out of
further reads bounded by the chunk's size.  Where the count of body bytes still
to come is known, they are received with ``MSG_TRUNC``, with which Linux TCP
discards them in the kernel instead of copying them out (``--copy`` receives
them into the buffer instead, as a server that uses the data would).  With
``--hash`` the decoded body is also fed to SHA-256 (it implies ``--copy``; off
by default: hashing costs more than receiving).

Every request gets a small SOAP 1.1 response, valid for the benchmark's WSDL
(``bench.wsdl``), whose ``received`` element and ``X-Received-Bytes`` header give
the decoded body length, so each sender can check that all of its bytes arrived.

Run on its own it prints ``PORT <n>`` on one line once it listens, then serves
until it is terminated or its standard input is closed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import socket
import sys
import threading
import time
from typing import Any

BUFFER_SIZE = 1 << 20
MAX_HEADER_BYTES = 64 * 1024

RESPONSE_XML = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soap:Body>"
    '<b:UploadResponse xmlns:b="urn:asyncmtom:bench">'
    "<b:received>{received}</b:received>"
    "</b:UploadResponse>"
    "</soap:Body>"
    "</soap:Envelope>"
)


CHALLENGE = (
    b"HTTP/1.1 401 Unauthorized\r\n"
    b'WWW-Authenticate: Digest realm="bench", qop="auth", algorithm=MD5, '
    b'nonce="6f2c1b9e0d3a4c58", opaque="bench"\r\n'
    b"Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"
)


class PeerClosed(Exception):
    """The client closed the connection (between requests: a normal end)."""


class BadRequest(Exception):
    """The request is not HTTP/1.1 this receiver understands."""


class Connection:
    """One client connection: a buffer window ``buf[start:end]`` of unread bytes."""

    def __init__(self, sock: socket.socket, hash_body: bool, copy: bool) -> None:
        self.sock = sock
        self.flags = 0 if copy or hash_body else getattr(socket, "MSG_TRUNC", 0)
        self.buf = bytearray(BUFFER_SIZE)
        self.view = memoryview(self.buf)
        self.start = 0
        self.end = 0
        self.hash_body = hash_body

    def _fill(self) -> None:
        """Read more bytes after the unread window (only used for framing lines)."""
        if self.start == self.end:
            self.start = self.end = 0
        elif self.end == len(self.buf):
            pending = self.end - self.start
            if pending >= MAX_HEADER_BYTES:
                raise BadRequest("header or chunk line too long")
            self.buf[:pending] = self.view[self.start : self.end]
            self.start, self.end = 0, pending
        got = self.sock.recv_into(self.view[self.end :])
        if not got:
            raise PeerClosed
        self.end += got

    def read_until(self, delimiter: bytes) -> bytes:
        """The bytes before ``delimiter`` (consumed with it)."""
        searched = self.start
        while True:
            index = self.buf.find(delimiter, searched, self.end)
            if index >= 0:
                line = bytes(self.view[self.start : index])
                self.start = index + len(delimiter)
                return line
            if self.end - self.start > MAX_HEADER_BYTES:
                raise BadRequest("header or chunk line too long")
            searched = max(self.start, self.end - len(delimiter) + 1)
            offset = self.start
            self._fill()
            searched += self.start - offset

    def consume(self, count: int, hasher: Any) -> None:
        """Receive and count ``count`` body bytes without keeping them."""
        buffered = self.end - self.start
        if buffered:
            take = min(buffered, count)
            if hasher is not None:
                hasher.update(self.view[self.start : self.start + take])
            self.start += take
            count -= take
        if self.start == self.end:
            self.start = self.end = 0
        view = self.view
        recv_into = self.sock.recv_into
        flags = self.flags
        while count > 0:
            got = recv_into(view, count if count < BUFFER_SIZE else BUFFER_SIZE, flags)
            if not got:
                raise PeerClosed
            if hasher is not None:
                hasher.update(view[:got])
            count -= got

    def serve(self) -> None:
        while True:
            try:
                head = self.read_until(b"\r\n\r\n")
            except PeerClosed:
                return
            lines = head.decode("latin-1").split("\r\n")
            request_line = lines[0].split(" ")
            method, version = request_line[0], request_line[-1]
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            # A path ending in /digest refuses a request without credentials at once,
            # after the headers, as a Digest-protected server does; the body is then
            # drained, so the client can send it again on the same connection.
            challenge = request_line[1].endswith("/digest") and "authorization" not in headers
            if challenge:
                self.sock.sendall(CHALLENGE)
            elif headers.get("expect", "").lower() == "100-continue":
                self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            hasher = hashlib.sha256() if self.hash_body else None
            first = time.perf_counter()
            received = 0
            if "chunked" in headers.get("transfer-encoding", "").lower():
                chunks = 0
                while True:
                    size_line = self.read_until(b"\r\n")
                    size = int(size_line.split(b";", 1)[0], 16)
                    if size == 0:
                        while self.read_until(b"\r\n"):  # trailer fields, then CRLF
                            pass
                        break
                    self.consume(size, hasher)
                    received += size
                    chunks += 1
                    if self.read_until(b"\r\n"):
                        raise BadRequest("chunk data not followed by CRLF")
            elif "content-length" in headers:
                received = int(headers["content-length"])
                self.consume(received, hasher)
                chunks = -1
            elif method in ("GET", "HEAD"):
                chunks = -1
            else:
                raise BadRequest("a body needs Content-Length or chunked framing")
            seconds = time.perf_counter() - first
            if challenge:
                continue
            body = RESPONSE_XML.format(received=received).encode()
            extra = f"X-Received-Bytes: {received}\r\nX-Receiver-Seconds: {seconds:.6f}\r\n"
            if chunks >= 0:
                extra += f"X-Received-Chunks: {chunks}\r\n"
            if hasher is not None:
                extra += f"X-Body-SHA256: {hasher.hexdigest()}\r\n"
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            response = (
                "HTTP/1.1 200 OK\r\n"
                "Content-Type: text/xml; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"{extra}"
                f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
            ).encode() + body
            self.sock.sendall(response)
            if close:
                return


def handle(sock: socket.socket, hash_body: bool, copy: bool) -> None:
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            Connection(sock, hash_body, copy).serve()
        except (PeerClosed, ConnectionError):
            pass
        except BadRequest as exc:
            print(f"receiver: bad request: {exc}", file=sys.stderr, flush=True)
            with contextlib.suppress(OSError):
                sock.sendall(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )


def watch_stdin() -> None:
    """End the process when the parent closes our standard input (or dies)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--hash", action="store_true", help="SHA-256 every decoded body")
    parser.add_argument(
        "--copy", action="store_true", help="copy body bytes out of the kernel (no MSG_TRUNC)"
    )
    parser.add_argument(
        "--watch-stdin", action="store_true", help="exit when standard input is closed"
    )
    args = parser.parse_args(argv)
    server = socket.create_server(("127.0.0.1", args.port), backlog=64)
    print(f"PORT {server.getsockname()[1]}", flush=True)
    if args.watch_stdin:
        threading.Thread(target=watch_stdin, daemon=True).start()
    with server:
        while True:
            sock, _ = server.accept()
            threading.Thread(target=handle, args=(sock, args.hash, args.copy), daemon=True).start()


if __name__ == "__main__":
    main()
