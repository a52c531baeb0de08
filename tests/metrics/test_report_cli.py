from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from somebound.cli import main
from somebound.metrics.kpis import Metrics
from somebound.metrics.report import render_html
from somebound.metrics.synthetic import generate

START, END = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)


def test_report_has_charts_and_the_same_numbers_as_kpis():
    data = generate(800, seed=5)
    m = Metrics(data.events, agents=data.agents)
    html = render_html(m, START, END)
    assert html.count("<svg") == 5
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    total = m.kpis(START, END, None).iloc[0]
    assert f"{int(total.offered):,}" in html
    by_bound = m.cost(START, END, "bound").set_index("bound")
    somebound_cost = f"{by_bound.loc['somebound', 'cost_per_reached']:.4f} EUR"
    assert somebound_cost in html
    for title in ("Contacts per day by bound", "First-response time distribution",
                  "SLA attainment by channel", "Cost per contact vs per customer reached"):
        assert title in html


def test_cli_report_and_export_from_parquet(tmp_path, capsys):
    data = generate(300, seed=9)
    events = tmp_path / "events.parquet"
    pq.write_table(data.events, events)
    out = tmp_path / "r.html"
    assert main(["report", "--events", str(events), "--from", "2026-11-02", "--to",
                 "2026-11-16", "--out", str(out)]) == 0  # fmt: skip
    assert re.search(r"<svg", out.read_text())
    assert main(["export", "--events", str(events), "--out", str(tmp_path / "wh")]) == 0
    assert (tmp_path / "wh" / "fact_contact.parquet").exists()


def test_cli_explains_bad_policy_file(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("sla:\n  default: {first_response: never}\n")
    with pytest.raises(SystemExit, match=r"m.yaml:2"):
        main(["report", "--synthetic", "50", "--config", str(bad), "--out",
              str(tmp_path / "x.html")])  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not any(shutil.which(b) for b in ("chromium", "chromium-browser",
                                                      "google-chrome")),
                    reason="no Chromium on PATH for the PNG screenshot")  # fmt: skip
def test_cli_png_screenshot(tmp_path):
    png = tmp_path / "r.png"
    assert main(["report", "--synthetic", "200", "--from", "2026-11-02", "--to", "2026-11-09",
                 "--out", str(tmp_path / "r.html"), "--png", str(png)]) == 0  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
