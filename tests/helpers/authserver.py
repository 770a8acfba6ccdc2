"""An HTTP/1.1 endpoint on 127.0.0.1 that makes clients send a body again.

Keep-alive connections, Content-Length or chunked bodies, and a ``Policy``
that decides, once the headers are in, whether to answer at once (an early
401 or 413, then drain or close) or to read the body first.  The policies are
real: `Digest` checks the RFC 7616 response itself (the hash of the password,
nonce, cnonce, nonce count, method and URI), `Ntlm` runs pyspnego's NTLM
acceptor per connection against a credential file, `Redirect` answers 307 or
308.  Every body the endpoint accepts is decoded with the standard library's
``email`` parser (tests/helpers/mtomcheck.py), so the tests compare SHA-256 digests of
what a decoder no one here wrote got.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from mtomcheck import decode_with_email


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    connection: dict[str, Any]  # per-connection state of a policy (NTLM)
    body: bytes | None = None


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    early: str | None = None  # answer before the body, then "drain" it or "close" at once


REASONS = {
    200: "OK",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    401: "Unauthorized",
    413: "Request Entity Too Large",
}


class Policy:
    """Accepts everything; subclasses refuse, redirect or challenge."""

    def before_body(self, request: Request) -> Reply | None:
        return None

    def after_body(self, request: Request) -> Reply | None:
        return None


@dataclass
class Endpoint:
    url: str
    policy: Policy
    ok: bytes = b"<ok/>"  # the body of a 200
    received: list[Request] = field(default_factory=list)  # every request whose body was read
    heads: list[Request] = field(default_factory=list)  # every request, body read or not
    parts: list[dict[str, str]] = field(default_factory=list)  # accepted: content id -> sha256


async def _read_body(buffered: BufferedByteReceiveStream, headers: dict[str, str]) -> bytes:
    body = bytearray()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await buffered.receive_until(b"\r\n", 1024)).split(b";")[0], 16)
            if size == 0:
                await buffered.receive_until(b"\r\n", 65536)
                return bytes(body)
            body += await buffered.receive_exactly(size)
            await buffered.receive_exactly(2)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        body += await buffered.receive(min(1 << 20, length - len(body)))
    return bytes(body)


async def _send(stream: SocketStream, reply: Reply, close: bool) -> None:
    head = f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\n"
    headers = {"Content-Type": "text/xml", **reply.headers, "Content-Length": str(len(reply.body))}
    if close:
        headers["Connection"] = "close"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    await stream.send(head.encode("latin-1") + b"\r\n" + reply.body)


async def _handle(stream: SocketStream, endpoint: Endpoint) -> None:
    connection: dict[str, Any] = {}
    async with stream:
        buffered = BufferedByteReceiveStream(stream)
        while True:
            try:
                line = await buffered.receive_until(b"\r\n", 65536)
            except (anyio.IncompleteRead, anyio.EndOfStream, anyio.BrokenResourceError):
                return
            method, path, _ = line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while line := await buffered.receive_until(b"\r\n", 65536):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            request = Request(method, path, headers, connection)
            endpoint.heads.append(request)
            reply = endpoint.policy.before_body(request)
            if reply is not None and reply.early is not None:
                await _send(stream, reply, close=True)
                if reply.early == "drain":  # as IIS does: read and drop the rest
                    try:
                        while await stream.receive(1 << 20):
                            pass
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        pass
                return
            request.body = await _read_body(buffered, headers)
            endpoint.received.append(request)
            if reply is None:
                reply = endpoint.policy.after_body(request)
            if reply is None:
                decoded = decode_with_email(headers["content-type"], request.body)
                endpoint.parts.append(
                    {
                        cid: hashlib.sha256(data).hexdigest()
                        for cid, (_, data) in decoded.parts.items()
                    }
                )
                reply = Reply(200, body=endpoint.ok)
            close = headers.get("connection", "").lower() == "close"
            await _send(stream, reply, close)
            if close:
                return


@asynccontextmanager
async def serve(policy: Policy | None = None, ok: bytes = b"<ok/>") -> AsyncIterator[Endpoint]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    endpoint = Endpoint(f"http://127.0.0.1:{port}/service", policy or Policy(), ok)
    async with listener, anyio.create_task_group() as tg:

        async def handler(stream: SocketStream) -> None:
            await _handle(stream, endpoint)

        tg.start_soon(listener.serve, handler)
        try:
            yield endpoint
        finally:
            tg.cancel_scope.cancel()


_PARAM = re.compile(r'([\w-]+)=("(?:[^"\\]|\\.)*"|[^,\s]*)')


class Digest(Policy):
    """HTTP Digest (RFC 7616), qop=auth: the response is recomputed and compared."""

    def __init__(
        self,
        user: str,
        password: str,
        *,
        algorithm: str = "SHA-256",
        realm: str = "asyncmtom-test",
        early: str | None = None,
    ) -> None:
        self.user, self.password, self.algorithm, self.realm = user, password, algorithm, realm
        self.early = early
        self.opaque = secrets.token_hex(8)
        self.nonces: dict[str, int] = {}  # nonce -> highest nonce count seen
        self.verified = 0
        self.refused = 0

    def _hash(self, text: str) -> str:
        name = self.algorithm.upper().removesuffix("-SESS").replace("SHA-", "SHA")
        return hashlib.new(name.lower(), text.encode()).hexdigest()

    def challenge(self) -> Reply:
        nonce = secrets.token_hex(16)
        self.nonces[nonce] = 0
        value = (
            f'Digest realm="{self.realm}", qop="auth", algorithm={self.algorithm}, '
            f'nonce="{nonce}", opaque="{self.opaque}"'
        )
        return Reply(401, {"WWW-Authenticate": value}, b"<unauthorized/>", self.early)

    def verify(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Digest "):
            return False
        p = {k.lower(): v[1:-1] if v.startswith('"') else v for k, v in _PARAM.findall(header)}
        nonce, nc, cnonce = p.get("nonce", ""), p.get("nc", ""), p.get("cnonce", "")
        if (
            p.get("username") != self.user
            or p.get("realm") != self.realm
            or nonce not in self.nonces
            or p.get("uri") != request.path
            or p.get("qop") != "auth"
            or p.get("opaque") != self.opaque
            or p.get("algorithm", "MD5").upper() != self.algorithm.upper()
            or not re.fullmatch(r"[0-9a-fA-F]{8}", nc)
            or int(nc, 16) <= self.nonces[nonce]
            or not cnonce
        ):
            return False
        ha1 = self._hash(f"{self.user}:{self.realm}:{self.password}")
        if self.algorithm.upper().endswith("-SESS"):
            ha1 = self._hash(f"{ha1}:{nonce}:{cnonce}")
        ha2 = self._hash(f"{request.method}:{request.path}")
        expected = self._hash(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        if not hmac.compare_digest(expected, p.get("response", "")):
            return False
        self.nonces[nonce] = int(nc, 16)
        return True

    def before_body(self, request: Request) -> Reply | None:
        if self.verify(request):
            self.verified += 1
            return None
        self.refused += 1
        return self.challenge()


class Ntlm(Policy):
    """NTLM (the handshake of Windows-authenticated IIS): pyspnego accepts, per connection.

    The credentials come from the file named by ``NTLM_USER_FILE``; the body of
    every request of the handshake is read (NTLM needs the connection kept).
    """

    def __init__(self) -> None:
        self.users: list[str] = []

    def before_body(self, request: Request) -> Reply | None:
        import spnego

        header = request.headers.get("authorization", "")
        if not header.startswith("NTLM "):
            return Reply(401, {"WWW-Authenticate": "NTLM"}, b"<unauthorized/>")
        context = request.connection.setdefault("ntlm", spnego.server(protocol="ntlm"))
        answer = context.step(base64.b64decode(header[5:]))
        if not context.complete:
            token = base64.b64encode(answer or b"").decode("ascii")
            return Reply(401, {"WWW-Authenticate": f"NTLM {token}"}, b"<challenge/>")
        self.users.append(str(context.client_principal))
        return None


class Redirect(Policy):
    """``/redirect/307`` and ``/redirect/308`` send the client on to ``/service``."""

    def after_body(self, request: Request) -> Reply | None:
        match = re.fullmatch(r"/redirect/(30[78])", request.path)
        if match:
            return Reply(int(match.group(1)), {"Location": "/service"})
        return None


class Refuse(Policy):
    """Answer *status* right after the headers, then drain or close (IIS's 413)."""

    def __init__(self, status: int, early: str) -> None:
        self.status, self.early = status, early

    def before_body(self, request: Request) -> Reply | None:
        return Reply(self.status, {}, b"<refused/>", self.early)
