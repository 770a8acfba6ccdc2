"""The coalescing policy, with no event loop: every byte out, in order, chunk sizes bounded."""

from __future__ import annotations

from asyncmtom._core.outbox import Outbox, RawOutbox


def run(box: Outbox, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out += box.add(chunk)
    return out + box.flush()


def test_small_chunks_are_coalesced_and_large_ones_pass_uncopied() -> None:
    box = Outbox(coalesce_size=100, pass_through_size=40, join_size=0)
    large = b"L" * 50
    out = run(box, [b"a" * 30, b"b" * 30, b"c" * 30, b"d" * 30, large, b"e" * 5])
    assert b"".join(out) == b"a" * 30 + b"b" * 30 + b"c" * 30 + b"d" * 30 + large + b"e" * 5
    assert out == [b"a" * 30 + b"b" * 30 + b"c" * 30 + b"d" * 30, large, b"e" * 5]
    assert out[1] is large  # handed on as it is, never copied


def test_join_mode_collects_small_chunks_into_join_size() -> None:
    box = Outbox(coalesce_size=64, pass_through_size=16, join_size=1000)
    box.out += b"HEAD"
    box.joining = True
    chunks = [bytes([i]) * 100 for i in range(25)]
    out = run(box, chunks)
    assert b"".join(out) == b"HEAD" + b"".join(chunks)
    assert [len(chunk) for chunk in out] == [1004, 1000, 500]


def test_a_large_chunk_in_join_mode_flushes_what_was_held_first() -> None:
    box = Outbox(coalesce_size=64, pass_through_size=16, join_size=1000)
    box.joining = True
    big = b"B" * 400  # a quarter of join_size or more is large enough
    out = run(box, [b"s" * 100, big])
    assert out == [b"s" * 100, big]


def test_memoryviews_are_copied_once_and_raw_drops_framing() -> None:
    box = Outbox(coalesce_size=64, pass_through_size=16, join_size=0)
    out = run(box, [memoryview(b"x" * 32)])
    assert out == [b"x" * 32] and type(out[0]) is bytes
    raw = RawOutbox(64, 16, 0)
    raw.out += b"framing"
    assert raw.add(memoryview(b"abc")) == [b"abc"]
    assert raw.flush() == [] and not raw.out


def test_empty_chunks_are_never_handed_on() -> None:
    """A chunked framer would take an empty chunk for the end of the body."""
    for join_size in (0, 64):
        box = Outbox(coalesce_size=16, pass_through_size=8, join_size=join_size)
        box.joining = bool(join_size)
        out = run(box, [b"", b"a" * 20, b""])
        out += box.add(b"") + box.flush() + box.add(memoryview(b"")) + box.flush()
        assert out == [b"a" * 20] and not box.batch and not box.out
    raw = RawOutbox(16, 8, 0)
    assert raw.add(b"") == [] and raw.add(memoryview(bytearray())) == []
