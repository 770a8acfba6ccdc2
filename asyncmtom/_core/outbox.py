"""The coalescing policy: which chunks of a body are copied, passed or joined.

Rules.  An `Outbox` takes the body's chunks (MIME framing, XML, part content)
in order and returns those ready to hand on, in the same order, never
reordering or dropping a byte:

- a chunk below ``pass_through_size`` is copied into one small buffer
  together with the framing around it, and the buffer is handed on once it
  reaches ``coalesce_size``;
- a larger chunk is handed on as it is (``bytes`` never copied), after what
  was buffered before it;
- in join mode (set by the body for large parts), chunks below a quarter of
  ``join_size`` are collected by reference and handed on joined once
  ``join_size`` is reached, because HTTP clients pay per chunk (httpx about
  28 us, more than copying 64 KiB) far more than per byte;
- `Outbox.flush` hands on whatever is held, at the end of a part, before a
  push callback waits for anything else than ``write``, and at the end;
- an empty chunk is never handed on (a chunked framer would take it for the
  end of the body): it adds nothing to what is held.

At most one coalescing buffer and one join batch are held.  `RawOutbox`
hands on each chunk as it comes and drops the framing: a pass that only
reads the parts' content (a digest).
"""

from __future__ import annotations

__all__ = ["Outbox", "RawOutbox"]


class Outbox:
    """Turns the chunks of the body into what is handed on: coalesced, passed, or joined.

    Plain mode: chunks below ``pass_through_size`` are copied into ``out``
    (with the MIME framing) and handed on at ``coalesce_size``; larger ones
    pass through as they are.  Join mode (large parts of a body with a known
    length): ``bytes`` are collected by reference and handed on joined, once
    ``join_size`` is reached, because HTTP clients pay per chunk (httpx: about
    28 us, more than the copy of 64 KiB) far more than per byte.
    """

    __slots__ = ("batch", "batched", "coalesce_size", "join_size", "joining", "out", "pass_through")

    def __init__(self, coalesce_size: int, pass_through_size: int, join_size: int) -> None:
        self.out = bytearray()
        self.batch: list[bytes] = []
        self.batched = 0
        self.joining = False
        self.coalesce_size = coalesce_size
        self.pass_through = pass_through_size
        self.join_size = join_size

    def add(self, data: bytes | memoryview) -> list[bytes]:
        """Take one chunk; return the chunks now ready to hand on, in order."""
        size = len(data)
        if self.joining and size < self.join_size // 4:  # larger ones are large enough
            if self.out:
                self.batch.append(bytes(self.out))
                self.batched += len(self.out)
                del self.out[:]
            self.batch.append(data if type(data) is bytes else bytes(data))
            self.batched += size
            if self.batched >= self.join_size:
                return [self.take_batch()]
            return []
        if size < self.pass_through and not self.batch:
            self.out += data
            if len(self.out) >= self.coalesce_size:
                coalesced = bytes(self.out)
                del self.out[:]
                return [coalesced]
            return []
        ready = self.flush()
        ready.append(data if type(data) is bytes else bytes(data))
        return ready

    def take_batch(self) -> bytes:
        joined = b"".join(self.batch)
        self.batch.clear()
        self.batched = 0
        return joined

    def flush(self) -> list[bytes]:
        ready = []
        if self.batch:
            joined = self.take_batch()
            if joined:  # a batch of empty chunks only: nothing to hand on
                ready.append(joined)
        if self.out:
            ready.append(bytes(self.out))
            del self.out[:]
        return ready


class RawOutbox(Outbox):
    """The parts' content as it comes, without framing: for a pass that only reads."""

    __slots__ = ()

    def add(self, data: bytes | memoryview) -> list[bytes]:
        if not data:
            return []
        return [data if type(data) is bytes else bytes(data)]

    def flush(self) -> list[bytes]:
        del self.out[:]  # the framing gathered here is dropped
        return []
