"""Coverage-guided fuzzing of the reader with atheris (optional; ``pip install atheris``).

Usage::

    python tests/system/fuzz/atheris_reader.py [libFuzzer options] [CORPUS_DIR ...]

Each input is split by `atheris.FuzzedDataProvider`: a choice of Content-Type
(a valid MTOM one, the same with its boundary or ``start`` changed, a plain
XML one, or one made of fuzzed text), a choice of limits and spool threshold,
a chunk size for feeding, and the body.  The body is read with `read_mtom`
(every attachment read back, ``resolve()`` called) and with `iter_mtom`.
Anything but an `MtomError` is a crash: atheris stops and writes the input to
``crash-<sha1>``; ``tests/system/fuzz/run.py`` turns crash files into regression
cases in ``tests/system/fuzz/corpus``.  The seed messages of
``tests/system/test_reader_fuzz.py`` start the corpus when ``--seed-corpus DIR`` is
given.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/system/: the seed messages and shared strategies
sys.path.insert(0, str(HERE.parents[1] / "helpers"))  # what the seed messages import

import atheris  # noqa: E402

with atheris.instrument_imports(include=["asyncmtom", "multipart"]):
    from asyncmtom import MtomError, iter_mtom, read_mtom

BOUNDARY = "MIMEBoundary_fz"
VALID = (
    f'multipart/related; type="application/xop+xml"; boundary="{BOUNDARY}"; '
    'start="<root@fz>"; start-info="application/soap+xml"'
)
CONTENT_TYPES = [
    VALID,
    VALID.replace("<root@fz>", "<a@fz>"),
    VALID.replace(BOUNDARY, BOUNDARY[:-1]),
    VALID.replace('"', ""),
    "multipart/related; boundary=" + BOUNDARY,
    "application/soap+xml; charset=utf-8",
    "text/xml",
]
LIMITS = [
    {},
    {"max_parts": 3, "max_headers": 4, "max_header_size": 200},
    {"max_part_size": 1000, "max_root_size": 500, "max_total_size": 5000},
]


def case_from_input(data: bytes) -> dict[str, Any]:
    """The reading case an input stands for (also used to save regression cases)."""
    provider = atheris.FuzzedDataProvider(data)
    choice = provider.ConsumeIntInRange(0, len(CONTENT_TYPES))
    if choice == len(CONTENT_TYPES):
        content_type = provider.ConsumeUnicodeNoSurrogates(provider.ConsumeIntInRange(0, 200))
    else:
        content_type = CONTENT_TYPES[choice]
    limits = LIMITS[provider.ConsumeIntInRange(0, len(LIMITS) - 1)]
    threshold = provider.PickValueInList([0, 64, 1024 * 1024])
    chunk = provider.ConsumeIntInRange(1, 4096)
    body = provider.ConsumeBytes(provider.remaining_bytes())
    return {
        "content_type": content_type,
        "body": body.hex(),
        "limits": limits,
        "spool_threshold": threshold,
        "chunk": chunk,
    }


async def chunks(body: bytes, size: int) -> Any:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def read_case(case: dict[str, Any]) -> None:
    body = bytes.fromhex(case["body"])
    with tempfile.TemporaryDirectory() as spool, anyio.fail_after(20):
        try:
            async with read_mtom(
                case["content_type"],
                chunks(body, case["chunk"]),
                spool_threshold=case["spool_threshold"],
                spool_dir=spool,
                **case["limits"],
            ) as message:
                for attachment in message.attachments.values():
                    await attachment.read()
                await message.resolve()
        except MtomError:
            pass
        if os.listdir(spool):
            raise AssertionError("a temporary file was left behind")
    try:
        async with iter_mtom(
            case["content_type"], chunks(body, case["chunk"]), **case["limits"]
        ) as stream:
            async for part in stream:
                await part.read()
    except MtomError:
        pass


def test_one_input(data: bytes) -> None:
    anyio.run(read_case, case_from_input(data))


def write_seed_corpus(directory: Path) -> None:
    """Seed inputs: the valid messages of the test suite, encoded as atheris inputs."""
    from test_reader_fuzz import SEEDS

    directory.mkdir(parents=True, exist_ok=True)
    for number, message in enumerate(SEEDS):
        if message.content_type not in CONTENT_TYPES:
            continue
        # ConsumeIntInRange reads its bytes from the end of the input, the body
        # from the front: choice, limits, threshold, chunk, then the body.
        choice = CONTENT_TYPES.index(message.content_type)
        trailer = bytes([255, 0, 0, choice])  # chunk, threshold, limits, content type
        (directory / f"seed-{number}").write_bytes(message.body + trailer)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--seed-corpus":
        write_seed_corpus(Path(sys.argv[2]))
        del sys.argv[1:3]
    if len(sys.argv) > 2 and sys.argv[1] == "--show-case":
        print(json.dumps(case_from_input(Path(sys.argv[2]).read_bytes())))
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
