"""The reader rows' sending end: an MTOM message for every connection, as fast as it goes.

It listens on 127.0.0.1, prints ``PORT <n>`` once it listens, and writes to
each connection it accepts the message that ``bench_reader.py`` defines (a
small SOAP 1.2 root and one attachment of ``--size`` bytes, ``serve`` there),
then closes its side.  One thread per connection; it exits when its standard
input is closed.  Sending is ``sendall`` of 4 MiB blocks, cheap next to any
reader, so that the reading client is what is measured.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, required=True, help="attachment bytes")
    args = parser.parse_args(argv)
    from bench_reader import serve

    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    print(f"PORT {listener.getsockname()[1]}", flush=True)

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    # serve() answers a given number of connections in turn; ask for plenty.
    serve(listener, args.size, 1 << 30)


if __name__ == "__main__":
    main()
