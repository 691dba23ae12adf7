"""The closed forms against an independent 50-digit mpmath reference (THEORY.md §2-§4).

The reference below transcribes the *literal* formulas of THEORY.md -- delta as the positive
root of its quadratic, kappa = gamma (1 + delta), h = 1 - eta/(1 + kappa)^2, the long forms
of T1, T2, T3 printed in §3 (not the compact forms the package evaluates), alpha* and
alpha-bar as printed, and the ridge-source composition of §4 (r = E~2 - m~^2 taken as that
literal difference). Float inputs are converted exactly (``mpf(float)``), and eta = p/n is
the exact rational, so the only error measured is the package's.

The reference functions are also imported by the other theory test files.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import rmt_alpha as ra
from rmt_alpha import blocks

DPS = 50
RTOL = 1e-9
mp.mp.dps = DPS  # module-level too: exact rationals such as mpf(p)/n are formed outside helpers


# ----------------------------------------------------------------------------------------
# Reference implementation (50 digits)
# ----------------------------------------------------------------------------------------


def X(x):
    """Exact conversion of a float (or int) to mpf."""
    return mp.mpf(float(x)) if not isinstance(x, (int, np.integer)) else mp.mpf(int(x))


def ref_delta(eta, gamma):
    """Positive root of gamma d^2 - (eta - gamma - 1) d - eta = 0 (quadratic formula)."""
    with mp.workdps(max(DPS, mp.mp.dps)):
        eta, gamma = mp.mpf(eta), mp.mpf(gamma)
        a, b, c = gamma, -(eta - gamma - 1), -eta
        disc = b * b - 4 * a * c
        roots = [(-b + mp.sqrt(disc)) / (2 * a), (-b - mp.sqrt(disc)) / (2 * a)]
        pos = [d for d in roots if d > 0]
        assert len(pos) == 1  # product of the roots is -eta/gamma < 0
        return +pos[0]


def ref_blocks(eta, gamma):
    """(delta, kappa, h) of THEORY §2, literally."""
    with mp.workdps(max(DPS, mp.mp.dps)):
        eta, gamma = mp.mpf(eta), mp.mpf(gamma)
        d = ref_delta(eta, gamma)
        k = gamma * (1 + d)
        h = 1 - eta / (1 + k) ** 2
        return d, k, h


def ref_fixed(eta, gamma, M, s, r):
    """Everything of THEORY §3 for a fixed source, from the long printed forms."""
    with mp.workdps(max(DPS, mp.mp.dps)):
        eta, gamma, M, s, r = (mp.mpf(v) for v in (eta, gamma, M, s, r))
        d, k, h = ref_blocks(eta, gamma)
        L = M + 1 + k
        T1 = M / (h * L) * ((M + 1) / L - 2 * (1 - h)) + (1 - h) / h
        T2 = 2 * k * s * ((M + 1) / L - (1 - h)) / (h * L)
        T3 = k**2 / h * (s**2 / L**2 + (1 - h) * r / eta + (1 - h) * s**2 * (M / L - 2) / (eta * L))
        m0, m1 = M / L, k * s / L
        if s != 0:
            a_star = -eta * (1 + k) * s / (k * ((L - eta) * s**2 - L * M * r))
            a_bar = -M / (k * s)
        else:
            a_star, a_bar = mp.mpf(0), mp.nan
        return dict(delta=d, kappa=k, h=h, L=L, T1=T1, T2=T2, T3=T3, m0=m0, m1=m1,
                    alpha_star=a_star, alpha_bar=a_bar, M=M, s=s, r=r, eta=eta)


def ref_at_alpha(ref, alpha):
    """m, E2, accuracy, error (= 1 - accuracy evaluated as ncdf(-z)) at alpha."""
    with mp.workdps(max(DPS, mp.mp.dps)):
        a = mp.mpf(alpha)
        m = (ref["M"] + a * ref["kappa"] * ref["s"]) / ref["L"]
        E2 = ref["T1"] + a * ref["T2"] + a * a * ref["T3"]
        z = m / mp.sqrt(E2 - m * m)
        return dict(m=m, E2=E2, acc=mp.ncdf(z), err=mp.ncdf(-z),
                    scale_m=abs(ref["m0"]) + abs(a * ref["m1"]))


def ref_source(p, N, mu, gamma_src):
    """Source statistics of THEORY §4: (m~, E~2, r = E~2 - m~^2)."""
    with mp.workdps(max(DPS, mp.mp.dps)):
        eta_s = mp.mpf(p) / mp.mpf(N)
        mu2 = mp.mpf(mu) ** 2
        _, ks, hs = ref_blocks(eta_s, mp.mpf(gamma_src))
        Ls = mu2 + 1 + ks
        mt = mu2 / Ls
        E2t = mu2 / (hs * Ls) * ((mu2 + 1) / Ls - 2 * (1 - hs)) + (1 - hs) / hs
        return mt, E2t, E2t - mt * mt


def ref_ridge(n, p, N, mu, mu_orth, beta, gamma, gamma_src):
    """Ridge source composed into §3 (THEORY §4)."""
    with mp.workdps(max(DPS, mp.mp.dps)):
        mt, E2t, r = ref_source(p, N, mu, gamma_src)
        beta, mu, mu_orth = mp.mpf(beta), mp.mpf(mu), mp.mpf(mu_orth)
        M = beta**2 * mu**2 + (1 - beta**2) * mu_orth**2
        out = ref_fixed(mp.mpf(p) / mp.mpf(n), gamma, M, beta * mt, r)
        out.update(src_mean=mt, src_E2=E2t, src_r=r,
                   src_acc=mp.ncdf(beta * mt / mp.sqrt(E2t - mt * mt)))
        return out


# ----------------------------------------------------------------------------------------
# Parameter points
# ----------------------------------------------------------------------------------------


def _sizes(rng, eta):
    """Integers (n, p) with p/n ~ eta (the reference uses the exact p/n)."""
    n = int(rng.integers(1000, 10_000))
    return n, max(1, int(round(eta * n)))


def _points():
    rng = np.random.default_rng(20240517)
    pts = []
    # 120 random points, log-spaced in gamma in [1e-12, 1e6] and eta in [1e-3, 1e3]
    for _ in range(120):
        pts.append((10 ** rng.uniform(-3, 3), 10 ** rng.uniform(-12, 6)))
    # interpolation peak eta = 1 at tiny gamma, and the corners of the box
    for g in (1e-12, 1e-10, 1e-6, 1.0, 1e6):
        pts.append((1.0, g))
    for e in (1e-3, 1e3):
        for g in (1e-12, 1e6):
            pts.append((e, g))
    rows = []
    for eta, g in pts:
        n, p = (4000, 4000) if eta == 1.0 else _sizes(rng, eta)
        eta_src = 10 ** rng.uniform(-3, 3)  # source task: eta~ = p/N
        rows.append(dict(
            n=n, p=p, gamma=g, N=max(1, int(round(p / eta_src))),
            gamma_src=10 ** rng.uniform(-12, 6),
            mu=10 ** rng.uniform(-0.5, 1.0), mu_orth=10 ** rng.uniform(-0.5, 1.0),
            beta=rng.uniform(-1, 1),
            M=10 ** rng.uniform(-1, 2.5), r=10 ** rng.uniform(-1, 1), rho=rng.uniform(-1, 1),
            u=rng.uniform(-5, 5), t=rng.uniform(-3, 3),
        ))
    for row in rows:
        row["s"] = row["rho"] * np.sqrt(row["M"] * row["r"])
    return rows


POINTS = _points()
assert len(POINTS) >= 100
assert any(r["n"] == r["p"] and r["gamma"] == 1e-12 for r in POINTS)
assert any(r["n"] == r["p"] and r["gamma"] == 1e-10 for r in POINTS)


def _col(key):
    return np.array([r[key] for r in POINTS])


@pytest.fixture(scope="module")
def fixed_ref():
    """Reference for the fixed-source keyword set, two alphas per point."""
    out = []
    for row in POINTS:
        ref = ref_fixed(mp.mpf(row["p"]) / mp.mpf(row["n"]), X(row["gamma"]), X(row["M"]),
                        X(row["s"]), X(row["r"]))
        a2 = float(row["t"] * ref["alpha_star"])
        out.append((ref, [row["u"], a2]))
    return out


@pytest.fixture(scope="module")
def ridge_ref():
    out = []
    for row in POINTS:
        ref = ref_ridge(row["n"], row["p"], row["N"], X(row["mu"]), X(row["mu_orth"]),
                        X(row["beta"]), X(row["gamma"]), X(row["gamma_src"]))
        a2 = float(row["t"] * ref["alpha_star"])
        out.append((ref, [row["u"], a2]))
    return out


def _assert_close(got, want, what, rtol=RTOL, scale=None):
    """Relative comparison, element by element; ``scale`` replaces |want| if given."""
    got = np.asarray(got, dtype=np.float64)
    bad = []
    for i, (g, w) in enumerate(zip(got.ravel(), want)):
        sc = abs(w) if scale is None else scale[i]
        if not (abs(mp.mpf(float(g)) - w) <= rtol * sc):
            bad.append((i, float(g), mp.nstr(w, 17)))
    assert not bad, f"{what}: {len(bad)} of {len(want)} off by > {rtol} relative: {bad[:5]}"


# ----------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------


def test_point_set_covers_the_box():
    eta, g = _col("p") / _col("n"), _col("gamma")
    assert eta.min() <= 1.5e-3 and eta.max() >= 0.7e3
    assert g.min() == 1e-12 and g.max() == 1e6
    # log-spread: every decade of gamma and of eta is visited
    assert len(set(np.floor(np.log10(g)).astype(int))) >= 17
    assert len(set(np.floor(np.log10(eta)).astype(int))) >= 6


def test_delta_kappa_h_against_mpmath():
    eta = _col("p") / _col("n")  # float eta, converted exactly for the reference
    g = _col("gamma")
    refs = [ref_blocks(X(e), X(gg)) for e, gg in zip(eta, g)]
    _assert_close(blocks.delta(eta, g), [r[0] for r in refs], "delta")
    _assert_close(blocks.kappa(eta, g), [r[1] for r in refs], "kappa")
    _assert_close(blocks.h_factor(eta, g), [r[2] for r in refs], "h")


def test_source_stats_against_mpmath():
    p, N, mu, gs = _col("p"), _col("N"), _col("mu"), _col("gamma_src")
    st = blocks.source_stats(p, N=N, mu=mu, gamma_src=gs)
    refs = [ref_source(int(a), int(b), X(c), X(d)) for a, b, c, d in zip(p, N, mu, gs)]
    _assert_close(st.mean, [r[0] for r in refs], "source mean m~")
    _assert_close(st.second_moment, [r[1] for r in refs], "source second moment E~2")
    _assert_close(st.norm2, [r[2] for r in refs], "source norm2 r = E~2 - m~^2")


def test_fixed_source_moments_coefficients_against_long_forms():
    eta, g = _col("p") / _col("n"), _col("gamma")
    M, s, r = _col("M"), _col("s"), _col("r")
    c = blocks.fixed_source_moments(eta, gamma=g, target_norm2=M, alignment=s, source_norm2=r)
    refs = [ref_fixed(X(e), X(gg), X(a), X(b), X(cc)) for e, gg, a, b, cc in zip(eta, g, M, s, r)]
    for key in ("m0", "m1", "T1", "T3"):
        _assert_close(getattr(c, key), [rf[key] for rf in refs], key)
    # T2 carries the sign of s and can be tiny next to T1, T3: scale by sqrt(T1 T3)
    _assert_close(c.T2, [rf["T2"] for rf in refs], "T2",
                  scale=[abs(rf["T2"]) + mp.sqrt(rf["T1"] * rf["T3"]) * 1e-3 for rf in refs])


# ----------------------------------------------------------------------------------------
# Top-level functions, fixed-source and ridge-source keyword sets
# ----------------------------------------------------------------------------------------


def _fixed_kw():
    return dict(gamma=_col("gamma"), target_norm2=_col("M"), alignment=_col("s"),
                source_norm2=_col("r"))


def _ridge_kw():
    return dict(N=_col("N"), mu=_col("mu"), mu_orth=_col("mu_orth"), beta=_col("beta"),
                gamma=_col("gamma"), gamma_src=_col("gamma_src"))


@pytest.mark.parametrize("which", ["fixed", "ridge"])
def test_moments_accuracy_error_against_mpmath(which, fixed_ref, ridge_ref):
    refs = fixed_ref if which == "fixed" else ridge_ref
    kw = _fixed_kw() if which == "fixed" else _ridge_kw()
    n, p = _col("n"), _col("p")
    for j in range(2):
        alpha = np.array([a[j] for _, a in refs])
        at = [ref_at_alpha(ref, a[j]) for ref, a in refs]
        m, E2 = ra.score_moments(alpha, n, p, **kw)
        # m = m0 + alpha m1 may cancel; its natural scale is |m0| + |alpha m1|
        _assert_close(m, [x["m"] for x in at], f"{which} m (alpha #{j})",
                      scale=[x["scale_m"] for x in at])
        _assert_close(E2, [x["E2"] for x in at], f"{which} E2 (alpha #{j})")
        _assert_close(ra.test_accuracy(alpha, n, p, **kw), [x["acc"] for x in at],
                      f"{which} accuracy (alpha #{j})")
        _assert_close(ra.test_error(alpha, n, p, **kw), [x["err"] for x in at],
                      f"{which} error 1 - A (alpha #{j})")
        _assert_close(ra.test_risk(alpha, n, p, **kw),
                      [x["E2"] - 2 * x["m"] + 1 for x in at], f"{which} risk (alpha #{j})",
                      scale=[x["E2"] + 2 * abs(x["m"]) + 1 for x in at])


def test_accuracies_span_the_interesting_range(fixed_ref, ridge_ref):
    # the comparison above is meaningful near A = 1 (error relative) and below 1/2
    accs = [ref_at_alpha(ref, a[j])["acc"] for refs in (fixed_ref, ridge_ref)
            for ref, a in refs for j in range(2)]
    assert min(accs) < 0.2 and max(accs) > 1 - 1e-6
    assert sum(1 for a in accs if 0.55 < a < 0.95) > 50


@pytest.mark.parametrize("which", ["fixed", "ridge"])
def test_optimal_and_chance_alpha_against_mpmath(which, fixed_ref, ridge_ref):
    refs = fixed_ref if which == "fixed" else ridge_ref
    kw = _fixed_kw() if which == "fixed" else _ridge_kw()
    n, p = _col("n"), _col("p")
    _assert_close(ra.optimal_alpha(n, p, **kw), [r["alpha_star"] for r, _ in refs],
                  f"{which} alpha*")
    _assert_close(ra.chance_alpha(n, p, **kw), [r["alpha_bar"] for r, _ in refs],
                  f"{which} alpha-bar")


def test_source_accuracy_against_mpmath(ridge_ref):
    got = ra.source_accuracy(_col("p"), N=_col("N"), mu=_col("mu"), beta=_col("beta"),
                             gamma_src=_col("gamma_src"))
    _assert_close(got, [r["src_acc"] for r, _ in ridge_ref], "source accuracy")


def test_source_vectors_against_mpmath():
    rng = np.random.default_rng(7)
    for p, n, g in [(50, 20, 1e-3), (50, 200, 1e-12), (300, 300, 1e-10), (7, 3, 1e5)]:
        w, mub = rng.standard_normal(p), rng.standard_normal(p) * 0.2
        with mp.workdps(max(DPS, mp.mp.dps)):
            M = mp.fsum(X(x) ** 2 for x in mub)
            s = mp.fsum(X(a) * X(b) for a, b in zip(w, mub))
            r = mp.fsum(X(a) ** 2 for a in w)
        ref = ref_fixed(mp.mpf(p) / n, X(g), M, s, r)
        alpha = np.array([-2.0, 0.3, 4.0, float(ref["alpha_star"])])
        at = [ref_at_alpha(ref, a) for a in alpha]
        kw = dict(gamma=g, source=w, target_mean=mub)
        _assert_close(ra.test_accuracy(alpha, n, p, **kw), [x["acc"] for x in at], "acc")
        _assert_close(ra.test_error(alpha, n, p, **kw), [x["err"] for x in at], "err")
        _assert_close([ra.optimal_alpha(n, p, **kw)], [ref["alpha_star"]], "alpha*")


def test_literal_long_forms_equal_compact_forms_of_theory():
    """THEORY §3's compact forms and §4's r = (mu^2 + eta~)/(h~ L~^2) are identities of the
    literal ones (checked in the reference itself, so the reference is trustworthy)."""
    for row in POINTS[:40]:
        ref = ref_fixed(mp.mpf(row["p"]) / row["n"], X(row["gamma"]), X(row["M"]),
                        X(row["s"]), X(row["r"]))
        with mp.workdps(max(DPS, mp.mp.dps)):
            k, h, L, M, s, r, eta = (ref[k_] for k_ in ("kappa", "h", "L", "M", "s", "r", "eta"))
            T1c = ref["m0"] ** 2 + (M + eta) / (h * L**2)
            T3c = ref["m1"] ** 2 + k**2 * (1 - h) / (h * eta) * (
                r - s**2 * (2 * L - M - eta) / L**2)
            assert abs(T1c - ref["T1"]) <= mp.mpf(10) ** -30 * ref["T1"]
            assert abs(T3c - ref["T3"]) <= mp.mpf(10) ** -30 * ref["T3"]
            mt, E2t, rs = ref_source(row["p"], row["N"], X(row["mu"]), X(row["gamma_src"]))
            _, ks, hs = ref_blocks(mp.mpf(row["p"]) / row["N"], X(row["gamma_src"]))
            Ls = X(row["mu"]) ** 2 + 1 + ks
            rc = (X(row["mu"]) ** 2 + mp.mpf(row["p"]) / row["N"]) / (hs * Ls**2)
            assert abs(rc - rs) <= mp.mpf(10) ** -25 * rs
