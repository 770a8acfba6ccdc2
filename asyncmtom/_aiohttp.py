"""aiohttp support: a payload that sends an `MtomBody` again, pass by pass.

Strategy.  aiohttp turns ``data=`` into a ``Payload`` through its
``PAYLOAD_REGISTRY`` and, to send a request again (``DigestAuthMiddleware``
after a 401, a 307/308 redirect), writes the *same* payload object again.  Its
generic ``AsyncIterablePayload`` takes one iterator when it is made, so its
second write sends nothing: the server waits for a Content-Length it never
gets.  `MtomPayload` starts a new pass over the body on every write (the body
re-reads its sources; nothing is buffered) and reports itself ``consumed``
only when the body cannot be sent again, so that aiohttp refuses a redirect
clearly instead of sending an empty body.

Registration is lazy: `XmlWriter.body` registers the payload when aiohttp has
already been imported, so ``import asyncmtom`` never imports aiohttp.  A
program that imports aiohttp only after calling ``body()`` registers it by
calling `register_payload` (exported as ``asyncmtom.register_aiohttp_payload``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import payload
from aiohttp.abc import AbstractStreamWriter

from ._body import MtomBody
from ._errors import WriterStateError

__all__ = ["MtomPayload", "register_payload"]

_registered = False


class MtomPayload(payload.Payload):
    """An `MtomBody` as an aiohttp payload: every write is a new pass over the body."""

    _autoclose = True  # a pass holds nothing once its write ends: write() closes it
    _value: MtomBody

    def __init__(self, value: MtomBody, *args: Any, **kwargs: Any) -> None:
        if not isinstance(value, MtomBody):
            raise TypeError(f"MtomPayload needs an MtomBody, not {type(value).__name__}")
        kwargs.setdefault("content_type", value.content_type)
        super().__init__(value, *args, **kwargs)
        self._size = value.content_length

    @property
    def consumed(self) -> bool:
        """True once the body cannot be sent again (it reads a source that reads once)."""
        return not self._value.replayable

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        body = self._value
        if content_length is not None and content_length != body.content_length:
            # aiohttp would cut the body at the header's length: never send a cut message.
            raise WriterStateError(
                f"the request's Content-Length ({content_length}) is not the length of the "
                f"MTOM body ({body.content_length}): send the headers of writer.headers"
            )
        chunks = aiter(body)
        try:
            async for chunk in chunks:
                await writer.write(chunk)
        finally:
            await chunks.aclose()  # this pass only: a newer one may be running

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise self._not_in_memory()

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        raise self._not_in_memory()

    @staticmethod
    def _not_in_memory() -> WriterStateError:
        # DigestAuthMiddleware asks for the whole body when the server offers
        # qop="auth-int" (it hashes the entity): that would hold the message in memory.
        return WriterStateError(
            "an MTOM body is streamed and never held in memory as a whole: aiohttp asked "
            'for its bytes (DigestAuthMiddleware does for qop="auth-int"); configure the '
            'server for qop="auth"'
        )


def register_payload() -> None:
    """Register `MtomPayload` for `MtomBody` in aiohttp's payload registry (once)."""
    global _registered
    if not _registered:
        payload.PAYLOAD_REGISTRY.register(MtomPayload, MtomBody)
        _registered = True
