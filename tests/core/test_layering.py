"""The core stays sans-I/O: no module under ``asyncmtom/_core`` does I/O or waits.

Each core module is parsed (not imported) with `ast`: an import of anyio, os,
asyncio or trio (or of a submodule of one), an ``async def``, an ``await``, an
``async for`` or an ``async with`` anywhere in it fails the test, naming the
module and the line.  The rule is stated in ``asyncmtom/_core/__init__.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "asyncmtom" / "_core"
FORBIDDEN = {"anyio", "os", "asyncio", "trio"}
COROUTINE_NODES = (ast.AsyncFunctionDef, ast.Await, ast.AsyncFor, ast.AsyncWith)


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            if name.split(".")[0] in FORBIDDEN:
                found.append(f"line {node.lineno}: imports {name}")
        if isinstance(node, COROUTINE_NODES):
            found.append(f"line {node.lineno}: {type(node).__name__}")
    return found


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_core_has_modules() -> None:
    assert len(core_modules()) >= 2


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: p.name)
def test_core_module_does_no_io(path: Path) -> None:
    assert not violations(path.read_text()), f"{path.name}: {violations(path.read_text())}"


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "import anyio.abc",
        "from asyncio import sleep",
        "from trio import lowlevel",
        "async def f():\n    pass",
        "def f():\n    import os.path",
    ],
)
def test_the_check_catches_io(source: str) -> None:
    assert violations(source)


def test_the_check_allows_pure_code() -> None:
    assert not violations("import re\nfrom .. import _errors\ndef f(x):\n    return x\n")
