"""The async test legs really run on the backend they are named after.

With ``asyncio_mode = "auto"`` pytest-asyncio would silently run the trio leg on
asyncio; this test fails if that ever happens.
"""

from __future__ import annotations

import pytest
import sniffio


@pytest.mark.anyio
async def test_running_backend_matches_leg(anyio_backend: str) -> None:
    assert sniffio.current_async_library() == anyio_backend


@pytest.mark.asyncio
async def test_pytest_asyncio_leg_runs_on_asyncio() -> None:
    assert sniffio.current_async_library() == "asyncio"
