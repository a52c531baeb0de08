"""What-if: re-run a campaign on a sample with changed rules, limits or levers.

A scenario is a small mapping applied to the catalogue *data* (policy is data), so a
what-if is exactly the catalogue the owner would upload:

    limits:  {"capacity:call": 300, "budget:total": 20000, "stock:phone_trade_in": 100}
    rules:   {"churn_risk_high": "churn_risk >= 0.5"}
    levers:  {"fibre_upgrade_1000": 1.5}
    factors: {"propensity": false}        # switch priority factors off

:func:`compare` runs the baseline and each scenario on the same customers and returns
expected value, volumes per channel and per-limit use side by side.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from somebound.decisions.campaign import run_campaign
from somebound.decisions.catalogue import Catalogue, build_catalogue
from somebound.decisions.engine import Levers
from somebound.decisions.propensity import PropensityModel


def apply_scenario(catalogue: Catalogue, scenario: Mapping[str, Any]) -> tuple[Catalogue, Levers]:
    raw = copy.deepcopy(catalogue.raw)
    unknown = set(scenario) - {"limits", "rules", "levers", "factors", "name"}
    if unknown:
        raise ValueError(f"unknown scenario keys {sorted(unknown)}; use limits, rules, levers, factors")
    actions = {a["id"]: a for a in raw["actions"]}
    for name, limit in (scenario.get("limits") or {}).items():
        kind, _, what = name.partition(":")
        if kind == "capacity":
            raw.setdefault("channels", {}).setdefault(what, {})["capacity_per_day"] = limit
        elif name == "budget:total":
            raw["total_budget"] = limit
        elif kind in ("budget", "stock") and what in actions:
            lim = actions[what].get("limits") or {}
            lim[kind] = limit
            actions[what]["limits"] = lim
        else:
            raise ValueError(f"unknown limit {name!r}; use capacity:<channel>, budget:total, budget:<action>, stock:<action>")
    for name, expr in (scenario.get("rules") or {}).items():
        if name not in (raw.get("rules") or {}):
            raise ValueError(f"unknown rule {name!r}; only named catalogue rules can be changed")
        raw["rules"][name] = expr
    for aid, lever in (scenario.get("levers") or {}).items():
        if aid not in actions:
            raise ValueError(f"unknown action {aid!r} in levers")
        actions[aid]["lever"] = lever
    levers = Levers(**{k: bool(v) for k, v in (scenario.get("factors") or {}).items()})
    return build_catalogue(raw, f"<scenario {scenario.get('name', '')}>"), levers


def compare(
    catalogue: Catalogue,
    columns: Mapping[str, np.ndarray],
    customer_ids: np.ndarray,
    scenarios: Mapping[str, Mapping[str, Any]],
    *,
    model: PropensityModel | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Baseline and scenarios side by side on the same (sampled) customers."""
    n = len(customer_ids)
    if sample is not None and sample < n:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
        columns = {k: np.asarray(v)[rows] for k, v in columns.items()}
        customer_ids = np.asarray(customer_ids)[rows]
    out: dict[str, dict[str, Any]] = {}
    true_p: np.ndarray | None = None
    for name, scenario in {"baseline": {}, **scenarios}.items():
        cat, levers = apply_scenario(catalogue, scenario) if scenario else (catalogue, Levers())
        res = run_campaign(cat, columns, customer_ids, model=model, levers=levers, seed=seed)
        rep = res.report()
        # expected value always measured with the real propensities, whatever was ranked
        if true_p is None:
            true_p = res.propensity
        chosen = res.assign >= 0
        rows = np.nonzero(chosen)[0]
        acts = cat.actions
        R = res.resources
        true_val = np.array([acts[a].value for a in R.option_action])
        ev = float((true_p[rows, res.assign[rows]] * true_val[res.assign[rows]] - R.option_cost[res.assign[rows]]).sum())
        out[name] = {
            "expected_value": ev,
            "assigned": rep["assigned"],
            "volumes_per_channel": rep["volumes_per_channel"],
            "limits": {k: {"used": v["used"], "limit": v["limit"]} for k, v in rep["limits"].items()},
            "optimality_gap": rep["optimality_gap"],
        }
    return out


def format_comparison(result: Mapping[str, Mapping[str, Any]]) -> str:
    names = list(result)
    lines = [f"{'':28}" + "".join(f"{n:>18}" for n in names)]
    lines.append(f"{'expected value':28}" + "".join(f"{result[n]['expected_value']:>18.2f}" for n in names))
    lines.append(f"{'assigned':28}" + "".join(f"{result[n]['assigned']:>18}" for n in names))
    for ch in result[names[0]]["volumes_per_channel"]:
        lines.append(f"{'volume ' + ch:28}" + "".join(f"{result[n]['volumes_per_channel'][ch]:>18}" for n in names))
    for lim in result[names[0]]["limits"]:
        cells = []
        for n in names:
            v = result[n]["limits"].get(lim, {"used": 0.0, "limit": 0.0})
            cells.append(f"{v['used']:>9.0f}/{v['limit']:<8.0f}")
        lines.append(f"{lim[:28]:28}" + "".join(cells))
    return "\n".join(lines)
