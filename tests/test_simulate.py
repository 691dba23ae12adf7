"""The JAX Monte Carlo (THEORY §6) against the closed forms (THEORY §3-§4), and its mechanics.

Theory vs simulation. The theory is a high-dimensional limit: at finite ``p`` every Monte
Carlo mean differs from it by a finite-size gap of order ``1/p`` (THEORY §6), on top of the
statistical error. Each comparison therefore allows

    |MC - theory| <= 4 standard errors + C / p * scale,

with ``scale`` the natural size of the quantity (1 for the accuracy; ``|m0| + |alpha m1|``
for the score mean; ``T1 + |alpha T2| + alpha^2 T3`` for the second moment; ``|alpha*|``
for alpha*). ``C`` is calibrated on the gaps themselves: at the five points below (p = 100,
6 000 trials, seed 123) the largest ``|gap| * p / scale`` over the alpha grid was
0.17 (+- 0.06) for the accuracy, 0.9 (+- 0.8) for the score mean, 2.6 (+- 0.3) for the
second moment and 2.4 (+- 0.9) for alpha*; the constants below are 1.5-3x those, and
:func:`test_gap_shrinks_like_one_over_p` checks that ``gap * p`` is stable as ``p, n, N``
double, so the allowance stays valid at other ``p``. They are far below the errors the
tests are meant to catch: the "expanded" ridge-source formula of THEORY §4 moves T3 by
10 % and accuracies by up to 0.15.
"""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import numpy as np
import pytest
from scipy import stats

import rmt_alpha as ra
from rmt_alpha._simulate import optimal_alpha_from_moments

P = 100
_rng = np.random.default_rng(7)
_W = _rng.standard_normal(P)
_W *= 1.2 / np.linalg.norm(_W)
_MUB = 0.5 * _W + 0.12 * _rng.standard_normal(P)

# (n, p, task, trials): eta < 1 and > 1, small and large gamma, negative beta / alignment,
# both branches (m >= p and m < p) of every push-through solve, all three keyword sets.
POINTS = {
    "ridge, eta<1, small gamma": (200, P, dict(N=200, mu=1.5, mu_orth=1.0, beta=0.8, gamma=0.05, gamma_src=1.0), 1500),
    "ridge, eta>1, beta<0, large gamma": (25, P, dict(N=200, mu=2.0, mu_orth=1.5, beta=-0.6, gamma=2.0, gamma_src=0.5), 1500),
    "ridge, eta>1, N<p, tiny gammas": (50, P, dict(N=50, mu=1.2, mu_orth=1.0, beta=0.3, gamma=1e-3, gamma_src=1e-2), 1500),
    "fixed source, s<0, gamma=10": (50, P, dict(gamma=10.0, target_norm2=2.0, alignment=-0.9, source_norm2=1.5), 2000),
    "source vectors, eta<1": (160, P, dict(gamma=0.05, source=_W, target_mean=_MUB), 1500),
}

C_ACC, C_MEAN, C_E2, C_ASTAR = 0.5, 3.0, 5.0, 4.0


def _grid(n, p, task):
    chance = float(ra.chance_alpha(n, p, **task))
    star = float(ra.optimal_alpha(n, p, **task))
    # alpha = 0, 1, both signs, alpha*, and past the chance level on its side
    return np.unique(np.r_[np.linspace(-3, 3, 7), 0.5 * chance, 1.5 * chance, star, 2 * star])


