"""The centred target (THEORY §11.4): exactness where it is exact, and the actual centring
pipeline of rmt_alpha._data against the closed forms by Monte Carlo (z-scores with an O(1/p)
allowance), where the uncentred theory misses by O(1)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

import rmt_alpha as ra
from rmt_alpha import _centred as ce
from rmt_alpha._blas import one_blas_thread
from rmt_alpha._data import _estimate, _fit_target, prepare_source, source_weight
from rmt_alpha._general import score_coefficients
from rmt_alpha._task import resolve

ALPHAS = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 3.0])
# the pipeline's isotropic summaries are clipped at these sizes: not what is tested here
pytestmark = pytest.mark.filterwarnings("ignore:estimate_task:RuntimeWarning")


@pytest.fixture(autouse=True, scope="module")
def _small_matrices_one_blas_thread():
    with one_blas_thread():
        yield


def setting(p, *, classes=True):
    """Smooth profiles e1, e2; a power-law spectrum (mean 1); class-dependent target noise
    ``(1.5 lam, 0.5 lam reversed)`` (``classes``) or shared ``lam``."""
    t = np.linspace(0.0, 1.0, p)
    e1 = 1.0 + 0.5 * np.sin(2 * np.pi * t)
    e1 /= np.linalg.norm(e1)
    e2 = np.cos(2 * np.pi * t)
    e2 -= (e2 @ e1) * e1
    e2 /= np.linalg.norm(e2)
    lam = (np.arange(1, p + 1) / p + 0.1) ** -1.0
    lam /= lam.mean()
    cov = (1.5 * lam, 0.5 * lam[::-1]) if classes else (lam, lam)
    return dict(mu=1.3 * e1 + 0.8 * e2, w=0.6 * e1 + 0.5 * e2[::-1], cov=cov, lam=lam, e1=e1,
                e2=e2)


def proposition_2(alpha, n, p, *, gamma, target_mean, N=None, gamma_src=None, source_mean=None,
                  **task):
    """THEORY §11.4's exact map for a shared covariance and balanced counts, written with the
    uncentred theory (THEORY §9): the target at ``n - 1``, ``mu_t sqrt(n/(n-1))``,
    ``gamma n/(n-1)``, ``alpha sqrt((n-1)/n)``, accuracy ``Phi(sqrt((n-1)/(n+1)) m/sqrt(V))``;
    a ridge source likewise at ``N - 1`` (its classifier is ``sqrt(N/(N-1))`` times that one)."""
    k = np.sqrt(n / (n - 1.0))
    a = np.asarray(alpha) / k
    kw = dict(task, target_mean=target_mean * k, gamma=gamma * k * k)
    if N is not None:
        ks = np.sqrt(N / (N - 1.0))
        kw.update(N=N - 1, source_mean=source_mean * ks, gamma_src=gamma_src * ks * ks)
        a = a * ks
    c = score_coefficients(n - 1, p, **kw)
    m = c.m0 + a * c.m1
    V = c.V0[..., 0] + a * (2.0 * c.V01[..., 0] + a * c.V11[..., 0])
    return ndtr(np.sqrt((n - 1.0) / (n + 1.0)) * m / np.sqrt(V))


@pytest.mark.parametrize("dense", [False, True])
def test_shared_covariance_balanced_counts_is_exactly_proposition_2(dense):
    rng = np.random.default_rng(0)
    p, n, N = 30, 20, 40
    A = rng.standard_normal((p, p))
    C = A @ A.T / p + 0.1 * np.eye(p) if dense else rng.uniform(0.3, 3.0, p)
    mu_t, mu_s, w = (rng.standard_normal(p) * s for s in (0.3, 0.3, 0.2))
    fixed = dict(source=w, target_mean=mu_t, target_cov=C, gamma=0.7)
    got = ce.accuracy(ALPHAS, ce.coefficients(resolve(n, p, fixed), ce.balanced(n)))
    assert np.allclose(got, proposition_2(ALPHAS, n, p, **fixed), rtol=0, atol=1e-13)
    ridge = dict(N=N, source_mean=mu_s, target_mean=mu_t, source_cov=C, target_cov=C,
                 gamma=0.7, gamma_src=1.3)
    c = ce.coefficients(resolve(n, p, ridge), ce.balanced(n), ce.balanced(N))
    assert np.allclose(ce.accuracy(ALPHAS, c), proposition_2(ALPHAS, n, p, **ridge), atol=1e-13)
    # and the closed-form alpha* equals the numerical maximiser of the map
    a = ce.optimal_alpha(c)
    grid = a + np.linspace(-1e-3, 1e-3, 21)
    assert np.argmax(proposition_2(grid, n, p, **ridge)) == 10


def _pipeline_accuracy(rng, s, *, n_plus, n_minus, trials, w=None, source=None, gamma=1.0,
                       gamma_src=1.0):
    """Mean and standard error over ``trials`` of the exact conditional accuracy of the real
    pipeline: target rows with an offset, centred by rmt_alpha._data (prepare_source /
    _estimate with center=True, standardize=False), _fit_target; a test point is shifted by the
    same centre. ``w``: a fixed source; ``source = (N_plus, N_minus, mu_s, Cs+, Cs-)``: a
    fresh ridge source per trial, centred at its own midpoint by prepare_source."""
    p = s["mu"].size
    offset = 0.7 + 0.3 * s["e2"]
    Cp, Cm = s["cov"]
    y = np.r_[np.ones(n_plus), -np.ones(n_minus)]
    sd = np.sqrt(np.where(y[:, None] > 0, Cp, Cm))

    def rows(yy, mean, scale):
        return yy[:, None] * mean + rng.standard_normal((yy.size, p)) * scale + offset

    if source is None:
        dummy = rows(np.r_[np.ones(3), -np.ones(3)], np.zeros(p), 1.0)
        src = prepare_source(dummy, np.r_[np.ones(3), -np.ones(3)], standardize=False)
    else:
        Np, Nm, mu_s, Csp, Csm = source
        ys = np.r_[np.ones(Np), -np.ones(Nm)]
        sds = np.sqrt(np.where(ys[:, None] > 0, Csp, Csm))
    acc = np.empty((trials, ALPHAS.size))
    for k in range(trials):
        if source is not None:
            src = prepare_source(rows(ys, mu_s, sds), ys, standardize=False)
            w = source_weight(src.Z, src.y, gamma_src)
        est = _estimate(src, rows(y, s["mu"], sd), y)
        W = _fit_target(w, est.X_target, est.y_target, ALPHAS, gamma, gamma_src).weights
        shift = W @ (est._transform.center_target - offset)  # w^T e, e the centring error
        m = W @ s["mu"]
        acc[k] = 0.5 * (ndtr((m - shift) / np.sqrt((W * W * Cp).sum(1)))
                        + ndtr((m + shift) / np.sqrt((W * W * Cm).sum(1))))
    return acc.mean(0), acc.std(0, ddof=1) / np.sqrt(trials)


CASES = {
    # class-dependent target noise, balanced: the uncentred theory misses by up to 0.07
    "class-dependent, balanced": dict(p=240, n_plus=48, n_minus=48, classes=True),
    # shared noise, 30 / 70 counts: the midpoint carries the smaller class's noise
    "shared, 30/70": dict(p=240, n_plus=30, n_minus=70, classes=False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_centred_pipeline_fixed_source_monte_carlo(name):
    """1500 trials of the actual pipeline (THEORY §11.4's setting): |MC - theory| within 4
    standard errors plus 0.1/p (the O(1/p) gap of THEORY_GENERAL §9 and the unmodelled O(1/n)
    fluctuation of the score mean; measured |z| <= 2.7) at every alpha; the uncentred theory
    is rejected (|z| up to 50-120)."""
    case = dict(CASES[name])
    p = case.pop("p")
    s = setting(p, classes=case.pop("classes"))
    n = case["n_plus"] + case["n_minus"]
    task = dict(source=s["w"], target_mean=s["mu"], target_cov=s["cov"], gamma=1.0)
    th = ce.accuracy(ALPHAS, ce.coefficients(resolve(n, p, task),
                                             ce.Counts(case["n_plus"], case["n_minus"])))
    mc, se = _pipeline_accuracy(np.random.default_rng(11), s, w=s["w"], trials=1500, **case)
    assert np.all(np.abs(mc - th) < 4 * se + 0.1 / p), (mc - th, se)
    uncentred = ra.test_accuracy(ALPHAS, n, p, **task)
    assert np.max(np.abs(mc - uncentred) / se) > 15


def test_centred_pipeline_ridge_source_monte_carlo():
    """A fresh ridge source per trial, class-dependent source and target noise, both centred
    at their midpoints by prepare_source / _estimate: the composition with the centred source
    moments (THEORY §11.4) within 4 s.e. + 0.2/p (measured |z| <= 2.3; the uncentred theory:
    |z| up to 57)."""
    p, n_plus, n_minus, N_plus, N_minus = 100, 25, 25, 60, 40
    s = setting(p)
    lam = s["lam"]
    Cs = (0.5 * (1 + lam), lam[::-1])
    mu_s = 1.2 * s["e1"] - 0.4 * s["e2"]
    th_task = dict(N=N_plus + N_minus, source_mean=mu_s, target_mean=s["mu"], source_cov=Cs,
                   target_cov=s["cov"], gamma=1.0, gamma_src=1.0)
    c = ce.coefficients(resolve(n_plus + n_minus, p, th_task), ce.Counts(n_plus, n_minus),
                        ce.Counts(N_plus, N_minus))
    th = ce.accuracy(ALPHAS, c)
    mc, se = _pipeline_accuracy(np.random.default_rng(5), s, n_plus=n_plus, n_minus=n_minus,
                                trials=1200, source=(N_plus, N_minus, mu_s, *Cs))
    assert np.all(np.abs(mc - th) < 4 * se + 0.2 / p), (mc - th, se)
    uncentred = ra.test_accuracy(ALPHAS, n_plus + n_minus, p, **th_task)
    assert np.max(np.abs(mc - uncentred) / se) > 8


def test_task_estimate_centred_uses_its_counts_and_isotropic_sets():
    """TaskEstimate(centred=True): the data's class counts (balanced n//2 for another n), the
    isotropic sets written as unit-covariance vectors (THEORY §1's invariance): equal to
    Proposition 2 with the isotropic closed forms."""
    rng = np.random.default_rng(3)
    p, N, n = 40, 300, 20
    s = setting(p, classes=False)
    ys = np.where(np.arange(N) < N // 2, 1.0, -1.0)
    yt = np.where(np.arange(n) < 8, 1.0, -1.0)  # 8 / 12
    Xs = ys[:, None] * 1.5 * s["e1"] + rng.standard_normal((N, p))
    Xt = yt[:, None] * s["mu"] + rng.standard_normal((n, p))
    task = ra.estimate_task(Xs, ys, Xt, yt, standardize=False)
    G = dict(gamma=0.5, gamma_src=1.0)
    kw = task.theory_kwargs(**G)
    e1, e2 = np.eye(p)[0], np.eye(p)[1]
    vec = dict(N=N, source_mean=task.mu * e1, target_mean=task.beta * task.mu * e1
               + np.sqrt(1 - task.beta**2) * task.mu_orth * e2, source_cov=np.ones(p),
               target_cov=np.ones(p), gamma=0.5, gamma_src=1.0)
    want = ce.accuracy(ALPHAS, ce.coefficients(resolve(n, p, vec), ce.Counts(8, 12),
                                               ce.balanced(N)))
    assert np.allclose(task.test_accuracy(ALPHAS, **G, centred=True), want, atol=1e-14)
    # another n: a balanced draw, which for unit noise is Proposition 2 with THEORY §3-§4
    got = task.test_accuracy(ALPHAS, **G, n=40, centred=True)
    assert np.allclose(got, proposition_2(ALPHAS, 40, p, **vec), atol=1e-13)
    assert kw["n"] == n and not np.allclose(got, task.test_accuracy(ALPHAS, **G, n=40))
    a = task.optimal_alpha(**G, n=40, centred=True)
    assert task.test_accuracy(a, **G, n=40, centred=True) >= got.max() - 1e-12
    with pytest.raises(TypeError, match="centred must be True or False"):
        task.test_accuracy(1.0, **G, centred="yes")
    with pytest.raises(ValueError, match="gamma must be a single number with centred=True"):
        task.test_accuracy(1.0, gamma=[0.5, 1.0], gamma_src=1.0, centred=True)
    with pytest.raises(ValueError, match="integers >= 2"):
        ce.check_counts("target_counts", (1, 19))
    with pytest.raises(ValueError, match="integers >= 2"):
        ce.check_counts("target_counts", (2.5, 19))
