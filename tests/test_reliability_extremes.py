"""Issue 9, class 3: the right number at extreme but accepted parameters, a clear refusal
beyond them, never nan.

Cases found: ``test_accuracy(1e155, ...)`` returned 0.5 (its limit is 0.8079: ``alpha^2``
overflowed); ``gamma`` or ``gamma_src`` above ~1e155 and ``mu`` above ~1e80 gave nan
(``c^2``, ``kappa^2``, ``L^2`` overflowed); below ``gamma ~ 1e-150`` ``kappa^2`` underflowed
and the accuracy at ``optimal_alpha`` jumped from 0.866654 to 0.872157; a tiny ``beta``
(1e-255) made ``s`` underflow and ``optimal_alpha`` 0 instead of 6e268; a JAX float32
``gamma = 1e-50`` silently became 0; the simulation at ``gamma = 1e300`` returned accuracy
1.0 at ``alpha = 0`` (``||w0||^2`` underflowed to 0).

What holds now (rmt_alpha._validate.SCALE_LIMIT, R = 1e30 in float64, 1e6 in float32):
every non-zero scale parameter (ridges, squared norms, alignment) in ``[1/R, R]``, every
length (``mu``, ``mu_orth``, ``|beta|``, ``sigma``) in ``[1/sqrt(R), sqrt(R)]``, ``p/n`` and
``p/N`` in ``[1/R, R]``, any ``alpha`` (``+-inf`` for the accuracy: the THEORY §3 limit).
Inside, every result matches the literal THEORY §2-§4 formulas evaluated by mpmath at 300
digits; outside, the argument is refused naming the range. Results that grow like
``alpha^2`` (``E2``, the risk) or like ``1/s`` (``chance_alpha``) are ``inf`` only where
their value is beyond the float range.
"""

from __future__ import annotations

import itertools
import re
import warnings

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from test_blocks_mpmath import ref_at_alpha, ref_blocks, ref_fixed, ref_ridge

import rmt_alpha as ra
from rmt_alpha import blocks

DPS = 300  # the literal formulas cancel up to ~2 log10(R) digits at the edges
RIDGE = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
FIXED = dict(gamma=0.1, target_norm2=1.0, alignment=0.5, source_norm2=1.0)
MAX = {np.float64: 1.79e308, np.float32: 3.4e38}


def _ref(n, p, kw):
    with mp.workdps(DPS):
        if "N" in kw:
            return ref_ridge(n, p, kw["N"], *(mp.mpf(float(kw[k])) for k in
                                              ("mu", "mu_orth", "beta", "gamma", "gamma_src")))
        return ref_fixed(mp.mpf(p) / n, *(mp.mpf(float(kw[k])) for k in
                                          ("gamma", "target_norm2", "alignment", "source_norm2")))


def _limit(ref, sign):
    """A(alpha -> +-inf) = Phi(+-m1 / sqrt(T3 - m1^2)) (THEORY §3)."""
    with mp.workdps(DPS):
        return mp.ncdf(sign * ref["m1"] / mp.sqrt(ref["T3"] - ref["m1"] ** 2))


def _close(got, want, rtol, atol=0.0, dtype=np.float64, what=""):
    got = float(got)
    with mp.workdps(DPS):
        w = mp.mpf(want)
        if np.isinf(got):  # only where the value is beyond the float range
            assert abs(w) > MAX[dtype] and np.sign(got) == mp.sign(w), (what, got, w)
            return
        assert np.isfinite(got), (what, got, float(w))
        assert abs(mp.mpf(got) - w) <= rtol * abs(w) + atol, (what, got, mp.nstr(w, 17))


