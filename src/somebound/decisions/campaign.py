"""Batch campaigns: a customer table in, an optimal within-limits assignment out.

Builds the dense ``(N, options)`` value matrix from the catalogue (rules as vectorised
masks, contact-policy consent/opt-out/sticky-social columns, validity), the propensity
model and the levers, then calls :func:`somebound.decisions.optimizer.solve_batch`.
Mandatory actions are assigned first (they must go out) and use their resources
before the optimiser shares out what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from somebound.decisions.catalogue import TREATMENT_CHANNELS, Catalogue
from somebound.decisions.engine import Levers, _default_binner
from somebound.decisions.optimizer import BatchProblem, BatchSolution, solve_batch
from somebound.decisions.propensity import BinnedNaiveBayes, PropensityModel
from somebound.decisions.resources import ResourceModel, build_resources
from somebound.decisions.rules import CompiledRules


@dataclass
class CampaignResult:
    customer_ids: np.ndarray
    assign: np.ndarray  # (N,) option index or -1; (N, k) when k > 1
    mandatory: np.ndarray  # (N,) option index of a mandatory action or -1
    solution: BatchSolution
    resources: ResourceModel
    propensity: np.ndarray  # (N, J)
    expected_value: np.ndarray  # (N, J)

    def rows(self, campaign_id: str = "campaign") -> list[dict]:
        """One row per customer that gets something: the outbound cases to open."""
        R = self.resources
        out = []
        price_of = self.solution.prices
        assign = self.assign.reshape(len(self.assign), -1)  # (N, k)
        for i in np.nonzero((assign >= 0).any(axis=1) | (self.mandatory >= 0))[0]:
            for j, kind in ((self.mandatory[i], "mandatory"), *((a, "optimised") for a in assign[i])):
                if j < 0:
                    continue
                use = R.base[j] + R.accept[j] * self.propensity[i, j]
                out.append(
                    {
                        "campaign_id": campaign_id,
                        "customer_id": self.customer_ids[i].item() if hasattr(self.customer_ids[i], "item") else self.customer_ids[i],
                        "action": R.action_ids[R.option_action[j]],
                        "channel": TREATMENT_CHANNELS[R.option_channel[j]],
                        "kind": kind,
                        "propensity": float(self.propensity[i, j]),
                        "expected_value": float(self.expected_value[i, j]),
                        "cost": float(R.option_cost[j]),
                        "price_adjustment": float(use @ price_of),
                    }
                )
        return out

    def report(self) -> dict:
        R = self.resources
        rep = self.solution.report()
        chosen = self.assign[self.assign >= 0]
        rep["volumes_per_channel"] = {
            ch: int((R.option_channel[chosen] == c).sum()) for c, ch in enumerate(TREATMENT_CHANNELS)
        }
        rep["volumes_per_action"] = {
            a: int((R.option_action[chosen] == ai).sum()) for ai, a in enumerate(R.action_ids)
        }
        rep["mandatory_sent"] = int((self.mandatory >= 0).sum())
        rep["shadow_prices"] = shadow_prices(self.solution)
        return rep


def shadow_prices(solution: BatchSolution) -> dict[str, str]:
    """Dual prices in words: what one more unit of each binding limit is worth."""
    out = {}
    for name, price in zip(solution.names, solution.prices, strict=True):
        if price <= 1e-9:
            continue
        kind, _, what = name.partition(":")
        unit = {"capacity": "slot", "budget": "euro", "stock": "unit"}.get(kind, "unit")
        label = {"capacity": f"{what} capacity", "budget": f"{what} budget", "stock": f"{what} stock"}.get(kind, name)
        out[name] = f"one more {unit} of {label} is worth {price:.2f} in expected value"
    return out


def build_problem(
    catalogue: Catalogue,
    columns: Mapping[str, np.ndarray],
    n: int,
    *,
    model: PropensityModel | None = None,
    levers: Levers = Levers(),
    context: Mapping[str, object] | None = None,
    today: date | None = None,
    days: float = 1.0,
    spent: dict[str, float] | None = None,
    channels: tuple[str, ...] | None = None,
) -> tuple[BatchProblem, ResourceModel, np.ndarray, np.ndarray]:
    """Value matrix and limits for a campaign; returns (problem, resources, allowed, p)."""
    R = build_resources(catalogue, days=days, spent=spent, use_lever=False)
    rules = CompiledRules.build(catalogue)
    cols = dict(columns)
    for k, v in (context or {}).items():
        cols.setdefault(k, np.full(n, v, dtype=object if isinstance(v, str) else None))
    mask, _ = rules.batch_masks(cols, n)  # (N, A)
    allowed = mask[:, R.option_action]
    today = today or date.today()
    valid = np.array([catalogue.actions[a].valid_on(today) for a in R.option_action])
    allowed &= valid[None, :]
    if channels is not None:
        allowed &= np.isin(R.option_channel, [TREATMENT_CHANNELS.index(c) for c in channels])[None, :]
    allowed &= batch_contact_policy(catalogue, R, cols, n)
    model = model or BinnedNaiveBayes(_default_binner(), R.n_options)
    bins = model.binner.transform(cols, n)
    options = np.arange(R.n_options)
    p = model.score_batch(bins, options) if levers.propensity else np.ones((n, R.n_options))
    acts = catalogue.actions
    val = np.array([acts[a].value for a in R.option_action]) if levers.value else np.ones(R.n_options)
    lev = np.array([acts[a].lever for a in R.option_action]) if levers.lever else np.ones(R.n_options)
    cost = R.option_cost if levers.subtract_cost else np.zeros(R.n_options)
    value = p * (val * lev)[None, :] - cost[None, :]
    value = np.where(allowed, value, -np.inf)
    problem = BatchProblem(value=value, base=R.base, limits=R.limits, accept=R.accept, propensity=p, names=R.names,
                           groups=R.option_action)
    return problem, R, allowed, p


def batch_contact_policy(catalogue: Catalogue, R: ResourceModel, cols: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Consent, opt-out and sticky-social as an (N, J) mask (history caps are applied
    upstream by excluding recently contacted customers from the table)."""
    pol = catalogue.contact_policy
    ok = np.ones((n, R.n_options), bool)
    kinds = np.array([catalogue.actions[a].type for a in R.option_action])
    if pol.opt_out_attribute in cols:
        out = _truthy(cols[pol.opt_out_attribute])
        ok &= ~(out[:, None] & (kinds == "normal")[None, :])
    for c, ch in enumerate(TREATMENT_CHANNELS):
        key = pol.consent_attribute.format(channel=ch)
        if key in cols:
            arr = np.asarray(cols[key], dtype=object)
            no = np.array([v is False or v == 0 or v == "false" for v in arr])
            ok &= ~(no[:, None] & ((R.option_channel == c) & (kinds != "mandatory"))[None, :])
    if pol.sticky_social and "preferred_channel" in cols:
        pref = np.asarray(cols["preferred_channel"], dtype=object)
        social_pref = np.isin(pref.astype(str), ["social", "social_dm", "facebook", "x"])
        social_opt = np.isin(R.option_channel, [TREATMENT_CHANNELS.index("social_dm"), TREATMENT_CHANNELS.index("agent")])
        ok &= ~(social_pref[:, None] & (~social_opt & (kinds != "mandatory"))[None, :])
    return ok


