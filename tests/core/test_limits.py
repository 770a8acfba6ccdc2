"""`asyncmtom._core.limits`: one value, every limit checked once."""

from __future__ import annotations

import dataclasses

import pytest

from asyncmtom._core.limits import DEFAULT_LIMITS, GiB, MiB, ReaderLimits


def test_defaults_as_documented() -> None:
    assert (
        ReaderLimits(
            max_parts=1000,
            max_header_size=16 * 1024,
            max_headers=32,
            max_part_size=4 * GiB,
            max_total_size=8 * GiB,
            max_root_size=32 * MiB,
            max_resolved_size=None,
        )
        == DEFAULT_LIMITS
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_LIMITS.max_parts = 1  # type: ignore[misc]


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(ReaderLimits)])
def test_a_wrong_type_is_a_type_error(name: str) -> None:
    for value in ("10", 1.5, True):
        with pytest.raises(TypeError, match=name):
            ReaderLimits(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(ReaderLimits)])
def test_a_bad_value_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ReaderLimits(**{name: -1})  # type: ignore[arg-type]
    if name != "max_resolved_size":
        with pytest.raises(ValueError, match=name):
            ReaderLimits(**{name: 0})  # type: ignore[arg-type]


def test_the_resolved_limit() -> None:
    assert ReaderLimits(max_resolved_size=0).resolved_limit(10, 10, 1) == 0
    default = ReaderLimits(max_root_size=100)
    assert default.resolved_limit(10, 20, 1) == 100
    assert default.resolved_limit(60, 20, 2) == 140
