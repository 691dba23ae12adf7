"""Regression extension (THEORY.md §5): risk against Monte Carlo, optimal alpha by brute force.

MC: every trial draws fresh ``X`` (p x n) and noise ``E`` (d x n), sets ``Y = W_t X + sigma E``
and ``W_alpha = Y X^T Q / n + alpha gamma W_s Q`` with ``Q = (X X^T / n + gamma I)^{-1}``.
For a trained ``W`` the test risk over fresh ``(x, eps)`` is exactly
``||W - W_t||_F^2 + sigma^2 d``, so no test set is needed.

Finite-size allowance: the theory is the p -> infinity limit at fixed p/n; the gap is O(1/p)
(THEORY §6-§7). Measured for the second setting below (eta = 1/2; an example of such a gap: as gamma -> 0
the noise term involves E tr (X X^T/n)^-1 / n = p/(n - p - 1), whose limit is p/(n - p)):
p * (relative gap) = 0.0-0.25 at
p = 100 (3000 trials) and 0.0-0.6 +- 0.2 at p = 200 (1000 trials). We allow
``C_REL * R / p`` with ``C_REL = 3`` (5x the measured constant) on top of 4 standard errors;
at p = 100 that is 3 %, far below what a wrong kappa, a missing 1/h or a dropped noise term
produces.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import rmt_alpha as ra

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    def threadpool_limits(limits=None):
        return contextlib.nullcontext()

C_REL = 3.0
Z = 4.0


def _weights(d, p, seed, beta=0.5):
    rng = np.random.default_rng(seed)
    Ws = rng.standard_normal((d, p)) / np.sqrt(p)
    B = rng.standard_normal((d, p)) / np.sqrt(p)
    B -= (B * Ws).sum() / (Ws * Ws).sum() * Ws  # Frobenius-orthogonal to W_s
    return Ws, beta * Ws + B


def simulate_regression(n, p, Ws, Wt, sigma, gamma, alphas, trials, seed):
    """Per-trial exact risk ``||W_alpha - W_t||^2 + sigma^2 d`` for each alpha."""
    rng = np.random.default_rng(seed)
    d = Ws.shape[0]
    out = np.empty((trials, alphas.size))
    with threadpool_limits(1):
        for t in range(trials):
            X = rng.standard_normal((p, n))
            Y = Wt @ X + sigma * rng.standard_normal((d, n))
            Q = np.linalg.inv(X @ X.T / n + gamma * np.eye(p))
            W0, V = Y @ X.T @ Q / n, gamma * Ws @ Q
            D = W0 - Wt
            # ||D + alpha V||^2 for all alphas at once
            dd, dv, vv = (D * D).sum(), (D * V).sum(), (V * V).sum()
            out[t] = dd + 2 * alphas * dv + alphas**2 * vv + sigma**2 * d
    return out


@pytest.mark.parametrize("n,p,d,sigma,gamma,beta,seed", [
    (50, 100, 6, 0.5, 0.1, 0.5, 1),    # eta = 2
    (200, 100, 6, 1.0, 0.5, -2.0, 2),  # eta = 1/2, anti-aligned source
    (40, 80, 4, 0.3, 1.0, 2.0, 3),     # eta = 2, strong source
], ids=["eta=2", "eta=0.5,beta<0", "eta=2,beta=2"])
def test_regression_risk_against_monte_carlo(n, p, d, sigma, gamma, beta, seed):
    Ws, Wt = _weights(d, p, seed, beta)
    a_star = ra.regression_optimal_alpha(Ws, Wt)
    alphas = np.array([-2.0, 0.0, 1.0, a_star, 3.0])
    sim = simulate_regression(n, p, Ws, Wt, sigma, gamma, alphas, 300, seed)
    theory = ra.regression_risk(alphas, n, p, W_source=Ws, W_target=Wt, sigma=sigma, gamma=gamma)
    mc, se = sim.mean(0), sim.std(0, ddof=1) / np.sqrt(sim.shape[0])
    z = (mc - theory) / se
    print(f"\nregression n={n} p={p} d={d}: z = {np.array2string(z, precision=2)}")
    bad = np.abs(mc - theory) > Z * se + C_REL * theory / p
    assert not bad.any(), f"MC {mc} vs theory {theory}, se {se}, z {z}"
    # alpha* is exact at finite n, p (E[Q^2] is proportional to I): the MC average risk is
    # a quadratic in alpha whose minimiser is -E<D,V> / E||V||^2; check it within its error
    # (delta method for a ratio of means).
    a_mc, se_a = _mc_argmin(sim, alphas)
    assert abs(a_mc - a_star) <= Z * se_a, (a_mc, a_star, se_a)


def _mc_argmin(sim, alphas):
    """Minimiser of the per-trial quadratics' mean, with a delta-method standard error."""
    # fit per-trial R_t(alpha) = c0 + c1 alpha + c2 alpha^2 exactly from the alpha values
    V = np.vander(alphas, 3, increasing=True)
    coef = np.linalg.lstsq(V, sim.T, rcond=None)[0]  # (3, trials)
    c1, c2 = coef[1], coef[2]
    a = -c1.mean() / (2 * c2.mean())
    infl = -(c1 - c1.mean()) / (2 * c2.mean()) + c1.mean() * (c2 - c2.mean()) / (2 * c2.mean() ** 2)
    return a, infl.std(ddof=1) / np.sqrt(sim.shape[0])