@pytest.mark.parametrize("name", list(POINTS))
def test_simulation_matches_theory(name):
    n, p, task, trials = POINTS[name]
    alpha = _grid(n, p, task)
    res = ra.simulate(alpha, n, p, **task, trials=trials, seed=11)
    acc = ra.test_accuracy(alpha, n, p, **task)
    m, e2 = ra.score_moments(alpha, n, p, **task)
    c = ra.blocks.fixed_source_moments(
        p / n, gamma=task["gamma"],
        **_summary(n, p, task))
    checks = [
        ("accuracy", res.accuracy, res.accuracy_stderr, acc, C_ACC / p),
        ("score mean", res.score_mean, res.score_mean_stderr, m,
         C_MEAN / p * (abs(c.m0) + np.abs(alpha * c.m1))),
        ("second moment", res.score_second_moment, res.score_second_moment_stderr, e2,
         C_E2 / p * (c.T1 + np.abs(alpha * c.T2) + alpha**2 * c.T3)),
    ]
    report = []
    for label, sim, se, th, allow in checks:
        z = (sim - th) / se
        report.append(f"{label}: max|z| = {np.max(np.abs(z)):.2f}")
        bad = np.abs(sim - th) > 4 * se + allow
        assert not bad.any(), (
            f"{name}: {label} off at alpha = {alpha[bad]}: sim {sim[bad]}, theory {th[bad]}, "
            f"stderr {se[bad]}, allowance {np.broadcast_to(allow, sim.shape)[bad]}")
    star = float(ra.optimal_alpha(n, p, **task))
    z_star = (res.optimal_alpha - star) / res.optimal_alpha_stderr
    report.append(f"alpha*: {res.optimal_alpha:.4f} +- {res.optimal_alpha_stderr:.4f} "
                  f"(theory {star:.4f}, z = {z_star:.2f})")
    assert abs(res.optimal_alpha - star) <= 4 * res.optimal_alpha_stderr + C_ASTAR / p * abs(star)
    print(f"\n[{name}] " + "; ".join(report))
    # honest accuracy: below 1/2 past the chance level, never max(A, 1 - A)
    chance = float(ra.chance_alpha(n, p, **task))
    past = alpha == 1.5 * chance
    assert np.all(res.accuracy[past] < 0.5)


def _summary(n, p, task):
    if "N" in task:
        st = ra.blocks.source_stats(p, N=task["N"], mu=task["mu"], gamma_src=task["gamma_src"])
        b = task["beta"]
        M = b * b * task["mu"] ** 2 + (1 - b * b) * task["mu_orth"] ** 2
        return dict(target_norm2=M, alignment=b * st.mean, source_norm2=st.norm2)
    if "source" in task:
        w, mb = task["source"], task["target_mean"]
        return dict(target_norm2=mb @ mb, alignment=w @ mb, source_norm2=w @ w)
    return {k: task[k] for k in ("target_norm2", "alignment", "source_norm2")}


def test_gap_shrinks_like_one_over_p():
    """The finite-size gap of T1 = E2(0) halves when p, n, N double (THEORY §6).

    eta = 2, eta~ = 1/2, tiny ridges: T1's gap is about 2 T1 / p, resolved at 8-10
    standard errors here. The per-trial spread of T1 falls like p^(-1/2), so the ratio of
    the two gaps is estimated to about +-0.09 and must lie within 3 of those (or 0.1) of
    1/2; a gap that did not shrink with p (ratio 1) fails.
    """
    task = dict(mu=1.2, mu_orth=1.0, beta=0.3, gamma=1e-3, gamma_src=1e-2)
    gaps = []
    for p, trials in ((50, 4000), (100, 6000)):
        n, N = p // 2, 2 * p
        res = ra.simulate([0.0], n, p, N=N, **task, trials=trials, seed=5)
        T1 = float(ra.score_moments(0.0, n, p, N=N, **task)[1])
        gaps.append((res.moments["T1"] - T1, res.moments["T1_stderr"], T1))
    check_gap_halves("T1", gaps)


def check_gap_halves(name, gaps):
    """``gaps = [(gap, stderr, value) at p = 50, the same at p = 100]``: both gaps resolved
    (5 and 4 standard errors), and their ratio within max(3 s.e., 0.1) of 1/2."""
    (g1, s1, t1), (g2, s2, t2) = gaps
    assert g1 > 5 * s1 and g2 > 4 * s2, gaps  # both gaps resolved
    ratio = g2 / g1
    ratio_se = abs(ratio) * np.hypot(s1 / g1, s2 / g2)
    print(f"\n{name} gap * p / {name}: {g1 * 50 / t1:.3f} (p=50), {g2 * 100 / t2:.3f} (p=100); "
          f"gap ratio {ratio:.3f} +- {ratio_se:.3f}")
    assert abs(ratio - 0.5) < max(3 * ratio_se, 0.1), (ratio, ratio_se)


