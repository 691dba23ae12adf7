"""optimal_alpha_gamma (THEORY §12) against brute force, its limits, the profile theorem,
the two-maxima case, JAX, and its argument checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import ndtr

import rmt_alpha as ra
from rmt_alpha._joint import isotropic_snr

TASKS = 50


def _covariance(rng, p):
    """A random noise covariance: mostly a (p,) diagonal, sometimes a dense matrix with
    the same spectrum, sometimes a class pair (THEORY §9.1)."""
    lam = np.exp(rng.normal(0.0, 1.0, p))
    u = rng.uniform()
    if u < 0.1:
        Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
        return (Q * lam) @ Q.T
    if u < 0.2:
        return (lam, np.exp(rng.normal(0.0, 1.0, p)))
    return lam


def _random_tasks(kind, count, seed):
    """``count`` random tasks of one keyword set, as a list of (n, p, keywords) and, for the
    sets that broadcast, one batched (n, p, keywords)."""
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 400, count)
    p = np.maximum(1, (n * np.exp(rng.uniform(np.log(0.1), np.log(10), count))).astype(int))
    if kind == "ridge source":
        kw = dict(N=np.maximum(1, (p * np.exp(rng.uniform(np.log(0.3), np.log(30), count))).astype(int)),
                  mu=np.exp(rng.uniform(np.log(0.2), np.log(4), count)),
                  mu_orth=np.exp(rng.uniform(np.log(0.2), np.log(4), count)),
                  beta=rng.uniform(-1, 1, count),
                  gamma_src=np.exp(rng.uniform(np.log(1e-3), np.log(10), count)))
    elif kind == "fixed source":
        M = np.exp(rng.uniform(np.log(0.02), np.log(20), count))
        r = np.exp(rng.uniform(np.log(0.02), np.log(200), count))
        kw = dict(target_norm2=M, alignment=rng.uniform(-1, 1, count) * np.sqrt(M * r),
                  source_norm2=r)
    else:
        single = []
        for i in range(count):
            k = int(p[i]) if kind == "source vectors" else int(rng.integers(3, 16))
            m = int(n[i]) if kind == "source vectors" else int(rng.integers(10, 200))
            mean = rng.standard_normal(k) * rng.uniform(0.3, 2.0) / np.sqrt(k) * np.sqrt(k) ** 0.5
            source = rng.uniform(-1, 1) * mean + rng.standard_normal(k) * rng.uniform(0.05, 3) / np.sqrt(k)
            if kind == "source vectors":
                kw = dict(source=source, target_mean=mean)
            elif kind == "general fixed source":
                kw = dict(source=source, target_mean=mean, target_cov=_covariance(rng, k))
            else:
                kw = dict(N=int(rng.integers(5, 400)), source_mean=source, target_mean=mean,
                          source_cov=_covariance(rng, k), target_cov=_covariance(rng, k),
                          gamma_src=float(np.exp(rng.uniform(np.log(1e-2), np.log(10)))))
            single.append((m, k, kw))
        return single, None
    single = [(int(n[i]), int(p[i]), {k: v[i] for k, v in kw.items()}) for i in range(count)]
    return single, (n, p, kw)


KINDS = ("ridge source", "fixed source", "source vectors")
GENERAL = ("general ridge source", "general fixed source")


def _neighbour_spread(A, i, j):
    """The largest difference between the grid maximum A[i, j] and its grid neighbours: the
    grid's resolution there (a smooth maximum inside the cell exceeds A[i, j] by less)."""
    lo_i, hi_i = max(i - 1, 0), min(i + 2, A.shape[0])
    lo_j, hi_j = max(j - 1, 0), min(j + 2, A.shape[1])
    return float(A[i, j] - A[lo_i:hi_i, lo_j:hi_j].min())


def _beyond(values, edge):
    """``values`` with ``edge`` (far beyond the grid, where the closed forms equal their
    limits to rounding) added at both ends."""
    return np.concatenate([[edge[0]], values, [edge[1]]])


