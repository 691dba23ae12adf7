"""Figure 11 (general covariances): its tasks and its isotropic comparison."""

import numpy as np
import pytest

import rmt_alpha as ra
from rmt_alpha._general import score_coefficients
from rmt_alpha.experiments import _fig11_general_covariance as f11

P = 120


@pytest.fixture(scope="module")
def tasks():
    return f11.panels(P)


def test_panels_are_what_they_say(tasks):
    assert set(tasks) == set(f11.PANELS)
    lam = tasks["power law"]["target_cov"]
    assert lam.shape == (P,) and np.isclose(lam.mean(), 1.0) and 10 < lam.max() / lam.min() < 12
    Cs, Ct = tasks["Cs != Ct"]["source_cov"], tasks["Cs != Ct"]["target_cov"]
    assert np.allclose(np.linalg.eigvalsh(Ct), np.sort(Cs))  # a rotation of the same spectrum
    assert np.linalg.norm(Cs[:, None] * Ct - Ct * Cs[None, :]) > 1.0  # that does not commute
    Cp, Cm = tasks["class-dependent"]["target_cov"]
    assert not np.allclose(Cp, np.diag(Cm))
    t = tasks["power law"]
    assert (t["n"], t["N"], t["gamma"], t["gamma_src"]) == (P // 2, 10 * P, 1.0, 1.0)


def test_orthogonal_source_moves_no_mean_but_helps(tasks):
    """w~^T mu_t = 0 and m1 = 0 (THEORY §9.5), yet alpha* = -V01/V11 is far from 0 and the
    accuracy there exceeds that at alpha = 0; with the same noise level and no anisotropy the
    same source is useless (alpha* = 0, THEORY §3)."""
    t = dict(tasks["orthogonal source"])
    n = t.pop("n")
    w, mu = t["source"], t["target_mean"]
    assert abs(w @ mu) < 1e-12 * np.linalg.norm(w) * np.linalg.norm(mu)
    c = score_coefficients(n, P, **t)
    assert abs(float(c.m1)) < 1e-12 * abs(float(c.m0))
    a_star = ra.optimal_alpha(n, P, **t)
    assert a_star == pytest.approx(-float(c.V01[0]) / float(c.V11[0]), rel=1e-10)
    assert a_star > 0.5
    assert ra.test_accuracy(a_star, n, P, **t) > ra.test_accuracy(0.0, n, P, **t) + 0.005
    assert abs(ra.optimal_alpha(n, P, **f11.isotropic(t))) < 1e-12


def test_isotropic_comparison_is_the_isotropic_theory(tasks):
    """Every covariance replaced by (tr C / p) I = sigma^2 I is THEORY §3-§4 -- an independent
    closed form -- with mu / sigma, mu_orth / sigma, gamma / sigma^2 (scale invariance,
    THEORY_GENERAL §6); the panels' means are mu = 1.5, mu_orth = 1.2, beta = 0.6."""
    t = dict(tasks["spiked"])
    n = t.pop("n")
    iso = f11.isotropic(t)
    sigma2 = float(iso["target_cov"][0])
    assert sigma2 == pytest.approx(np.trace(t["target_cov"]) / P) and sigma2 > 1.0
    alphas = np.linspace(-2.0, 4.0, 7)
    s = np.sqrt(sigma2)
    want = ra.test_accuracy(alphas, n, P, N=t["N"], mu=1.5 / s, mu_orth=1.2 / s, beta=0.6,
                            gamma=t["gamma"] / sigma2, gamma_src=t["gamma_src"] / sigma2)
    assert np.allclose(ra.test_accuracy(alphas, n, P, **iso), want, rtol=1e-9, atol=0)


def test_no_chance_alpha_for_the_orthogonal_source():
    """m1 = 0: the score mean does not depend on alpha and no alpha reaches chance level, so
    the summary says nan rather than -m0/m1 of a rounding-level m1 (~1e16)."""
    d = f11.figure11(p=60, simulate=False, theory_points=5,
                     panels_shown=("power law", "orthogonal source"))
    power, orth = d.summary
    assert np.isfinite(power["chance_alpha"]) and power["chance_alpha"] < 0
    assert np.isnan(orth["chance_alpha"]) and np.isnan(orth["isotropic_chance_alpha"])