def test_score_law_is_gaussian_per_class():
    """KS test of simulated scores against N(+-m, E2 - m^2) (THEORY §1, §3).

    Given a trial the score of a test point is exactly N(y w^T mu_beta, ||w||^2); over
    trials it is a mixture whose mean and variance fluctuate by O(p^-1/2), so its CDF
    differs from the limiting Gaussian by O(1/p) (plus the O(1/p) bias of m and E2). With
    2 000 samples per class the KS test resolves deviations of about 0.035 (1 % level); at
    p = 200 the finite-size distance is well below that, while a shift of the mean by 0.15
    standard deviations is rejected (checked below), so the test has power.
    """
    n, p = 100, 200
    task = dict(N=400, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
    alpha = np.array([0.1, 1.0, 10.0])
    smp = ra.simulate_scores(alpha, n, p, **task, trials=500, test_points=4, seed=2)
    assert smp.positive.shape == smp.negative.shape == (3, 2000)
    m, e2 = ra.score_moments(alpha, n, p, **task)
    sd = np.sqrt(e2 - m * m)
    pvals = []
    for k in range(alpha.size):
        for sign, x in ((1, smp.positive[k]), (-1, smp.negative[k])):
            pv = stats.kstest(x, "norm", args=(sign * m[k], sd[k])).pvalue
            pvals.append(pv)
            assert pv > 1e-3, (alpha[k], sign, pv)
            shifted = stats.kstest(x, "norm", args=(sign * m[k] + 0.15 * sd[k], sd[k])).pvalue
            assert shifted < 1e-3, (alpha[k], sign, shifted)
    print("\nKS p-values:", np.round(pvals, 3))


def test_scores_use_the_same_trials_as_simulate():
    """simulate_scores trains on the same trials as simulate (same seed): per trial, the
    average over test points of the score and of its square estimate the conditional
    mean and second moment that simulate averages, so both agree within their errors."""
    smp = ra.simulate_scores(SMALL_ALPHA, 20, 40, **SMALL, trials=37, test_points=20, seed=3)
    res = _small()  # 37 trials, seed 3
    for x, sign in ((smp.positive, 1.0), (smp.negative, -1.0)):
        per_trial = (sign * x).reshape(5, 37, 20)
        for f, ref, ref_se in ((per_trial.mean(axis=2), res.score_mean, res.score_mean_stderr),
                               ((per_trial**2).mean(axis=2), res.score_second_moment,
                                res.score_second_moment_stderr)):
            se = f.std(axis=1, ddof=1) / np.sqrt(37)
            assert np.all(np.abs(f.mean(axis=1) - ref) < 4 * np.hypot(se, ref_se))


def test_optimal_alpha_estimator_matches_theory_formula_and_grid():
    """alpha* from (m0, m1, T1, T2, T3) reproduces THEORY §3's closed form, and its
    gradient (used for the delta-method error) matches finite differences."""
    for n, p, task, _ in POINTS.values():
        c = ra.blocks.fixed_source_moments(p / n, gamma=task["gamma"], **_summary(n, p, task))
        a, grad = optimal_alpha_from_moments(*c)
        assert a == pytest.approx(float(ra.optimal_alpha(n, p, **task)), rel=1e-9)
        th = np.array(c, dtype=float)
        for i in range(5):
            h = 1e-6 * max(abs(th[i]), 1e-3)
            up, dn = th.copy(), th.copy()
            up[i] += h
            dn[i] -= h
            fd = (optimal_alpha_from_moments(*up)[0] - optimal_alpha_from_moments(*dn)[0]) / (2 * h)
            assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-7)
        # the stationary point is the maximum of m / sqrt(E2 - m^2)
        al = a + np.linspace(-1, 1, 201) * (1 + abs(a))
        f = (c.m0 + al * c.m1) / np.sqrt(c.T1 + al * c.T2 + al**2 * c.T3 - (c.m0 + al * c.m1) ** 2)
        assert np.argmax(f) == 100