def _check_point(n, p, kw, alphas, dtype=np.float64, rtol=1e-9):
    """Every closed form at (n, p, kw) against the 300-digit literal formulas."""
    xp_kw, cast = kw, float
    if dtype == np.float32:
        xp_kw = {k: (jnp.asarray(x, jnp.float32) if k != "N" else x) for k, x in kw.items()}
        cast = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    ref = _ref(n, p, kw)
    a_star = ra.optimal_alpha(n, p, **xp_kw)
    _close(a_star, ref["alpha_star"], rtol, 1e-300, dtype, ("alpha*", n, p, kw))
    if ref["s"] != 0:
        _close(ra.chance_alpha(n, p, **xp_kw), ref["alpha_bar"], rtol, 0, dtype, "alpha_bar")
    for a in list(alphas) + [float(a_star)]:
        if not np.isfinite(a):
            continue
        at = ref_at_alpha(ref, mp.mpf(float(np.float32(a) if dtype == np.float32 else a)))
        acc = ra.test_accuracy(cast(a), n, p, **xp_kw)
        err = ra.test_error(cast(a), n, p, **xp_kw)
        m, e2 = ra.score_moments(cast(a), n, p, **xp_kw)
        tiny = np.finfo(dtype).tiny
        _close(acc, at["acc"], rtol, 1e-15 if dtype == np.float64 else 1e-6, dtype, ("acc", a))
        _close(err, at["err"], 100 * rtol, 1e3 * tiny, dtype, ("err", a))
        _close(m, at["m"], rtol, rtol * float(at["scale_m"]), dtype, ("m", a))
        _close(e2, at["E2"], rtol, 0, dtype, ("E2", a))
    for sign in (1, -1):  # alpha = +-inf: the limit of THEORY §3
        _close(ra.test_accuracy(cast(sign * np.inf), n, p, **xp_kw), _limit(ref, sign),
               rtol, 1e-15, dtype, ("limit", sign))


# ---------------------------------------------------------------- the cases


def test_huge_alpha_gives_the_limit():
    ref = _ref(100, 400, RIDGE)
    lim = float(_limit(ref, 1))
    assert lim == pytest.approx(0.8079, abs=1e-4)
    for a in (1e5, 1e155, 1e300, np.finfo(np.float64).max):
        want = ref_at_alpha(ref, mp.mpf(a))["acc"]
        assert ra.test_accuracy(a, 100, 400, **RIDGE) == pytest.approx(float(want), rel=1e-12)
    assert ra.test_accuracy(np.inf, 100, 400, **RIDGE) == pytest.approx(lim, rel=1e-14)
    assert ra.test_accuracy(-np.inf, 100, 400, **RIDGE) == pytest.approx(
        float(_limit(ref, -1)), rel=1e-14)
    assert ra.test_error(np.inf, 100, 400, **RIDGE) == pytest.approx(1 - lim, rel=1e-13)


@pytest.mark.parametrize("gamma", [1e-10, 1e-20, 1e-30])
def test_accuracy_at_optimal_alpha_for_tiny_gamma(gamma):
    # alpha* grows like 1/kappa; the accuracy there must not jump (it did below 1e-150)
    _check_point(40, 20, dict(FIXED, gamma=gamma), alphas=[1.0])
    _check_point(100, 400, dict(RIDGE, gamma=gamma), alphas=[1.0])


@pytest.mark.parametrize("name,value,limit", [
    ("gamma", 1e156, "1e+30"), ("gamma", 1e-150, "1e-30"), ("gamma_src", 1e156, "1e+30"),
    ("mu", 1e80, "1e+15"), ("mu_orth", 1e-20, "1e-15"), ("beta", 3e-255, "1e-15"),
])
def test_beyond_the_range_is_refused_naming_it(name, value, limit):
    for f in (ra.test_accuracy, ra.score_moments):
        with pytest.raises(ValueError, match=rf"^{name} must be .*between .*{re.escape(limit)}.*, got "):
            f(0.5, 100, 400, **dict(RIDGE, **{name: value}))
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        ra.optimal_alpha(100, 400, **dict(RIDGE, **{name: value}))


