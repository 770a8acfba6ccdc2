"""The asyncmtom benchmark: one table, every row measured in the same run.

Usage: ``python benchmarks/run.py [--quick] [--reps N] [--size-mib N] ...``
(also ``nox -s bench -- [options]``); ``--help`` lists every option.

Strategy.  A receiver process (``receiver.py``) listens on 127.0.0.1 and only
counts the bytes it is sent, so that the sender is what is measured.  Every row
runs as a fresh sender process (``senders.py``), so its peak RSS (``VmHWM``)
is its own.  The rows are interleaved: each repetition runs every row once
(alternately forwards and backwards), so a slow spell of the machine touches
all rows alike, and the figure printed is the median over the repetitions.
Ratios ("x raw" and the targets) are taken repetition by repetition between
rows of that same repetition, then their median is printed.

The senders of other languages (``foreign.py``: gSOAP's C client, Metro's
JAX-WS client) are built by the set-up into a cache directory and run in the
same interleaved repetitions, against the same receiver, as fresh processes
printing the same JSON line.

Before measuring, every row runs once on a small payload: a warm-up that also
checks each row works (a row that fails is reported and left out).  The
asyncmtom rows are left out, with a note, when the package cannot be imported;
a foreign sender that cannot be built, likewise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foreign import Foreign, default_cache, prepare

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MIB = 1 << 20
GIB = 1 << 30
MB = 1e6


@dataclass(frozen=True)
class Case:
    """One row of the table: a sender row of ``senders.py`` with its arguments."""

    key: str
    row: str
    size: int
    label: str
    group: str
    parts: int = 1
    backend: str = "asyncio"
    network: bool = True
    server: str = "receiver"  # which server's URL the row is given: receiver or source
    argv: tuple[str, ...] = ()  # a foreign sender's command: {url}, {size}, {chunk} filled in

    def command(self, url: str, chunk: int) -> list[str]:
        if self.argv:
            fill = {"{url}": url, "{size}": str(self.size), "{chunk}": str(chunk)}
            return [fill.get(arg, arg) for arg in self.argv]
        return [
            sys.executable,
            str(HERE / "senders.py"),
            self.row,
            "--url",
            url,
            "--size",
            str(self.size),
            "--chunk",
            str(chunk),
            "--parts",
            str(self.parts),
            "--backend",
            self.backend,
        ]


@dataclass
class Results:
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, result: dict[str, Any]) -> None:
        self.runs.setdefault(key, []).append(result)


def human_size(size: int) -> str:
    if size >= 1 << 30 and size % (1 << 30) == 0:
        return f"{size >> 30} GiB"
    if size >= MIB and size % MIB == 0:
        return f"{size >> 20} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size >> 10} KiB"
    return f"{size} B"


def size_cell(case: Case) -> str:
    if case.parts == 1:
        return human_size(case.size)
    return f"{case.parts} x {human_size(case.size)}"


# -- the plan ----------------------------------------------------------------------------


FOREIGN_LABELS = {
    "gsoap-cl": "gSOAP 2.8 C client, fmimeread streaming, C-L",
    "gsoap-chunked": "gSOAP 2.8 C client, fmimeread streaming, chunked",
    "metro-chunked": "Metro JAX-WS client, MTOMFeature, chunked streaming",
}


def plan(
    args: argparse.Namespace,
    have_asyncmtom: bool,
    reader: list[Case],
    have_wssec: bool = False,
    foreign: dict[str, list[str]] | None = None,
) -> list[Case]:
    size = args.size_mib * MIB
    big = args.big_mib * MIB
    net = f"network, {human_size(size)}"
    cases = [
        Case(
            "raw", "raw-socket", size, f"raw asyncio socket, {human_size(args.chunk)} writes", net
        ),
        Case("aiohttp-cl", "aiohttp-agen-cl", size, "aiohttp, async generator, C-L", net),
        Case("aiohttp-ch", "aiohttp-agen-chunked", size, "aiohttp, async generator, chunked", net),
        Case("httpx-cl", "httpx-agen-cl", size, "httpx, async generator, C-L", net),
        Case("httpx-ch", "httpx-agen-chunked", size, "httpx, async generator, chunked", net),
        Case("hand-cl", "hand-mtom-httpx-cl", size, "hand-written MTOM, httpx, C-L", net),
        Case("hand-ch", "hand-mtom-httpx-chunked", size, "hand-written MTOM, httpx, chunked", net),
    ]
    for key, label in FOREIGN_LABELS.items():
        if foreign is not None and key in foreign:
            cases.append(Case(key, key, size, label, net, argv=tuple(foreign[key])))
    if have_asyncmtom:
        for client in ("httpx", "aiohttp"):
            for mode in ("push", "pull"):
                for framing, name in (("cl", "C-L"), ("chunked", "chunked")):
                    cases.append(
                        Case(
                            f"am-{mode}-{client}-{framing}",
                            f"asyncmtom-{mode}-{client}-{framing}",
                            size,
                            f"asyncmtom {mode}_bytes, {client}, {name}",
                            net,
                        )
                    )
        for client in ("httpx", "aiohttp"):
            cases.append(
                Case(
                    f"am-push-{client}-cl-1mib",
                    f"asyncmtom-push-{client}-cl-1mib",
                    size,
                    f"asyncmtom push_bytes, {client}, C-L, body re-chunked to 1 MiB",
                    net,
                )
            )
        for client in ("httpx", "aiohttp"):
            cases.append(
                Case(
                    f"am-push-{client}-digest",
                    f"asyncmtom-push-{client}-digest",
                    size,
                    f"asyncmtom push_bytes, {client}, C-L, Digest 401, sent again",
                    net,
                )
            )
        if have_wssec:
            cases.append(
                Case(
                    "am-signed-httpx-cl",
                    "asyncmtom-signed-push-httpx-cl",
                    size,
                    "asyncmtom push_bytes, signed (WS-Security), httpx, C-L",
                    net,
                )
            )
        if args.trio:
            cases.append(
                Case(
                    "am-push-httpx-cl-trio",
                    "asyncmtom-push-httpx-cl",
                    size,
                    "asyncmtom push_bytes, httpx, C-L, trio",
                    net,
                    backend="trio",
                )
            )
    zeep_group = "zeep inline base64 against asyncmtom"
    for mib in args.zeep_mib:
        cases.append(
            Case(f"zeep-{mib}", "zeep-inline", mib * MIB, "zeep, inline base64", zeep_group)
        )
    if have_asyncmtom and args.zeep_mib:
        top = max(args.zeep_mib) * MIB
        cases.append(
            Case(
                "am-zeep-size",
                "asyncmtom-push-httpx-cl",
                top,
                "asyncmtom push, httpx, C-L",
                zeep_group,
            )
        )
    local = f"in process, counting sink, {human_size(size)}"
    cases.append(
        Case("memcopy", "memcopy-sink", size, "memoryview copy of each chunk", local, network=False)
    )
    if have_asyncmtom:
        cases += [
            Case(
                "am-push-sink",
                "asyncmtom-push-sink",
                size,
                "asyncmtom push_bytes, write_to",
                local,
                network=False,
            ),
            Case(
                "am-pull-sink",
                "asyncmtom-pull-sink",
                size,
                "asyncmtom pull_bytes, write_to",
                local,
                network=False,
            ),
            Case(
                "am-read-sink",
                "asyncmtom-read-sink",
                size,
                "asyncmtom pull_bytes(read(n) source), write_to",
                local,
                network=False,
            ),
            Case(
                "am-push-body",
                "asyncmtom-push-body",
                size,
                "asyncmtom push_bytes, body()",
                local,
                network=False,
            ),
        ]
        if have_wssec:
            cases.append(
                Case(
                    "am-signed-push-sink",
                    "asyncmtom-signed-push-sink",
                    size,
                    "asyncmtom push_bytes, signed (WS-Security), write_to",
                    local,
                    network=False,
                )
            )
        if args.trio:
            cases.append(
                Case(
                    "am-push-sink-trio",
                    "asyncmtom-push-sink",
                    size,
                    "asyncmtom push_bytes, write_to, trio",
                    local,
                    backend="trio",
                    network=False,
                )
            )
        parts = f"{args.parts} parts of {human_size(args.part_size)}"
        cases += [
            Case(
                "am-parts-sink",
                "asyncmtom-parts-sink",
                args.part_size,
                "asyncmtom push_bytes, write_to",
                parts,
                parts=args.parts,
                network=False,
            ),
            Case(
                "am-parts-httpx",
                "asyncmtom-parts-httpx",
                args.part_size,
                "asyncmtom push_bytes, httpx, C-L",
                parts,
                parts=args.parts,
            ),
        ]
        memory = "peak RSS: small against large attachment"
        cases += [
            Case(
                "am-rss-small",
                "asyncmtom-push-sink",
                MIB,
                "asyncmtom push_bytes, write_to",
                memory,
                network=False,
            ),
            Case(
                "am-rss-big",
                "asyncmtom-push-sink",
                big,
                "asyncmtom push_bytes, write_to",
                memory,
                network=False,
            ),
        ]
        if have_wssec:
            cases += [
                Case(
                    f"am-rss-signed-{label}",
                    "asyncmtom-signed-push-sink",
                    rss_size,
                    "asyncmtom push_bytes, signed, write_to",
                    memory,
                    network=False,
                )
                for label, rss_size in (("small", MIB), ("big", big))
            ]
    cases += reader
    return cases


READER_ROWS = (
    ("rd-raw", "reader-raw", "raw socket read (anyio stream), bytes dropped"),
    ("rd-iter", "reader-iter-mtom", "asyncmtom iter_mtom, parts streamed, nothing kept"),
    ("rd-raw-file", "reader-raw-file", "raw socket read, written to a temporary file"),
    ("rd-read", "reader-read-mtom", "asyncmtom read_mtom, attachment spooled to a file"),
)


def reader_cases(args: argparse.Namespace, have_asyncmtom: bool) -> tuple[list[Case], str]:
    """The reader's rows: ``bench_reader.py`` reads, ``mtom_source.py`` sends."""
    if not args.reader:
        return [], ""
    if not (HERE / "bench_reader.py").exists():
        return [], "reader rows left out: benchmarks/bench_reader.py is not there"
    size = args.size_mib * MIB
    group = f"reader: decoding a {human_size(size)} MTOM message from loopback"
    cases = [
        Case(key, row, size, label, group, server="source")
        for key, row, label in READER_ROWS
        if have_asyncmtom or "mtom" not in row
    ]
    return cases, ""


