"""`asyncmtom._core.decoder`: events from bytes, with no event loop."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asyncmtom import MtomFormatError, MtomLimitError, ReaderStateError
from asyncmtom._core.decoder import (
    NEED_DATA,
    Data,
    Decoder,
    Event,
    MessageEnd,
    PartEnd,
    PartStart,
)
from asyncmtom._core.limits import ReaderLimits

XML = "text/xml; charset=utf-8"
RELATED = "multipart/related; boundary=b"
CT = 'multipart/related; boundary=b; type="application/xop+xml"; start="<root>"'
BODY = (
    b"--b\r\nContent-ID: <att>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"binary data")
    + b"\r\n--b\r\nContent-ID: <root>\r\n\r\n<r/>\r\n--b--\r\n"
)


def events(
    content_type: str, body: bytes, cuts: list[int] | None = None, **limits: int
) -> list[Event]:
    decoder = Decoder(content_type, ReaderLimits(**limits))  # type: ignore[arg-type]
    out: list[Event] = []
    pieces = [body[i : i + n] for i, n in _spans(len(body), cuts or [len(body) or 1])]
    pieces.append(b"")
    for piece in pieces:
        decoder.receive_data(piece)
        while (event := decoder.next_event()) is not NEED_DATA:
            assert not isinstance(event, type(NEED_DATA))
            out.append(event)
            if isinstance(event, MessageEnd):
                return out
    return out


def _spans(size: int, cuts: list[int]) -> list[tuple[int, int]]:
    spans, start, index = [], 0, 0
    while start < size:
        n = cuts[index % len(cuts)]
        spans.append((start, n))
        start += n
        index += 1
    return spans


def joined(found: list[Event]) -> list[Event]:
    """Adjacent Data events merged: slicing may split them anywhere."""
    out: list[Event] = []
    for event in found:
        if isinstance(event, Data) and out and isinstance(out[-1], Data):
            out[-1] = Data(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def test_parts_in_arrival_order_with_the_root_named_by_start() -> None:
    found = joined(events(CT, BODY))
    assert found == [
        PartStart("att", "application/octet-stream", found[0].headers, False),  # type: ignore[union-attr]
        Data(b"binary data"),
        PartEnd(),
        PartStart("root", "application/xop+xml", (("Content-Id", "<root>"),), True),
        Data(b"<r/>"),
        PartEnd(),
        MessageEnd(),
    ]


@given(st.lists(st.integers(1, 17), min_size=1, max_size=20))
def test_any_slicing_gives_the_same_events(cuts: list[int]) -> None:
    assert joined(events(CT, BODY, cuts)) == joined(events(CT, BODY))
    assert all(not isinstance(e, Data) or e.data for e in events(CT, BODY, cuts))


def test_a_plain_body_is_one_root_part() -> None:
    assert events(XML, b"<a/>") == [
        PartStart(
            None, "text/xml; charset=utf-8", (("Content-Type", "text/xml; charset=utf-8"),), True
        ),
        Data(b"<a/>"),
        PartEnd(),
        MessageEnd(),
    ]


def test_content_type_parameters() -> None:
    decoder = Decoder(
        'multipart/related; boundary=b; start-info="application/soap+xml; action=\\"urn:a\\""',
        ReaderLimits(),
    )
    assert decoder.multipart and decoder.start is None and decoder.action == "urn:a"


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("multipart/mixed; boundary=b", "expected multipart/related"),
        ("multipart/related", "no boundary"),
    ],
)
def test_content_types_refused(content_type: str, message: str) -> None:
    with pytest.raises(MtomFormatError, match=message):
        Decoder(content_type, ReaderLimits())


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (
            b"--b\r\n\r\n<r/>\r\n--b\r\n\r\nx\r\n--b--\r\n",
            "multipart/related; boundary=b",
            "no Content-ID",
        ),
        (
            b"--b\r\nContent-ID: <a>\r\n\r\n<r/>\r\n--b\r\nContent-ID: <a>\r\n\r\nx\r\n--b--\r\n",
            "multipart/related; boundary=b",
            "two parts have",
        ),
        (b"--b\r\nContent-ID: <a>\r\n\r\n<r/>\r\n--b--\r\n", CT, "start names part <root>"),
        (b"--b--\r\n", "multipart/related; boundary=b", "has no part"),
        (b"--b\r\nContent-ID: <a>\r\n\r\n<r/>", RELATED, None),
    ],
)
def test_malformed_messages_refused(body: bytes, content_type: str, message: str | None) -> None:
    with pytest.raises(MtomFormatError, match=message):
        events(content_type, body)


def test_limits_on_the_total_and_the_root() -> None:
    with pytest.raises(MtomLimitError, match="max_total_size"):
        events(CT, BODY, max_total_size=len(BODY) - 1)
    with pytest.raises(MtomLimitError, match="max_root_size"):
        events("text/xml", b"<a>" + b"x" * 100 + b"</a>", max_root_size=100)
    assert events(CT, BODY, max_total_size=len(BODY), max_root_size=4)[-1] == MessageEnd()


def test_after_a_failure_every_call_is_a_state_error() -> None:
    decoder = Decoder("multipart/related; boundary=b", ReaderLimits(max_total_size=3))
    with pytest.raises(MtomLimitError):
        decoder.receive_data(b"--b\r\n")
    with pytest.raises(ReaderStateError, match="failed earlier"):
        decoder.next_event()
    with pytest.raises(ReaderStateError):
        decoder.receive_data(b"")


def test_a_failure_reported_by_the_shell_spends_the_decoder() -> None:
    decoder = Decoder("text/xml", ReaderLimits())
    decoder.fail(OSError("connection reset"))
    with pytest.raises(ReaderStateError) as caught:
        decoder.next_event()
    assert isinstance(caught.value.__cause__, OSError)


def test_counters_for_progress() -> None:
    decoder = Decoder(CT, ReaderLimits())
    decoder.receive_data(BODY)
    seen = []
    while not isinstance(event := decoder.next_event(), MessageEnd):
        if event is NEED_DATA:
            decoder.receive_data(b"")
            continue
        seen.append((decoder.received, decoder.part_id, decoder.part_done))
    assert seen[0] == (len(BODY), "att", 0)
    assert ("root", 4) in [(part, done) for _, part, done in seen]