def test_fixed_source_and_vectors_beyond_the_range_are_refused():
    for name, value in (("target_norm2", 1e31), ("source_norm2", 1e-31), ("alignment", 1e-40)):
        with pytest.raises(ValueError, match=rf"^{name} must be .*1e.30"):
            ra.optimal_alpha(40, 20, **dict(FIXED, **{name: value}))
    w = np.full(5, 1e-20)
    with pytest.raises(ValueError, match=r"^source must be an array with \|\|source\|\|\^2 0 or "
                                         r"between 1e-30 .*got \|\|source\|\|\^2 = 5e-40"):
        ra.optimal_alpha(40, 5, gamma=1.0, source=w, target_mean=np.ones(5))


def test_simulation_beyond_the_range_is_refused_not_silently_one():
    with pytest.raises(ValueError, match=r"^gamma must be .*between 1e-30 and 1e\+30"):
        ra.simulate(0.0, 40, 20, **dict(FIXED, gamma=1e300), trials=10, dtype="float64")
    with jax.enable_x64(False):  # float32: the float32 range applies to the simulation
        with pytest.raises(ValueError, match=r"^gamma must be .*between 1e-06 and 1e\+06 .*"
                                             r"float32.*x64"):
            ra.simulate(0.0, 40, 20, **dict(FIXED, gamma=1e-20), trials=10)


def test_simulation_refuses_trials_it_cannot_represent():
    from rmt_alpha._simulate import _check_trials

    good = np.array([[0.1, 0.2, 1.0, 0.1, 2.0]])
    _check_trials(good, np.float32)
    for bad in ([0.1, 0.2, 0.0, 0.0, 2.0], [0.1, 0.2, 1e-40, 0.0, 2.0], [np.inf, 0, 1, 0, 1]):
        with pytest.raises(ValueError, match=r"^the task must be one that a float32 simulation "
                                             r"can represent, got 1 trial"):
            _check_trials(np.array([bad]), np.float32)
    # scores and regression statistics: finiteness only (a zero row of W_s gives ||V_j|| = 0)
    _check_trials(np.zeros((3, 2, 4, 5)), np.float64, norms=())
    with pytest.raises(ValueError, match=r"got 1 trial"):
        _check_trials(np.array([[[1.0, np.nan, 0.0]], [[1.0, 0.0, 0.0]]]), np.float64, norms=())


# ---------------------------------------------------------------- float32 (x64 off)


def test_float32_values_that_do_not_fit_are_refused_not_rounded():
    with jax.enable_x64(False):
        a32 = jnp.asarray(0.5, jnp.float32)
        for kw in (dict(FIXED, gamma=jnp.asarray(1e-7, jnp.float32)),
                   dict(RIDGE, mu=jnp.asarray(1e4, jnp.float32))):
            with pytest.raises(ValueError, match=r"in float32.*x64 mode is off"):
                ra.test_accuracy(a32, 100, 400, **kw)
        with pytest.raises(ValueError, match=r"^gamma must be .*float32"):
            ra.test_accuracy(a32, 100, 400, **dict(FIXED, gamma=1e-50))
        with pytest.raises(ValueError, match=r"^alpha must be 0 or between 1.18e-38 and 3.4e\+38"):
            ra.test_accuracy(1e-39, 100, 400, **{k: jnp.asarray(x, jnp.float32)
                                                 for k, x in FIXED.items()})
        with pytest.raises(ValueError, match=r"^p must be such that p/n lies between 1e-06"):
            ra.test_accuracy(a32, 10**7, 1, **FIXED)


EDGES32 = [dict(FIXED, gamma=1e-6), dict(FIXED, gamma=1e6), dict(FIXED, target_norm2=1e6,
           source_norm2=1e-6, alignment=0.5), dict(RIDGE, gamma=1e-6, gamma_src=1e6),
           dict(RIDGE, mu=1e3, mu_orth=1e-3, beta=1e-3, gamma=1e6), dict(RIDGE, mu=1e-3)]


