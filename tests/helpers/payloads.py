"""Attachment content for the writer's tests: bytes that look like MIME, written in chunks.

``pattern`` holds CR, LF, ``--`` and boundary-like runs, so that a framing
mistake (a delimiter found inside content, a line break rewritten) changes
what the decoder gives back; ``chunked_push`` is the push callback that writes
it in chunks of a given size.
"""

from __future__ import annotations

from typing import Any


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes with CR, LF, '--' and boundary-like runs in them."""
    unit = b"\r\n--uuid:0\r\n" + bytes((seed + i) % 256 for i in range(241))
    return (unit * (size // len(unit) + 1))[:size]


async def chunked_push(write: Any, data: bytes, chunk: int) -> None:
    """A push callback: *data* written in chunks of *chunk* bytes."""
    for i in range(0, len(data), chunk):
        await write(data[i : i + chunk])
