"""Spooling: parts written to temporary files as they arrive, without copies.

Strategy.  Received chunks are gathered and written with one blocking
``os.writev`` per batch (no join, no copy) once `SPOOL_BATCH_SIZE` bytes have
gathered.  That measured faster than handing batches to a worker thread
(``anyio.to_thread``), with or without overlapping the next receive: a write
into the page cache costs about as much as a thread round trip, and a chunk
written at once is still in the CPU cache.  The event loop is blocked for one
such write at a time, a fraction of a millisecond.

`AttachmentSink` keeps a part in memory up to the ``spool_threshold`` and
moves it into a spool file beyond it; `Spool` owns the temporary files of one
message and removes every one still its own (`Spool.cleanup`), while a file
moved into place by ``save()`` is released to the caller (`move_into_place`
gives it the mode any new file of the process would get).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

from ._core.limits import KiB

__all__ = [
    "SPOOL_BATCH_SIZE",
    "AttachmentSink",
    "BatchWriter",
    "Spool",
    "check_spool_threshold",
    "move_into_place",
]

#: Spooled data is written once this much has gathered: one ``writev`` per
#: batch keeps the system call count low for small chunks without joining
#: them.  Kept small on purpose: a chunk written soon after it was received
#: is still in the CPU cache, and measured batches of 1 MiB and more were
#: markedly slower than 256 KiB ones (asyncio delivers chunks of 256 KiB, so
#: those are written as they come).
SPOOL_BATCH_SIZE = 256 * KiB
#: Most buffers one ``writev`` call accepts on common platforms (IOV_MAX).
_MAX_IOVECS = 1024


def check_spool_threshold(spool_threshold: object) -> int:
    """``spool_threshold`` as given, refused unless it is an integer >= 0."""
    if not isinstance(spool_threshold, int) or isinstance(spool_threshold, bool):
        raise TypeError(f"spool_threshold must be an integer, not {type(spool_threshold).__name__}")
    if spool_threshold < 0:
        raise ValueError(f"spool_threshold must be a non-negative integer, not {spool_threshold!r}")
    return spool_threshold


class BatchWriter:
    """Gather chunks and write them with one ``os.writev`` per batch: no join, no copy."""

    __slots__ = ("_batch", "_batch_size", "_fd", "written")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._batch: list[bytes] = []
        self._batch_size = 0
        self.written = 0

    def write(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._batch_size += len(chunk)
        if self._batch_size >= SPOOL_BATCH_SIZE or len(self._batch) >= _MAX_IOVECS:
            self.flush()

    def flush(self) -> None:
        batch, self._batch = self._batch, []
        remaining, self._batch_size = self._batch_size, 0
        self.written += remaining
        views = [memoryview(chunk) for chunk in batch if chunk]
        while remaining:
            done = _writev(self._fd, views)
            remaining -= done
            while done and views:  # a short write: drop what was written
                if done >= len(views[0]):
                    done -= len(views.pop(0))
                else:
                    views[0] = views[0][done:]
                    done = 0


def _writev(fd: int, views: list[memoryview]) -> int:
    if hasattr(os, "writev"):
        return os.writev(fd, views)
    return os.write(fd, views[0])  # Windows: no writev; the caller loops


class Spool:
    """The temporary files of one message; `cleanup` removes every one still ours."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        self._directory = os.fspath(directory) if directory is not None else None
        self._paths: set[str] = set()

    def create(self) -> tuple[int, str]:
        fd, path = tempfile.mkstemp(prefix="asyncmtom-", suffix=".part", dir=self._directory)
        self._paths.add(path)
        return fd, path

    def release(self, path: str) -> None:
        """The file has been moved into the caller's hands: not ours to remove."""
        self._paths.discard(path)

    def cleanup(self) -> None:
        paths, self._paths = self._paths, set()
        for path in paths:
            with suppress(FileNotFoundError):
                os.unlink(path)


def move_into_place(source: str, target: Path) -> None:
    os.replace(source, target)
    # mkstemp made the file private (0600); a saved file gets the mode any
    # new file of this process would get.  The move has happened either way.
    with suppress(OSError):
        os.chmod(target, 0o666 & ~_umask())


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it elsewhere
    os.umask(mask)
    return mask


class AttachmentSink:
    """Collect one part: in memory up to the threshold, then into a spool file.

    Once `finish` has run, the part is `data` (in memory) or the file at
    `path`, of `size` bytes.
    """

    def __init__(self, spool: Spool, threshold: int) -> None:
        self._spool = spool
        self._threshold = threshold
        self._chunks: list[bytes] = []
        self._fd = -1
        self._writer: BatchWriter | None = None
        #: Decoded bytes written so far.
        self.size = 0
        #: The spool file, once the part outgrew the threshold.
        self.path: str | None = None
        #: The part, once finished in memory.
        self.data: bytes | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._writer is not None:
            self._writer.write(chunk)
            return
        self._chunks.append(chunk)
        if self.size > self._threshold:
            self._fd, self.path = self._spool.create()
            self._writer = BatchWriter(self._fd)
            for held in self._chunks:
                self._writer.write(held)
            self._chunks = []

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self.close()
        else:
            chunks, self._chunks = self._chunks, []
            self.data = chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
