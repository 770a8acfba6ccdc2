"""The command line, ``python -m asyncmtom``: look into captured MTOM traffic, or make some.

Three commands, for people debugging SOAP traffic:

- ``inspect [--content-type CT] [--full] FILE`` prints the message: its
  parts (Content-ID, type, size), each XOP reference resolved or broken,
  and the root XML pretty-printed.
- ``unpack [--content-type CT] FILE DIR`` writes the parts, the root as
  received and the resolved XML into DIR, with an ``index.json``.
- ``pack [-o OUT] [--action URI] [--mime] XML`` turns an XML file whose
  ``xop:Include`` hrefs name local files into an MTOM message and prints its
  Content-Type.

Strategy.  The input FILE is a body whose Content-Type is given with
``--content-type``, or, without it, a capture whose headers come first: a
saved HTTP request or response (request or status line, headers, blank line,
body; a chunked body is de-chunked) or a MIME message (headers, blank line,
body).  Header lines may end in CRLF or LF; the body is read as it is.  The
body is streamed from the file into `read_mtom`, so a capture of any size is
read with flat memory (large parts are spooled, and ``unpack`` moves them
into place).  Everything about XOP is judged by the reader; the command line
adds only the per-reference report, which it makes with its own expat pass
over the root (a DOCTYPE is refused there too), and the pretty-printer, which
keeps prefixes and namespace declarations as written and shortens long text
unless ``--full`` is given.

``pack`` parses the XML with expat (namespace-aware, prefixes kept) into a
list of events and replays them through `XmlWriter`: declarations stay where
they were written, comments and processing instructions are dropped, and the
element holding an ``xop:Include`` gets the named file with ``pull_bytes``,
streamed into its own part when the message is written.  An href is a path
relative to the XML file, or a ``file:`` URL; ``cid:`` and network URLs are
refused.  The part's Content-Type is the element's ``xmime:contentType``,
else a guess from the file name.  The SOAP version comes from the root
element (an Envelope in the SOAP 1.1 or 1.2 namespace), else the message is
plain XML with XOP.

Errors.  Malformed input, a missing file, a broken reference: one line on
standard error (``asyncmtom: error: ...``) and exit status 1; a usage
mistake: argparse's message and status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO

import anyio

from .._errors import MtomError
from ._capture import CliError
from ._inspect import inspect
from ._pack import pack
from ._unpack import unpack

__all__ = ["main"]

PROG = "asyncmtom"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {PROG}",
        description="Inspect, unpack and make MTOM/XOP (multipart/related) SOAP messages.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    helps = {
        "content_type": "the body's Content-Type; without it FILE must start with headers "
        "(a saved HTTP request or response, or a MIME message)",
        "file": "a captured message: a body (with --content-type) or headers, a blank line, body",
    }
    inspect_cmd = commands.add_parser(
        "inspect",
        help="print parts, XOP references and the root XML",
        description="Print each part (Content-ID, type, size), each XOP reference resolved "
        "or broken, and the root XML pretty-printed. Exit status 1 if anything is broken.",
    )
    inspect_cmd.add_argument("--content-type", metavar="CT", help=helps["content_type"])
    inspect_cmd.add_argument("--full", action="store_true", help="do not shorten long text")
    inspect_cmd.add_argument("file", metavar="FILE", help=helps["file"])
    unpack_cmd = commands.add_parser(
        "unpack",
        help="write the parts and the resolved XML into a directory",
        description="Write root.xml (as received), resolved.xml (each xop:Include replaced "
        "by base64), part-N.EXT for every part and index.json into DIR (created if needed; "
        "files of those names are replaced).",
    )
    unpack_cmd.add_argument("--content-type", metavar="CT", help=helps["content_type"])
    unpack_cmd.add_argument("file", metavar="FILE", help=helps["file"])
    unpack_cmd.add_argument("dir", metavar="DIR", help="the directory to write into")
    pack_cmd = commands.add_parser(
        "pack",
        help="make an MTOM message from XML whose xop:Include hrefs name local files",
        description="Each xop:Include href (a path relative to XML, or a file: URL) becomes "
        "a part holding that file. The message goes to OUT and its Content-Type is printed; "
        "without -o the message goes to standard output and the Content-Type to standard "
        "error.",
    )
    pack_cmd.add_argument("xml", metavar="XML", help="the XML file")
    pack_cmd.add_argument("-o", "--output", metavar="OUT", help="where to write the message")
    pack_cmd.add_argument("--action", metavar="URI", help="the SOAP action")
    pack_cmd.add_argument(
        "--mime",
        action="store_true",
        help="write the HTTP headers first (a MIME message 'inspect' reads without --content-type)",
    )
    return parser


async def _run(args: argparse.Namespace, out: IO[str]) -> int:
    if args.command == "inspect":
        return await inspect(args, out)
    if args.command == "unpack":
        return await unpack(args, out)
    return await pack(args, out)


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status."""
    args = _parser().parse_args(argv)
    stream = out if out is not None else sys.stdout
    try:
        return anyio.run(_run, args, stream)
    except (CliError, MtomError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        sys.stderr.write(f"{PROG}: error: {message}\n")
        return 1
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        sys.stderr.write(f"{PROG}: error: {where}{error.strerror or error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
