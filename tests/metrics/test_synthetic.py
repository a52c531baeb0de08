from __future__ import annotations

import duckdb

from somebound.core.enums import Bound, Channel, EventType
from somebound.metrics.synthetic import generate


def test_synthetic_log_follows_the_contract_and_is_deterministic():
    a, b = generate(500, seed=1), generate(500, seed=1)
    assert a.events.equals(b.events)
    ev = a.events
    types = {r[0] for r in duckdb.sql("SELECT DISTINCT type FROM ev").fetchall()}
    assert types <= {t.value for t in EventType}
    assert {"case_opened", "first_response", "engagement_recorded", "survey_answered",
            "call_abandoned", "parallel_contact", "case_reopened"} <= types  # fmt: skip
    chans = {r[0] for r in duckdb.sql("SELECT DISTINCT channel FROM ev").fetchall()}
    assert chans == {c.value for c in Channel}
    bounds = {r[0] for r in duckdb.sql("SELECT DISTINCT bound FROM ev").fetchall()}
    assert bounds == {b.value for b in Bound}
    # Time order, unique ids, one case_opened per case, valid JSON everywhere.
    ok = duckdb.sql("""
        SELECT bool_and(json_valid(data)), count(DISTINCT id) = count(*),
               (SELECT count(*) FROM ev WHERE type = 'case_opened')
                 = (SELECT count(DISTINCT case_id) FROM ev)
        FROM ev""").fetchall()[0]
    assert ok == (True, True, True)
    ats = ev.column("at").to_numpy()
    assert (ats[1:] >= ats[:-1]).all()
    # Public threads really have several authors.
    many = duckdb.sql("""SELECT count(*) FROM (SELECT case_id FROM ev
        WHERE type = 'message_received' AND bound = 'somebound'
        GROUP BY case_id HAVING count(DISTINCT json_extract_string(data, '$.author')) > 1)""")
    assert many.fetchall()[0][0] > 0
