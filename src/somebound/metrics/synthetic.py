"""A synthetic, realistic event log for tests, the benchmark and the demo.

Seven channels with their own bound mix (phone and email mostly inbound, SMS mostly
outbound, Facebook/X/forums mostly somebound), a weekday/intraday arrival profile in
Helsinki time, replies that wait for opening hours, abandoned calls, follow-ups,
reopens, parallel contacts, NPS/CSAT answers that get worse with slow answers, and public
threads with several authors and likes/replies/views on the public answer.

Everything is generated with NumPy array operations (one pass per event type, no loop per
case) so ten million events take seconds; the JSON ``data`` column is built by DuckDB.
The output follows EVENTS.md exactly, plus the ``cases``, ``customers`` and ``agents``
tables the warehouse export needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from somebound.metrics.eventlog import events_schema

CHANNELS = np.array(["email", "phone", "chat", "facebook", "x", "feed", "sms"])
CHANNEL_P = np.array([0.24, 0.22, 0.14, 0.15, 0.08, 0.04, 0.13])
BOUNDS = np.array(["inbound", "outbound", "somebound"])
# P(inbound), P(outbound); the rest is somebound.
BOUND_P = {
    "email": (0.85, 0.15), "phone": (0.85, 0.15), "chat": (1.0, 0.0),
    "facebook": (0.25, 0.0), "x": (0.2, 0.0), "feed": (0.0, 0.0), "sms": (0.35, 0.65),
}  # fmt: skip
TEAMS = {"phone": 18, "email": 14, "chat": 8, "social": 10, "outbound": 6}
# Median first response (seconds of *open* time) and answer probability per channel.
FRT_MEDIAN = {"email": 7200, "phone": 25, "chat": 40, "facebook": 1500, "x": 1200,
              "feed": 10800, "sms": 3600}  # fmt: skip
ANSWER_P = {"email": 0.97, "phone": 0.93, "chat": 0.96, "facebook": 0.9, "x": 0.88,
            "feed": 0.7, "sms": 0.95}  # fmt: skip
HANDLING = {"email": 360, "phone": 0, "chat": 240, "facebook": 200, "x": 150, "feed": 420,
            "sms": 90}  # fmt: skip
SLA_RECORDED = {"email": 28800, "phone": 20, "chat": 60, "facebook": 3600, "x": 3600,
                "feed": 86400, "sms": 14400}  # fmt: skip
LOCAL_OFFSET = 2 * 3600  # Helsinki winter time: good enough for synthetic arrival curves
HOUR_PROFILE = np.array(
    [1, 0.5, 0.3, 0.3, 0.4, 0.8, 2, 4, 8, 10, 10, 9, 8, 9, 9, 8, 7, 6, 5, 4, 4, 3, 2, 1.5]
)


@dataclass
class SyntheticData:
    events: pa.Table
    cases: pd.DataFrame
    customers: pd.DataFrame
    agents: pd.DataFrame


def generate(
    n_cases: int = 2000,
    *,
    start: datetime = datetime(2026, 11, 2, tzinfo=UTC),
    days: int = 14,
    seed: int = 7,
) -> SyntheticData:
    """A multi-channel event log of ``n_cases`` cases opened over ``days`` days."""
    if n_cases < 1 or days < 1:
        raise ValueError("n_cases and days must be at least 1")
    g = _Gen(n_cases, start, days, np.random.default_rng(seed))
    return g.run()


def generate_events(n_events: int, **kwargs) -> SyntheticData:  # noqa: ANN003
    """About ``n_events`` events (the case count is derived from the mean per case)."""
    return generate(max(1, int(n_events / 9.3)), **kwargs)


class _Gen:
    def __init__(self, n: int, start: datetime, days: int, rng: np.random.Generator) -> None:
        self.n, self.days, self.rng = n, days, rng
        self.start_s = int(start.astimezone(UTC).timestamp())
        self.blocks: list[pa.Table] = []
        self.keys_by_type: dict[str, list[str]] = {}
        self.next_message = 1
        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")

    # -- helpers --------------------------------------------------------------------
    def _messages(self, k: int) -> np.ndarray:
        ids = np.arange(self.next_message, self.next_message + k, dtype=np.int64)
        self.next_message += k
        return ids

    def emit(
        self,
        type_: str,
        idx: np.ndarray,
        at: np.ndarray,
        *,
        agent: np.ndarray | None = None,
        message: np.ndarray | None = None,
        customer: np.ndarray | None = None,
        data: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Append one block of events of one type (one row per ``idx``)."""
        k = len(idx)
        if k == 0:
            return
        data = data or {}
        self.keys_by_type.setdefault(type_, list(data))
        cols = {
            "type": pa.DictionaryArray.from_arrays(np.zeros(k, np.int32), pa.array([type_])),
            "at": pa.array((at * 1_000_000).astype(np.int64).astype("datetime64[us]")),
            "case_id": pa.array((idx + 1).astype(np.int64)),
            "customer_id": _arrow(self.customer[idx] if customer is None else customer, pa.int64()),
            "message_id": _arrow(message, pa.int64(), k),
            "agent_id": _arrow(agent, pa.int64(), k),
            "queue": self._dict(self.queue_code, self.queue_names, idx),
            "channel": self._dict(self.channel_code, CHANNELS, idx),
            "bound": self._dict(self.bound_code, BOUNDS, idx),
        }
        for key, v in data.items():
            cols[f"d_{key}"] = _arrow(v)
        self.blocks.append(pa.table(cols))

    @staticmethod
    def _dict(codes: np.ndarray, names: np.ndarray, idx: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(codes[idx].astype(np.int32), pa.array(names))

    def assemble(self) -> pa.Table:
        """One table in time order with the JSON ``data`` column built by DuckDB."""
        t = pa.concat_tables(self.blocks, promote_options="permissive")
        self.blocks = []
        order = np.argsort(t.column("at").to_numpy().astype(np.int64), kind="stable")
        t = t.take(pa.array(order))
        self.con.register("t", t)
        branches = []
        for ty, keys in self.keys_by_type.items():
            fields = ", ".join(f"'{key}', d_{key}" for key in keys)
            expr = f"json_object({fields})" if keys else "'{}'"
            branches.append(f"WHEN '{ty}' THEN CAST({expr} AS VARCHAR)")
        out = self.con.sql(
            f"""SELECT CAST(type AS VARCHAR) AS type, "at", case_id, customer_id, message_id,
                       agent_id, CAST(queue AS VARCHAR) AS queue,
                       CAST(channel AS VARCHAR) AS channel, CAST(bound AS VARCHAR) AS bound,
                       CASE CAST(type AS VARCHAR) {" ".join(branches)} ELSE '{{}}' END AS data
                FROM t"""
        ).to_arrow_table()
        self.con.unregister("t")
        ids = pa.array(np.arange(1, out.num_rows + 1, dtype=np.int64))
        out = out.append_column("id", ids)
        return out.select([f.name for f in events_schema()]).cast(events_schema())

    def pick_agents(self, teams: np.ndarray) -> np.ndarray:
        out = np.empty(len(teams), dtype=np.int64)
        for team, (lo, hi) in self.team_range.items():
            m = teams == team
            out[m] = self.rng.integers(lo, hi + 1, m.sum())
        return out

    def next_open(self, t: np.ndarray, open_h: int, close_h: int, weekends: bool) -> np.ndarray:
        """Shift times outside opening hours to the next opening (local time)."""
        local = t + LOCAL_OFFSET
        day = np.floor(local / 86400)
        sec = local - day * 86400
        day = np.where(sec >= close_h * 3600, day + 1, day)
        sec = np.where(sec >= close_h * 3600, open_h * 3600, sec)
        sec = np.where(sec < open_h * 3600, open_h * 3600, sec)
        if not weekends:
            wd = (day.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
            day = np.where(wd == 5, day + 2, np.where(wd == 6, day + 1, day))
            moved = wd >= 5
            sec = np.where(moved, open_h * 3600, sec)
        return day * 86400 + sec - LOCAL_OFFSET

    # -- the log ----------------------------------------------------------------------
    def run(self) -> SyntheticData:
        rng, n = self.rng, self.n
        ch = rng.choice(len(CHANNELS), n, p=CHANNEL_P)
        self.channel = CHANNELS[ch]
        u = rng.random(n)
        p_in = np.array([BOUND_P[c][0] for c in CHANNELS])[ch]
        p_out = np.array([BOUND_P[c][1] for c in CHANNELS])[ch]
        b = np.where(u < p_in, 0, np.where(u < p_in + p_out, 1, 2))
        self.bound = BOUNDS[b]
        social = np.isin(self.channel, ["facebook", "x", "feed"])
        queue = np.where(
            b == 1, "outbound",
            np.where(social, "social",
                     np.where(self.channel == "phone", "phone",
                              np.where(self.channel == "chat", "chat", "email"))),
        )  # fmt: skip
        vip = (b == 0) & (rng.random(n) < 0.03)
        self.queue = np.where(vip, "vip", queue)
        self.queue_names, self.queue_code = np.unique(self.queue, return_inverse=True)
        self.channel_code = ch
        self.bound_code = b
        team = np.where(self.queue == "vip", "email", self.queue)

        agents, lo = [], 1
        self.team_range = {}
        for t, k in TEAMS.items():
            self.team_range[t] = (lo, lo + k - 1)
            agents += [(i, f"{t}{i}", f"{t.title()} Agent {i}", t) for i in range(lo, lo + k)]
            lo += k
        n_customers = max(1, int(n * 0.6))
        self.customer = rng.integers(1, n_customers + 1, n).astype(np.int64)

        # Arrival: weekday-weighted day, intraday profile; phone/chat only while open.
        day_w = np.array(
            [1.0 if (d + self._weekday0()) % 7 < 5 else 0.45 for d in range(self.days)]
        )
        day = rng.choice(self.days, n, p=day_w / day_w.sum())
        hour = rng.choice(24, n, p=HOUR_PROFILE / HOUR_PROFILE.sum())
        live = np.isin(self.channel, ["phone", "chat"])
        hour = np.where(live, np.clip(hour, 8, 17), hour)
        t0 = self.start_s + day * 86400 + hour * 3600 + rng.uniform(0, 3600, n) - LOCAL_OFFSET
        t0 = np.where(live, self.next_open(t0, 8, 18, weekends=False), t0)
        t0 = np.where(t0 < self.start_s, t0 + 86400, t0)  # keep the local hour, next day
        self.t0 = t0
        lang = rng.choice(np.array(["fi", "sv", "en"]), n, p=[0.6, 0.1, 0.3])
        prio = rng.choice(
            np.array(["low", "normal", "high", "urgent"]), n, p=[0.1, 0.7, 0.15, 0.05]
        )
        public = b == 2
        idx = np.arange(n)

        self.emit("case_opened", idx, t0,
                  data={"priority": prio, "language": lang, "public": public})  # fmt: skip
        inb = b != 1
        authors = np.char.add(np.char.add(self.channel.astype(str), ":"), self.customer.astype(str))
        followers = np.where(social, rng.lognormal(5, 1.5, n).astype(np.int64), None)
        i_in = idx[inb]
        self.emit("message_received", i_in, t0[inb], message=self._messages(len(i_in)),
                  data={"public": public[inb], "language": lang[inb], "author": authors[inb],
                        "followers": followers[inb]})  # fmt: skip
        # Other authors joining public threads.
        extra = np.where(public, rng.geometric(0.45, n) - 1, 0)
        i_x = np.repeat(idx, extra)
        t_x = t0[i_x] + rng.exponential(900, len(i_x))
        other = np.char.add(np.char.add(self.channel[i_x].astype(str), ":u"),
                            rng.integers(1, 10**7, len(i_x)).astype(str))  # fmt: skip
        self.emit("message_received", i_x, t_x, message=self._messages(len(i_x)),
                  customer=np.full(len(i_x), None),
                  data={"public": np.ones(len(i_x), bool), "language": lang[i_x],
                        "author": other, "followers": rng.lognormal(4, 1.5, len(i_x)).astype(np.int64)})  # fmt: skip
        sla = np.array([SLA_RECORDED[c] for c in CHANNELS])[ch]
        self.emit("case_routed", idx, t0 + 2, data={"queue": self.queue, "priority": prio,
                  "sla_first_response_seconds": sla, "rule": np.full(n, "synthetic")})  # fmt: skip
        agent = self.pick_agents(team)
        self.emit("case_assigned", idx, t0 + 5, agent=agent,
                  data={"agent_id": agent, "previous": np.full(n, None)})  # fmt: skip

        # First response for inbound/somebound (waits for opening hours).
        phone = self.channel == "phone"
        answered = inb & (rng.random(n) < np.array([ANSWER_P[c] for c in CHANNELS])[ch])
        med = np.array([FRT_MEDIAN[c] for c in CHANNELS])[ch]
        frt_open = np.where(phone, rng.exponential(med), med * rng.lognormal(0, 1.0, n))
        office = np.isin(self.channel, ["email", "sms"])
        begin = np.where(office, self.next_open(t0, 8, 18, weekends=False),
                         np.where(social, self.next_open(t0, 7, 22, weekends=True), t0))  # fmt: skip
        t_resp = np.maximum(begin + frt_open, t0 + 1)
        # Phone: answered or abandoned.
        i_call = idx[phone & inb]
        abandoned = np.zeros(n, bool)
        abandoned[i_call] = ~answered[i_call]
        wait = t_resp - t0
        i_ab = idx[abandoned]
        ab_wait = rng.exponential(60, len(i_ab))
        self.emit("call_abandoned", i_ab, t0[i_ab] + ab_wait, data={"wait_seconds": ab_wait})
        i_ans = idx[answered]
        self.emit("first_response", i_ans, t_resp[i_ans], agent=agent[i_ans],
                  data={"seconds": (t_resp - t0)[i_ans]})  # fmt: skip
        i_pa = idx[answered & phone]
        talk = rng.lognormal(np.log(240), 0.6, n)
        wrap = rng.lognormal(np.log(45), 0.5, n)
        self.emit("call_answered", i_pa, t_resp[i_pa], agent=agent[i_pa],
                  data={"wait_seconds": wait[i_pa]})  # fmt: skip
        self.emit("call_ended", i_pa, t_resp[i_pa] + talk[i_pa], agent=agent[i_pa],
                  data={"wait_seconds": wait[i_pa], "talk_seconds": talk[i_pa],
                        "wrap_seconds": wrap[i_pa]})  # fmt: skip
        handle = np.array([HANDLING[c] for c in CHANNELS])[ch] * rng.lognormal(0, 0.4, n)
        i_ms = idx[answered & ~phone]
        sent_ids = np.zeros(n, np.int64)
        sent_ids[i_ms] = self._messages(len(i_ms))
        self.emit("message_sent", i_ms, t_resp[i_ms], agent=agent[i_ms], message=sent_ids[i_ms],
                  data={"public": public[i_ms], "handling_seconds": handle[i_ms],
                        "author_agent": agent[i_ms]})  # fmt: skip
        last = np.where(answered, t_resp + np.where(phone, talk, 0), t0)

        # Outbound: the company writes or calls first; some customers answer.
        out = b == 1
        i_out = idx[out & ~phone]
        self.emit("message_sent", i_out, t0[i_out], agent=agent[i_out],
                  message=self._messages(len(i_out)),
                  data={"public": np.zeros(len(i_out), bool), "handling_seconds": 0.5 * handle[i_out],
                        "author_agent": agent[i_out]})  # fmt: skip
        i_oc = idx[out & phone]
        self.emit("call_ended", i_oc, t0[i_oc] + talk[i_oc], agent=agent[i_oc],
                  data={"wait_seconds": np.zeros(len(i_oc)), "talk_seconds": talk[i_oc],
                        "wrap_seconds": wrap[i_oc]})  # fmt: skip
        reply = out & ~phone & (rng.random(n) < 0.35)
        i_r = idx[reply]
        t_r = t0[i_r] + rng.exponential(4 * 3600, len(i_r))
        self.emit("message_received", i_r, t_r, message=self._messages(len(i_r)),
                  data={"public": np.zeros(len(i_r), bool), "language": lang[i_r],
                        "author": authors[i_r], "followers": np.full(len(i_r), None)})  # fmt: skip
        last = np.where(out, t0 + np.where(phone, talk, 0), last)
        last[i_r] = t_r

        # Follow-up exchange on some answered cases.
        follow = answered & ~phone & (rng.random(n) < 0.35)
        i_f = idx[follow]
        t_fin = t_resp[i_f] + rng.exponential(3 * 3600, len(i_f))
        t_fout = t_fin + rng.exponential(3600, len(i_f)) + 60
        self.emit("message_received", i_f, t_fin, message=self._messages(len(i_f)),
                  data={"public": public[i_f], "language": lang[i_f], "author": authors[i_f],
                        "followers": followers[i_f]})  # fmt: skip
        self.emit("message_sent", i_f, t_fout, agent=agent[i_f], message=self._messages(len(i_f)),
                  data={"public": public[i_f], "handling_seconds": 0.7 * handle[i_f],
                        "author_agent": agent[i_f]})  # fmt: skip
        last[i_f] = t_fout

        # Solve, reopen, solve again.
        handled = answered | out
        solved = handled & (rng.random(n) < 0.92)
        t_solved = last + rng.exponential(1800, n) + 30
        i_s = idx[solved]
        self.emit("case_status_changed", i_s, t_solved[i_s], agent=agent[i_s],
                  data={"from": np.full(len(i_s), "open"), "to": np.full(len(i_s), "solved")})  # fmt: skip
        reopen = solved & (rng.random(n) < 0.07) & ~phone
        i_re = idx[reopen]
        t_re = t_solved[i_re] + rng.exponential(86400, len(i_re))
        self.emit("case_reopened", i_re, t_re, data={"from": np.full(len(i_re), "solved")})
        self.emit("message_received", i_re, t_re, message=self._messages(len(i_re)),
                  data={"public": public[i_re], "language": lang[i_re], "author": authors[i_re],
                        "followers": followers[i_re]})  # fmt: skip
        t_re2 = t_re + rng.exponential(7200, len(i_re)) + 60
        self.emit("message_sent", i_re, t_re2, agent=agent[i_re], message=self._messages(len(i_re)),
                  data={"public": public[i_re], "handling_seconds": handle[i_re],
                        "author_agent": agent[i_re]})  # fmt: skip
        self.emit("case_status_changed", i_re, t_re2 + 600, agent=agent[i_re],
                  data={"from": np.full(len(i_re), "open"), "to": np.full(len(i_re), "solved")})  # fmt: skip
        t_solved[i_re] = t_re2 + 600

        # Surveys after solving: slow answers and reopens make unhappy customers.
        surveyed = solved & (rng.random(n) < 0.8)
        kind = np.where(rng.random(n) < 0.7, "nps", "csat")
        i_sv = idx[surveyed]
        self.emit("survey_sent", i_sv, t_solved[i_sv] + 60, data={"kind": kind[i_sv]})
        ans = surveyed & (rng.random(n) < 0.3)
        i_an = idx[ans]
        slow = np.clip(np.log1p(np.maximum(wait, 0) / med), 0, 3)
        mood = rng.normal(0, 1, n) - 0.6 * slow - 0.8 * reopen + np.where(social, -0.2, 0.2)
        nps_score = np.clip(np.round(8.2 + 1.8 * mood), 0, 10).astype(int)
        csat_score = np.clip(np.round(4.1 + 0.8 * mood), 1, 5).astype(int)
        score = np.where(kind == "nps", nps_score, csat_score)
        self.emit("survey_answered", i_an, t_solved[i_an] + 60 + rng.exponential(6 * 3600, len(i_an)),
                  data={"kind": kind[i_an], "score": score[i_an]})  # fmt: skip

        # Engagement on public answers: two cumulative readings.
        pub_ans = answered & public & (sent_ids > 0)
        i_e = idx[pub_ans]
        likes = rng.poisson(3 + extra[i_e] * 2)
        replies = rng.poisson(0.5 + extra[i_e])
        views = (rng.lognormal(5, 1.2, len(i_e)) + likes * 10).astype(np.int64)
        shares = rng.poisson(0.3, len(i_e))
        for step, factor in ((3600, 1.0), (86400, 1.8)):
            self.emit("engagement_recorded", i_e, t_resp[i_e] + step,
                      data={"message_id": sent_ids[i_e], "likes": (likes * factor).astype(np.int64),
                            "replies": (replies * factor).astype(np.int64),
                            "views": (views * factor).astype(np.int64),
                            "shares": (shares * factor).astype(np.int64)})  # fmt: skip

        # Parallel contacts: the same customer waiting in another queue.
        par = inb & (rng.random(n) < 0.03)
        i_p = idx[par]
        other = rng.integers(0, n, len(i_p))
        self.emit("parallel_contact", i_p, t0[i_p] + 30,
                  data={"other_case_id": other + 1, "other_channel": self.channel[other],
                        "other_queue": self.queue[other]})  # fmt: skip

        events = self.assemble()

        def to_ts(s: np.ndarray) -> pd.DatetimeIndex:
            # unanswered rows are NaN; anything non-finite or out of range is "no time".
            # Converted in NumPy: pandas' float unit cast rounds under errstate(over=
            # "raise") and intermittently raised FloatingPointError on NaN rows.
            s = np.asarray(s, dtype=float)
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(s) & (np.abs(s) < 4e9)
            us = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[us]")
            us[ok] = np.round(s[ok] * 1e6).astype(np.int64)
            return pd.DatetimeIndex(us.astype("datetime64[ns]"))

        status = np.where(solved, "solved", np.where(handled, "open", "new"))
        cases = pd.DataFrame({
            "id": idx + 1, "customer_id": self.customer, "channel": self.channel,
            "bound": self.bound, "status": status, "priority": prio, "queue": self.queue,
            "assignee_id": agent, "opened_at": to_ts(t0),
            "first_response_at": to_ts(np.where(answered, t_resp, np.nan)),
            "solved_at": to_ts(np.where(solved, t_solved, np.nan)), "language": lang,
            "parallel": par,
        })  # fmt: skip
        cid = np.arange(1, n_customers + 1)
        customers = pd.DataFrame({
            "id": cid, "display_name": [f"Customer {i}" for i in cid],
            "language": rng.choice(np.array(["fi", "sv", "en"]), n_customers, p=[0.6, 0.1, 0.3]),
            "provisional": rng.random(n_customers) < 0.1,
            "created_at": to_ts(self.start_s - rng.uniform(0, 3 * 365 * 86400, n_customers)),
        })  # fmt: skip
        agents_df = pd.DataFrame(agents, columns=["id", "username", "display_name", "team"])
        return SyntheticData(events, cases, customers, agents_df)

    def _weekday0(self) -> int:
        return datetime.fromtimestamp(self.start_s, UTC).weekday()


def _arrow(values: np.ndarray | None, type_: pa.DataType | None = None, k: int = 0) -> pa.Array:
    """NumPy -> Arrow without a Python loop where possible (None/NaN become nulls)."""
    if values is None:
        return pa.nulls(k, type_ or pa.null())
    arr = np.asarray(values)
    if arr.dtype == object:
        return pa.array(arr, type=type_, from_pandas=True)
    return pa.array(arr, type=type_) if type_ is not None else pa.array(arr)
