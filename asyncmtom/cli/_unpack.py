"""``unpack``: the parts, the root as received and the resolved XML into DIR.

The message is read with `read_mtom`; large parts are spooled as they arrive
and moved into place, so memory stays flat whatever the capture weighs.  An
``index.json`` lists what was written.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
from pathlib import Path
from typing import IO, Any

import anyio

from .._core.related import parse_media_type
from .._errors import MtomFormatError
from .._message import read_mtom
from ._capture import CliError, _body_chunks, _capture


def _extension(content_type: str) -> str:
    essence = parse_media_type(content_type).essence
    guessed = mimetypes.guess_extension(essence) if essence else None
    return guessed or ".bin"


async def unpack(args: argparse.Namespace, out: IO[str]) -> int:
    """``unpack``: parts, ``root.xml``, ``resolved.xml`` and ``index.json`` into DIR."""
    path = Path(args.file)
    target = Path(args.dir)
    capture = await _capture(path, args.content_type)
    await anyio.Path(target).mkdir(parents=True, exist_ok=True)
    counter = [0]
    async with read_mtom(
        capture.content_type, _body_chunks(path, capture, counter), spool_dir=target
    ) as message:
        index: dict[str, Any] = {
            "content_type": capture.content_type,
            "root": {
                "file": "root.xml",
                "content_id": message.root_content_id,
                "content_type": message.root_content_type,
                "size": len(message.root),
            },
            "parts": [],
        }
        await anyio.Path(target / "root.xml").write_bytes(message.root)
        out.write(f"root.xml  {len(message.root)} bytes (as received)\n")
        for number, attachment in enumerate(message.attachments.values(), 1):
            name = f"part-{number}{_extension(attachment.content_type)}"
            await attachment.save(target / name)
            index["parts"].append(
                {
                    "file": name,
                    "content_id": attachment.content_id,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                }
            )
            out.write(
                f"{name}  <{attachment.content_id}>  {attachment.content_type}  "
                f"{attachment.size} bytes\n"
            )
        problem: str | None = None
        resolved = target / "resolved.xml"
        try:
            async with await anyio.open_file(resolved, "wb") as file:
                async for chunk in message.iter_resolved():
                    await file.write(chunk)
        except MtomFormatError as error:
            resolved.unlink(missing_ok=True)
            problem = f"resolved.xml not written: {error}"
        else:
            index["resolved"] = "resolved.xml"
            out.write(f"resolved.xml  {resolved.stat().st_size} bytes\n")
        (target / "index.json").write_text(json.dumps(index, indent=2) + "\n")
        out.write("index.json\n")
    if problem is not None:
        raise CliError(problem)
    return 0
