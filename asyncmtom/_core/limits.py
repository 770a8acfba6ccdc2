"""The reader's limits: one frozen value, every bound with its reason.

Rules.

- Every limit bounds what a peer can make the reader hold, write or spend:
  exceeding one is `MtomLimitError`, raised at once; reading stops there.
- A limit is an ``int`` (``bool`` is not one): anything else is a caller's
  mistake, `TypeError`; a size or count below 1 is `ValueError`.
  ``max_resolved_size`` may also be None (derived from the message, see
  below) or 0.
- `read_mtom` and `iter_mtom` take the same keyword arguments and build one
  `ReaderLimits` from them; their defaults are this class's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "GiB", "KiB", "MiB", "ReaderLimits"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class ReaderLimits:
    """Every limit of the reader (the keyword arguments of `read_mtom` and `iter_mtom`)."""

    #: Real responses carry a root and a handful of attachments; each part
    #: costs a header parse and a table entry, so a flood of tiny parts is
    #: stopped here.
    max_parts: int = 1000
    #: Bytes in the header section of one part (all lines).  MTOM part headers
    #: are about 200 bytes; 16 KiB leaves room for long Content-IDs and extra
    #: headers while bounding what a part header can make us hold.
    max_header_size: int = 16 * KiB
    #: Header lines per part.  MTOM parts carry 3 or 4 (Content-ID,
    #: Content-Type, Content-Transfer-Encoding, maybe Content-Length).
    max_headers: int = 32
    #: Bytes of one part as received.  Memory stays flat whatever the size
    #: (large parts are spooled or streamed), so this bounds disk use per part.
    max_part_size: int = 4 * GiB
    #: Bytes of the whole body, epilogue included: bounds disk use and time.
    max_total_size: int = 8 * GiB
    #: Bytes of the root part, which is held in memory and parsed as a whole
    #: by resolve(); binary content belongs in attachments.  Also the bound of
    #: a plain (non-multipart) body.
    max_root_size: int = 32 * MiB
    #: Bytes resolve() and iter_resolved() may produce.  Two Includes may name
    #: the same part, so the output is not bounded by the message: a part of
    #: 64 KiB named by 20 000 Includes would resolve to 1.7 GB.  None: the
    #: root's size plus twice the base64 of all attachments together (every
    #: part can be named twice over), and at least ``max_root_size``.  Checked
    #: before any output.
    max_resolved_size: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "max_parts",
            "max_header_size",
            "max_headers",
            "max_part_size",
            "max_total_size",
            "max_root_size",
        ):
            value = getattr(self, name)
            _check_int(name, value)
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if self.max_resolved_size is not None:
            _check_int("max_resolved_size", self.max_resolved_size)
            if self.max_resolved_size < 0:
                raise ValueError(
                    "max_resolved_size must be None or an integer >= 0, "
                    f"not {self.max_resolved_size!r}"
                )

    def resolved_limit(self, root_size: int, attachments_base64_size: int, width: int) -> int:
        """The bound of a resolved document: ``max_resolved_size``, or the default rule."""
        if self.max_resolved_size is not None:
            return self.max_resolved_size
        # Each part may be named twice over; and a small message may always
        # resolve to max_root_size, so that the default never refuses a modest
        # document whose few Includes share a part.
        return max(root_size + 2 * width * attachments_base64_size, self.max_root_size)


def _check_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")


#: The defaults, as `read_mtom` and `iter_mtom` state them.
DEFAULT_LIMITS = ReaderLimits()
