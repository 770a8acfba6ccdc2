"""zeep downloads: one large MTOM reply through zeep, next to the reader reading it alone.

A server thread in this process answers every POST on 127.0.0.1 with the
same MTOM reply over HTTP/1.1 (a small SOAP 1.2 root and one attachment of
``--size`` bytes of noise, with a Content-Length).  Each measurement runs in
a fresh client process, so that its peak RSS is its own:

- ``iter_mtom``: ``httpx.AsyncClient`` streams the reply into
  `asyncmtom.iter_mtom`, the attachment's chunks dropped: the floor;
- ``iter_mtom+save``: the same, the attachment written to a file
  (``StreamedPart.save``), the work a download that keeps the data must do;
- ``read_mtom``: `asyncmtom.read_mtom`, the attachment spooled to a file
  as it arrives, what the zeep transports read replies with;
- ``zeep-async``: ``zeep.AsyncClient`` with ``MtomTransport``, the value
  saved with ``await value.save(path)``;
- ``zeep-sync``: ``zeep.Client`` with ``SyncMtomTransport``, ``value.save(path)``.

The timed region runs from the request to the saved file (or the last chunk);
loading the WSDL and making the client are outside it.  ``adds`` is the peak
RSS (VmHWM) minus the RSS when the timed region starts.  The rounds
alternate between the modes; the best time of ``--rounds`` is reported with
its ratio to ``iter_mtom``, and the project's targets are checked: a zeep
download adds less than 64 MiB of peak RSS and takes at most 1.5 times as
long as ``iter_mtom``.  A script that prints figures, not a test.

``--dir`` names the directory of the spool files and of the saved file (the
system's temporary directory by default): on a disk the rows that keep the
data pay for writing it, on a tmpfs (``--dir /dev/shm``) what remains is the
work of the code itself.

    python benchmarks/bench_zeep_download.py --size 1GiB --rounds 3 [--dir /dev/shm]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_reader import CONTENT_TYPE, message_frames, parse_size

MODES = ("iter_mtom", "iter_mtom+save", "read_mtom", "zeep-async", "zeep-sync")
BLOCK_SIZE = 4 * 1024 * 1024
WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:m="urn:bench" targetNamespace="urn:bench">
  <wsdl:types>
    <xsd:schema targetNamespace="urn:bench" elementFormDefault="qualified">
      <xsd:element name="Download"><xsd:complexType><xsd:sequence>
        <xsd:element name="size" type="xsd:long"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="DownloadResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="data" type="xsd:base64Binary"/>
      </xsd:sequence></xsd:complexType></xsd:element>
    </xsd:schema>
  </wsdl:types>
  <wsdl:message name="In"><wsdl:part name="p" element="m:Download"/></wsdl:message>
  <wsdl:message name="Out"><wsdl:part name="p" element="m:DownloadResponse"/></wsdl:message>
  <wsdl:portType name="Bench"><wsdl:operation name="Download">
    <wsdl:input message="m:In"/><wsdl:output message="m:Out"/>
  </wsdl:operation></wsdl:portType>
  <wsdl:binding name="BenchBinding" type="m:Bench">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Download"><soap:operation soapAction="urn:bench:Download"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="Bench"><wsdl:port name="BenchPort" binding="m:BenchBinding">
    <soap:address location="http://127.0.0.1:{port}/"/>
  </wsdl:port></wsdl:service>
</wsdl:definitions>
"""


