r"""Exact reduced Monte Carlo sampler: O(p) per trial, equal in law to the direct one (THEORY §6).

:func:`trial_stats` has the sampler interface of :mod:`rmt_alpha._simspec`: for one trial
with fresh source and target data it returns

    [w0^T mu_beta, v^T mu_beta, ||w0||^2, w0^T v, ||v||^2],
    w0 = Q X y / n,  v = gamma Q w~,  Q = (X X^T / n + gamma I)^{-1},

with exactly the distribution of the direct construction, without ever forming a ``p x n``
data matrix or solving a dense ``p x p`` system. :func:`trial_stats_batch` computes a batch
of trials at once (the form :func:`rmt_alpha.simulate` uses).

Derivation (THEORY §6)
----------------------
1. *Only ``u_i = y_i x_i`` enters.* ``X y / n = u_bar`` and ``X X^T / n = U U^T / n``
   (``y_i^2 = 1``), and the ``u_i = mu_beta + y_i z_i`` are i.i.d. ``N(mu_beta, I_p)``. Hence
   ``X X^T / n = u_bar u_bar^T + W / n`` with ``u_bar ~ N(mu_beta, I/n)`` independent of
   ``W = sum (u_i - u_bar)(u_i - u_bar)^T ~ Wishart_p(I, m)``, ``m = n - 1``, so
   ``w0 = Q u_bar`` with ``Q^{-1} = W/n + gamma I + u_bar u_bar^T``.

2. *Chi-bidiagonal (Dumitriu–Edelman) model.* Write ``W = G G^T`` with ``G`` a ``p x m``
   Gaussian matrix. A right reflection of the first row of ``G``, then a left reflection of
   the rest of the first column (rows ``2..p``), and so on, leaves the remaining block
   Gaussian and independent at every step, so ``G = P B R^T`` with ``P e1 = e1`` and ``B``
   lower bidiagonal with independent entries ``B_kk = d_k ~ chi_{m-k+1}``
   (``k = 1..min(p, m)``), ``B_{k+1,k} = e_k ~ chi_{p-k}`` (``k = 1..min(p-1, m)``), and
   nothing else. So ``W = P T P^T`` with ``T = B B^T`` tridiagonal. When ``p > m`` the
   ``m`` columns cap *both* diagonals: ``T`` is an ``(m+1) x (m+1)`` block of rank ``m``
   padded with zeros (continuing the sub-diagonal with ``chi_{p-k}`` past ``k = m``, as a
   naive reading of the square model suggests, would give ``W`` a rank above ``m``).

3. *Frame at the data mean.* Start the reduction at ``e1 = u_bar / ||u_bar||``: given
   ``u_bar``, ``W`` has the law of ``O W O^T`` for ``O`` Haar on the rotations fixing
   ``u_bar``, so in the basis ``O P`` the matrix ``Q^{-1} = T/n + gamma I + ||u_bar||^2 e1 e1^T``
   is tridiagonal (a solve costs O(p)), ``w0 = ||u_bar|| Q e1``, and the fixed vectors
   ``mu_beta``, ``w~`` keep their components along ``e1`` while their parts orthogonal to
   ``u_bar`` become a uniformly rotated pair in ``e1^perp``, independent of ``T``:
   ``alpha f1`` and ``beta1 f1 + beta2 f2`` with ``(f1, f2)`` a uniform orthonormal pair
   orthogonal to ``e1`` (Gram–Schmidt of two Gaussian vectors). Only inner products are
   needed, and those follow from the Gram matrix of ``u_bar`` with the fixed vectors:
   with ``g = sqrt(n) (u_bar - mu_beta)`` split along two fixed orthonormal directions
   ``(a, b)`` and a rest of squared norm ``chi^2_{p-2}``, the orthogonal projections of the
   two directions on ``u_bar^perp`` factor as ``h11 f1`` and ``h21 f1 + h22 f2`` with
   ``h11^2 = (b^2 + R)/U2``, ``h21 = -a b / sqrt(U2 (b^2 + R))``, ``h22^2 = R / (b^2 + R)``
   (``U2 = ||u_bar||^2 = a^2 + b^2 + R``; no cancellation).

4. *Null block.* For ``p > m + 1`` the rows ``m+2..p`` of ``T`` vanish and ``Q = I/gamma``
   there. Only the Gram matrix of the two Gaussian vectors' parts in that block enters,
   a ``Wishart_2(I, p - m - 1)``, drawn exactly by its Bartlett factor
   ``L = [[chi_{p-m-1}, 0], [N(0,1), chi_{p-m-2}]]``.

5. *Ridge source.* ``w~ = Q~ u~_bar`` is the same construction on the source task
   (``N`` points, ``m~ = N - 1``, ``gamma_src``, mean ``mu``); in its data-mean frame
   ``w~ = ||u~_bar|| x`` with ``x = Q~ e1``, so only ``x_1`` and ``||x_perp||^2`` (the part
   orthogonal to ``e1``) are needed: no right-hand side at all. ``mu`` and ``mu_perp``
   project on ``u~_bar^perp`` as in step 3, and ``x_perp`` meets that uniformly rotated
   pair through the first two coordinates of a uniform unit vector of ``R^{p-1}``,
   ``(z1, z2) / sqrt(z1^2 + z2^2 + chi^2_{p-3})``. This gives ``s = w~^T mu_beta`` and
   ``r = ||w~||^2`` for the target stage, whose data are independent of the source's.

Numerics
--------
Each stage is one bottom-up pass over its chi-bidiagonal system ``S = B B^T + diag(lambda)``
(``lambda = n gamma``, plus ``n ||u_bar||^2`` on row 1): ``S = U D U^T`` with ``U`` unit
upper bidiagonal, pivots ``rho_k = e_{k-1}^2 + sigma_k`` from the cancellation-free
recurrence ``sigma_k = lambda_k + d_k^2 sigma_{k+1} / (e_k^2 + sigma_{k+1})`` (every term
positive, so small ``gamma`` and float32 are safe), and ``z = U^{-1} b`` for each
right-hand side. Then ``e1^T S^{-1} b = z_1 / rho_1`` and ``b^T S^{-1} c = sum z_k(b) z_k(c) /
rho_k``. The squares ``S^{-2}`` (norms of solutions) come from the same pass, with no
backward substitution: ``b^T S^{-2} c = -d/dt b^T (S + t Delta)^{-1} c`` at ``t = 0`` for the
shift ``Delta = I`` (``Delta = I - e1 e1^T`` for ``||x_perp||^2``), carried by forward-mode
tangents of the recurrences (``sigma_k' = delta_k + d_k^2 e_k^2 sigma_{k+1}' / rho_{k+1}^2``,
again positive). The pass runs over blocks of rows whose random variates are drawn in
place (memory O(block) per trial, not O(p)).

Random variates: chi-square variates are exact Marsaglia–Tsang rejection samples
(``chi^2_1 = N(0,1)^2``), the log-acceptance term ``d (1 - v + log v)`` evaluated without
cancellation; the rare rejected candidates are redrawn in a loop until accepted (never
biased, and the same for every batch size). Normals are Box–Muller pairs. The logarithm
and ``(cos, sin)(2 pi u)`` are computed here (:func:`_log`, :func:`_cos_sin_2pi`) because
XLA:CPU evaluates its float64 ``log``, ``sin`` and ``erf_inv`` without vectorising them.
All random numbers of a trial come from one counter-based Threefry-2x32 stream keyed by two
words drawn from the trial's key, each variate at a fixed counter, so a trial's draws
do not depend on the batch it is computed in.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._simspec import SimSpec

__all__ = ["trial_stats", "trial_stats_batch"]

_UNROLL = 2
_MAX_ATTEMPTS = 64  # a rejection sampler gives up (NaN) after this many: probability < 0.05^64


# ------------------------------------------------------------------ random variates
def _rotl(x, r: int):
    return jax.lax.shift_left(x, np.uint32(r)) | jax.lax.shift_right_logical(x, np.uint32(32 - r))


def _threefry2x32(k0, k1, x0, x1):
    """Threefry-2x32 (20 rounds), bit-identical to ``jax.random``'s, written out unrolled and
    elementwise (keys and counters broadcast), so XLA fuses it into one vectorised loop."""
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


# Counter layout: word (c0, c1) of a trial's stream, c1 = the row of a stage's system and
# c0 = _tag(stream) + purpose << 20 + attempt (float64 uses 2 c0 and 2 c0 + 1). Streams:
# the source stage, the target stage, and the stand-alone variates of _chi2_and_normals.
_SOURCE, _TARGET, _STANDALONE = 0, 1, 2
_P_X, _P_U, _P_RHS, _P_RX, _P_RU = 0, 1, 2, 3, 5  # retries: _P_RX + which, _P_RU + which


def _tag(stream: int) -> int:
    return stream << 23


def _unit_floats(bits, dtype):
    """Uniform [0, 1) floats from raw bits (the mantissa construction of ``jax.random``)."""
    finfo = jnp.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    uint = bits.dtype
    mant = jax.lax.shift_right_logical(bits, jnp.asarray(nbits - nmant, uint))
    one = jnp.asarray(np.array(1.0, dtype).view(np.dtype(f"uint{nbits}")), uint)
    return jax.lax.bitcast_convert_type(mant | one, dtype) - jnp.asarray(1.0, dtype)


def _uniforms(k0, k1, c0, idx, dtype):
    """Uniform ``[0, 1)`` variates at counters ``(c0[t], idx)`` of the streams keyed by
    ``(k0, k1)``: two per tag (the two words of one Threefry hash for float32, two hashes
    for float64), shape ``(2 T,) + broadcast shape``. ``c0`` has a leading axis of ``T`` tags
    and broadcasts with ``idx`` and the keys."""
    c0 = jnp.asarray(c0, jnp.uint32) * np.uint32(2)
    idx = jnp.asarray(idx, jnp.uint32)
    shape = jnp.broadcast_shapes(c0.shape[1:], idx.shape, jnp.shape(k0), jnp.shape(k1))

    def one_tag(c):  # the two uniforms of one tag
        if jnp.dtype(dtype).itemsize == 8:
            hi, lo = _threefry2x32(k0, k1, jnp.stack([c, c + np.uint32(1)]), idx)
            return _unit_floats((hi.astype(jnp.uint64) << np.uint64(32)) | lo.astype(jnp.uint64),
                                dtype)
        hi, lo = _threefry2x32(k0, k1, c, idx)
        return jnp.stack([_unit_floats(hi, dtype), _unit_floats(lo, dtype)])

    if jax.default_backend() == "cpu":
        # A loop over the tags stores each hash once, in cache: fused into its consumers
        # instead, a hash is recomputed by every consumer (measured: 1.3x slower on a CPU).
        u = jax.lax.map(lambda c: jnp.broadcast_to(one_tag(c), (2,) + shape), c0)
    else:  # on a GPU storing the hashes costs more memory traffic than recomputing them
        u = jax.vmap(lambda c: jnp.broadcast_to(one_tag(c), (2,) + shape))(c0)
    return u.reshape((-1,) + shape)


def _tags(base: int, purposes, ndim: int):
    """Static counter tags ``base + purpose << 20``, shaped to lead ``ndim`` broadcast axes."""
    return np.array([base + (q << 20) for q in purposes], np.uint32).reshape((-1,) + (1,) * ndim)


_LN2 = {8: (6.93147180369123816490e-01, 1.90821492927058770002e-10),
        4: (0.693145751953125, 1.428606765330187045e-06)}  # ln 2 = hi + lo, n hi exact


def _log(x):
    r"""Natural logarithm of positive normal floats, in plain vectorisable arithmetic.

    ``x = 2^k m`` with ``m`` in ``[1/sqrt 2, sqrt 2)``; ``log m = 2 atanh(s)``,
    ``s = (m - 1)/(m + 1)``, ``|s| < 0.1716``, summed to ``s^21`` (float64) or ``s^11``
    (float32), below half an ulp; ``log x = k ln 2 + log m`` with ``ln 2`` split in two.
    """
    dtype = x.dtype
    finfo = jnp.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    uint, sint = jnp.dtype(f"uint{nbits}"), jnp.dtype(f"int{nbits}")
    bits = jax.lax.bitcast_convert_type(x, uint)
    bias = 2 ** (nbits - nmant - 2) - 1
    k = jax.lax.shift_right_logical(bits, jnp.asarray(nmant, uint)).astype(sint) - bias
    one = np.array(1.0, dtype).view(np.dtype(f"uint{nbits}"))
    mant_mask = np.array((1 << nmant) - 1, dtype=np.dtype(f"uint{nbits}"))
    m = jax.lax.bitcast_convert_type((bits & mant_mask) | one, dtype)
    big = m > math.sqrt(2.0)
    m = jnp.where(big, 0.5 * m, m)
    k = jnp.where(big, k + 1, k).astype(dtype)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    terms = 10 if nbits == 64 else 5
    poly = jnp.asarray(1.0 / (2 * terms + 1), dtype)
    for j in reversed(range(terms)):
        poly = 1.0 / (2 * j + 1) + s2 * poly
    hi, lo = _LN2[finfo.bits // 8]
    return k * hi + (k * lo + 2.0 * s * poly)


def _cos_sin_2pi(u):
    """``(cos 2 pi u, sin 2 pi u)`` for ``u`` in ``[0, 1)``: exact reduction to an octant,
    Taylor series of ``cos`` and ``sin`` on ``[0, pi/4]`` (to ``phi^18`` / ``phi^17``)."""
    dtype = u.dtype
    t = 8.0 * u
    o = jnp.floor(t)
    f = t - o  # exact
    octant = o.astype(jnp.int32)
    odd = (octant & 1) == 1
    phi = jnp.where(odd, 1.0 - f, f) * (np.pi / 4.0)
    p2 = phi * phi
    n_sin, n_cos = (9, 10) if jnp.dtype(dtype).itemsize == 8 else (5, 6)
    s = jnp.zeros_like(p2)
    for k in reversed(range(n_sin)):
        s = (-1) ** k / math.factorial(2 * k + 1) + p2 * s
    s = phi * s
    c = jnp.zeros_like(p2)
    for k in reversed(range(n_cos)):
        c = (-1) ** k / math.factorial(2 * k) + p2 * c
    swap = ((octant + 1) & 2) != 0
    cos_, sin_ = jnp.where(swap, s, c), jnp.where(swap, c, s)
    cos_ = jnp.where((octant >= 2) & (octant <= 5), -cos_, cos_)
    sin_ = jnp.where(octant >= 4, -sin_, sin_)
    return cos_, sin_


def _box_muller(ua, ub):
    """Two independent standard normals from two independent uniforms on ``[0, 1)``."""
    r = jnp.sqrt(-2.0 * _log(1.0 - ua))
    c, s = _cos_sin_2pi(ub)
    return r * c, r * s


def _psi_series(y):
    r"""``1 - v + log v`` for ``v = (1 + y)^3`` and ``|y| < 0.1``: the series
    ``-9/2 y^2 + sum_{k>=4} 3 (-1)^{k+1} y^k / k`` (to ``y^18``; ``y^10`` for float32), no
    cancellation (the ``y^2`` term dominates) and no division."""
    terms = 18 if jnp.dtype(y.dtype).itemsize == 8 else 10
    s = jnp.zeros_like(y)
    for k in range(terms, 3, -1):
        s = 3.0 * (-1) ** (k + 1) / k + y * s
    y2 = y * y
    return y2 * (-4.5 + y2 * s)


def _one_minus_v_plus_log_v(y):
    r"""``1 - v + log v`` for ``v = (1 + y)^3``, ``y > -1``, without cancellation:
    :func:`_psi_series` for ``|y| < 0.1``, else ``3 (log(1 + y) - y) - y^2 (3 + y)``."""
    small = jnp.abs(y) < 0.1
    yl = jnp.where(small, 0.5, y)
    large = 3.0 * (_log(1.0 + yl) - yl) - yl * yl * (3.0 + yl)
    return jnp.where(small, _psi_series(jnp.where(small, y, 0.0)), large)


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


def _chi2_pairs(k0, k1, tag, idx, dof, dtype, extra=0):
    """Chi-square variates with integer degrees of freedom ``dof`` (shape ``(2, R, 1)``, may
    be traced) at rows ``idx`` (``(R, 1)``) of the trials keyed by ``k0, k1`` (``(1, B)``):
    shape ``(2, R, B)``; the first candidates' normals (``(2, R, B)``: free where ``dof``
    is 0); and ``2 extra`` more uniforms at the same rows (``(2 extra, R, B)``).

    ``chi^2_0 = 0``, ``chi^2_1 = N(0,1)^2``, ``chi^2_k = 2 Gamma(k/2)`` for ``k >= 2`` by
    Marsaglia–Tsang rejection (rejection rate below ``min(0.05, 0.05/a)`` for shape ``a``).
    Every entry has a first candidate at its own counter; the rejected ones (a few per
    trial; NaN while pending) are redrawn, each from its own further counters, until
    accepted (one entry per trial and diagonal per round: the first pending row), so the
    value of an entry depends only on its trial's stream. An entry still rejected after
    ``_MAX_ATTEMPTS`` candidates (probability < 0.05^64) stays NaN, never a biased value.
    """
    dtype = jnp.dtype(dtype)
    u = _uniforms(k0, k1, _tags(tag, [_P_X, _P_U] + [_P_RHS + i for i in range(extra)], 2),
                  idx, dtype)
    x = jnp.stack(_box_muller(u[0], u[1]))
    a = jnp.maximum(dof, 2).astype(dtype) / 2.0
    d = a - 1.0 / 3.0
    c = jax.lax.rsqrt(9.0 * d)
    acc, val = _mt_attempt(x, u[2:4], d, c)
    # one array (a single consumer of the whole computation, so XLA computes it once)
    chi2 = jnp.where(dof >= 2, jnp.where(acc, 2.0 * val, jnp.nan),
                     jnp.where(dof == 1, x * x, 0.0))
    B = chi2.shape[2]
    rows = jnp.asarray(idx, jnp.uint32).reshape(-1)
    retry_tags = _tags(tag, [_P_RX, _P_RU], 2) + (np.arange(2, dtype=np.uint32) << 20)[:, None]
    which = np.arange(2, dtype=np.int32)[:, None]

    def pending(state):
        chi2, att = state
        return jnp.any(jnp.isnan(chi2) & (att < _MAX_ATTEMPTS))

    def retry(state):  # the first pending row of each (trial, diagonal) draws a candidate
        chi2, att = state
        row = jnp.argmax(jnp.isnan(chi2) & (att < _MAX_ATTEMPTS), axis=1)  # (2, B)
        where = (which, row, np.arange(B)[None, :])
        attempt = att[where] + 1
        here = jnp.isnan(chi2[where]) & (attempt <= _MAX_ATTEMPTS)
        u = _uniforms(k0, k1, retry_tags + attempt.astype(jnp.uint32), rows[row], dtype)
        ok, v = _mt_attempt(_box_muller(u[0], u[1])[0], u[2], d[which, row, 0], c[which, row, 0])
        chi2 = chi2.at[where].set(jnp.where(here & ok, 2.0 * v, chi2[where]))
        return chi2, att.at[where].set(jnp.where(here, attempt, att[where]))

    chi2, _ = jax.lax.while_loop(pending, retry, (chi2, jnp.zeros(chi2.shape, jnp.int32)))
    return chi2, x, u[4:]


def _seeds(keys):
    """``(k0, k1)``, each ``(1, B)``: the two stream key words of each trial key."""
    words = jax.vmap(lambda k: jax.random.bits(k, (2,), jnp.uint32))(keys)
    return words[:, 0][None, :], words[:, 1][None, :]


def _chi2_and_normals(key, dof, n_normals: int, dtype):
    """Chi-square variates of the static integer ``dof >= 0`` and ``n_normals`` standard
    normals of one key, drawn as the sampler draws them (:func:`_chi2_pairs`)."""
    dof = np.asarray(dof, dtype=np.int64)
    L = max(-(-dof.size // 2), -(-n_normals // 2), 1)
    pairs = np.zeros(2 * L, np.int32)
    pairs[: dof.size] = dof
    k0, k1 = _seeds(key[None])
    chi2, _, u = _chi2_pairs(k0, k1, _tag(_STANDALONE), np.arange(L, dtype=np.uint32)[:, None],
                             pairs.reshape(2, L, 1), dtype, extra=1)
    normals = jnp.concatenate(_box_muller(u[0], u[1]))
    return jnp.concatenate(list(chi2))[: dof.size, 0], normals[:n_normals, 0]


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


class _Plan(NamedTuple):
    """Static layout of one stage: ``n`` points in dimension ``p``, Wishart ``m = n - 1``.

    ``p1 = min(p, n)`` rows of the bidiagonal factor, ``p2 = p - p1`` null rows; ``dof``:
    the diagonal then the sub-diagonal degrees of freedom (:func:`_bidiagonal_dof`).
    """

    n: int
    p: int
    p1: int
    p2: int
    dof: np.ndarray


def _plan(n: int, p: int) -> _Plan:
    dof_d, dof_e = _bidiagonal_dof(n - 1, p)
    return _Plan(n, p, dof_d.size, p - dof_d.size, np.concatenate([dof_d, dof_e]))


def _block_rows() -> int:
    """Rows per block of the pass: 128 on a CPU (with a chunk of 64 trials a block's
    variates, about 8 192 (row, trial) pairs, stay in cache), 32 on an accelerator (the
    batch of trials fills the device)."""
    return 128 if jax.default_backend() == "cpu" else 32


def default_block(rows: int) -> int:
    """Rows per block for a stage of ``rows`` rows: :func:`_block_rows`, or the power of two
    above ``rows`` when that is smaller."""
    return int(min(_block_rows(), 2 ** math.ceil(math.log2(max(rows, 1)))))


def bytes_per_trial(itemsize: int) -> int:
    """Device memory of one trial of a batch (an upper estimate): about 40 numbers per row of
    a block (variates, pivots, solutions and their tangents) and a few hundred per trial."""
    return itemsize * (40 * _block_rows() + 256)


def chunk_per_device(spec: SimSpec) -> int:
    """Most trials per device in one default chunk: on an accelerator up to ``2^20`` (memory
    decides, through :func:`bytes_per_trial`), since the pass costs one launch per row
    whatever the batch; on a CPU 64 (a few dozen trials fill the vector units), up to 256
    for small systems (fewer calls per trial)."""
    if jax.default_backend() != "cpu":
        return 2**20
    rows = min(spec.p, spec.n) + (min(spec.p, spec.N) if spec.source == "ridge" else 0)
    return int(min(256, max(64, 2**17 // rows)))


def _pass_step(lam, rhs: int):
    """One row ``k`` (bottom-up) of the pass, for ``lax.scan``: carry ``(sigma, sigma', z, z')``
    of row ``k + 1`` (``rhs`` right-hand sides), input ``(d_k^2, e_k^2, d_k e_k, delta_k,
    b_k)``; returns the carry of row ``k`` and, with right-hand sides, row ``k + 1``'s
    ``(rho, rho', z, z')``."""

    def step(carry, xs):
        sig, sigd, z, zd = carry
        d2, e2, ed, delta, b = xs
        rho = e2 + sig
        inv = 1.0 / rho
        U = ed * inv
        Ud = -U * sigd * inv
        new = (lam + d2 * sig * inv, delta + d2 * e2 * sigd * inv * inv,
               tuple(b[i] - U * z[i] for i in range(rhs)),
               tuple(-Ud * z[i] - U * zd[i] for i in range(rhs)))
        return new, ((rho, sigd, z, zd) if rhs else None)

    return step


def _stage(k0, k1, stage, plan: _Plan, lam, lam_first, shift_first, rhs: int, extras, block,
           dtype):
    r"""One bottom-up pass (module docstring, Numerics) over a stage's system
    ``S = B B^T + lam I + lam_first e1 e1^T`` with ``rhs`` Gaussian right-hand sides that
    vanish on row 1, and the tangent for the shift ``diag(shift_first, 1, 1, ...)``.

    ``lam_first`` enters the last pivot only, so it may depend on the stage's extra
    variates: ``extras`` is a list of pairs of chi-square degrees of freedom, drawn at the
    rows after the last one (with the normals of those rows; a pair ``(0, 0)`` gives two
    normals) and returned as ``(chi2, normals)`` of shapes ``(len(extras), 2, B)`` and
    ``(len(extras), 2 (1 + bool(rhs)), B)``; ``lam_first(chi2, normals)`` is a function.

    Returns ``(extras, rho1, rho1', z1, z1', G1, G2, Z)`` (per trial): the extra variates,
    the first pivot and its tangent, the first entries of ``z = U^{-1} b`` and of its
    tangent, ``G1 = b^T S^{-1} b``, ``G2 = -d/dt b^T (S + t Delta)^{-1} b`` (upper triangles
    of ``(rhs, rhs)`` matrices) and ``Z = b^T b``, over the ``plan.p1`` bidiagonal rows
    (the caller adds the null block).
    """
    p, m, p1 = plan.p, plan.n - 1, plan.p1
    B = k0.shape[-1]
    K = block
    n_ext = len(extras)
    nb = -(-(p1 + n_ext) // K)
    ext_dof = np.array(extras, np.int32).reshape(-1, 2).T  # (2, n_ext)
    pairs = [(i, j) for i in range(rhs) for j in range(i, rhs)]
    zero = jnp.zeros((B,), dtype)
    tag = _tag(stage)

    step = _pass_step(lam, rhs)

    def terms(rho, sigd, z, zd):
        inv = 1.0 / rho
        g1 = tuple(z[i] * z[j] * inv for i, j in pairs)
        g2 = tuple(z[i] * z[j] * sigd * inv * inv - (zd[i] * z[j] + z[i] * zd[j]) * inv
                   for i, j in pairs)
        return g1, g2

    def one_block(carry, j):
        state, (G1, G2, Z), ext = carry
        rows = (j * K + jnp.arange(K, dtype=jnp.int32))[:, None]
        extra_row = jnp.clip(rows - p1, 0, n_ext - 1)
        dof = jnp.stack([jnp.where(rows < p1, m - rows, 0),
                         jnp.where(rows < p1 - 1, p - 1 - rows, 0)])
        is_extra = (rows >= p1) & (rows < p1 + n_ext)
        dof = jnp.where(is_extra, jnp.asarray(ext_dof)[:, extra_row], dof)
        chi2, x, u = _chi2_pairs(k0, k1, tag, rows.astype(jnp.uint32), dof, dtype,
                                 extra=1 if rhs else 0)
        normals = jnp.concatenate([x] + ([jnp.stack(_box_muller(u[0], u[1]))] if rhs else []))
        for i in range(n_ext):  # the extra rows sit in block (p1 + i) // K: keep their variates
            here = j == (p1 + i) // K
            off = (p1 + i) % K
            ext = (ext[0].at[i].set(jnp.where(here, chi2[:, off], ext[0][i])),
                   ext[1].at[i].set(jnp.where(here, normals[:, off], ext[1][i])))
        real = rows < p1
        d2, e2 = jnp.where(real, chi2[0], 0.0), jnp.where(real, chi2[1], 0.0)
        delta = jnp.where(rows == 0, shift_first, 1.0).astype(dtype)
        if rhs:
            inside = (rows >= 1) & real  # b vanishes on row 1
            b = tuple(jnp.where(inside, zz, 0.0) for zz in normals[2: 2 + rhs])
        else:
            b = ()
        state, out = jax.lax.scan(step, state, (d2, e2, jnp.sqrt(d2 * e2), delta, b),
                                  reverse=True, unroll=_UNROLL)
        if rhs:
            g1, g2 = terms(*out)
            G1 = tuple(a + jnp.sum(t, axis=0) for a, t in zip(G1, g1))
            G2 = tuple(a + jnp.sum(t, axis=0) for a, t in zip(G2, g2))
            Z = tuple(a + jnp.sum(b[i] * b[k], axis=0) for a, (i, k) in zip(Z, pairs))
        return (state, (G1, G2, Z), ext), None

    acc = tuple((zero,) * len(pairs) for _ in range(3))
    state = (jnp.ones((B,), dtype), zero, (zero,) * rhs, (zero,) * rhs)
    ext = (jnp.zeros((n_ext, 2, B), dtype), jnp.zeros((n_ext, 4 if rhs else 2, B), dtype))
    (state, (G1, G2, Z), ext), _ = jax.lax.scan(
        one_block, (state, acc, ext), jnp.arange(nb, dtype=jnp.int32), reverse=True)
    sig, rho1d, z1, zd1 = state
    rho1 = sig + lam_first(*ext)  # lam_first enters the last pivot only
    if rhs:
        g1, g2 = terms(rho1, rho1d, z1, zd1)
        G1 = tuple(a + t for a, t in zip(G1, g1))
        G2 = tuple(a + t for a, t in zip(G2, g2))
    return ext, rho1, rho1d, z1, zd1, G1, G2, Z


def _sym(entries, r):
    """An ``(..., r, r)`` symmetric matrix from its upper-triangle entries (row-major)."""
    out = [[None] * r for _ in range(r)]
    it = iter(entries)
    for i in range(r):
        for j in range(i, r):
            out[i][j] = out[j][i] = next(it)
    return jnp.stack([jnp.stack(row, axis=-1) for row in out], axis=-2)


def _inverse_cholesky(Z):
    """``C^{-1}`` (shape ``(..., r, r)``) for the Gram matrix ``Z = C C^T`` of ``r <= 2``
    vectors given by its upper-triangle entries (explicit: no LAPACK call per trial)."""
    if len(Z) == 1:
        return (1.0 / jnp.sqrt(Z[0]))[..., None, None]
    c11 = jnp.sqrt(Z[0])
    c21 = Z[1] / c11
    c22 = jnp.sqrt(Z[2] - c21 * c21)
    zero = jnp.zeros_like(c11)
    return jnp.stack([jnp.stack([1.0 / c11, zero], axis=-1),
                      jnp.stack([-c21 / (c11 * c22), 1.0 / c22], axis=-1)], axis=-2)


def _mean_frame(a, b, R):
    """Projections of two orthonormal directions on ``u_bar^perp`` (module docstring,
    step 3), for ``u_bar`` with coordinates ``a, b`` on them and a rest of squared norm
    ``R``: ``(U2, h11, h21, h22)``."""
    U2 = a * a + b * b + R
    bR = b * b + R
    return U2, jnp.sqrt(bR / U2), -a * b / jnp.sqrt(U2 * bR), jnp.sqrt(R / bR)


def _source(k0, k1, spec, dtype, block):
    """``(s, r) = (w~^T mu_beta, ||w~||^2)`` of a fresh ridge source (module docstring, step 5)."""
    p, N = spec.p, int(spec.N)
    mu, mu_orth, beta, gamma = (jnp.asarray(x, dtype) for x in
                                (spec.mu, spec.mu_orth, spec.beta, spec.gamma_src))
    b_perp = jnp.sqrt(jnp.maximum(1.0 - beta * beta, 0.0))
    sqn = math.sqrt(N)

    def mean_frame(chi2, normals):  # u~_bar = (a, b) on (mu, mu_perp) plus a rest R
        return _mean_frame(mu + normals[1, 0] / sqn, normals[1, 1] / sqn, chi2[0, 0] / N)

    plan = _plan(N, p)
    (chi2, normals), rho1, rho1d, *_ = _stage(
        k0, k1, _SOURCE, plan, N * gamma, lambda *e: N * mean_frame(*e)[0], 0.0, 0,
        [(p - 2, max(p - 3, 0)), (0, 0), (0, 0)],
        block or default_block(plan.p1 + 3), dtype)
    U2, h11, h21, h22 = mean_frame(chi2, normals)
    a, b = mu + normals[1, 0] / sqn, normals[1, 1] / sqn
    x1 = N / rho1
    x_perp = N * jnp.sqrt(rho1d) / rho1  # ||x - x_1 e1||
    z1, z2 = normals[2, 0], normals[2, 1] if p >= 3 else jnp.zeros_like(normals[2, 1])
    rad = jnp.sqrt(z1 * z1 + z2 * z2 + chi2[0, 1])
    xi1, xi2 = z1 / rad, z2 / rad
    su = jnp.sqrt(U2)
    w_mu = mu * (x1 * a + su * x_perp * xi1 * h11)
    w_perp = mu_orth * (x1 * b + su * x_perp * (xi1 * h21 + xi2 * h22))
    return beta * w_mu + b_perp * w_perp, U2 * (x1 * x1 + x_perp * x_perp)


def trial_stats_batch(keys, spec: SimSpec, dtype=jnp.float64, block=None):
    r"""Exact reduced trials (THEORY §6) for a batch of keys: shape ``(B, 5)``, row ``i``
    ``[w0^T mu_beta, v^T mu_beta, ||w0||^2, w0^T v, ||v||^2]`` of the trial keyed by
    ``keys[i]`` (independent of the other keys in the batch and of ``block``, the rows per
    block of the pass; default :func:`default_block`).

    Fresh source data (``spec.source == "ridge"``) and target data, drawn through the
    chi-bidiagonal Wishart model in the frame of each data mean (module docstring): in the
    target frame ``w0 = ||u_bar|| Q e1`` and ``v = gamma Q w~``, with ``mu_beta`` and ``w~``
    written in the orthonormal frame ``(e1, f1, f2)``, so the five numbers are bilinear
    forms of ``Q`` and ``Q^2`` in that frame. Costs O(p) time per trial and O(block) memory.

    ``keys``: JAX PRNG keys (typed, shape ``(B,)``, or legacy ``(B, 2)`` uint32);
    ``dtype``: float64 or float32. The sizes ``n, p, N`` and ``source`` of ``spec`` must be
    static; its float fields may be Python floats or traced scalars (so one compiled
    program can serve every task of the same sizes). Requires ``p >= 2``.
    """
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    p, n = int(spec.p), int(spec.n)
    if p < 2:
        raise ValueError(f"the reduced sampler needs p >= 2, got p={p}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if spec.source not in ("ridge", "fixed"):
        raise ValueError(f"spec.source must be 'ridge' or 'fixed', got {spec.source!r}")
    k0, k1 = _seeds(keys)
    gamma = jnp.asarray(spec.gamma, dtype)
    if spec.source == "ridge":
        mu, mu_orth, beta = (jnp.asarray(x, dtype) for x in (spec.mu, spec.mu_orth, spec.beta))
        b_perp = jnp.sqrt(jnp.maximum(1.0 - beta * beta, 0.0))
        M = beta * beta * mu * mu + b_perp * b_perp * mu_orth * mu_orth
        s, r = _source(k0, k1, spec, dtype, block)
    else:
        M = jnp.asarray(spec.target_norm2, dtype)
        s, r = jnp.asarray(spec.alignment, dtype), jnp.asarray(spec.source_norm2, dtype)
    sqrt_m = jnp.sqrt(M)
    # w~ = c1 e_m + c2 e_w, mu_beta = sqrt(M) e_m (for mu_beta = 0, w~'s direction is e_m)
    positive = M > 0.0
    c1 = jnp.where(positive, s / jnp.where(positive, sqrt_m, 1.0), jnp.sqrt(r))
    c2 = jnp.where(positive, jnp.sqrt(jnp.maximum(r - c1 * c1, 0.0)), 0.0)

    plan = _plan(n, p)
    rhs = 2 if p >= 3 else 1
    sqn = math.sqrt(n)

    def mean_frame(chi2, normals):  # u_bar = (a, b) on (e_m, e_w) plus a rest R
        return _mean_frame(sqrt_m + normals[0, 2] / sqn, normals[0, 3] / sqn, chi2[0, 0] / n)

    lam = n * gamma
    (chi2, normals), rho1, rho1d, z1, zd1, G1, G2, Z = _stage(
        k0, k1, _TARGET, plan, lam, lambda *e: n * mean_frame(*e)[0], 1.0, rhs,
        [(p - 2, plan.p2), (max(plan.p2 - 1, 0), 0)],
        block or default_block(plan.p1 + 3), dtype)
    U2, h11, h21, h22 = mean_frame(chi2, normals)
    a, b = sqrt_m + normals[0, 2] / sqn, normals[0, 3] / sqn
    G1, G2, Z = (list(g) for g in (G1, G2, Z))
    if plan.p2 > 0:  # null block (step 4): z1 -> (L11, 0), z2 -> (L21, L22)
        L11, L21, L22 = jnp.sqrt(chi2[0, 1]), normals[1, 2], jnp.sqrt(chi2[1, 0])
        null = [L11 * L11, L11 * L21, L21 * L21 + L22 * L22][: len(Z)]
        for i, t in enumerate(null):
            G1[i] = G1[i] + t / lam
            G2[i] = G2[i] + t / (lam * lam)
            Z[i] = Z[i] + t
    # bilinear forms over (e1, z) -> over the orthonormal frame (e1, f1, f2), f = z C^{-T}
    inv1 = 1.0 / rho1
    g1_ez = jnp.stack([zi * inv1 for zi in z1], axis=-1)
    g2_ez = jnp.stack([zi * rho1d * inv1 * inv1 - zdi * inv1 for zi, zdi in zip(z1, zd1)], axis=-1)
    Tinv = _inverse_cholesky(Z)  # C^{-1}, Z = C C^T (C lower triangular)
    g1_ef = jnp.einsum("...j,...ij->...i", g1_ez, Tinv)
    g2_ef = jnp.einsum("...j,...ij->...i", g2_ez, Tinv)
    g1_ff = jnp.einsum("...ij,...jk,...lk->...il", Tinv, _sym(G1, rhs), Tinv)
    g2_ff = jnp.einsum("...ij,...jk,...lk->...il", Tinv, _sym(G2, rhs), Tinv)

    def full(ee, ef, ff):
        top = jnp.concatenate([ee[..., None, None], ef[..., None, :]], axis=-1)
        bottom = jnp.concatenate([ef[..., :, None], ff], axis=-1)
        return jnp.concatenate([top, bottom], axis=-2)

    Q1 = n * full(inv1, g1_ef, g1_ff)  # e^T Q f etc., Q = n S^{-1}
    Q2 = (n * n) * full(rho1d * inv1 * inv1, g2_ef, g2_ff)
    su = jnp.sqrt(U2)
    zero = jnp.zeros_like(U2)
    mb = jnp.stack([sqrt_m * a / su, sqrt_m * h11, zero][: rhs + 1], axis=-1)
    w = jnp.stack([(c1 * a + c2 * b) / su, c1 * h11 + c2 * h21, c2 * h22][: rhs + 1], axis=-1)

    def form(A, x, y):
        return jnp.einsum("...i,...ij,...j->...", x, A, y)

    e = jnp.zeros(rhs + 1, dtype).at[0].set(1.0)
    e = jnp.broadcast_to(e, w.shape)
    out = jnp.stack([su * form(Q1, e, mb), gamma * form(Q1, mb, w), U2 * form(Q2, e, e),
                     gamma * su * form(Q2, e, w), gamma * gamma * form(Q2, w, w)], axis=-1)
    return out.astype(dtype)


def trial_stats(key, spec: SimSpec, dtype=jnp.float64):
    r"""One exact reduced trial (THEORY §6): ``[w0^T mu_beta, v^T mu_beta, ||w0||^2, w0^T v, ||v||^2]``.

    :func:`trial_stats_batch` for a batch of one key (a pure function, to be ``vmap``-ped
    over keys and ``jit``-ted); equal in distribution to the direct construction.
    """
    return trial_stats_batch(key[None], spec, dtype)[0]