def _truthy(col: np.ndarray) -> np.ndarray:
    arr = np.asarray(col)
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "iuf":
        return np.nan_to_num(arr.astype(float)) != 0
    return np.array([bool(v) and v not in ("false", "0", "no") for v in arr])


def run_campaign(
    catalogue: Catalogue,
    columns: Mapping[str, np.ndarray],
    customer_ids: np.ndarray,
    *,
    model: PropensityModel | None = None,
    levers: Levers = Levers(),
    context: Mapping[str, object] | None = None,
    days: float = 1.0,
    spent: dict[str, float] | None = None,
    channels: tuple[str, ...] | None = ("email", "sms", "call", "social_dm"),
    today: date | None = None,
    seed: int = 0,
    k: int = 1,
    progress: Callable[[str], None] | None = None,
) -> CampaignResult:
    """The campaign: mandatory notices first, then up to ``k`` optimised actions per
    customer (k = 1: a customer with a mandatory notice gets nothing else; k > 1: the
    notice does not take one of the k slots)."""
    n = len(customer_ids)
    ctx = {"bound": "outbound", **(context or {})}
    problem, R, allowed, p = build_problem(
        catalogue, columns, n, model=model, levers=levers, context=ctx, today=today, days=days, spent=spent, channels=channels
    )
    # mandatory actions first: cheapest allowed channel, while resources last
    mand_opts = np.array([catalogue.actions[a].type == "mandatory" for a in R.option_action])
    mandatory = np.full(n, -1)
    limits = R.limits.copy()
    if mand_opts.any():
        cost_order = np.argsort(np.where(mand_opts, R.option_cost, np.inf), kind="stable")
        for j in cost_order[: int(mand_opts.sum())]:
            rows = np.nonzero(allowed[:, j] & (mandatory < 0))[0]
            need = R.base[j] + R.accept[j] * 0
            if need.any():
                room = np.min(np.where(need > 0, limits / np.where(need > 0, need, 1), np.inf))
                rows = rows[: int(max(0, np.floor(room)))]
            mandatory[rows] = j
            limits = limits - need * len(rows)
        value = problem.value.copy()
        value[:, mand_opts] = -np.inf
        if k == 1:
            value[mandatory >= 0, :] = -np.inf  # the mandatory message is their contact
        problem = BatchProblem(value, problem.base, np.maximum(limits, 0), problem.accept, problem.propensity,
                               problem.names, problem.groups)
    sol = solve_batch(problem, k=k, seed=seed, progress=progress)
    ev = np.where(np.isfinite(problem.value), problem.value, 0.0)
    sol.limits = R.limits
    sol.usage = sol.usage + (R.limits - np.maximum(limits, 0))
    return CampaignResult(np.asarray(customer_ids), sol.assign, mandatory, sol, R, p, ev)
