"""The exact reduced sampler (THEORY §6) against an independent direct construction.

* equality in law with a plain numpy simulation that builds the data matrices and solves
  the ``p x p`` systems (two-sample z-tests on the means and two-sample KS tests on each of
  the five per-trial statistics), over settings covering p < n and p > n, p < N and p > N,
  the edge cases p = n - 1, p = n + 1 and n = 2, small and large ridges, negative beta, a
  zero target mean, fixed and ridge sources;
* the chi-bidiagonal (Dumitriu–Edelman) model of the Wishart matrix, including the
  singular case p > m, against directly sampled Wishart matrices;
* the chi-square sampler against the exact chi-square law, in float64 and float32;
* the reduced sampler's means against the closed forms of THEORY §3-§4 at moderate p;
* float32 against float64.

Multiple testing: each statistical assertion is a fixed-seed test at level 1e-3 (KS) or
|z| < 4 (two-sided level 6e-5). With about 120 such checks the family-wise chance that a
correct sampler fails one of them for some seed is below ~0.1 by Bonferroni; the seeds are
fixed, so the suite is deterministic. Wrong laws are caught (checked by mutation): the
Wishart model with the sub-diagonal continued past column m when p > m + 1 gives |z| up
to 300; n instead of n - 1 degrees of freedom, |z| up to 8.6 and KS p down to 5e-11;
dropping the Bartlett factor's chi_{p2-1}, |z| up to 200.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from rmt_alpha import _reduced, blocks
from rmt_alpha._simspec import STAT_NAMES, SimSpec

KS_LEVEL = 1e-3
Z_MAX = 4.0


# ----------------------------------------------------------------------------- helpers
def direct_samples(spec: SimSpec, trials: int, seed: int, chunk: int = 250) -> np.ndarray:
    """Independent numpy reference: build the data matrices and solve the p x p systems.

    THEORY §1: source ``x~_i = y~_i mu + z~_i`` (N points), ridge source
    ``w~ = (X~X~^T/N + gamma_src I)^{-1} X~y~/N`` (or the fixed ``w~`` of SimSpec), target
    ``x_i = y_i mu_beta + z_i`` (n points), ``w0 = Q X y / n``, ``v = gamma Q w~``.
    """
    rng = np.random.default_rng(seed)
    p, n = spec.p, spec.n
    mu_b, w_fixed = np.zeros(p), np.zeros(p)
    if spec.source == "fixed":
        M, s, r = spec.target_norm2, spec.alignment, spec.source_norm2
        if M > 0:
            mu_b[0] = np.sqrt(M)
            w_fixed[0], w_fixed[1] = s / np.sqrt(M), np.sqrt(r - s * s / M)
        else:
            w_fixed[0] = np.sqrt(r)
    else:
        mu, mu_perp = np.zeros(p), np.zeros(p)
        mu[0], mu_perp[1] = spec.mu, spec.mu_orth
        mu_b = spec.beta * mu + np.sqrt(1.0 - spec.beta**2) * mu_perp
    out = []
    for start in range(0, trials, chunk):
        B = min(chunk, trials - start)
        if spec.source == "fixed":
            w_src = np.broadcast_to(w_fixed, (B, p))
        else:
            N = spec.N
            y_s = rng.choice([-1.0, 1.0], (B, 1, N))
            X_s = mu[None, :, None] * y_s + rng.standard_normal((B, p, N))
            A_s = X_s @ np.swapaxes(X_s, 1, 2) / N + spec.gamma_src * np.eye(p)
            w_src = np.linalg.solve(A_s, (X_s @ y_s[:, 0, :, None]) / N)[..., 0]
        y = rng.choice([-1.0, 1.0], (B, 1, n))
        X = mu_b[None, :, None] * y + rng.standard_normal((B, p, n))
        A = X @ np.swapaxes(X, 1, 2) / n + spec.gamma * np.eye(p)
        rhs = np.concatenate([X @ y[:, 0, :, None] / n, spec.gamma * w_src[..., None]], axis=2)
        sol = np.linalg.solve(A, rhs)
        w0, v = sol[..., 0], sol[..., 1]
        out.append(np.stack([w0 @ mu_b, v @ mu_b, np.sum(w0 * w0, 1), np.sum(w0 * v, 1),
                             np.sum(v * v, 1)], axis=1))
    return np.concatenate(out)


@functools.lru_cache(maxsize=None)
def _direct_cached(spec, trials, seed):
    return direct_samples(spec, trials, seed)


@functools.lru_cache(maxsize=None)
def _sampler(spec, dtype):
    return jax.jit(jax.vmap(lambda k: _reduced.trial_stats(k, spec, dtype)))


def reduced_samples(spec, trials, seed, dtype=jnp.float64, chunk=1000, raw_keys=False):
    f = _sampler(spec, jnp.dtype(dtype))
    key = jax.random.PRNGKey(seed) if raw_keys else jax.random.key(seed)
    keys = jax.random.split(key, trials)
    return np.concatenate(
        [np.asarray(f(keys[i : i + chunk]), dtype=np.float64) for i in range(0, trials, chunk)]
    )


def two_sample_z(a, b):
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    return (a.mean(axis=0) - b.mean(axis=0)) / se


# ------------------------------------------------------------ equality in law, 5 stats
SETTINGS = {
    # eta < 1, p < N, moderate ridges
    "ridge_p<n_p<N": SimSpec(
        n=80, p=40, gamma=0.5, source="ridge", N=160, mu=1.5, mu_orth=1.0, beta=0.6, gamma_src=1.0
    ),
    # eta = 3 (p > n), p > N, small ridges, negative beta
    "ridge_p>n_p>N_small_gamma": SimSpec(
        n=20, p=60, gamma=0.05, source="ridge", N=30, mu=1.2, mu_orth=0.8, beta=-0.7,
        gamma_src=0.02,
    ),
    # p = n + 1 (null block of size 1: chi_0 in the Bartlett factor), source p = N - 1,
    # large ridges
    "ridge_p=n+1_large_gamma": SimSpec(
        n=31, p=32, gamma=20.0, source="ridge", N=33, mu=2.0, mu_orth=0.5, beta=0.3,
        gamma_src=10.0,
    ),
    # n = 2 (rank-1 Wishart), beta = 1
    "ridge_n=2_beta=1": SimSpec(
        n=2, p=20, gamma=0.2, source="ridge", N=3, mu=1.0, mu_orth=1.0, beta=1.0, gamma_src=0.5
    ),
    # eta = 2, tiny ridge, negative alignment
    "fixed_p>n_tiny_gamma": SimSpec(
        n=25, p=50, gamma=1e-3, source="fixed", target_norm2=1.5, alignment=-0.8,
        source_norm2=2.0,
    ),
    # eta = 1/4, large ridge
    "fixed_p<n_large_gamma": SimSpec(
        n=120, p=30, gamma=5.0, source="fixed", target_norm2=2.0, alignment=1.0,
        source_norm2=1.0,
    ),
    # p = n - 1 (no null block, last diagonal chi_1), zero target mean
    "fixed_p=n-1_M=0": SimSpec(
        n=25, p=24, gamma=0.3, source="fixed", target_norm2=0.0, alignment=0.0,
        source_norm2=1.5,
    ),
}
TRIALS = 4000


@pytest.mark.parametrize("name", list(SETTINGS))
def test_equal_in_law_to_direct_construction(name):
    spec = SETTINGS[name]
    seed = list(SETTINGS).index(name)
    direct = _direct_cached(spec, TRIALS, 100 + seed)
    reduced = reduced_samples(spec, TRIALS, seed=200 + seed)
    assert np.all(np.isfinite(reduced))
    if spec.source == "fixed" and spec.target_norm2 == 0:
        # mu_beta = 0: both mean statistics vanish identically.
        assert np.all(direct[:, :2] == 0) and np.all(reduced[:, :2] == 0)
        z = np.concatenate([[0.0, 0.0], two_sample_z(reduced[:, 2:], direct[:, 2:])])
        ks = [1.0, 1.0] + [stats.ks_2samp(reduced[:, i], direct[:, i]).pvalue for i in (2, 3, 4)]
    else:
        z = two_sample_z(reduced, direct)
        ks = [stats.ks_2samp(reduced[:, i], direct[:, i]).pvalue for i in range(5)]
    print(f"\n{name}: " + "  ".join(
        f"{s}: z={zi:+.2f} KS p={k:.3g}" for s, zi, k in zip(STAT_NAMES, z, ks)
    ))
    assert np.all(np.abs(z) < Z_MAX), dict(zip(STAT_NAMES, z))
    assert min(ks) > KS_LEVEL, dict(zip(STAT_NAMES, ks))


# ------------------------------------------------- the Wishart tridiagonal (DE) model
def dense_T(d2, e2, p):
    """``T = blockdiag(B B^T, 0)`` (p x p) from the squared bidiagonal entries."""
    K, p1 = d2.shape
    B = np.zeros((K, p, p))
    idx = np.arange(p1)
    B[:, idx, idx] = np.sqrt(d2)
    B[:, idx[1:], idx[:-1]] = np.sqrt(e2[:, :-1])
    return B @ np.swapaxes(B, 1, 2)


WISHART_CASES = ((12, 5), (12, 11), (12, 12), (12, 13), (6, 30))  # (p, m): p > m + 1 ... p < m


@functools.lru_cache(maxsize=None)
def _bidiagonal_samples(K=4000):
    """Squared bidiagonal entries ``(d^2, e^2)`` for every case of WISHART_CASES, laid out
    as the sampler's stages use them (``_plan(...).dof``: diagonal, then sub-diagonal)."""
    plans = [_reduced._plan(m + 1, p) for p, m in WISHART_CASES]
    dof = np.concatenate([q.dof for q in plans])

    def draw(key):
        return _reduced._chi2_and_normals(key, dof, 0, jnp.float64)[0]

    chi2 = np.asarray(jax.jit(jax.vmap(draw))(jax.random.split(jax.random.key(7), K)))
    out, offset = [], 0
    for q in plans:
        block = chi2[:, offset : offset + q.dof.size]
        offset += q.dof.size
        e2 = np.concatenate([block[:, q.p1 : 2 * q.p1 - 1], np.zeros((K, 1))], axis=1)
        out.append((block[:, : q.p1], e2))
    return out


