"""Issue 9, class 1: ill-conditioned solves.

Cases found: ``fine_tune`` with fewer target points than features (``n < p``) divided by
``gamma`` after a push-through solve, ``(V - X^T (X X^T + n gamma I)^{-1} X V) / gamma``:
at ``gamma = 1e-13`` ``w0`` was 8 % off, at ``1e-15`` a factor 7 (p = 200, n = 50), and
at ``gamma = 1e-300`` nothing was left; ``n >= p`` formed ``X^T X / n + gamma I`` and lost
``v = gamma Q w~`` to rounding at small ``gamma``; a rank-deficient ``X`` had no limit.
Every other solve was checked: the samplers (direct: Cholesky of ``X X^T + n gamma I`` or
``X^T X + n gamma I``, no division by ``gamma``; reduced: cancellation-free ``L D L^T``
pivots) keep their accuracy, tested below against a minimum-norm reference on the same
draws; ``estimate_task`` solves nothing (its whitening clips eigenvalues).

References are independent: ``mpmath`` at 40 digits for the literal push-through formula,
and ``numpy.linalg.pinv``/``lstsq`` for the ``gamma -> 0`` limit (the minimum-norm
interpolator and the projection on the null space of ``X``).
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import rmt_alpha as ra


def _task_data(n, p, N=80, seed=0):
    rng = np.random.default_rng(seed)
    mu = np.zeros(p)
    mu[0] = 1.5
    mb = np.zeros(p)
    mb[:2] = 0.9, 0.6
    ys = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    yt = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return (ys[:, None] * mu + rng.standard_normal((N, p)), ys,
            yt[:, None] * mb + rng.standard_normal((n, p)), yt)


def _mp_target(X, y, w, gamma, dps=40):
    """``w0 = X^T (X X^T + n g I)^{-1} y`` and ``v = w - X^T (X X^T + n g I)^{-1} X w`` (n < p)
    or ``w0 = (X^T X + n g I)^{-1} X^T y``, ``v = n g (X^T X + n g I)^{-1} w`` (n >= p), in mpmath."""
    with mp.workdps(dps):
        n, p = X.shape
        Xm = mp.matrix(X.tolist())
        lam = n * mp.mpf(gamma)
        if n < p:
            K = Xm * Xm.T + lam * mp.eye(n)
            w0 = Xm.T * mp.lu_solve(K, mp.matrix(y.tolist()))
            wm = mp.matrix(w.tolist())
            v = wm - Xm.T * mp.lu_solve(K, Xm * wm)
        else:
            H = Xm.T * Xm + lam * mp.eye(p)
            w0 = mp.lu_solve(H, Xm.T * mp.matrix(y.tolist()))
            v = lam * mp.lu_solve(H, mp.matrix(w.tolist()))
        return (np.array([float(x) for x in w0]), np.array([float(x) for x in v]))


def _rel(a, b):
    """Largest entry error relative to the largest entry (no squares: safe near 1e-308)."""
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("gamma", [1e-3, 1e-10, 1e-13, 1e-15])
def test_fine_tune_n_below_p_matches_mpmath(gamma):
    # the case: p = 200, n = 50 (smaller here, same aspect ratio)
    Xs, ys, Xt, yt = _task_data(n=20, p=80)
    ft = ra.fine_tune(Xs, ys, Xt, yt, [0.0, 1.0], gamma=gamma, gamma_src=1.0)
    w0, v = _mp_target(Xt, yt, ft.source_weight, gamma)
    assert _rel(ft.w0, w0) < 1e-12
    assert _rel(ft.v, v) < 1e-12
    assert _rel(ft.weights[1], w0 + v) < 1e-12


@pytest.mark.parametrize("gamma", [1e-2, 1e-8, 1e-13, 1e-15])
def test_fine_tune_n_above_p_matches_mpmath(gamma):
    # v = n gamma (X^T X + n gamma I)^{-1} w~ is O(gamma): it must be right relative to itself
    Xs, ys, Xt, yt = _task_data(n=60, p=15)
    ft = ra.fine_tune(Xs, ys, Xt, yt, 1.0, gamma=gamma, gamma_src=1.0)
    w0, v = _mp_target(Xt, yt, ft.source_weight, gamma)
    assert _rel(ft.w0, w0) < 1e-12
    assert _rel(ft.v, v) < 1e-12


@pytest.mark.parametrize("n,p", [(20, 80), (60, 15)])
@pytest.mark.parametrize("gamma", [1e-30, 1e-300, 5e-324])
def test_fine_tune_gamma_to_zero_is_the_minimum_norm_limit(n, p, gamma):
    Xs, ys, Xt, yt = _task_data(n=n, p=p)
    ft = ra.fine_tune(Xs, ys, Xt, yt, [0.0, 1.0], gamma=gamma, gamma_src=gamma)
    pinv_s, pinv_t = np.linalg.pinv(Xs), np.linalg.pinv(Xt)
    w_src = pinv_s @ ys  # minimum-norm least squares of the source
    assert _rel(ft.source_weight, w_src) < 1e-10
    assert _rel(ft.w0, pinv_t @ yt) < 1e-10
    null = ft.source_weight - pinv_t @ (Xt @ ft.source_weight)  # projection on null(X)
    if n < p:
        assert _rel(ft.v, null) < 1e-10
    else:  # full column rank: v = n gamma (X^T X)^{-1} w~ -> 0 like gamma (or underflows)
        assert np.linalg.norm(ft.v) <= 10 * n * gamma * np.linalg.norm(
            np.linalg.solve(Xt.T @ Xt, ft.source_weight)) + 1e-300


def test_fine_tune_rank_deficient_target_has_the_pinv_limit():
    Xs, ys, Xt, yt = _task_data(n=20, p=30)
    Xt = np.vstack([Xt, Xt[:5]])  # repeated rows: X X^T is singular
    yt = np.concatenate([yt, yt[:5]])
    Xt[:, 3] = 0.0  # and a constant feature
    for gamma in (1e-14, 1e-200):
        ft = ra.fine_tune(Xs, ys, Xt, yt, 1.0, gamma=gamma, gamma_src=1.0)
        assert _rel(ft.w0, np.linalg.lstsq(Xt, yt, rcond=None)[0]) < 1e-9
        null = ft.source_weight - np.linalg.pinv(Xt) @ (Xt @ ft.source_weight)
        assert _rel(ft.v, null) < 1e-9
    ft = ra.fine_tune(Xs, ys, Xt, yt, 1.0, gamma=1e-3, gamma_src=1.0)
    # exact at moderate gamma too (normal equations, well conditioned here)
    H = Xt.T @ Xt / Xt.shape[0] + 1e-3 * np.eye(Xt.shape[1])
    assert _rel(ft.w0, np.linalg.solve(H, Xt.T @ yt / Xt.shape[0])) < 1e-10
    assert _rel(ft.v, 1e-3 * np.linalg.solve(H, ft.source_weight)) < 1e-10


@pytest.mark.parametrize("gamma", [1e10, 1e300, 1.7e308])
def test_fine_tune_huge_gamma(gamma):
    # Q X^T y / n -> X^T y / (n gamma) and gamma Q w -> w, to relative order ||X||^2/(n gamma)
    Xs, ys, Xt, yt = _task_data(n=20, p=30)
    ft = ra.fine_tune(Xs, ys, Xt, yt, 1.0, gamma=gamma, gamma_src=gamma)
    n, N = Xt.shape[0], Xs.shape[0]
    want_src = (Xs.T @ ys / N) / gamma
    tol = 1e-14 + 1e3 / gamma
    assert _rel(ft.source_weight, want_src) < tol
    assert _rel(ft.w0, (Xt.T @ yt / n) / gamma) < tol
    assert _rel(ft.v, ft.source_weight) < tol


def test_held_out_accuracy_does_not_depend_on_tiny_gamma():
    # the symptom: held-out accuracy fell from 0.85 to 0.71 between gamma = 1e-10
    # and 1e-15; the weights (hence every accuracy) now converge to the gamma -> 0 limit
    Xs, ys, Xt, yt = _task_data(n=50, p=200, N=400, seed=3)
    Xtest, ytest = _task_data(n=2000, p=200, N=2, seed=4)[2:]
    acc = [ra.fine_tune(Xs, ys, Xt, yt, 0.0, gamma=g, gamma_src=1.0).accuracy(Xtest, ytest)
           for g in (1e-10, 1e-13, 1e-15, 1e-300)]
    assert max(acc) - min(acc) <= 1 / 2000


def test_direct_sampler_solves_are_exact_at_small_gamma():
    """The simulator's push-through solves (Cholesky of X X^T + n gamma I, no division by
    gamma) against the minimum-norm reference on the same draws."""
    import jax

    from rmt_alpha._direct import _data, _fixed_source, trial_weights
    from rmt_alpha._simspec import SimSpec

    dtype = jax.numpy.float64
    for n, p in ((12, 40), (40, 12)):
        for gamma in (1e-6, 1e-12):
            spec = SimSpec(n=n, p=p, gamma=gamma, source="fixed", target_norm2=1.0,
                           alignment=0.5, source_norm2=2.0)
            key = jax.random.key(7)
            w0, v, _ = (np.asarray(x) for x in trial_weights(key, spec, dtype))
            w_src, mu_beta = _fixed_source(spec, dtype)
            ((X, y),) = _data(key, [n], p, [mu_beta], dtype)
            X, y, w_src = np.asarray(X), np.asarray(y), np.asarray(w_src)
            ref_w0, ref_v = _mp_target(X, y, w_src, gamma, dps=30)
            assert _rel(w0, ref_w0) < 1e-9
            assert _rel(v, ref_v) < 1e-9