# ----------------------------------------------------------------------------------------
# Mechanics: reproducibility, chunking, seeds, dtypes, sharding, errors

SMALL = dict(N=60, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
SMALL_ALPHA = np.linspace(-1, 3, 5)


def _small(**kw):
    args = dict(trials=37, seed=3)
    args.update(kw)
    return ra.simulate(SMALL_ALPHA, 20, 40, **SMALL, **args)


FIELDS = ("accuracy", "accuracy_stderr", "score_mean", "score_mean_stderr",
          "score_second_moment", "score_second_moment_stderr")


def test_same_seed_is_bit_identical_and_seeds_differ():
    a, b, c = _small(), _small(), _small(seed=4)
    for f in FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f))
    assert a.optimal_alpha == b.optimal_alpha
    assert not np.array_equal(a.accuracy, c.accuracy)


def test_results_do_not_depend_on_chunk_size():
    ref = _small()  # one chunk of 37 (the program other tests compiled)
    for cs in (1, 7):
        r = _small(chunk_size=cs)
        for f in FIELDS:
            np.testing.assert_allclose(getattr(r, f), getattr(ref, f), rtol=1e-12, atol=0)
        assert r.optimal_alpha == pytest.approx(ref.optimal_alpha, rel=1e-12)


def test_int_seed_equals_new_and_legacy_keys():
    ref = _small(seed=5)
    for key in (jax.random.key(5), jax.random.PRNGKey(5)):
        r = _small(seed=key)
        for f in FIELDS:
            assert np.array_equal(getattr(r, f), getattr(ref, f))


def test_float32_agrees_with_float64():
    """Same draws (drawn in float64 under x64, rounded): only the arithmetic differs."""
    r64 = _small(dtype=np.float64)
    r32 = _small(dtype=np.float32)
    assert r64.params["dtype"] == "float64" and r32.params["dtype"] == "float32"
    np.testing.assert_allclose(r32.accuracy, r64.accuracy, rtol=0, atol=2e-5)
    np.testing.assert_allclose(r32.score_second_moment, r64.score_second_moment, rtol=1e-4)
    np.testing.assert_allclose(r32.score_mean, r64.score_mean, rtol=1e-4, atol=1e-5)
    assert r32.accuracy.dtype == np.float64  # results are always float64 numpy


def test_result_fields_and_files(tmp_path):
    r = _small()
    assert r.alpha.shape == r.accuracy.shape == (5,)
    assert r.trials == 37 and r.method == "direct"
    assert r.params["seed"] == 3 and r.params["N"] == 60 and r.params["n"] == 20
    for f in FIELDS:
        assert getattr(r, f).dtype == np.float64
    d = r.to_dict()
    json.dumps(d)
    csv, side = r.to_csv(tmp_path / "curve.csv")
    data = np.genfromtxt(csv, delimiter=",", names=True)
    assert data.dtype.names == r.CSV_COLUMNS
    np.testing.assert_array_equal(data["accuracy"], r.accuracy)
    meta = json.loads(side.read_text())
    assert meta["params"]["beta"] == 0.8 and meta["optimal_alpha"] == r.optimal_alpha
    with pytest.raises(Exception):
        r.trials = 3  # frozen
    s = ra.simulate_scores([0.0, 1.0], 20, 40, **SMALL, trials=4, test_points=3)
    s.to_csv(tmp_path / "scores.csv")
    assert json.loads(json.dumps(s.to_dict()))["test_points"] == 3


def test_vector_set_is_reduced_to_the_fixed_summary():
    rng = np.random.default_rng(1)
    w, mb = rng.standard_normal(40), rng.standard_normal(40) * 0.2
    a = ra.simulate(SMALL_ALPHA, 20, 40, gamma=0.3, source=w, target_mean=mb, trials=20, seed=1)
    b = ra.simulate(SMALL_ALPHA, 20, 40, gamma=0.3, target_norm2=mb @ mb, alignment=w @ mb,
                    source_norm2=w @ w, trials=20, seed=1)
    np.testing.assert_allclose(a.accuracy, b.accuracy, rtol=1e-12)
    assert a.params["task"] == "source vectors"


