"""Real SOAP peers for the interop tests.

Metro (the JAX-WS reference implementation, Debian's ``libjaxws-java``) runs
the small service under ``java/``: it is compiled once per test session into a
temporary directory, started once on a free port of 127.0.0.1, and stopped at
the end of the session.  ``install-peers.sh`` installs the JDK and Metro.

When a peer is missing, its tests are skipped with the reason, except in CI
(``CI=true``), where a missing peer is an error: a broken install step must be
seen, not hidden behind a green run of skips.

At the end of the run a table of the interop cases (outcome and time) and the
server memory figures the tests recorded is printed with the terminal summary.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
JAVA_SRC = HERE / "java"
JAVA_HOME_JARS = Path("/usr/share/java")

# Metro's runtime and what it needs, as Debian installs them.
METRO_JARS = [
    "jaxws-rt.jar",
    "jaxws-api.jar",
    "jaxb-api.jar",
    "jaxb-runtime.jar",
    "jaxb-core.jar",
    "javax.activation.jar",
    "jws-api.jar",
    "javax.xml.soap-api.jar",
    "saaj-impl.jar",
    "stax-ex.jar",
    "streambuffer.jar",
    "mimepull.jar",
    "gmbal.jar",
    "glassfish-management-api.jar",
    "metro-policy.jar",
    "istack-commons-runtime.jar",
    "FastInfoset.jar",
    "txw2.jar",
]

# The JVM gets a small heap on purpose: a service that buffered a whole
# attachment of the large sizes could not keep it, so a passing 1 GiB case
# also shows that nothing on the server side holds the data.
JVM_HEAP = "-Xmx256m"
STARTUP_TIMEOUT = 90.0
COMPILE_TIMEOUT = 180.0

NS = "urn:asyncmtom:interop"

if sys.platform != "linux":  # /proc and Debian paths: the peers run on Linux only
    collect_ignore_glob = ["test_*.py"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def peer_missing(reason: str) -> None:
    """Skip outside CI; fail loudly in CI."""
    if in_ci():
        pytest.fail(f"interop peer missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


# --- Metro ---------------------------------------------------------------------------------


@dataclass
class JavaBuild:
    java: str
    classpath: str


@dataclass
class MetroServer:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, soap: str) -> str:
        """``soap`` is ``"11"`` or ``"12"``."""
        return f"http://127.0.0.1:{self.port}/soap{soap}"

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def vm_hwm(self) -> int:
        """The process's peak resident set size in bytes (VmHWM)."""
        return _proc_status_kib(self.pid, "VmHWM") * 1024

    def vm_rss(self) -> int:
        return _proc_status_kib(self.pid, "VmRSS") * 1024

    def reset_hwm(self) -> bool:
        """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False if not allowed."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True


def _proc_status_kib(pid: int, key: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+)\s+kB", text, re.MULTILINE)
    if m is None:
        raise RuntimeError(f"no {key} in /proc/{pid}/status")
    return int(m.group(1))


@pytest.fixture(scope="session")
def java_build(tmp_path_factory: pytest.TempPathFactory) -> JavaBuild:
    """Compiles the service and the client under ``java/`` once per session."""
    javac = shutil.which("javac")
    java = shutil.which("java")
    if javac is None or java is None:
        peer_missing("no JDK (javac/java) on PATH: run tests/interop/install-peers.sh as root")
    assert javac is not None and java is not None
    missing = [j for j in METRO_JARS if not (JAVA_HOME_JARS / j).is_file()]
    if missing:
        peer_missing(
            f"Metro jars missing from {JAVA_HOME_JARS}: {', '.join(missing)} "
            "(Debian package libjaxws-java: run tests/interop/install-peers.sh as root)"
        )
    jars = os.pathsep.join(str(JAVA_HOME_JARS / j) for j in METRO_JARS)
    out = tmp_path_factory.mktemp("java-classes")
    sources = sorted(str(p) for p in JAVA_SRC.rglob("*.java"))
    proc = subprocess.run(
        [javac, "-nowarn", "-encoding", "UTF-8", "-d", str(out), "-cp", jars, *sources],
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        # Sources that do not compile are a bug here, not a missing peer.
        pytest.fail(f"javac failed:\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return JavaBuild(java=java, classpath=os.pathsep.join([str(out), jars]))


def jvm_args(build: JavaBuild, tmpdir: Path) -> list[str]:
    return [
        build.java,
        JVM_HEAP,
        "-XX:+UseSerialGC",
        "-Xss512k",
        f"-Djava.io.tmpdir={tmpdir}",
        "-Dcom.sun.xml.ws.monitoring.endpoint=false",
        "-Dcom.sun.xml.ws.monitoring.client=false",
        "-cp",
        build.classpath,
    ]


def _read_ready(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """Waits (bounded) for the ``READY <port>`` line; None if the process died."""
    lines: queue.Queue[bytes] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in iter(stdout.readline, b""):
            lines.put(line)
        lines.put(b"")

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"server not ready within {timeout:.0f} s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if not line:
            return None
        m = re.match(rb"READY (\d+)", line)
        if m:
            return int(m.group(1))


@pytest.fixture(scope="session")
def metro(java_build: JavaBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetroServer]:
    """Metro publishing the service at ``/soap11`` and ``/soap12`` on 127.0.0.1."""
    work = tmp_path_factory.mktemp("metro")
    log = work / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*jvm_args(java_build, work), "interop.Server", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
    try:
        port = _read_ready(process, STARTUP_TIMEOUT)
    except TimeoutError as exc:
        _stop(process)
        pytest.fail(f"Metro did not start: {exc}\n{log.read_text(errors='replace')}", pytrace=False)
    if port is None:
        _stop(process)
        pytest.fail(f"Metro exited at startup:\n{log.read_text(errors='replace')}", pytrace=False)
    assert port is not None
    server = MetroServer(port=port, process=process, log=log)
    try:
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stops the process this fixture started: stdin EOF first, then terminate, then kill."""
    if process.poll() is None:
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=5)
        except (subprocess.TimeoutExpired, OSError):
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
    for stream in (process.stdin, process.stdout):
        if stream is not None and not stream.closed:
            stream.close()


# --- the report ----------------------------------------------------------------------------


@dataclass
class InteropReport:
    memory: list[tuple[str, str]] = field(default_factory=list)

    def note_memory(self, case: str, text: str) -> None:
        self.memory.append((case, text))


_REPORT = InteropReport()
_RESULTS: dict[str, tuple[str, float]] = {}


@pytest.fixture(scope="session")
def interop_report() -> InteropReport:
    return _REPORT


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/interop/" not in report.nodeid.replace(os.sep, "/"):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfail" if report.skipped else "xpass"
        _RESULTS[report.nodeid] = (outcome, report.duration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _RESULTS:
        return
    tr = terminalreporter
    tr.section("interop matrix")
    names = {nodeid: nodeid.split("::", 1)[-1] for nodeid in _RESULTS}
    width = max(len(n) for n in names.values())
    for nodeid, (outcome, duration) in _RESULTS.items():
        name = names[nodeid]
        tr.write_line(f"{name:<{width}}  {outcome:<7} {duration:8.2f} s")
    if _REPORT.memory:
        tr.section("interop server memory")
        for case, text in _REPORT.memory:
            tr.write_line(f"{case}: {text}")

