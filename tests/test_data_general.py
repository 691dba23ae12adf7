"""estimate_task with the general covariance models (issue 8, THEORY §11): the estimators
against their sampling theory, convergence of the predictions to the true task's, the delta
method, the round trip of ``params`` into every theory function, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

import rmt_alpha as ra
from rmt_alpha import _data_covariance as dc

from rmt_alpha._blas import one_blas_thread

G = dict(gamma=0.5, gamma_src=1.0)
THEORY = ("test_accuracy", "test_error", "test_risk", "score_moments", "optimal_alpha",
          "chance_alpha")
# the isotropic summaries (mu, mu_orth, beta) are clipped at these small sizes: not tested here
pytestmark = pytest.mark.filterwarnings("ignore:estimate_task:RuntimeWarning")
MODES = [("pooled", "source"), ("pooled", "labelled"), ("pooled", "unlabelled"),
         ("class", "source"), ("class", "labelled"), ("class", "unlabelled")]


@pytest.fixture(autouse=True, scope="module")
def _small_matrices_one_blas_thread():
    with one_blas_thread():
        yield


def truth(p=12, seed=7, shared=True):
    """Anisotropic task: Cs a rotated power law (max/min 11), Ct a different, non-commuting
    power law at 1.5 times the level (``shared=False``: Ct+- differ by a spike)."""
    rng = np.random.default_rng(seed)
    lam = (np.arange(1, p + 1) / p + 0.1) ** -1
    lam /= lam.mean()
    U, _ = np.linalg.qr(rng.standard_normal((p, p)))
    Cs = (U * lam) @ U.T
    Ct = 1.5 * np.diag(lam[::-1])
    mu_s = 1.2 * U[:, 0] + 0.5 * U[:, p // 2]
    mu_t = 0.5 * mu_s + 0.8 * U[:, -1]
    if not shared:
        v = U[:, 1]
        Ct = (Ct + 2.0 * np.outer(v, v), Ct)
    return dict(source_mean=mu_s, target_mean=mu_t, source_cov=Cs, target_cov=Ct)


def draw(rng, m, mu, C, offset=0.0):
    """``m`` balanced rows ``y mu + N(0, C_y) + offset`` in random order (C or (C+, C-))."""
    y = rng.permutation(np.where(np.arange(m) < m // 2, 1.0, -1.0))
    covs = C if isinstance(C, tuple) else (C, C)
    X = np.empty((m, mu.size))
    for cls, Cy in zip((1.0, -1.0), covs):
        rows = y == cls
        X[rows] = cls * mu + rng.standard_normal((rows.sum(), mu.size)) @ np.linalg.cholesky(Cy).T
    return X + offset, y


def sample(rng, t, *, N, n, m):
    Xs, ys = draw(rng, N, t["source_mean"], t["source_cov"], offset=0.7)
    Xt, yt = draw(rng, n, t["target_mean"], t["target_cov"], offset=-1.3)
    Xu, _ = draw(rng, m, t["target_mean"], t["target_cov"], offset=-1.3)
    return Xs, ys, Xt, yt, Xu


def estimate(data, covariance, target_covariance, **kw):
    Xs, ys, Xt, yt, Xu = data
    extra = dict(X_target_unlabelled=Xu) if target_covariance == "unlabelled" else {}
    return ra.estimate_task(Xs, ys, Xt, yt, standardize=False, covariance=covariance,
                            target_covariance=target_covariance, **extra, **kw)


# ----------------------------------------------------------------------------- estimators


def test_estimators_unbiased_against_their_sampling_theory():
    """With ``shrinkage=0`` every covariance estimate is a Wishart matrix over its degrees of
    freedom: ``tr(A S)`` is unbiased with variance ``2 tr(ACAC)/dof``. The de-biased squared
    norms ``||b||^2 - tau_hat`` and the inner product ``a.b`` are unbiased too. 120 replicas:
    z-scores of the replica means (and the mean of the per-replica z^2 near 1)."""
    rng = np.random.default_rng(11)
    t = truth(p=10)
    tc = dict(truth(p=10, shared=False))
    A = np.diag(np.linspace(-1.0, 2.0, 10)) + 0.3 * np.ones((10, 10))
    Cs, Ct = t["source_cov"], t["target_cov"]
    Ctp, Ctm = tc["target_cov"]
    N, n, m = 200, 24, 60
    stats = {k: [] for k in ("Cs", "Cs+", "Ct", "Ct+", "Ct-", "rho", "M", "inner", "total")}
    for _ in range(120):
        d = sample(rng, t, N=N, n=n, m=m)
        g = estimate(d, "pooled", "labelled", shrinkage=0.0).general
        stats["Cs"].append((np.sum(A * g.source_cov) - np.sum(A * Cs))
                           / np.sqrt(2 * np.sum((A @ Cs) * (A @ Cs).T) / (N - 2)))
        stats["Ct"].append((np.sum(A * g.target_cov) - np.sum(A * Ct))
                           / np.sqrt(2 * np.sum((A @ Ct) * (A @ Ct).T) / (n - 2)))
        stats["M"].append(g.b @ g.b - g.tau_t(g.traces))
        stats["inner"].append(g.a @ g.b)
        g = estimate(d, "pooled", "source", shrinkage=0.0).general
        stats["rho"].append((np.trace(g.target_cov) - np.trace(Ct))
                            / np.sqrt(2 * np.sum(Ct * Ct) / (n - 2)))
        g = estimate(d, "pooled", "unlabelled", shrinkage=0.0).general
        stats["total"].append(np.sum(A * g.base))
        dc_ = sample(rng, tc, N=N, n=n, m=m)
        g = estimate(dc_, "class", "labelled", shrinkage=0.0).general
        stats["Cs+"].append((np.sum(A * g.source_cov[0]) - np.sum(A * Cs))
                            / np.sqrt(2 * np.sum((A @ Cs) * (A @ Cs).T) / (N // 2 - 1)))
        for k, C in (("Ct+", Ctp), ("Ct-", Ctm)):
            Sg = g.target_cov[0 if k == "Ct+" else 1]
            stats[k].append((np.sum(A * Sg) - np.sum(A * C))
                            / np.sqrt(2 * np.sum((A @ C) * (A @ C).T) / (n // 2 - 1)))
    R = 120
    for k in ("Cs", "Cs+", "Ct", "Ct+", "Ct-", "rho"):
        z = np.array(stats[k])
        assert abs(z.mean()) * np.sqrt(R) < 4, (k, z.mean())
        assert 0.55 < np.mean(z * z) < 1.6, (k, np.mean(z * z))
    mu_s, mu_t = t["source_mean"], t["target_mean"]
    Tbar = Ct + np.outer(mu_t, mu_t)  # the class-blind covariance (balanced rows)
    for k, target in (("M", mu_t @ mu_t), ("inner", mu_s @ mu_t),
                      ("total", np.sum(A * Tbar))):
        x = np.array(stats[k])
        z = (x.mean() - target) / (x.std(ddof=1) / np.sqrt(R))
        assert abs(z) < 4, (k, x.mean(), target, z)


def test_formulas_by_hand_and_ledoit_wolf_is_sklearns():
    """The estimates equal an independent construction from numpy/scikit-learn primitives:
    np.cov per class, the pooled scatter, sklearn's Ledoit-Wolf weight, the de-biased mean."""
    sk = pytest.importorskip("sklearn.covariance")
    rng = np.random.default_rng(3)
    t = truth(p=8, shared=False)
    Xs, ys, Xt, yt, Xu = d = sample(rng, t, N=90, n=16, m=40)

    def by_class(X, y):
        return [X[y == c] for c in (1.0, -1.0)]

    def lw(rows_list, dof):
        R = np.vstack([r - r.mean(0) for r in rows_list])
        C_mle, s = sk.ledoit_wolf(R, assume_centered=True)
        return C_mle * R.shape[0] / dof, s

    src, tgt = by_class(Xs, ys), by_class(Xt, yt)
    a = (src[0].mean(0) - src[1].mean(0)) / 2
    b = (tgt[0].mean(0) - tgt[1].mean(0)) / 2
    Cs_pool, _ = lw(src, 88)
    Ct_lab = [lw([r], r.shape[0] - 1)[0] for r in tgt]
    tau_t = sum(np.trace(np.cov(r, rowvar=False)) / (4 * r.shape[0]) for r in tgt)
    mu_t = b * np.sqrt((b @ b - tau_t) / (b @ b))

    task = estimate(d, "class", "labelled")
    assert np.allclose(task.general.target_cov[0], Ct_lab[0], rtol=1e-12, atol=1e-13)
    assert np.allclose(task.general.target_cov[1], Ct_lab[1], rtol=1e-12, atol=1e-13)
    assert np.allclose(task.general.source_cov[1], lw([src[1]], src[1].shape[0] - 1)[0])
    assert np.allclose(task.general.target_mean, mu_t, rtol=1e-12)

    task = estimate(d, "pooled", "source")
    rho = sum(np.sum((r - r.mean(0)) ** 2) for r in tgt) / 14 / np.trace(Cs_pool)
    assert np.allclose(task.general.target_cov, rho * Cs_pool, rtol=1e-12)
    tau_s = np.trace(Cs_pool) * (1 / src[0].shape[0] + 1 / src[1].shape[0]) / 4
    assert np.allclose(task.general.source_mean, a * np.sqrt((a @ a - tau_s) / (a @ a)))
    assert np.isclose(task.diagnostics["target_noise_ratio"], rho, rtol=1e-12)

    task = estimate(d, "pooled", "unlabelled", shrinkage=0.0)
    Ct = np.cov(Xu, rowvar=False) - np.outer(task.general.target_mean, task.general.target_mean)
    lam, U = np.linalg.eigh(Ct)
    assert np.allclose(task.general.target_cov, (U * np.maximum(lam, 0)) @ U.T, atol=1e-12)


