"""Message encodings: every value is checked when the encoding is made.

They are the caller's values: a wrong type is a `TypeError`, a bad value a
`ValueError`, and neither is the `MtomFormatError` that says what a peer sent.
"""

from __future__ import annotations

from typing import Any

import pytest

from asyncmtom import SOAP11, SOAP12, MtomEncoding, MtomError, TextEncoding
from asyncmtom._core.encoding import soap_action_header, start_info, text_content_type


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"boundary": ""}, ValueError, "boundary"),
        ({"boundary": "x" * 71}, ValueError, "boundary"),
        ({"boundary": "bad\r\nX: y"}, ValueError, "boundary"),
        ({"boundary": b"b"}, TypeError, "boundary"),
        ({"start_id": "<root@x>"}, ValueError, "start id"),
        ({"start_id": 1}, TypeError, "start id"),
        ({"action": "urn:a\r\nX-Injected: yes"}, ValueError, "SOAP action"),
        ({"action": 'urn:"a"'}, ValueError, "SOAP action"),
        ({"action": 1}, TypeError, "SOAP action"),
        ({"action": "urn:a", "soap": None}, ValueError, "needs a SOAP version"),
        ({"soap": "1.2"}, TypeError, "soap must be"),
        ({"xml_declaration": 1}, TypeError, "xml_declaration"),
        ({"max_inline_size": -1}, ValueError, "max_inline_size"),
        ({"max_inline_size": 1.5}, TypeError, "max_inline_size"),
        ({"max_inline_size": True}, TypeError, "max_inline_size"),
    ],
)
def test_mtom_encoding_refuses_a_callers_mistake(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        MtomEncoding(**kwargs)
    assert type(caught.value) is error
    assert not isinstance(caught.value, MtomError)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"soap": SOAP12.namespace}, TypeError),
        ({"xml_declaration": "yes"}, TypeError),
        ({"action": "urn:a b"}, ValueError),
        ({"action": "urn:a", "soap": None}, ValueError),
    ],
)
def test_text_encoding_refuses_a_callers_mistake(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        TextEncoding(**kwargs)
    assert type(caught.value) is error


@pytest.mark.parametrize("max_inline_size", [0, 767, 2**40])
def test_valid_values_are_kept(max_inline_size: int) -> None:
    encoding = MtomEncoding(
        soap=SOAP11,
        action="urn:a",
        boundary="b0",
        start_id="root@x",
        max_inline_size=max_inline_size,
        xml_declaration=True,
    )
    assert (encoding.boundary, encoding.start_id) == ("b0", "root@x")
    assert encoding.max_inline_size == max_inline_size


def test_header_values() -> None:
    assert start_info(SOAP12, "urn:a") == 'application/soap+xml; action="urn:a"'
    assert start_info(SOAP11, "urn:a") == "text/xml"
    assert start_info(None, None) == "application/xml"
    assert text_content_type(SOAP12, "urn:a") == (
        'application/soap+xml; charset=utf-8; action="urn:a"'
    )
    assert text_content_type(SOAP11, None) == "text/xml; charset=utf-8"
    assert soap_action_header(SOAP11, "urn:a") == '"urn:a"'
    assert soap_action_header(SOAP12, "urn:a") is None
    assert soap_action_header(SOAP11, None) is None
