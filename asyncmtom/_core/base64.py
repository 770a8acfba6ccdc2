"""Incremental canonical base64 (RFC 4648 section 4, no line breaks).

Rule.  The text emitted for a run of chunks is exactly what
``base64.b64encode`` gives for their concatenation, whatever the chunking:
what XML Schema calls the canonical lexical form of ``xs:base64Binary``.

Strategy.  Binary content arrives in chunks of arbitrary length, but base64
works on groups of three bytes.  The encoder therefore carries at most two
bytes from one chunk to the next and pads only once, when the run ends.
"""

from __future__ import annotations

import binascii

__all__ = ["Base64Encoder"]


class Base64Encoder:
    """Encode a byte stream chunk by chunk; ``finish()`` pads the last group."""

    __slots__ = ("_carry",)

    def __init__(self) -> None:
        self._carry = b""

    def encode(self, data: bytes | bytearray | memoryview) -> bytes:
        """Return the base64 text for every complete 3-byte group seen so far."""
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        head = b""
        if self._carry:
            missing = 3 - len(self._carry)
            if len(view) < missing:
                self._carry += bytes(view)
                return b""
            head = binascii.b2a_base64(self._carry + bytes(view[:missing]), newline=False)
            view = view[missing:]
            self._carry = b""
        whole = len(view) - len(view) % 3
        if whole < len(view):
            self._carry = bytes(view[whole:])
        if not whole:
            return head
        body = binascii.b2a_base64(view[:whole], newline=False)
        return head + body if head else body

    def finish(self) -> bytes:
        """Return the padded text of the last, incomplete group (maybe empty)."""
        carry, self._carry = self._carry, b""
        return binascii.b2a_base64(carry, newline=False) if carry else b""