# ----------------------------------------------------------------------------- predictions


def _scaled_classes():
    t = truth(p=16)
    return dict(t, target_cov=(1.5 * t["source_cov"], 0.8 * t["source_cov"]))


CONVERGENCE = {
    # covariance, target_covariance, truth, sizes, range of sd(alpha*) / delta-method se
    # the delta method leaves out the sample covariances' noise: calibrated when they come
    # from many more points than the means (N, m >> n); with N = 3000, m = 20000, n = 1600
    # the replicas' spread is 1.1-1.6 times the standard error
    "pooled / unlabelled": ("pooled", "unlabelled", truth(p=16),
                            dict(N=20000, n=1600, m=100000), (0.6, 1.6)),
    "class / source": ("class", "source", _scaled_classes(), dict(N=20000, n=1600, m=2),
                       (0.6, 1.6)),
    # Ct from the same n points: its noise, ignored by the delta method, is as large as b's.
    # Unshrunk: Ledoit-Wolf's O(p/n) shrinkage moves the accuracy by -0.002 at n = 3000
    # (-0.007 at n = 1500, -0.001 at n = 12000; 24 replicas, s.e. 0.0015 ... 0.0005)
    "class / labelled": ("class", "labelled", truth(p=16, shared=False),
                         dict(N=3000, n=3000, m=2, shrinkage=0.0), (1.2, 3.5)),
}


