"""Real SOAP peers for the interop tests.

Metro (the JAX-WS reference implementation, Debian's ``libjaxws-java``) runs
the small service under ``java/``: it is compiled once per test session into a
temporary directory, started once on a free port of 127.0.0.1, and stopped at
the end of the session (see ``peers.py``).  .NET's MTOM reader and writer
(``dotnet/MtomPeer.cs``) are compiled with Mono's ``mcs`` and run as one Mono
process for the session in the same way.  ``install-peers.sh`` installs the
JDK, Metro and Mono.  spyne, a Python SOAP server, runs in a subprocess the same way
where it can be imported.

When a peer is missing, its tests are skipped with the reason, except in CI
(``CI=true``), where a missing Metro or Mono is an error: a broken install step must be
seen, not hidden behind a green run of skips.  spyne is an optional Python
package: it is required in CI only once the ``test`` extra lists it.

At the end of the run a table of the interop cases (outcome and time) and the
memory figures the tests recorded are printed with the terminal summary.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
from peers import (
    DotnetMtom,
    JavaBuild,
    MetroServer,
    Peer,
    PeerFailed,
    PeerMissing,
    compile_dotnet,
    compile_java,
    compile_wss4j,
    python_server,
    start_metro,
    start_server,
)

if sys.platform != "linux":  # /proc and Debian paths: the peers run on Linux only
    collect_ignore_glob = ["test_*.py"]

HERE = Path(__file__).resolve().parent


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def peer_missing(reason: str, *, required_in_ci: bool = True) -> NoReturn:
    """Skips outside CI; fails loudly in CI."""
    if required_in_ci and in_ci():
        pytest.fail(f"interop peer missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


# --- Metro ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def java_build(tmp_path_factory: pytest.TempPathFactory) -> JavaBuild:
    """The service and the client under ``java/``, compiled once per session."""
    try:
        return compile_java(tmp_path_factory.mktemp("java-classes"))
    except PeerMissing as exc:
        peer_missing(str(exc))
    except PeerFailed as exc:  # sources that do not compile are a bug here
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def metro(java_build: JavaBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetroServer]:
    """Metro publishing the service at ``/soap11`` and ``/soap12`` on 127.0.0.1."""
    try:
        server = start_metro(java_build, tmp_path_factory.mktemp("metro"))
    except PeerFailed as exc:
        pytest.fail(f"Metro did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


# --- .NET (Mono) ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dotnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DotnetMtom]:
    """.NET's XmlMtomReader / XmlMtomWriter in one Mono process for the session."""
    try:
        exe = compile_dotnet(tmp_path_factory.mktemp("dotnet-build"))
    except PeerMissing as exc:
        peer_missing(str(exc))
    except PeerFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        peer = DotnetMtom(exe, tmp_path_factory.mktemp("dotnet"))
    except PeerFailed as exc:
        pytest.fail(f"Mono did not start: {exc}", pytrace=False)
    try:
        yield peer
    finally:
        peer.stop()


# --- WS-Security verifiers ------------------------------------------------------------------


@pytest.fixture(scope="session")
def xmlsec1() -> str:
    """The ``xmlsec1`` command (Debian package xmlsec1)."""
    path = shutil.which("xmlsec1")
    if path is None:
        peer_missing("no xmlsec1 on PATH (Debian package xmlsec1: run install-peers.sh)")
    return path


@pytest.fixture(scope="session")
def wss4j(tmp_path_factory: pytest.TempPathFactory) -> JavaBuild:
    """Apache WSS4J 1.6's verifier (``interop.WssVerify``), compiled once per session."""
    try:
        return compile_wss4j(tmp_path_factory.mktemp("wss4j-classes"))
    except PeerMissing as exc:
        peer_missing(str(exc))
    except PeerFailed as exc:
        pytest.fail(str(exc), pytrace=False)


# --- spyne ---------------------------------------------------------------------------------


def _spyne_in_test_extra() -> bool:
    """True once pyproject's ``test`` extra lists spyne (then CI must have it)."""
    try:
        text = (HERE.parent.parent / "pyproject.toml").read_text()
    except OSError:
        return False
    start = text.find("\ntest = [")
    end = text.find("]", start)
    return start != -1 and "spyne" in text[start:end]


@pytest.fixture(scope="session")
def spyne_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    """spyne's WSGI application under wsgiref, in a subprocess on 127.0.0.1."""
    if sys.version_info >= (3, 12):
        pytest.skip("spyne 2.14 imports only on Python 3.11 or older")
    try:
        import spyne  # noqa: F401
    except ImportError:
        peer_missing(
            "spyne is not installed (pip install 'spyne>=2.14'; Python <= 3.11)",
            required_in_ci=_spyne_in_test_extra(),
        )
    try:
        server = start_server(
            python_server("spyne_server.py"), tmp_path_factory.mktemp("spyne"), timeout=60
        )
    except PeerFailed as exc:
        pytest.fail(f"spyne did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


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
    names = {nodeid: nodeid.replace("tests/interop/", "", 1) for nodeid in _RESULTS}
    width = max(len(n) for n in names.values())
    for nodeid, (outcome, duration) in _RESULTS.items():
        tr.write_line(f"{names[nodeid]:<{width}}  {outcome:<7} {duration:8.2f} s")
    if _REPORT.memory:
        tr.section("interop memory")
        for case, text in _REPORT.memory:
            tr.write_line(f"{case}: {text}")
