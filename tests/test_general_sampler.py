"""The general-covariance sampler (THEORY §10): equality in law of its two routes and of an
independent numpy construction.

Three samplers of the per-trial statistics
``[w0.mu_t, v.mu_t, (w0'Ct_y w0, w0'Ct_y v, v'Ct_y v) per test covariance]``:

* the JAX direct route (rows ``v_i = mu + F_{a(i)} z_i``, solved in the smaller dimension),
* the JAX Wishart route (counts, then ``s_a s_a^T / m_a`` plus a Bartlett-factor Wishart),
  both forced for both ridge tasks with ``GeneralSpec(route=...)``,
* a plain numpy reference that does not share the package's tricks: Rademacher labels,
  ``X = mu y^T + noise`` with the noise of each point drawn by ``rng.multivariate_normal``
  (its own SVD factor), and dense ``p x p`` solves of THEORY_GENERAL §1.

Each pair is compared by two-sample z-tests on the means of every statistic (|z| < 4) and
two-sample KS tests on each statistic (p > 1e-3). The three settings cover every branch:
source and target with m <= p (push-through; singular Wishart, d < p) and m > p (p x p
solve; full-rank Wishart), shared and class-dependent covariances on both sides, dense,
diagonal and singular covariances, and tiny class counts (n = 3, N = 2: every trial has a
class with 0 or 1 members). 42 z-tests and 42 KS tests: the chance that a correct sampler
fails one is below 0.05 (Bonferroni); the seeds are fixed. Power (mutations tried while
writing this file, 6 000 trials): the Bartlett factor with ``m_a`` instead of ``m_a - 1``
degrees of freedom gives max |z| 21-37 per setting; dropping the mean part
``s_a s_a^T / m_a``, |z| 135-274; class -1 drawn with the class +1 covariance on the direct
route, |z| 41-81 in the two class-dependent settings.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from rmt_alpha import _general_direct as gd
from rmt_alpha._blas import one_blas_thread
from rmt_alpha._covariance import parse

KS_LEVEL = 1e-3
Z_MAX = 4.0
TRIALS = 20000


def _spd(rng, p, rank=None):
    A = rng.standard_normal((p, rank or p))
    C = A @ A.T / A.shape[1]
    return C / np.trace(C) * p


def _settings():
    rng = np.random.default_rng(20240611)
    p1, p2, p3 = 7, 6, 5
    out = {}
    # 1: shared dense covariances, Cs != Ct non-commuting; target n < p, source N > p.
    out["shared: n<p, N>p"] = dict(
        n=4, p=p1, N=16, gamma=0.7, gamma_src=0.3,
        source_mean=rng.standard_normal(p1) * 0.6, target_mean=rng.standard_normal(p1) * 0.5,
        source_cov=_spd(rng, p1), target_cov=_spd(rng, p1))
    # 2: class-dependent both sides (dense / diagonal mixed); target n > p, source N < p.
    out["class-dependent: n>p, N<p"] = dict(
        n=15, p=p2, N=4, gamma=0.4, gamma_src=1.5,
        source_mean=rng.standard_normal(p2) * 0.5, target_mean=rng.standard_normal(p2) * 0.5,
        source_cov=(rng.uniform(0.3, 2.0, p2), _spd(rng, p2)),
        target_cov=(_spd(rng, p2), rng.uniform(0.2, 3.0, p2)))
    # 3: tiny counts (classes with 0 or 1 members), singular PSD covariances.
    out["class-dependent: n=3, N=2, singular"] = dict(
        n=3, p=p3, N=2, gamma=0.5, gamma_src=0.8,
        source_mean=rng.standard_normal(p3) * 0.7, target_mean=rng.standard_normal(p3) * 0.7,
        source_cov=(_spd(rng, p3, rank=2), np.r_[0.0, rng.uniform(0.5, 1.5, p3 - 1)]),
        target_cov=(_spd(rng, p3, rank=3), _spd(rng, p3)))
    return out


SETTINGS = _settings()


def _spec(task, route):
    return gd.GeneralSpec(
        n=task["n"], p=task["p"], source="ridge", N=task["N"], route=route,
        gamma=task["gamma"], gamma_src=task["gamma_src"],
        source_mean=jnp.asarray(task["source_mean"]), target_mean=jnp.asarray(task["target_mean"]),
        source_factors=_factors("source_cov", task), target_factors=_factors("target_cov", task))


def _factors(name, task):
    return tuple(jnp.asarray(F) for F in gd.factors(parse(name, task[name], task["p"])))


def jax_samples(task, route, trials, seed, dtype=jnp.float64, chunk=2000):
    """Trial ``i`` uses ``fold_in(key(seed), i)``; chunks of at most 2000 trials (XLA:CPU
    was seen to stall on one vmapped program of 12 000 trials with batched Cholesky)."""
    spec = _spec(task, route)
    f = jax.jit(jax.vmap(lambda k: gd.trial_stats(k, spec, dtype)))
    key = jax.random.key(seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(trials))
    with one_blas_thread():
        return np.concatenate([np.asarray(f(keys[i : i + chunk]), dtype=np.float64)
                               for i in range(0, trials, chunk)])


def _data(rng, T, m, mean, cov):
    """``(X, y)`` of ``T`` trials: Rademacher labels, ``x_i = y_i mean + u_i``,
    ``u_i ~ N(0, C_{y_i})`` (rows of ``X``, shape (T, m, p)); the noise of each class by
    numpy's ``multivariate_normal`` (its own SVD factor, not the package's eigen factor)."""
    y = rng.choice([-1.0, 1.0], (T, m))
    pair = cov if isinstance(cov, tuple) else (cov, cov)
    Up, Um = (rng.multivariate_normal(np.zeros(len(mean)), np.diag(c) if np.ndim(c) == 1 else c,
                                      size=(T, m), method="svd") for c in pair)
    return y[..., None] * mean + np.where(y[..., None] > 0, Up, Um), y


def _ridge(X, y, rhs_extra, g):
    """``(X^T X / m + g I)^{-1} [X^T y / m, rhs_extra]`` by dense p x p solves."""
    T, m, p = X.shape
    A = np.swapaxes(X, 1, 2) @ X / m + g * np.eye(p)
    b = [np.einsum("tmp,tm->tp", X, y) / m] + ([rhs_extra] if rhs_extra is not None else [])
    return np.linalg.solve(A, np.stack(b, axis=2))


def numpy_samples(task, trials, seed):
    """THEORY_GENERAL §1 written plainly: explicit labels, p x p solves."""
    rng = np.random.default_rng(seed)
    mu_t = task["target_mean"]
    Xs, ys = _data(rng, trials, task["N"], task["source_mean"], task["source_cov"])
    w_src = _ridge(Xs, ys, None, task["gamma_src"])[:, :, 0]
    X, y = _data(rng, trials, task["n"], mu_t, task["target_cov"])
    sol = _ridge(X, y, task["gamma"] * w_src, task["gamma"])
    w0, v = sol[:, :, 0], sol[:, :, 1]
    cov = task["target_cov"]
    classes = cov if isinstance(cov, tuple) else (cov,)
    out = [w0 @ mu_t, v @ mu_t]
    for C in classes:
        C = np.diag(C) if np.ndim(C) == 1 else C
        out += [np.einsum("ti,ij,tj->t", a, C, b) for a, b in ((w0, w0), (w0, v), (v, v))]
    return np.stack(out, axis=1)


@functools.lru_cache(maxsize=None)
def _samples(name, which):
    task = SETTINGS[name]
    if which == "numpy":
        return numpy_samples(task, TRIALS, seed=1)
    return jax_samples(task, which, TRIALS, seed={"direct": 2, "wishart": 3}[which])


def _compare(a, b, label):
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    z = (a.mean(axis=0) - b.mean(axis=0)) / se
    ks = [stats.ks_2samp(a[:, j], b[:, j]).pvalue for j in range(a.shape[1])]
    print(f"\n{label}: max|z| = {np.max(np.abs(z)):.2f}, min KS p = {min(ks):.3g}")
    assert np.all(np.abs(z) < Z_MAX), (label, z)
    assert min(ks) > KS_LEVEL, (label, ks)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_wishart_route_equals_direct_route_in_law(name):
    _compare(_samples(name, "wishart"), _samples(name, "direct"), f"{name}: wishart vs direct")


@pytest.mark.parametrize("name", list(SETTINGS))
def test_direct_route_equals_plain_numpy_model_in_law(name):
    _compare(_samples(name, "direct"), _samples(name, "numpy"), f"{name}: direct vs numpy")


def test_auto_route_is_wishart_exactly_when_m_exceeds_p():
    spec = _spec(SETTINGS["shared: n<p, N>p"], "auto")  # p = 7
    assert [gd._wishart(spec, m) for m in (1, 7, 8)] == [False, False, True]
    assert gd._wishart(spec._replace(route="wishart"), 1)
    assert not gd._wishart(spec._replace(route="direct"), 100)


def test_factor_reproduces_singular_and_diagonal_covariances():
    rng = np.random.default_rng(3)
    C = _spd(rng, 6, rank=2)
    (F,) = gd.factors(parse("C", C, 6))
    np.testing.assert_allclose(F @ F.T, C, atol=1e-12)
    d = rng.uniform(0, 2, 6)
    (f,) = gd.factors(parse("d", d, 6))
    assert f.ndim == 1  # a diagonal stays a vector
    np.testing.assert_allclose(f**2, d, rtol=1e-15)
    assert len(gd.factors(parse("pair", (C, d), 6))) == 2


def test_bartlett_factor_has_the_wishart_law():
    """``L L^T`` against directly summed outer products, full rank (dof 9 > p = 4) and
    singular (dof 2 < p): mean of every entry (z) and KS on the trace and one entry."""
    p, trials = 4, 8000
    rng = np.random.default_rng(4)
    f = jax.jit(jax.vmap(lambda k, dof: gd._bartlett(k, dof, p, jnp.float64), in_axes=(0, None)))
    for dof in (9, 2):
        L = np.asarray(f(jax.random.split(jax.random.key(dof), trials), jnp.float64(dof)))
        W = np.einsum("tij,tkj->tik", L, L).reshape(trials, -1)
        G = rng.standard_normal((trials, p, dof))
        ref = np.einsum("tij,tkj->tik", G, G).reshape(trials, -1)
        se = np.sqrt(W.var(0, ddof=1) / trials + ref.var(0, ddof=1) / trials)
        z = (W.mean(0) - ref.mean(0)) / se
        assert np.all(np.abs(z) < Z_MAX), (dof, z)
        for j in (0, 1, p * p - 1):
            assert stats.ks_2samp(W[:, j], ref[:, j]).pvalue > KS_LEVEL, (dof, j)
        if dof < p:  # rank dof
            assert np.all(np.abs(L[:, :, dof:]) == 0)
