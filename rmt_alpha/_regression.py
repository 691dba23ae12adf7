"""Multi-output ridge transfer (THEORY §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _validate as v
from ._backend import asarray, concrete, finish, namespace
from .blocks import _h, kappa

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
    v.representable(xp, alpha=alpha, n=n, p=p, W_source=W_source, W_target=W_target,
                    sigma=sigma, gamma=gamma)
    Ws, Wt = asarray(xp, W_source), asarray(xp, W_target)
    p_value = concrete(p)
    if p_value is not None and np.any(p_value != Ws.shape[1]):
        v.fail("p", f"the number of columns of W_source ({Ws.shape[1]})", p)
    d = Ws.shape[0]
    a = asarray(xp, alpha)
    if rowwise and (a.ndim == 0 or a.shape[-1] != d):
        v.fail("alpha", f"an array whose last axis has length d = {d} (rowwise=True)",
               v.Got(f"shape {a.shape}"))
    v.broadcastable(alpha=a[..., 0] if rowwise else alpha, n=n, p=p, sigma=sigma, gamma=gamma)
    tt, ts, ss = (xp.sum(A * B, axis=1) for A, B in ((Wt, Wt), (Wt, Ws), (Ws, Ws)))
    if rowwise:
        dist2 = xp.sum(tt - 2.0 * a * ts + a * a * ss, axis=-1)
    else:
        dist2 = tt.sum() - 2.0 * a * ts.sum() + a * a * ss.sum()
    g = asarray(xp, gamma)
    k = kappa(asarray(xp, p) / asarray(xp, n), g)
    s2 = asarray(xp, sigma) ** 2
    risk = (k * k * dist2 + s2 * d * (1.0 + k) ** 2) / ((1.0 + k) ** 2 * _h(k, g))
    return finish(xp, risk)


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
    v.representable(xp, W_source=W_source, W_target=W_target)
    Ws, Wt = asarray(xp, W_source), asarray(xp, W_target)
    if rowwise:
        ts, ss = xp.sum(Wt * Ws, axis=1), xp.sum(Ws * Ws, axis=1)
        zero = ss == 0
        return finish(xp, xp.where(zero, 0.0, ts / xp.where(zero, 1.0, ss)))
    ss = xp.sum(Ws * Ws)
    ss_value = concrete(ss)
    if ss_value is not None and ss_value == 0:
        v.fail("W_source", "non-zero (alpha has no effect when it is all zero)",
               v.Got("an all-zero matrix"))
    return finish(xp, xp.sum(Wt * Ws) / ss)
