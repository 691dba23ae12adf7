"""Argument validation and broadcasting of the theory API."""

from __future__ import annotations

import numpy as np
import pytest

import rmt_alpha as ra

RIDGE = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
FIXED = dict(gamma=0.1, target_norm2=1.0, alignment=0.5, source_norm2=1.0)
P = 20
VECTORS = dict(gamma=0.3, source=np.linspace(0.1, 1.0, P), target_mean=np.linspace(1.0, 0.2, P))

# functions of (alpha, n, p, **task) and of (n, p, **task)
WITH_ALPHA = [ra.test_accuracy, ra.test_error, ra.test_risk, ra.score_moments]
NO_ALPHA = [ra.optimal_alpha, ra.chance_alpha]


def _call(f, n=40, p=P, alpha=0.5, **kw):
    if f in WITH_ALPHA:
        return f(alpha, n, p, **kw)
    return f(n, p, **kw)


ALL = WITH_ALPHA + NO_ALPHA
FIDS = [f.__name__ for f in ALL]


# ----------------------------------------------------------------------------------------
# n, p, N: positive integers
# ----------------------------------------------------------------------------------------

BAD_INTS = [0, -3, 2.5, np.nan, np.inf, [10, 0], np.array([4.0, 7.5])]


@pytest.mark.parametrize("f", ALL, ids=FIDS)
@pytest.mark.parametrize("bad", BAD_INTS, ids=repr)
@pytest.mark.parametrize("which", ["n", "p"])
def test_n_p_must_be_positive_integers(f, bad, which):
    args = dict(n=40, p=P)
    args[which] = bad
    with pytest.raises(ValueError, match=rf"\b{which}\b"):
        _call(f, **args, **RIDGE)


@pytest.mark.parametrize("bad", BAD_INTS, ids=repr)
def test_N_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match=r"\bN\b"):
        ra.test_accuracy(0.5, 40, P, **dict(RIDGE, N=bad))
    with pytest.raises(ValueError, match=r"\bN\b"):
        ra.source_accuracy(P, N=bad, mu=1.0, beta=0.5, gamma_src=1.0)


def test_integer_valued_floats_and_int_arrays_are_accepted():
    a = ra.test_accuracy(0.5, 40.0, np.array([20, 40]), **dict(RIDGE, N=np.array([100.0, 200.0])))
    assert a.shape == (2,) and a.dtype == np.float64


# ----------------------------------------------------------------------------------------
# ranges and finiteness
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [1.0001, -1.5, [0.5, 2.0], np.nan, np.inf])
def test_beta_in_closed_interval(bad):
    with pytest.raises(ValueError, match=r"\bbeta\b"):
        ra.test_accuracy(0.5, 40, P, **dict(RIDGE, beta=bad))
    with pytest.raises(ValueError, match=r"\bbeta\b"):
        ra.source_accuracy(P, N=100, mu=1.0, beta=bad, gamma_src=1.0)


def test_beta_endpoints_are_accepted():
    acc = ra.test_accuracy(0.5, 40, P, **dict(RIDGE, beta=np.array([-1.0, 1.0])))
    assert np.all(np.isfinite(acc))


@pytest.mark.parametrize("bad", [0.0, -1e-3, np.nan, np.inf, -np.inf, [1.0, 0.0]])
@pytest.mark.parametrize("kw", [RIDGE, FIXED, VECTORS], ids=["ridge", "fixed", "vectors"])
def test_gamma_positive_finite(bad, kw):
    for f in ALL:
        with pytest.raises(ValueError, match=r"\bgamma\b"):
            _call(f, **dict(kw, gamma=bad))


@pytest.mark.parametrize("bad", [0.0, -2.0, np.nan, np.inf])
def test_gamma_src_positive_finite(bad):
    for f in ALL:
        with pytest.raises(ValueError, match=r"\bgamma_src\b"):
            _call(f, **dict(RIDGE, gamma_src=bad))
    with pytest.raises(ValueError, match=r"\bgamma_src\b"):
        ra.source_accuracy(P, N=100, mu=1.0, beta=0.5, gamma_src=bad)


