"""`asyncmtom._spool`: batched writes, the in-memory threshold, temporary files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asyncmtom._spool import (
    SPOOL_BATCH_SIZE,
    AttachmentSink,
    BatchWriter,
    Spool,
    check_spool_threshold,
    move_into_place,
)


def test_batch_writer_writes_every_chunk_in_order(tmp_path: Path) -> None:
    chunks = [os.urandom(n) for n in (1, 0, 5000, SPOOL_BATCH_SIZE, 3, 2 * SPOOL_BATCH_SIZE + 7)]
    chunks += [b"x"] * 3000  # more chunks than one writev takes
    target = tmp_path / "out"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    try:
        writer = BatchWriter(fd)
        for chunk in chunks:
            writer.write(chunk)
        writer.flush()
    finally:
        os.close(fd)
    assert writer.written == sum(map(len, chunks))
    assert target.read_bytes() == b"".join(chunks)


def test_sink_keeps_a_small_part_in_memory(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    sink = AttachmentSink(spool, threshold=10)
    sink.write(b"01234")
    sink.write(b"56789")
    sink.finish()
    assert (sink.data, sink.path, sink.size) == (b"0123456789", None, 10)
    assert list(tmp_path.iterdir()) == []


def test_sink_spools_past_the_threshold_and_cleanup_removes_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    sink = AttachmentSink(spool, threshold=10)
    for piece in (b"01234", b"56789", b"A"):
        sink.write(piece)
    sink.finish()
    assert sink.data is None and sink.size == 11 and sink.path is not None
    assert Path(sink.path).read_bytes() == b"0123456789A"
    assert Path(sink.path).parent == tmp_path
    spool.cleanup()
    assert list(tmp_path.iterdir()) == []


def test_a_released_file_is_the_callers(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    sink = AttachmentSink(spool, threshold=0)
    sink.write(b"data")
    sink.finish()
    assert sink.path is not None
    target = tmp_path / "saved"
    move_into_place(sink.path, target)
    spool.release(sink.path)
    spool.cleanup()
    assert target.read_bytes() == b"data"
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_spool_threshold_checked() -> None:
    assert check_spool_threshold(0) == 0
    with pytest.raises(ValueError, match="spool_threshold"):
        check_spool_threshold(-1)
    with pytest.raises(TypeError, match="spool_threshold"):
        check_spool_threshold(1.5)
