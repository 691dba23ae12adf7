"""estimate_task, fine_tune and the digits experiment (issue 5)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import rmt_alpha as ra

try:  # small matrices: one BLAS thread is faster, and far faster on a loaded machine
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    if threadpool_limits is None:
        yield
    else:
        with threadpool_limits(1):
            yield


def mixture(rng, *, N, n, p, mu, mu_orth, beta, offset=0.0):
    """THEORY §1 data (rows are samples), balanced labels in random order."""
    m = np.zeros(p)
    m[0] = mu
    mb = np.zeros(p)
    mb[0] = beta * mu
    mb[1] = np.sqrt(1 - beta**2) * mu_orth
    ys = rng.permutation(np.where(np.arange(N) < N // 2, 1.0, -1.0))
    yt = rng.permutation(np.where(np.arange(n) < n // 2, 1.0, -1.0))
    Xs = ys[:, None] * m + rng.standard_normal((N, p)) + offset
    Xt = yt[:, None] * mb + rng.standard_normal((n, p)) - offset
    return Xs, ys, Xt, yt


TRUTH = dict(mu=1.5, mu_orth=1.2, beta=0.6)


@pytest.fixture(scope="module")
def replicas():
    rng = np.random.default_rng(2024)
    out = []
    for _ in range(80):
        out.append(ra.estimate_task(*mixture(rng, N=1200, n=200, p=100, **TRUTH),
                                    standardize=False))
    return out


# ----------------------------------------------------------------------------- estimate_task


def test_estimates_unbiased_and_standard_errors_calibrated(replicas):
    for key, truth in TRUTH.items():
        est = np.array([t.params[key] for t in replicas])
        se = np.array([t.se[key] for t in replicas])
        sem = est.std(ddof=1) / np.sqrt(est.size)
        assert abs(est.mean() - truth) < 4 * sem, (key, est.mean(), truth, sem)
        # the delta-method standard error matches the spread over replicas
        assert 0.75 < est.std(ddof=1) / np.mean(se) < 1.33, (key, est.std(ddof=1), np.mean(se))
        # each replica within a few standard errors
        assert np.mean(np.abs(est - truth) / se < 3) > 0.95, key


def test_naive_estimates_are_biased_and_the_correction_removes_it(replicas):
    p = replicas[0].p
    for key, truth in (("mu2", TRUTH["mu"] ** 2),
                       ("M", TRUTH["beta"] ** 2 * TRUTH["mu"] ** 2
                        + (1 - TRUTH["beta"] ** 2) * TRUTH["mu_orth"] ** 2)):
        naive = np.array([t.naive[key] for t in replicas])
        fixed = np.array([t.unbiased[key] for t in replicas])
        bias = np.array([t.bias[key] for t in replicas])
        sem = fixed.std(ddof=1) / np.sqrt(fixed.size)
        assert naive.mean() - truth > 6 * sem, key  # the naive squared norm is biased upward
        assert abs(naive.mean() - truth - bias.mean()) < 4 * sem  # ... by p c
        assert abs(fixed.mean() - truth) < 4 * sem, key
    assert np.allclose([t.bias["mu2"] for t in replicas], p * 0.25 * (1 / 600 + 1 / 600))
    naive_orth = np.array([t.naive["mu_orth"] for t in replicas])
    assert naive_orth.mean() > TRUTH["mu_orth"] + 0.2  # the naive mu_orth is far off


def test_single_draw_within_a_few_standard_errors_any_preprocessing():
    rng = np.random.default_rng(7)
    data = mixture(rng, N=3000, n=400, p=80, offset=3.0, **TRUTH)
    for kw in (dict(standardize=False), dict(), dict(standardize="global"),
               dict(whiten=True), dict(whiten=True, shrinkage=0.2)):
        t = ra.estimate_task(*data, **kw)
        assert t.p == 80 and t.N == 3000 and t.n == 400
        for key, truth in TRUTH.items():
            assert abs(t.params[key] - truth) < 4 * t.se[key], (kw, key, t.params[key])
        assert t.clipped == ()
        assert abs(t.diagnostics["target_noise_ratio"] - 1) < 0.1
        assert abs(t.diagnostics["effective_dimension"] / t.p - 1) < 0.15


def test_params_feed_the_theory_and_methods_agree():
    rng = np.random.default_rng(1)
    t = ra.estimate_task(*mixture(rng, N=600, n=60, p=40, **TRUTH))
    assert set(t.params) == {"p", "N", "n", "mu", "mu_orth", "beta"}
    g = dict(gamma=0.5, gamma_src=2.0)
    a = ra.optimal_alpha(**t.params, **g)
    assert a == pytest.approx(t.optimal_alpha(**g))
    acc = ra.test_accuracy([0.0, 1.0, a], **t.params, **g)
    assert np.allclose(acc, t.test_accuracy([0.0, 1.0, a], **g))
    assert acc[2] >= acc.max() - 1e-12
    assert t.optimal_alpha(**g, n=600) == pytest.approx(
        ra.optimal_alpha(600, t.p, N=t.N, mu=t.mu, mu_orth=t.mu_orth, beta=t.beta, **g))
    assert t.chance_alpha(**g) == pytest.approx(ra.chance_alpha(**t.params, **g))
    assert 0.5 < t.source_accuracy(gamma_src=1.0) < 1
    se = t.optimal_alpha_se(**g)
    assert np.isfinite(se) and se > 0
    assert "beta" in t.summary() and t.assumptions


def test_params_feed_the_simulator():
    if not hasattr(ra, "simulate"):
        pytest.skip("rmt_alpha.simulate not available")
    rng = np.random.default_rng(2)
    t = ra.estimate_task(*mixture(rng, N=400, n=40, p=30, **TRUTH))
    sim = ra.simulate([0.0, 1.0], **t.params, gamma=1.0, gamma_src=1.0, trials=40)
    theory = t.test_accuracy([0.0, 1.0], gamma=1.0, gamma_src=1.0)
    assert np.all(np.abs(sim.accuracy - theory) < 0.05)  # p = 30: only a coarse O(1/p) check


def test_labels_zero_one_equal_minus_one_plus_one():
    rng = np.random.default_rng(3)
    Xs, ys, Xt, yt = mixture(rng, N=200, n=40, p=10, **TRUTH)
    t1 = ra.estimate_task(Xs, ys, Xt, yt)
    t2 = ra.estimate_task(Xs, (ys > 0).astype(int), Xt, yt > 0)
    assert t1.params == t2.params


def test_transform_reproduces_the_stored_data():
    rng = np.random.default_rng(4)
    Xs, ys, Xt, yt = mixture(rng, N=300, n=30, p=12, offset=2.0, **TRUTH)
    Xs[:, 5] = 7.0  # a constant feature is dropped
    Xt[:, 5] = 7.0
    for kw in (dict(), dict(whiten=True), dict(match_target_noise=True)):
        t = ra.estimate_task(Xs, ys, Xt, yt, **kw)
        assert t.p == 11 and t.diagnostics["features_dropped"] == 1
        assert np.allclose(t.transform_target(Xt), t.X_target)
        assert np.allclose(t.transform_source(Xs), t.X_source)
        # centred at the class midpoints
        for Z, y in ((t.X_source, ys), (t.X_target, yt)):
            mid = (Z[y > 0].mean(0) + Z[y < 0].mean(0)) / 2
            assert np.allclose(mid, 0, atol=1e-10)


def test_clipping_is_reported():
    rng = np.random.default_rng(5)
    Xs, ys, _, _ = mixture(rng, N=400, n=40, p=20, **TRUTH)
    yt = np.where(np.arange(400) < 200, 1.0, -1.0)
    Xt = yt[:, None] * np.r_[3.0, np.zeros(19)] + rng.standard_normal((400, 20))  # beta ~ 2
    with pytest.warns(RuntimeWarning, match="beta estimate"):
        t = ra.estimate_task(Xs, ys, Xt, yt)
    assert t.beta == 1.0 and any("beta" in c for c in t.clipped)
    assert np.isnan(t.se["mu_orth"])


def test_whitening_with_too_few_source_samples_warns():
    rng = np.random.default_rng(6)
    with pytest.warns(RuntimeWarning, match="whitening 60 features"):
        ra.estimate_task(*mixture(rng, N=80, n=20, p=60, **TRUTH), whiten=True)


# ----------------------------------------------------------------------------- fine_tune


@pytest.mark.parametrize("N, n, p", [(30, 8, 12), (7, 25, 5), (50, 50, 50)])
def test_fine_tune_matches_closed_form_and_explicit_minimiser(N, n, p):
    rng = np.random.default_rng(N + n + p)
    Xs, ys = rng.standard_normal((N, p)), np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    Xt, yt = rng.standard_normal((n, p)), np.where(np.arange(n) % 3 == 0, 1.0, -1.0)
    gamma, gamma_src = 0.3, 0.7
    alphas = np.array([-1.5, 0.0, 0.4, 1.0, 3.0])
    ft = ra.fine_tune(Xs, ys, Xt, yt, alphas, gamma=gamma, gamma_src=gamma_src)

    # closed form with explicit inverses (X is p x n in THEORY's notation: here X.T)
    w_src = np.linalg.inv(Xs.T @ Xs / N + gamma_src * np.eye(p)) @ Xs.T @ ys / N
    Q = np.linalg.inv(Xt.T @ Xt / n + gamma * np.eye(p))
    closed = np.stack([Q @ Xt.T @ yt / n + a * gamma * Q @ w_src for a in alphas])
    assert np.allclose(ft.source_weight, w_src, atol=1e-10)
    assert np.allclose(ft.weights, closed, atol=1e-10)

    # explicit minimiser of (1/n) sum (y - (alpha w~ + a)^T x)^2 + gamma ||a||^2 (THEORY §1),
    # by least squares on the augmented system
    A = np.vstack([Xt / np.sqrt(n), np.sqrt(gamma) * np.eye(p)])
    A_src = np.vstack([Xs / np.sqrt(N), np.sqrt(gamma_src) * np.eye(p)])
    w_src_ls = np.linalg.lstsq(A_src, np.r_[ys / np.sqrt(N), np.zeros(p)], rcond=None)[0]
    assert np.allclose(ft.source_weight, w_src_ls, atol=1e-9)
    for a, w in zip(alphas, ft.weights):
        rhs = np.r_[(yt - a * Xt @ w_src_ls) / np.sqrt(n), np.zeros(p)]
        upd = np.linalg.lstsq(A, rhs, rcond=None)[0]
        assert np.allclose(w, a * w_src_ls + upd, atol=1e-9)
        # gradient of the objective in the update vanishes
        r = yt - Xt @ w
        grad = -2 * Xt.T @ r / n + 2 * gamma * (w - a * w_src_ls)
        assert np.max(np.abs(grad)) < 1e-9


def test_fine_tune_source_is_sklearn_ridge():
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(11)
    Xs, ys = rng.standard_normal((40, 9)), np.where(rng.random(40) < 0.5, 1.0, -1.0)
    ys[:2] = [1, -1]
    ft = ra.fine_tune(Xs, ys, Xs[:10], ys[:10], 0.0, gamma=1.0, gamma_src=0.25)
    ridge = linear_model.Ridge(alpha=40 * 0.25, fit_intercept=False).fit(Xs, ys)
    assert np.allclose(ft.source_weight, ridge.coef_, atol=1e-10)


def test_fine_tune_shapes_accuracy_and_no_label_flipping():
    rng = np.random.default_rng(12)
    Xs, ys, Xt, yt = mixture(rng, N=200, n=30, p=10, **TRUTH)
    one = ra.fine_tune(Xs, ys, Xt, yt, 0.5, gamma=1.0, gamma_src=1.0)
    grid = ra.fine_tune(Xs, ys, Xt, yt, [0.5, 2.0], gamma=1.0, gamma_src=1.0)
    assert one.weights.shape == (10,) and grid.weights.shape == (2, 10)
    assert np.allclose(one.weights, grid.weights[0])
    _, _, Xte, yte = mixture(rng, N=2, n=500, p=10, **TRUTH)
    acc = grid.accuracy(Xte, yte)
    assert acc.shape == (2,) and np.all(acc > 0.6)
    assert np.allclose(grid.accuracy(Xte, -yte), 1 - acc)  # worse than chance stays so
    assert np.allclose(grid.accuracy(Xte, (yte > 0).astype(int)), acc)
    assert set(np.unique(grid.predict(Xte))) <= {-1.0, 1.0}
    t = ra.estimate_task(Xs, ys, Xt, yt)
    ft = t.fine_tune([0.0, 1.0], gamma=1.0, gamma_src=1.0)
    direct = ra.fine_tune(t.X_source, ys, t.X_target, yt, [0.0, 1.0], gamma=1.0, gamma_src=1.0)
    assert np.allclose(ft.weights, direct.weights)


# ----------------------------------------------------------------------------- bad input


def _ok(rng=np.random.default_rng(0)):
    return mixture(rng, N=40, n=12, p=6, **TRUTH)


@pytest.mark.parametrize("func", ["estimate", "fine_tune"])
@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: (d[0], d[1], d[2][:, :5], d[3]), "X_target must be an array with as many features"),
        (lambda d: (d[0], np.ones_like(d[1]), d[2], d[3]), "y_source must be labels of both classes"),
        (lambda d: (d[0], d[1], d[2], np.zeros_like(d[3])), "y_target must be labels of both classes"),
        (lambda d: (d[0], np.where(d[1] > 0, 2.0, 0.0) - (np.arange(40) == 0), d[2], d[3]),
         "y_source must be binary"),
        (lambda d: (d[0], d[1], d[2], np.arange(12) % 3), "y_target must be binary"),
        (lambda d: (d[0], d[1], d[2], np.where(d[3] > 0, "a", "b")), "y_target must be binary"),
        (lambda d: (np.where(np.eye(40, 6) > 0, np.nan, d[0]), d[1], d[2], d[3]),
         r"X_source must be finite .*got 6 non-finite entries"),
        (lambda d: (d[0], d[1], np.where(np.eye(12, 6) > 0, np.nan, d[2]), d[3]),
         r"X_target must be finite .*got 6 non-finite entries"),
        (lambda d: (d[0], np.where(np.arange(40) == 3, np.nan, d[1]), d[2], d[3]),
         "y_source must be binary labels .*got NaN labels"),
        (lambda d: (d[0], d[1][:-1], d[2], d[3]), r"y_source must be one label per row of X_source \(40 labels\), got 39"),
        (lambda d: (d[0][:, 0], d[1], d[2], d[3]), "X_source must be a 2-D array"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(func, mutate, match):
    data = mutate(_ok())
    with pytest.raises((ValueError, TypeError), match=match):
        if func == "estimate":
            ra.estimate_task(*data)
        else:
            ra.fine_tune(*data, 1.0, gamma=1.0, gamma_src=1.0)


def test_bad_keywords():
    d = _ok()
    with pytest.raises(ValueError, match="standardize"):
        ra.estimate_task(*d, standardize="sometimes")
    with pytest.raises(ValueError, match="shrinkage"):
        ra.estimate_task(*d, whiten=True, shrinkage=1.5)
    with pytest.raises(ValueError, match="gamma"):
        ra.fine_tune(*d, 1.0, gamma=0.0, gamma_src=1.0)
    with pytest.raises(ValueError, match="alpha"):
        ra.fine_tune(*d, [1.0, np.nan], gamma=1.0, gamma_src=1.0)
    y1 = d[3].copy()
    y1[y1 > 0] = -1.0
    y1[0] = 1.0
    with pytest.raises(ValueError, match="at least 2 samples of each class"):
        ra.estimate_task(d[0], d[1], d[2], y1)


# ----------------------------------------------------------------------------- digits


def test_digits_missing_sklearn_message(monkeypatch):
    from rmt_alpha import digits

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install rmt_alpha\[data\]"):
        digits.load_digits_data()


def test_digits_small_run(tmp_path):
    pytest.importorskip("sklearn")
    from rmt_alpha import digits

    X, digit = digits.load_digits_data()
    assert X.shape == (1797, 64)
    rng = np.random.default_rng(0)
    Xs, ys, Xp, yp = digits.split_pair_data(X, digit, (3, 8), (5, 8), rng)
    # the shared digit's images are split between the tasks: no image in both
    shared = {tuple(r) for r in Xs[ys < 0]} & {tuple(r) for r in Xp[yp < 0]}
    assert not shared
    assert abs(np.sum(ys < 0) - np.sum(yp < 0)) <= 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = [digits.run_pair((6, 8), (5, 9), n=20, trials=4, variant=v,
                               twin=(v == "standardized"), data=(X, digit),
                               alphas=np.linspace(-1, 2, 7))
               for v in ("standardized", "whitened+matched")]
    row = res[0]["row"]
    assert row["p"] <= 64 and row["N"] == np.sum(np.isin(digit, (6, 8)))
    assert -1 <= row["beta"] <= 1 and 0.5 < row["acc_alpha1"] <= 1
    assert row["best_alpha"] in np.linspace(-1, 2, 7)
    assert np.isfinite(row["twin_theory_gap_mean"])
    rows = digits.summary_rows(res)
    table = digits.markdown_table(rows)
    assert table.count("\n") == 3 and "6 vs 8" in table
    digits.write_outputs(res, figure_path=tmp_path / "f.png", csv_path=tmp_path / "t.csv",
                         json_path=tmp_path / "p.json", params=dict(trials=4))
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert (tmp_path / "t.csv").read_text().count("\n") == 3


def test_source_weight_is_remembered_by_content_only():
    """The trained source's weights are computed once per source content: the same arrays
    give the cached weights (a copy the caller may change), arrays changed in place new ones,
    equal to a direct solve of the ridge normal equations."""
    from rmt_alpha._data import source_weight

    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 7))
    y = np.where(rng.standard_normal(40) > 0, 1.0, -1.0)

    def direct(X, y, g):
        N, p = X.shape
        return np.linalg.solve(X.T @ X / N + g * np.eye(p), X.T @ y / N)

    w = source_weight(X, y, 0.5)
    np.testing.assert_allclose(w, direct(X, y, 0.5), rtol=1e-12)
    w[:] = 0.0  # the caller's copy
    np.testing.assert_allclose(source_weight(X, y, 0.5), direct(X, y, 0.5), rtol=1e-12)
    X[0] *= 3.0  # changed in place
    np.testing.assert_allclose(source_weight(X, y, 0.5), direct(X, y, 0.5), rtol=1e-12)
    np.testing.assert_allclose(source_weight(X, y, 2.0), direct(X, y, 2.0), rtol=1e-12)
