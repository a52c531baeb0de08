"""KPIs on a hand-built log whose every answer is worked out by hand below."""

from __future__ import annotations

from datetime import timedelta

import pytest

from somebound.metrics.config import parse_config
from somebound.metrics.kpis import Metrics, MetricsQueryError
from somebound.metrics.surveys import nps

from .conftest import POLICY, Log, utc

AGENTS = {1: "email", 2: "phone", 3: "social", 4: "outbound"}
START, END = utc(2026, 11, 2), utc(2026, 11, 10)
s = timedelta(seconds=1)


@pytest.fixture
def log() -> Log:
    log = Log()
    # 1: email Mon 09:00 local, answered after 30 min, solved, reopened; routed SLA 600 s.
    c1 = log.case(1, "email", "inbound", utc(2026, 11, 2, 7), queue="email", sla=600)
    c1.received(c1.opened, author="mail:1")
    c1.respond(utc(2026, 11, 2, 7, 30), agent=1, handling=300)
    c1.solve(utc(2026, 11, 2, 8))
    log.add("case_reopened", utc(2026, 11, 2, 12), c1, data={"from": "solved"})
    # 9: email Mon 09:10 local, same agent, same day.
    c9 = log.case(9, "email", "inbound", utc(2026, 11, 2, 7, 10), queue="email")
    c9.respond(utc(2026, 11, 2, 7, 40), agent=1, handling=300)
    # 2: email Fri 15:00 local answered Mon 09:00 local: 66 h wall, 2 h business.
    c2 = log.case(2, "email", "inbound", utc(2026, 11, 6, 13), queue="email")
    c2.respond(utc(2026, 11, 9, 7), agent=1, handling=600)
    c2.solve(utc(2026, 11, 9, 8))
    # 8: email Mon 17:00 local (closed), answered Tue 09:00 local, after the period end.
    c8 = log.case(8, "email", "inbound", utc(2026, 11, 9, 15), queue="email")
    c8.respond(utc(2026, 11, 10, 7), agent=1, handling=300)
    # 3: abandoned call.
    c3 = log.case(3, "phone", "inbound", utc(2026, 11, 3, 8), queue="phone")
    log.add("call_abandoned", utc(2026, 11, 3, 8) + 40 * s, c3, data={"wait_seconds": 40})
    # 4: answered call, 20 s wait, 130 s talk (3 billed minutes) + 50 s wrap; parallel.
    c4 = log.case(4, "phone", "inbound", utc(2026, 11, 3, 9), queue="phone")
    t = utc(2026, 11, 3, 9) + 20 * s
    log.add("call_answered", t, c4, agent_id=2, data={"wait_seconds": 20})
    log.add("first_response", t, c4, agent_id=2, data={"seconds": 20})
    log.add("call_ended", t + 130 * s, c4, agent_id=2,
            data={"wait_seconds": 20, "talk_seconds": 130, "wrap_seconds": 50})
    log.add("parallel_contact", t, c4,
            data={"other_case_id": 1, "other_channel": "email", "other_queue": "email"})
    # 5: public Facebook thread, three authors, public answer with two engagement readings.
    c5 = log.case(5, "facebook", "somebound", utc(2026, 11, 4, 10), queue="social")
    for minute, author in ((0, "fb:a"), (5, "fb:b"), (9, "fb:c"), (12, "fb:a")):
        c5.received(utc(2026, 11, 4, 10, minute), author=author, public=True)
    c5.respond(utc(2026, 11, 4, 10, 30), agent=3, handling=600, public=True, message_id=900)
    log.add("engagement_recorded", utc(2026, 11, 4, 11), c5,
            data={"message_id": 900, "likes": 5, "replies": 2, "views": 100, "shares": 0})
    log.add("engagement_recorded", utc(2026, 11, 5, 11), c5,  # latest reading wins
            data={"message_id": 900, "likes": 10, "replies": 4, "views": 50, "shares": 1})
    # 6: outbound SMS the customer answered.
    c6 = log.case(6, "sms", "outbound", utc(2026, 11, 5, 10), queue="outbound")
    c6.sent(utc(2026, 11, 5, 10), agent=4, handling=60)
    c6.received(utc(2026, 11, 5, 11), author="sms:6")
    # 7: opened before the period: never counted.
    c7 = log.case(7, "email", "inbound", utc(2026, 11, 1, 10), queue="email")
    c7.respond(utc(2026, 11, 2, 7), agent=1)
    # Surveys: case 1 answered twice (the latest, 3, counts), case 2 a 7, case 4 a 10.
    for case, score, at in ((c1, 9, utc(2026, 11, 2, 9)), (c1, 3, utc(2026, 11, 2, 10)),
                            (c2, 7, utc(2026, 11, 9, 9)), (c4, 10, utc(2026, 11, 3, 10))):
        log.add("survey_sent", at - s, case, data={"kind": "nps"})
        log.add("survey_answered", at, case, data={"kind": "nps", "score": score})
    log.add("survey_answered", utc(2026, 11, 4, 12), c5, data={"kind": "csat", "score": 4})
    return log


