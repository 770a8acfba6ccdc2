"""The envelope replay: zeep's lxml envelope written again through `XmlWriter`.

`prepare_request` walks the lxml tree and writes it through
`asyncmtom.XmlWriter` (prefixes and namespace declarations where zeep put
them, attributes, text; comments and processing instructions dropped).  An
element whose whole text is a registered `Binary` token gets the real source,
streamed into its own part when the body is sent.  The SOAP version comes from
the envelope's namespace, the action from zeep's headers.  A `Binary` anywhere
else (an attribute, text around it) is a caller's mistake: `ValueError`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._core.encoding import SOAP11, SOAP12, MtomEncoding, SoapVersion
from .._core.related import parse_media_type
from .._tree import StartTag, split_clark, write_start
from .._writer import XmlWriter
from ._binary import _REGISTRY, _TOKEN_TEXT_PREFIX, _Source
from ._wsse import _HeldSignature, _hold_signature

_ENVELOPES: dict[str, SoapVersion] = {SOAP11.namespace: SOAP11, SOAP12.namespace: SOAP12}


@dataclass(frozen=True)
class MtomRequest:
    """What `prepare_request` makes: the writer holding the envelope, and the HTTP headers."""

    #: The envelope, complete, ready for ``writer.body()`` or ``writer.write_to()``.
    writer: XmlWriter
    #: zeep's headers with the writer's Content-Type (and Content-Length when known).
    headers: dict[str, str]
    #: How many `Binary` values the envelope held.
    binaries: int


def _check_no_token(value: str, where: str) -> None:
    if _TOKEN_TEXT_PREFIX in value:
        raise ValueError(
            f"a Binary value was rendered into {where}; a Binary must be the whole value "
            "of a base64Binary element"
        )


def _soap_and_action(envelope: Any, headers: Mapping[str, str]) -> tuple[SoapVersion, str | None]:
    namespace, local = split_clark(envelope.tag) if isinstance(envelope.tag, str) else (None, "")
    soap = _ENVELOPES.get(namespace or "")
    if soap is None or local != "Envelope":
        raise ValueError(f"not a SOAP 1.1 or 1.2 envelope: the root element is {envelope.tag!r}")
    lowered = {name.lower(): value for name, value in headers.items()}
    action: str | None
    if soap is SOAP11:
        action = lowered.get("soapaction", "").strip().strip('"') or None
    else:
        action = parse_media_type(lowered.get("content-type", "")).get("action")
        if action == "None":  # zeep writes action="None" when the WSDL gives no soapAction
            action = None
    return soap, action or None


async def _binary(writer: XmlWriter, source: _Source) -> None:
    options: dict[str, Any] = {"content_type": source.content_type, "inline": source.inline}
    if source.kind == "bytes":
        data = source.value
        if source.size is not None and source.size != len(data):
            raise ValueError(f"a Binary of {len(data)} bytes was declared as {source.size} bytes")
        await writer.write_bytes(data, **options)
    elif source.kind == "path":
        path: Path = source.value
        size = source.size
        if size is None:
            st = os.stat(path)  # a missing file fails here, before anything is sent
            size = st.st_size if stat.S_ISREG(st.st_mode) else None
        await writer.pull_bytes(path, size=size, **options)
    elif source.kind == "pull":
        await writer.pull_bytes(source.value, size=source.size, **options)
    else:
        await writer.push_bytes(source.value, *source.args, size=source.size, **options)


async def _write_element(
    writer: XmlWriter,
    element: Any,
    parent_nsmap: Mapping[Any, str],
    held: _HeldSignature | None = None,
) -> int:
    namespace, local = split_clark(element.tag)
    nsmap: Mapping[Any, str] = element.nsmap
    tag = StartTag(namespace, local, element.prefix)
    tag.declarations = [(p, uri) for p, uri in nsmap.items() if parent_nsmap.get(p) != uri]
    for key, value in element.attrib.items():
        attr_namespace, attr_name = split_clark(key)
        _check_no_token(value, f"the attribute {attr_name!r}")
        attr_prefix = None
        if attr_namespace is not None:
            attr_prefix = next((p for p, uri in nsmap.items() if p and uri == attr_namespace), None)
        tag.attributes.append((attr_namespace, attr_name, attr_prefix, value))
    write_start(writer, tag)
    found = 0
    text = element.text
    children = [child for child in element]
    if text:
        source = _REGISTRY.get(text.strip()) if not children else None
        if source is not None:
            await _binary(writer, source)
            found += 1
        else:
            _check_no_token(text, f"the text of <{local}>")
            writer.text(text)
    for child in children:
        if held is not None and child is held.element:
            held.slot = writer._reserve()  # the signature goes here once it is made
        elif isinstance(child.tag, str):
            found += await _write_element(writer, child, nsmap, held)
        # comments, processing instructions and entities are dropped, their tails kept
        if child.tail:
            _check_no_token(child.tail, f"the text of <{local}>")
            writer.text(child.tail)
    writer.end_element()
    return found


async def prepare_request(
    envelope: Any,
    headers: Mapping[str, str] | None = None,
    *,
    max_inline_size: int = 767,
    wsse: object = None,
) -> MtomRequest:
    """Write zeep's lxml *envelope* through an `XmlWriter` as an MTOM message.

    *headers* are the HTTP headers zeep made for the envelope (they give the
    SOAP action); the result keeps them, with the writer's Content-Type.
    Each element whose text is a `Binary` token gets the `Binary`'s real
    source as its binary content.  Data is not read here (except a value of
    a declared size within ``max_inline_size``, which is inlined); a file
    source must exist now.

    An envelope whose WS-Security signature covers a `Binary` was signed
    over the placeholder.  With *wsse*, the client's ``wsse`` whose zeep
    ``Signature`` or ``BinarySignature`` plugin made that signature, it is
    signed again over the real bytes (`asyncmtom.wssec.sign_prepared`: the
    parts are read once for the digests, the body reads them again to send
    them, so each must be readable twice); without one it is refused
    (`refuse_signature_over_binary`).  Either way, before anything is sent.
    """
    headers = dict(headers or {})
    soap, action = _soap_and_action(envelope, headers)
    held = _hold_signature(envelope, wsse)
    writer = XmlWriter(MtomEncoding(soap=soap, action=action, max_inline_size=max_inline_size))
    binaries = await _write_element(writer, envelope, {}, held)
    if held is not None:
        from ..wssec import sign_prepared

        assert held.slot is not None
        await sign_prepared(writer, held.slot, held.element, held.signer)
    merged = {
        name: value
        for name, value in headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    for name, value in writer.headers.items():
        for existing in [n for n in merged if n.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return MtomRequest(writer, merged, binaries)
