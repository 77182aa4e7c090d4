"""The event-stream wire format, checked against an independent parser.

httpx-sse's decoder follows the HTML standard's parsing rules (lines end at
CR, LF or CRLF only; one space after the colon is dropped; data lines are
joined with LF). Whatever we encode must come back out of it unchanged.
"""

from __future__ import annotations

import pytest
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import given
from hypothesis import strategies as st

from pushgate.sse import HEARTBEAT, ServerSentEvent, encode_event


def parse(stream: bytes) -> list[dict[str, object]]:
    """Events as a browser would dispatch them, via httpx-sse."""
    lines = SSELineDecoder()
    decoder = SSEDecoder()
    events = []
    text = stream.decode("utf-8")
    for line in [*lines.decode(text), *lines.flush()]:
        event = decoder.decode(line)
        if event is not None:
            events.append(
                {
                    "event": event.event,
                    "data": event.data,
                    "id": event.id,
                    "retry": event.retry,
                }
            )
    return events


def spec_data(data: str) -> str:
    """What the standard says a parser yields for ``data``: lines joined by LF."""
    return data.replace("\r\n", "\n").replace("\r", "\n")


def test_data_is_split_into_lines_at_cr_lf_and_crlf_only() -> None:
    data = "a\r\nb\rc\nd\u2028e\u2029f\x85g\x0bh\x0ci\x1cj"

    encoded = encode_event(data=data)

    assert encoded == (
        b"data: a\ndata: b\ndata: c\n"
        + "data: d\u2028e\u2029f\x85g\x0bh\x0ci\x1cj\n\n".encode()
    )
    assert parse(encoded)[0]["data"] == "a\nb\nc\nd\u2028e\u2029f\x85g\x0bh\x0ci\x1cj"


def test_a_leading_space_in_a_value_survives() -> None:
    encoded = encode_event(event=" spaced", id=" 7", data="  two spaces")

    [event] = parse(encoded)

    assert event == {
        "event": " spaced",
        "id": " 7",
        "data": "  two spaces",
        "retry": None,
    }


def test_a_value_with_colons_is_not_split() -> None:
    [event] = parse(encode_event(event="a:b", data='{"status": "approved"}'))

    assert event["event"] == "a:b"
    assert event["data"] == '{"status": "approved"}'


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\r\nb", "a\x00b", "\n", "\x00"])
@pytest.mark.parametrize("field", ["id", "event"])
def test_ids_and_event_names_cannot_carry_cr_lf_or_nul(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        encode_event(data="x", **{field: bad})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not contain CR, LF or NUL"):
        ServerSentEvent(data="x", **{field: bad})  # type: ignore[arg-type]


def test_a_forged_field_in_an_id_is_refused_not_sent() -> None:
    with pytest.raises(ValueError):
        ServerSentEvent(id="1\nevent: approved\ndata: forged", data="pending")


def test_retry_hint() -> None:
    assert encode_event(retry_ms=2500) == b"retry: 2500\n\n"
    assert parse(encode_event(retry_ms=2500, data="x"))[0]["retry"] == 2500
    with pytest.raises(ValueError, match="retry"):
        encode_event(retry_ms=-1)


def test_comments_are_ignored_by_parsers_even_over_several_lines() -> None:
    encoded = encode_event(comment="one\ntwo\r\nthree") + encode_event(data="after")

    assert encoded.startswith(b":one\n:two\n:three\n\n")
    assert [e["data"] for e in parse(encoded)] == ["after"]


def test_heartbeat_is_a_bare_comment() -> None:
    assert HEARTBEAT.encode() == b":\n\n"
    assert parse(HEARTBEAT.encode()) == []


single_line = st.text().filter(lambda s: not any(c in s for c in "\r\n\x00"))


@given(data=st.text(), event=single_line, id=single_line)
def test_any_event_survives_a_round_trip(data: str, event: str, id: str) -> None:
    encoded = ServerSentEvent(data=data, event=event, id=id).encode()

    # Even empty data is sent: its "data:" line makes the event dispatch.
    assert parse(encoded) == [
        {"event": event or "message", "data": spec_data(data), "id": id, "retry": None}
    ]


@given(values=st.lists(st.text(min_size=1), min_size=1, max_size=5))
def test_a_stream_of_events_parses_into_the_same_events(values: list[str]) -> None:
    stream = b"".join(ServerSentEvent(data=value).encode() for value in values)

    assert [e["data"] for e in parse(stream)] == [spec_data(v) for v in values]
