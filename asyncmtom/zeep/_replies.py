"""Reply values backed by received parts, and the tokens zeep parses instead.

A ``multipart/related`` reply is read with `asyncmtom.read_mtom`.  Its root XML
goes to zeep with each ``xop:Include`` replaced by the base64 of a fresh token,
so the document zeep parses stays as small as the root.  zeep's
``xs:base64Binary`` decoder (hooked in `._hooks`) hands back, for a token, the
part's ``bytes`` when it was held in memory, otherwise a `SpooledBinary` or
`AsyncSpooledBinary` that owns the spool file: ``save(path)`` moves it into
place and the file is removed when the value is garbage collected.  A token
that ends up anywhere else, or a part no ``xop:Include`` references, raises
`MtomFormatError`: it is what the peer sent.
"""

from __future__ import annotations

import base64
import contextvars
import functools
import os
import secrets
import shutil
import tempfile
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.from_thread
import anyio.to_thread
import zeep.client  # type: ignore[import-untyped, unused-ignore]
import zeep.exceptions  # type: ignore[import-untyped, unused-ignore]
import zeep.proxy  # type: ignore[import-untyped, unused-ignore]
import zeep.transports  # type: ignore[import-untyped, unused-ignore]
import zeep.wsdl.bindings.soap  # type: ignore[import-untyped, unused-ignore]
import zeep.wsse.signature  # type: ignore[import-untyped, unused-ignore]
import zeep.xsd.types.builtins  # type: ignore[import-untyped, unused-ignore]

from .._core.xop import find_includes, inserted_text_codec, plan_splices
from .._errors import MtomFormatError
from .._message import MtomMessage
from ._wsse import _signature_plugin

_REPLY_PREFIX = b"\x00asyncmtom-got:"  # the same, for the parts of a reply
_REPLY_TEXT_PREFIX = base64.b64encode(_REPLY_PREFIX).decode("ascii")


class _SpoolFile:
    """The file behind a spooled value, and whether it is still ours to remove."""

    __slots__ = ("directory", "owned", "path")

    def __init__(self, directory: str, path: str) -> None:
        self.directory: str | None = directory  # private (0700), made for this one file
        self.path = path
        self.owned = True

    def remove(self) -> None:
        if self.owned:
            self.owned = False
            with suppress(OSError):
                os.unlink(self.path)
        if self.directory is not None:
            with suppress(OSError):
                os.rmdir(self.directory)
            self.directory = None


class _Spooled:
    """What `SpooledBinary` and `AsyncSpooledBinary` share: a part kept in a file."""

    def __init__(self, spool: _SpoolFile, size: int, content_type: str, content_id: str) -> None:
        self._spool = spool
        #: The part's size in bytes.
        self.size = size
        #: The part's Content-Type header as received.
        self.content_type = content_type
        #: The part's Content-ID, without angle brackets.
        self.content_id = content_id
        # The file goes when the value goes, whoever holds it last.
        self._finalizer = weakref.finalize(self, spool.remove)

    @property
    def path(self) -> Path:
        """The file that holds the data now: a temporary file until `save` moved it."""
        return Path(self._spool.path)

    def __len__(self) -> int:
        return self.size

    def __bytes__(self) -> bytes:
        return Path(self._spool.path).read_bytes()

    def open(self) -> BinaryIO:
        """The data as a binary file object opened for reading (close it when done)."""
        return open(self._spool.path, "rb")  # the caller closes it

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.content_id!r} {self.content_type!r} "
            f"size={self.size} at {self._spool.path!r}>"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a spooled value is backed by a local file and cannot be pickled")

    def _save(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        spool = self._spool
        if spool.owned:
            try:
                os.replace(spool.path, target)
            except OSError:
                pass  # another file system, most likely: copy instead
            else:
                spool.owned = False
                spool.path = os.fspath(target)
                spool.remove()  # the private directory, now empty
                return target
        shutil.copyfile(spool.path, target)
        return target


class SpooledBinary(_Spooled):
    """A binary field of a reply to `SyncMtomTransport`, kept in a temporary file.

    ``save(path)`` moves the file there when it can (same file system), so a
    part of any size is saved without a copy; the saved file then backs the
    value and is left in place.  ``bytes(value)`` reads the whole data into
    memory, ``open()`` gives a file object, ``len(value)`` is the size.  The
    temporary file is removed when the value is garbage collected.
    """

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the data to *path*, replacing any file there; returns the path."""
        return self._save(path)


class AsyncSpooledBinary(_Spooled):
    """A binary field of a reply to `MtomTransport`, kept in a temporary file.

    As `SpooledBinary`, except that ``save`` and ``read`` are coroutines (the
    file work runs in a worker thread) and the value can be iterated with
    ``async for`` in chunks.
    """

    async def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the data to *path*, replacing any file there; returns the path."""
        return await anyio.to_thread.run_sync(self._save, path)

    async def read(self) -> bytes:
        """The whole data as ``bytes``."""
        return await anyio.Path(self._spool.path).read_bytes()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self._spool.path, "rb") as file:
            while chunk := await file.read(768 * 1024):
                yield chunk


