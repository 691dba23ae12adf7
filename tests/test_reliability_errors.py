"""Issue 9, class 5: every refusal names the argument, the value and the accepted range, in
one format (``<name> must be <range>, got <value>``) across the package.

Cases found: bare numpy broadcasting messages; ``True`` accepted as a size or a parameter
by the theory (while ``simulate`` refused it); ``rowwise="yes"`` accepted; complex data
silently losing their imaginary part in ``estimate_task``; huge-but-finite (and tiny) data
refused as "no feature varies"; option flags of ``estimate_task`` accepting any truthy
value; messages that did not show the offending value.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import rmt_alpha as ra

RIDGE = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
FIXED = dict(gamma=0.1, target_norm2=1.0, alignment=0.5, source_norm2=1.0)
WITH_ALPHA = [ra.test_accuracy, ra.test_error, ra.test_risk, ra.score_moments]
NO_ALPHA = [ra.optimal_alpha, ra.chance_alpha]
FORMAT = r"^{name} must be .+, got .+"


def _call(f, alpha=0.5, n=40, p=20, **kw):
    return f(alpha, n, p, **kw) if f in WITH_ALPHA else f(n, p, **kw)


def _data(seed=0, N=60, n=20, p=8):
    rng = np.random.default_rng(seed)
    ys = np.where(np.arange(N) % 2 == 0, 1.0, -1.0)
    yt = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    mu = np.zeros(p)
    mu[0] = 1.0
    mb = np.zeros(p)
    mb[:2] = 0.6, 0.8
    return (ys[:, None] * mu + rng.standard_normal((N, p)), ys,
            yt[:, None] * mb + rng.standard_normal((n, p)), yt)


# ---------------------------------------------------------------- broadcasting


@pytest.mark.parametrize("f", WITH_ALPHA + NO_ALPHA, ids=lambda f: f.__name__)
def test_broadcast_mismatch_names_the_arguments_and_shapes(f):
    kw = dict(RIDGE, gamma=[1.0, 2.0])
    args = dict(alpha=[0.0, 1.0, 2.0]) if f in WITH_ALPHA else dict(n=[10, 20, 30])
    with pytest.raises(ValueError, match=r"(alpha|n) and gamma must be .*broadcast.*got shapes "
                                         r"(alpha|n) \(3,\), gamma \(2,\)"):
        _call(f, **args, **kw)


def test_broadcast_mismatch_in_source_accuracy_and_regression():
    with pytest.raises(ValueError, match=r"p and mu must .*broadcast.*p \(2,\), mu \(3,\)"):
        ra.source_accuracy([10, 20], N=100, mu=[0.5, 1.0, 2.0], beta=0.5, gamma_src=1.0)
    W = np.ones((2, 5))
    with pytest.raises(ValueError, match=r"alpha and sigma must .*broadcast"):
        ra.regression_risk([0.0, 1.0, 2.0], 10, 5, W_source=W, W_target=W, sigma=[0.1, 0.2],
                           gamma=1.0)


# ---------------------------------------------------------------- bools


@pytest.mark.parametrize("f", WITH_ALPHA + NO_ALPHA, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", ["alpha", "n", "p"] + list(RIDGE))
def test_bools_are_refused_as_sizes_and_parameters(f, name):
    if name == "alpha" and f in NO_ALPHA:
        pytest.skip("no alpha")
    args = dict(alpha=0.5, n=40, p=20, **RIDGE)
    args[name] = True
    with pytest.raises(TypeError, match=FORMAT.format(name=name) + "bool"):
        _call(f, **args)


@pytest.mark.parametrize("name", ["target_norm2", "alignment", "source_norm2"])
def test_bools_refused_in_the_fixed_source_set(name):
    with pytest.raises(TypeError, match=FORMAT.format(name=name)):
        ra.optimal_alpha(40, 20, **dict(FIXED, **{name: np.bool_(True)}))
    with pytest.raises(TypeError, match=FORMAT.format(name=name)):
        ra.test_accuracy(0.5, 40, 20, **dict(FIXED, **{name: np.array([True, False])}))


def test_bools_refused_by_source_accuracy_regression_and_fine_tune():
    with pytest.raises(TypeError, match=FORMAT.format(name="N")):
        ra.source_accuracy(20, N=True, mu=1.0, beta=0.5, gamma_src=1.0)
    W = np.ones((2, 5))
    for name in ("n", "sigma", "gamma"):
        kw = dict(alpha=0.5, n=10, p=5, sigma=0.5, gamma=1.0)
        kw[name] = True
        with pytest.raises(TypeError, match=FORMAT.format(name=name)):
            ra.regression_risk(kw.pop("alpha"), kw.pop("n"), kw.pop("p"), W_source=W,
                               W_target=W, **kw)
    Xs, ys, Xt, yt = _data()
    with pytest.raises(TypeError, match=FORMAT.format(name="gamma")):
        ra.fine_tune(Xs, ys, Xt, yt, 1.0, gamma=True, gamma_src=1.0)


# ---------------------------------------------------------------- flags must be bools


@pytest.mark.parametrize("bad", ["yes", 1, 0, None, np.array([True])])
def test_rowwise_must_be_a_bool(bad):
    W = np.ones((2, 5))
    with pytest.raises(TypeError, match=FORMAT.format(name="rowwise") + ""):
        ra.regression_risk(np.zeros(2), 10, 5, W_source=W, W_target=W, sigma=0.5, gamma=1.0,
                           rowwise=bad)
    with pytest.raises(TypeError, match=FORMAT.format(name="rowwise")):
        ra.regression_optimal_alpha(W, W, rowwise=bad)


@pytest.mark.parametrize("name", ["whiten", "center", "match_target_noise"])
def test_estimate_task_options_must_be_bools(name):
    Xs, ys, Xt, yt = _data()
    with pytest.raises(TypeError, match=FORMAT.format(name=name)):
        ra.estimate_task(Xs, ys, Xt, yt, **{name: "no"})


# ---------------------------------------------------------------- data


def test_complex_data_are_refused_not_truncated():
    Xs, ys, Xt, yt = _data()
    with pytest.raises(TypeError, match=r"^X_source must be real, got a complex"):
        ra.estimate_task(Xs + 1j, ys, Xt, yt)
    with pytest.raises(TypeError, match=r"^X_target must be real, got a complex"):
        ra.estimate_task(Xs, ys, Xt.astype(complex), yt)
    with pytest.raises(TypeError, match=r"^X_target must be real"):
        ra.fine_tune(Xs, ys, Xt * (1 + 1j), yt, 1.0, gamma=1.0, gamma_src=1.0)
    with pytest.raises(TypeError, match=r"^y_target must be binary labels"):
        ra.estimate_task(Xs, ys, Xt, yt + 0j)
    with pytest.raises(TypeError, match=r"^gamma must be real"):
        ra.optimal_alpha(40, 20, **dict(RIDGE, gamma=1 + 0j))


@pytest.mark.parametrize("scale", [1e200, 1e-200, 2.0**1000, 1e-300])
def test_huge_and_tiny_data_are_estimated_not_refused(scale):
    # standardize=True makes the estimate invariant to a common scale of the data: the
    # right answer at 1e200 is the answer at 1 (float64 holds such data exactly enough).
    Xs, ys, Xt, yt = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = ra.estimate_task(Xs, ys, Xt, yt)
        got = ra.estimate_task(Xs * scale, ys, Xt * scale, yt)
        for k in ("mu", "mu_orth", "beta"):
            assert getattr(got, k) == pytest.approx(getattr(ref, k), rel=1e-9), k
        assert got.p == ref.p
        np.testing.assert_allclose(got.X_target, ref.X_target, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got.transform_target(Xt * scale), ref.X_target,
                                   rtol=1e-9, atol=1e-12)
        ft, ft_ref = ra.fine_tune(Xs * scale, ys, Xt * scale, yt, [0.0, 1.0],
                                  gamma=1.0, gamma_src=1.0), None
        assert np.all(np.isfinite(ft.weights))
        del ft_ref


@pytest.mark.parametrize("scale", [1.0, 1e200, 1e-200])
@pytest.mark.parametrize("whiten", [False, True])
def test_transform_linear_map_is_the_transform(scale, whiten):
    # code that maps moments into the pipeline's coordinates (digits' Gaussian twin) uses
    # linear_map(): it must include the exact prescale, the scales and the whitener
    Xs, ys, Xt, yt = _data()
    est = _estimate_quiet(Xs * scale, ys, Xt * scale, yt, whiten=whiten)
    tf = est._transform
    A, B = Xt * scale, _data(seed=3)[2] * scale
    np.testing.assert_allclose(est.transform_target(A) - est.transform_target(B),
                               (A - B)[:, tf.keep] @ tf.linear_map(), rtol=1e-9, atol=1e-9)


def _estimate_quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return ra.estimate_task(*args, **kw)


def test_unstandardized_huge_data_are_refused_with_the_reason():
    Xs, ys, Xt, yt = _data()
    with pytest.raises(ValueError, match=r"^X_source must be .*unit noise scale.*got max \|x\| = [0-9.]+e\+200"):
        ra.estimate_task(Xs * 1e200, ys, Xt, yt, standardize=False)


def test_constant_data_are_refused_with_the_reason():
    Xs, ys, Xt, yt = _data()
    with pytest.raises(ValueError, match=r"^X_source must .*varies within its classes"):
        ra.estimate_task(np.ones_like(Xs), ys, Xt, yt)


def test_data_messages_name_the_offending_entry():
    Xs, ys, Xt, yt = _data()
    Xs[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"^X_source must be finite .*, got 1 non-finite "
                                         r"entries, the first nan at index \(3, 2\)"):
        ra.estimate_task(Xs, ys, Xt, yt)
    with pytest.raises(ValueError, match=r"^y_target must be binary labels .*got the values"):
        ra.estimate_task(np.nan_to_num(Xs), ys, Xt, yt * 2)
    with pytest.raises(ValueError, match=r"^X_target must be .*8\), got 5 features"):
        ra.estimate_task(np.nan_to_num(Xs), ys, Xt[:, :5], yt)


# ---------------------------------------------------------------- one format


CASES = [
    ("n", lambda: ra.test_accuracy(0.5, 0, 20, **RIDGE)),
    ("p", lambda: ra.optimal_alpha(40, 2.5, **RIDGE)),
    ("N", lambda: ra.optimal_alpha(40, 20, **dict(RIDGE, N=-1))),
    ("mu", lambda: ra.optimal_alpha(40, 20, **dict(RIDGE, mu=-1.0))),
    ("beta", lambda: ra.test_accuracy(0.5, 40, 20, **dict(RIDGE, beta=[0.5, 1.5]))),
    ("gamma", lambda: ra.chance_alpha(40, 20, **dict(FIXED, gamma=0.0))),
    ("gamma_src", lambda: ra.source_accuracy(20, N=10, mu=1.0, beta=0.5, gamma_src=np.inf)),
    ("alpha", lambda: ra.test_error(np.nan, 40, 20, **FIXED)),
    ("alignment", lambda: ra.optimal_alpha(40, 20, **dict(FIXED, alignment=2.0))),
    ("source_norm2", lambda: ra.optimal_alpha(40, 20, **dict(FIXED, source_norm2=0.0))),
    ("source", lambda: ra.optimal_alpha(40, 3, gamma=1.0, source=np.zeros(3),
                                        target_mean=np.ones(3))),
    ("target_mean", lambda: ra.optimal_alpha(40, 3, gamma=1.0, source=np.ones(3),
                                             target_mean=np.ones(4))),
    ("sigma", lambda: ra.regression_risk(0.5, 10, 5, W_source=np.ones((2, 5)),
                                         W_target=np.ones((2, 5)), sigma=-1.0, gamma=1.0)),
    ("W_target", lambda: ra.regression_optimal_alpha(np.ones((2, 5)), np.ones((3, 5)))),
    ("W_source", lambda: ra.regression_optimal_alpha(np.zeros((2, 5)), np.ones((2, 5)))),
    ("p", lambda: ra.regression_risk(0.5, 10, 4, W_source=np.ones((2, 5)),
                                     W_target=np.ones((2, 5)), sigma=0.5, gamma=1.0)),
    ("alpha", lambda: ra.regression_risk(np.zeros(3), 10, 5, W_source=np.ones((2, 5)),
                                         W_target=np.ones((2, 5)), sigma=0.5, gamma=1.0,
                                         rowwise=True)),
    ("shrinkage", lambda: ra.estimate_task(*_data(), whiten=True, shrinkage=1.5)),
    ("standardize", lambda: ra.estimate_task(*_data(), standardize="rows")),
    ("y_source", lambda: ra.estimate_task(_data()[0], np.ones(60), *_data()[2:])),
    ("alpha", lambda: ra.fine_tune(*_data(), np.zeros((2, 2)), gamma=1.0, gamma_src=1.0)),
    ("trials", lambda: ra.simulate(0.5, 40, 20, **RIDGE, trials=0)),
    ("method", lambda: ra.simulate(0.5, 40, 20, **RIDGE, trials=2, method="fast")),
    ("seed", lambda: ra.simulate(0.5, 40, 20, **RIDGE, trials=2, seed=True)),
    ("dtype", lambda: ra.simulate(0.5, 40, 20, **RIDGE, trials=2, dtype="int8")),
    ("gamma", lambda: ra.simulate(0.5, 40, 20, **dict(RIDGE, gamma=[1.0, 2.0]), trials=2)),
    ("p", lambda: ra.simulate(0.5, 40, 1, **RIDGE, trials=2)),
    ("test_points", lambda: ra.simulate_scores(0.5, 40, 20, **RIDGE, trials=2,
                                               test_points=2.5)),
    ("rowwise", lambda: ra.simulate_regression(0.5, 10, 5, W_source=np.ones((2, 5)),
                                               W_target=np.ones((2, 5)), sigma=0.5,
                                               gamma=1.0, trials=2, rowwise="no")),
]


@pytest.mark.parametrize("name,call", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_every_refusal_has_the_one_format(name, call):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    msg = str(info.value)
    assert re.match(FORMAT.format(name=re.escape(name)), msg), msg
    assert "\n" not in msg


def test_array_refusals_show_the_offending_entry():
    with pytest.raises(ValueError, match=r"^gamma must be > 0 and finite, got -2\.0 at index 1 "
                                         r"of a list of shape \(3,\)"):
        ra.optimal_alpha(40, 20, **dict(FIXED, gamma=[1.0, -2.0, 3.0]))
    with pytest.raises(ValueError, match=r"^n must be a positive integer .*got 2\.5 at index "
                                         r"\(0, 1\)"):
        ra.optimal_alpha(np.array([[10, 2.5]]), 20, **FIXED)
