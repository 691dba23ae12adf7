"""The direct Monte Carlo sampler: build the data of one trial and solve (THEORY §6).

For every trial the source and target data are drawn in full -- labels ``y_i = +-1`` with
probability 1/2 and points ``x_i = y_i mu + z_i`` (``z_i ~ N(0, I_p)``) -- exactly as in
THEORY §1. By rotational invariance only ``span(mu, mu_perp)`` is explicit:
``mu = mu e1``, ``mu_perp = mu_orth e2`` (see :mod:`rmt_alpha._simspec`). Every ridge system
is solved in the smaller dimension (push-through / Woodbury): with ``m`` points in
dimension ``p`` (rows of ``X``),

* ``m >= p``: ``(X^T X / m + g I)^{-1} b = m (X^T X + m g I)^{-1} b``, a ``p x p`` Cholesky;
* ``m < p``: ``(X^T X / m + g I)^{-1} X^T c / m = X^T (X X^T + m g I)^{-1} c`` and
  ``g (X^T X / m + g I)^{-1} b = b - X^T (X X^T + m g I)^{-1} X b``, an ``m x m`` Cholesky.

One factorisation of the target system per trial gives ``w0 = Q X y / n`` and
``v = gamma Q w~`` (two right-hand sides), hence the whole
alpha curve ``w_alpha = w0 + alpha v`` (THEORY §6). Cost per trial, ``N`` source and ``n``
target points: about ``2 N p min(N, p) + min(N, p)^3 / 3`` for the source and the same with
``n`` for the target (see :func:`flops_per_trial`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve

from ._simspec import SimSpec


def normal(key, shape, dtype):
    """Standard normal draws in ``dtype``, drawn in float64 whenever JAX's x64 mode is on.

    So a float32 simulation uses the same random draws as the float64 one with the same
    seed (rounded to float32): ``dtype`` changes the arithmetic precision, not the trials.
    Without x64 the draws are float32.
    """
    return jax.random.normal(key, shape, dtype=draw_dtype(dtype)).astype(dtype)


def draw_dtype(dtype):
    """The dtype random numbers are drawn in: float64 under x64, else ``dtype``."""
    return jnp.float64 if jax.config.read("jax_enable_x64") else dtype


def _cholesky_solve(A, B):
    """Solve ``A Z = B`` for a symmetric positive-definite ``A`` (``B`` of shape (k, r))."""
    L = jnp.linalg.cholesky(A)
    return cho_solve((L, True), B)


def ridge_weight(X, y, g):
    """``(X^T X / m + g I)^{-1} X^T y / m`` for data rows ``X`` (m x p), in the smaller dimension."""
    m, p = X.shape
    if m >= p:
        H = X.T @ X + (m * g) * jnp.eye(p, dtype=X.dtype)
        return _cholesky_solve(H, (X.T @ y)[:, None])[:, 0]
    G = X @ X.T + (m * g) * jnp.eye(m, dtype=X.dtype)
    return X.T @ _cholesky_solve(G, y[:, None])[:, 0]


def _data(key, sizes, p, means, dtype):
    """Labelled data sets ``x_i = y_i mean + z_i`` (rows), one per ``(size, mean)``.

    All noise comes from one ``normal`` draw of shape ``(sum(sizes), p + 1)`` (one random
    program to compile); the extra column gives the labels, ``y_i = +1`` if it is ``>= 0``
    else ``-1`` -- balanced and independent of the noise, exactly as Rademacher labels.
    """
    G = normal(key, (sum(sizes), p + 1), dtype)
    one = jnp.ones((), dtype=dtype)
    out, start = [], 0
    for m, mean in zip(sizes, means):
        block = G[start : start + m]
        y = jnp.where(block[:, p] >= 0, one, -one)
        out.append((block[:, :p] + y[:, None] * mean[None, :], y))
        start += m
    return out


def _axis_vector(p, c1, c2=None):
    """``c1 e1 + c2 e2`` in dimension p (``c1``, ``c2``: JAX scalars of the working dtype)."""
    w = jnp.zeros((p,), dtype=c1.dtype).at[0].set(c1)
    return w if c2 is None else w.at[1].set(c2)


def _fixed_source(spec: SimSpec, dtype):
    """``w~ = (s/sqrt M) e1 + sqrt(r - s^2/M) e2`` and ``mu_beta = sqrt(M) e1``
    (``w~ = sqrt(r) e1``, ``mu_beta = 0`` when ``M = 0``); see :mod:`rmt_alpha._simspec`."""
    M, s, r = (jnp.asarray(x, dtype=dtype) for x in
               (spec.target_norm2, spec.alignment, spec.source_norm2))
    pos = M > 0
    Ms = jnp.where(pos, M, jnp.ones((), dtype=dtype))
    w1 = jnp.where(pos, s / jnp.sqrt(Ms), jnp.sqrt(r))
    w2 = jnp.where(pos, jnp.sqrt(jnp.maximum(r - s * s / Ms, 0.0)), 0.0)
    return _axis_vector(spec.p, w1, w2), _axis_vector(spec.p, jnp.sqrt(M))


def trial_weights(key, spec: SimSpec, dtype):
    """``(w0, v, mu_beta)`` of one trial: ``w_alpha = w0 + alpha v`` (THEORY §1, §6).

    The float fields of ``spec`` may be Python numbers or JAX scalars (traced values are
    fine: only ``n``, ``p``, ``N`` and ``source`` must be static).
    """
    p, n = spec.p, spec.n
    gamma = jnp.asarray(spec.gamma, dtype=dtype)
    if spec.source == "fixed":
        w_src, mu_beta = _fixed_source(spec, dtype)
        ((X, y),) = _data(key, [n], p, [mu_beta], dtype)
    elif spec.source == "ridge":
        mu, mu_orth, b = (jnp.asarray(x, dtype=dtype) for x in (spec.mu, spec.mu_orth, spec.beta))
        mu_vec = _axis_vector(p, mu)
        mu_beta = _axis_vector(p, b * mu, jnp.sqrt(jnp.maximum(1.0 - b * b, 0.0)) * mu_orth)
        (Xs, ys), (X, y) = _data(key, [spec.N, n], p, [mu_vec, mu_beta], dtype)
        w_src = ridge_weight(Xs, ys, jnp.asarray(spec.gamma_src, dtype=dtype))
    else:
        raise ValueError(f"unknown source kind {spec.source!r}")
    return target_weights(X, y, w_src, gamma) + (mu_beta,)


def scatter_weights(S, s, w_src, lam):
    """``(w0, v)`` of :func:`target_weights` from the data's scatter ``S = X^T X`` and
    ``s = X^T y`` with ``lam = n gamma``: one Cholesky of ``S + lam I`` (p x p), two
    right-hand sides."""
    H = S + lam * jnp.eye(S.shape[0], dtype=S.dtype)
    sol = _cholesky_solve(H, jnp.stack([s, w_src], axis=1))
    return sol[:, 0], lam * sol[:, 1]


def target_weights(X, y, w_src, gamma):
    """``(w0, v) = (Q X^T y / n, gamma Q w~)``, ``Q = (X^T X / n + gamma I)^{-1}``, for data
    rows ``X`` (n x p): one Cholesky factorisation in the smaller dimension, two right-hand
    sides (push-through when ``n < p``, see the module docstring)."""
    n, p = X.shape
    dtype = X.dtype
    if n >= p:
        return scatter_weights(X.T @ X, X.T @ y, w_src, n * gamma)
    G = X @ X.T + (n * gamma) * jnp.eye(n, dtype=dtype)
    sol = _cholesky_solve(G, jnp.stack([y, X @ w_src], axis=1))
    return X.T @ sol[:, 0], w_src - X.T @ sol[:, 1]


def trial_stats(key, spec: SimSpec, dtype):
    """``[w0.mu_beta, v.mu_beta, ||w0||^2, w0.v, ||v||^2]`` of one trial (direct construction).

    ``key``: a JAX PRNG key; ``spec``: :class:`~rmt_alpha._simspec.SimSpec`;
    ``dtype``: ``jnp.float32`` or ``jnp.float64``. Pure, so it can be ``vmap``-ed and ``jit``-ed.
    """
    w0, v, mu_beta = trial_weights(key, spec, dtype)
    return jnp.stack([w0 @ mu_beta, v @ mu_beta, w0 @ w0, w0 @ v, v @ v])


def trial_stats_batch(keys, spec: SimSpec, dtype):
    """:func:`trial_stats` of each key of ``keys`` (shape ``(B,)``): shape ``(B, 5)``."""
    return jax.vmap(lambda k: trial_stats(k, spec, dtype))(keys)


def _ridge_flops(m, p):
    k = min(m, p)
    return 2.0 * m * p * k + k**3 / 3.0 + 4.0 * k * k + 4.0 * m * p


def flops_per_trial(spec: SimSpec) -> float:
    """Floating-point operations of one direct trial (Gram matrix, Cholesky, solves, products).

    Counts the dense ``2 m p min(m, p)`` Gram product (XLA computes the full product, not
    a symmetric rank-k update), ``min(m, p)^3 / 3`` for the Cholesky factorisation, the
    triangular solves and the matrix-vector products. Random-number generation is not
    counted (it is integer work).
    """
    f = _ridge_flops(spec.n, spec.p) + 10.0 * spec.p
    if spec.source == "ridge":
        f += _ridge_flops(spec.N, spec.p)
    return f


# ----------------------------------------------------------------------------------------
# Regression (THEORY §5)


def regression_trial_stats(key, W_source, W_target, sigma, gamma, n):
    """Per-row ``[||D_j||^2, <D_j, V_j>, ||V_j||^2]`` (shape (d, 3)) of one trial, where
    ``W_alpha = W0 + alpha V`` with ``W0 = Y X^T Q / n``, ``V = gamma W_s Q`` and
    ``D = W0 - W_t``, so that the exact test risk of ``W_alpha`` (``x ~ N(0, I)``) is
    ``||W_alpha - W_t||_F^2 + sigma^2 d = sum_j (R0_j + 2 alpha_j R1_j + alpha_j^2 R2_j) + sigma^2 d``.
    """
    d, p = W_source.shape
    dtype = W_source.dtype
    G = normal(key, (n, p + d), dtype)  # one random program to compile
    X = G[:, :p]  # rows x_i ~ N(0, I_p)
    Y = X @ W_target.T + sigma * G[:, p:]  # rows y_i = W_t x_i + sigma eps_i
    if n >= p:
        H = X.T @ X + (n * gamma) * jnp.eye(p, dtype=dtype)
        sol = _cholesky_solve(H, jnp.concatenate([X.T @ Y, W_source.T], axis=1))
        W0 = sol[:, :d].T
        V = (n * gamma) * sol[:, d:].T
    else:
        G = X @ X.T + (n * gamma) * jnp.eye(n, dtype=dtype)
        sol = _cholesky_solve(G, jnp.concatenate([Y, X @ W_source.T], axis=1))
        W0 = sol[:, :d].T @ X
        V = W_source - sol[:, d:].T @ X
    D = W0 - W_target
    return jnp.stack([jnp.sum(D * D, axis=1), jnp.sum(D * V, axis=1), jnp.sum(V * V, axis=1)], axis=1)
