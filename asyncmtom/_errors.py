"""One error taxonomy for the whole package.

Every failure that asyncmtom itself detects is an instance of `MtomError`, so a
caller can catch the package's errors with a single ``except`` clause and still
tell the cases apart by subclass.  The line is drawn as h11 draws it: an error
either says what a *peer* sent, or that the *caller* made a mistake.  A caller's
mistake is never reported as a peer's, so ``except MtomFormatError`` around a
read cannot swallow a bug in the calling code.

The hierarchy::

    Exception
    ├── MtomError                   every error asyncmtom detects
    │   │   what a peer sent (reader input, captured files):
    │   ├── MtomFormatError         malformed multipart/XOP input (also ValueError)
    │   ├── MtomLimitError          a configured reader limit was exceeded
    │   │   what the caller did:
    │   ├── InvalidXmlError         a bad XML name or character (also ValueError)
    │   ├── PartSizeError           a source broke its declared ``size``
    │   ├── WriterStateError        writer used in the wrong state (also RuntimeError)
    │   └── ReaderStateError        message or stream used in the wrong state
    │                               (also RuntimeError)
    ├── TypeError                   a caller passed an argument of the wrong type
    └── ValueError                  a caller passed a bad value: a negative limit,
                                    an invalid boundary, Content-ID, media type
                                    or action

Each subclass also derives from the builtin exception a Python programmer would
expect for that kind of mistake (``ValueError`` for bad values, ``RuntimeError``
for misuse of state), so code written against generic exceptions keeps working.

Exceptions raised by user code (a push callback, a pull source) are never
wrapped: they propagate unchanged, with a note naming the Content-ID of the
part being written.
"""

from __future__ import annotations

__all__ = [
    "InvalidXmlError",
    "MtomError",
    "MtomFormatError",
    "MtomLimitError",
    "PartSizeError",
    "ReaderStateError",
    "WriterStateError",
]


class MtomError(Exception):
    """Base class of every error raised by asyncmtom."""


class WriterStateError(MtomError, RuntimeError):
    """The operation is not allowed in the writer's current state.

    Examples: ``end_element()`` with no open element, an attribute after
    content, text beside binary content, a second ``body()``, or any write
    once the body has started streaming.
    """


class ReaderStateError(MtomError, RuntimeError):
    """The operation is not allowed in the reader's current state.

    Examples: entering ``read_mtom(...)`` or ``iter_mtom(...)`` a second time,
    reading an attachment once its ``read_mtom`` context has exited, or reading
    again after an earlier read of the same message failed.
    """


class InvalidXmlError(MtomError, ValueError):
    """A name is not an XML NCName, or a string holds a character XML 1.0 forbids."""


class PartSizeError(MtomError):
    """A binary source delivered more or fewer bytes than its declared ``size``.

    The body is aborted when this is raised: no closing delimiter is written.
    """


class MtomFormatError(MtomError, ValueError):
    """What a peer sent is malformed: a multipart/related or XOP message given to
    the reader, or a captured message given to the command line.

    It never reports a caller's mistake: an invalid argument is a plain
    `ValueError` or `TypeError`.
    """


class MtomLimitError(MtomError):
    """What a peer sent exceeds a configured limit of the reader; reading stopped at once."""
