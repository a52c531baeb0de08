import json
from datetime import UTC, datetime

import pytest

from somebound.channels import samples as s
from somebound.channels.errors import ParseError
from somebound.channels.phone import import_cdr_csv, parse_cti_event
from somebound.core import Channel, Direction, MessageKind

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _cti(**kw) -> bytes:
    return json.dumps(kw).encode()


def test_call_lifecycle_events_share_the_call_thread():
    ringing = parse_cti_event(
        json.dumps(s.cti_event("c-77", "ringing", "040 123 4567", queue="laskutus", at=AT)).encode()
    )
    ended = parse_cti_event(
        json.dumps(
            s.cti_event(
                "c-77",
                "ended",
                "+358 40 123 4567",
                queue="laskutus",
                agent="anna",
                at=AT,
                wait_seconds=42,
                talk_seconds="5:30",
                wrap_seconds="12,5",
            )
        ).encode()
    )
    for msg in (ringing, ended):
        assert msg.channel is Channel.PHONE and msg.kind is MessageKind.CALL
        assert msg.thread_key == "c-77" and not msg.public and msg.direction is Direction.IN
        assert msg.author.phone == msg.author.channel_user_id == "+358401234567"
    assert ringing.native_id == "c-77:ringing" and ended.native_id == "c-77:ended"
    assert ended.meta["wait_seconds"] == 42 and ended.meta["talk_seconds"] == 330
    assert ended.meta["wrap_seconds"] == 12.5
    assert ended.meta["queue"] == "laskutus" and ended.meta["agent"] == "anna"
    assert ended.sent_at == AT
    assert "+358401234567" in ended.body and "laskutus" in ended.body


def test_aliases_epoch_outbound_and_hidden_numbers():
    msg = parse_cti_event(
        _cti(
            call_id=991,
            event="ANSWERED",
            ani="00467011122233",
            timestamp=int(AT.timestamp()),
            agent_id="sven",
        )
    )
    assert msg.author.phone == "+467011122233" and msg.sent_at == AT
    assert msg.native_id == "991:answered" and msg.meta["agent"] == "sven"
    hidden = parse_cti_event(
        _cti(
            call_id="h1",
            event="abandoned",
            caller="anonymous",
            timestamp="2026-03-02T10:00:00+02:00",
            wait_seconds=95,
        )
    )
    assert hidden.author.phone is None and hidden.author.channel_user_id == "anonymous-caller:h1"
    assert hidden.sent_at == AT and hidden.meta["wait_seconds"] == 95
    outbound = parse_cti_event(
        _cti(
            call_id="o1",
            event="ended",
            direction="outbound",
            called="050 765 4321",
            caller="0201234567",
            timestamp="2026-03-02T08:00:00Z",
        )
    )
    assert outbound.direction is Direction.OUT and outbound.author.phone == "+358507654321"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"nope", "cti event"),
        (_cti(event="ringing", caller="040", timestamp=1), "call_id"),
        (_cti(call_id="c", event="exploded", caller="0401234567", timestamp=1), "event"),
        (_cti(call_id="c", event="ringing", timestamp=1), "caller"),
        (_cti(call_id="c", event="ringing", caller="0401234567"), "timestamp"),
        (_cti(call_id="c", event="ended", caller="0401234567", time="x"), "time"),
        (
            _cti(call_id="c", event="ended", caller="0401234567", timestamp=1, talk_seconds=-3),
            "talk_seconds",
        ),
        (
            _cti(call_id="c", event="ended", caller="0401234567", timestamp=1, wait_seconds="soon"),
            "wait_seconds",
        ),
    ],
)
def test_bad_cti_events_say_where(body, where):
    with pytest.raises(ParseError) as info:
        parse_cti_event(body)
    assert info.value.where == where