def test_progress_bar_runs(capsys):
    r = _small(progress=True, chunk_size=10)
    assert r.trials == 37
    assert "37/37" in capsys.readouterr().err


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(SMALL, trials=0), ValueError),
        (dict(SMALL, trials=2.5), ValueError),
        (dict(SMALL, trials=True), TypeError),
        (dict(SMALL, trials=10, beta=1.5), ValueError),
        (dict(SMALL, trials=10, gamma=-1.0), ValueError),
        (dict(SMALL, trials=10, gamma=[1.0, 2.0]), ValueError),
        (dict(SMALL, trials=10, target_norm2=1.0), TypeError),  # mixes two keyword sets
        (dict(gamma=1.0, mu=1.0, trials=10), TypeError),  # no complete set
        (dict(SMALL, trials=10, method="exact"), ValueError),
        (dict(SMALL, trials=10, seed="abc"), TypeError),
        (dict(SMALL, trials=10, seed=1.5), TypeError),
        (dict(SMALL, trials=10, dtype=np.int32), ValueError),
        (dict(SMALL, trials=10, dtype="complex"), ValueError),
        (dict(SMALL, trials=10, chunk_size=0), ValueError),
        (dict(SMALL, trials=10, progress="yes"), TypeError),
        (dict(gamma=1.0, target_norm2=1.0, alignment=2.0, source_norm2=1.0, trials=10), ValueError),
        (dict(gamma=1.0, source=np.ones(39), target_mean=np.ones(40), trials=10), ValueError),
    ],
)
def test_bad_input_raises(kwargs, exc):
    with pytest.raises(exc):
        ra.simulate(SMALL_ALPHA, 20, 40, **kwargs)


@pytest.mark.parametrize(
    "alpha, n, p, exc",
    [([[0.0, 1.0]], 20, 40, ValueError), ([np.nan], 20, 40, ValueError), ([], 20, 40, ValueError),
     ([0.0], 0, 40, ValueError), ([0.0], 20, 1, ValueError), ([0.0], 20.5, 40, ValueError),
     (["a"], 20, 40, TypeError)],
)
def test_bad_alpha_and_sizes_raise(alpha, n, p, exc):
    with pytest.raises(exc):
        ra.simulate(alpha, n, p, **SMALL, trials=5)


def test_bad_scores_input_raises():
    with pytest.raises(ValueError):
        ra.simulate_scores([0.0], 20, 40, **SMALL, trials=5, test_points=0)
    with pytest.raises(TypeError):
        ra.simulate_scores([0.0], 20, 40, **SMALL, trials=5)  # test_points is required


# ----------------------------------------------------------------------------------------
# Subprocesses: two CPU devices, and JAX without x64

_ENV_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"