@pytest.mark.parametrize("kw", EDGES32, ids=range(len(EDGES32)))
def test_float32_edges_against_mpmath(kw):
    with jax.enable_x64(False):
        for n, p in ((100, 400), (400, 100), (10**6, 1)):
            _check_point(n, p, kw, alphas=[0.0, 1.0, -3e4, 1e30], dtype=np.float32, rtol=3e-4)


# ---------------------------------------------------------------- float64: edges and box


def _corner_points():
    lo, hi = 1e-30, 1e30
    sizes = [(1, 2**52, 2**53), (2**53, 1, 1), (100, 100, 100), (7, 3, 5)]
    for (n, p, N), g, gs, mu, mo, beta in itertools.product(
            sizes, (lo, hi), (lo, hi), (1e-15, 1e15), (0.0, 1e15), (1e-15, 1.0)):
        yield n, p, dict(N=N, mu=mu, mu_orth=mo, beta=beta, gamma=g, gamma_src=gs)
    for (n, p, _), g, M, r in itertools.product(sizes, (lo, hi), (0.0, lo, hi), (lo, hi)):
        for s in sorted({0.0, min(np.sqrt(M * r), hi), max(lo, 1e-3 * np.sqrt(M * r))}):
            if s * s <= M * r:
                yield n, p, dict(gamma=g, target_norm2=M, alignment=s, source_norm2=r)


def test_no_nan_anywhere_on_the_edges_of_the_range():
    # cheap and exhaustive: every corner of the accepted box, alpha from 0 to the largest float
    alphas = np.array([0.0, 1.0, -1.0, 1e-300, 1e30, -1e200, 1.7e308, -np.inf, np.inf])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no invalid operation, no division by zero ...
        warnings.filterwarnings("ignore", "overflow", RuntimeWarning)  # ... (E2 ~ alpha^2)
        for n, p, kw in _corner_points():
            acc = ra.test_accuracy(alphas, n, p, **kw)
            assert np.all((acc >= 0) & (acc <= 1)), (n, p, kw, acc)
            m, e2 = ra.score_moments(alphas[np.isfinite(alphas)], n, p, **kw)
            assert not np.any(np.isnan(m)) and not np.any(np.isnan(e2)), (n, p, kw)
            assert np.all(e2 >= m * m * (1 - 1e-12)), (n, p, kw)
            assert not np.isnan(ra.optimal_alpha(n, p, **kw)), (n, p, kw)


def test_corners_against_mpmath():
    rng = np.random.default_rng(9)
    points = list(_corner_points())
    for i in rng.choice(len(points), 40, replace=False):
        n, p, kw = points[i]
        _check_point(n, p, kw, alphas=[0.0, 1.0, -1e200])


def test_random_points_of_the_accepted_box_against_mpmath():
    rng = np.random.default_rng(2024)

    def lu(a, b):
        return float(10.0 ** rng.uniform(a, b))

    for _ in range(40):
        n = int(10 ** rng.uniform(0, 15))
        p = n if rng.random() < 0.2 else int(10 ** rng.uniform(0, 15))
        g = lu(-30, 30)
        if rng.random() < 0.5:
            M, r = (0.0 if rng.random() < 0.2 else lu(-30, 30)), lu(-30, 30)
            smax = np.sqrt(M * r)
            s = 0.0 if smax < 1e-30 or rng.random() < 0.2 else float(
                rng.choice([-1, 1]) * min(smax, max(1e-30, smax * lu(-20, 0))))
            kw = dict(gamma=g, target_norm2=M, alignment=s, source_norm2=r)
        else:
            N = int(10 ** rng.uniform(0, 15))
            kw = dict(N=N, mu=lu(-15, 15), mu_orth=0.0 if rng.random() < 0.2 else lu(-15, 15),
                      beta=float(rng.choice([0.0, 1.0, rng.uniform(-1, 1), -lu(-15, 0)])),
                      gamma=g, gamma_src=lu(-30, 30))
        _check_point(n, p, kw, alphas=[0.0, float(rng.choice([-1, 1]) * lu(-300, 300))])


# ---------------------------------------------------------------- known limits