CDR = """call_id;start_time;answer_time;end_time;caller;queue;agent;wrap_seconds;disposition
a1;2026-03-02T08:00:00+02:00;2026-03-02T08:00:30+02:00;2026-03-02T08:05:30+02:00;040 123 4567;laskutus;anna;20,5;answered
a2;2.3.2026 8:10;;2.3.2026 8:12;0501112223;Jyväskylä;;;abandoned
a3;not a time;;;0401234567;laskutus;;;answered
a4;2026-03-02T09:00:00Z;;;;laskutus;;;answered
a5;2026-03-02T09:00:00Z;;;0401234567;laskutus;;;exploded

a1;2026-03-02T08:00:00+02:00;;;040 123 4567;laskutus;;;answered
a6;2026-03-02T10:00:00Z;2026-03-02T09:00:00Z;2026-03-02T08:00:00Z;0401234567;x;;;answered
"""


def test_cdr_import_keeps_good_rows_and_reports_bad_ones_by_line(tmp_path):
    path = tmp_path / "cdr.csv"
    path.write_bytes(CDR.encode("cp1252"))  # a Finnish Excel export
    messages, errors = import_cdr_csv(path, timezone="Europe/Helsinki")
    assert [m.native_id for m in messages] == ["a1:ended", "a2:abandoned"]
    a1, a2 = messages
    assert a1.meta["wait_seconds"] == 30 and a1.meta["talk_seconds"] == 300
    assert a1.meta["wrap_seconds"] == 20.5 and a1.author.phone == "+358401234567"
    assert a1.sent_at == datetime(2026, 3, 2, 6, 5, 30, tzinfo=UTC)
    assert a2.meta["queue"] == "Jyväskylä"
    assert a2.sent_at == datetime(2026, 3, 2, 6, 12, tzinfo=UTC)  # local Helsinki time (+2)
    by_line = {e.line: e for e in errors}
    assert set(by_line) == {4, 5, 6, 8, 9}
    assert by_line[4].column == "start_time" and "not a time" in by_line[4].reason
    assert by_line[5].column == "caller"
    assert by_line[6].column == "disposition"
    assert "duplicate" in by_line[8].reason and "line 2" in by_line[8].reason
    assert by_line[9].column == "end_time"
    assert str(by_line[4]).startswith("line 4, column start_time:")


def test_cdr_and_live_cti_produce_the_same_native_id():
    messages, errors = import_cdr_csv(
        "call_id,start_time,caller,disposition\nz9,2026-03-02T08:00:00Z,0401234567,answered\n"
    )
    live = parse_cti_event(
        _cti(call_id="z9", event="ended", caller="0401234567", timestamp="2026-03-02T08:03:00Z")
    )
    assert errors == [] and messages[0].native_id == live.native_id == "z9:ended"
    assert messages[0].thread_key == live.thread_key


def test_cdr_header_problems_are_a_parse_error():
    with pytest.raises(ParseError, match="call_id"):
        import_cdr_csv("number,when\n1,2\n")
    with pytest.raises(ParseError, match="empty"):
        import_cdr_csv("")
    with pytest.raises(ParseError, match="time zone"):
        import_cdr_csv("call_id,start_time\n", timezone="Mars/Olympus")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_cdr_saved_as_excel_unicode_text_reads_as_the_utf8_file(tmp_path, encoding):
    """Excel's "Unicode Text" export is UTF-16 (with a byte-order mark, tab-separated);
    read as cp1252 every other character was a NUL and no header column was found."""
    path, utf8 = tmp_path / "cdr16.csv", tmp_path / "cdr8.csv"
    text = CDR.replace(";", "\t")
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    path.write_bytes(bom + text.encode(encoding))
    utf8.write_bytes(text.encode("utf-8"))
    messages, errors = import_cdr_csv(path, timezone="Europe/Helsinki")
    expected, expected_errors = import_cdr_csv(utf8, timezone="Europe/Helsinki")
    assert [m.native_id for m in messages] == ["a1:ended", "a2:abandoned"]
    assert messages == expected and errors == expected_errors
    assert messages[1].meta["queue"] == "Jyväskylä"


def test_a_nul_in_a_cdr_field_becomes_a_replacement_character():
    """PostgreSQL refuses NUL in text: a call whose queue carried one would fail the import's
    transaction."""
    messages, errors = import_cdr_csv(
        "call_id,start_time,caller,queue,disposition\n"
        "n1,2026-03-02T08:00:00Z,0401234567,tuki\x00jono,answered\n")
    assert errors == []
    assert messages[0].meta["queue"] == "tuki\ufffdjono"