@pytest.mark.parametrize("name,bad", [
    ("mu", -0.1), ("mu", np.nan), ("mu", np.inf),
    ("mu_orth", -1.0), ("mu_orth", np.nan),
])
def test_norms_nonnegative_finite(name, bad):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        ra.test_accuracy(0.5, 40, P, **dict(RIDGE, **{name: bad}))


@pytest.mark.parametrize("name,bad", [
    ("target_norm2", -1.0), ("target_norm2", np.nan), ("target_norm2", np.inf),
    ("source_norm2", 0.0), ("source_norm2", -1.0), ("source_norm2", np.inf),
    ("alignment", np.nan), ("alignment", -np.inf),
])
def test_fixed_source_ranges(name, bad):
    for f in ALL:
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            _call(f, **dict(FIXED, **{name: bad}))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, [0.0, np.nan]])
def test_alpha_finite(bad):
    # test_accuracy and test_error take alpha = +-inf as the alpha -> +-inf limit
    for f in WITH_ALPHA:
        if np.all(~np.isnan(bad)) and f in (ra.test_accuracy, ra.test_error):
            continue
        with pytest.raises(ValueError, match=r"\balpha\b"):
            f(bad, 40, P, **RIDGE)


@pytest.mark.parametrize("alignment,M,r", [(1.01, 1.0, 1.0), (-2.0, 1.0, 3.0), (0.1, 0.0, 1.0),
                                           ([0.5, 1.5], 1.0, 1.0)])
def test_cauchy_schwarz(alignment, M, r):
    for f in ALL:
        with pytest.raises(ValueError, match=r"alignment"):
            _call(f, gamma=0.1, target_norm2=M, alignment=alignment, source_norm2=r)
    # the boundary |s| = sqrt(M r) is allowed (w~ parallel to mu_beta)
    assert np.isfinite(ra.optimal_alpha(40, P, gamma=0.1, target_norm2=4.0, alignment=-2.0,
                                        source_norm2=1.0))


# ----------------------------------------------------------------------------------------
# source vectors
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["source", "target_mean"])
@pytest.mark.parametrize("bad", [np.ones(P - 1), np.ones(P + 3), np.ones((P, 1)), np.ones((2, P)),
                                 np.float64(1.0)], ids=["short", "long", "column", "2d", "scalar"])
def test_source_vectors_shape(name, bad):
    for f in ALL:
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            _call(f, **dict(VECTORS, **{name: bad}))


@pytest.mark.parametrize("name", ["source", "target_mean"])
def test_source_vectors_finite(name):
    v = VECTORS[name].copy()
    v[3] = np.nan
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        ra.test_accuracy(0.5, 40, P, **dict(VECTORS, **{name: v}))


def test_source_vectors_need_scalar_p_and_nonzero_source():
    with pytest.raises(ValueError, match=r"\bp\b"):
        ra.test_accuracy(0.5, 40, np.array([P, P]), **VECTORS)
    with pytest.raises(ValueError, match=r"\bsource\b"):
        ra.test_accuracy(0.5, 40, P, **dict(VECTORS, source=np.zeros(P)))


# ----------------------------------------------------------------------------------------
# keyword sets
# ----------------------------------------------------------------------------------------

SETS_RE = r"(?s)ridge source.*fixed source.*source vectors"


