"""WS-Security over placeholders: re-sign over the real bytes, or refuse.

zeep's ``Signature`` and ``BinarySignature`` plugins sign the envelope before
the transport sees it, that is over the `Binary` placeholders.  A signature
covering an element that holds a `Binary` is held out of the replayed XML and
made again over the real bytes (`asyncmtom.wssec.sign_prepared`) when the
plugin is known; any other is refused before anything is sent
(`refuse_signature_over_binary`).  An envelope holding a `Binary` about to be
sent by another transport is refused too: it would send the placeholder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._binary import _REGISTRY, _TOKEN_TEXT, _TOKEN_TEXT_PREFIX

_DSIG = "http://www.w3.org/2000/09/xmldsig#"


def _binary_tokens(text: str | None) -> list[str]:
    """The registered `Binary` tokens in *text* (the token of a value no longer alive is none)."""
    if not text or _TOKEN_TEXT_PREFIX not in text:
        return []
    return [token for token in _TOKEN_TEXT.findall(text) if token in _REGISTRY]


def _holds_binary(element: Any) -> bool:
    for node in element.iter():
        texts = [node.text, node.tail if node is not element else None]
        if isinstance(node.tag, str):
            texts.extend(node.attrib.values())
        if any(_binary_tokens(text) for text in texts):
            return True
    return False


def _signed_elements(envelope: Any) -> Iterator[tuple[Any, Any]]:
    """(signature, element) for each element a ``ds:Signature`` in *envelope* covers."""
    for reference in envelope.iter(f"{{{_DSIG}}}Reference"):
        signature = next(
            (a for a in reference.iterancestors() if a.tag == f"{{{_DSIG}}}Signature"), None
        )
        uri = reference.get("URI")
        if uri == "":
            yield signature, envelope
        elif uri is not None and uri.startswith("#") and len(uri) > 1:
            wanted = uri[1:]
            for element in envelope.iter():
                if not isinstance(element.tag, str):
                    continue
                for name, value in element.attrib.items():
                    if value == wanted and name.rpartition("}")[2] in ("Id", "ID", "id"):
                        yield signature, element


def _signatures_over_binary(envelope: Any) -> list[tuple[Any, Any]]:
    """(signature, element) for each signed element that holds a `Binary`."""
    return [(sig, element) for sig, element in _signed_elements(envelope) if _holds_binary(element)]


def refuse_signature_over_binary(envelope: Any) -> None:
    """Refuse an envelope whose XML signature covers an element that holds a `Binary`.

    zeep's WS-Security (``wsse=Signature(...)``, ``BinarySignature(...)``)
    signs the envelope before the transport sees it, when a `Binary` is
    still its placeholder: the digest would be over the placeholder, not the
    bytes that are sent, and a receiver (which verifies with the base64 of
    the part in place of the ``xop:Include``) rejects it.  Raises
    `ValueError` so that no such message is ever sent.  The transports do
    not call this for a signature made by zeep's ``Signature`` or
    ``BinarySignature`` plugin: they sign such a message again over the
    real bytes (`prepare_request`'s ``wsse``).
    """
    for _, element in _signatures_over_binary(envelope):
        name = element.tag.rpartition("}")[2] if isinstance(element.tag, str) else "?"
        raise ValueError(
            f"a WS-Security signature covers <{name}>, which holds a Binary: it would "
            "sign the Binary's placeholder, not the bytes sent as an MTOM part, and the "
            "receiver would reject it.  Only a signature made by zeep's Signature or "
            "BinarySignature plugin (wsse=) is signed again over the real bytes; send the "
            "value as bytes (inline base64) to sign it otherwise, or leave it unsigned"
        )


def _signature_plugin(wsse: object) -> Any:
    """The one zeep ``Signature``/``BinarySignature`` plugin in a client's ``wsse``, or None."""
    from zeep.wsse.signature import MemorySignature  # type: ignore[import-untyped, unused-ignore]

    plugins = wsse if isinstance(wsse, list) else [wsse]
    found = [plugin for plugin in plugins if isinstance(plugin, MemorySignature)]
    return found[0] if len(found) == 1 else None


def _hold_signature(envelope: Any, wsse: object) -> _HeldSignature | None:
    """The signature to make again over the parts, or None when nothing signed holds a Binary.

    Refuses (``ValueError``) what cannot be signed again: a signature not made
    by exactly one zeep ``Signature``/``BinarySignature`` plugin, or several.
    """
    covering = _signatures_over_binary(envelope)
    if not covering:
        return None
    signatures = {id(sig): sig for sig, _ in covering}
    signature = next(iter(signatures.values()))
    plugin = _signature_plugin(wsse)
    if plugin is None or len(signatures) != 1 or signature is None:
        refuse_signature_over_binary(envelope)
    try:
        from ..wssec import Signer
    except ImportError as exc:  # cryptography or lxml missing
        raise ValueError(
            "a WS-Security signature covers a Binary: signing it over the MTOM part needs "
            f'the wssec extra (pip install "asyncmtom[wssec]"): {exc}'
        ) from None
    signer = Signer.from_pem(plugin.key_data, plugin.cert_data, plugin.password)
    return _HeldSignature(signature, signer)


def _refuse_placeholder(envelope: Any, transport: object) -> None:
    """Refuse an envelope holding a `Binary` that a transport not of this module would send."""
    if _REGISTRY and _holds_binary(envelope):
        raise TypeError(
            f"this zeep client's transport ({type(transport).__module__}."
            f"{type(transport).__qualname__}) would send a Binary's 27-byte placeholder "
            "instead of its data: use asyncmtom.zeep.MtomTransport with zeep.AsyncClient, "
            "or asyncmtom.zeep.SyncMtomTransport with zeep.Client"
        )


@dataclass
class _HeldSignature:
    """zeep's ``ds:Signature`` over placeholders: left out of the XML, signed again after."""

    element: Any
    signer: Any  # asyncmtom.wssec.Signer
    slot: int | None = None