def test_regression_risk_formula_literal():
    """R(alpha) = (kappa^2 ||W_t - alpha W_s||^2 + sigma^2 d (1 + kappa)^2) / ((1 + kappa)^2 - eta)
    with kappa from the quadratic of THEORY §2 (independent scalar evaluation)."""
    Ws, Wt = _weights(3, 30, 5)
    for n, p, gamma in [(10, 30, 0.01), (30, 30, 1e-8), (300, 30, 2.0)]:
        eta = p / n
        b = eta - gamma - 1
        D = np.sqrt(b**2 + 4 * eta * gamma)
        delta = (b + D) / (2 * gamma) if b >= 0 else 2 * eta / (D - b)
        k = gamma * (1 + delta)
        for alpha in (-1.0, 0.3, 2.0):
            want = (k**2 * ((Wt - alpha * Ws) ** 2).sum() + 0.25 * 3 * (1 + k) ** 2) / (
                (1 + k) ** 2 - eta)
            got = ra.regression_risk(alpha, n, p, W_source=Ws, W_target=Wt, sigma=0.5,
                                     gamma=gamma)
            assert got == pytest.approx(want, rel=1e-7 if n == p else 1e-12)


def test_regression_optimal_alpha_is_brute_force_argmin():
    Ws, Wt = _weights(5, 40, 7, beta=-1.3)
    kw = dict(W_source=Ws, W_target=Wt, sigma=0.5, gamma=0.05)
    a_star = ra.regression_optimal_alpha(Ws, Wt)
    assert a_star == pytest.approx(-1.3, rel=1e-12)  # W_t = beta W_s + B, B orthogonal
    for n in (20, 40, 400):  # independent of n (and p, gamma, sigma)
        res = minimize_scalar(lambda a: float(ra.regression_risk(a, n, 40, **kw)),
                              bracket=(-5, 5), tol=1e-12)
        assert res.x == pytest.approx(a_star, rel=1e-6)


def test_regression_optimal_alpha_rowwise_brute_force():
    rng = np.random.default_rng(9)
    d, p = 6, 25
    Ws = rng.standard_normal((d, p))
    Wt = rng.standard_normal((d, 1)) * Ws + 0.5 * rng.standard_normal((d, p))
    Ws[4] = 0.0  # a zero source row: alpha_4 has no effect, 0 is returned
    kw = dict(W_source=Ws, W_target=Wt, sigma=0.3, gamma=0.2)
    a_row = ra.regression_optimal_alpha(Ws, Wt, rowwise=True)
    assert a_row.shape == (d,) and a_row[4] == 0.0
    grid = np.linspace(-4, 4, 8001)
    base = np.zeros(d)
    for j in range(d):
        # vary alpha_j alone (the risk splits row by row), brute force then polish
        A = np.tile(base, (grid.size, 1))
        A[:, j] = grid
        risk = ra.regression_risk(A, 30, p, rowwise=True, **kw)
        assert risk.shape == grid.shape
        if j == 4:
            np.testing.assert_allclose(risk, risk[0], rtol=1e-14)
            continue
        i = int(np.argmin(risk))
        assert 0 < i < grid.size - 1
        e = np.eye(d)[j]
        res = minimize_scalar(lambda a: float(ra.regression_risk(a * e, 30, p, rowwise=True, **kw)),
                              bounds=(grid[i - 1], grid[i + 1]), method="bounded",
                              options=dict(xatol=1e-12))
        assert a_row[j] == pytest.approx(res.x, rel=1e-6, abs=1e-9)
    # at the row-wise optimum the risk is no larger than at the scalar optimum, and it is a
    # joint minimum (perturbing any row increases the risk)
    r_row = ra.regression_risk(a_row, 30, p, rowwise=True, **kw)
    r_scalar = ra.regression_risk(ra.regression_optimal_alpha(Ws, Wt), 30, p, **kw)
    assert r_row <= r_scalar
    pert = a_row + 0.01 * rng.standard_normal((20, d))
    assert np.all(ra.regression_risk(pert, 30, p, rowwise=True, **kw) >= r_row)
    # the row-wise risk with all alpha_j equal is the scalar risk
    np.testing.assert_allclose(ra.regression_risk(np.full(d, 0.7), 30, p, rowwise=True, **kw),
                               ra.regression_risk(0.7, 30, p, **kw), rtol=1e-13)


def test_regression_jax_grad_vanishes_at_optimum():
    import jax
    import jax.numpy as jnp

    Ws, Wt = _weights(4, 20, 13, beta=0.8)
    a_star = ra.regression_optimal_alpha(Ws, Wt)
    f = jax.jit(jax.grad(lambda a: ra.regression_risk(
        a, 10, 20, W_source=jnp.asarray(Ws), W_target=jnp.asarray(Wt), sigma=0.5, gamma=0.1)))
    g0, g1 = float(f(jnp.asarray(a_star))), float(f(jnp.asarray(a_star + 1.0)))
    assert g1 > 0 and abs(g0) < 1e-10 * g1
    want = ra.regression_risk(np.array([0.0, 1.0]), 10, 20, W_source=Ws, W_target=Wt,
                              sigma=0.5, gamma=0.1)
    got = jax.jit(lambda a: ra.regression_risk(a, 10, 20, W_source=jnp.asarray(Ws),
                                               W_target=jnp.asarray(Wt), sigma=0.5,
                                               gamma=0.1))(jnp.asarray([0.0, 1.0]))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