# -- running -----------------------------------------------------------------------------


class Server:
    """A server process (the receiver, or the reader rows' MTOM source).

    It prints ``PORT <n>`` once it listens and exits when its standard input
    is closed, so it cannot outlive this script.
    """

    def __init__(self, command: list[str], pin: bool) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
            cwd=HERE,
            preexec_fn=(lambda: os.sched_setaffinity(0, {1})) if pin else None,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("PORT "):
            self.close()
            raise SystemExit(f"{command[0]} did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/"

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait()


LIBRARY = [str(ROOT)]  # where the asyncmtom package is imported from (--library)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Benchmark this checkout (or --library), installed or not.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [LIBRARY[0], env.get("PYTHONPATH")]))
    return env


def run_case(case: Case, url: str, chunk: int, pin: bool, timeout: float) -> dict[str, Any]:
    completed = subprocess.run(
        case.command(url, chunk),
        capture_output=True,
        env=child_env(),
        timeout=timeout,
        preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pin else None,
        check=False,
    )
    lines = completed.stdout.decode(errors="replace").strip().splitlines()
    if completed.returncode != 0 or not lines:
        detail = (completed.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"exit status {completed.returncode}: {detail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def with_size(case: Case, size: int) -> Case:
    return Case(
        case.key,
        case.row,
        size,
        case.label,
        case.group,
        min(case.parts, 100),
        case.backend,
        case.network,
        case.server,
        case.argv,
    )


def measure(cases: list[Case], args: argparse.Namespace, urls: dict[str, str]) -> Results:
    results = Results()
    alive = list(cases)
    if args.warmup:
        log("warm-up: every row once, small payload (the reader rows: full size)")
        for case in cases:
            small = case if case.server == "source" else with_size(case, min(case.size, MIB))
            try:
                run_case(small, urls[case.server], args.chunk, args.pin, args.timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                results.failures[case.key] = f"warm-up failed: {exc}"
                alive.remove(case)
                log(f"  {case.key}: {exc} (left out)")
    for rep in range(args.reps):
        order = alive if rep % 2 == 0 else alive[::-1]
        for number, case in enumerate(order, 1):
            where = f"rep {rep + 1}/{args.reps}  row {number:2}/{len(order)}  {case.key:24}"
            try:
                result = run_case(case, urls[case.server], args.chunk, args.pin, args.timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                results.failures[case.key] = str(exc)
                log(f"{where}  failed: {exc}")
                continue
            result["rep"] = rep
            results.add(case.key, result)
            log(f"{where}  {result['wall']:8.3f} s  {result['maxrss_kib'] / 1024:7.1f} MiB")
    return results


def log(message: str) -> None:
    """Progress, on standard error (the table goes to standard output)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# -- figures -----------------------------------------------------------------------------


def payload(case: Case) -> int:
    return case.size * case.parts


def per_rep(results: Results, key: str) -> dict[int, dict[str, Any]]:
    return {r["rep"]: r for r in results.runs.get(key, [])}


def median_of(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.median(values) if values else None


def paired(
    results: Results, a: str, b: str, figure: Callable[[dict[str, Any], dict[str, Any]], float]
) -> float | None:
    """The median over repetitions of ``figure(run of a, run of b)`` for the same repetition."""
    runs_a, runs_b = per_rep(results, a), per_rep(results, b)
    return median_of(figure(runs_a[rep], runs_b[rep]) for rep in runs_a if rep in runs_b)


def ratio_to(case: Case, base: Case) -> Callable[[dict[str, Any], dict[str, Any]], float]:
    return lambda a, b: speed(case, a) / speed(base, b)


def speed(case: Case, run: dict[str, Any]) -> float:
    return payload(case) / float(run["wall"]) / MB


@dataclass
class Row:
    case: Case
    wall: float
    mbps: float
    ratio: float | None
    cpu: float
    cpu_per_gib: float
    rss_mib: float
    added_mib: float
    spread: float
    note: str


def summarize(cases: list[Case], results: Results) -> list[Row]:
    by_key = {case.key: case for case in cases}
    raw = by_key.get("raw")
    rows = []
    for case in cases:
        runs = results.runs.get(case.key)
        if not runs:
            continue
        walls = [r["wall"] for r in runs]
        wall = statistics.median(walls)
        ratio = None
        base = by_key.get("rd-raw") if case.server == "source" else raw
        if base is not None and case.network:
            ratio = paired(results, case.key, base.key, ratio_to(case, base))
        note = ""
        if case.parts > 1:
            note = f"{median_of(case.parts / r['wall'] for r in runs):,.0f} parts/s"
        elif "reader_note" in runs[0]:
            note = runs[0]["reader_note"]
        rows.append(
            Row(
                case=case,
                wall=wall,
                mbps=payload(case) / wall / MB,
                ratio=ratio,
                cpu=statistics.median(r["cpu"] for r in runs),
                cpu_per_gib=statistics.median(r["cpu"] for r in runs) / (payload(case) / GIB),
                rss_mib=statistics.median(r["maxrss_kib"] for r in runs) / 1024,
                added_mib=statistics.median((r["maxrss_kib"] - r["rss_before_kib"]) for r in runs)
                / 1024,
                spread=(max(walls) - min(walls)) / wall * 100 if wall else 0.0,
                note=note,
            )
        )
    return rows


HEADER = (
    "row",
    "size",
    "wall s",
    "MB/s",
    "x raw",
    "CPU s",
    "CPU s/GiB",
    "peak RSS MiB",
    "+RSS MiB",
    "spread",
    "note",
)


def cells(row: Row) -> tuple[str, ...]:
    return (
        row.case.label,
        size_cell(row.case),
        f"{row.wall:.3f}",
        f"{row.mbps:,.0f}",
        "-" if row.ratio is None else f"{row.ratio:.2f}",
        f"{row.cpu:.3f}",
        f"{row.cpu_per_gib:.3f}",
        f"{row.rss_mib:.1f}",
        f"{row.added_mib:.1f}",
        f"{row.spread:.0f}%",
        row.note,
    )


def text_table(rows: list[Row]) -> str:
    table = [HEADER] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    out = []
    group = None
    for index, line in enumerate(table):
        if index and rows[index - 1].case.group != group:
            group = rows[index - 1].case.group
            out.append(f"-- {group}")
        out.append(
            "  ".join(
                cell.ljust(width) if i in (0, 1, len(HEADER) - 1) else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    group = None
    for row in rows:
        if row.case.group != group:
            group = row.case.group
            out.append(f"| **{group}** |" + " |" * (len(HEADER) - 1))
        out.append("| " + " | ".join(cells(row)) + " |")
    return "\n".join(out)


# -- targets -----------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    figure: str
    met: bool | None  # None: not measured in this run


def targets(cases: list[Case], results: Results) -> list[Target]:
    by_key = {case.key: case for case in cases}
    out: list[Target] = []

    def ratio_target(name: str, a: str, b: str, goal: float, what: str) -> None:
        if a not in by_key or b not in by_key:
            out.append(Target(name, "not measured", None))
            return
        ca, cb = by_key[a], by_key[b]
        value = paired(results, a, b, lambda x, y: speed(ca, x) / speed(cb, y))
        if value is None:
            out.append(Target(name, "not measured", None))
            return
        # The same ratio by sender CPU per byte: a busy machine moves it less than wall time.
        by_cpu = paired(
            results,
            a,
            b,
            lambda x, y: (payload(ca) / max(x["cpu"], 1e-9)) / (payload(cb) / max(y["cpu"], 1e-9)),
        )
        out.append(
            Target(
                name,
                f"{value:.3f}x {what} (goal >= {goal:.2f}x; by CPU per byte {by_cpu or 0:.3f}x)",
                value >= goal,
            )
        )

    ratio_target(
        "asyncmtom push_bytes through httpx, C-L >= 1.1x gSOAP's C client, C-L",
        "am-push-httpx-cl",
        "gsoap-cl",
        1.1,
        "gSOAP, C-L",
    )
    ratio_target(
        "asyncmtom push_bytes through aiohttp, C-L >= 1.5x gSOAP's C client, C-L",
        "am-push-aiohttp-cl",
        "gsoap-cl",
        1.5,
        "gSOAP, C-L",
    )
    ratio_target(
        "asyncmtom push_bytes through httpx, chunked >= 1.0x gSOAP's C client, chunked",
        "am-push-httpx-chunked",
        "gsoap-chunked",
        1.0,
        "gSOAP, chunked",
    )
    name = "every asyncmtom network row >= 1.0x Metro's streaming client"
    # The plain uploads of the same size: not the many-parts rows, not the signed ones,
    # not those that send the body twice (Digest).
    ours = [
        c.key
        for c in cases
        if c.key.startswith("am-")
        and "signed" not in c.key
        and "digest" not in c.key
        and c.network
        and c.parts == 1
        and c.size == by_key.get("metro-chunked", c).size
    ]
    if "metro-chunked" in by_key and ours:
        metro = by_key["metro-chunked"]
        worst: tuple[float, str, float] | None = None
        for key in ours:
            value = paired(results, key, metro.key, ratio_to(by_key[key], metro))
            by_cpu = paired(results, key, metro.key, lambda x, y: y["cpu"] / max(x["cpu"], 1e-9))
            if value is not None and (worst is None or value < worst[0]):
                worst = (value, by_key[key].label, by_cpu or 0.0)
        if worst is None:
            out.append(Target(name, "not measured", None))
        else:
            out.append(
                Target(
                    name,
                    f"the slowest, {worst[1]}: {worst[0]:.3f}x Metro (goal >= 1.00x; "
                    f"by CPU per byte {worst[2]:.3f}x)",
                    worst[0] >= 1.0,
                )
            )
    else:
        out.append(Target(name, "not measured", None))

    for mode in ("push", "pull"):
        ratio_target(
            f"asyncmtom {mode}_bytes through aiohttp >= 0.95x aiohttp's async-generator POST",
            f"am-{mode}-aiohttp-cl",
            "aiohttp-cl",
            0.95,
            "aiohttp async generator, C-L",
        )
        ratio_target(
            f"asyncmtom {mode}_bytes through aiohttp, chunked >= 0.95x aiohttp's chunked POST",
            f"am-{mode}-aiohttp-chunked",
            "aiohttp-ch",
            0.95,
            "aiohttp async generator, chunked",
        )
    for mode in ("push", "pull"):
        ratio_target(
            f"asyncmtom {mode}_bytes through httpx, C-L >= 1.0x the hand-written sender",
            f"am-{mode}-httpx-cl",
            "hand-cl",
            1.0,
            "hand-written MTOM, C-L",
        )
        ratio_target(
            f"asyncmtom {mode}_bytes through httpx, chunked >= 1.0x the hand-written sender",
            f"am-{mode}-httpx-chunked",
            "hand-ch",
            1.0,
            "hand-written MTOM, chunked",
        )

    name = "in-process serialization CPU <= 2x a memoryview copy of the same chunks"
    if "am-push-sink" in by_key and "memcopy" in by_key:
        value = paired(results, "am-push-sink", "memcopy", lambda a, b: a["cpu"] / b["cpu"])
        if value is None:
            out.append(Target(name, "not measured", None))
        else:
            out.append(Target(name, f"{value:.3f}x the copy's CPU (goal <= 2x)", value <= 2.0))
    else:
        out.append(Target(name, "not measured", None))

    name = "a large attachment adds < 16 MiB of peak RSS over a 1 MiB one"
    if "am-rss-big" in by_key and "am-rss-small" in by_key:
        big = by_key["am-rss-big"].size
        value = paired(
            results,
            "am-rss-big",
            "am-rss-small",
            lambda a, b: (a["maxrss_kib"] - b["maxrss_kib"]) / 1024,
        )
        if value is None:
            out.append(Target(name, "not measured", None))
        else:
            name = f"a {human_size(big)} attachment adds < 16 MiB of peak RSS over a 1 MiB one"
            if big >= 4 << 30:
                out.append(Target(name, f"{value:+.1f} MiB", value < 16))
            else:  # too small to judge the target; the figure is still shown
                note = " (not judged: the target is for 4 GiB, as in a run at the default sizes)"
                out.append(Target(name, f"{value:+.1f} MiB{note}", None))
    else:
        out.append(Target(name, "not measured", None))

    out.extend(signing_targets(by_key, results))

    zeep = [c for c in cases if c.row == "zeep-inline"]
    name = "against zeep inline: >= 20x less wall time and >= 40x less peak RSS"
    if zeep and "am-zeep-size" in by_key:
        top = max(zeep, key=lambda c: c.size)
        name = (
            f"against zeep inline at {human_size(top.size)}: >= 20x less wall time "
            "and >= 40x less peak RSS"
        )
        wall = paired(results, top.key, "am-zeep-size", lambda a, b: a["wall"] / b["wall"])
        rss = paired(
            results, top.key, "am-zeep-size", lambda a, b: a["maxrss_kib"] / b["maxrss_kib"]
        )
        if wall is None or rss is None:
            out.append(Target(name, "not measured", None))
        else:
            figure = f"{wall:.1f}x less wall time, {rss:.1f}x less peak RSS"
            if top.size >= 256 * MIB:
                out.append(Target(name, figure, wall >= 20 and rss >= 40))
            else:  # too small to judge: zeep's costs grow with the size
                note = " (not judged: the target is for 256 MiB, as in a run at the default sizes)"
                out.append(Target(name, figure + note, None))
    else:
        out.append(Target(name, "not measured", None))

    name = "parts per second >= 50,000 for 4 KiB parts"
    if "am-parts-sink" in by_key:
        case = by_key["am-parts-sink"]
        value = median_of(case.parts / r["wall"] for r in results.runs.get("am-parts-sink", []))
        if value is None:
            out.append(Target(name, "not measured", None))
        else:
            out.append(
                Target(
                    f"parts per second >= 50,000 for {human_size(case.size)} parts "
                    f"({case.parts} parts, counting sink)",
                    f"{value:,.0f} parts/s",
                    value >= 50_000,
                )
            )
    else:
        out.append(Target(name, "not measured", None))

    out.extend(replay_targets(by_key, results))
    out.extend(reader_targets(cases, results))
    return out


def replay_targets(by_key: dict[str, Case], results: Results) -> list[Target]:
    """Sending again (Digest): memory as flat as one send, about one more read of the data."""
    out = []
    for client in ("httpx", "aiohttp"):
        again, once = f"am-push-{client}-digest", f"am-push-{client}-cl"
        name = f"sent again after a Digest 401 ({client}): peak RSS within 8 MiB of a single send"
        if again not in by_key or once not in by_key:
            out.append(Target(name, "not measured", None))
            continue
        rss = paired(results, again, once, lambda a, b: (a["maxrss_kib"] - b["maxrss_kib"]) / 1024)
        wall = paired(results, again, once, lambda a, b: a["wall"] / max(b["wall"], 1e-9))
        cpu = paired(results, again, once, lambda a, b: a["cpu"] / max(b["cpu"], 1e-9))
        if rss is None or wall is None or cpu is None:
            out.append(Target(name, "not measured", None))
            continue
        figure = f"{rss:+.1f} MiB; {wall:.2f}x the wall time, {cpu:.2f}x the CPU of one send"
        out.append(Target(name, figure, rss <= 8))
    return out


def signing_targets(by_key: dict[str, Case], results: Results) -> list[Target]:
    """WS-Security: flat memory, and the cost of the digest pass next to an unsigned send."""
    out = []
    name = "a signed large attachment adds < 16 MiB of peak RSS over a signed 1 MiB one"
    value = None
    if "am-rss-signed-big" in by_key and "am-rss-signed-small" in by_key:
        value = paired(
            results,
            "am-rss-signed-big",
            "am-rss-signed-small",
            lambda a, b: (a["maxrss_kib"] - b["maxrss_kib"]) / 1024,
        )
    if value is None:
        out.append(Target(name, "not measured", None))
    else:
        big = by_key["am-rss-signed-big"].size
        name = f"a signed {human_size(big)} attachment adds < 16 MiB of peak RSS over 1 MiB"
        out.append(Target(name, f"{value:+.1f} MiB", value < 16))
    for signed, plain, what in (
        ("am-signed-push-sink", "am-push-sink", "in process"),
        ("am-signed-httpx-cl", "am-push-httpx-cl", "httpx, C-L"),
    ):
        name = f"signing ({what}): wall time and CPU against the same message unsigned"
        if signed not in by_key or plain not in by_key:
            out.append(Target(name, "not measured", None))
            continue
        wall = paired(results, signed, plain, lambda a, b: a["wall"] - b["wall"])
        cpu = paired(results, signed, plain, lambda a, b: a["cpu"] - b["cpu"])
        size = by_key[signed].size
        if wall is None or cpu is None:
            out.append(Target(name, "not measured", None))
            continue
        figure = (
            f"+{wall:.2f} s wall, +{cpu:.2f} s CPU for {human_size(size)} "
            f"(the digest pass: {size / max(wall, 1e-9) / 1e6:.0f} MB/s)"
        )
        out.append(Target(name, figure, None))
    return out


def reader_targets(cases: list[Case], results: Results) -> list[Target]:
    by_key = {case.key: case for case in cases}
    out = []
    for key, base, goal, what in (
        ("rd-iter", "rd-raw", 0.9, "iter_mtom (streamed) >= 0.9x a raw socket read"),
        ("rd-read", "rd-raw-file", 0.8, "read_mtom >= 0.8x a raw socket read written to a file"),
    ):
        name = f"the reader: {what}, with flat memory (peak RSS within raw's + 16 MiB)"
        if key not in by_key or base not in by_key:
            out.append(Target(name, "not measured", None))
            continue
        ca, cb = by_key[key], by_key[base]
        value = paired(results, key, base, ratio_to(ca, cb))
        extra = paired(results, key, base, lambda a, b: (a["maxrss_kib"] - b["maxrss_kib"]) / 1024)
        if value is None or extra is None:
            out.append(Target(name, "not measured", None))
            continue
        out.append(
            Target(
                name,
                f"{value:.3f}x, peak RSS {extra:+.1f} MiB over the raw read",
                value >= goal and extra < 16,
            )
        )
    return out


def targets_text(found: list[Target]) -> str:
    lines = []
    for target in found:
        verdict = {True: "met", False: "NOT MET", None: "not judged"}[target.met]
        lines.append(f"[{verdict}] {target.name}: {target.figure}")
    return "\n".join(lines)


# -- the machine -------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for name in ("asyncmtom", "httpx", "h11", "httpcore", "aiohttp", "zeep", "anyio"):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
        except Exception:
            pass
    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": f"{platform.system()} {platform.release()}",
        "versions": ", ".join(versions),
    }


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# -- main --------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="asyncmtom benchmark: one interleaved run, one table, the targets checked."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="256 MiB rows, 1 GiB for the memory row, zeep at 16 MiB only, 3 repetitions",
    )
    parser.add_argument("--reps", type=int, help="repetitions per row (default 7, quick 3)")
    parser.add_argument("--size-mib", type=int, help="attachment size of the main rows (1024)")
    parser.add_argument(
        "--big-mib", type=int, help="the large attachment of the peak RSS rows (4096)"
    )
    parser.add_argument(
        "--zeep-mib",
        type=int,
        nargs="*",
        help="zeep inline sizes (16 64 256; quick 16); none to skip zeep",
    )
    parser.add_argument("--parts", type=int, default=10_000, help="parts in the many-parts rows")
    parser.add_argument("--part-size", type=int, default=4096, help="bytes per part there")
    parser.add_argument(
        "--chunk", type=int, default=64 * 1024, help="bytes per write of every sender (65536)"
    )
    parser.add_argument(
        "--only",
        nargs="*",
        metavar="KEY",
        help="run only the rows whose key contains one of these strings",
    )
    parser.add_argument(
        "--no-trio", dest="trio", action="store_false", help="leave out the rows on trio"
    )
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument(
        "--no-reader", dest="reader", action="store_false", help="leave out the reader rows"
    )
    parser.add_argument(
        "--no-foreign",
        dest="foreign",
        action="store_false",
        help="leave out the gSOAP and Metro senders (built by the set-up otherwise)",
    )
    parser.add_argument(
        "--build-dir",
        metavar="DIR",
        help="where the gSOAP and Metro senders are built (default ~/.cache/asyncmtom-bench)",
    )
    parser.add_argument(
        "--pin", action="store_true", help="pin the senders to CPU 0 and the receiver to CPU 1"
    )
    parser.add_argument("--hash", action="store_true", help="the receiver SHA-256s every body")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per sender run")
    parser.add_argument("--json", metavar="FILE", help="write every run's figures to FILE")
    parser.add_argument("--markdown", metavar="FILE", help="write the table as Markdown to FILE")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument(
        "--replot",
        metavar="FILE",
        help="print the table again from a --json FILE, measuring nothing",
    )
    parser.add_argument(
        "--library",
        metavar="DIR",
        help="import asyncmtom from DIR (a directory holding the package, another checkout) "
        "instead of this checkout, to compare versions",
    )
    args = parser.parse_args(argv)
    args.reps = args.reps or (3 if args.quick else 7)
    args.size_mib = args.size_mib or (256 if args.quick else 1024)
    args.big_mib = args.big_mib or (1024 if args.quick else 4096)
    if args.zeep_mib is None:
        args.zeep_mib = [16] if args.quick else [16, 64, 256]
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def importable(code: str) -> str | None:
    """None if ``code`` runs in a child process, else the last line of its error."""
    probe = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env=child_env(),
        check=False,
    )
    if probe.returncode == 0:
        return None
    return (probe.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.replot:
        return replot(args)
    if args.library:
        LIBRARY[0] = str(Path(args.library).resolve())
    missing = importable("import asyncmtom; asyncmtom.XmlWriter; asyncmtom.MtomEncoding")
    no_trio = importable("import trio") if args.trio else None
    if no_trio is not None:
        args.trio = False
    no_wssec = importable("import asyncmtom.wssec") if missing is None else missing
    reader, reader_note = reader_cases(args, missing is None)
    foreign = Foreign()
    if args.list and args.foreign:
        foreign.argv = {key: [] for key in FOREIGN_LABELS}
    elif args.foreign:
        log("set-up: building the gSOAP and Metro senders (cached)")
        foreign = prepare(Path(args.build_dir) if args.build_dir else default_cache())
    cases = plan(args, missing is None, reader, no_wssec is None, foreign.argv)
    if args.only:
        cases = [c for c in cases if any(s in c.key for s in args.only) or c.key == "raw"]
    if args.list:
        for case in cases:
            print(f"{case.key:24} {case.label} ({size_cell(case)})")
        return 0
    info = machine()
    started = time.time()
    load_before = load()
    servers = {
        "receiver": Server(
            ["receiver.py", "--watch-stdin", *(["--hash"] if args.hash else [])], args.pin
        )
    }
    try:
        if any(case.server == "source" for case in cases):
            servers["source"] = Server(
                ["mtom_source.py", "--size", str(args.size_mib * MIB)], args.pin
            )
        results = measure(cases, args, {name: server.url for name, server in servers.items()})
    finally:
        for server in servers.values():
            server.close()
    notes = []
    if missing is not None:
        notes.append(f"asyncmtom rows left out: the package cannot be imported ({missing})")
    if no_trio is not None:
        notes.append(f"trio rows left out: trio cannot be imported ({no_trio})")
    if no_wssec is not None and missing is None:
        notes.append(f"signed rows left out: install the wssec extra ({no_wssec})")
    if reader_note:
        notes.append(reader_note)
    notes.extend(foreign.notes)
    run = {
        "machine": info,
        "args": {
            k: v
            for k, v in vars(args).items()
            if k not in ("json", "markdown", "replot", "build_dir")
        },
        "minutes": (time.time() - started) / 60,
        "load_before": load_before,
        "load_after": load(),
        "notes": notes,
    }
    return report(cases, results, args, run)


def replot(args: argparse.Namespace) -> int:
    """Print the table and the targets again from a ``--json`` file, without measuring."""
    data = json.loads(Path(args.replot).read_text())
    saved = argparse.Namespace(**data["run"]["args"])
    have_asyncmtom = any(key.startswith("am-") for key in data["runs"])
    reader, _ = reader_cases(saved, have_asyncmtom)
    have_wssec = any(key.startswith("am-signed") for key in data["runs"])
    foreign = {k: [] for k in FOREIGN_LABELS if k in data["runs"]}
    cases = plan(saved, have_asyncmtom, reader, have_wssec, foreign)
    results = Results(runs=data["runs"], failures=data["failures"])
    for name in ("reps", "chunk"):
        setattr(args, name, getattr(saved, name))
    return report(cases, results, args, data["run"])


def report(
    cases: list[Case], results: Results, args: argparse.Namespace, run: dict[str, Any]
) -> int:
    """Print the table, the targets and the notes; write the --json and --markdown files."""
    info = run["machine"]
    minutes = run["minutes"]
    load_before = run["load_before"]
    rows = summarize(cases, results)
    found = targets(cases, results)

    header = [
        f"asyncmtom benchmark: {args.reps} repetitions, interleaved, median shown; "
        f"{args.chunk // 1024} KiB chunks; {minutes:.1f} min",
        f"machine: {info['cpu']}, {info['cores']} cores, {info['python']}, {info['os']}",
        f"versions: {info['versions']}"
        + (
            f" (asyncmtom from --library {library})"
            if (library := run["args"].get("library"))
            else ""
        ),
        f"load average before {load_before}, after {run['load_after']}",
        "wall: sender's timed region; MB/s: payload MB (1e6) per second; x raw: MB/s over the raw",
        "socket's MB/s in the same repetition; CPU: sender process CPU in the timed region",
        "(CPU s/GiB: the same per GiB of payload);",
        "peak RSS: the sender process's VmHWM; +RSS: how much the timed region raised it;",
        "spread: (max - min) / median of the wall times.",
    ]
    notes = list(run["notes"])
    for key, failure in results.failures.items():
        notes.append(f"{key}: {failure}")
    text = "\n".join(header) + "\n\n" + text_table(rows) + "\n\nTargets:\n" + targets_text(found)
    if notes:
        text += "\n\nNotes:\n" + "\n".join(f"- {n}" for n in notes)
    print(text)
    if args.markdown:
        md = "\n".join(
            [
                "```",
                *header,
                "```",
                "",
                markdown_table(rows),
                "",
                "Targets:",
                "",
                *(f"- {line}" for line in targets_text(found).splitlines()),
                *([""] + [f"Note: {n}" for n in notes] if notes else []),
                "",
            ]
        )
        Path(args.markdown).write_text(md)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "run": run,
                    "runs": results.runs,
                    "failures": results.failures,
                    "targets": [vars(t) for t in found],
                },
                indent=1,
            )
        )
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