@pytest.mark.parametrize("name", list(CONVERGENCE))
def test_predictions_converge_and_delta_method_is_calibrated(name):
    """Large samples: the estimated task's alpha* and accuracy converge to the true task's
    (z-score of the replica mean below 4), and the delta-method standard error of alpha*
    matches the replicas' spread (ratio within the 24-replica sampling error) when the
    covariances come from many more points than the means; with
    ``target_covariance="labelled"`` it is a lower bound (the covariances' noise is left out)."""
    cov, tc, t, sizes, (lo, hi) = CONVERGENCE[name]
    rng = np.random.default_rng(100 + list(CONVERGENCE).index(name))
    p, n, N = t["source_mean"].size, sizes["n"], sizes["N"]
    true_star = ra.optimal_alpha(n, p, N=N, **t, **G)
    true_acc = ra.test_accuracy(1.0, n, p, N=N, **t, **G)
    stars, accs, ses = [], [], []
    sizes = dict(sizes)
    shrinkage = sizes.pop("shrinkage", None)
    for r in range(24):
        task = estimate(sample(rng, t, **sizes), cov, tc, shrinkage=shrinkage)
        stars.append(task.optimal_alpha(**G))
        accs.append(task.test_accuracy(1.0, **G))
        if r < 4:
            ses.append(task.optimal_alpha_se(**G))
    for x, target in ((stars, true_star), (accs, true_acc)):
        x = np.asarray(x)
        assert abs(x.mean() - target) < 4 * x.std(ddof=1) / np.sqrt(x.size), (name, x.mean(),
                                                                               target)
    ratio = np.std(stars, ddof=1) / np.mean(ses)
    assert lo < ratio < hi, (name, ratio)


