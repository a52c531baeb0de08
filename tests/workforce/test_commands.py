"""`somebound plan` end to end: CSV, SQLite events table, HTML/JSON output, errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from somebound.cli import main

POLICY = """\
interval_minutes: 60
channels:
  phone:
    aht_seconds: 240
    target_seconds: 20
    hours: "08:00-20:00"
  social:
    kind: deferred
    sources: [facebook, x]
    aht_seconds: 300
    target_seconds: 7200
    hours: "08:00-22:00"
shifts:
  - name: day
    starts: {from: "06:00", to: "14:00", every_minutes: 60}
    hours: 8
"""


def _contacts(weeks: int = 1, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    t0 = datetime(2026, 1, 5)
    for hour in range(weeks * 168):
        h = hour % 24
        lam = 30 * max(0.0, np.sin((h - 7) / 14 * np.pi))
        for ch, k in (("phone", 1.0), ("facebook", 0.3), ("x", 0.2)):
            for _ in range(rng.poisson(lam * k)):
                rows.append((ch, t0 + timedelta(hours=hour, seconds=float(rng.uniform(0, 3600)))))
    return pd.DataFrame(rows, columns=["channel", "at"])


@pytest.fixture
def policy_file(tmp_path):
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY)
    return p


@pytest.fixture
def plan_csv(tmp_path, policy_file) -> list[str]:
    """``somebound plan`` on a week of contacts from a CSV, with the test policy."""
    csv = tmp_path / "contacts.csv"
    _contacts().to_csv(csv, index=False)
    return ["plan", "--volumes", str(csv), "--policy", str(policy_file), "--method", "profile"]


def test_plan_from_csv_writes_html_and_json(tmp_path, plan_csv, capsys):
    out, js = tmp_path / "plan.html", tmp_path / "plan.json"
    rc = main(
        [
            *plan_csv,
            "--crisis",
            "social:5:wed 12:00:6",
            "--out",
            str(out),
            "--json",
            str(js),
        ]
    )
    assert rc == 0
    page = out.read_text()
    assert (
        "<svg" in page
        and "phone" in page
        and "social" in page
        and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    doc = json.loads(js.read_text())
    assert doc["week_start"] == "2026-01-12"
    phone = doc["requirements"]["phone"]
    assert len(phone["required"]) == 168
    # the CSV's phone volumes arrive in the profile: Monday 13:00 is busy, 03:00 closed
    assert phone["volume"][13] > 10 and phone["required"][3] == 0
    assert all(s >= r for s, r in zip(doc["scheduled"]["phone"], phone["required"], strict=True))
    # social = facebook + x mapped through the policy's sources
    assert sum(doc["requirements"]["social"]["volume"]) > 0
    assert doc["crises"][0]["channel"] == "social"
    assert "crisis social x5" in capsys.readouterr().out


def test_plan_from_sqlite_events(tmp_path, policy_file):
    db = tmp_path / "events.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    c = _contacts()
    ev = pd.DataFrame(
        {
            "id": range(len(c)),
            "type": "case_opened",
            "at": c["at"],
            "channel": c["channel"],
            "data": "{}",
        }
    )
    noise = ev.head(50).assign(type="message_sent")
    pd.concat([ev, noise]).to_sql("events", engine, index=False)
    engine.dispose()
    js = tmp_path / "plan.json"
    rc = main(
        [
            "plan",
            "--db",
            f"sqlite:///{db}",
            "--policy",
            str(policy_file),
            "--method",
            "profile",
            "--no-schedule",
            "--json",
            str(js),
        ]
    )
    assert rc == 0
    doc = json.loads(js.read_text())
    total = sum(doc["requirements"]["phone"]["volume"]) + sum(
        doc["requirements"]["social"]["volume"]
    )
    assert total == pytest.approx(len(c))  # message_sent rows are not contacts


def test_bad_policy_exits_2_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels:\n  phone:\n    aht_seconds: fast\n")
    rc = main(["plan", "--demo", "--policy", str(bad)])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"{bad}:3:" in err and "aht_seconds must be a number" in err


def test_bad_crisis_spec_is_explained(plan_csv, capsys):
    rc = main([*plan_csv, "--no-schedule", "--crisis", "social:five"])
    assert rc == 2
    assert "CHANNEL:FACTOR:DAY HH:MM:HOURS" in capsys.readouterr().err