def _read_request(connection: socket.socket) -> None:
    """Read one request: headers, then a Content-Length body (zeep's are small)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return
        body += chunk


def serve(listener: socket.socket, size: int, connections: int) -> None:
    head, tail = message_frames(size)
    block = os.urandom(BLOCK_SIZE)
    response_head = (
        "HTTP/1.1 200 OK\r\n"
        f"Content-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(head) + size + len(tail)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    for _ in range(connections):
        connection, _ = listener.accept()
        with connection:
            _read_request(connection)
            connection.sendall(response_head + head)
            remaining = size
            view = memoryview(block)
            while remaining:
                step = min(remaining, BLOCK_SIZE)
                connection.sendall(view[:step])
                remaining -= step
            connection.sendall(tail)


def vm(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(key)


def reset_hwm() -> None:
    with contextlib.suppress(OSError):  # VmHWM then counts from the process's start
        Path("/proc/self/clear_refs").write_text("5")


async def reader_client(mode: str, url: str, size: int, target: Path) -> tuple[float, int]:
    import httpx

    from asyncmtom import iter_mtom, read_mtom

    async with httpx.AsyncClient(timeout=600) as client:
        reset_hwm()
        before = vm("VmRSS")
        started = time.perf_counter()
        async with client.stream("POST", url, content=b"<x/>") as response:
            content_type = response.headers["content-type"]
            if mode == "read_mtom":
                chunks = response.aiter_bytes()
                async with read_mtom(content_type, chunks, spool_dir=target.parent) as message:
                    [attachment] = message.attachments.values()
                    await attachment.save(target)
                    assert attachment.size == size
                return time.perf_counter() - started, before
            async with iter_mtom(content_type, response.aiter_bytes()) as parts:
                async for part in parts:
                    if part.is_root or mode == "iter_mtom":
                        async for _ in part:
                            pass
                    else:
                        await part.save(target)
                        assert part.size == size
        return time.perf_counter() - started, before


def zeep_client(mode: str, wsdl: str, size: int, target: Path) -> tuple[float, int]:
    import anyio
    import zeep

    from asyncmtom.zeep import MtomTransport, SyncMtomTransport

    read_options = {"spool_dir": target.parent}
    if mode == "zeep-sync":
        transport = SyncMtomTransport(read_options=read_options)
        with zeep.Client(wsdl, transport=transport) as client:
            reset_hwm()
            before = vm("VmRSS")
            started = time.perf_counter()
            client.service.Download(size=size).save(target)
            elapsed = time.perf_counter() - started
    else:

        async def run() -> tuple[float, int]:
            transport = MtomTransport(read_options=read_options)
            async with zeep.AsyncClient(wsdl, transport=transport) as client:
                reset_hwm()
                before = vm("VmRSS")
                started = time.perf_counter()
                value = await client.service.Download(size=size)
                await value.save(target)
                return time.perf_counter() - started, before

        elapsed, before = anyio.run(run)
    assert target.stat().st_size == size
    return elapsed, before


def run_client(argv: argparse.Namespace) -> None:
    import anyio

    target = Path(argv.target)
    if argv.client.startswith("zeep"):
        elapsed, before = zeep_client(argv.client, argv.wsdl, argv.size, target)
    else:
        url = f"http://127.0.0.1:{argv.port}/"
        elapsed, before = anyio.run(reader_client, argv.client, url, argv.size, target)
    target.unlink(missing_ok=True)
    print(f"{elapsed:.6f} {vm('VmHWM') - before} {vm('VmHWM')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--dir", help="where spool files and the saved file go")
    parser.add_argument("--client", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--wsdl", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    argv = parser.parse_args()
    if argv.client:
        run_client(argv)
        return

    modes = [mode for mode in argv.modes.split(",") if mode]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    sender = threading.Thread(
        target=serve, args=(listener, argv.size, argv.rounds * len(modes)), daemon=True
    )
    sender.start()
    results: dict[str, list[tuple[float, int, int]]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="bench-zeep-", dir=argv.dir) as scratch:
        wsdl = Path(scratch) / "bench.wsdl"
        wsdl.write_text(WSDL.replace("{port}", str(port)))
        for _ in range(argv.rounds):
            for mode in modes:
                output = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--client",
                        mode,
                        "--port",
                        str(port),
                        "--size",
                        str(argv.size),
                        "--wsdl",
                        str(wsdl),
                        "--target",
                        str(Path(scratch) / "saved.bin"),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()
                results[mode].append((float(output[0]), int(output[1]), int(output[2])))
    sender.join()
    listener.close()

    mib = 1 << 20
    print(
        f"{argv.size / mib:.0f} MiB MTOM reply over loopback HTTP, best of {argv.rounds}, "
        f"files in {argv.dir or tempfile.gettempdir()} "
        f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    print(
        f"{'mode':<15} {'seconds':>8} {'MB/s':>7} {'x iter_mtom':>11} {'adds':>9} {'peak RSS':>9}"
    )
    floor = min(e for e, _, _ in results["iter_mtom"]) if "iter_mtom" in results else None
    for mode in modes:
        best = min(elapsed for elapsed, _, _ in results[mode])
        adds = max(a for _, a, _ in results[mode]) / mib
        peak = max(p for _, _, p in results[mode]) / mib
        ratio = f"{best / floor:10.2f}x" if floor else "          -"
        rate = argv.size / 1e6 / best
        print(f"{mode:<15} {best:8.2f} {rate:7.0f} {ratio:>11} {adds:6.0f} MiB {peak:5.0f} MiB")
    if floor:
        print()
        for mode in ("zeep-async", "zeep-sync"):
            if mode not in results:
                continue
            best = min(elapsed for elapsed, _, _ in results[mode])
            adds = max(a for _, a, _ in results[mode]) / mib
            time_ok = "met" if best <= 1.5 * floor else "MISSED"
            memory_ok = "met" if adds < 64 else "MISSED"
            print(f"target {mode}: time <= 1.5x iter_mtom: {best / floor:.2f}x {time_ok}")
            print(f"target {mode}: adds < 64 MiB of peak RSS: {adds:.0f} MiB {memory_ok}")


if __name__ == "__main__":
    main()