@pytest.mark.parametrize("kind", KINDS + GENERAL)
def test_joint_optimum_is_the_dense_grid_maximum(kind):
    """At 50 random tasks per keyword set: the joint optimum is never worse than the best point
    of a dense grid in (alpha, log gamma), and better by no more than the grid's resolution;
    likewise the tuned alpha = 1 and alpha = 0 against a dense grid in log gamma. The grids
    end with points far beyond them (gamma = 1e-14, 1e14; alpha = +-1e100), where the closed
    forms equal the limits to rounding."""
    single, batch = _random_tasks(kind, TASKS, seed=sum(map(ord, kind)))
    # alpha: 0 and +-10^k, k in [-12, 6], 30 per decade; gamma: 20 per decade
    mag = _beyond(np.logspace(-12, 6, 541), (1e-300, 1e100))[1:]
    alpha = np.concatenate([-mag[::-1], [0.0], mag])[:, None]
    span = (-10, 10, 401) if kind in KINDS else (-8, 8, 321)  # the general sets cost more
    gamma = _beyond(np.logspace(*span), (1e-14, 1e14))
    results = [ra.optimal_alpha_gamma(n, p, **kw) for n, p, kw in single]
    if batch is not None:  # the batched call gives the same numbers
        n, p, kw = batch
        together = ra.optimal_alpha_gamma(n, p, **kw)
        for f in ra.JointOptimum._fields:
            np.testing.assert_allclose(getattr(together, f),
                                       [getattr(r, f) for r in results], rtol=1e-12)
    for (n, p, kw), res in zip(single, results):
        A = ra.test_accuracy(alpha, n, p, gamma=gamma[None, :], **kw)
        i, j = np.unravel_index(np.argmax(A), A.shape)
        assert res.accuracy >= A[i, j] - 1e-12
        assert res.accuracy - A[i, j] <= _neighbour_spread(A, i, j) + 1e-12
        # the reported point has the reported accuracy
        if 0 < res.gamma < np.inf and np.isfinite(res.alpha):
            assert res.alpha == pytest.approx(ra.optimal_alpha(n, p, gamma=res.gamma, **kw), rel=1e-12)
            assert res.accuracy == pytest.approx(
                ra.test_accuracy(res.alpha, n, p, gamma=res.gamma, **kw), rel=1e-14)
        curves = ra.test_accuracy(np.array([[1.0], [0.0]]), n, p, gamma=gamma[None, :], **kw)
        for a, curve, acc, g in (
                (1.0, curves[0], res.accuracy_fine_tuning, res.gamma_fine_tuning),
                (0.0, curves[1], res.accuracy_no_transfer, res.gamma_no_transfer)):
            k = int(np.argmax(curve))
            assert acc >= curve[k] - 1e-12
            assert acc - curve[k] <= _neighbour_spread(curve[:, None], k, 0) + 1e-12
            if 0 < g < np.inf:
                assert acc == pytest.approx(ra.test_accuracy(a, n, p, gamma=g, **kw), rel=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_isotropic_joint_profile_is_sqrt_h_times_the_limit(kind):
    """THEORY §12: A(alpha*(gamma), gamma) = Phi(sqrt(h(gamma)) S) with
    S^2 = (M d + eta s^2) / (d + eta r): one increasing curve, no second local maximum, and
    the joint optimum is the limit gamma -> infinity with alpha gamma = eta s / d."""
    single, _ = _random_tasks(kind, 20, seed=7)
    g = np.logspace(-10, 10, 201)
    for n, p, kw in single:
        task = ra._task.resolve(n, p, dict(kw, gamma=1.0))
        eta, M, s, r = (float(x) for x in (task.eta, task.M, task.s, task.r))
        d = M * r - s * s
        S = np.sqrt((M * d + eta * s * s) / (d + eta * r))
        m, e2 = ra.score_moments(ra.optimal_alpha(n, p, gamma=g, **kw), n, p, gamma=g, **kw)
        snr = m / np.sqrt(e2 - m * m)
        h = ra.blocks.h_factor(eta, g)
        np.testing.assert_allclose(snr, np.sqrt(h) * S, rtol=1e-9)
        assert np.all(np.diff(h)[h[1:] < 1 - 1e-9] > 0)  # increasing (until h rounds to 1)
        res = ra.optimal_alpha_gamma(n, p, **kw)
        assert res.gamma == np.inf and res.alpha == 0.0
        assert res.alpha_gamma == pytest.approx(eta * s / d, rel=1e-12)
        assert res.accuracy == pytest.approx(ndtr(S), rel=1e-14)


def test_isotropic_snr_is_the_theory_in_other_variables():
    """isotropic_snr(alpha kappa, 1/(1 + kappa)) is the SNR of THEORY §3 at finite gamma."""
    rng = np.random.default_rng(3)
    eta = np.exp(rng.uniform(-3, 3, 400))
    gamma = np.exp(rng.uniform(-8, 8, 400))
    M = np.exp(rng.uniform(-4, 3, 400))
    r = np.exp(rng.uniform(-4, 4, 400))
    s = rng.uniform(-1, 1, 400) * np.sqrt(M * r)
    alpha = rng.normal(0, 3, 400)
    k = ra.blocks.kappa(eta, gamma)
    c = ra.blocks.fixed_source_moments(eta, gamma=gamma, target_norm2=M, alignment=s,
                                       source_norm2=r)
    m = c.m0 + alpha * c.m1
    var = c.T1 + alpha * c.T2 + alpha ** 2 * c.T3 - m * m
    np.testing.assert_allclose(isotropic_snr(alpha * k, 1 / (1 + k), eta=eta, M=M, s=s, r=r),
                               m / np.sqrt(var), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("eta_n", [(0.25, 400), (4.0, 100)])
def test_limits_are_the_theory_at_extreme_gamma(eta_n):
    """The exact limits gamma -> 0 and -> infinity against the §3-§4 closed forms at
    gamma = 1e-10 and 1e10 (p < n and p > n)."""
    eta, n = eta_n
    p = int(eta * n)
    kw = dict(N=3 * p, mu=1.3, mu_orth=0.7, beta=0.6, gamma_src=0.5)
    from rmt_alpha._joint import _isotropic_limits

    at0, at_inf = _isotropic_limits(n, p, kw)
    for g, lim in ((1e-10, at0), (1e10, at_inf)):
        a_star = ra.optimal_alpha(n, p, gamma=g, **kw)
        assert lim.accuracy == pytest.approx(ra.test_accuracy(a_star, n, p, gamma=g, **kw), abs=1e-8)
        assert lim.accuracy_fine_tuning == pytest.approx(
            ra.test_accuracy(1.0, n, p, gamma=g, **kw), abs=1e-8)
        assert lim.accuracy_no_transfer == pytest.approx(
            ra.test_accuracy(0.0, n, p, gamma=g, **kw), abs=1e-8)
        assert lim.alpha_gamma == pytest.approx(a_star * g, rel=1e-6, abs=1e-8)
        if eta > 1 or g > 1:
            assert lim.alpha == pytest.approx(a_star, rel=1e-6, abs=1e-8)
        else:
            assert np.isinf(lim.alpha) and a_star > 1e8


@pytest.mark.parametrize("kind", GENERAL)
def test_general_limit_is_the_theory_at_large_gamma(kind):
    """The general gamma -> infinity limit (THEORY §12.4: the classifier X y/n + c w~ under
    general covariances) against the §9 closed forms at gamma = 1e6 ... 1e12 (they converge
    to it like 1/gamma), for alpha* (as c = alpha gamma), alpha = 1 and alpha = 0; with every
    covariance structure (diagonal, dense, a class pair)."""
    from rmt_alpha._joint import _general_limits

    rng = np.random.default_rng(11)
    p, n = 12, 40
    lam = np.exp(rng.normal(0.0, 1.0, p))
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    mean = rng.standard_normal(p) / np.sqrt(p) * 1.5
    source = 0.6 * mean + rng.standard_normal(p) / np.sqrt(p)
    for cov in (lam, (Q * lam) @ Q.T, (lam, lam[::-1])):
        kw = (dict(source=source, target_mean=mean, target_cov=cov) if kind == "general fixed source"
              else dict(N=80, source_mean=source, target_mean=mean, source_cov=lam[::-1],
                        target_cov=cov, gamma_src=0.5))
        _, lim = _general_limits(n, p, kw)
        gaps = []
        for g in (1e6, 1e9, 1e12):
            a = ra.optimal_alpha(n, p, gamma=g, **kw)
            gaps.append([abs(ra.test_accuracy(a, n, p, gamma=g, **kw) - lim.accuracy),
                         abs(a * g - lim.alpha_gamma) / abs(lim.alpha_gamma),
                         abs(ra.test_accuracy(1.0, n, p, gamma=g, **kw) - lim.accuracy_fine_tuning),
                         abs(ra.test_accuracy(0.0, n, p, gamma=g, **kw) - lim.accuracy_no_transfer)])
        gaps = np.array(gaps)
        assert np.all(gaps[-1] < 1e-9), gaps
        assert np.all(gaps[1] <= gaps[0] + 1e-12)  # converging
        assert lim.error + lim.accuracy == pytest.approx(1.0, abs=1e-15)


def test_anisotropic_noise_gives_an_interior_optimum():
    """THEORY §12.4: with anisotropic noise the ridge whitens it, and the joint optimum is
    interior (here gamma** ~ 0.48), better than the limit gamma -> infinity."""
    rng = np.random.default_rng(0)
    p, n = 50, 100
    lam = np.exp(rng.normal(0, 1, p))
    mu_t = rng.normal(0, 1, p) / np.sqrt(p) * 1.5
    mu_s = 0.7 * mu_t + rng.normal(0, 1, p) / np.sqrt(p)
    kw = dict(N=200, source_mean=mu_s, target_mean=mu_t, source_cov=lam, target_cov=lam,
              gamma_src=1.0)
    res = ra.optimal_alpha_gamma(n, p, **kw)
    assert 0.1 < res.gamma < 2.0 and np.isfinite(res.alpha)
    from rmt_alpha._joint import _general_limits

    _, lim = _general_limits(n, p, kw)
    assert res.accuracy > lim.accuracy + 1e-3
    assert res.accuracy >= max(res.accuracy_fine_tuning, res.accuracy_no_transfer)
    # and the same covariance made isotropic (its mean eigenvalue) puts it at infinity
    iso = ra.optimal_alpha_gamma(n, p, **{**kw, "source_cov": np.full(p, lam.mean()),
                                          "target_cov": np.full(p, lam.mean())})
    assert iso.gamma == np.inf


@pytest.mark.parametrize("task, global_is_low", [
    # fixed-source tasks whose A(1, gamma) has two local maxima (found by a random search)
    (dict(n=400, p=295, target_norm2=0.0478, alignment=0.795, source_norm2=694.0), True),
    (dict(n=400, p=219, target_norm2=0.108, alignment=0.989, source_norm2=55.0), False),
])
def test_fine_tuning_profile_with_two_local_maxima(task, global_is_low):
    """Plain fine-tuning's profile A(1, gamma) can have two local maxima (THEORY §12): the
    search finds the global one, whichever side it is on."""
    n, p = task.pop("n"), task.pop("p")
    g = np.logspace(-6, 6, 12001)
    curve = ra.test_accuracy(1.0, n, p, gamma=g, **task)
    inner = (curve[1:-1] > curve[:-2]) & (curve[1:-1] >= curve[2:])
    peaks = np.where(inner)[0] + 1
    assert len(peaks) == 2
    dip = curve[peaks[0]:peaks[1]].min()
    assert min(curve[peaks]) - dip > 1e-4  # two separate maxima, not rounding
    best = peaks[np.argmax(curve[peaks])]
    assert (best == peaks[0]) == global_is_low
    res = ra.optimal_alpha_gamma(n, p, **task)
    assert abs(np.log10(res.gamma_fine_tuning / g[best])) < 2e-3
    assert res.accuracy_fine_tuning >= curve[best] - 1e-12
    # a bound that excludes the global maximum leaves the other one
    other = peaks[0] if best == peaks[1] else peaks[1]
    cut = g[peaks[0] + np.argmin(curve[peaks[0]:peaks[1]])]  # the dip between them
    bounds = dict(gamma_min=cut) if other == peaks[1] else dict(gamma_max=cut)
    res = ra.optimal_alpha_gamma(n, p, **task, **bounds)
    assert abs(np.log10(res.gamma_fine_tuning / g[other])) < 2e-3


def test_finite_bounds_are_respected():
    kw = dict(N=1000, mu=1.0, mu_orth=1.5, beta=0.3, gamma_src=1.0)
    res = ra.optimal_alpha_gamma(200, 100, **kw, gamma_min=1e-3, gamma_max=10.0)
    assert res.gamma == 10.0  # the profile grows with gamma: the upper bound
    assert res.alpha == pytest.approx(ra.optimal_alpha(200, 100, **kw, gamma=10.0), rel=1e-12)
    assert res.alpha_gamma == pytest.approx(10.0 * res.alpha, rel=1e-12)
    assert 1e-3 <= res.gamma_fine_tuning <= 10.0 and res.gamma_no_transfer == 10.0
    # the example of the issue: fine-tuning's best gamma is interior
    full = ra.optimal_alpha_gamma(200, 100, **kw)
    assert full.gamma_fine_tuning == pytest.approx(0.615, rel=1e-2)
    assert (full.accuracy, full.accuracy_fine_tuning, full.accuracy_no_transfer) == pytest.approx(
        (0.9061, 0.8761, 0.9059), abs=1e-4)


def test_minimum_norm_limit_is_reported_as_gamma_zero():
    """p > n and an anti-aligned source: plain fine-tuning is best in the limit gamma -> 0."""
    kw = dict(N=2000, mu=1.5, mu_orth=1.0, beta=-1.0, gamma_src=1.0)
    res = ra.optimal_alpha_gamma(100, 400, **kw)
    assert res.gamma_fine_tuning == 0.0
    g = np.logspace(-12, 12, 2401)
    curve = ra.test_accuracy(1.0, 100, 400, gamma=g, **kw)
    assert np.argmax(curve) == 0 and res.accuracy_fine_tuning >= curve.max()
    assert res.accuracy_fine_tuning == pytest.approx(
        ra.test_accuracy(1.0, 100, 400, gamma=1e-14, **kw), abs=1e-10)


def test_broadcasting_and_scalars():
    beta = np.linspace(-1, 1, 3)[:, None]
    n = np.array([50, 200, 800])[None, :]
    res = ra.optimal_alpha_gamma(n, 400, N=2000, mu=1.5, mu_orth=1.0, beta=beta, gamma_src=1.0)
    for f in res:
        assert f.shape == (3, 3) and f.dtype == np.float64
    one = ra.optimal_alpha_gamma(200, 400, N=2000, mu=1.5, mu_orth=1.0, beta=1.0, gamma_src=1.0)
    assert all(np.ndim(f) == 0 and isinstance(f, np.float64) for f in one)
    assert one.accuracy == res.accuracy[2, 1]
    # orthogonal source: nothing to transfer
    orth = ra.optimal_alpha_gamma(200, 400, target_norm2=1.0, alignment=0.0, source_norm2=2.0)
    assert orth.alpha_gamma == 0.0 and orth.accuracy == pytest.approx(orth.accuracy_no_transfer)


def test_jax_matches_numpy_and_derivatives_match_finite_differences():
    """Under jit and vmap, the values equal numpy's, and the derivatives with respect to beta
    (forward mode, and reverse mode once) equal central finite differences of the numpy
    results: the accuracies' and, by the implicit-function theorem, the tuned gamma's."""
    kw = dict(N=2000, mu=1.5, mu_orth=1.0, gamma_src=1.0)
    n, p = 100, 400

    def f(beta):
        return ra.optimal_alpha_gamma(n, p, beta=beta, **kw)

    betas = (0.2, 0.8)
    values, tangents = jax.jit(jax.vmap(lambda b: jax.jvp(f, (b,), (jnp.ones_like(b),))))(
        jnp.array(betas))
    h = 1e-4
    for k, beta in enumerate(betas):
        num = f(beta)
        for name, a in zip(num._fields, num):
            # the location of a flat maximum is known to ~1e-8, its height to ~1e-16
            np.testing.assert_allclose(np.asarray(getattr(values, name))[k], a,
                                       rtol=1e-12 if "accuracy" in name else 1e-6, err_msg=name)
        up, down = f(beta + h), f(beta - h)
        for name in ("accuracy", "alpha_gamma", "accuracy_fine_tuning", "gamma_fine_tuning",
                     "accuracy_no_transfer"):
            fd = (getattr(up, name) - getattr(down, name)) / (2 * h)
            assert float(getattr(tangents, name)[k]) == pytest.approx(fd, rel=1e-3, abs=1e-7), name
    grad = jax.jit(jax.grad(lambda b: f(b).gamma_fine_tuning))(jnp.asarray(betas[1]))
    assert float(grad) == pytest.approx(float(tangents.gamma_fine_tuning[1]), rel=1e-9)


@pytest.mark.parametrize("kw, error, match", [
    (dict(gamma=1.0), TypeError, "tunes gamma"),
    (dict(gamma_min=-1.0), ValueError, "gamma_min"),
    (dict(gamma_min=float("nan")), ValueError, "gamma_min"),
    (dict(gamma_min=2.0, gamma_max=1.0), ValueError, "gamma_max"),
    (dict(gamma_max="big"), TypeError, "gamma_max"),
    (dict(beta=1.5), ValueError, "beta"),
    (dict(N=0), ValueError, "N"),
    (dict(target_norm2=1.0), TypeError, "keyword set"),
])
def test_bad_arguments(kw, error, match):
    task = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.5, gamma_src=1.0)
    task.update(kw)
    with pytest.raises(error, match=match):
        ra.optimal_alpha_gamma(100, 400, **task)


def test_every_keyword_set_has_its_limits():
    from rmt_alpha._joint import _LIMITS

    assert set(_LIMITS) == set(ra._task.KEYWORD_SETS)


def test_bad_sizes():
    with pytest.raises(ValueError, match="n must"):
        ra.optimal_alpha_gamma(0, 400, target_norm2=1.0, alignment=0.5, source_norm2=1.0)


def test_dense_covariances_are_validated_once_per_search(monkeypatch):
    """The search evaluates the closed forms ~200 times on one task: its covariances are
    validated (finite, symmetric, hashed) once, and only inside the call."""
    from rmt_alpha import _covariance

    p = 30
    rng = np.random.default_rng(3)
    A = rng.standard_normal((p, p)) / np.sqrt(p)
    C = A @ A.T + np.eye(p)
    mu = np.zeros(p)
    mu[0] = 1.2
    kw = dict(N=120, source_mean=mu, target_mean=0.7 * mu + 0.5 * np.eye(p)[1],
              source_cov=C, target_cov=C, gamma_src=1.0)
    calls = []
    validate = _covariance._validate_one
    monkeypatch.setattr(_covariance, "_validate_one",
                        lambda *a: calls.append(a[0]) or validate(*a))
    res = ra.optimal_alpha_gamma(40, p, **kw)
    assert calls == ["target_cov"]  # Cs is Ct: one object, one validation
    assert _covariance._SCOPE.get() is None
    ra.test_accuracy(res.alpha, 40, p, **kw, gamma=res.gamma)  # outside: validated again
    assert calls == ["target_cov", "target_cov"]
