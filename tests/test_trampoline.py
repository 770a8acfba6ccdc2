"""The push-callback trampoline, stepped by hand: what it yields, resumes and closes."""

from __future__ import annotations

from typing import Any

import pytest

from asyncmtom import WriterStateError
from asyncmtom._trampoline import DRIVEN, ChunkSignal, Forward, PushWrite, trampoline


class Trap:
    """Stands for what an event loop would get (an asyncio future, a trio trap)."""

    def __await__(self) -> Any:
        return (yield self)


def test_chunks_and_loop_values_are_yielded_in_order_and_answers_sent_back() -> None:
    seen: list[object] = []

    async def callback(write: PushWrite, prefix: bytes) -> None:
        await write(prefix + b"1")
        seen.append(await Trap())
        await write(bytearray(b"2"))

    write = PushWrite("p@x")
    steps = trampoline(callback, (b"a",), write)
    assert len(DRIVEN) == 1
    first = steps.send(None)
    assert type(first) is ChunkSignal and first.data == b"a1"
    trap = steps.send(None)
    assert type(trap) is Trap
    second = steps.send("answer")
    assert type(second) is ChunkSignal and bytes(second.data) == b"2"
    with pytest.raises(StopIteration):
        steps.send(None)
    assert seen == ["answer"] and write.returned and not DRIVEN
    with pytest.raises(WriterStateError, match="returned"):
        write(b"late")


def test_an_exception_sent_in_reaches_the_callback_and_its_cleanup_runs() -> None:
    cleaned: list[str] = []

    async def callback(write: PushWrite) -> None:
        try:
            await write(b"x")
        finally:
            cleaned.append("done")

    write = PushWrite("p@x")
    steps = trampoline(callback, (), write)
    steps.send(None)
    write.thrown = KeyError("gone")
    with pytest.raises(KeyError):
        steps.send(None)
    assert cleaned == ["done"] and not DRIVEN


def test_closing_the_trampoline_closes_the_callback() -> None:
    cleaned: list[str] = []

    async def callback(write: PushWrite) -> None:
        try:
            await write(b"x")
        finally:
            cleaned.append("closed")

    steps = trampoline(callback, (), PushWrite("p@x"))
    steps.send(None)
    steps.close()
    assert cleaned == ["closed"] and not DRIVEN


def test_a_callback_that_is_not_async_is_a_type_error() -> None:
    def callback(write: PushWrite) -> None:
        return None

    with pytest.raises(TypeError, match="async function"):
        next(trampoline(callback, (), PushWrite("p@x")))  # type: ignore[arg-type]


def test_write_outside_the_stepping_is_refused() -> None:
    write = PushWrite("p@x")
    with pytest.raises(WriterStateError, match="another task"):
        write(b"x")
    assert Forward(1).signal == 1