@pytest.mark.parametrize("case", range(len(WISHART_CASES)), ids=[f"p={p},m={m}" for p, m in WISHART_CASES])
def test_tridiagonal_model_is_wishart(case):
    """T = B B^T (chi-bidiagonal B, THEORY §6) has the spectrum of Wishart_p(I, m)."""
    p, m = WISHART_CASES[case]
    d2, e2 = _bidiagonal_samples()[case]
    K = len(d2)
    T = dense_T(d2, e2, p)
    G = np.random.default_rng(p * 100 + m).standard_normal((K, p, m))
    W = G @ np.swapaxes(G, 1, 2)
    ev_T, ev_W = np.linalg.eigvalsh(T), np.linalg.eigvalsh(W)

    # rank min(p, m): exactly p - m zero eigenvalues when p > m (the singular case)
    rank = min(p, m)
    scale = ev_T[:, -1:]
    assert np.all(np.abs(ev_T[:, : p - rank]) < 1e-12 * scale)
    if p != m:  # (for p = m the smallest eigenvalue has a density ~ lambda^(-1/2) at 0)
        assert np.all(ev_T[:, p - rank] > 1e-12 * scale[:, 0])

    # tr T = sum of independent chi-squares with p m degrees of freedom in total: exact law
    assert stats.kstest(np.trace(T, axis1=1, axis2=2), stats.chi2(p * m).cdf).pvalue > KS_LEVEL
    # E tr W^2 = p m (p + m + 1)
    tr2 = np.einsum("kij,kij->k", T, T)
    z = (tr2.mean() - p * m * (p + m + 1)) / (tr2.std(ddof=1) / np.sqrt(K))
    assert abs(z) < Z_MAX
    # spectra against direct Wishart samples
    gamma = 0.1
    features = {
        "lambda_max": (ev_T[:, -1], ev_W[:, -1]),
        "smallest_nonzero": (ev_T[:, p - rank], ev_W[:, p - rank]),
        "tr_W2": (tr2, np.einsum("kij,kij->k", W, W)),
        "tr_resolvent": (
            np.sum(1.0 / (ev_T / m + gamma), axis=1),
            np.sum(1.0 / (ev_W / m + gamma), axis=1),
        ),
    }
    pvals = {name: stats.ks_2samp(a, b).pvalue for name, (a, b) in features.items()}
    print(f"\np={p} m={m}: tr W^2 z={z:+.2f}, KS " + " ".join(f"{k}={v:.3g}" for k, v in pvals.items()))
    assert min(pvals.values()) > KS_LEVEL, pvals