def row(df, **keys):
    m = df
    for k, v in keys.items():
        m = m[m[k] == v]
    assert len(m) == 1, f"expected one row for {keys}, got {len(m)}"
    return m.iloc[0]


def test_volumes_frt_and_service_level_by_channel(log, policy):
    k = Metrics(log.table(), config=policy, agents=AGENTS).kpis(START, END, "channel")
    email = row(k, channel="email")
    assert (email.offered, email.answered, email.handled) == (4, 3, 3)
    assert email.frt_mean == pytest.approx((1800 + 1800 + 66 * 3600) / 3)
    assert email.frt_median == 1800
    assert email.frt_business_mean == pytest.approx((1800 + 1800 + 7200) / 3)
    # Case 8 is still inside its 2 h business target at the period end: not counted yet.
    assert (email.sla_counted, email.sla_met, email.service_level) == (3, 3, 1.0)
    assert email.reopened == 1 and email.reopen_rate == 0.5
    phone = row(k, channel="phone")
    # The abandoned call counts against the service level.
    assert (phone.offered, phone.abandoned, phone.sla_counted, phone.sla_met) == (2, 1, 2, 1)
    assert phone.service_level == 0.5 and phone.parallel == 1 and phone.parallel_rate == 0.5
    assert phone.aht_seconds == 180
    sms = row(k, channel="sms")
    assert sms.response_rate == 1.0 and sms.sla_counted == 0
    assert sms.frt_mean != sms.frt_mean  # NaN: no first response for outbound contacts


def test_later_period_sees_the_late_answer_in_business_time(log, policy):
    m = Metrics(log.table(), config=policy, agents=AGENTS)
    f = m.facts(START, utc(2026, 11, 11)).set_index("case_id")
    assert f.loc[8, "frt_seconds"] == 16 * 3600
    assert f.loc[8, "frt_business_seconds"] == 3600
    assert bool(f.loc[8, "sla_counted"]) and bool(f.loc[8, "sla_met"])
    assert 7 not in f.index


def test_unanswered_contact_counts_against_once_its_target_has_passed(policy):
    log = Log()
    log.case(1, "email", "inbound", utc(2026, 11, 9, 15), queue="email")  # 17:00 local Mon
    m = Metrics(log.table(), config=policy)
    pending = m.facts(START, utc(2026, 11, 10)).iloc[0]
    late = m.facts(START, utc(2026, 11, 11)).iloc[0]
    assert not pending.sla_counted
    assert late.sla_counted and not late.sla_met


def test_changing_sla_or_calendar_recomputes_history(log, policy):
    events = log.table()
    base = row(Metrics(events, config=policy).kpis(START, END, "channel"), channel="email")
    stricter = parse_config(POLICY.replace("email: {first_response: 2h}",
                                           "email: {first_response: 1h}"))
    k = row(Metrics(events, config=stricter).kpis(START, END, "channel"), channel="email")
    assert (base.sla_met, k.sla_met) == (3, 2)  # case 2 took 2 business hours
    shorter = parse_config(POLICY.replace('["08:00-16:00"]', '["08:00-15:00"]'))
    f = Metrics(events, config=shorter).facts(START, END).set_index("case_id")
    assert f.loc[2, "frt_business_seconds"] == 3600  # Friday 15:00 is now closing time
    prefer_event = parse_config(POLICY.replace("sla:\n", "sla:\n  prefer: event\n"))
    f = Metrics(events, config=prefer_event).facts(START, END).set_index("case_id")
    assert f.loc[1, "sla_target_seconds"] == 600 and not f.loc[1, "sla_met"]


