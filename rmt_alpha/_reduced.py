r"""Exact reduced Monte Carlo sampler: O(p) per trial, equal in law to the direct one (THEORY §6).

:func:`trial_stats` has the sampler interface of :mod:`rmt_alpha._simspec`: for one trial
with fresh source and target data it returns

    [w0^T mu_beta, v^T mu_beta, ||w0||^2, w0^T v, ||v||^2],
    w0 = Q X y / n,  v = gamma Q w~,  Q = (X X^T / n + gamma I)^{-1},

with exactly the distribution of the direct construction, without ever forming a ``p x n``
data matrix or solving a dense ``p x p`` system.

Derivation (THEORY §6)
----------------------
1. *Only ``u_i = y_i x_i`` enters.* ``X y / n = u_bar`` and ``X X^T / n = U U^T / n``
   (``y_i^2 = 1``), and the ``u_i = mu_beta + y_i z_i`` are i.i.d. ``N(mu_beta, I_p)``. Hence
   ``X X^T / n = u_bar u_bar^T + W / n`` with ``u_bar ~ N(mu_beta, I/n)`` independent of
   ``W = sum (u_i - u_bar)(u_i - u_bar)^T ~ Wishart_p(I, m)``, ``m = n - 1``. With
   ``A = W/n + gamma I`` (SPD, also when ``W`` is singular), Sherman–Morrison gives, for
   ``x_u = A^{-1} u_bar``, ``x_c = A^{-1} w~``, ``D = u_bar^T x_u``,
   ``k = u_bar^T x_c / (1 + D)``:

       w0 = x_u / (1 + D),    v = gamma (x_c - k x_u).

2. *Chi-bidiagonal (Dumitriu–Edelman) model.* Write ``W = G G^T`` with ``G`` a ``p x m``
   Gaussian matrix. A right reflection of the first row of ``G``, then a left reflection of
   the rest of the first column (rows ``2..p``), and so on, leaves the remaining block
   Gaussian and independent at every step, so ``G = P B R^T`` with ``P e1 = e1`` and ``B``
   lower bidiagonal with independent entries ``B_kk = d_k ~ chi_{m-k+1}``
   (``k = 1..min(p, m)``), ``B_{k+1,k} = e_k ~ chi_{p-k}`` (``k = 1..min(p-1, m)``), and
   nothing else. So ``W = P T P^T`` with ``T = B B^T`` tridiagonal
   (``T_kk = d_k^2 + e_{k-1}^2``, ``T_{k+1,k} = d_k e_k``). When ``p > m`` the ``m``
   columns cap *both* diagonals: ``T`` is an ``(m+1) x (m+1)`` block of rank ``m`` padded
   with zeros (continuing the sub-diagonal with ``chi_{p-k}`` past ``k = m``, as a naive
   reading of the square model suggests, would give ``W`` a rank above ``m``).

3. *Frame.* Start the reduction at ``e = mu_beta / ||mu_beta||`` (``P e1 = e``). ``W`` has
   the law of ``O W O^T`` for ``O`` Haar on the rotations fixing ``e``, independent of
   everything else; in the basis ``O P`` the vector ``e`` is ``e1``, a fixed unit vector
   orthogonal to ``e`` becomes ``f`` uniform on the unit sphere orthogonal to ``e1``,
   independent of ``T``, and ``u_bar - mu_beta`` stays ``N(0, I/n)``, independent. Inner
   products are unchanged, so the trial is computed in ``T``'s basis, where
   ``A = T/n + gamma I`` is tridiagonal and a solve costs O(p). Only the Gram matrix of the
   fixed vectors matters (rotational invariance): with ``M = ||mu_beta||^2``,
   ``s = w~^T mu_beta``, ``r = ||w~||^2``, ``w~ = (s/sqrt M) e1 + sqrt(r - s^2/M) f``
   (``sqrt(r) e1`` if ``M = 0``).

4. *Null block.* For ``p > m + 1`` the rows ``m+2..p`` of ``T`` vanish and ``A = gamma I``
   there. Only the Gram matrix of the two random vectors' parts in that block enters,
   that of ``[z_b, sqrt(n) g_b]`` (``f = z / ||z||``, ``z`` Gaussian), a
   ``Wishart_2(I, p - m - 1)``; it is drawn exactly by its Bartlett factor
   ``L = [[chi_{p-m-1}, 0], [N(0,1), chi_{p-m-2}]]``, and the block is replaced by two
   coordinates ``z_b -> (L11, 0)``, ``sqrt(n) g_b -> (L21, L22)``. So the target stage
   costs O(min(p, n)).

5. *Ridge source.* ``w~ = Q~ u~_bar`` is the same construction on the source task
   (``N`` points, ``m~ = N - 1``, ``gamma_src``, mean ``mu e1``): with
   ``x~ = A~^{-1} u~_bar`` and ``D~ = u~_bar^T x~``, ``w~^T mu = mu x~_1 / (1 + D~)``,
   ``w~^T mu_perp = mu_orth f~^T x~ / (1 + D~)``, ``||w~||^2 = ||x~||^2 / (1 + D~)^2``.
   ``f~`` (the direction of ``mu_perp``) is uniform on the sphere orthogonal to ``e1`` and
   independent of ``x~``, so ``f~^T x~`` has the law of ``||x~_perp|| xi`` with
   ``x~_perp = x~ - x~_1 e1`` and ``xi = z1 / sqrt(z1^2 + chi^2_{p-2})`` (a coordinate of
   a uniform unit vector of ``R^{p-1}``); ``f~`` is never drawn, and the null block only
   needs ``||sqrt(N) g~_b||^2 ~ chi^2_{p-N}``. These give ``s = w~^T mu_beta`` and
   ``r = ||w~||^2`` for the target stage, whose data are independent of the source's.

Numerics
--------
Both stages form one block-diagonal tridiagonal system (the target's right-hand sides
``[u_bar, e1, f]`` do not depend on the source; ``x_c = c1 A^{-1} e1 + c2 A^{-1} f``).
``(B B^T + diag(lambda)) x = b`` (``lambda = n gamma`` per block) is solved by ``L D L^T``
with pivots from the cancellation-free recurrence ``s_1 = lambda_1``,
``pi_k = d_k^2 + s_k``, ``s_{k+1} = lambda_{k+1} + e_k^2 s_k / pi_k`` (every term positive,
so small ``gamma`` and float32 are safe; ``l_k = d_k e_k / pi_k``), then forward and
backward substitution (two ``lax.scan``). Chi-square variates are exact Marsaglia–Tsang
rejection samples (``chi^2_1 = N(0,1)^2``), with the log-acceptance term
``d (1 - v + log v)`` evaluated without cancellation, so float32 stays faithful at large
degrees of freedom. All random numbers of a trial come from one Threefry-2x32 stream (see
:func:`_random_words`); rejected candidates are redrawn from a pre-drawn pool, exhausted
with probability below about 1e-20 per trial, in which case the trial is NaN (never biased).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._simspec import SimSpec

__all__ = ["trial_stats"]

_UNROLL = 2


# ------------------------------------------------------------------ random variates
# All randomness of a trial comes from one counter-mode Threefry-2x32 stream keyed by
# two words that jax.random draws from the trial's key; the stream is converted here.
_RETRY_ROUNDS = 16


def _rotl(x, r: int):
    return jax.lax.shift_left(x, np.uint32(r)) | jax.lax.shift_right_logical(x, np.uint32(32 - r))


def _threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 (20 rounds), bit-identical to ``jax.random``'s, written out unrolled.

    ``jax.random`` lowers it on CPU as a rolled loop whose rounds XLA does not fuse; the
    unrolled form compiles to one fused elementwise loop, about 3x faster here.
    """
    ks = (k0, k1, k0 ^ k1 ^ np.uint32(0x1BD11BDA))
    rotations = ((13, 15, 26, 6), (17, 29, 16, 24))
    x0 = x0 + ks[0]
    x1 = x1 + ks[1]
    for i in range(5):
        for r in rotations[i % 2]:
            x0 = x0 + x1
            x1 = x0 ^ _rotl(x1, r)
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def _random_words(key, n: int, dtype):
    """``n`` random words as wide as ``dtype`` (uint64 for float64, uint32 for float32).

    Threefry-2x32 in counter mode (counters ``0, 1, ...``) under a key of two words drawn
    by ``jax.random.bits`` from ``key``; each hash gives 64 random bits.
    """
    seed = jax.random.bits(key, (2,), jnp.uint32)
    wide = jnp.dtype(dtype).itemsize == 8
    count = n if wide else (n + 1) // 2
    ctr = jnp.arange(count, dtype=jnp.uint32)
    hi, lo = _threefry2x32(seed[0], seed[1], jnp.zeros_like(ctr), ctr)
    if wide:
        return (hi.astype(jnp.uint64) << np.uint64(32)) | lo.astype(jnp.uint64)
    return jnp.concatenate([hi, lo])[:n]