@pytest.mark.parametrize("eta", [0.25, 1.0, 4.0])
def test_kappa_and_h_limits(eta):
    for g in (1e-30, 1e-20):  # gamma -> 0 (THEORY §2 table)
        k, h = float(blocks.kappa(eta, g)), float(blocks.h_factor(eta, g))
        if eta < 1:
            assert k == pytest.approx(g / (1 - eta), rel=1e-9) and h == pytest.approx(1 - eta)
        elif eta > 1:
            assert k == pytest.approx(eta - 1) and h == pytest.approx(1 - 1 / eta)
        else:
            assert k == pytest.approx(np.sqrt(g), rel=1e-9)
            assert h == pytest.approx(2 * np.sqrt(g), rel=1e-9)
    for g in (1e20, 1e30):  # gamma -> inf: kappa = gamma + eta - 1 + O(1/gamma), h -> 1
        assert float(blocks.kappa(eta, g)) == pytest.approx(g + eta - 1, rel=1e-15)
        assert float(blocks.h_factor(eta, g)) == pytest.approx(1.0, abs=1e-15)
        assert float(blocks.delta(eta, g)) == pytest.approx(eta / g, rel=1e-9)
    for g in (1e-30, 1e30):  # and exactly, against the literal quadratic
        with mp.workdps(DPS):
            d, k, h = ref_blocks(mp.mpf(eta), mp.mpf(g))
        assert float(blocks.delta(eta, g)) == pytest.approx(float(d), rel=1e-13)
        assert float(blocks.kappa(eta, g)) == pytest.approx(float(k), rel=1e-13)
        assert float(blocks.h_factor(eta, g)) == pytest.approx(float(h), rel=1e-13)


def test_source_accuracy_and_regression_at_the_edges():
    with mp.workdps(DPS):
        for p, N, mu, beta, gs in ((400, 2000, 1e15, 1.0, 1e-30), (1, 2**53, 1e-15, -1e-15, 1e30),
                                   (10**6, 3, 1.0, 0.5, 1e30)):
            eta = mp.mpf(p) / N
            _, k, h = ref_blocks(eta, mp.mpf(gs))
            mu2 = mp.mpf(mu) ** 2
            L = mu2 + 1 + k
            m = mu2 / L
            E2 = mu2 / (h * L) * ((mu2 + 1) / L - 2 * (1 - h)) + (1 - h) / h
            want = mp.ncdf(mp.mpf(beta) * m / mp.sqrt(E2 - m * m))
            got = ra.source_accuracy(p, N=N, mu=mu, beta=beta, gamma_src=gs)
            assert abs(mp.mpf(float(got)) - want) <= 1e-12, (p, N, mu, beta, gs)
    # the regression risk next to its minimum (the expanded form cancelled) and far from it
    Ws = np.array([[1.0, 2.0, 0.5], [0.0, 1.0, -1.0]])
    Wt = 0.7 * Ws + 1e-9 * np.array([[1.0, -0.5, 0.0], [0.2, 0.0, 0.1]])
    n, p = 2, 3
    with mp.workdps(60):
        for alpha, g, sigma in ((0.7, 1e-30, 0.0), (0.7 + 1e-12, 1e30, 1e-15), (1e100, 1.0, 1e15)):
            _, k, _ = ref_blocks(mp.mpf(p) / n, mp.mpf(g))
            a = mp.mpf(alpha)
            dist2 = sum((mp.mpf(float(t)) - a * mp.mpf(float(w))) ** 2
                        for w, t in zip(Ws.ravel(), Wt.ravel()))
            want = ((k**2 * dist2 + mp.mpf(sigma) ** 2 * 2 * (1 + k) ** 2)
                    / ((1 + k) ** 2 - mp.mpf(p) / n))
            got = ra.regression_risk(alpha, n, p, W_source=Ws, W_target=Wt, sigma=sigma, gamma=g)
            assert abs(mp.mpf(float(got)) - want) <= 1e-12 * want, (alpha, g, sigma)
