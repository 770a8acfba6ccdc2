"""asyncmtom: streaming MTOM/XOP for async SOAP clients (asyncio and trio, via anyio).

An async XML writer in the style of the Windows Web Services API's
``WsPushBytes``: each pushed binary value becomes an ``xop:Include`` in the
XML and its bytes stream straight into their own MIME part when the body is
sent.  With `TextEncoding` the same calls give plain XML with inline base64.
"""

from __future__ import annotations

from ._body import BodyPass, MtomBody
from ._core.encoding import SOAP11, SOAP12, MtomEncoding, SoapVersion, TextEncoding
from ._core.xml import XMIME_NAMESPACE, XOP_NAMESPACE
from ._errors import (
    InvalidXmlError,
    MtomError,
    MtomFormatError,
    MtomLimitError,
    PartSizeError,
    ReaderStateError,
    WriterStateError,
)
from ._message import Attachment, MtomMessage, read_mtom
from ._progress import Progress, ProgressCallback
from ._sources import AsyncReadable, BytesLike, ByteSource
from ._streaming import MtomStream, StreamedPart, iter_mtom
from ._sync import SyncBody
from ._writer import ByteSink, WriteFunction, XmlWriter

__version__ = "0.1.0"

__all__ = [
    "SOAP11",
    "AsyncReadable",
    "Attachment",
    "ByteSource",
    "MtomMessage",
    "MtomStream",
    "StreamedPart",
    "iter_mtom",
    "read_mtom",
    "SOAP12",
    "XMIME_NAMESPACE",
    "XOP_NAMESPACE",
    "BodyPass",
    "ByteSink",
    "BytesLike",
    "InvalidXmlError",
    "MtomBody",
    "MtomEncoding",
    "MtomError",
    "MtomFormatError",
    "MtomLimitError",
    "PartSizeError",
    "Progress",
    "ReaderStateError",
    "ProgressCallback",
    "SoapVersion",
    "SyncBody",
    "TextEncoding",
    "WriteFunction",
    "WriterStateError",
    "XmlWriter",
    "__version__",
]