@pytest.mark.parametrize("kw", [
    dict(RIDGE, target_norm2=1.0),                             # ridge + a fixed-source key
    dict(FIXED, source=np.ones(P)),                             # fixed + a vector key
    dict(RIDGE, **{k: v for k, v in FIXED.items() if k != "gamma"}),  # two full sets
    {k: v for k, v in RIDGE.items() if k != "beta"},          # ridge missing beta
    {k: v for k, v in FIXED.items() if k != "source_norm2"},  # fixed missing one
    dict(gamma=0.1, source=np.ones(P)),                        # vectors missing target_mean
    {},                                                       # nothing
    dict(gamma=0.1),                                          # only the shared key
], ids=["ridge+fixed key", "fixed+vector key", "two sets", "ridge-beta", "fixed-r",
        "vectors-target", "none", "gamma only"])
def test_keyword_sets_mixed_or_incomplete(kw):
    for f in ALL:
        with pytest.raises(TypeError, match=SETS_RE):
            _call(f, **kw)


def test_unknown_keyword_is_type_error():
    with pytest.raises(TypeError):
        ra.test_accuracy(0.5, 40, P, **RIDGE, mu_target=1.0)


# ----------------------------------------------------------------------------------------
# regression arguments
# ----------------------------------------------------------------------------------------

def test_regression_validation():
    Ws, Wt = np.ones((3, 5)), np.zeros((3, 5))
    kw = dict(W_source=Ws, W_target=Wt, sigma=0.5, gamma=0.1)
    for name, bad in [("n", 0), ("p", 2.5)]:
        args = dict(n=10, p=5)
        args[name] = bad
        with pytest.raises(ValueError, match=rf"\b{name}\b"):
            ra.regression_risk(0.5, args["n"], args["p"], **kw)
    with pytest.raises(ValueError, match=r"\bsigma\b"):
        ra.regression_risk(0.5, 10, 5, **dict(kw, sigma=-1.0))
    with pytest.raises(ValueError, match=r"\bgamma\b"):
        ra.regression_risk(0.5, 10, 5, **dict(kw, gamma=0.0))
    with pytest.raises(ValueError, match=r"\balpha\b"):
        ra.regression_risk(np.nan, 10, 5, **kw)
    with pytest.raises(ValueError, match=r"W_source"):
        ra.regression_risk(0.5, 10, 5, **dict(kw, W_source=np.ones(5)))
    with pytest.raises(ValueError, match=r"W_target"):
        ra.regression_risk(0.5, 10, 5, **dict(kw, W_target=np.ones((2, 5))))
    with pytest.raises(ValueError, match=r"W_source"):
        ra.regression_risk(0.5, 10, 4, **kw)  # p does not match the columns
    with pytest.raises(ValueError, match=r"\balpha\b"):
        ra.regression_risk(np.ones(2), 10, 5, rowwise=True, **kw)
    with pytest.raises(ValueError, match=r"W_source"):
        ra.regression_optimal_alpha(np.zeros((3, 5)), Wt)
    with pytest.raises(ValueError, match=r"W_target"):
        ra.regression_optimal_alpha(Ws, np.full((3, 5), np.inf))


# ----------------------------------------------------------------------------------------
# broadcasting: an array in any argument gives float64 of the broadcast shape
# ----------------------------------------------------------------------------------------

ARRAYS = {
    "alpha": np.array([-1.0, 0.0, 2.0]).reshape(3, 1, 1),
    "n": np.array([20, 40]).reshape(2, 1),
    "p": np.array([10, 20, 30, 40]),
}
TASK_ARRAYS = {
    "N": np.array([100, 500]).reshape(2, 1), "mu": np.array([0.5, 1.5, 2.0, 3.0]),
    "mu_orth": np.array([0.0, 1.0]).reshape(2, 1), "beta": np.array([-0.9, 0.1, 0.6, 1.0]),
    "gamma": np.array([1e-3, 1.0]).reshape(2, 1), "gamma_src": np.array([0.1, 1.0, 2.0, 5.0]),
    "target_norm2": np.array([1.0, 2.0]).reshape(2, 1),
    "alignment": np.array([-0.5, 0.0, 0.5, 1.0]),
    "source_norm2": np.array([1.0, 3.0]).reshape(2, 1),
}


