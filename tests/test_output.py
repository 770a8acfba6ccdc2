"""MessageOutput: the framing, length and body of a message, and its reserved places."""

from __future__ import annotations

import pytest

from asyncmtom import SOAP11, MtomEncoding, TextEncoding, WriterStateError
from asyncmtom._core.xml import XmlSerializer
from asyncmtom._output import MessageOutput

pytestmark = pytest.mark.anyio
SIZES = {"read_size": 4096, "coalesce_size": 4096, "pass_through_size": 1024, "join_size": 0}


class Collect:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def send(self, item: bytes) -> None:
        self.chunks.append(item)


def one_element(serializer: XmlSerializer) -> None:
    serializer.start_element("r", None, None)
    serializer.text("x")
    serializer.end_element()


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("read_size", 0, ValueError),
        ("coalesce_size", 1.5, TypeError),
        ("join_size", -1, ValueError),
    ],
)
def test_tuning_limits_are_checked(name: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=name):
        MessageOutput(TextEncoding(), XmlSerializer(), **{**SIZES, name: value})  # type: ignore[arg-type]


async def test_the_root_head_goes_out_once_before_the_first_xml() -> None:
    serializer = XmlSerializer()
    output = MessageOutput(MtomEncoding(boundary="b", start_id="root@x"), serializer, **SIZES)
    assert output.framing is not None
    sink = Collect()
    serializer.start_element("r", None, None)
    await output.spill(sink)
    serializer.end_element()
    total = output.content_length()
    body = output.make_body(total, None)
    rest = b"".join([chunk async for chunk in body])
    assert sink.chunks == [output.framing.root_head + b"<r"]
    assert rest.startswith(b"/>\r\n--b")  # the start tag was still open
    assert total == len(sink.chunks[0]) + len(rest)


def test_headers_of_a_soap11_text_message() -> None:
    serializer = XmlSerializer()
    output = MessageOutput(TextEncoding(soap=SOAP11, action="urn:a"), serializer, **SIZES)
    one_element(serializer)
    assert output.headers(8) == {
        "Content-Type": output.content_type,
        "Content-Length": "8",
        "SOAPAction": '"urn:a"',
    }


def test_a_named_place_must_be_filled_in() -> None:
    serializer = XmlSerializer()
    output = MessageOutput(TextEncoding(), serializer, **SIZES)
    serializer.start_element("Header", None, None)
    slot = output.reserve("the signature")
    serializer.end_element()
    with pytest.raises(WriterStateError, match="the signature is not filled in yet"):
        output.check_filled()
    output.fill(slot, b"<Signature/>", "the signature")
    output.check_filled()
    assert serializer.take() == b"<Header><Signature/></Header>"