# ------------------------------------------------------------------- chi-square sampler
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_chi_square_sampler(dtype):
    dofs = np.array([1, 2, 3, 7, 50, 1000, 200_000])
    K = 20_000
    f = jax.jit(jax.vmap(lambda k: _reduced._chi2_and_normals(k, dofs, 3, dtype)))
    chi2, normals = (np.asarray(a, dtype=np.float64) for a in f(jax.random.split(jax.random.key(3), K)))
    assert np.all(np.isfinite(chi2))
    for j, k in enumerate(dofs):
        assert stats.kstest(chi2[:, j], stats.chi2(k).cdf).pvalue > KS_LEVEL, k
        if k >= 50:  # standardised: sensitive to the centre of large-dof laws
            zs = (chi2[:, j] - k) / np.sqrt(2.0 * k)
            assert abs(zs.mean()) * np.sqrt(K) < Z_MAX, k
            assert abs(zs.var() - 1.0) < Z_MAX * np.sqrt(2.0 / K) * 1.5, k
    for j in range(3):
        assert stats.kstest(normals[:, j], "norm").pvalue > KS_LEVEL


def test_trials_do_not_depend_on_the_batch_or_the_block():
    """A trial's variates sit at fixed counters of its own stream (rejected chi-square
    candidates included), so a trial gives the same numbers alone, at any place of any
    batch and with any block length of the pass (up to rounding)."""
    spec = SETTINGS["ridge_p>n_p>N_small_gamma"]  # small dofs: rejections in most trials
    keys = jax.random.split(jax.random.key(5), 1000)
    alone = np.asarray(_sampler(spec, jnp.dtype(jnp.float64))(keys))  # vmap of single trials
    batch = jax.jit(lambda k: _reduced.trial_stats_batch(k, spec, block=8))
    whole = np.asarray(batch(keys))
    shifted = np.asarray(batch(jnp.roll(keys, 3)))
    np.testing.assert_allclose(whole, alone, rtol=1e-12, atol=0)
    np.testing.assert_allclose(shifted, np.roll(alone, 3, axis=0), rtol=1e-12, atol=0)