def _broadcast_cases():
    for arg in ["alpha", "n", "p"] + list(RIDGE):
        yield arg, RIDGE
    for arg in FIXED:
        yield arg, FIXED


@pytest.mark.parametrize("arg,base", list(_broadcast_cases()),
                         ids=[f"{a}-{'ridge' if 'N' in b else 'fixed'}"
                              for a, b in _broadcast_cases()])
def test_broadcast_single_array_argument(arg, base):
    value = ARRAYS.get(arg, TASK_ARRAYS.get(arg))
    for f in ALL:
        if arg == "alpha" and f not in WITH_ALPHA:
            continue
        call = dict(n=40, p=P, alpha=0.5, **base)
        call[arg] = value
        out = _call(f, **call)
        for o in (out if isinstance(out, tuple) else (out,)):
            assert isinstance(o, np.ndarray) and o.dtype == np.float64, (f.__name__, arg)
            assert o.shape == np.shape(value), (f.__name__, arg, o.shape)


@pytest.mark.parametrize("base", [RIDGE, FIXED], ids=["ridge", "fixed"])
def test_broadcast_all_arrays_together(base):
    call = dict(n=ARRAYS["n"], p=ARRAYS["p"], alpha=ARRAYS["alpha"],
                **{k: TASK_ARRAYS[k] for k in base})
    # keep Cauchy-Schwarz satisfied in the fixed set
    if "alignment" in call:
        call["alignment"] = 0.9 * call["alignment"]
    shape = np.broadcast_shapes(*(np.shape(v) for v in call.values()))
    no_alpha = np.broadcast_shapes(*(np.shape(v) for k, v in call.items() if k != "alpha"))
    for f in ALL:
        out = _call(f, **call)
        want = shape if f in WITH_ALPHA else no_alpha
        for o in (out if isinstance(out, tuple) else (out,)):
            assert o.dtype == np.float64 and o.shape == want, (f.__name__, o.shape, want)
    # elementwise equal to scalar calls
    acc = ra.test_accuracy(**call)
    idx = (2, 1, 3)
    scalar = {k: np.broadcast_to(v, shape)[idx].item() for k, v in call.items()}
    assert acc[idx] == pytest.approx(ra.test_accuracy(**scalar), rel=1e-14)


def test_scalar_inputs_give_float64_scalars():
    for f in ALL:
        out = _call(f, **RIDGE)
        for o in (out if isinstance(out, tuple) else (out,)):
            assert isinstance(o, np.float64) and np.shape(o) == ()


def test_vectors_set_broadcasts_over_alpha_n_gamma():
    out = ra.test_accuracy(np.zeros((3, 1, 1)), np.array([10, 40]).reshape(2, 1), P,
                           **dict(VECTORS, gamma=np.array([0.1, 1.0, 2.0])))
    assert out.shape == (3, 2, 3) and out.dtype == np.float64


def test_source_accuracy_and_regression_broadcast():
    out = ra.source_accuracy(np.array([10, 20]).reshape(2, 1), N=100,
                             mu=np.array([0.5, 1.0, 2.0]), beta=0.5, gamma_src=1.0)
    assert out.shape == (2, 3) and out.dtype == np.float64
    Ws, Wt = np.ones((2, 5)), np.zeros((2, 5))
    r = ra.regression_risk(np.zeros((4, 1)), np.array([5, 10, 20]), 5, W_source=Ws, W_target=Wt,
                           sigma=np.array([0.1, 0.5, 1.0]), gamma=0.1)
    assert r.shape == (4, 3) and r.dtype == np.float64
    r = ra.regression_risk(np.zeros((4, 2)), 10, 5, W_source=Ws, W_target=Wt, sigma=0.5,
                           gamma=np.array([0.1, 1.0, 2.0, 3.0]), rowwise=True)
    assert r.shape == (4,) and r.dtype == np.float64
