"""Monte Carlo of multi-output ridge transfer (THEORY §5) against the closed forms.

The risk ``R(alpha)`` is a high-dimensional limit: at finite size the Monte Carlo mean
differs from it by O(1/p) (relative), so the comparison allows 4 standard errors plus
``C_RISK / p`` of the risk (measured relative gaps: ``|gap| * p / R`` below 0.25 for the
settings here). The optimal alpha, on the other hand, is exact at every n and p (E[Q^2]
is proportional to the identity, THEORY §5): it is compared with no allowance.
"""

import numpy as np
import pytest

import rmt_alpha as ra

C_RISK = 1.0


def _pair(d, p, beta, seed):
    """W_s with i.i.d. N(0, 1) entries and W_t = beta W_s + B, <B, W_s>_F = 0 (THEORY §8.8)."""
    rng = np.random.default_rng(seed)
    Ws = rng.standard_normal((d, p))
    B = rng.standard_normal((d, p))
    B -= (np.sum(B * Ws) / np.sum(Ws * Ws)) * Ws
    return Ws, beta * Ws + B


@pytest.mark.parametrize(
    "n, p, d, sigma, gamma, beta",
    [(40, 80, 6, 0.5, 0.01, -2.0), (40, 80, 6, 0.5, 0.01, 0.5), (120, 60, 4, 1.0, 1.0, 2.0)],
)
def test_risk_matches_theory(n, p, d, sigma, gamma, beta):
    Ws, Wt = _pair(d, p, beta, seed=int(10 * abs(beta)) + p)
    kw = dict(W_source=Ws, W_target=Wt, sigma=sigma, gamma=gamma)
    alpha = np.linspace(-4, 4, 9)
    res = ra.simulate_regression(alpha, n, p, **kw, trials=1500, seed=1)
    th = ra.regression_risk(alpha, n, p, **kw)
    z = (res.risk - th) / res.risk_stderr
    print(f"\n[n={n} p={p} beta={beta}] risk max|z| = {np.max(np.abs(z)):.2f}, "
          f"max |gap| p / R = {np.max(np.abs(res.risk - th) * p / th):.2f}")
    assert np.all(np.abs(res.risk - th) <= 4 * res.risk_stderr + C_RISK / p * th)
    star = ra.regression_optimal_alpha(Ws, Wt)
    z_star = (res.optimal_alpha - star) / res.optimal_alpha_stderr
    print(f"  alpha* {res.optimal_alpha:.4f} +- {res.optimal_alpha_stderr:.4f} (exact {star:.4f}, z = {z_star:.2f})")
    assert abs(z_star) < 4


def test_rowwise_risk_and_optimal_alphas():
    n, p, d = 30, 60, 5
    rng = np.random.default_rng(3)
    Ws = rng.standard_normal((d, p))
    Wt = np.array([-1.5, -0.3, 0.4, 1.0, 2.5])[:, None] * Ws + 0.7 * rng.standard_normal((d, p))
    kw = dict(W_source=Ws, W_target=Wt, sigma=0.3, gamma=0.1)
    star = ra.regression_optimal_alpha(Ws, Wt, rowwise=True)
    alpha = np.stack([np.zeros(d), np.ones(d), star, star + 0.5, -star])
    res = ra.simulate_regression(alpha, n, p, **kw, rowwise=True, trials=1500, seed=2)
    assert res.alpha.shape == (5, d) and res.risk.shape == (5,) and res.rowwise
    th = ra.regression_risk(alpha, n, p, **kw, rowwise=True)
    assert np.all(np.abs(res.risk - th) <= 4 * res.risk_stderr + C_RISK / p * th)
    z = (res.optimal_alpha - star) / res.optimal_alpha_stderr
    print(f"\nrow-wise alpha* z-scores: {np.round(z, 2)}")
    assert res.optimal_alpha.shape == (d,)
    assert np.all(np.abs(z) < 4)
    # the row-wise optimum beats one shared alpha and plain fine-tuning in the simulation too
    assert res.risk[2] < res.risk[1] and res.risk[2] < res.risk[0]
    # a single row: (d,) alpha is accepted and gives one risk
    one = ra.simulate_regression(star, n, p, **kw, rowwise=True, trials=50, seed=2)
    assert one.risk.shape == (1,)


def test_regression_mechanics(tmp_path):
    Ws, Wt = _pair(3, 20, 0.5, seed=0)
    kw = dict(W_source=Ws, W_target=Wt, sigma=0.5, gamma=0.1, trials=23, seed=4)
    alpha = np.linspace(-1, 2, 4)
    a = ra.simulate_regression(alpha, 10, 20, **kw)
    b = ra.simulate_regression(alpha, 10, 20, **kw, chunk_size=4)
    np.testing.assert_allclose(a.risk, b.risk, rtol=1e-12)
    np.testing.assert_allclose(a.risk_stderr, b.risk_stderr, rtol=1e-12)
    c = ra.simulate_regression(alpha, 10, 20, **kw)
    assert np.array_equal(a.risk, c.risk)
    f32 = ra.simulate_regression(alpha, 10, 20, **kw, dtype=np.float32)
    np.testing.assert_allclose(f32.risk, a.risk, rtol=1e-4)
    csv, side = a.to_csv(tmp_path / "risk.csv")
    data = np.genfromtxt(csv, delimiter=",", names=True)
    np.testing.assert_array_equal(data["risk"], a.risk)
    assert a.params["d"] == 3 and a.params["sigma"] == 0.5


@pytest.mark.parametrize(
    "change, exc",
    [
        (dict(W_target=np.ones((3, 21))), ValueError),
        (dict(W_source=np.ones(20)), ValueError),
        (dict(sigma=-1.0), ValueError),
        (dict(gamma=0.0), ValueError),
        (dict(trials=0), ValueError),
        (dict(rowwise=True), ValueError),  # alpha of length 4, d = 3
        (dict(rowwise="yes"), TypeError),
        (dict(seed="x"), TypeError),
    ],
)
def test_regression_bad_input(change, exc):
    Ws, Wt = _pair(3, 20, 0.5, seed=0)
    kw = dict(W_source=Ws, W_target=Wt, sigma=0.5, gamma=0.1, trials=5)
    kw.update(change)
    with pytest.raises(exc):
        ra.simulate_regression(np.linspace(-1, 2, 4), 10, 20, **kw)


def test_regression_p_must_match():
    Ws, Wt = _pair(3, 20, 0.5, seed=0)
    with pytest.raises(ValueError):
        ra.simulate_regression([0.0], 10, 21, W_source=Ws, W_target=Wt, sigma=0.5, gamma=0.1,
                               trials=5)