def test_one_minus_v_plus_log_v_is_accurate():
    """The Marsaglia–Tsang log-acceptance term, cancellation-free (vs 50-digit arithmetic)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    y = np.concatenate([-np.logspace(-12, np.log10(0.99), 200), np.logspace(-12, 1, 200)])
    for dtype, tol in ((jnp.float64, 1e-13), (jnp.float32, 1e-5)):
        yd = np.asarray(y, dtype=dtype)  # compare at the rounded argument
        ref = np.array(
            [float(1 - (1 + mpmath.mpf(float(t))) ** 3 + 3 * mpmath.log1p(mpmath.mpf(float(t))))
             for t in yd]
        )
        got = np.asarray(_reduced._one_minus_v_plus_log_v(jnp.asarray(yd)), dtype=np.float64)
        np.testing.assert_allclose(got, ref, rtol=tol)


# ------------------------------------------------------------------------ theory check
@pytest.mark.parametrize(
    "spec",
    [
        SimSpec(n=200, p=400, gamma=0.5, source="ridge", N=1600, mu=1.5, mu_orth=1.0, beta=0.8,
                gamma_src=1.0),
        SimSpec(n=800, p=400, gamma=0.1, source="fixed", target_norm2=1.0, alignment=-0.5,
                source_norm2=1.0),
    ],
    ids=["ridge", "fixed"],
)
def test_means_match_closed_form_theory(spec):
    """Means of the five statistics vs THEORY §3-§4 within 4 SE + 1/p (finite-size gap).

    Estimated here: m0 = E w0.mu_beta, m1 = E v.mu_beta, T1 = E[(w0.mu_beta)^2 + ||w0||^2],
    T2 = E[2 (w0.mu_beta)(v.mu_beta) + 2 w0.v], T3 = E[(v.mu_beta)^2 + ||v||^2].
    """
    S = reduced_samples(spec, 4000, seed=11)
    a, b, c, d, e = S.T
    q = np.stack([a, b, a * a + c, 2 * a * b + 2 * d, b * b + e], axis=1)
    mc, se = q.mean(axis=0), q.std(axis=0, ddof=1) / np.sqrt(len(q))
    eta = spec.p / spec.n
    if spec.source == "ridge":
        st = blocks.source_stats(spec.p, N=spec.N, mu=spec.mu, gamma_src=spec.gamma_src)
        M = spec.beta**2 * spec.mu**2 + (1 - spec.beta**2) * spec.mu_orth**2
        s, r = spec.beta * st.mean, st.norm2
    else:
        M, s, r = spec.target_norm2, spec.alignment, spec.source_norm2
    fm = blocks.fixed_source_moments(eta, gamma=spec.gamma, target_norm2=M, alignment=s,
                                     source_norm2=r)
    theory = np.array([fm.m0, fm.m1, fm.T1, fm.T2, fm.T3], dtype=np.float64)
    print(f"\nMC {mc}\nth {theory}\nz  {(mc - theory) / se}")
    assert np.all(np.abs(mc - theory) < Z_MAX * se + 1.0 / spec.p)


# ------------------------------------------------------------------- float32, keys, API
def test_float32_equal_in_law_to_direct_construction():
    """float32 (with raw uint32 keys) against the float64 numpy reference."""
    name = "ridge_p>n_p>N_small_gamma"
    spec = SETTINGS[name]
    direct = _direct_cached(spec, TRIALS, 100 + list(SETTINGS).index(name))
    s32 = reduced_samples(spec, TRIALS, seed=6, dtype=jnp.float32, raw_keys=True)
    assert np.all(np.isfinite(s32))
    z = two_sample_z(s32, direct)
    ks = [stats.ks_2samp(s32[:, i], direct[:, i]).pvalue for i in range(5)]
    print("\nfloat32: " + "  ".join(f"{s}: z={zi:+.2f} KS p={k:.3g}" for s, zi, k in zip(STAT_NAMES, z, ks)))
    assert np.all(np.abs(z) < Z_MAX), z
    assert min(ks) > KS_LEVEL, ks


def test_interface():
    spec = SETTINGS["fixed_p<n_large_gamma"]
    f = jax.jit(lambda k: _reduced.trial_stats(k, spec, jnp.float64))
    out = f(jax.random.key(0))
    assert out.shape == (5,) and out.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(out), np.asarray(f(jax.random.key(0))))
    # the float fields may be traced: one program for every task of the same sizes
    g = jax.jit(lambda k, v: _reduced.trial_stats(
        k, spec._replace(gamma=v[0], target_norm2=v[1], alignment=v[2], source_norm2=v[3]),
        jnp.float64))
    vals = jnp.array([spec.gamma, spec.target_norm2, spec.alignment, spec.source_norm2])
    np.testing.assert_allclose(np.asarray(g(jax.random.key(0), vals)), np.asarray(out), rtol=1e-12)
    with pytest.raises(ValueError):
        _reduced.trial_stats(jax.random.key(0), spec._replace(p=1), jnp.float64)
    with pytest.raises(ValueError):
        _reduced.trial_stats(jax.random.key(0), spec._replace(source="other"), jnp.float64)