def _unit_floats(bits, dtype):
    """Uniform [0, 1) floats from raw bits (the mantissa construction of ``jax.random``)."""
    finfo = jnp.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    uint = bits.dtype
    mant = jax.lax.shift_right_logical(bits, jnp.asarray(nbits - nmant, uint))
    one = jnp.asarray(np.array(1.0, dtype).view(np.dtype(f"uint{nbits}")), uint)
    return jax.lax.bitcast_convert_type(mant | one, dtype) - jnp.asarray(1.0, dtype)


def _normals_from_bits(bits, dtype):
    """Standard normals ``sqrt(2) erfinv(v)``, ``v`` uniform on (-1, 1), one word each
    (the construction of ``jax.random.normal``; cheaper than Box–Muller's log/cos/sin here).
    """
    lo = jnp.asarray(np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype)), dtype)
    v = jnp.maximum(lo, 2.0 * _unit_floats(bits, dtype) - 1.0)
    return jnp.asarray(np.sqrt(2.0), dtype) * jax.lax.erf_inv(v)


def _one_minus_v_plus_log_v(y):
    r"""``1 - v + log v`` for ``v = (1 + y)^3``, ``y > -1``, without cancellation.

    Equals ``3 phi(y) - 3 y^2 - y^3`` with ``phi(y) = log1p(y) - y``; for ``|y| < 0.1``,
    ``phi = -y t + 2 sum_{j>=1} t^{2j+1}/(2j+1)`` with ``t = y / (2 + y)`` (to ``t^17``).
    """
    small = jnp.abs(y) < 0.1
    ys = jnp.where(small, y, 0.0)
    t = ys / (2.0 + ys)
    t2 = t * t
    poly = 1.0 / 17.0
    for j in (15, 13, 11, 9, 7, 5, 3):
        poly = 1.0 / j + t2 * poly
    phi_small = -ys * t + 2.0 * t * t2 * poly
    yl = jnp.where(small, 0.5, y)
    phi_large = jnp.log1p(yl) - yl
    phi = jnp.where(small, phi_small, phi_large)
    return 3.0 * phi - y * y * (3.0 + y)


