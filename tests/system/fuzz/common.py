"""Shared settings and data for the hardening tests.

Used by ``tests/system/test_properties.py``, ``tests/system/test_faults.py`` and
``tests/system/test_reader_fuzz.py``.

Two modes:

- Default (CI): each property runs a small, fixed number of examples,
  derandomized and without an example database, so a run is deterministic and
  takes seconds.
- Long (``nox -s fuzz``, or ``ASYNCMTOM_FUZZ_EXAMPLES=N pytest ...``): each
  property runs about N examples (scaled per test), randomized, and failing
  examples are kept in hypothesis' ``.hypothesis`` database so that the next
  run replays them first.

Binary payloads are described by a small `Payload` recipe (size, seed and
special byte runs to splice in) rather than drawn byte by byte: hypothesis
stays fast for megabyte sizes, and shrinking still reaches the smallest size
and the fewest runs that fail.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

KiB = 1024
MiB = 1024 * KiB

#: Examples per property in the long run; 0 means the bounded CI run.
FUZZ_EXAMPLES = int(os.environ.get("ASYNCMTOM_FUZZ_EXAMPLES") or 0)
LONG = FUZZ_EXAMPLES > 0


def fuzz_settings(ci_examples: int, *, long_share: float = 1.0) -> settings:
    """Hypothesis settings: *ci_examples* in CI, ``FUZZ_EXAMPLES * long_share`` in the long run."""
    common = {
        "deadline": None,
        # The explain phase reruns each failure hundreds of times: too slow for async runs.
        "phases": [p for p in Phase if p is not Phase.explain],
        "suppress_health_check": list(HealthCheck),
        "print_blob": True,
    }
    if LONG:
        return settings(max_examples=max(1, int(FUZZ_EXAMPLES * long_share)), **common)
    return settings(max_examples=ci_examples, derandomize=True, database=None, **common)


#: Byte runs that MIME and XML handling might mistake for structure.
SPECIAL_RUNS: tuple[bytes, ...] = (
    b"\r",
    b"\n",
    b"\r\n",
    b"--",
    b"\r\n--",
    b"\r\n\r\n",
    b"\r\n--uuid:",
    b"\r\n--uuid:00000000-0000-4000-8000-000000000000\r\n",
    b"\r\n--uuid:00000000-0000-4000-8000-000000000000--\r\n",
    b"\r\n--boundary\r\nContent-ID: <x@y>\r\n\r\n",
    b"--\r\n",
    b"=\r\n",
    b"\x00",
    b"\xff\xfe",
    b"<xop:Include href='cid:1@x'/>",
    b"]]>",
)

#: Sizes around every threshold of the writer (inline limit, pass-through
#: and coalescing sizes, read size) and of the reader (spool threshold).
EDGE_SIZES: tuple[int, ...] = (
    0,
    1,
    2,
    3,
    766,
    767,
    768,
    769,
    16 * KiB - 1,
    16 * KiB,
    16 * KiB + 1,
    64 * KiB - 1,
    64 * KiB,
    64 * KiB + 1,
    256 * KiB,
    256 * KiB + 1,
    MiB,
    MiB + 1,
    2 * MiB,
)


@dataclass(frozen=True)
class Payload:
    """A reproducible binary value: *size* seeded random bytes with *runs* spliced in."""

    size: int
    seed: int = 0
    runs: tuple[tuple[int, bytes], ...] = ()
    literal: bytes | None = field(default=None, repr=False)

    def build(self, extra_runs: tuple[bytes, ...] = ()) -> bytes:
        """The bytes; *extra_runs* (say, the writer's own boundary) are spliced in too."""
        if self.literal is not None:
            return self.literal
        data = bytearray(random.Random(self.seed).randbytes(self.size))
        runs = list(self.runs)
        rng = random.Random(self.seed ^ 0x5EED)
        # The extra runs go last and never overlap one another: overlapping, one
        # could complete the other into the real delimiter, which MIME forbids
        # inside a part (no writer can send that data).
        extra_end = 0
        for position in sorted(rng.randrange(self.size) for _ in extra_runs) if self.size else ():
            position = max(position, extra_end)
            run = extra_runs[len(runs) - len(self.runs)]
            runs.append((position, run))
            extra_end = position + len(run)
        for position, run in runs:
            if not self.size:
                break
            if position >= self.size and (position, run) not in self.runs:
                continue  # an extra run pushed past the end
            position %= self.size
            piece = run[: self.size - position]
            data[position : position + len(piece)] = piece
        return bytes(data)


@st.composite
def payloads(draw: st.DrawFn, max_size: int = 2 * MiB) -> Payload:
    """Binary values from 0 B to *max_size*, mostly small, with boundary-like runs."""
    kind = draw(st.sampled_from(["literal", "literal", "edge", "small", "large"]))
    if kind == "literal":
        return Payload(0, literal=draw(st.binary(max_size=2000)))
    if kind == "edge":
        size = draw(st.sampled_from([s for s in EDGE_SIZES if s <= max_size]))
    elif kind == "small":
        size = draw(st.integers(0, min(max_size, 70 * KiB)))
    else:
        size = draw(st.integers(0, max_size))
    seed = draw(st.integers(0, 2**32 - 1))
    runs = draw(
        st.lists(
            st.tuples(st.integers(0, max(0, size - 1)), st.sampled_from(SPECIAL_RUNS)),
            max_size=6,
        )
    )
    return Payload(size, seed, tuple(runs))


def payload_size(payload: Payload) -> int:
    return len(payload.literal) if payload.literal is not None else payload.size


#: Chunk sizes for splitting a payload: one byte, tiny, around the 16 KiB
#: pass-through size, large.
chunk_sizes = st.lists(
    st.one_of(
        st.integers(1, 7),
        st.integers(1, 4 * KiB),
        st.sampled_from([16 * KiB - 1, 16 * KiB, 16 * KiB + 1, 64 * KiB, 256 * KiB]),
        st.integers(1, 600 * KiB),
    ),
    min_size=1,
    max_size=5,
)


def split(data: bytes, sizes: list[int], max_chunks: int = 4000) -> list[tuple[int, int]]:
    """Offsets ``(start, end)`` cutting *data* by cycling through *sizes*.

    One-byte chunks over a megabyte would take long; past *max_chunks* the
    rest goes in one chunk.
    """
    cuts: list[tuple[int, int]] = []
    position = 0
    index = 0
    while position < len(data):
        if len(cuts) >= max_chunks:
            cuts.append((position, len(data)))
            break
        end = min(len(data), position + sizes[index % len(sizes)])
        cuts.append((position, end))
        position = end
        index += 1
    return cuts
