"""Closed forms for general noise covariances (THEORY §9): the general keyword sets.

Independent references: the isotropic theory (C = I and C = sigma^2 I reduce to it exactly,
THEORY §9.6), a plain dense evaluation of the definitions of THEORY §9.2-§9.4 written here
(fixed-point iteration for delta, explicit Qbar and X_A, the (1 - 2 m) form of V0), a 40-digit
mpmath fixed point, numerical argmaxima (grid plus scipy's bounded search), and a plain numpy
Monte Carlo of the model with its standard errors.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zlib

import mpmath as mp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import ndtr

import rmt_alpha as ra
from rmt_alpha import _general
from rmt_alpha._blas import one_blas_thread
from rmt_alpha._general import score_coefficients

FUNCS = ("test_accuracy", "test_error", "test_risk")


def _unit_profiles(p):
    """Two orthonormal smooth profiles e1, e2 (the means lie along both high- and low-variance
    coordinates of a power-law diagonal)."""
    ph = np.linspace(0.0, 3.0 * np.pi, p)
    e1 = np.cos(ph) + 0.3
    e1 /= np.linalg.norm(e1)
    e2 = np.sin(2.0 * ph)
    e2 -= (e2 @ e1) * e1
    return e1, e2 / np.linalg.norm(e2)


def _power_law(p):
    lam = (np.arange(1, p + 1) / p + 0.1) ** -1.0
    return lam / lam.mean()


def _rotation(p, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))
    return Q * np.sign(np.diag(R))


def _random_cov(rng, p, rank=None):
    A = rng.standard_normal((p, rank or p)) / np.sqrt(p)
    return A @ A.T + 0.1 * np.eye(p)


def _all_outputs(n, p, kw, alpha):
    m, E2 = ra.score_moments(alpha, n, p, **kw)
    return dict(accuracy=ra.test_accuracy(alpha, n, p, **kw),
                error=ra.test_error(alpha, n, p, **kw),
                risk=ra.test_risk(alpha, n, p, **kw), mean=m, E2=E2,
                optimal=ra.optimal_alpha(n, p, **kw), chance=ra.chance_alpha(n, p, **kw))


def _assert_same(got, want, rtol):
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=0, err_msg=key)


# ----------------------------------------------------------------------------------------
# C = I and C = sigma^2 I reduce to the isotropic theory (THEORY §9.6)


def _iso_points(k, seed):
    rng = np.random.default_rng(seed)
    for _ in range(k):
        yield dict(n=int(rng.integers(2, 400)), p=int(rng.integers(2, 200)),
                   N=int(rng.integers(2, 2000)), mu=rng.uniform(0.1, 3), mu_orth=rng.uniform(0, 3),
                   beta=rng.uniform(-1, 1), gamma=10 ** rng.uniform(-3, 2),
                   gamma_src=10 ** rng.uniform(-3, 2), sigma=10 ** rng.uniform(-1, 1),
                   alpha=rng.uniform(-5, 5, 3))


@pytest.mark.parametrize("cov", ["diagonal", "dense", "pair"])
def test_identity_covariances_reduce_to_isotropic_ridge(cov):
    for pt in _iso_points(12, seed={"diagonal": 1, "dense": 2, "pair": 3}[cov]):
        n, p, a = pt["n"], pt["p"], pt["alpha"]
        iso = dict(N=pt["N"], mu=pt["mu"], mu_orth=pt["mu_orth"], beta=pt["beta"],
                   gamma=pt["gamma"], gamma_src=pt["gamma_src"])
        e1, e2 = np.eye(p)[0], np.eye(p)[1]
        b = pt["beta"]
        eye = {"diagonal": np.ones(p), "dense": np.eye(p), "pair": (np.ones(p), np.eye(p))}[cov]
        gen = dict(N=pt["N"], gamma=pt["gamma"], gamma_src=pt["gamma_src"],
                   source_mean=pt["mu"] * e1,
                   target_mean=b * pt["mu"] * e1 + np.sqrt(1 - b * b) * pt["mu_orth"] * e2,
                   source_cov=eye, target_cov=eye)
        _assert_same(_all_outputs(n, p, gen, a), _all_outputs(n, p, iso, a), rtol=1e-10)


def test_identity_covariance_reduces_to_source_vectors():
    rng = np.random.default_rng(4)
    for pt in _iso_points(12, seed=5):
        n, p, a = pt["n"], pt["p"], pt["alpha"]
        w = rng.standard_normal(p) / np.sqrt(p)
        mub = rng.uniform(-1, 1) * w + rng.standard_normal(p) / np.sqrt(p)
        iso = dict(gamma=pt["gamma"], source=w, target_mean=mub)
        for eye in (np.ones(p), np.eye(p), (np.eye(p), np.ones(p))):
            _assert_same(_all_outputs(n, p, dict(iso, target_cov=eye), a),
                         _all_outputs(n, p, iso, a), rtol=1e-10)


def test_scaled_identity_is_the_isotropic_theory_rescaled():
    """(C, mu, gamma, w~) -> (s^2 C, s mu, s^2 gamma, w~/s) leaves the score unchanged: C = s^2 I
    is the isotropic theory with mu/s, gamma/s^2 (THEORY §9.6)."""
    rng = np.random.default_rng(6)
    for pt in _iso_points(10, seed=7):
        n, p, a, s = pt["n"], pt["p"], pt["alpha"], pt["sigma"]
        e1, e2 = np.eye(p)[0], np.eye(p)[1]
        b = pt["beta"]
        iso = dict(N=pt["N"], mu=pt["mu"], mu_orth=pt["mu_orth"], beta=b, gamma=pt["gamma"],
                   gamma_src=pt["gamma_src"])
        gen = dict(N=pt["N"], gamma=s * s * pt["gamma"], gamma_src=s * s * pt["gamma_src"],
                   source_mean=s * pt["mu"] * e1,
                   target_mean=s * (b * pt["mu"] * e1 + np.sqrt(1 - b * b) * pt["mu_orth"] * e2),
                   source_cov=s * s * np.ones(p), target_cov=s * s * np.eye(p))
        want, got = _all_outputs(n, p, iso, a), _all_outputs(n, p, gen, a)
        for key in ("accuracy", "error", "optimal", "chance"):
            np.testing.assert_allclose(got[key], want[key], rtol=1e-10, err_msg=key)
        np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-10)
        w = rng.standard_normal(p) / np.sqrt(p)
        mub = 0.5 * w + rng.standard_normal(p) / np.sqrt(p)
        iso = dict(gamma=pt["gamma"], source=w, target_mean=mub)
        gen = dict(gamma=s * s * pt["gamma"], source=w / s, target_mean=s * mub,
                   target_cov=s * s * np.ones(p))
        want, got = _all_outputs(n, p, iso, a), _all_outputs(n, p, gen, a)
        for key in ("accuracy", "error", "optimal", "chance", "mean", "E2"):
            np.testing.assert_allclose(got[key], want[key], rtol=1e-10, err_msg=key)


# ----------------------------------------------------------------------------------------
# Representations: a diagonal as a matrix, rotated problems, pairs of equal covariances


P = 40
E1, E2 = _unit_profiles(P)
LT, LS = _power_law(P), np.random.default_rng(8).uniform(0.2, 3.0, P)
R = _rotation(P, 9)
SPIKE = np.eye(P) + 4.0 * np.outer(E1 + E2, E1 + E2) / 2.0
BASE = dict(N=70, gamma=0.3, gamma_src=0.8, source_mean=1.4 * E1, target_mean=0.6 * E1 + 1.1 * E2)
W_FIXED = 0.7 * E1 - 0.4 * E2 + 0.05 * np.cos(np.arange(P))


def _rot(C, Rm=R):
    return tuple(_rot(c, Rm) for c in C) if isinstance(C, tuple) else (
        (Rm * C) @ Rm.T if np.ndim(C) == 1 else Rm @ C @ Rm.T)


def _coeffs(n, kw):
    return np.concatenate([np.ravel(x) for x in score_coefficients(n, P, **kw)])


@pytest.mark.parametrize("Cs,Ct", [
    (LS, LT),                      # commuting diagonals
    ((LS, LT), (LT, 1.0 + LS)),    # class-dependent, commuting
    (LT, (LS, LT)),
], ids=["diag", "class-diag", "mixed"])
def test_dense_and_rotated_equal_diagonal(Cs, Ct):
    n = 30
    diag = _coeffs(n, dict(BASE, source_cov=Cs, target_cov=Ct))
    eye = np.eye(P)
    as_matrix = _coeffs(n, dict(BASE, source_cov=_rot(Cs, eye), target_cov=_rot(Ct, eye)))
    rotated = _coeffs(n, dict(BASE, source_mean=R @ BASE["source_mean"],
                              target_mean=R @ BASE["target_mean"], source_cov=_rot(Cs),
                              target_cov=_rot(Ct)))
    np.testing.assert_allclose(as_matrix, diag, rtol=1e-12)
    np.testing.assert_allclose(rotated, diag, rtol=1e-10)
    fixed = dict(gamma=0.3, source=W_FIXED, target_mean=BASE["target_mean"])
    np.testing.assert_allclose(
        _coeffs(n, dict(fixed, source=R @ W_FIXED, target_mean=R @ fixed["target_mean"],
                        target_cov=_rot(Ct))),
        _coeffs(n, dict(fixed, target_cov=Ct)), rtol=1e-10)


def test_non_commuting_problems_are_rotation_invariant():
    """Dense class-dependent covariances (no common frame): rotating everything changes nothing."""
    R2 = _rotation(P, 10)
    Ct, Cs = (_rot(LT), SPIKE), (LS, _rot(LT))
    kw = dict(BASE, source_cov=Cs, target_cov=Ct)
    rot = dict(BASE, source_mean=R2 @ BASE["source_mean"], target_mean=R2 @ BASE["target_mean"],
               source_cov=_rot(Cs, R2), target_cov=_rot(Ct, R2))
    np.testing.assert_allclose(_coeffs(25, rot), _coeffs(25, kw), rtol=1e-10)


@pytest.mark.parametrize("C", [LT, _rot(LT), SPIKE], ids=["diag", "rotated", "spiked"])
def test_equal_class_covariances_equal_the_shared_result(C):
    """A pair (C, C) goes through the two-class fixed point and (I - WG)^{-1}; it must equal
    the one-covariance scalar equation."""
    alpha = np.linspace(-3, 3, 7)
    for n in (20, 80):
        shared = dict(BASE, source_cov=LS, target_cov=C)
        pair = dict(BASE, source_cov=(LS, LS.copy()), target_cov=(C, C.copy()))
        _assert_same(_all_outputs(n, P, pair, alpha), _all_outputs(n, P, shared, alpha), 1e-11)
        m_plus = ra.score_moments(alpha, n, P, **pair)
        m_minus = ra.score_moments(alpha, n, P, test_class=-1, **pair)
        np.testing.assert_allclose(m_minus, m_plus, rtol=1e-11)


def test_broadcasting_over_scalar_parameters():
    kw = dict(BASE, source_cov=(LS, LT), target_cov=_rot(LT))
    gam = np.array([[0.01], [1.0]])
    n = np.array([20, 50, 90])
    alpha = 0.7
    got = ra.test_accuracy(alpha, n, P, **dict(kw, gamma=gam))
    assert got.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        assert got[i, j] == ra.test_accuracy(alpha, int(n[j]), P, **dict(kw, gamma=gam[i, 0]))
    c = score_coefficients(n, P, **dict(kw, gamma=gam))
    assert c.m0.shape == (2, 3) and c.V01.shape == (2, 3, 2)


# ----------------------------------------------------------------------------------------
# An independent dense evaluation of the definitions (THEORY §9.2-§9.4)


def _ref_task(covs, m, g, mu):
    """delta by plain fixed-point iteration; Q_c, Qbar, G explicitly (dense)."""
    K, p = len(covs), mu.size
    pis = [1.0 / K] * K
    d = np.ones(K)
    for _ in range(100_000):
        Qc = np.linalg.inv(sum(pi / (1 + di) * C for pi, di, C in zip(pis, d, covs))
                           + g * np.eye(p))
        new = np.array([np.trace(C @ Qc) / m for C in covs])
        done = np.max(np.abs(new - d)) <= 1e-15 * np.max(new)
        d = new
        if done:
            break
    Qc = np.linalg.inv(sum(pi / (1 + di) * C for pi, di, C in zip(pis, d, covs)) + g * np.eye(p))
    theta = sum(pi / (1 + di) for pi, di in zip(pis, d))
    w = np.array([pi / (1 + di) ** 2 for pi, di in zip(pis, d)])
    Qbar = np.linalg.inv(np.linalg.inv(Qc) + theta * np.outer(mu, mu))
    G = np.array([[np.trace(Ca @ Qc @ Cb @ Qc) / m for Cb in covs] for Ca in covs])
    return dict(delta=d, Qc=Qc, theta=theta, w=w, Qbar=Qbar, G=G, covs=covs, mu=mu, m=m, K=K)


def _ref_X(B, A):
    """X_A ~ E[Q A Q], Z(A) and e(A) from their definitions."""
    Qc, W, K = B["Qc"], np.diag(B["w"]), B["K"]
    t = np.array([np.trace(C @ Qc @ A @ Qc) / B["m"] for C in B["covs"]])
    e = np.linalg.solve(np.eye(K) - W @ B["G"], W @ t)
    Z = B["w"] @ np.linalg.solve(np.eye(K) - B["G"] @ W, t)
    Qb, mu = B["Qbar"], B["mu"]
    X = Qb @ A @ Qb + sum(ec * Qb @ (C + np.outer(mu, mu)) @ Qb for ec, C in zip(e, B["covs"]))
    return X, Z, e


def _ref_coefficients(n, gamma, mu_t, Ct, w=None, N=None, gamma_src=None, mu_s=None, Cs=None):
    T = _ref_task(Ct, n, gamma, mu_t)
    th, Qb = T["theta"], T["Qbar"]
    m0 = th * mu_t @ Qb @ mu_t
    if w is None:  # ridge source: E[w~] and the source's l~, R~_a (THEORY §9.2, §9.4)
        S = _ref_task(Cs, N, gamma_src, mu_s)
        w = S["theta"] * S["Qbar"] @ mu_s
        Ws, K = np.diag(S["w"]), S["K"]
        ms = S["theta"] * mu_s @ S["Qbar"] @ mu_s
        qv = np.array([(S["Qbar"] @ mu_s) @ C @ (S["Qbar"] @ mu_s) + (mu_s @ S["Qbar"] @ mu_s) ** 2
                       for C in Cs])
        ell = Ws @ np.linalg.solve(np.eye(K) - S["G"] @ Ws,
                                   S["theta"] ** 2 * qv + (1 - 2 * ms) * S["G"] @ S["w"]) \
            + (1 - 2 * ms) * S["w"]
        Rs = [S["Qc"] @ C @ S["Qc"] / N for C in Cs]
    V = []
    for A in (Ct[0], Ct[-1]):
        X, Z, e = _ref_X(T, A)
        V0 = th ** 2 * mu_t @ X @ mu_t + (1 - 2 * m0) * Z
        V01 = gamma * (th * mu_t @ X @ w - Z * mu_t @ Qb @ w)
        V11 = gamma ** 2 * w @ X @ w
        if Cs is not None:
            Qc = T["Qc"]
            V11 += gamma ** 2 * sum(
                lv * (np.trace(Qc @ A @ Qc @ Ra)
                      + sum(ec * np.trace(Qc @ C @ Qc @ Ra) for ec, C in zip(e, Ct)))
                for lv, Ra in zip(ell, Rs))
        V.append((V0, V01, V11))
    return np.array([m0, gamma * mu_t @ Qb @ w] + [V[y][k] for k in range(3) for y in (0, 1)]), T


def _dense(C):
    return np.diag(C) if np.ndim(C) == 1 else C


@pytest.mark.parametrize("case", ["fixed shared", "fixed class", "ridge class non-commuting",
                                  "ridge shared non-commuting", "ridge diag/dense"])
def test_against_dense_definitions(case):
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    p, n, N, g, gs = 24, 16, 40, 0.3, 0.8
    mu_t, mu_s = (1.5 * rng.standard_normal(p) / np.sqrt(p) for _ in range(2))
    w = rng.standard_normal(p) / np.sqrt(p)
    C1, C2, C3 = _random_cov(rng, p), _random_cov(rng, p, rank=5), _random_cov(rng, p)
    D1 = rng.uniform(0.1, 3, p)
    Ct, Cs = {"fixed shared": (C1, None), "fixed class": ((C1, C2), None),
              "ridge class non-commuting": ((C1, C2), (C3, D1)),
              "ridge shared non-commuting": (C1, C2),
              "ridge diag/dense": (D1, (C2, C3))}[case]
    tup = lambda C: tuple(_dense(c) for c in C) if isinstance(C, tuple) else (_dense(C),)  # noqa
    if Cs is None:
        kw = dict(gamma=g, source=w, target_mean=mu_t, target_cov=Ct)
        want, T = _ref_coefficients(n, g, mu_t, tup(Ct), w=w)
    else:
        kw = dict(N=N, gamma=g, gamma_src=gs, source_mean=mu_s, target_mean=mu_t,
                  source_cov=Cs, target_cov=Ct)
        want, T = _ref_coefficients(n, g, mu_t, tup(Ct), N=N, gamma_src=gs, mu_s=mu_s, Cs=tup(Cs))
    got = np.concatenate([np.ravel(x) for x in score_coefficients(n, p, **kw)])
    np.testing.assert_allclose(got, [want[0], want[1]] + list(want[2:]), rtol=1e-11)
    # the blocks themselves (in the coordinate frame)
    B = _general.task_blocks(tup(Ct), n, g, mu_t)
    np.testing.assert_allclose(B.delta, T["delta"], rtol=1e-12)
    np.testing.assert_allclose(np.array(B.G), T["G"], rtol=1e-12)
    np.testing.assert_allclose(B.theta, T["theta"], rtol=1e-13)
    np.testing.assert_allclose(B.ubar, T["Qbar"] @ mu_t, rtol=1e-11, atol=1e-14)


def test_delta_against_mpmath_fixed_point():
    """Class-dependent delta (diagonal covariances) against a 40-digit fixed-point iteration,
    including small gamma with rank-deficient covariances and the eta > 1 side."""
    rng = np.random.default_rng(12)
    p = 12
    for m, g in ((5, 1.0), (30, 1e-6), (8, 1e-3)):
        C = (rng.uniform(0, 2, p) * (rng.uniform(size=p) > 0.3), rng.uniform(0.1, 4, p))
        got = _general.task_blocks(C, m, g, np.zeros(p)).delta
        with mp.workdps(40):
            d = [mp.mpf(1), mp.mpf(1)]
            for _ in range(200_000):
                q = [1 / (sum(mp.mpf(0.5) / (1 + di) * mp.mpf(float(Ca[k]))
                              for di, Ca in zip(d, C)) + mp.mpf(g)) for k in range(p)]
                new = [mp.fsum(mp.mpf(float(Ca[k])) * q[k] for k in range(p)) / m for Ca in C]
                if max(abs(a - b) for a, b in zip(new, d)) < mp.mpf(10) ** -35:
                    d = new
                    break
                d = new
        np.testing.assert_allclose(got, [float(x) for x in d], rtol=1e-13)
        # the one-covariance scalar equation too
        got1 = _general.task_blocks(C[:1], m, g, np.zeros(p)).delta[0]
        with mp.workdps(40):
            lam = [mp.mpf(float(x)) for x in C[0]]
            nu = mp.findroot(lambda x: 1 - g / x - mp.fsum(c / (c + x) for c in lam) / m,
                             (mp.mpf(g), mp.mpf(g) + mp.fsum(lam) / m), solver="anderson")
            ref = nu / g * mp.fsum(c / (c + nu) for c in lam) / m
        assert got1 == pytest.approx(float(ref), rel=1e-13)


# ----------------------------------------------------------------------------------------
# Optimal and chance-level alpha (THEORY §9.5)


def _numerical_argmax(n, p, kw, center, width):
    grid = center + width * np.linspace(-1, 1, 4001)
    err = ra.test_error(grid, n, p, **kw)
    i = int(np.argmin(err))
    assert 0 < i < grid.size - 1, "argmax at the edge of the search grid"
    res = minimize_scalar(lambda a: float(ra.test_error(a, n, p, **kw)),
                          bounds=(grid[i - 1], grid[i + 1]), method="bounded",
                          options=dict(xatol=1e-10 * (1 + abs(grid[i]))))
    return res.x, err.min()


OPT_CASES = [
    ("ridge diag", 30, dict(BASE, source_cov=LS, target_cov=LT)),
    ("ridge dense non-commuting", 60, dict(BASE, source_cov=SPIKE, target_cov=_rot(LT))),
    ("ridge class-dependent", 30, dict(BASE, source_cov=(LS, LT), target_cov=(LT, SPIKE))),
    ("ridge class-dependent eta<1", 90, dict(BASE, gamma=0.05, source_cov=LS,
                                             target_cov=(_rot(LT), 1.0 + LS))),
    ("fixed class-dependent", 25, dict(gamma=0.5, source=W_FIXED, target_mean=BASE["target_mean"],
                                       target_cov=(LS, 0.2 * LT))),
    ("fixed dense", 25, dict(gamma=2.0, source=-W_FIXED, target_mean=BASE["target_mean"],
                             target_cov=SPIKE)),
]


@pytest.mark.parametrize("name,n,kw", OPT_CASES, ids=[c[0] for c in OPT_CASES])
def test_optimal_alpha_is_the_numerical_argmax(name, n, kw):
    a_star = ra.optimal_alpha(n, P, **kw)
    assert np.isfinite(a_star)
    x, err_min = _numerical_argmax(n, P, kw, a_star, 4 * (1 + abs(a_star)))
    assert a_star == pytest.approx(x, rel=1e-5, abs=1e-7)
    assert ra.test_error(a_star, n, P, **kw) <= err_min * (1 + 1e-12)
    # chance level: m = 0 there, accuracy 1/2, worse beyond
    a_bar = ra.chance_alpha(n, P, **kw)
    m, _ = ra.score_moments(a_bar, n, P, **kw)
    assert abs(m) < 1e-12
    assert ra.test_accuracy(a_bar, n, P, **kw) == pytest.approx(0.5, abs=1e-12)
    assert np.all(ra.test_accuracy(a_bar * np.array([1.5, 3.0]), n, P, **kw) < 0.5)


def test_optimal_alpha_at_random_general_tasks():
    """Random diagonal tasks (shared and class-dependent, both keyword sets, eta on both sides of
    1, small and large ridges): optimal_alpha is the numerical argmax of the accuracy (or +-inf
    with the accuracy increasing towards it)."""
    rng = np.random.default_rng(31)
    p, checked = 30, 0
    for i in range(16):
        n = int(rng.integers(8, 90))
        C = lambda: 10 ** rng.uniform(-1, 0.7, p)  # noqa: E731
        Ct = (C(), C()) if i % 2 else C()
        mu_t = rng.standard_normal(p) * 1.5 / np.sqrt(p)
        if i % 4 < 2:
            kw = dict(gamma=10 ** rng.uniform(-2, 1), source=rng.standard_normal(p) / np.sqrt(p),
                      target_mean=mu_t, target_cov=Ct)
        else:
            kw = dict(N=int(rng.integers(10, 300)), gamma=10 ** rng.uniform(-2, 1),
                      gamma_src=10 ** rng.uniform(-2, 1),
                      source_mean=rng.uniform(-1, 1) * mu_t + rng.standard_normal(p) / np.sqrt(p),
                      target_mean=mu_t, source_cov=(C(), C()) if i % 3 else C(), target_cov=Ct)
        a_star = ra.optimal_alpha(n, p, **kw)
        if np.isinf(a_star):
            err = ra.test_error(np.sign(a_star) * np.logspace(-2, 8, 100), n, p, **kw)
            assert np.all(np.diff(err) < 0)
            continue
        x, err_min = _numerical_argmax(n, p, kw, a_star, 4 * (1 + abs(a_star)))
        assert a_star == pytest.approx(x, rel=1e-5, abs=1e-7), i
        assert ra.test_error(a_star, n, p, **kw) <= err_min * (1 + 1e-12)
        checked += 1
    assert checked >= 12


def test_optimal_alpha_plus_infinity():
    """m0 V11 < m1 V01 (a very good fixed source, a large target ridge): the accuracy increases
    without bound in alpha and optimal_alpha is +inf (THEORY §9.5)."""
    p, n, k = 100, 168, 28
    C = np.r_[np.full(k, 0.0425), np.full(p - k, 0.4228)]
    mu = np.r_[np.full(k, 0.173), np.full(p - k, 0.2915)] * 3 / np.sqrt(p)
    w = np.r_[np.full(k, 0.0549), np.full(p - k, 0.0582)] / np.sqrt(p)
    kw = dict(gamma=10.89, source=w, target_mean=mu, target_cov=C)
    c = score_coefficients(n, p, **kw)
    assert c.m0 * c.V11[0] - c.m1 * c.V01[0] < 0
    assert ra.optimal_alpha(n, p, **kw) == np.inf
    alpha = np.logspace(-2, 8, 200)
    err = ra.test_error(alpha, n, p, **kw)
    assert np.all(np.diff(err) < 0)
    assert err[-1] == pytest.approx(ndtr(-c.m1 / np.sqrt(c.V11[0])), rel=1e-6)
    # and with class-dependent covariances of the same kind the numerical search agrees
    kw2 = dict(kw, target_cov=(C, 1.1 * C))
    assert ra.optimal_alpha(n, p, **kw2) == np.inf
    assert np.all(np.diff(ra.test_error(alpha, n, p, **kw2)) < 0)


def test_orthogonal_source_changes_the_variance_only():
    """m1 = 0 (mu_t^T Q_c w~ = 0): alpha* = -V01/V11 != 0 and no chance level (THEORY §9.5)."""

    p, n, g = 6, 10, 0.5
    C = np.array([0.3, 2.0, 1.0, 0.5, 1.5, 0.8])
    mu = np.array([1.0, 0.8, 0.0, 0.0, 0.0, 0.0])
    # Q_c is diagonal with q_k ∝ 1/(C_k + nu): find nu independently (mpmath), then make
    # w~ orthogonal to Q_c mu using two coordinates of mu
    nu = float(mp.findroot(lambda x: 1 - g / x - mp.fsum(mp.mpf(c) / (c + x) for c in C) / n,
                           (mp.mpf(g), mp.mpf(g) + mp.mpf(C.sum()) / n), solver="anderson"))
    q = 1.0 / (C + nu)
    w = np.array([q[1] * mu[1], -q[0] * mu[0], 0.3, 0.0, 0.0, 0.0])
    kw = dict(gamma=g, source=w, target_mean=mu, target_cov=C)
    c = score_coefficients(n, p, **kw)
    assert abs(c.m1) < 1e-15 and abs(c.V01[0]) > 1e-3
    a_star = ra.optimal_alpha(n, p, **kw)
    assert a_star == pytest.approx(-c.V01[0] / c.V11[0], rel=1e-12) and abs(a_star) > 0.05
    x, _ = _numerical_argmax(n, p, kw, a_star, 5.0)
    assert a_star == pytest.approx(x, rel=1e-6)
    # m1 vanishes to rounding only (w~ is built from rounded q): no chance level in reach
    a_bar = ra.chance_alpha(n, p, **kw)
    assert np.isnan(a_bar) or abs(a_bar) > 1e12
    # the mean does not depend on alpha
    m = ra.score_moments(np.array([-3.0, 0.0, 3.0]), n, p, **kw)[0]
    np.testing.assert_allclose(m, m[1], rtol=1e-14)


# ----------------------------------------------------------------------------------------
# Monte Carlo of the model (plain numpy; THEORY §9.1)


def _sqrt_psd(C):
    if C.ndim == 1:
        return np.sqrt(C)
    lam, U = np.linalg.eigh(C)
    return (U * np.sqrt(np.maximum(lam, 0.0))) @ U.T


def _draw(rng, T, m, mu, covs):
    """T trials of m vectors v_i = y_i x_i = mu + C_{y_i}^{1/2} z_i, m/2 per class: (T, p, m)."""
    out = np.empty((T, mu.size, m))
    half = m // 2
    for (lo, hi), C in zip(((0, half), (half, m)), (covs[0], covs[-1])):
        S, Z = _sqrt_psd(C), rng.standard_normal((T, mu.size, hi - lo))
        out[:, :, lo:hi] = mu[None, :, None] + (S[None, :, None] * Z if S.ndim == 1 else S @ Z)
    return out


def _ridge(V, g, b=None):
    """(V V^T/m + g I)^{-1} V 1/m (and the same resolvent applied to b)."""
    m, p = V.shape[2], V.shape[1]
    A = V @ V.transpose(0, 2, 1) / m + g * np.eye(p)
    rhs = V.sum(axis=2) / m
    if b is None:
        return np.linalg.solve(A, rhs[..., None])[..., 0]
    sol = np.linalg.solve(A, np.stack([rhs, b], axis=-1))
    return sol[..., 0], sol[..., 1]


def _monte_carlo(seed, trials, n, gamma, N, gamma_src, mu_s, mu_t, Cs, Ct, alphas, chunk=250):
    """Per trial: w0^T mu_t, v^T mu_t, (w0^T Ct_y w0, w0^T Ct_y v, v^T Ct_y v) per class, and the
    exact conditional accuracy averaged over the two classes at each alpha."""
    rng = np.random.default_rng(seed)
    rows = []
    for start in range(0, trials, chunk):
        T = min(chunk, trials - start)
        wt = _ridge(_draw(rng, T, N, mu_s, Cs), gamma_src)
        w0, v = _ridge(_draw(rng, T, n, mu_t, Ct), gamma, gamma * wt)
        stats, acc = [w0 @ mu_t, v @ mu_t], 0.0
        for C in (Ct[0], Ct[-1]):
            Cw0, Cv = (w0 * C, v * C) if C.ndim == 1 else (w0 @ C, v @ C)
            q = [(w0 * Cw0).sum(1), (w0 * Cv).sum(1), (v * Cv).sum(1)]
            stats += q
            acc = acc + 0.5 * np.array([ndtr((stats[0] + a * stats[1])
                                             / np.sqrt(q[0] + 2 * a * q[1] + a * a * q[2]))
                                        for a in alphas])
        rows.append(np.concatenate([np.array(stats), acc]))
    S = np.concatenate(rows, axis=1)
    return S.mean(axis=1), S.std(axis=1, ddof=1) / np.sqrt(S.shape[1])


def _mc_settings():
    p = 100
    e1, e2 = _unit_profiles(p)
    pl = _power_law(p)
    v = np.random.default_rng(5).standard_normal(p)
    v /= np.linalg.norm(v)
    return p, {
        # anisotropic, Cs != Ct (commuting), eta = 2, eta~ = 1/4
        "power law Cs != Ct": dict(n=50, N=400, gamma=1.0, gamma_src=1.0, mu_s=1.5 * e1,
                                   mu_t=0.8 * 1.5 * e1 + 0.6 * 1.2 * e2, Cs=(pl,),
                                   Ct=(pl[::-1].copy(),), alphas=[0.0, 1.0, 2.5]),
        # class-dependent, the target's + class spiked (dense, non-commuting), eta = 1/2
        "class-dependent": dict(n=200, N=100, gamma=0.5, gamma_src=2.0, mu_s=1.5 * e1,
                                mu_t=0.75 * e1 + np.sqrt(0.75) * 1.5 * e2, Cs=(pl, (1 + pl) / 2),
                                Ct=(np.eye(p) + 4 * np.outer(v, v), (1 + pl[::-1]) / 2),
                                alphas=[-1.0, 0.0, 1.0, 3.0]),
    }


@pytest.mark.parametrize("name", ["power law Cs != Ct", "class-dependent"])
def test_monte_carlo(name):
    """2000 trials at p = 100. Allowed: 4 standard errors plus the O(1/p) finite-size gap,
    taken as 1/p of the statistic's scale (max |m0|, |m1| for the means, max V0, V11 for the
    variances; 0.1/p for accuracies). Seen with these seeds: max |z| 1.8 and 2.0, relative gaps
    of the statistics up to 0.9 % and 1.5 %, accuracy gaps up to 4.4e-4 and 2.5e-4."""
    p, settings = _mc_settings()
    s = settings[name]
    one = lambda C: C if len(C) == 2 else C[0]  # noqa: E731
    kw = dict(N=s["N"], gamma=s["gamma"], gamma_src=s["gamma_src"], source_mean=s["mu_s"],
              target_mean=s["mu_t"], source_cov=one(s["Cs"]), target_cov=one(s["Ct"]))
    c = score_coefficients(s["n"], p, **kw)
    acc = ra.test_accuracy(np.array(s["alphas"]), s["n"], p, **kw)
    theory = np.r_[c.m0, c.m1, c.V0[0], c.V01[0], c.V11[0], c.V0[1], c.V01[1], c.V11[1], acc]
    mscale = max(abs(c.m0), abs(c.m1))
    vscale = [max(c.V0[y], c.V11[y]) for y in (0, 1)]
    scale = np.r_[mscale, mscale, [vscale[0]] * 3, [vscale[1]] * 3, [0.1] * acc.size]
    with one_blas_thread():
        mean, se = _monte_carlo(20240 + len(name), 2000, s["n"], s["gamma"], s["N"],
                                s["gamma_src"], s["mu_s"], s["mu_t"], s["Cs"], s["Ct"], s["alphas"])
    gap = mean - theory
    assert np.all(np.abs(gap) <= 4 * se + scale / p), (gap, se, scale / p)


# ----------------------------------------------------------------------------------------
# Bad input


GOOD = dict(gamma=0.5, source=W_FIXED, target_mean=BASE["target_mean"], target_cov=LT)


@pytest.mark.parametrize("update,name", [
    (dict(target_cov=np.ones((P, P)) + np.triu(np.ones((P, P)), 1)), "target_cov"),  # asymmetric
    (dict(target_cov=np.diag(LT) - 2.0 * np.outer(E1, E1) * LT.max()), "target_cov"),  # indefinite
    (dict(target_cov=-LT), "target_cov"),
    (dict(target_cov=np.r_[LT[:-1], np.nan]), "target_cov"),
    (dict(target_cov=np.ones((P, P + 1))), "target_cov"),
    (dict(target_cov=np.ones(P + 1)), "target_cov"),
    (dict(target_cov=np.ones((2, P, P))), "target_cov"),
    (dict(target_cov=(LT,)), "target_cov"),
    (dict(target_cov=(LT, LT, LT)), "target_cov"),
    (dict(target_cov=(LT, np.r_[LT[:-1], np.inf])), "target_cov[1]"),
    (dict(target_cov=(LT, -np.eye(P))), "target_cov[1]"),
    (dict(target_cov=np.zeros(P)), "target_cov"),
    (dict(source=np.ones(P - 1)), "source"),
    (dict(target_mean=np.ones(P + 1)), "target_mean"),
    (dict(source=np.zeros(P)), "source"),
])
def test_bad_input_raises_value_error_naming_the_argument(update, name):
    with pytest.raises(ValueError, match=rf"^{re.escape(name)}(?![\w\[])"):
        ra.test_accuracy(0.5, 30, P, **dict(GOOD, **update))


@pytest.mark.parametrize("update,name", [
    (dict(source_cov=(LS, np.ones((P, P)) * np.arange(P))), "source_cov[1]"),
    (dict(source_mean=np.ones(P + 2)), "source_mean"),
    (dict(N=0), "N"),
    (dict(gamma_src=-1.0), "gamma_src"),
    (dict(gamma=0.0), "gamma"),
])
def test_bad_ridge_input(update, name):
    kw = dict(dict(BASE, source_cov=LS, target_cov=LT), **update)
    with pytest.raises(ValueError, match=rf"^{re.escape(name)}(?![\w\[])"):
        ra.optimal_alpha(30, P, **kw)


def test_a_list_of_two_covariances_is_not_a_pair():
    with pytest.raises(ValueError, match=r"^target_cov must be .* pass a tuple"):
        ra.test_accuracy(0.5, 30, P, **dict(GOOD, target_cov=[LT, LS]))


def test_bad_test_class_and_mixed_sets():
    with pytest.raises(ValueError, match="test_class"):
        ra.score_moments(0.5, 30, P, test_class=0, **GOOD)
    with pytest.raises(TypeError, match="match no keyword set"):
        ra.test_accuracy(0.5, 30, P, source_cov=LS, **GOOD)
    with pytest.raises(TypeError):
        ra.test_accuracy(0.5, 30, P, **dict(GOOD, target_cov=["a"] * P))


def test_error_risk_and_moments_identities():
    kw = dict(BASE, source_cov=(LS, LT), target_cov=(LT, SPIKE))
    alpha = np.linspace(-4, 4, 17)
    acc, err = ra.test_accuracy(alpha, 30, P, **kw), ra.test_error(alpha, 30, P, **kw)
    np.testing.assert_allclose(err, 1 - acc, atol=2e-16, rtol=0)
    (m, E2p), (_, E2m) = (ra.score_moments(alpha, 30, P, test_class=y, **kw) for y in (1, -1))
    np.testing.assert_allclose(acc, 0.5 * (ndtr(m / np.sqrt(E2p - m * m))
                                           + ndtr(m / np.sqrt(E2m - m * m))), rtol=1e-12)
    np.testing.assert_allclose(ra.test_risk(alpha, 30, P, **kw),
                               0.5 * (E2p + E2m) - 2 * m + 1, rtol=1e-12)
    assert not np.allclose(E2p, E2m)


# ----------------------------------------------------------------------------------------
# JAX (THEORY §9.7): traced task arguments on the shared-covariance path, alpha everywhere


def _jax():
    jax = pytest.importorskip("jax")
    return jax, jax.numpy


JAX_CASES = [
    ("ridge diag", dict(BASE, source_cov=LS, target_cov=LT)),
    ("ridge non-commuting", dict(BASE, source_cov=SPIKE, target_cov=_rot(LT))),
    ("fixed dense", dict(gamma=0.3, source=W_FIXED, target_mean=BASE["target_mean"],
                         target_cov=SPIKE)),
]


@pytest.mark.parametrize("name,kw", JAX_CASES, ids=[c[0] for c in JAX_CASES])
def test_jit_equals_numpy(name, kw):
    jax, jnp = _jax()
    alpha, n = np.linspace(-3, 3, 7), 30
    traced = [k for k in ("gamma", "gamma_src", "source_mean", "target_mean", "source")
              if k in kw]

    @jax.jit
    def f(alpha, n, args):
        kk = dict(kw, **args)
        m, E2 = ra.score_moments(alpha, n, P, **kk)
        return (ra.test_accuracy(alpha, n, P, **kk), ra.test_error(alpha, n, P, **kk),
                ra.test_risk(alpha, n, P, **kk), m, E2, ra.optimal_alpha(n, P, **kk),
                ra.chance_alpha(n, P, **kk))

    got = f(jnp.asarray(alpha), jnp.asarray(float(n)),
            {k: jnp.asarray(kw[k], dtype=jnp.float64) for k in traced})
    want = _all_outputs(n, P, kw, alpha)
    for g, key in zip(got, ("accuracy", "error", "risk", "mean", "E2", "optimal", "chance")):
        assert g.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(g), want[key], rtol=1e-12, err_msg=key)


def test_gradients_match_finite_differences():
    """d/d gamma, gamma_src, a mean coordinate and a diagonal covariance entry, through the
    implicit-function derivative of the root for nu (central differences, h = 1e-6)."""
    jax, jnp = _jax()
    n, h = 30, 1e-6
    kw = dict(BASE, source_cov=SPIKE, target_cov=LT)  # non-commuting frames, a diagonal Ct

    def acc(g, gs, mu, C):
        return ra.test_accuracy(0.8, n, P, **dict(kw, gamma=g, gamma_src=gs, target_mean=mu,
                                                  target_cov=C))

    def opt(g):
        return ra.optimal_alpha(n, P, **dict(kw, gamma=g))

    x = [kw["gamma"], kw["gamma_src"], kw["target_mean"], LT]
    grads, da = jax.jit(lambda *x: (jax.grad(acc, argnums=(0, 1, 2, 3))(*x),
                                    jax.grad(opt)(x[0])))(*(jnp.asarray(v) for v in x))
    e = np.zeros(P)
    e[5] = h
    for i, step in ((0, h), (1, h), (2, e), (3, e)):
        up, down = list(x), list(x)
        up[i], down[i] = x[i] + step, x[i] - step
        fd = (acc(*up) - acc(*down)) / (2 * h)
        got = grads[i] if i < 2 else grads[i][5]
        assert float(got) == pytest.approx(fd, rel=1e-6, abs=1e-10), i
    # the optimal alpha in gamma
    fd = (opt(x[0] + h) - opt(x[0] - h)) / (2 * h)
    assert float(da) == pytest.approx(fd, rel=1e-6)


def test_vmap_over_gamma_and_grad_in_alpha():
    jax, jnp = _jax()
    kw = dict(BASE, source_cov=LS, target_cov=_rot(LT))
    gam = np.logspace(-3, 2, 6)
    f = jax.jit(jax.vmap(lambda g: ra.optimal_alpha(30, P, **dict(kw, gamma=g))))
    np.testing.assert_allclose(np.asarray(f(jnp.asarray(gam))),
                               ra.optimal_alpha(30, P, **dict(kw, gamma=gam)), rtol=1e-12)
    # alpha alone traced, the task in numpy (every path, class-dependent included)
    for kk in (kw, dict(BASE, source_cov=(LS, LT), target_cov=(LT, SPIKE))):
        a_star = float(ra.optimal_alpha(30, P, **kk))
        dA = jax.jit(jax.vmap(jax.grad(lambda a, kk=kk: ra.test_accuracy(a, 30, P, **kk))))
        below, at, above = np.asarray(dA(jnp.asarray([a_star - 0.3, a_star, a_star + 0.3])))
        assert below > 0 > above and abs(at) < 1e-9 * max(below, -above)


def test_traced_class_dependent_task_is_a_clear_type_error():
    jax, jnp = _jax()
    kw = dict(BASE, source_cov=LS, target_cov=(LT, SPIKE))
    with pytest.raises(TypeError, match="numpy|THEORY §9.7"):
        jax.grad(lambda g: ra.test_accuracy(0.5, 30, P, **dict(kw, gamma=g)))(0.3)
    with pytest.raises(TypeError, match="THEORY §9.7"):
        jax.jit(lambda C: ra.test_accuracy(0.5, 30, P, **dict(kw, target_cov=C)))(
            jnp.asarray(SPIKE))


def test_numpy_input_does_not_import_jax():
    code = (
        "import sys, json\nimport numpy as np\nimport rmt_alpha as ra\n"
        "p = 70\nC = np.eye(p) + np.outer(np.ones(p), np.ones(p)) / p\n"
        "a = ra.optimal_alpha(30, p, N=100, gamma=0.5, gamma_src=1.0, source_mean=np.ones(p)/8,"
        " target_mean=np.ones(p)/9, source_cov=np.ones(p), target_cov=(C, np.ones(p)))\n"
        "print(json.dumps({'jax': 'jax' in sys.modules, 'a': float(a)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["jax"] is False and np.isfinite(res["a"])


def test_dense_factorisations_are_reused_by_content():
    """The eigendecomposition cache is keyed by the matrix's content: an array changed in
    place between two calls is factorised again."""
    C = _rot(LT)
    kw = dict(gamma=0.3, source=W_FIXED, target_mean=BASE["target_mean"], target_cov=C)
    first = ra.optimal_alpha(30, P, **kw)
    assert ra.optimal_alpha(30, P, **kw) == first
    C *= 2.0  # in place
    assert ra.optimal_alpha(30, P, **kw) != first
    # (2C, sqrt2 mu, 2 gamma, w~/sqrt2) is the original task (scale invariance, THEORY §9.6)
    scaled = dict(kw, gamma=0.6, source=W_FIXED / np.sqrt(2),
                  target_mean=np.sqrt(2) * kw["target_mean"])
    np.testing.assert_allclose(ra.test_accuracy(0.7, 30, P, **scaled),
                               ra.test_accuracy(0.7, 30, P, **dict(kw, target_cov=_rot(LT))),
                               rtol=1e-12)


def test_source_and_target_factorisations_stay_cached_together(monkeypatch):
    """Repeated calls with the same two dense covariances factorise neither again, and the
    cache has room for both at p = 4096 (before, two 4096 x 4096 entries evicted each other
    and every call redid both eigendecompositions: 11-12 s per call at p = 3072)."""
    from rmt_alpha import _covariance

    calls = []
    eigh = np.linalg.eigh
    monkeypatch.setattr(np.linalg, "eigh", lambda a: calls.append(a.shape) or eigh(a))
    Cs, Ct = _rot(LT), _rot(LT)[::-1, ::-1].copy()
    kw = dict(N=300, source_mean=BASE["source_mean"], target_mean=BASE["target_mean"],
              source_cov=Cs, target_cov=Ct, gamma=0.3, gamma_src=1.0)
    first = ra.test_accuracy(0.7, 30, P, **kw)
    done = len(calls)
    assert ra.test_accuracy(0.7, 30, P, **kw) == first
    assert len(calls) == done
    entry = 2 * 4096**2 * 8  # the matrix and its eigenvectors
    cache = _covariance._LRU(_covariance.CACHE_BYTES)
    cache.put("source", 1, entry)
    cache.put("target", 2, entry)
    assert cache.get("source") == 1 and cache.get("target") == 2
