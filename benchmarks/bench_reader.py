"""Reader throughput and memory: decoding a large MTOM message streamed over loopback.

A sender process writes one MTOM message (a small SOAP 1.2 root and a single
attachment of ``--size`` bytes) to each TCP connection it accepts on
127.0.0.1, as fast as the socket takes it.  Each measurement runs in a fresh
client process, so that its peak RSS is its own:

- ``raw``: receive every byte from an anyio socket stream and drop it, the
  ceiling for any reader on this machine and event loop;
- ``raw+file``: the same, writing every chunk to a temporary file (what a
  reader that spools must add);
- ``read_mtom``: ``read_mtom(content_type, stream)`` spools the attachment to
  a temporary file; timed until the message is complete;
- ``iter_mtom``: ``iter_mtom`` streams the parts, chunks dropped, nothing
  spooled.

The rounds alternate between the modes and the best of ``--rounds`` is
reported for each, next to the ratio to ``raw`` and the peak RSS.  This is a
script that prints figures, not a test: it asserts nothing.

    python benchmarks/bench_reader.py --size 1GiB --rounds 3 [--backend trio]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time

MODES = ("raw", "raw+file", "read_mtom", "iter_mtom")
BOUNDARY = "uuid:0b7d6f38-5d8c-4bb5-9d3e-bench-reader"
CONTENT_TYPE = (
    f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; '
    'start="<root@bench>"; start-info="application/soap+xml"'
)
ROOT = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
    b'<m:DownloadResponse xmlns:m="urn:bench"><m:data>'
    b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:data@bench"/>'
    b"</m:data></m:DownloadResponse></s:Body></s:Envelope>"
)
BLOCK_SIZE = 4 * 1024 * 1024


def parse_size(text: str) -> int:
    units = {"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "": 1}
    text = text.strip().upper()
    for unit in ("KIB", "MIB", "GIB", ""):
        if text.endswith(unit):
            return int(float(text[: len(text) - len(unit)]) * units[unit])
    raise ValueError(text)


def message_frames(size: int) -> tuple[bytes, bytes]:
    head = (
        f"--{BOUNDARY}\r\nContent-ID: <root@bench>\r\n"
        'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
        "Content-Transfer-Encoding: binary\r\n\r\n"
    ).encode() + ROOT
    head += (
        f"\r\n--{BOUNDARY}\r\nContent-ID: <data@bench>\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail


def serve(listener: socket.socket, size: int, connections: int) -> None:
    """Send the message to each connection: head, ``size`` bytes of noise, tail."""
    head, tail = message_frames(size)
    block = os.urandom(BLOCK_SIZE)
    for _ in range(connections):
        connection, _ = listener.accept()
        with connection:
            connection.sendall(head)
            remaining = size
            view = memoryview(block)
            while remaining:
                step = min(remaining, BLOCK_SIZE)
                connection.sendall(view[:step])
                remaining -= step
            connection.sendall(tail)
            connection.shutdown(socket.SHUT_WR)


async def client(mode: str, port: int, size: int) -> float:
    import anyio

    from asyncmtom import iter_mtom, read_mtom

    stream = await anyio.connect_tcp("127.0.0.1", port)
    async with stream:
        started = time.perf_counter()
        if mode == "raw":
            received = 0
            try:
                while True:
                    received += len(await stream.receive(1 << 20))
            except anyio.EndOfStream:
                pass
            assert received > size
        elif mode == "raw+file":
            received = 0
            with tempfile.TemporaryFile(buffering=0) as file:
                try:
                    while True:
                        chunk = await stream.receive(1 << 20)
                        received += len(chunk)
                        file.write(chunk)
                except anyio.EndOfStream:
                    pass
                # Timed like read_mtom: up to the last byte written, not the
                # removal of the file (read_mtom removes its own on exit).
                elapsed = time.perf_counter() - started
            assert received > size
            return elapsed
        elif mode == "read_mtom":
            async with read_mtom(CONTENT_TYPE, stream, max_part_size=size + 1) as message:
                assert message.attachments["data@bench"].size == size
                elapsed = time.perf_counter() - started
            return elapsed
        elif mode == "iter_mtom":
            async with iter_mtom(CONTENT_TYPE, stream, max_part_size=size + 1) as parts:
                async for part in parts:
                    async for _ in part:
                        pass
                    if not part.is_root:
                        assert part.size == size
        else:
            raise ValueError(mode)
        return time.perf_counter() - started


def run_client(argv: argparse.Namespace) -> None:
    import anyio

    elapsed = anyio.run(client, argv.client, argv.port, argv.size, backend=argv.backend)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{elapsed:.6f} {peak_kib}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--client", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
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
    # The sender runs in this process, the client in another: they share no GIL.
    sender.start()
    results: dict[str, list[tuple[float, int]]] = {mode: [] for mode in modes}
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
                    "--backend",
                    argv.backend,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            results[mode].append((float(output[0]), int(output[1])))
    sender.join()
    listener.close()

    size_mb = argv.size / 1e6
    print(
        f"{argv.size / (1 << 20):.0f} MiB attachment over loopback, {argv.backend}, "
        f"best of {argv.rounds} (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    print(f"{'mode':<10} {'MB/s':>8} {'vs raw':>7} {'peak RSS':>10}")
    raw_rate = None
    for mode in modes:
        best = min(elapsed for elapsed, _ in results[mode])
        peak_mib = max(peak for _, peak in results[mode]) / 1024
        rate = size_mb / best
        if mode == "raw":
            raw_rate = rate
        ratio = f"{rate / raw_rate:6.2f}x" if raw_rate else "      -"
        print(f"{mode:<10} {rate:8.0f} {ratio:>7} {peak_mib:8.1f} MiB")


if __name__ == "__main__":
    main()