def _mt_attempt(x, u, d, c):
    """One Marsaglia–Tsang attempt for Gamma(d + 1/3) per entry: ``(accepted, value)``.

    ``x ~ N(0, 1)``, ``u ~ U[0, 1)``, ``v = (1 + c x)^3`` with ``c = 1/sqrt(9 d)``; accept
    iff ``1 + c x > 0`` and ``u < exp(x^2/2 + d (1 - v + log v))``; value ``d v``.
    """
    y = c * x
    ok = y > -1.0
    ys = jnp.where(ok, y, 0.0)
    q = 0.5 * x * x + d * _one_minus_v_plus_log_v(ys)
    acc = ok & (u < jnp.exp(q))  # log u < q, with exp (cheaper than log)
    one_y = 1.0 + ys
    return acc, d * (one_y * one_y * one_y)


_BLOCK = 256


def _first_true(mask, R: int):
    """Indices of (up to) the first ``R`` true entries of a 1-D mask; ``size`` (out of
    range) in the unused slots.

    Two-level ``nonzero`` (blocks of ``_BLOCK`` entries, then within the first ``R`` blocks
    holding a true entry), so the cost is O(size / _BLOCK + R _BLOCK) index work instead of
    a cumulative sum over the whole mask.
    """
    size = mask.shape[0]
    nb = -(-size // _BLOCK)
    blocks = jnp.concatenate([mask, jnp.zeros((nb * _BLOCK - size,), bool)]).reshape(nb, _BLOCK)
    flags = jnp.any(blocks, axis=1)
    nr = min(R, nb)
    b_idx = jnp.nonzero(flags, size=nr, fill_value=0)[0]
    b_real = jnp.arange(nr) < jnp.sum(flags)  # padding repeats block 0: mask it out
    sub = (blocks[b_idx] & b_real[:, None]).reshape(-1)
    pos = jnp.nonzero(sub, size=R, fill_value=0)[0]
    used = jnp.arange(R) < jnp.sum(sub)
    return jnp.where(used, b_idx[pos // _BLOCK] * _BLOCK + pos % _BLOCK, size)


def _chi2_and_normals(key, dof, n_normals: int, dtype):
    """Independent chi-square variates (static integer ``dof >= 0``) and ``n_normals``
    standard normals, all from one random stream (:func:`_random_words`).

    ``chi^2_0 = 0``, ``chi^2_1 = N(0,1)^2``, ``chi^2_k = 2 Gamma(k/2)`` for ``k >= 2`` by
    Marsaglia–Tsang rejection (rejection rate below ``min(0.05, 0.05/a)`` for shape ``a``).
    A first attempt is made for every entry; the rejected ones (a few per trial) are
    gathered into ``R`` slots, each with ``K = _RETRY_ROUNDS`` fresh pre-drawn candidates,
    and take their first accepted candidate (all vectorised: no loop to compile). ``R``
    exceeds the expected number of first-pass rejections ``E`` by ``10 sqrt(E) + 30``
    and a slot fails with probability ``< 0.05^K``, so running out of candidates has
    probability below about 1e-20 per call; an entry left without an accepted candidate
    is NaN, never a biased value.
    """
    dof = np.asarray(dof, dtype=np.int64)
    size = dof.size
    ones = np.flatnonzero(dof == 1)
    zeros = np.flatnonzero(dof == 0)
    a = np.maximum(dof, 2) / 2.0
    expected = float(np.sum(np.minimum(0.05, 0.05 / a)))
    R = int(min(size, math.ceil(expected + 10.0 * math.sqrt(expected) + 30.0)))
    K = _RETRY_ROUNDS
    n_z = size + K * R + ones.size + n_normals
    n_u = size + K * R
    bits = _random_words(key, n_z + n_u, dtype)
    # The barrier materialises the variates once: without it XLA fuses the conversion
    # (erfinv) into each consumer, which multiplies the compile time.
    z, u = jax.lax.optimization_barrier(
        (_normals_from_bits(bits[:n_z], dtype), _unit_floats(bits[n_z:], dtype))
    )
    normals = z[size + K * R + ones.size : size + K * R + ones.size + n_normals]
    if size == 0:
        return jnp.zeros((0,), dtype), normals

    d_np = a - 1.0 / 3.0
    d = jnp.asarray(d_np, dtype)
    c = jnp.asarray(1.0 / np.sqrt(9.0 * d_np), dtype)
    acc, val = _mt_attempt(z[:size], u[:size], d, c)
    # Retries, vectorised: slot i holds the i-th rejected entry and K fresh candidates;
    # it takes the first accepted one (NaN if none: probability < 0.05^K per slot).
    idx = _first_true(~acc, R)  # distinct; unused slots out of range (dropped)
    acc_k, val_k = _mt_attempt(
        z[size : size + K * R].reshape(K, R),
        u[size:].reshape(K, R),
        d.at[idx].get(mode="fill", fill_value=1.0),
        c.at[idx].get(mode="fill", fill_value=1.0),
    )
    retried = jnp.full((R,), jnp.nan, dtype)
    for k in reversed(range(K)):
        retried = jnp.where(acc_k[k], val_k[k], retried)
    val = val.at[idx].set(retried, mode="drop")
    # More than R first-pass rejections (probability < 1e-20) leave NaN, never bias.
    acc = acc.at[idx].set(True, mode="drop")
    out = jnp.where(acc, 2.0 * val, jnp.nan)
    if ones.size:
        w = z[size + K * R : size + K * R + ones.size]
        out = out.at[ones].set(w * w)
    if zeros.size:
        out = out.at[zeros].set(0.0)
    return out, normals


# ------------------------------------------------------------------- Wishart tridiagonal
def _bidiagonal_dof(m: int, p: int):
    """Degrees of freedom of the chi-bidiagonal factor ``B`` of ``Wishart_p(I, m)``.

    ``B`` is ``p1 x p1`` lower bidiagonal with ``p1 = min(p, m + 1)`` (rows beyond ``m + 1``
    of the ``p x m`` factor are zero): diagonal ``chi_{m}, chi_{m-1}, ..., chi_{m-p1+1}``
    (the last one ``chi_0 = 0`` when ``p > m``) and sub-diagonal
    ``chi_{p-1}, ..., chi_{p-p1+1}``.
    """
    p1 = min(p, m + 1)
    return m - np.arange(p1), p - 1 - np.arange(p1 - 1)


def _ldl_solve(d2, e2, lam, rhs):
    r"""Solve ``(B B^T + diag(lam)) x = rhs`` for ``B`` lower bidiagonal (``B_kk^2 = d2_k``,
    ``B_{k+1,k}^2 = e2_k``), ``rhs`` of shape ``(P, r)``, in O(P r).

    ``L D L^T`` with ``D = diag(pi)``, ``L`` unit lower bidiagonal with ``l_k = d_k e_k / pi_k``;
    pivots from ``s_1 = lam_1``, ``pi_k = d2_k + s_k``, ``s_{k+1} = lam_{k+1} + e2_k s_k / pi_k``,
    all sums of positive terms (stable also as ``lam -> 0``); then forward and backward
    substitution. ``e2_k = 0`` decouples the system into independent blocks.
    """
    ed = jnp.sqrt(d2 * e2)
    lam_next = jnp.concatenate([lam[1:], lam[:1]])
    zero = jnp.zeros(rhs.shape[1:], rhs.dtype)

    def forward(carry, inp):
        s, t = carry
        d2k, e2k, edk, lam_k1, bk = inp
        pi = d2k + s
        y = bk + t
        l = edk / pi
        return (lam_k1 + e2k * (s / pi), -l * y), (pi, l, y)

    _, (pi, l, y) = jax.lax.scan(
        forward, (lam[0], zero), (d2, e2, ed, lam_next, rhs), unroll=_UNROLL
    )

    def backward(x_next, inp):
        pik, lk, yk = inp
        x = yk / pik - lk * x_next
        return x, x

    _, x = jax.lax.scan(backward, zero, (pi, l, y), reverse=True, unroll=_UNROLL)
    return x


# ---------------------------------------------------------------------------- the stages
class _Plan(NamedTuple):
    """Static layout of one ridge stage: ``n`` points in dimension ``p``.

    ``frame``: draw the unit vector ``f`` (target stage, where ``A^{-1} w~`` is needed) or
    only the law of ``f^T x_u`` (source stage).
    """

    n: int
    p: int
    frame: bool
    p1: int  # size of the nonzero block of T: min(p, n)
    p2: int  # size of the null block (A = gamma I there): p - p1
    size: int  # length of the reduced vectors: p1 plus the compressed null block
    dof: np.ndarray  # chi-square degrees of freedom: diagonal, sub-diagonal, extras
    n_normals: int


def _plan(n: int, p: int, frame: bool) -> _Plan:
    dof_d, dof_e = _bidiagonal_dof(n - 1, p)
    p1 = dof_d.size
    p2 = p - p1
    if frame:  # null block: Bartlett factor (L11, L22 chi; L21 normal); f: p1 - 1 normals
        extra = [p2, p2 - 1] if p2 > 0 else []
        n_normals = p1 + (1 if p2 > 0 else 0) + (p1 - 1)
        size = p1 + (2 if p2 > 0 else 0)
    else:  # null block: ||g_b||^2 ~ chi2_{p2}/n; f^T x: one normal and chi2_{p-2}
        extra = ([p2] if p2 > 0 else []) + [p - 2]
        n_normals = p1 + 1
        size = p1 + (1 if p2 > 0 else 0)
    dof = np.concatenate([dof_d, dof_e, np.asarray(extra, dtype=np.int64)])
    return _Plan(n, p, frame, p1, p2, size, dof, n_normals)


def _system(plan: _Plan, chi2, normals, mean_norm):
    r"""One stage's tridiagonal system in ``T``'s basis (module docstring, steps 1–4).

    Returns ``(d2, e2, u_bar, f, extra)``: the squared bidiagonal entries padded with zeros
    over the compressed null block (where ``A = gamma I``), ``u_bar = mean_norm e1 + g``
    with ``g ~ N(0, I/n)``, the unit vector ``f`` uniform on the sphere orthogonal to
    ``e1`` (``None`` unless ``plan.frame``) and the stage's extra chi-squares. Vectors have
    length ``plan.size`` and their inner products equal those of the ``p``-dimensional
    originals: with a frame the null block holds ``z_b -> (L11, 0)``,
    ``sqrt(n) g_b -> (L21, L22)`` (Bartlett factor of their ``Wishart_2(I, p2)`` Gram
    matrix); without, only ``||sqrt(n) g_b|| = chi_{p2}``.
    """
    dtype = chi2.dtype
    p1, pad = plan.p1, plan.size - plan.p1
    d2 = jnp.concatenate([chi2[:p1], jnp.zeros((pad,), dtype)])
    e2 = jnp.concatenate([chi2[p1 : 2 * p1 - 1], jnp.zeros((1 + pad,), dtype)])
    extra = chi2[2 * p1 - 1 :]
    g = normals[:p1]
    f = None
    if plan.frame:
        z = jnp.concatenate([jnp.zeros((1,), dtype), normals[p1 + pad // 2 :]])
        if pad:
            L11, L22, L21 = jnp.sqrt(extra[0]), jnp.sqrt(extra[1]), normals[p1]
            g = jnp.concatenate([g, jnp.stack([L21, L22])])
            z = jnp.concatenate([z, jnp.stack([L11, jnp.zeros((), dtype)])])
        f = z / jnp.sqrt(jnp.sum(z * z))
    elif pad:
        g = jnp.concatenate([g, jnp.sqrt(extra[:1])])
    u = (g / jnp.sqrt(jnp.asarray(plan.n, dtype))).at[0].add(mean_norm)
    return d2, e2, u, f, extra


def trial_stats(key, spec: SimSpec, dtype=jnp.float64):
    r"""One exact reduced trial (THEORY §6): ``[w0^T mu_beta, v^T mu_beta, ||w0||^2, w0^T v, ||v||^2]``.

    Fresh source data (``spec.source == "ridge"``) and target data, drawn through the
    chi-bidiagonal Wishart model in the Lanczos basis of the mean (see the module docstring
    for the derivation): with ``x_u = A^{-1} u_bar``, ``x_c = A^{-1} w~``,
    ``A = T/n + gamma I``, ``D = u_bar^T x_u``, ``k = u_bar^T x_c / (1 + D)``,

        w0 = x_u / (1 + D),   v = gamma (x_c - k x_u),

    and ``mu_beta = sqrt(M) e1``, ``w~ = c1 e1 + c2 f``. Costs O(p) time and memory per
    trial (O(min(p, n)) for a fixed source), and is equal in distribution to the direct
    construction.

    ``key``: a JAX PRNG key; ``dtype``: float64 or float32. A pure function, to be
    ``vmap``-ped over keys and ``jit``-ted. The sizes ``n, p, N`` and ``source`` of
    ``spec`` must be static; its float fields may be Python floats or traced scalars (so
    one compiled program can serve every task of the same sizes). Requires ``p >= 2``.

    Both stages are solved in one pass over a block-diagonal tridiagonal system: the target
    right-hand sides ``[u_bar, e1, f]`` do not depend on the source, and
    ``x_c = c1 A^{-1} e1 + c2 A^{-1} f`` once the source's ``(s, r)`` are known.
    """
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    p, n = int(spec.p), int(spec.n)
    if p < 2:
        raise ValueError(f"the reduced sampler needs p >= 2, got p={p}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if spec.source not in ("ridge", "fixed"):
        raise ValueError(f"spec.source must be 'ridge' or 'fixed', got {spec.source!r}")
    ridge = spec.source == "ridge"

    def scalar(x):
        return jnp.asarray(x, dtype)

    gamma = scalar(spec.gamma)
    if ridge:
        mu, mu_orth, beta = scalar(spec.mu), scalar(spec.mu_orth), scalar(spec.beta)
        b_perp = jnp.sqrt(jnp.maximum(1.0 - beta * beta, 0.0))
        M = beta * beta * mu * mu + b_perp * b_perp * mu_orth * mu_orth
    else:
        M = scalar(spec.target_norm2)
    sqrt_m = jnp.sqrt(M)

    tgt = _plan(n, p, frame=True)
    plans = ([_plan(int(spec.N), p, frame=False)] if ridge else []) + [tgt]
    gammas = ([scalar(spec.gamma_src)] if ridge else []) + [gamma]
    chi2, normals = _chi2_and_normals(
        key, np.concatenate([q.dof for q in plans]), sum(q.n_normals for q in plans), dtype
    )
    systems, rhs, lam = [], [], []
    offset_c, offset_z = 0, 0
    for q, g_q in zip(plans, gammas):
        sys_q = _system(
            q,
            chi2[offset_c : offset_c + q.dof.size],
            normals[offset_z : offset_z + q.n_normals],
            sqrt_m if q.frame else mu,
        )
        offset_c, offset_z = offset_c + q.dof.size, offset_z + q.n_normals
        systems.append(sys_q)
        _, _, u, f, _ = sys_q
        if q.frame:
            e1 = jnp.zeros((q.size,), dtype).at[0].set(1.0)
            rhs.append(jnp.stack([u, e1, f], axis=1))
        else:
            rhs.append(jnp.stack([u, jnp.zeros_like(u), jnp.zeros_like(u)], axis=1))
        lam.append(jnp.full((q.size,), q.n * g_q, dtype))
    scale = np.concatenate([np.full(q.size, float(q.n)) for q in plans])
    x = _ldl_solve(
        jnp.concatenate([s[0] for s in systems]),
        jnp.concatenate([s[1] for s in systems]),
        jnp.concatenate(lam),
        jnp.concatenate(rhs),
    ) * jnp.asarray(scale, dtype)[:, None]  # A^{-1} = n (B B^T + n gamma I)^{-1}

    if ridge:  # module docstring, step 5
        src = plans[0]
        u, extra = systems[0][2], systems[0][4]
        xs = x[: src.size, 0]
        x = x[src.size :]
        inv = 1.0 / (1.0 + jnp.dot(u, xs))
        z1 = normals[src.n_normals - 1]
        xi = z1 / jnp.sqrt(z1 * z1 + extra[-1])  # law of f~^T (fixed unit vector)
        w_mu = mu * xs[0] * inv  # w~^T mu
        w_perp = mu_orth * jnp.sqrt(jnp.sum(xs[1:] * xs[1:])) * xi * inv  # w~^T mu_perp
        r = jnp.dot(xs, xs) * inv * inv  # ||w~||^2
        s = beta * w_mu + b_perp * w_perp  # w~^T mu_beta
    else:
        s, r = scalar(spec.alignment), scalar(spec.source_norm2)

    # w~ = c1 e1 + c2 f; for mu_beta = 0, w~'s direction plays e1's role
    positive = M > 0.0
    c1 = jnp.where(positive, s / jnp.where(positive, sqrt_m, 1.0), jnp.sqrt(r))
    c2 = jnp.where(positive, jnp.sqrt(jnp.maximum(r - c1 * c1, 0.0)), 0.0)
    u = systems[-1][2]
    xu = x[:, 0]
    xc = c1 * x[:, 1] + c2 * x[:, 2]
    inv = 1.0 / (1.0 + jnp.dot(u, xu))
    w0 = xu * inv
    v = gamma * (xc - (jnp.dot(u, xc) * inv) * xu)
    return jnp.stack(
        [sqrt_m * w0[0], sqrt_m * v[0], jnp.dot(w0, w0), jnp.dot(w0, v), jnp.dot(v, v)]
    ).astype(dtype)
