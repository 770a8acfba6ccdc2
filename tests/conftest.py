"""Shared fixtures.

Async tests are written against anyio and run twice: on asyncio and on trio,
through anyio's pytest plugin (``@pytest.mark.anyio``).  Tests that exercise an
asyncio-only peer (aiohttp) use pytest-asyncio in strict mode instead.

The helpers every kind of test shares (the local HTTP endpoints
``httpserver`` and ``authserver``, the independent decoders ``mtomcheck`` and
``wsscheck``, the reader's hand-written messages and sources ``readercases``,
the writer's MIME-like content ``payloads``, the zeep tests' service and mock
endpoint ``zeepservice``)
live in ``tests/helpers/``, which is put on ``sys.path`` here so a test imports
them by name from any folder (``from mtomcheck import ...``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="run the opt-in large-size tests"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="opt-in size: pass --run-slow (nox -s interop)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