def test_isotropic_data_general_model_agrees_with_isotropic_theory():
    """Unit isotropic noise: the general models' predictions converge to THEORY §3-§4's at the
    true (mu, mu_orth, beta), an independent closed form."""
    rng = np.random.default_rng(5)
    p, N, n = 10, 4000, 2000
    mu_s = np.zeros(p)
    mu_s[0] = 1.5
    mu_t = np.zeros(p)
    mu_t[0], mu_t[1] = 0.6 * 1.5, 0.8 * 1.2
    t = dict(source_mean=mu_s, target_mean=mu_t, source_cov=np.eye(p), target_cov=np.eye(p))
    iso = dict(N=N, mu=1.5, mu_orth=1.2, beta=0.6, **G)
    stars = []
    for _ in range(12):
        task = estimate(sample(rng, t, N=N, n=n, m=2), "pooled", "labelled")
        stars.append(task.optimal_alpha(**G))
    stars = np.array(stars)
    target = ra.optimal_alpha(n, p, **iso)
    assert abs(stars.mean() - target) < 4 * stars.std(ddof=1) / np.sqrt(stars.size)


# ----------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("cov, tc", MODES)
def test_params_round_trip_into_every_theory_function(cov, tc):
    rng = np.random.default_rng(2)
    t = truth(p=9, shared=(cov == "pooled"))
    task = estimate(sample(rng, t, N=80, n=14, m=30), cov, tc)
    kw = task.params
    assert set(kw) == {"p", "N", "n", "source_mean", "target_mean", "source_cov", "target_cov"}
    assert isinstance(kw["target_cov"], tuple) == (cov == "class")
    alphas = np.linspace(-1.0, 2.0, 5)
    for name in THEORY:
        f = getattr(ra, name)
        args = () if name in ("optimal_alpha", "chance_alpha") else (alphas,)
        got = np.asarray(f(*args, **kw, **G))
        explicit = dict(source_mean=np.array(kw["source_mean"]),
                        target_mean=np.array(kw["target_mean"]),
                        source_cov=kw["source_cov"], target_cov=kw["target_cov"])
        again = np.asarray(f(*args, task.n, task.p, N=task.N, **explicit, **G))
        assert np.all(np.isfinite(got)) and np.array_equal(got, again), name
        if hasattr(task, name):
            assert np.array_equal(np.asarray(getattr(task, name)(*args, **G)), got), name
    # n overrides; source_model="trained" is the general fixed-source set with the trained w~
    assert np.isclose(task.optimal_alpha(**G, n=50), ra.optimal_alpha(**dict(kw, n=50), **G))
    w = ra.fine_tune(task.X_source, task.y_source, task.X_target, task.y_target, 0.0,
                     **G).source_weight
    fixed = ra.optimal_alpha(task.n, task.p, source=w, target_mean=kw["target_mean"],
                             target_cov=kw["target_cov"], gamma=G["gamma"])
    assert np.isclose(task.optimal_alpha(**G, source_model="trained"), fixed, rtol=1e-10)
    assert np.isfinite(task.source_accuracy(gamma_src=1.0))
    se = task.optimal_alpha_se(**G)
    assert np.isfinite(se) and se > 0


def test_isotropic_mode_is_unchanged_and_trained_source_model():
    rng = np.random.default_rng(4)
    t = truth(p=9)
    Xs, ys, Xt, yt, _ = sample(rng, t, N=80, n=14, m=2)
    task = ra.estimate_task(Xs, ys, Xt, yt)
    assert task.covariance == "isotropic" and task.general is None
    assert set(task.params) == {"p", "N", "n", "mu", "mu_orth", "beta"}
    w = task.fine_tune(0.0, **G).source_weight
    b = (task.X_target[task.y_target > 0].mean(0) - task.X_target[task.y_target < 0].mean(0)) / 2
    kw = task.theory_kwargs(**G, source_model="trained")
    assert kw["alignment"] == pytest.approx(np.clip(w @ b, -np.sqrt(task.target_norm2 * (w @ w)),
                                                    np.sqrt(task.target_norm2 * (w @ w))))
    assert task.optimal_alpha(**G, source_model="trained") == pytest.approx(
        ra.optimal_alpha(task.n, task.p, gamma=G["gamma"], target_norm2=task.target_norm2,
                         alignment=kw["alignment"], source_norm2=w @ w))


