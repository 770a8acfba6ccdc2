"""Progress reports: one record type for the writer's body and the reader.

Strategy.  A report is a frozen value built by whoever moves the bytes (a pass
over `MtomBody`, the reader's pump) and handed to a plain callable the caller
gave; nothing here does I/O or keeps state.  Writer and reader import it from
here, so neither depends on the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Progress", "ProgressCallback"]


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a body stands, as reported to a ``progress`` callback.

    ``done`` counts body bytes handed on so far (framing included) out of
    ``total`` (the Content-Length, or None when unknown).  ``content_id`` is the
    part being written (None while the root part goes out), with
    ``part_done`` of its ``part_size`` bytes (None when not declared).
    ``attempt`` counts the passes over the body: 1 for the first send, 2 and
    more when the HTTP client sends the message again (an authentication
    handshake, a redirect); ``done`` and ``part_done`` start again from 0.
    """

    done: int
    total: int | None
    content_id: str | None
    part_done: int
    part_size: int | None
    attempt: int = 1


ProgressCallback = Callable[[Progress], object]