def _shard_case():
    kw = dict(N=60, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
    r = ra.simulate(np.linspace(-1, 3, 5), 20, 40, trials=101, seed=3, chunk_size=10, **kw)
    q = ra.simulate(np.linspace(-1, 3, 5), 20, 40, trials=101, seed=6, chunk_size=10, **kw,
                    method="reduced")
    s = ra.simulate_scores([0.5, 2.0], 20, 40, trials=11, test_points=3, seed=4, **kw)
    rng = np.random.default_rng(0)
    Ws = rng.standard_normal((3, 30))
    Wt = 0.5 * Ws + rng.standard_normal((3, 30))
    g = ra.simulate_regression(np.linspace(-1, 2, 4), 15, 30, W_source=Ws, W_target=Wt,
                               sigma=0.5, gamma=0.1, trials=33, seed=5)
    return dict(devices=jax.device_count(), acc=r.accuracy.tolist(),
                acc_se=r.accuracy_stderr.tolist(), e2=r.score_second_moment.tolist(),
                astar=r.optimal_alpha, pos=s.positive.tolist(), risk=g.risk.tolist(),
                reduced=q.accuracy.tolist(), reduced_e2=q.score_second_moment.tolist())


_SHARD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_enable_x64", True)
    sys.path.insert(0, {tests!r})
    from test_simulate import _shard_case
    print(json.dumps(_shard_case()))
    """
).format(tests=os.path.dirname(os.path.abspath(__file__)))


def _run_script(script, xla_flags, timeout=240):
    env = dict(os.environ, XLA_FLAGS=xla_flags, JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_two_devices_give_the_one_device_result():
    """Trials sharded over 2 CPU devices (101 trials: padded chunks) equal 1 device to 1e-12.

    The 2-device run is a subprocess (XLA reads the device count when it starts), with the
    XLA:CPU deadlock guard; the 1-device reference runs here.
    """
    two = json.loads(_run_script(
        _SHARD_SCRIPT, "--xla_force_host_platform_device_count=2 " + _ENV_FLAG).stdout.splitlines()[-1])
    one = _shard_case()
    assert one["devices"] == 1 and two["devices"] == 2
    for k in ("acc", "acc_se", "e2", "astar", "pos", "risk", "reduced", "reduced_e2"):
        np.testing.assert_allclose(two[k], one[k], rtol=1e-12, atol=0, err_msg=k)


_NO_X64_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import numpy as np, rmt_alpha as ra
    kw = dict(gamma=1.0, target_norm2=1.0, alignment=0.5, source_norm2=1.0, trials=8)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = ra.simulate([0.0, 1.0], 10, 20, dtype=np.float64, **kw)
    d = ra.simulate([0.0, 1.0], 10, 20, **kw)
    print(json.dumps(dict(warned=[str(x.category.__name__) for x in w], dtype=r.params["dtype"],
                          default=d.params["dtype"], acc=r.accuracy.tolist(),
                          result_dtype=str(r.accuracy.dtype))))
    """
)


def test_float64_without_x64_warns_and_uses_float32():
    out = json.loads(_run_script(_NO_X64_SCRIPT, _ENV_FLAG).stdout.splitlines()[-1])
    assert "UserWarning" in out["warned"]
    assert out["dtype"] == "float32" and out["default"] == "float32"
    assert out["result_dtype"] == "float64"
    assert all(0 < a < 1 for a in out["acc"])


def test_simulate_checks_the_xla_guard(monkeypatch):
    """simulate calls rmt_alpha._xla.check_cpu_scheduler before running.

    The backend of this process already runs with the flag (conftest), so only the
    environment the check reads is changed: no process is started without the guard.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _small(trials=3)  # guard in place: no warning
    monkeypatch.setenv("XLA_FLAGS", "")
    with pytest.warns(RuntimeWarning, match="deadlock"):
        _small(trials=3)


@pytest.mark.parametrize("name", ["ridge, eta>1, beta<0, large gamma", "fixed source, s<0, gamma=10"])
def test_reduced_method_agrees_with_direct_and_theory(name):
    """``simulate(method="reduced")`` (the exact O(p) sampler) against ``method="direct"``
    (two independent Monte Carlos: two-sample z) and against the theory (same allowance)."""
    n, p, task, trials = POINTS[name]
    alpha = _grid(n, p, task)
    red = ra.simulate(alpha, n, p, **task, trials=4 * trials, seed=5, method="reduced")
    dir_ = ra.simulate(alpha, n, p, **task, trials=trials, seed=6, method="direct")
    for field in ("accuracy", "score_mean", "score_second_moment", "optimal_alpha"):
        a, b = getattr(red, field), getattr(dir_, field)
        se = np.hypot(getattr(red, field + "_stderr"), getattr(dir_, field + "_stderr"))
        z = (a - b) / se
        assert np.all(np.abs(z) < 4.0), (field, z)
    acc = ra.test_accuracy(alpha, n, p, **task)
    assert np.all(np.abs(red.accuracy - acc) < 4 * red.accuracy_stderr + C_ACC / p)
    assert red.method == "reduced"