class _ReplyValues:
    """The values of one reply, by the token text that stands for each in zeep's document."""

    __slots__ = ("__weakref__", "values", "verified")

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        #: True once the reply's WS-Security signature was verified with its parts.
        self.verified = False

    def add(self, value: object) -> str:
        token = base64.b64encode(_REPLY_PREFIX + secrets.token_bytes(12)).decode("ascii")
        self.values[token] = value
        _REPLIES[token] = self
        return token


# Token text -> the reply it belongs to, as long as zeep's response object holds that reply.
_REPLIES: weakref.WeakValueDictionary[str, _ReplyValues] = weakref.WeakValueDictionary()


async def _take_part(
    message: MtomMessage,
    content_id: str,
    href: str,
    spool_dir: str | None,
    spooled: type[_Spooled],
    taken: set[str],
) -> object:
    attachment = message.attachments.get(content_id)
    if attachment is None:  # a sender that percent-encoded nothing but a literal '%'
        attachment = message.attachments.get(href.strip()[4:])
    if attachment is None:
        raise MtomFormatError(f"xop:Include href {href[:200]!r} names no part of the message")
    taken.add(attachment.content_id)
    if attachment.in_memory:
        return await attachment.read()
    # A private directory: the saved part gets an ordinary file mode, the
    # directory keeps it from other users.  Same file system as the spool
    # file, so save() below is a rename, not a copy.
    directory = await anyio.to_thread.run_sync(
        functools.partial(tempfile.mkdtemp, prefix="asyncmtom-", dir=spool_dir)
    )
    spool = _SpoolFile(directory, os.path.join(directory, "part"))
    value = spooled(spool, attachment.size, attachment.content_type, attachment.content_id)
    try:
        await attachment.save(spool.path)
    except BaseException:
        spool.remove()
        raise
    return value


async def _verify_reply(message: MtomMessage) -> bool:
    """Verify a signed MTOM reply for a client whose ``wsse`` verifies (zeep's Signature).

    zeep's own ``verify`` would run on the XML it parses, where each part is a
    token: the digest is computed here instead, over the received parts
    (streamed from their spool files), before they are handed out.  False
    when the client has no signature plugin.
    """
    call = _CALL.get(None)
    plugin = _signature_plugin(call.client.wsse) if call is not None else None
    if plugin is None:
        return False
    from ..wssec import SignatureError, verify_message

    try:
        await verify_message(message, plugin.cert_data)
    except SignatureError as exc:
        raise zeep.exceptions.SignatureVerificationFailed(str(exc)) from exc  # type: ignore[no-untyped-call, unused-ignore]
    return True


async def _tokenize_reply(
    message: MtomMessage, spool_dir: str | None, spooled: type[_Spooled]
) -> tuple[bytes, _ReplyValues]:
    """The root XML with a token for each part, and the values the tokens stand for.

    A client with zeep's ``Signature`` plugin has the reply verified first,
    with its parts (`_verify_reply`).
    """
    verified = await _verify_reply(message)
    root = message.root
    includes = find_includes(root)
    values = _ReplyValues()
    values.verified = verified
    tokens: dict[str, str] = {}
    taken: set[str] = set()
    for include in includes:
        if include.content_id not in tokens:
            value = await _take_part(
                message, include.content_id, include.href, spool_dir, spooled, taken
            )
            tokens[include.content_id] = values.add(value)
    unreferenced = [cid for cid in message.attachments if cid not in taken]
    if unreferenced:
        # SOAP with Attachments: parts the XML does not reference would be lost.
        raise MtomFormatError(
            f"the reply carries {len(unreferenced)} part(s) that no xop:Include references "
            f"(<{unreferenced[0][:200]}>...): read it with raw_response=True and "
            "asyncmtom.read_mtom, or with zeep's own transport (SOAP with Attachments)"
        )
    codec = inserted_text_codec(root) or "ascii"
    xml = b"".join(
        bytes(piece) if isinstance(piece, memoryview) else tokens[piece].encode(codec)
        for piece in plan_splices(root, includes)
    )
    return xml, values


def _mentions(value: object, tokens: set[str], seen: set[int]) -> bool:
    """Whether one of *tokens* appears as text anywhere in a zeep result."""
    if isinstance(value, str):
        return _REPLY_TEXT_PREFIX in value and any(token in value for token in tokens)
    if isinstance(value, (bytes, bytearray, memoryview, int, float, _Spooled)) or value is None:
        return False
    if id(value) in seen:
        return False
    seen.add(id(value))
    if hasattr(value, "iter") and hasattr(value, "attrib"):  # an lxml element
        return any(
            _mentions(text, tokens, seen)
            for element in value.iter()
            for text in (element.text, element.tail, *element.attrib.values())
        )
    children: Any = getattr(value, "__values__", None)  # a zeep CompoundValue
    if children is None:
        children = getattr(value, "value", None) if hasattr(value, "xsd_obj") else value
    if isinstance(children, Mapping):
        children = list(children.values())
    if isinstance(children, (list, tuple)):
        return any(_mentions(child, tokens, seen) for child in children)
    return False


# --- the call in progress -----------------------------------------------------------------


@dataclass
class _Call:
    """One operation call through a zeep SOAP binding: its client and the replies it read."""

    client: Any
    replies: list[_ReplyValues] = field(default_factory=list)


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("asyncmtom_zeep_call")


def _raw_response_wanted() -> bool:
    call = _CALL.get(None)
    return call is not None and bool(call.client.settings.raw_response)
