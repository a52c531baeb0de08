"""KPIs over a large synthetic event log with DuckDB, beside plain-scan baselines.

    python bench/kpis.py            # ~10M events
    python bench/kpis.py --quick    # ~300k events, well under a minute

Measured in the same run on the same data:
- baseline 1: a plain DuckDB COUNT/GROUP BY (channel, bound) scan of fact_event Parquet;
- baseline 2: the same count with pandas groupby on an in-memory DataFrame;
- somebound: every KPI per channel x bound (volumes, FRT mean/median/p90 in wall and
  business time, service level, AHT, resolution, reopen, parallel, cost, reach,
  contacts per agent per day/week) three ways: from the warehouse export directory
  (per-contact rows read from ``fact_contact``, policy re-applied in SQL at query time),
  from the exported ``fact_event`` Parquet alone (the per-contact fold at query time) and
  from the raw log with JSON ``data``; the fold path again with its fold cached (what a
  report's second table costs); contacts per agent per day/week on their own; plus cost
  by bound and NPS by channel.
Times are the best of ``--repeat`` runs, each with a fresh ``Metrics`` (no cache): wall
seconds and the process CPU seconds of the same run (all DuckDB threads), because on a
shared machine the load average (printed) inflates wall time but hardly CPU time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import duckdb  # noqa: E402
import pyarrow.compute as pa_compute  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from somebound.metrics.export import export_star_schema  # noqa: E402
from somebound.metrics.kpis import Metrics  # noqa: E402
from somebound.metrics.synthetic import generate_events  # noqa: E402


def best(fn, repeat: int) -> tuple[float, float]:  # noqa: ANN001
    """(wall, cpu) seconds of the fastest of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t, time.process_time() - c))
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="~300k events")
    ap.add_argument("--events", type=int, help="target number of events")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.events or (300_000 if args.quick else 10_000_000)
    days = 28
    start = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday; four weeks
    end = start + timedelta(days=days)

    t = time.perf_counter()
    data = generate_events(n, start=start, days=days)
    gen_s = time.perf_counter() - t
    events = data.events
    # The KPI period runs to just after the last event (contacts opened in the four weeks
    # are answered/solved later): every contact's events are inside it, which is when the
    # warehouse's fact_contact rows equal the fold (else the fold runs; see docs).
    last = pa_compute.max(events.column("at")).as_py()
    end = max(end, last.replace(tzinfo=UTC) + timedelta(seconds=1))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        export_star_schema(Path(tmp) / "wh", events, agents=data.agents)
        flat_s = time.perf_counter() - t
        fact_event = Path(tmp) / "wh" / "fact_event.parquet"
        fact_contact = Path(tmp) / "wh" / "fact_contact.parquet"
        print(f"events: {events.num_rows:,}  cases: {len(data.cases):,}  "
              f"cpus: {os.cpu_count()}  duckdb {duckdb.__version__}  "
              f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"setup: synthetic log {gen_s:.1f} s, warehouse export {flat_s:.1f} s "
              f"(fact_event {fact_event.stat().st_size / 1e6:.0f} MB, "
              f"fact_contact {fact_contact.stat().st_size / 1e6:.0f} MB)\n")  # fmt: skip

        path = str(fact_event)
        con = duckdb.connect()
        scan_sql = (f"SELECT channel, bound, count(*) FROM read_parquet('{path}') "
                    "WHERE type = 'case_opened' GROUP BY ALL")  # fmt: skip
        base_duck = best(lambda: con.sql(scan_sql).fetchall(), args.repeat)
        frame = pq.read_table(fact_event, columns=["type", "channel", "bound"]).to_pandas()
        base_pandas = best(
            lambda: frame[frame["type"] == "case_opened"].groupby(["channel", "bound"]).size(),
            args.repeat,
        )

        wh = str(Path(tmp) / "wh")

        def kpis_warehouse() -> None:
            m = Metrics(wh, agents=data.agents)
            m.kpis(start, end, "channel,bound")
            assert m.facts_source == "fact_contact"

        def kpis_parquet() -> None:
            Metrics(path, agents=data.agents).kpis(start, end, "channel,bound")

        def kpis_raw() -> None:
            Metrics(events, agents=data.agents).kpis(start, end, "channel,bound")

        def cost_nps() -> None:
            m = Metrics(wh, agents=data.agents)
            m.cost(start, end, "bound")
            m.surveys(start, end, "channel")

        m = Metrics(path, agents=data.agents)
        m.kpis(start, end, "channel,bound")  # the fold is cached (a DuckDB temp table)
        agg_only = best(lambda: m.kpis(start, end, "channel,bound"), args.repeat)
        mw = Metrics(wh, agents=data.agents)
        activity = best(lambda: mw.agent_productivity(start, end, "channel,bound"), args.repeat)

        rows = [
            ("baseline: DuckDB COUNT/GROUP BY scan (Parquet)", base_duck),
            ("baseline: pandas groupby count (in memory)", base_pandas),
            (
                "all KPIs by channel x bound, warehouse (fact_contact)",
                best(kpis_warehouse, args.repeat),
            ),
            (
                "all KPIs by channel x bound, fact_event Parquet (fold)",
                best(kpis_parquet, args.repeat),
            ),
            ("all KPIs by channel x bound, raw log (JSON data)", best(kpis_raw, args.repeat)),
            ("  of which: the same again with the fold cached", agg_only),
            ("  contacts per agent per day/week alone (fact_event)", activity),
            ("cost by bound + NPS by channel, warehouse", best(cost_nps, args.repeat)),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"{'query':{width}}  {'wall s':>8}  {'cpu s':>7}  {'x scan (wall)':>13}  "
              f"{'x scan (cpu)':>12}  {'Mevents/s':>9}")  # fmt: skip
        for name, (secs, cpu) in rows:
            print(f"{name:{width}}  {secs:8.3f}  {cpu:7.3f}  {secs / base_duck[0]:13.1f}  "
                  f"{cpu / max(base_duck[1], 1e-3):12.1f}  "
                  f"{events.num_rows / secs / 1e6:9.1f}")  # fmt: skip
        print(
            f"\nload average (1, 5, 15 min) at the end: "
            f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
