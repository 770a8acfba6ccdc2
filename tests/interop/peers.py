"""Starting and stopping the real SOAP peers, without pytest.

Used by ``conftest.py`` (session fixtures), by ``capture_metro.py`` (which
regenerates the recorded Metro messages under ``data/``) and by the benchmark.

.NET's MTOM reader and writer (``dotnet/MtomPeer.cs``) run under Mono as one
long-lived process answering commands on its standard input (see
`DotnetMtom`): starting the runtime once keeps the tests fast.

Each server prints one line ``READY <port>`` once it listens on 127.0.0.1 and
stops when its standard input closes; `Peer.stop` closes it, then terminates
and finally kills the one process it started.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
JAVA_SRC = HERE / "java"
DEBIAN_JARS = Path("/usr/share/java")

# Metro's runtime and what it needs, as Debian's libjaxws-java installs them.
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

# The service's JVM gets a small heap on purpose: a service that buffered a
# whole attachment of the large sizes could not keep it, so a passing 1 GiB
# case also shows that nothing on the server side holds the data.
JVM_HEAP = "-Xmx256m"
STARTUP_TIMEOUT = 90.0
COMPILE_TIMEOUT = 180.0
CLIENT_TIMEOUT = 120.0
DOTNET_SRC = HERE / "dotnet" / "MtomPeer.cs"
# One command decodes or writes at most a few hundred MiB.
DOTNET_COMMAND_TIMEOUT = 120.0


class PeerMissing(RuntimeError):
    """A peer is not installed here."""


class PeerFailed(RuntimeError):
    """A peer is installed but did not build or start."""


@dataclass
class JavaBuild:
    java: str
    classpath: str

    def jvm(self, tmpdir: Path, *, heap: str = JVM_HEAP, quick_start: bool = False) -> list[str]:
        return [
            self.java,
            heap,
            "-XX:+UseSerialGC",
            # A short-lived client starts faster with the first JIT tier only.
            *(["-XX:TieredStopAtLevel=1"] if quick_start else []),
            f"-Djava.io.tmpdir={tmpdir}",
            # Metro's JMX monitoring needs glassfish-pfl classes Debian's
            # package does not put on the class path: it only logs a warning,
            # but it is off here so the server log stays readable.
            "-Dcom.sun.xml.ws.monitoring.endpoint=false",
            "-Dcom.sun.xml.ws.monitoring.client=false",
            "-cp",
            self.classpath,
        ]


def _compile(
    sources_dir: Path, jar_names: list[str], out: Path, what: str, package: str
) -> JavaBuild:
    javac = shutil.which("javac")
    java = shutil.which("java")
    if javac is None or java is None:
        raise PeerMissing("no JDK (javac/java) on PATH: run tests/interop/install-peers.sh as root")
    missing = [j for j in jar_names if not (DEBIAN_JARS / j).is_file()]
    if missing:
        raise PeerMissing(
            f"{what} jars missing from {DEBIAN_JARS}: {', '.join(missing)} "
            f"(Debian package {package}: run tests/interop/install-peers.sh as root)"
        )
    jars = os.pathsep.join(str(DEBIAN_JARS / j) for j in jar_names)
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(str(p) for p in sources_dir.rglob("*.java"))
    proc = subprocess.run(
        [javac, "-nowarn", "-encoding", "UTF-8", "-d", str(out), "-cp", jars, *sources],
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise PeerFailed(f"javac failed:\n{proc.stdout}\n{proc.stderr}")
    return JavaBuild(java=java, classpath=os.pathsep.join([str(out), jars]))


def compile_java(out: Path) -> JavaBuild:
    """Compiles the service and the client under ``java/`` into *out*."""
    return _compile(JAVA_SRC, METRO_JARS, out, "Metro", "libjaxws-java")


# Apache WSS4J 1.6 (Debian's libwss4j-java) and what it needs, for the signature verifier.
WSS4J_JARS = ["wss4j.jar", "xmlsec.jar", "commons-logging.jar", "slf4j-api.jar"]
WSS4J_SRC = HERE / "wss4j"


def compile_wss4j(out: Path) -> JavaBuild:
    """Compiles the WS-Security verifier under ``wss4j/`` (``interop.WssVerify``) into *out*."""
    return _compile(WSS4J_SRC, WSS4J_JARS, out, "WSS4J", "libwss4j-java")


class DotnetMtom:
    """.NET's XmlMtomReader / XmlMtomWriter under Mono: one process, one command at a time."""

    def __init__(self, exe: Path, workdir: Path) -> None:
        mono = shutil.which("mono")
        if mono is None:  # compile_dotnet checked it
            raise PeerMissing("no mono on PATH")
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "mono.log"
        with self.log.open("wb") as log_file:
            self.process = subprocess.Popen(
                [mono, str(exe)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                cwd=workdir,
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None

        def pump() -> None:
            for line in iter(stdout.readline, b""):
                self._lines.put(line.decode("utf-8").rstrip("\r\n"))
            self._lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            first = self._next(STARTUP_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        if first != "READY":
            self.stop()
            raise PeerFailed(f"MtomPeer did not start ({first!r}):\n{self.log.read_text()}")

    def _next(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise PeerFailed(f"MtomPeer gave no answer within {timeout:.0f} s") from None
        if line is None:
            raise PeerFailed(f"MtomPeer exited:\n{self.log.read_text(errors='replace')}")
        return line

    def command(self, *fields: str, timeout: float = DOTNET_COMMAND_TIMEOUT) -> list[str]:
        """Sends one tab-separated command; the answer's lines, without the final END."""
        assert all("\t" not in f and "\n" not in f and "\r" not in f for f in fields), fields
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(("\t".join(fields) + "\n").encode("utf-8"))
        stdin.flush()
        deadline = time.monotonic() + timeout
        out = []
        while (line := self._next(max(0.0, deadline - time.monotonic()))) != "END":
            out.append(line)
        return out

    def stop(self) -> None:
        stop_process(self.process)


def compile_dotnet(out: Path) -> Path:
    """Compiles ``dotnet/MtomPeer.cs`` with Mono's ``mcs`` into *out*; the program's path."""
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    if mcs is None or mono is None:
        raise PeerMissing("no Mono (mcs/mono) on PATH: run tests/interop/install-peers.sh as root")
    out.mkdir(parents=True, exist_ok=True)
    exe = out / "MtomPeer.exe"
    proc = subprocess.run(
        [
            mcs,
            "-nologo",
            "-optimize+",
            "-r:System.Runtime.Serialization",
            "-r:System.Xml",
            f"-out:{exe}",
            str(DOTNET_SRC),
        ],
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        if "CS0006" in proc.stdout + proc.stderr:  # a referenced assembly is not installed
            raise PeerMissing(
                "Mono's System.Runtime.Serialization is missing (Debian package "
                "libmono-system-runtime-serialization4.0-cil: run "
                "tests/interop/install-peers.sh as root)"
            )
        raise PeerFailed(f"mcs failed:\n{proc.stdout}\n{proc.stderr}")
    return exe


@dataclass
class Peer:
    """A server process started here, listening on 127.0.0.1:port."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def vm_hwm(self) -> int:
        """The process's peak resident set size in bytes (VmHWM)."""
        return proc_status(self.pid, "VmHWM")

    def vm_rss(self) -> int:
        return proc_status(self.pid, "VmRSS")

    def reset_hwm(self) -> bool:
        """Resets VmHWM to the current RSS (Linux ``clear_refs`` 5); False if not allowed."""
        return reset_hwm(self.pid)

    def stop(self) -> None:
        stop_process(self.process)


class MetroServer(Peer):
    def url(self, path: str = "") -> str:  # "11" or "12", or a path
        if path in ("11", "12"):
            path = f"/soap{path}"
        return super().url(path)


def proc_status(pid: int | str, key: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+)\s+kB", text, re.MULTILINE)
    if m is None:
        raise RuntimeError(f"no {key} in /proc/{pid}/status")
    return int(m.group(1)) * 1024


def reset_hwm(pid: int | str) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def start_server(
    argv: list[str], workdir: Path, *, cls: type[Peer] = Peer, timeout: float = STARTUP_TIMEOUT
) -> Peer:
    """Starts *argv*, waits (bounded) for ``READY <port>``; PeerFailed if it does not come."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "server.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, cwd=workdir
        )
    try:
        port = _read_ready(process, timeout)
    except BaseException:
        stop_process(process)
        raise
    if port is None:
        stop_process(process)
        raise PeerFailed(f"{argv[-1]} exited at startup:\n{log.read_text(errors='replace')}")
    return cls(port=port, process=process, log=log)


def start_metro(build: JavaBuild, workdir: Path) -> MetroServer:
    peer = start_server([*build.jvm(workdir), "interop.Server", "0"], workdir, cls=MetroServer)
    assert isinstance(peer, MetroServer)
    return peer


def run_metro_client(build: JavaBuild, workdir: Path, *args: str) -> list[str]:
    """Runs Metro's JAX-WS client (``interop.Client``); its stdout lines."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [*build.jvm(workdir, heap="-Xmx128m", quick_start=True), "interop.Client", *args],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise PeerFailed(f"Metro client failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout.splitlines()


def _read_ready(process: subprocess.Popen[bytes], timeout: float) -> int | None:
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
            raise PeerFailed(f"server not ready within {timeout:.0f} s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if not line:
            return None
        m = re.match(rb"READY (\d+)", line)
        if m:
            return int(m.group(1))


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stops one process started here: stdin EOF first, then terminate, then kill."""
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
            with contextlib.suppress(OSError):
                stream.close()


def python_server(script: str, *args: str) -> list[str]:
    """argv running a Python server script from this folder with this interpreter."""
    return [sys.executable, "-u", str(HERE / script), *args]
