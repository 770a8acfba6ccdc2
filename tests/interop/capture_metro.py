"""Records the HTTP messages Metro's own JAX-WS client and service exchange.

Metro's client (``java/interop/Client.java``, MTOM enabled) calls the service
through `CaptureProxy`, a small HTTP server on 127.0.0.1 that saves each
request and response and forwards the request to the real service.  The
recordings under ``data/`` were made with this script; the tests decode them,
and one test makes fresh ones, so that a change in Metro shows up.

Run it from the repository root to regenerate ``data/``:

    python tests/interop/capture_metro.py

Each file is one HTTP message, its headers first (a de-chunked body with a
Content-Length), as ``python -m asyncmtom inspect FILE`` reads it.
``data/metro-captures.json`` lists, for each file, the binary values it
carries (size and SHA-256, in document order).
"""

from __future__ import annotations

import http.client
import http.server
import json
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from interop_util import pattern_sha256  # noqa: E402
from peers import JavaBuild, MetroServer, compile_java, run_metro_client, start_metro  # noqa: E402

DATA = HERE / "data"
MANIFEST = DATA / "metro-captures.json"

# Headers that differ between runs for no interesting reason, or that the
# de-chunking changes, are normalised in the recordings.
_DROP = {"transfer-encoding", "date"}


@dataclass
class Exchange:
    request_head: list[tuple[str, str]]
    request_line: str
    request_body: bytes
    status: int = 0
    reason: str = ""
    response_head: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    request_was_chunked: bool = False
    response_was_chunked: bool = False


def _read_body(rfile, headers) -> tuple[bytes, bool]:  # type: ignore[no-untyped-def]
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int(rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out), True
            out += rfile.read(size)
            rfile.readline()
    return rfile.read(int(headers.get("Content-Length", "0"))), False


class CaptureProxy:
    """Records every POST and forwards it to *upstream* (``http://127.0.0.1:port``)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.exchanges: list[Exchange] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body, chunked = _read_body(self.rfile, self.headers)
                ex = Exchange(
                    request_head=list(self.headers.items()),
                    request_line=f"{self.command} {self.path} HTTP/1.1",
                    request_body=body,
                    request_was_chunked=chunked,
                )
                proxy.exchanges.append(ex)
                conn = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=60
                )
                fwd = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("content-type", "soapaction", "accept")
                }
                conn.request("POST", self.path, body=body, headers=fwd)
                resp = conn.getresponse()
                ex.status, ex.reason = resp.status, resp.reason
                ex.response_head = list(resp.getheaders())
                ex.response_was_chunked = resp.chunked
                ex.response_body = resp.read()
                conn.close()
                self.send_response(ex.status, ex.reason)
                for k, v in ex.response_head:
                    if k.lower() not in ("content-length", "transfer-encoding", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(ex.response_body)))
                self.end_headers()
                self.wfile.write(ex.response_body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> CaptureProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def http_message(first_line: str, head: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [first_line]
    for k, v in head:
        if k.lower() in _DROP or k.lower() == "content-length":
            continue
        if k.lower() == "host":
            v = "127.0.0.1"
        lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# (file stem, soap, client arguments, sizes carried by the request, sizes carried by the response)
SCENARIOS: list[tuple[str, str, list[str], list[int], list[int]]] = [
    ("metro-soap11-upload", "11", ["upload", "capture", "1500"], [1500], []),
    ("metro-soap12-upload", "12", ["upload", "capture", "1500"], [1500], []),
    (
        "metro-soap12-uploadMany",
        "12",
        ["uploadMany", "capture", "0", "1", "2000"],
        [0, 1, 2000],
        [],
    ),
    ("metro-soap11-download", "11", ["download", "3000"], [], [3000]),
    ("metro-soap12-download", "12", ["download", "3000"], [], [3000]),
]


def capture_all(build: JavaBuild, metro: MetroServer, out: Path, work: Path) -> list[dict]:
    """Runs every scenario through a CaptureProxy; writes the messages into *out*."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for stem, soap, args, req_sizes, resp_sizes in SCENARIOS:
        with CaptureProxy(metro.url("")) as proxy:
            printed = run_metro_client(
                build, work, metro.url(soap) + "?wsdl", proxy.url(f"/soap{soap}"), *args
            )
        [ex] = proxy.exchanges
        if ex.status != 200:
            raise RuntimeError(f"{stem}: HTTP {ex.status}: {ex.response_body[:2000]!r}")
        req = f"{stem}-request.http"
        resp = f"{stem}-response.http"
        (out / req).write_bytes(http_message(ex.request_line, ex.request_head, ex.request_body))
        (out / resp).write_bytes(
            http_message(f"HTTP/1.1 {ex.status} {ex.reason}", ex.response_head, ex.response_body)
        )
        manifest.append(
            {
                "soap": soap,
                "operation": args[0],
                "client_printed": printed,
                "request": {
                    "file": req,
                    "chunked_on_the_wire": ex.request_was_chunked,
                    "values": [{"size": n, "sha256": pattern_sha256(n)} for n in req_sizes],
                },
                "response": {
                    "file": resp,
                    "chunked_on_the_wire": ex.response_was_chunked,
                    "values": [{"size": n, "sha256": pattern_sha256(n)} for n in resp_sizes],
                },
            }
        )
    return manifest


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        build = compile_java(tmpdir / "classes")
        metro = start_metro(build, tmpdir / "metro")
        try:
            manifest = capture_all(build, metro, DATA, tmpdir / "client")
        finally:
            metro.stop()
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    for entry in manifest:
        print(entry["request"]["file"], entry["response"]["file"], entry["client_printed"])


if __name__ == "__main__":
    main()
