"""Issue 9, class 2: estimate the memory before allocating, refuse what cannot fit.

Cases found: ``simulate(..., p=10**6, method="direct")`` died after a second with a raw
``RESOURCE_EXHAUSTED: Out of memory allocating 83248066816 bytes`` (a traceback on the
command line); a ``chunk_size`` too large, ``simulate_scores`` with many test points (all
samples are kept on the host), a broadcast of the closed forms over huge arrays, and the
Gram and whitening matrices of ``estimate_task`` allocated without a check.

Now every allocating entry point calls ``rmt_alpha._memory.guard`` (the Monte Carlo through
``_memory.plan``) before allocating; the refusal is a ValueError with the estimate, the
device's limit and the way out. The estimates are checked to bound what XLA actually
allocates (its compiled memory analysis).
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rmt_alpha as ra
from rmt_alpha import _memory
from rmt_alpha import _simulate as S
from rmt_alpha._simspec import SimSpec

RIDGE = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
REFUSAL = (r"^{what} must be within the memory of its device \(.*: [0-9.]+ [kMGT]?B\), "
           r"got an estimated [0-9.]+ [kMGT]?B \(.*\); {way}")


def test_the_issue_case_is_refused_before_allocating():
    with pytest.raises(ValueError, match=REFUSAL.format(
            what=re.escape("simulate(method='direct')"), way=r"use method='reduced'")) as info:
        ra.simulate(0.5, 100, 10**6, **RIDGE, trials=10, method="direct")
    msg = str(info.value)
    assert "p = 1000000" in msg and "chunk_size" in msg and "\n" not in msg
    # the reduced sampler is the way out: it plans (no refusal) for the same task
    chunk, n_chunks = _memory.plan("x", per_trial=S._trial_bytes(
        "reduced", SimSpec(n=100, p=10**6, gamma=1.0, source="ridge", N=2000), 8),
        trials=10, detail="", ways_out="")
    assert chunk * n_chunks >= 10


@pytest.fixture
def small_memory(monkeypatch):
    """A machine with 50 MB: the guard, not the allocator, must say no."""
    monkeypatch.setattr(_memory, "host_limit", lambda: 50_000_000)


def test_chunk_size_and_sizes_refused_on_a_small_machine(small_memory):
    with pytest.raises(ValueError, match=REFUSAL.format(
            what=re.escape("simulate(method='reduced')"), way="use a smaller chunk_size")):
        ra.simulate(0.5, 100, 400, **RIDGE, trials=10**5, method="reduced", chunk_size=10**5)
    with pytest.raises(ValueError, match=REFUSAL.format(
            what=re.escape("simulate(method='direct')"), way="use method='reduced'")):
        ra.simulate(0.5, 100, 2000, **dict(RIDGE, N=10**4), trials=2)
    with pytest.raises(ValueError, match=REFUSAL.format(
            what=re.escape("simulate_scores(method='direct')"), way=r"use method='reduced'.*"
                                                                     r"fewer trials, test_points")):
        ra.simulate_scores(0.5, 20, 40, **RIDGE, trials=10**4, test_points=10**3)
    W = np.ones((50, 2000))
    with pytest.raises(ValueError, match=REFUSAL.format(what="simulate_regression",
                                                        way="use a smaller chunk_size")):
        ra.simulate_regression(0.5, 5000, 2000, W_source=W, W_target=W, sigma=0.5, gamma=1.0,
                               trials=2)


def test_default_chunk_shrinks_to_fit_and_one_trial_must_fit(small_memory):
    chunk, n_chunks = _memory.plan("x", per_trial=10_000_000, trials=100, detail="",
                                   ways_out="")
    assert chunk * 10_000_000 <= _memory.CPU_CHUNK_BUDGET * len(jax.devices())
    assert chunk * n_chunks >= 100
    with pytest.raises(ValueError, match=r"got an estimated 60 MB"):
        _memory.plan("x", per_trial=60_000_000, trials=1, detail="", ways_out="")


def test_closed_forms_refuse_a_broadcast_that_cannot_fit():
    huge = dict(RIDGE, gamma=np.ones(10**6))
    with pytest.raises(ValueError, match=r"^the broadcast arguments must be within the memory "
                                         r".*shape \(100000, 1000000\).*evaluate in pieces"):
        ra.test_accuracy(np.zeros((10**5, 1)), 100, 400, **huge)
    with pytest.raises(ValueError, match=r"^the broadcast arguments must be within"):
        ra.source_accuracy(np.arange(1, 10**5 + 1)[:, None], N=2000, mu=np.ones(10**6),
                           beta=0.5, gamma_src=1.0)
    W = np.ones((2, 5))
    with pytest.raises(ValueError, match=r"^the broadcast arguments must be within"):
        ra.regression_risk(np.zeros((10**5, 1)), 10, 5, W_source=W, W_target=W,
                           sigma=np.ones(10**6), gamma=1.0)


def test_estimate_task_and_fine_tune_refuse_before_allocating(small_memory):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 1500))
    y = np.where(np.arange(40) % 2 == 0, 1.0, -1.0)
    with pytest.raises(ValueError, match=REFUSAL.format(what="estimate_task",
                                                        way="use fewer features .*whiten=False")):
        ra.estimate_task(X, y, X[:10], y[:10], whiten=True)
    with pytest.warns(RuntimeWarning, match="clipped"):  # noise only: beta is clipped
        ra.estimate_task(X, y, X[:10], y[:10])  # without whitening it fits
    with pytest.raises(ValueError, match=REFUSAL.format(what="fine_tune", way="use fewer")):
        big = rng.standard_normal((2000, 1500))
        ra.fine_tune(big, np.where(np.arange(2000) % 2 == 0, 1.0, -1.0), X, y, 1.0,
                     gamma=1.0, gamma_src=1.0)


@pytest.mark.parametrize("method,N,n,p", [("direct", 2000, 100, 400), ("direct", 300, 50, 1000),
                                          ("reduced", 2000, 100, 4000)])
def test_estimates_bound_what_xla_allocates(method, N, n, p):
    spec = SimSpec(n=n, p=p, gamma=1.0, source="ridge", N=N, mu=1.5, mu_orth=1.0, beta=0.8,
                   gamma_src=1.0)
    static, names, values = S._split_spec(spec)
    chunk, A = 4, 5
    prog = S._accuracy_program(S._sampler(method), static, names, "float64",
                               S._devices(), "threefry2x32", chunk)
    args = (jax.random.key_data(jax.random.key(0)), jnp.uint32(0), jnp.int32(chunk),
            jnp.zeros(A), jnp.asarray(values))
    ma = prog.lower(*args).compile().memory_analysis()
    actual = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    assert chunk * (S._trial_bytes(method, spec, 8) + 4 * 8 * A) >= actual


def test_regression_estimate_bounds_what_xla_allocates():
    n, p, d, K, chunk = 60, 200, 8, 5, 4
    prog = S._regression_program(n, "float64", S._devices(), "threefry2x32",
                                 chunk)
    args = (jax.random.key_data(jax.random.key(0)), jnp.uint32(0), jnp.int32(chunk),
            jnp.zeros((K, d)), jnp.ones((d, p)), jnp.ones((d, p)), jnp.asarray([0.5, 1.0]))
    ma = prog.lower(*args).compile().memory_analysis()
    actual = ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes
    assert chunk * S._regression_trial_bytes(n, p, d, K, 8) >= actual
