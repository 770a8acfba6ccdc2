"""Developer sessions: ``nox -s tests lint typecheck interop bench demo docs fuzz``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The default test suite (interop peers that are installed run too)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint everything, check formatting of the package."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "asyncmtom")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[lint]")
    session.run("mypy")


@nox.session
def interop(session: nox.Session) -> None:
    """Real peers only, the opt-in large sizes included."""
    session.run("bash", "tests/interop/install-peers.sh", external=True)
    session.install("-e", ".[test]")
    session.run("pytest", "tests/interop", "--run-slow", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark table (see benchmarks/README.md)."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The README demo: an MTOM upload to an embedded local endpoint."""
    session.install("-e", ".[httpx]")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session
def packaging(session: nox.Session) -> None:
    """sdist and wheel build, twine check, smoke test of the installed wheel."""
    session.run("bash", "tests/packaging_check.sh", external=True)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (MkDocs, API reference from the docstrings), warnings as errors."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Long hardening run: property, fault and reader fuzz tests with many examples."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pip", "install", "atheris", success_codes=[0, 1])
    session.run("python", "tests/system/fuzz/run.py", *session.posargs)