def test_summary_names_the_covariance_model():
    rng = np.random.default_rng(6)
    d = sample(rng, truth(p=9, shared=False), N=80, n=14, m=30)
    s = estimate(d, "class", "unlabelled").summary()
    assert "covariance model: class" in s and "30 unlabelled target points" in s
    assert "effective dimension of Cs" in s and "tr Ct / tr Cs" in s
    s = estimate(d, "pooled", "source").summary()
    assert "covariance model: pooled" in s and "source covariance rescaled" in s
    assert "covariance model: isotropic" in ra.estimate_task(*d[:4]).summary()
    task = estimate(d, "pooled", "labelled")
    assert any("N(0, C)" in a for a in task.assumptions)


# ----------------------------------------------------------------------------- source accuracy


def test_general_source_accuracy_reduces_to_isotropic_and_matches_monte_carlo():
    """The source classifier used as is (THEORY §9.4): C = I gives THEORY §4's
    source_accuracy; anisotropic covariances agree with a numpy Monte Carlo of the ridge
    source (exact conditional accuracy per trial) within 4 s.e. plus an O(1/p) allowance."""
    rng = np.random.default_rng(8)
    p, N, g = 60, 120, 0.8
    mu_s, mu_t = rng.standard_normal(p) * 0.25, rng.standard_normal(p) * 0.25
    mu = np.linalg.norm(mu_s)
    got = dc.source_accuracy(p, N=N, source_mean=mu_s, source_cov=np.ones(p), target_mean=mu_t,
                             target_cov=np.ones(p), gamma_src=g)
    assert got == pytest.approx(ra.source_accuracy(p, N=N, mu=mu, beta=mu_s @ mu_t / mu**2,
                                                   gamma_src=g), rel=1e-12)
    t = truth(p=p, shared=False)
    Cs, (Ctp, Ctm) = t["source_cov"], t["target_cov"]
    mu_s, mu_t = t["source_mean"], t["target_mean"]
    th = dc.source_accuracy(p, N=N, source_mean=mu_s, source_cov=Cs, target_mean=mu_t,
                            target_cov=(Ctp, Ctm), gamma_src=g)
    L = np.linalg.cholesky(Cs)
    accs = []
    for _ in range(1500):
        y = rng.choice([-1.0, 1.0], N)
        X = y[:, None] * mu_s + rng.standard_normal((N, p)) @ L.T
        w = np.linalg.solve(X.T @ X / N + g * np.eye(p), X.T @ y / N)
        m = w @ mu_t
        accs.append(0.5 * (ndtr(m / np.sqrt(w @ Ctp @ w)) + ndtr(m / np.sqrt(w @ Ctm @ w))))
    accs = np.array(accs)
    se = accs.std(ddof=1) / np.sqrt(accs.size)
    assert abs(accs.mean() - th) < 4 * se + 0.5 / p, (accs.mean(), th, se)


# ----------------------------------------------------------------------------- bad input


def _small():
    rng = np.random.default_rng(0)
    return sample(rng, truth(p=6), N=40, n=12, m=10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(covariance="diagonal"), "covariance must be one of 'isotropic', 'pooled', 'class'"),
        (dict(covariance="pooled", target_covariance="mine"), "target_covariance must be one of"),
        (dict(covariance="pooled", target_covariance="unlabelled"),
         "target_covariance='unlabelled' needs X_target_unlabelled"),
        (dict(covariance="pooled", target_covariance="labelled", X_target_unlabelled="Xu"),
         "X_target_unlabelled is used only with"),
        (dict(X_target_unlabelled="Xu"), "X_target_unlabelled needs a general covariance model"),
        (dict(target_covariance="source"), "target_covariance needs a general covariance model"),
        (dict(covariance="pooled", X_target_unlabelled="Xu[:, :5]"),
         "X_target_unlabelled must be an array with as many features .*got 5 features"),
        (dict(covariance="pooled", X_target_unlabelled="Xu[:1]"), "at least 2 rows"),
        (dict(covariance="pooled", X_target_unlabelled="nan"), "X_target_unlabelled must be finite"),
    ],
)
def test_bad_covariance_options_raise_value_error(kwargs, match):
    Xs, ys, Xt, yt, Xu = _small()
    bad = {"Xu": Xu, "Xu[:, :5]": Xu[:, :5], "Xu[:1]": Xu[:1],
           "nan": np.where(np.eye(*Xu.shape) > 0, np.nan, Xu)}
    kwargs = {k: (bad[v] if k == "X_target_unlabelled" else v) for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=match):
        ra.estimate_task(Xs, ys, Xt, yt, **kwargs)


