"""XOP planning, with no event loop: the inline decision, Content-IDs, heads, lengths."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP

from asyncmtom._core.mime import MultipartFraming
from asyncmtom._core.plan import XopPlan


def make_plan(max_inline_size: int = 768) -> XopPlan:
    framing = MultipartFraming(boundary="b0", start_id="root@x", start_info="text/xml")
    return XopPlan(framing, "t0", max_inline_size)


def test_inline_decision_follows_declared_size() -> None:
    plan = make_plan(768)
    assert plan.inlines(0, 768, None)
    assert not plan.inlines(0, 769, None)
    assert not plan.inlines(700, 100, None)  # with what the element holds back
    assert not plan.inlines(0, None, None)  # unknown size: a part
    assert plan.inlines(0, 10**9, True)
    assert not plan.inlines(0, 1, False)


def test_parts_get_ids_in_document_order_and_heads_follow_their_type() -> None:
    plan = make_plan()
    first = plan.new_part("application/octet-stream")
    second = plan.new_part("image/png")
    assert [first.content_id, second.content_id] == ["1.t0@asyncmtom", "2.t0@asyncmtom"]
    plan.retype(first, "text/plain")
    head = BytesParser(policy=HTTP).parsebytes(first.head.split(b"--b0\r\n", 1)[1])
    assert head["Content-ID"] == "<1.t0@asyncmtom>"
    assert head["Content-Type"] == "text/plain"


def test_content_length_sums_framing_heads_and_sizes_or_is_unknown() -> None:
    plan = make_plan()
    part = plan.new_part("application/octet-stream")
    part.add(b"x" * 1000, 1000)
    framing = plan.framing
    expected = 50 + len(framing.root_head) + len(framing.closing) + len(part.head) + 1000
    assert plan.content_length(50) == expected
    part.add(b"", None)
    assert plan.content_length(50) is None
