"""Replaying a parsed XML tree through `XmlWriter`: one start tag at a time.

Two adapters write again an XML document someone else parsed: the zeep
adapter replays zeep's lxml envelope, and the command line's ``pack`` replays
the events of its expat pass.  Both must keep the document as it was written:
the element's own prefix, every namespace declaration where it stood (a
prefix that only QName values use, as in ``xsi:type="ns1:T"``, needs its
declaration kept though no name uses it, and `XmlWriter` would otherwise
declare namespaces only where names use them), and the attributes in order.
`StartTag` is that start tag, whatever parsed it; `write_start` is the one
place it is written.  Text, children and binary content stay with each
adapter, which knows what an element's content means to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._writer import XmlWriter

__all__ = ["StartTag", "split_clark", "write_start"]


@dataclass
class StartTag:
    """One element's start tag as parsed: name, declarations and attributes in order."""

    namespace: str | None
    local: str
    prefix: str | None
    #: ``(prefix, namespace)`` declared on this element; ``""`` or None is the default.
    declarations: list[tuple[str | None, str | None]] = field(default_factory=list)
    #: ``(namespace, local name, prefix, value)`` of each attribute.
    attributes: list[tuple[str | None, str, str | None, str]] = field(default_factory=list)


def split_clark(tag: str) -> tuple[str | None, str]:
    """``{namespace}local`` (lxml's Clark notation) as ``(namespace, local)``."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace or None, local
    return None, tag


def write_start(writer: XmlWriter, tag: StartTag) -> None:
    """Start *tag*'s element on *writer*, declarations kept where they were written."""
    writer.start_element(tag.local, tag.namespace, tag.prefix)
    for prefix, namespace in tag.declarations:
        writer.namespace(prefix or None, namespace or None)
    for namespace, local, prefix, value in tag.attributes:
        writer.attribute(local, value, namespace, prefix)
