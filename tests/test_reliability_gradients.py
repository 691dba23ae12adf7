"""Issue 9, class 4: gradients at removable singularities and branch switches.

Cases found: ``jax.grad(optimal_alpha)`` in ``beta`` at ``beta = 0`` returned 0 (the
finite difference is 3.03) because ``where(s == 0, 0, ...)`` killed the derivative of a
function that is smooth (linear) there; likewise in ``alignment`` and in the ``source``
vector at an orthogonal source. Every other ``where`` was checked exactly at its switch:
the branches of ``blocks.delta``/``blocks.kappa`` (``b = 0``, ``c = 0``), the scaling of
``alpha kappa`` at ``|alpha kappa| = 1``, the Gram determinant at a parallel source
(``s^2 = M r``), ``chance_alpha`` (a pole at ``s = 0``: not smooth, nan is right), and
``regression_optimal_alpha``'s zero-row guard (its other rows keep their derivatives).

References: mpmath's numerical derivative (``mp.diff``) of the literal 50-digit formulas of
tests/test_blocks_mpmath.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from test_blocks_mpmath import X, ref_blocks, ref_delta, ref_fixed, ref_ridge

import rmt_alpha as ra
from rmt_alpha import blocks

RIDGE = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
FIXED = dict(gamma=0.1, target_norm2=1.0, alignment=0.5, source_norm2=1.0)
N_, P_ = 100, 400


def _m(x):
    """Exact mpf of a float; an mpf (a point of mp.diff's stencil) unchanged."""
    return x if isinstance(x, mp.mpf) else X(x)


def _ridge_ref(kw, n=N_, p=P_):
    return ref_ridge(n, p, kw["N"], *(_m(kw[k]) for k in ("mu", "mu_orth", "beta", "gamma",
                                                          "gamma_src")))


def _fixed_ref(kw, n=N_, p=P_):
    return ref_fixed(mp.mpf(p) / n, *(_m(kw[k]) for k in ("gamma", "target_norm2", "alignment",
                                                          "source_norm2")))


def _grad(f, x):
    return float(jax.jit(jax.grad(f))(jnp.asarray(x, dtype=jnp.float64)))


def _mp_diff(f, x):
    with mp.workdps(50):
        return float(mp.diff(f, X(x)))


# ---------------------------------------------------------------- optimal_alpha at s = 0


@pytest.mark.parametrize("beta", [0.0, 1e-12, -1.0, 1.0, 0.3])
def test_optimal_alpha_derivative_in_beta(beta):
    kw = dict(RIDGE, beta=beta)
    got = _grad(lambda b: ra.optimal_alpha(N_, P_, **dict(kw, beta=b)), beta)
    want = _mp_diff(lambda b: _ridge_ref(dict(kw, beta=b))["alpha_star"], beta)
    assert got == pytest.approx(want, rel=1e-9)
    if beta == 0.0:
        assert want == pytest.approx(3.03, abs=0.01)  # the finite difference


@pytest.mark.parametrize("name", ["alignment", "target_norm2", "source_norm2", "gamma"])
def test_optimal_alpha_derivatives_at_an_orthogonal_fixed_source(name):
    kw = dict(FIXED, alignment=0.0)
    x0 = kw[name]
    got = _grad(lambda x: ra.optimal_alpha(40, 400, **dict(kw, **{name: x})), x0)
    want = _mp_diff(lambda x: _fixed_ref(dict(kw, **{name: x}), 40, 400)["alpha_star"], x0)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    if name == "alignment":
        assert abs(want) > 0.5  # a real slope, which where(s == 0, 0, ...) set to 0


def test_optimal_alpha_gradient_in_the_source_vector_at_orthogonality():
    p = 6
    w = np.array([0.0, 1.0, 0.5, 0.0, -0.3, 0.2])
    mub = np.array([1.2, 0.0, 0.0, 0.4, 0.0, 0.0])  # w . mub = 0
    g = jax.grad(lambda w_: ra.optimal_alpha(30, p, gamma=0.2, source=w_, target_mean=mub))(
        jnp.asarray(w))
    # chain rule through (M, s, r): d alpha*/dw = d alpha*/ds mub + d alpha*/dr 2w
    M, r = float(mub @ mub), float(w @ w)
    kw = dict(gamma=0.2, target_norm2=M, alignment=0.0, source_norm2=r)
    ds = _mp_diff(lambda s: _fixed_ref(dict(kw, alignment=s), 30, p)["alpha_star"], 0.0)
    dr = _mp_diff(lambda rr: _fixed_ref(dict(kw, source_norm2=rr), 30, p)["alpha_star"], r)
    np.testing.assert_allclose(np.asarray(g), ds * mub + dr * 2 * w, rtol=1e-8, atol=1e-12)


# ---------------------------------------------------------------- branch switches


def test_delta_kappa_h_derivatives_exactly_at_the_branch_switch():
    # kappa switches at c = eta - 1 + gamma = 0, delta at b = eta - gamma - 1 = 0
    for eta, gamma in ((0.75, 0.25), (1.25, 0.25), (0.5, 0.5), (2.0, 1.0)):
        for fn, ref in ((blocks.kappa, lambda e, g: ref_blocks(e, g)[1]),
                        (blocks.delta, ref_delta),
                        (blocks.h_factor, lambda e, g: ref_blocks(e, g)[2])):
            dg = _grad(lambda g: fn(eta, g), gamma)
            de = _grad(lambda e: fn(e, gamma), eta)
            assert dg == pytest.approx(_mp_diff(lambda g: ref(X(eta), g), gamma), rel=1e-10)
            assert de == pytest.approx(_mp_diff(lambda e: ref(e, X(gamma)), eta), rel=1e-10)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_accuracy_derivative_where_alpha_kappa_is_one(sign):
    # test_accuracy scales by tau = max(1, |alpha kappa|): its derivative at |t| = 1
    k = float(blocks.kappa(P_ / N_, RIDGE["gamma"]))
    alpha = sign / k
    assert abs(alpha * k) == 1.0
    ref = _ridge_ref(RIDGE)
    for f, key in ((ra.test_accuracy, "acc"), (ra.test_error, "err")):
        got = _grad(lambda a: f(a, N_, P_, **RIDGE), alpha)
        want = _mp_diff(lambda a: _at(ref, a)[key], alpha)
        assert got == pytest.approx(want, rel=1e-9)


def _at(ref, a):
    from test_blocks_mpmath import ref_at_alpha

    return ref_at_alpha(ref, a)


def test_accuracy_derivative_at_a_parallel_source():
    # s^2 = M r: the Gram determinant G = M r - s^2 is 0 (the edge of the accepted set);
    # the formulas extend smoothly, so the one-sided derivative is the smooth one
    kw = dict(gamma=0.3, target_norm2=4.0, alignment=2.0, source_norm2=1.0)
    for name in ("alignment", "target_norm2", "source_norm2"):
        got = _grad(lambda x: ra.test_accuracy(1.5, 40, 100, **dict(kw, **{name: x})), kw[name])
        want = _mp_diff(lambda x: _at(_fixed_ref(dict(kw, **{name: x}), 40, 100), 1.5)["acc"],
                        kw[name])
        assert got == pytest.approx(want, rel=1e-8), name


@pytest.mark.parametrize("gamma", [1e-25, 1e-8, 1e8, 1e25])
def test_derivatives_at_extreme_gamma(gamma):
    kw = dict(RIDGE, gamma=gamma)
    ref = lambda g: _ridge_ref(dict(kw, gamma=g))  # noqa: E731
    a = 0.5 / float(blocks.kappa(P_ / N_, gamma))  # where alpha matters at this gamma
    got = _grad(lambda g: ra.test_accuracy(a, N_, P_, **dict(kw, gamma=g)), gamma)
    want = _mp_diff(lambda g: _at(ref(g), a)["acc"], gamma)
    assert got == pytest.approx(want, rel=1e-8)
    got = _grad(lambda g: ra.optimal_alpha(N_, P_, **dict(kw, gamma=g)), gamma)
    want = _mp_diff(lambda g: ref(g)["alpha_star"], gamma)
    assert got == pytest.approx(want, rel=1e-8)


def test_chance_alpha_pole_gives_nan_and_smooth_elsewhere():
    f = lambda s: ra.chance_alpha(40, 400, **dict(FIXED, alignment=s))  # noqa: E731
    assert np.isnan(float(f(jnp.asarray(0.0))))
    for s in (1e-8, -0.3, 0.9):
        want = _mp_diff(lambda x: _fixed_ref(dict(FIXED, alignment=x), 40, 400)["alpha_bar"], s)
        assert _grad(f, s) == pytest.approx(want, rel=1e-9)


def test_regression_optimal_alpha_zero_row_keeps_the_other_rows_derivatives():
    Ws = np.array([[1.0, 2.0, -1.0], [0.0, 0.0, 0.0], [0.5, -0.5, 2.0]])
    Wt = np.array([[0.3, 1.0, 0.2], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    J = jax.jacobian(lambda A: ra.regression_optimal_alpha(A, Wt, rowwise=True))(jnp.asarray(Ws))
    J = np.asarray(J)
    assert np.all(np.isfinite(J))
    for j in (0, 2):  # d/dWs[j] of <Wt_j, Ws_j>/||Ws_j||^2 = Wt_j/ss - 2 ts Ws_j/ss^2
        ts, ss = Wt[j] @ Ws[j], Ws[j] @ Ws[j]
        np.testing.assert_allclose(J[j, j], Wt[j] / ss - 2 * ts * Ws[j] / ss**2, rtol=1e-12)
    g = jax.grad(lambda A: ra.regression_optimal_alpha(A, Wt))(jnp.asarray(Ws))
    ts, ss = float(np.sum(Wt * Ws)), float(np.sum(Ws * Ws))
    np.testing.assert_allclose(np.asarray(g), Wt / ss - 2 * ts * Ws / ss**2, rtol=1e-12)