def test_bad_method_arguments():
    task = estimate(_small(), "pooled", "source")
    with pytest.raises(ValueError, match="source_model must be one of 'ridge', 'trained'"):
        task.optimal_alpha(**G, source_model="pretrained")
    with pytest.raises(ValueError, match="gamma_src"):
        task.test_accuracy(1.0, gamma=1.0, gamma_src=-1.0, source_model="trained")
    with pytest.raises(ValueError, match="gamma"):
        task.test_accuracy(1.0, gamma=0.0, gamma_src=1.0)


# ----------------------------------------------------------------------------- digits


def test_digits_general_theory_reproduces_theory_general_section_10(tmp_path):
    """THEORY_GENERAL §10 was made with a separate reference implementation. 6 vs 8 -> 5 vs 9,
    n = 20, its 150 draws (seed 20): the unshrunk practitioner's median alpha-hat* +0.36
    [+0.30, +0.47] and held-out accuracy 0.9728, the all-images general alpha* 0.89 (the
    package rescales the pool's mean to its unbiased norm: 0.90), the general mean gap 0.017
    (isotropic 0.039), the accuracy 0.9757 at the general alpha* (isotropic alpha*: 0.9683)."""
    pytest.importorskip("sklearn")
    from rmt_alpha import digits

    res = digits.run_pair((6, 8), (5, 9), n=20, trials=150, twin=False, seed=20)
    row = res["row"]
    assert row["alpha_star_general_draw_median_s0"] == pytest.approx(0.36, abs=0.005)
    assert row["alpha_star_general_draw_q25_s0"] == pytest.approx(0.30, abs=0.005)
    assert row["alpha_star_general_draw_q75_s0"] == pytest.approx(0.47, abs=0.005)
    assert row["acc_alpha_star_general_s0"] == pytest.approx(0.9728, abs=0.00005)
    assert row["alpha_star_general"] == pytest.approx(0.89, abs=0.015)
    assert row["theory_gap_mean_general"] == pytest.approx(0.017, abs=0.0015)
    assert row["theory_gap_mean"] == pytest.approx(0.039, abs=0.0005)
    assert row["acc_pool_alpha_star_general"] == pytest.approx(0.9757, abs=0.00005)
    assert row["acc_pool_alpha_star"] == pytest.approx(0.9683, abs=0.00005)
    assert row["alpha_star_general_ridge"] == pytest.approx(0.87, abs=0.015)
    for columns in (digits.README_COLUMNS, digits.FOLLOWING_COLUMNS, digits.SCORE_COLUMNS):
        assert "—" not in digits.markdown_table([row], columns)
    assert digits.markdown_table([row], digits.GENERAL_COLUMNS).count("—") == 1  # no twin
    fig = digits.plot_transfer([res], n=20)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("general theory" in lab for lab in labels)


def test_params_feed_the_general_simulator():
    """``task.params`` of a general model is a keyword set of ``simulate`` too (THEORY §10):
    the Monte Carlo of the estimated task agrees with its closed form (4 s.e. + 1/p)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(9)
    task = estimate(sample(rng, truth(p=40, shared=False), N=400, n=40, m=2), "class", "labelled")
    alphas = np.array([0.0, 1.0])
    res = ra.simulate(alphas, **task.params, **G, trials=400, seed=3, method="direct")
    th = task.test_accuracy(alphas, **G)
    assert np.all(np.abs(res.accuracy - th) < 4 * res.accuracy_stderr + 1.0 / task.p)
