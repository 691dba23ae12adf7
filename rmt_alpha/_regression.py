"""Multi-output ridge transfer (THEORY §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _memory
from . import _validate as v
from ._backend import asarray, concrete, finish, float_dtype, namespace
from .blocks import _h, _two_product, kappa

if TYPE_CHECKING:
    from ._typing import Array, ArrayLike


def _check_pair(W_source, W_target):
    v.matrix("W_source", W_source)
    v.matrix("W_target", W_target)
    ws, wt = concrete(W_source), concrete(W_target)
    if ws is not None and wt is not None and ws.shape != wt.shape:
        v.fail("W_target", f"of the same shape (d, p) as W_source {ws.shape}",
               v.Got(f"shape {wt.shape}"))


def regression_risk(alpha: ArrayLike, n: ArrayLike, p: ArrayLike, *, W_source: ArrayLike,
                    W_target: ArrayLike, sigma: ArrayLike, gamma: ArrayLike,
                    rowwise: bool = False) -> Array:
    r"""Test risk ``R(alpha) = E ||W_alpha x - y||^2`` of alpha-rescaled ridge transfer.

    THEORY §5: ``R = (kappa^2 ||W_t - alpha W_s||_F^2 + sigma^2 d (1 + kappa)^2)
    / ((1 + kappa)^2 - eta)``, ``kappa = kappa(p/n, gamma)``; the denominator is evaluated
    as ``(1 + kappa)^2 h``. With ``rowwise=True`` the last axis of ``alpha`` has length ``d``
    and holds one ``alpha_j`` per output row (``||W_t - diag(alpha) W_s||_F^2``).
    ``W_source``, ``W_target``: arrays of shape ``(d, p)``; ``sigma >= 0``; ``gamma > 0``.
    """
    v.positive_int("n", n)
    v.positive_int("p", p)
    v.finite("alpha", alpha)
    v.nonnegative("sigma", sigma)
    v.positive("gamma", gamma)
    _check_pair(W_source, W_target)
    rowwise = v.boolean("rowwise", rowwise)
    xp, _ = namespace(alpha, n, p, W_source, W_target, sigma, gamma)
    dtype = float_dtype(xp)
    v.representable(xp, alpha=alpha)
    v.ratio("p", p, "n", n, dtype)
    v.magnitude("gamma", gamma, dtype, zero=False)
    v.magnitude("sigma", sigma, dtype, squared=True)
    _check_norms(W_source, W_target, dtype)
    Ws, Wt = asarray(xp, W_source), asarray(xp, W_target)
    p_value = concrete(p)
    if p_value is not None and np.any(p_value != Ws.shape[1]):
        v.fail("p", f"the number of columns of W_source ({Ws.shape[1]})", p)
    d = Ws.shape[0]
    a = asarray(xp, alpha)
    if rowwise and (a.ndim == 0 or a.shape[-1] != d):
        v.fail("alpha", f"an array whose last axis has length d = {d} (rowwise=True)",
               v.Got(f"shape {a.shape}"))
    shape = v.broadcastable(alpha=a[..., 0] if rowwise else alpha, n=n, p=p, sigma=sigma,
                            gamma=gamma)
    if xp is np:
        _memory.broadcast(shape)
    # ||W_t - alpha W_s||^2 = ||D||^2 + (alpha - a)((alpha - a) ||W_s||^2 - 2 <D, W_s>) with
    # a ~ alpha* (rounded) and D = W_t - a W_s (exact product): no cancellation next to the
    # minimum, where the expanded ||W_t||^2 - 2 alpha <W_t, W_s> + alpha^2 ||W_s||^2 lost
    # every digit (per row when rowwise).
    axis = 1 if rowwise else None
    a_star, ss = _optimum(xp, Ws, Wt, axis)
    prod, err = _two_product(a_star[:, None] if rowwise else a_star, Ws)
    D = (Wt - prod) - err
    da = a - a_star
    dist2 = xp.sum(D * D, axis=axis) + da * (da * ss - 2.0 * xp.sum(D * Ws, axis=axis))
    if rowwise:
        dist2 = xp.sum(dist2, axis=-1)
    g = asarray(xp, gamma)
    k = kappa(asarray(xp, p) / asarray(xp, n), g)
    q = k / (1.0 + k)
    risk = (q * (q * dist2) + asarray(xp, sigma) ** 2 * d) / _h(k, g)
    return finish(xp, risk)


def _check_norms(W_source, W_target, dtype):
    v.inner_product("W_source", W_source, W_source, "||W_source||_F^2", dtype)
    v.inner_product("W_target", W_target, W_target, "||W_target||_F^2", dtype)


def _optimum(xp, Ws, Wt, axis):
    """``(alpha*, ||W_s||^2)`` over ``axis`` (1: per row; None: whole matrices); 0 where
    ``W_s`` is zero (alpha has no effect there), through a safe denominator."""
    ts, ss = xp.sum(Wt * Ws, axis=axis), xp.sum(Ws * Ws, axis=axis)
    zero = ss == 0
    return xp.where(zero, 0.0, ts / xp.where(zero, 1.0, ss)), ss


def regression_optimal_alpha(W_source: ArrayLike, W_target: ArrayLike,
                             rowwise: bool = False) -> Array:
    r"""Risk-minimising alpha (THEORY §5): ``<W_t, W_s>_F / ||W_s||_F^2``.

    Independent of ``n, p, gamma, sigma``. With ``rowwise=True`` returns one
    ``alpha_j* = <W_t[j], W_s[j]> / ||W_s[j]||^2`` per output row; for a zero row of
    ``W_source`` the risk does not depend on ``alpha_j`` and 0 is returned.
    """
    _check_pair(W_source, W_target)
    rowwise = v.boolean("rowwise", rowwise)
    xp, _ = namespace(W_source, W_target)
    _check_norms(W_source, W_target, float_dtype(xp))
    Ws, Wt = asarray(xp, W_source), asarray(xp, W_target)
    ws = concrete(W_source)
    if not rowwise and ws is not None and not np.any(ws):
        v.fail("W_source", "non-zero (alpha has no effect when it is all zero)",
               v.Got("an all-zero matrix"))
    return finish(xp, _optimum(xp, Ws, Wt, 1 if rowwise else None)[0])
