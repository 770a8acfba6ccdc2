"""`Binary`: a placeholder zeep base64-encodes, standing for the real source.

zeep renders every ``xs:base64Binary`` value with ``base64.b64encode``.  A
`Binary` is a ``bytes`` subclass holding only a short unique token (27 bytes),
so zeep encodes the token, never the data.  The token's base64 text is the key
of a weak map that leads back to the real source (a file path, bytes, an async
iterable or ``read(n)`` object, or a push callback); the entry lives as long as
the `Binary` does.  A wrong argument is a `TypeError` or `ValueError`.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import weakref
from collections.abc import AsyncIterable, Awaitable, Callable
from pathlib import Path
from typing import Any

from .._sources import ByteSource

_TOKEN_PREFIX = b"\x00asyncmtom-xop:"  # 15 bytes: its base64 is a fixed 20-character prefix
_TOKEN_TEXT_PREFIX = base64.b64encode(_TOKEN_PREFIX).decode("ascii")
_TOKEN_TEXT = re.compile(re.escape(_TOKEN_TEXT_PREFIX) + "[A-Za-z0-9+/]{16}")


class _Source:
    """What a `Binary` stands for; the weak map's value (``bytes`` cannot be weakly referenced)."""

    __slots__ = ("__weakref__", "args", "content_type", "inline", "kind", "size", "value")

    def __init__(
        self,
        kind: str,
        value: Any,
        args: tuple[Any, ...],
        size: int | None,
        content_type: str | None,
        inline: bool | None,
    ) -> None:
        self.kind = kind  # "bytes", "path", "pull" or "push"
        self.value = value
        self.args = args
        self.size = size
        self.content_type = content_type
        self.inline = inline


_REGISTRY: weakref.WeakValueDictionary[str, _Source] = weakref.WeakValueDictionary()


def _check_options(size: object, content_type: object, inline: object) -> None:
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise TypeError(f"size must be an int >= 0 or None, not {size!r}")
    if size is not None and size < 0:
        raise ValueError(f"size must be an int >= 0 or None, not {size!r}")
    if content_type is not None and not isinstance(content_type, str):
        raise TypeError(f"content_type must be a str or None, not {content_type!r}")
    if inline is not None and not isinstance(inline, bool):
        raise TypeError(f"inline must be True, False or None, not {inline!r}")


class Binary(bytes):
    """A ``base64Binary`` argument for zeep that is sent as an MTOM part.

    ``Binary(source, *, size=None, content_type=None, inline=None)`` where
    *source* is a file path (``str`` or ``os.PathLike``; opened when the body
    is sent), bytes-like data, an async iterable of bytes-like chunks, or an
    object with ``async read(n)``.  `Binary.push` takes a push callback
    instead.  ``size``, ``content_type`` and ``inline`` mean what they mean for
    `XmlWriter.pull_bytes`: a declared size is a promise; without one a file's
    size is read from the file system.

    The value itself is a short token, not the data: give it to zeep as the
    value of a ``base64Binary`` element and send the request with
    `MtomTransport`.  A path, bytes or a push callback can be sent again; an
    iterator or stream is consumed by the first request.  A `Binary` is
    immutable: copying it gives the same object, and it cannot be pickled.
    """

    _source: _Source

    def __new__(
        cls,
        source: str | ByteSource,
        *,
        size: int | None = None,
        content_type: str | None = None,
        inline: bool | None = None,
    ) -> Binary:
        _check_options(size, content_type, inline)
        value: object = source
        if isinstance(source, (str, os.PathLike)):
            kind, value = "path", Path(os.fsdecode(source))
        elif isinstance(source, (bytes, bytearray, memoryview)):
            kind = "bytes"
        elif isinstance(source, AsyncIterable) or callable(getattr(source, "read", None)):
            kind = "pull"
        else:
            raise TypeError(
                "Binary() takes a file path, bytes-like data, an async iterable of chunks "
                f"or an object with async read(n), not {type(source).__name__}; "
                "use Binary.push() for a push callback"
            )
        return cls._make(_Source(kind, value, (), size, content_type, inline))

    @classmethod
    def push(
        cls,
        callback: Callable[..., Awaitable[object]],
        *args: Any,
        size: int | None = None,
        content_type: str | None = None,
        inline: bool | None = None,
    ) -> Binary:
        """A value streamed by ``await callback(write, *args)`` (see `XmlWriter.push_bytes`)."""
        if not callable(callback):
            raise TypeError("Binary.push() needs an async callback(write, *args)")
        _check_options(size, content_type, inline)
        return cls._make(_Source("push", callback, args, size, content_type, inline))

    @classmethod
    def _make(cls, source: _Source) -> Binary:
        self = super().__new__(cls, _TOKEN_PREFIX + secrets.token_bytes(12))
        self._source = source
        _REGISTRY[self.token] = source
        return self

    @property
    def token(self) -> str:
        """The base64 text zeep writes for this value: what `prepare_request` looks for."""
        return base64.b64encode(self).decode("ascii")

    @property
    def source(self) -> object:
        """The path, data, stream or callback this value stands for."""
        return self._source.value

    @property
    def size(self) -> int | None:
        """The declared size, or None."""
        return self._source.size

    @property
    def content_type(self) -> str | None:
        """The part's Content-Type, or None (then ``xmime:contentType`` or the default)."""
        return self._source.content_type

    def __repr__(self) -> str:
        source = self._source
        shown = repr(source.value) if source.kind == "path" else type(source.value).__name__
        return f"<Binary {source.kind} {shown} size={source.size}>"

    def __copy__(self) -> Binary:
        return self

    def __deepcopy__(self, memo: object) -> Binary:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a Binary stands for a local source and cannot be pickled")
