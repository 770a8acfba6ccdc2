"""One error taxonomy for the whole package.

Every failure that asyncmtom itself detects is an instance of `MtomError`, so a
caller can catch the package's errors with a single ``except`` clause and still
tell the cases apart by subclass.  Each subclass also derives from the builtin
exception a Python programmer would expect for that kind of mistake
(``ValueError`` for bad values, ``RuntimeError`` for misuse of state), so code
written against generic exceptions keeps working.

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


class InvalidXmlError(MtomError, ValueError):
    """A name is not an XML NCName, or a string holds a character XML 1.0 forbids."""


class PartSizeError(MtomError):
    """A binary source delivered more or fewer bytes than its declared ``size``.

    The body is aborted when this is raised: no closing delimiter is written.
    """


class MtomFormatError(MtomError, ValueError):
    """Malformed input: an invalid boundary, Content-ID, media type or action
    given to the writer, or a malformed multipart/XOP message given to the reader."""


class MtomLimitError(MtomError):
    """A configured limit of the reader was exceeded; reading stopped at once."""
