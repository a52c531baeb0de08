from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from somebound.decisions import ope
from somebound.decisions.propensity import BinnedNaiveBayes, FeatureBinner, SklearnPropensity


def _data(n, rng):
    cols = {"risk": rng.random(n), "segment": rng.choice(np.array(["gold", "bronze"], dtype=object), n)}
    # option 0 is liked by high-risk customers, option 1 by gold customers
    p0 = np.where(cols["risk"] > 0.5, 0.30, 0.03)
    p1 = np.where(cols["segment"] == "gold", 0.25, 0.02)
    return cols, np.column_stack([p0, p1])


def test_naive_bayes_learns_from_outcomes_online_and_in_batch():
    rng = np.random.default_rng(0)
    cols, truth = _data(6000, rng)
    binner = FeatureBinner.fit(cols, n_bins=4)
    bins = binner.transform(cols, 6000)
    opts = rng.integers(0, 2, 6000)
    y = rng.random(6000) < truth[np.arange(6000), opts]
    online = BinnedNaiveBayes(binner, 2, maturity=50)
    for b, o, a in zip(bins, opts, y, strict=True):
        online.update(b, int(o), bool(a))
    batch = BinnedNaiveBayes(binner, 2, maturity=50).fit(bins, opts, y)
    np.testing.assert_allclose(online.llr, batch.llr)
    test, t_truth = _data(2000, np.random.default_rng(1))
    p = batch.score_batch(binner.transform(test, 2000), np.arange(2))
    # ranks options like the truth does for most customers where the truth differs clearly
    clear = np.abs(t_truth[:, 0] - t_truth[:, 1]) > 0.1
    agree = (np.argmax(p, axis=1) == np.argmax(t_truth, axis=1))[clear].mean()
    assert agree > 0.9
    # explanation: the risk feature pushes option 0 up for a high-risk customer
    one = binner.transform_one({"risk": 0.9, "segment": "bronze"})
    s = batch.score(one, np.array([0]))
    assert s.contributions[0, 0] > 0.5


def test_maturity_ramp_keeps_new_options_near_the_prior():
    binner = FeatureBinner({"x": (0.5,)}, {})
    m = BinnedNaiveBayes(binner, 1, prior=0.05, maturity=1000)
    b = binner.transform_one({"x": 0.9})
    for _ in range(10):
        m.update(b, 0, True)
    young = m.score(b, np.array([0])).mean[0]
    m2 = BinnedNaiveBayes(binner, 1, prior=0.05, maturity=10)
    for _ in range(10):
        m2.update(b, 0, True)
    mature = m2.score(b, np.array([0])).mean[0]
    assert young < mature


def test_thompson_sampling_explores_uncertain_options_more():
    binner = FeatureBinner({}, {"c": ("a",)})
    m = BinnedNaiveBayes(binner, 2, prior=0.1, prior_strength=2)
    b = binner.transform_one({"c": "a"})
    for _ in range(2000):
        m.update(b, 0, False)
    for _ in range(200):
        m.update(b, 0, True)
    rng = np.random.default_rng(0)
    draws = np.array([m.score(b, np.arange(2), rng).p for _ in range(300)])
    assert draws[:, 1].std() > 3 * draws[:, 0].std()


def test_sklearn_estimator_plugs_in():
    rng = np.random.default_rng(2)
    cols, truth = _data(4000, rng)
    binner = FeatureBinner.fit(cols, n_bins=4)
    bins = binner.transform(cols, 4000)
    opts = rng.integers(0, 2, 4000)
    y = rng.random(4000) < truth[np.arange(4000), opts]
    m = SklearnPropensity(binner, 2, lambda: LogisticRegression(max_iter=200)).fit(bins, opts, y)
    p = m.score_batch(binner.transform({"risk": np.array([0.9, 0.1]), "segment": np.array(["bronze", "gold"], dtype=object)}, 2), np.arange(2))
    assert p[0, 0] > p[0, 1] and p[1, 1] > p[1, 0]


def _logs(n, seed):
    """Contextual bandit logs from a known stochastic logging policy."""
    rng = np.random.default_rng(seed)
    k = 4
    x = rng.random(n)
    true_r = np.column_stack([0.1 + 0.5 * x, 0.4 - 0.2 * x, np.full(n, 0.25), 0.6 * (x > 0.7)])
    logging = np.full((n, k), 0.25)
    a = rng.integers(0, k, n)
    r = (rng.random(n) < true_r[np.arange(n), a]).astype(float)
    target = np.zeros((n, k))
    target[np.arange(n), np.where(x > 0.5, 0, 1)] = 1.0
    value = float((target * true_r).sum(axis=1).mean())
    return x, a, r, logging, target, true_r, value


@pytest.mark.parametrize("estimator", ["ips", "snips", "dr"])
def test_ope_estimators_recover_a_known_policy_value(estimator):
    x, a, r, logging, target, true_r, value = _logs(40_000, 3)
    n = len(a)
    lp = logging[np.arange(n), a]
    tp = target[np.arange(n), a]
    if estimator == "ips":
        est = ope.ips(r, lp, tp)
    elif estimator == "snips":
        est = ope.snips(r, lp, tp)
    else:
        # a deliberately poor reward model: DR must still be unbiased
        q = np.full_like(true_r, 0.3)
        est = ope.doubly_robust(r, lp, a, target, q)
    lo, hi = est.interval(3.0)
    assert lo <= value <= hi
    assert abs(est.value - value) < 0.02
    # the logging policy's own value is different, so this is not a tautology
    assert abs(float(true_r.mean()) - value) > 0.03


def test_dr_with_good_reward_model_has_lower_variance_than_ips():
    x, a, r, logging, target, true_r, value = _logs(20_000, 4)
    n = len(a)
    lp = logging[np.arange(n), a]
    e_ips = ope.ips(r, lp, target[np.arange(n), a])
    e_dr = ope.doubly_robust(r, lp, a, target, true_r)
    assert e_dr.stderr < e_ips.stderr


def test_ope_rejects_zero_logged_probabilities():
    with pytest.raises(ValueError, match="in \\(0, 1\\]"):
        ope.ips(np.ones(3), np.array([0.5, 0.0, 1.0]), np.ones(3))
