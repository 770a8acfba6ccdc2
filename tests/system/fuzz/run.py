"""The long hardening run: what ``nox -s fuzz`` runs.

Usage::

    python tests/system/fuzz/run.py [--examples N] [--atheris-seconds S] [-- PYTEST ARGS]

1. The property, fault-injection and reader-fuzzing tests with about N
   hypothesis examples per property (``ASYNCMTOM_FUZZ_EXAMPLES``, default
   2000), randomized; hypothesis keeps failing examples in ``.hypothesis/``
   and replays them first on the next run.  Statistics (examples run, faults
   injected, outcomes) are printed at the end.
2. If atheris is installed (``pip install atheris``), coverage-guided fuzzing
   of the reader for S seconds (default 300; 0 skips it), from the test
   suite's seed messages.  Each crash is saved as a regression case in
   ``tests/system/fuzz/corpus/`` (replayed by ``tests/system/test_reader_fuzz.py``).

The exit status is non-zero if a test failed or atheris found a crash.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CORPUS = HERE / "corpus"
SUITES = [
    "tests/system/test_properties.py",
    "tests/system/test_faults.py",
    "tests/system/test_reader_fuzz.py",
]


def run_properties(examples: int, pytest_args: list[str]) -> int:
    env = {**os.environ, "ASYNCMTOM_FUZZ_EXAMPLES": str(examples)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        *SUITES,
        "-q",
        "--hypothesis-show-statistics",
        *pytest_args,
    ]
    print("+", " ".join(command), f"(ASYNCMTOM_FUZZ_EXAMPLES={examples})", flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def run_atheris(seconds: int) -> int:
    if importlib.util.find_spec("atheris") is None:
        print("atheris is not installed: coverage-guided fuzzing skipped", flush=True)
        return 0
    harness = HERE / "atheris_reader.py"
    with tempfile.TemporaryDirectory(prefix="asyncmtom-fuzz-") as work:
        seeds, live, crashes = Path(work, "seeds"), Path(work, "live"), Path(work, "crashes")
        live.mkdir()
        crashes.mkdir()
        command = [
            sys.executable,
            str(harness),
            "--seed-corpus",
            str(seeds),
            str(live),
            str(seeds),
            f"-max_total_time={seconds}",
            "-max_len=20000",
            "-rss_limit_mb=2048",
            "-timeout=30",
            f"-artifact_prefix={crashes}/",
        ]
        print("+", " ".join(command), flush=True)
        status = subprocess.call(command, cwd=ROOT)
        found = sorted(crashes.iterdir())
        for crash in found:
            case = (
                subprocess.run(
                    [sys.executable, str(harness), "--show-case", str(crash)],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            CORPUS.mkdir(exist_ok=True)
            name = f"atheris-{hashlib.sha1(crash.read_bytes()).hexdigest()[:12]}.json"
            (CORPUS / name).write_text(case + "\n", "utf-8")
            print(f"crash saved as tests/system/fuzz/corpus/{name}", flush=True)
        return 1 if found else status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--atheris-seconds", type=int, default=300)
    parser.add_argument("pytest_args", nargs="*")
    options = parser.parse_args()
    status = run_properties(options.examples, options.pytest_args)
    if options.atheris_seconds > 0:
        status = run_atheris(options.atheris_seconds) or status
    return status


if __name__ == "__main__":
    sys.exit(main())
