"""The benchmark's senders written in other languages: gSOAP's C client and Metro's.

Strategy.  The sources live under ``foreign/`` and are built by the benchmark's
set-up from Debian's packages (``gsoap`` + ``libgsoap-dev``: ``soapcpp2``,
``stdsoap2``; ``libjaxws-java``: Metro, the JAX-WS reference implementation),
into a cache directory keyed by a hash of the sources, never into the tree.
Each built sender runs as a fresh process per row and repetition, like the
Python rows of ``senders.py``, and prints the same one JSON line: it times the
upload call itself (not the JVM's start-up), takes its CPU seconds and peak RSS
from the operating system, and checks the byte count the receiver answered.

- gSOAP (``foreign/gsoap``): ``soapcpp2`` generates the C stubs from
  ``bench.h``; ``sender.c`` streams the attachment through the MIME/MTOM
  streaming callbacks (``fmimereadopen``, ``fmimeread``, ``fmimereadclose``),
  with the size declared (gSOAP counts the message and sends a Content-Length)
  or unknown (``__size`` 0, HTTP chunked).
- Metro (``foreign/java``): ``MetroSender`` calls ``Upload`` through a JAX-WS
  proxy with ``MTOMFeature`` and ``HTTP_CLIENT_STREAMING_CHUNK_SIZE`` set, so
  the attachment streams from its ``DataSource`` in HTTP chunks (Metro cannot
  stream with a Content-Length: it would buffer the whole message first).

A sender that cannot be built (a package missing) is left out with a note.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "foreign"
WSDL = HERE / "bench.wsdl"
GSOAP_IMPORT = Path("/usr/share/gsoap/import")
DEBIAN_JARS = Path("/usr/share/java")
# Metro's client and what it needs, as Debian's libjaxws-java installs them.
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
BUILD_TIMEOUT = 300.0


@dataclass
class Foreign:
    """The built senders: row name -> argv template ({url}, {size}, {chunk}); notes."""

    argv: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "asyncmtom-bench"


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _run(argv: list[str], cwd: Path) -> None:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {(done.stdout + done.stderr).strip()[-2000:]}")


def _pkg_config(*args: str) -> list[str]:
    done = subprocess.run(
        ["pkg-config", *args, "gsoap"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError("pkg-config knows no gsoap (Debian package libgsoap-dev)")
    return done.stdout.split()


def build_gsoap(cache: Path) -> Path:
    """The gSOAP sender, built once per version of its sources; its path."""
    src = SOURCES / "gsoap"
    out = cache / f"gsoap-{_digest(src)}"
    exe = out / "sender"
    if exe.is_file():
        return exe
    for tool in ("soapcpp2", "cc", "pkg-config"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"no {tool} on PATH (Debian packages gsoap, libgsoap-dev)")
    work = out.with_name(out.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # -c C, -C client only, -L no library stubs, -x no sample messages, -w no WSDL/XSD
    _run(
        ["soapcpp2", "-c", "-C", "-L", "-x", "-w", f"-I{GSOAP_IMPORT}", str(src / "bench.h")],
        work,
    )
    _run(
        [
            "cc",
            "-O2",
            *_pkg_config("--cflags"),
            "-I.",
            "-o",
            "sender",
            str(src / "sender.c"),
            "soapC.c",
            "soapClient.c",
            *_pkg_config("--libs"),
        ],
        work,
    )
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return exe


def metro_classpath() -> str:
    missing = [j for j in METRO_JARS if not (DEBIAN_JARS / j).is_file()]
    if missing:
        raise RuntimeError(f"Metro jars missing ({', '.join(missing)}; Debian libjaxws-java)")
    return os.pathsep.join(str(DEBIAN_JARS / j) for j in METRO_JARS)


def build_metro(cache: Path) -> list[str]:
    """The Metro sender, compiled once per version of its sources; the java argv."""
    javac, java = shutil.which("javac"), shutil.which("java")
    if javac is None or java is None:
        raise RuntimeError("no JDK (javac/java) on PATH")
    jars = metro_classpath()
    src = SOURCES / "java"
    out = cache / f"metro-{_digest(src)}"
    if not (out / "bench" / "MetroSender.class").is_file():
        work = out.with_name(out.name + ".tmp")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        sources = sorted(str(p) for p in src.rglob("*.java"))
        _run([javac, "-nowarn", "-encoding", "UTF-8", "-d", str(work), "-cp", jars, *sources], work)
        shutil.rmtree(out, ignore_errors=True)
        work.rename(out)
    return [
        java,
        # Metro's JMX monitoring needs classes Debian does not ship: off, so stderr stays quiet.
        "-Dcom.sun.xml.ws.monitoring.endpoint=false",
        "-Dcom.sun.xml.ws.monitoring.client=false",
        "-cp",
        os.pathsep.join([str(out), jars]),
        "bench.MetroSender",
        WSDL.as_uri(),
    ]


def prepare(cache: Path) -> Foreign:
    """Builds what can be built; the others are left out with a note."""
    found = Foreign()
    try:
        exe = str(build_gsoap(cache))
        for framing in ("cl", "chunked"):
            found.argv[f"gsoap-{framing}"] = [exe, "{url}", "{size}", "{chunk}", framing]
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        found.notes.append(f"gSOAP rows left out: {exc}")
    try:
        found.argv["metro-chunked"] = [*build_metro(cache), "{url}", "{size}", "{chunk}"]
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        found.notes.append(f"Metro rows left out: {exc}")
    return found
