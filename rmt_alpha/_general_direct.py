r"""Direct Monte Carlo sampler for general noise covariances (THEORY §10, THEORY_GENERAL §1, §9).

:func:`trial_stats` has the sampler interface of :mod:`rmt_alpha._simspec` with a
:class:`GeneralSpec`: for one trial with fresh data it returns

    [w0^T mu_t, v^T mu_t, (w0^T Ct_y w0, w0^T Ct_y v, v^T Ct_y v) for each test covariance],

``w0 = Q X y / n``, ``v = gamma Q w~``, ``Q = (X X^T / n + gamma I)^{-1}`` -- 5 numbers for a
shared target covariance, 8 for a pair ``(Ct_+, Ct_-)`` (class +1 first). Given the training
data the signed score of a class-``y`` test point is ``N(w_alpha^T mu_t, w_alpha^T Ct_y w_alpha)``,
so these numbers give the exact conditional accuracy of every alpha.

The model (THEORY_GENERAL §1): ``x_i = y_i mu + u_i``, ``u_i ~ N(0, C_{y_i})``, Rademacher
labels. Only ``v_i = y_i x_i = mu + y_i u_i`` enters the ridge (``X X^T = sum v_i v_i^T``,
``X y = sum v_i``), and ``y_i u_i ~ N(0, C_{y_i})`` independently of the label, so the ``v_i``
are independent ``N(mu, C_{a(i)})`` with ``a(i)`` the class of sample i. The class counts
are Binomial(m, 1/2) (random, as in the isotropic sampler); with a shared covariance the
labels do not matter and are not drawn. Each covariance enters through a factor ``F`` with
``F F^T = C``, computed once per call (:func:`factor`): ``sqrt(diag)`` for a diagonal
covariance (never a matrix), ``U sqrt(Lambda)`` from the symmetric eigendecomposition for a
dense one (fine for singular PSD covariances, unlike Cholesky).

Two routes per ridge task (``m`` samples in dimension ``p``):

* *direct* (default for ``m <= p``): draw the ``m x p`` rows ``v_i = mu + F_{a(i)} z_i`` and
  solve in the smaller dimension (:func:`rmt_alpha._direct.ridge_weight`,
  :func:`rmt_alpha._direct.target_weights`);
* *Wishart* (default for ``m > p``): per class ``a`` with ``m_a`` members,
  ``sum_{i in a} v_i v_i^T = s_a s_a^T / m_a + F_a L_a L_a^T F_a^T`` and
  ``sum_{i in a} v_i = s_a``, with ``s_a ~ N(m_a mu, m_a C_a)`` independent of ``L_a``, the
  Bartlett factor of a ``Wishart(I, m_a - 1)`` matrix (THEORY §10 gives the proof). The counts
  are drawn first (binomial); a class with 0 or 1 members contributes ``s_a s_a^T / max(m_a, 1)``
  and no Wishart part. Cost O(p^3) per trial instead of O(m p^2).

The Bartlett factor is ``p x p`` lower triangular with ``L_kk = chi_{d-k+1}`` and
``L_jk ~ N(0, 1)`` (``j > k``) in the columns ``k <= d = m_a - 1``, and zero columns beyond
``d`` (the singular Wishart, ``d < p``).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ._direct import (_cholesky_solve, _ridge_flops, draw_dtype, normal, ridge_weight,
                      scatter_weights, target_weights)

ROUTES = ("auto", "direct", "wishart")


class GeneralSpec(NamedTuple):
    """A Monte Carlo setting with general covariances (hashable once the arrays are ``None``).

    ``source_factors`` / ``target_factors``: a tuple of one factor (shared covariance) or two
    (class +1, class -1), each a ``(p,)`` square-root diagonal or a ``(p, p)`` matrix ``F``
    with ``F F^T = C`` (:func:`factor`). ``route``: ``"auto"`` (Wishart iff ``m > p``), or
    ``"direct"`` / ``"wishart"`` to force one route for both tasks (tests).
    """

    n: int
    p: int
    source: str  # "ridge" or "fixed"
    N: Optional[int] = None
    route: str = "auto"
    # traced values (arrays; None in the static part)
    gamma: object = None
    gamma_src: object = None
    source_mean: object = None
    target_mean: object = None
    source_vector: object = None  # the fixed source w~
    source_factors: object = None
    target_factors: object = None
    layout: tuple = ()  # static: where :func:`split` packed the traced values


TRACED_FIELDS = ("gamma", "gamma_src", "source_mean", "target_mean", "source_vector",
                 "source_factors", "target_factors")


def split(spec: GeneralSpec):
    """``(static spec, names, values)`` for the Monte Carlo programs: the traced fields packed
    into one float64 vector ``values`` (scalars, vectors and factors, flattened in turn), the
    static spec recording their shapes in ``layout`` (hashable: one compiled program per
    shape) and ``names`` the packed fields. :func:`with_values` unpacks."""
    names, layout, parts = [], [], []
    for f in TRACED_FIELDS:
        x = getattr(spec, f)
        if x is None:
            continue
        leaves = [np.asarray(a, dtype=np.float64) for a in (x if isinstance(x, tuple) else (x,))]
        names.append(f)
        layout.append((f, isinstance(x, tuple), tuple(a.shape for a in leaves)))
        parts += [a.ravel() for a in leaves]
    static = spec._replace(layout=tuple(layout), **{f: None for f in names})
    return static, tuple(names), np.concatenate(parts)


def with_values(static: GeneralSpec, vec):
    """The spec of :func:`split` with its traced fields cut back out of ``vec``."""
    vals, start = {}, 0
    for f, is_tuple, shapes in static.layout:
        leaves = []
        for shape in shapes:
            size = int(np.prod(shape))
            leaves.append(vec[start : start + size].reshape(shape))
            start += size
        vals[f] = tuple(leaves) if is_tuple else leaves[0]
    return static._replace(**vals)


def factor(cov) -> np.ndarray:
    """A factor ``F`` with ``F F^T = C`` (float64 numpy) of a validated covariance
    (:class:`rmt_alpha._covariance.Cov`): ``sqrt(C)`` for a diagonal ``(p,)``,
    ``U sqrt(Lambda)`` from its eigendecomposition ``C = U Lambda U^T`` (eigenvalues clipped
    at 0 by the validation) for a ``(p, p)`` matrix."""
    if cov.diagonal:
        return np.sqrt(np.asarray(cov.array, dtype=np.float64))
    lam, U = cov.eigh()
    return U * np.sqrt(lam)[None, :]


def factors(covs) -> tuple:
    """The factors of a parsed covariance argument: one, or two for a pair ``(C+, C-)``."""
    return tuple(factor(c) for c in covs)


def _times_factor_rows(F, Z):
    """Rows ``F z_i`` of the rows ``z_i`` of ``Z`` (m x p)."""
    return Z * F[None, :] if F.ndim == 1 else Z @ F.T


def _factor_times(F, B):
    """``F B`` for a ``(p, k)`` matrix ``B``."""
    return F[:, None] * B if F.ndim == 1 else F @ B


def _rows(key, m, mean, fac, dtype):
    """The ``m x p`` rows ``v_i = mean + F_{a(i)} z_i`` (Rademacher classes if two factors)."""
    k_z, k_y = jax.random.split(key)
    Z = normal(k_z, (m, mean.shape[0]), dtype)
    if len(fac) == 1:
        return mean[None, :] + _times_factor_rows(fac[0], Z)
    plus = jax.random.bernoulli(k_y, 0.5, (m,))[:, None]
    return mean[None, :] + jnp.where(plus, _times_factor_rows(fac[0], Z),
                                     _times_factor_rows(fac[1], Z))


def _bartlett(key, dof, p, dtype):
    """``L`` (p x p) with ``L L^T ~ Wishart_p(I, dof)``, ``dof`` a traced integer >= 0
    (zero columns past ``dof``: the singular Wishart)."""
    k_c, k_n = jax.random.split(key)
    k = jnp.arange(1, p + 1, dtype=draw_dtype(dtype))
    active = k <= dof
    shape = jnp.where(active, 0.5 * (dof - k + 1.0), 1.0)
    chi = jnp.sqrt(2.0 * jax.random.gamma(k_c, shape, dtype=draw_dtype(dtype)))
    off = jnp.tril(normal(k_n, (p, p), dtype), -1)
    L = off * active[None, :].astype(dtype) + jnp.diag(jnp.where(active, chi, 0.0).astype(dtype))
    return L


def _counts(key, m, K, dtype):
    if K == 1:
        return (jnp.asarray(m, dtype=draw_dtype(dtype)),)
    m_plus = jax.random.binomial(key, jnp.asarray(m, dtype=draw_dtype(dtype)), 0.5, dtype=draw_dtype(dtype))
    return (m_plus, m - m_plus)


def _scatter(key, m, mean, fac, dtype):
    """``(S, s)`` with the law of ``(sum v_i v_i^T, sum v_i)`` over ``m`` samples: the
    Wishart/Bartlett route (module docstring, THEORY §10)."""
    p = mean.shape[0]
    keys = jax.random.split(key, 1 + 2 * len(fac))
    S = jnp.zeros((p, p), dtype=dtype)
    s = jnp.zeros((p,), dtype=dtype)
    for a, (F, c) in enumerate(zip(fac, _counts(keys[0], m, len(fac), dtype))):
        g = normal(keys[1 + 2 * a], (p, 1), dtype)
        s_a = c.astype(dtype) * mean + jnp.sqrt(c).astype(dtype) * _factor_times(F, g)[:, 0]
        B = _factor_times(F, _bartlett(keys[2 + 2 * a], c - 1.0, p, dtype))
        S = S + B @ B.T + jnp.outer(s_a, s_a) / jnp.maximum(c, 1.0).astype(dtype)
        s = s + s_a
    return S, s


def _wishart(spec, m):
    return spec.route == "wishart" or (spec.route == "auto" and m > spec.p)


def trial_weights(key, spec: GeneralSpec, dtype):
    """``(w0, v)`` of one trial: ``w_alpha = w0 + alpha v`` (THEORY_GENERAL §1)."""
    p, n = spec.p, spec.n
    k_src, k_tgt = jax.random.split(key)
    gamma = jnp.asarray(spec.gamma, dtype=dtype)
    mu_t = jnp.asarray(spec.target_mean, dtype=dtype)
    if spec.source == "ridge":
        g_src = jnp.asarray(spec.gamma_src, dtype=dtype)
        mu_s = jnp.asarray(spec.source_mean, dtype=dtype)
        if _wishart(spec, spec.N):
            S, s = _scatter(k_src, spec.N, mu_s, spec.source_factors, dtype)
            w_src = _cholesky_solve(S + (spec.N * g_src) * jnp.eye(p, dtype=dtype), s)
        else:
            V = _rows(k_src, spec.N, mu_s, spec.source_factors, dtype)
            w_src = ridge_weight(V, jnp.ones((spec.N,), dtype=dtype), g_src)
    elif spec.source == "fixed":
        w_src = jnp.asarray(spec.source_vector, dtype=dtype)
    else:
        raise ValueError(f"unknown source kind {spec.source!r}")
    if _wishart(spec, n):
        S, s = _scatter(k_tgt, n, mu_t, spec.target_factors, dtype)
        return scatter_weights(S, s, w_src, n * gamma)
    V = _rows(k_tgt, n, mu_t, spec.target_factors, dtype)
    return target_weights(V, jnp.ones((n,), dtype=dtype), w_src, gamma)


def trial_stats(key, spec: GeneralSpec, dtype):
    """``[w0.mu_t, v.mu_t, (w0'Ct_y w0, w0'Ct_y v, v'Ct_y v) per test covariance]`` of one
    trial (module docstring). Pure, so it can be ``vmap``-ed and ``jit``-ed."""
    w0, v = trial_weights(key, spec, dtype)
    mu_t = jnp.asarray(spec.target_mean, dtype=dtype)
    W = jnp.stack([w0, v], axis=1)
    out = [w0 @ mu_t, v @ mu_t]
    for F in spec.target_factors:
        B = F[:, None] * W if F.ndim == 1 else F.T @ W  # F^T [w0, v]; W^T C W = B^T B
        G = B.T @ B
        out += [G[0, 0], G[0, 1], G[1, 1]]
    return jnp.stack(out)


def trial_stats_batch(keys, spec: GeneralSpec, dtype):
    """:func:`trial_stats` of each key of ``keys`` (shape ``(B,)``): shape ``(B, 2 + 3K)``."""
    return jax.vmap(lambda k: trial_stats(k, spec, dtype))(keys)


# ----------------------------------------------------------------------------------------
# Cost model


def _shapes(spec: GeneralSpec):
    """``(m, factor ndims)`` of the ridge tasks of one trial (source first)."""
    tasks = [(spec.n, tuple(np.ndim(F) for F in spec.target_factors))]
    if spec.source == "ridge":
        tasks.insert(0, (spec.N, tuple(np.ndim(F) for F in spec.source_factors)))
    return tasks


def bytes_per_trial(spec: GeneralSpec, itemsize: int) -> int:
    """Peak working memory of one trial (the largest ridge task), an upper estimate: on the
    data route the ``m x p`` normal draw (its random bits and float64 values under x64,
    whatever ``itemsize``: 16 bytes an entry), the draw in ``itemsize``, its images under the
    factors, the rows and the Gram matrix; on the Wishart route, per class, the ``p x p``
    draw of the Bartlett factor, the factor and its image, plus the scatter matrix and its
    Cholesky factor. The factors themselves are shared by all trials
    (:func:`replicated_bytes`). Checked against XLA's memory analysis in the tests."""
    p, worst = spec.p, 0
    for m, nd in _shapes(spec):
        K = len(nd)
        if _wishart(spec, m):
            b = 16 * K * p * p + itemsize * (2 * K + 3) * p * p
        else:
            b = 16 * m * p + itemsize * ((2 + K) * m * p + 2 * min(m, p) ** 2)
        worst = max(worst, b)
    return worst + itemsize * 8 * p


def replicated_bytes(spec: GeneralSpec, itemsize: int) -> int:
    """Memory of the arrays every device holds once (factors, means, source vector)."""
    p = spec.p
    total = 3 * p
    for _, nd in _shapes(spec):
        total += sum(p ** k for k in nd)
    return itemsize * total


def flops_per_trial(spec: GeneralSpec) -> float:
    """Floating-point operations of one trial (random-number generation not counted).

    Direct route, ``m`` samples: the noise images ``Z F^T`` (``2 m p^2`` per class for a
    dense factor, ``m p`` for a diagonal one; both classes are computed for a pair) plus the
    ridge solve of :func:`rmt_alpha._direct.flops_per_trial`. Wishart route, per class:
    ``F L`` (``2 p^3`` dense, ``p^2`` diagonal), ``B B^T`` (``2 p^3``), the mean part
    (``4 p^2``), then one ``p^3 / 3`` Cholesky and its solves. Test statistics: ``F^T [w0, v]``
    per test covariance (``4 p^2`` dense, ``2 p`` diagonal).
    """
    p, f = spec.p, 0.0
    for m, nd in _shapes(spec):
        if _wishart(spec, m):
            f += sum((2.0 * p**3 if k == 2 else p * p) + 2.0 * p**3 + 4.0 * p * p for k in nd)
            f += p**3 / 3.0 + 8.0 * p * p
        else:
            f += sum(2.0 * m * p * p if k == 2 else m * p for k in nd) + _ridge_flops(m, p)
    nd_t = _shapes(spec)[-1][1]
    return f + sum(4.0 * p * p if k == 2 else 2.0 * p for k in nd_t) + 10.0 * p