def test_cost_per_contact_and_per_reached(log, policy):
    c = Metrics(log.table(), config=policy, agents=AGENTS).cost(START, END, "channel,bound")
    fb = row(c, channel="facebook")
    # 600 s at the social team's 60/h + the 0.5 per-contact fee.
    assert fb.cost == pytest.approx(10.5)
    # 3 distinct authors + max(views 50, likes+replies+shares 15) of the latest reading.
    assert fb.reach == 53
    assert fb.cost_per_reached == pytest.approx(10.5 / 53)
    phone = row(c, channel="phone")
    assert phone.cost == pytest.approx(180 / 3600 * 36 + 3 * 0.02)
    assert phone.cost_per_contact == pytest.approx(phone.cost)  # the abandoned call is free
    sms = row(c, channel="sms")
    assert sms.cost == pytest.approx(60 / 3600 * 36 + 0.10)
    assert sms.reach == 1
    email = row(c, channel="email")
    assert email.cost_per_contact == pytest.approx((300 + 300 + 600) / 3600 * 36 / 3)


def test_hourly_cost_change_reprices_history(log, policy):
    dearer = parse_config(POLICY.replace("social: 60.0", "social: 120.0"))
    fb = row(Metrics(log.table(), config=dearer, agents=AGENTS).cost(START, END, "channel"),
             channel="facebook")
    assert fb.cost == pytest.approx(20.5)


def test_contacts_per_agent_per_day_and_week(log, policy):
    k = Metrics(log.table(), config=policy, agents=AGENTS).kpis(START, END, "agent")
    a1 = row(k, agent=1)
    # Agent 1: cases 1, 9 and 7 on Mon 2 Nov, case 2 on Mon 9 Nov -> 4 contacts / 2 days;
    # weeks: 3 contacts in week 45, 1 in week 46.
    assert a1.contacts_per_agent_day == 2.0
    assert a1.contacts_per_agent_week == 2.0
    team = Metrics(log.table(), config=policy, agents=AGENTS).kpis(START, END, "team")
    assert row(team, team="social").offered == 1


def test_time_buckets_use_local_time(log, policy):
    k = Metrics(log.table(), config=policy).kpis(START, END, "day,hour_of_day")
    r = row(k, hour_of_day=9)  # cases 1 and 9 opened 07:00/07:10 UTC = 09:xx Helsinki
    assert r.offered == 2 and str(r.day.date()) == "2026-11-02"


def test_nps_matches_the_pure_formula_and_latest_answer_wins(log, policy):
    m = Metrics(log.table(), config=policy)
    total = m.surveys(START, END, None).iloc[0]
    expected = nps([3, 7, 10])
    assert total.nps_answers == expected.answers == 3
    assert total.nps == pytest.approx(expected.nps)
    by_channel = m.surveys(START, END, "channel")
    assert row(by_channel, channel="email").nps == pytest.approx(nps([3, 7]).nps)
    assert row(by_channel, channel="facebook").csat == 100.0
    assert total.nps_response_rate == 1.0


def test_bad_queries_are_explained(log):
    m = Metrics(log.table())
    with pytest.raises(MetricsQueryError, match="unknown dimension 'colour'"):
        m.kpis(START, END, "channel,colour")
    with pytest.raises(MetricsQueryError, match="not after start"):
        m.kpis(END, START)
    with pytest.raises(MetricsQueryError, match="wall or business"):
        m.frt_distribution(START, END, clock="lunar")


def test_frt_distribution_shares_sum_to_one(log, policy):
    d = Metrics(log.table(), config=policy).frt_distribution(START, END, "channel")
    email = d[d.channel == "email"]
    assert email.contacts.sum() == 3
    assert email.share.sum() == pytest.approx(1.0)
    assert email.set_index("bucket").loc["15m-1h", "contacts"] == 2
    assert email.set_index("bucket").loc[">24h", "contacts"] == 1
