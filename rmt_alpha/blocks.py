"""Building blocks of the deterministic equivalents (THEORY.md §2-§4).

Public for researchers who extend the theory. Every function broadcasts over numpy arrays
(computing in float64) and also runs on JAX arrays under ``jit``/``vmap``/``grad``.
These functions do not validate their inputs; the top-level API does.

Notation: ``eta = p / n``, ridge parameter ``gamma > 0``,
``kappa = gamma (1 + delta(eta, gamma))``, ``h = 1 - eta / (1 + kappa)^2``.
"""

from __future__ import annotations

from typing import NamedTuple

from ._backend import asarray, namespace


def delta(eta, gamma):
    r"""Positive root of ``gamma d^2 - (eta - gamma - 1) d - eta = 0`` (THEORY §2).

    With ``b = eta - gamma - 1`` and ``D = sqrt(b^2 + 4 eta gamma)``:
    ``delta = (b + D) / (2 gamma)`` for ``b >= 0`` and the algebraically equal
    ``delta = 2 eta / (D - b)`` for ``b < 0``, which avoids the cancellation of the first
    form when ``gamma`` is small.
    """
    xp, _ = namespace(eta, gamma)
    eta, gamma = asarray(xp, eta), asarray(xp, gamma)
    b = eta - gamma - 1.0
    D = xp.hypot(b, 2.0 * xp.sqrt(eta) * xp.sqrt(gamma))  # no overflow of b^2 for huge gamma
    # Both branches are finite everywhere, so the unused one cannot poison gradients.
    return xp.where(b >= 0, 0.5 * (b / gamma) + 0.5 * (D / gamma),
                    2.0 * eta / (D - xp.minimum(b, 0.0)))


def kappa(eta, gamma):
    r"""``kappa = gamma (1 + delta)``, the positive root of ``k^2 - c k - gamma = 0``.

    ``c = eta - 1 + gamma``, ``S = sqrt(c^2 + 4 gamma)``;
    ``kappa = (c + S)/2`` for ``c >= 0``, else ``2 gamma / (S - c)`` (THEORY §2).
    As ``gamma -> 0``: ``kappa -> max(eta - 1, 0)`` (``~ gamma/(1-eta)`` for ``eta < 1``,
    ``~ sqrt(gamma)`` at ``eta = 1``).
    """
    xp, _ = namespace(eta, gamma)
    eta, gamma = asarray(xp, eta), asarray(xp, gamma)
    c = eta - 1.0 + gamma
    S = xp.hypot(c, 2.0 * xp.sqrt(gamma))  # sqrt(c^2 + 4 gamma) without overflow of c^2
    # Both branches are finite everywhere, so the unused one cannot poison gradients.
    return xp.where(c >= 0, 0.5 * c + 0.5 * S, 2.0 * gamma / (S - xp.minimum(c, 0.0)))


def _h(kap, gamma):
    # h = 1 - eta/(1+kappa)^2 = ((1+kappa)^2 - eta) / (1+kappa)^2. Using the quadratic
    # kappa^2 = (eta - 1 + gamma) kappa + gamma, (1+kappa)^2 - eta = (1+kappa)(kappa^2+gamma)/kappa,
    # a sum of positive terms: no cancellation at the interpolation peak eta = 1. Written as
    # (kappa + gamma/kappa) / (1 + kappa), so that kappa^2 neither overflows nor underflows.
    return (kap + gamma / kap) / (1.0 + kap)


def h_factor(eta, gamma):
    r"""``h = 1 - eta / (1 + kappa)^2`` (THEORY §2), evaluated without cancellation as
    ``h = (kappa^2 + gamma) / (kappa (1 + kappa))``.

    ``h -> 1 - eta`` (``eta < 1``), ``1 - 1/eta`` (``eta > 1``), ``~ 2 sqrt(gamma)``
    (``eta = 1``) as ``gamma -> 0``.
    """
    xp, _ = namespace(eta, gamma)
    gamma = asarray(xp, gamma)
    return _h(kappa(eta, gamma), gamma)


class SourceStats(NamedTuple):
    """Deterministic equivalents of a ridge source classifier ``w~`` (THEORY §4).

    ``mean = w~^T mu``, ``second_moment`` of its score on a class +1 source point,
    ``norm2 = ||w~||^2 = second_moment - mean^2``.
    """

    mean: object
    second_moment: object
    norm2: object


def source_stats(p, *, N, mu, gamma_src):
    r"""Statistics of the ridge source ``w~ = (X~X~^T/N + gamma_src I)^{-1} X~ y~ / N``.

    With ``eta~ = p/N``, ``kappa~ = kappa(eta~, gamma_src)``, ``h~``, ``L~ = mu^2 + 1 + kappa~``
    (THEORY §4):
    ``mean = mu^2 / L~``,
    ``second_moment = mu^2/(h~ L~) ((mu^2+1)/L~ - 2(1-h~)) + (1-h~)/h~``,
    ``norm2 = (mu^2 + eta~) / (h~ L~^2)``.
    """
    mean, norm2, _ = _source(p, N, mu, gamma_src)
    return SourceStats(mean, mean * mean + norm2, norm2)


def _source(p, N, mu, gamma_src):
    r"""``(mean, norm2, excess)`` of the ridge source, with the Gram determinant
    ``excess = mu^2 norm2 - mean^2 = mu^2 eta~ (1 + mu^2/(1+kappa~)^2) / (h~ L~^2) >= 0``
    of ``(w~, mu)`` written without cancellation; ``L~^2`` is never formed."""
    xp, _ = namespace(p, N, mu, gamma_src)
    p, N, mu, g = (asarray(xp, v) for v in (p, N, mu, gamma_src))
    eta_s = p / N
    k = kappa(eta_s, g)
    hs = _h(k, g)
    mu2 = mu * mu
    L = mu2 + 1.0 + k
    excess = mu2 * eta_s * (1.0 + mu2 / (1.0 + k) / (1.0 + k)) / L / L / hs
    return mu2 / L, (mu2 + eta_s) / L / L / hs, excess


class FixedSourceMoments(NamedTuple):
    r"""Coefficients of the score moments for a fixed source (THEORY §3).

    mean ``m(alpha) = m0 + alpha m1``; second moment ``E2(alpha) = T1 + alpha T2 + alpha^2 T3``.
    """

    m0: object
    m1: object
    T1: object
    T2: object
    T3: object


def fixed_source_moments(eta, *, gamma, target_norm2, alignment, source_norm2):
    r"""``m0, m1, T1, T2, T3`` of THEORY §3 for ``M = target_norm2``, ``s = alignment``,
    ``r = source_norm2``, with ``kappa = kappa(eta, gamma)``, ``L = M + 1 + kappa``:

    * ``m0 = M/L``, ``m1 = kappa s / L``,
    * ``T1 = m0^2 + (M + eta)/(h L^2)``,
    * ``T2 = 2 m0 m1 + 2 kappa s (1 + kappa - eta) / ((1 + kappa) h L^2)``,
    * ``T3 = m1^2 + kappa^2 (L^2 r - s^2 (2L - M - eta)) / ((1 + kappa)^2 h L^2)``,

    which equal the forms printed in THEORY §3 (``(1 - h)/eta = 1/(1 + kappa)^2``);
    each ``T_i`` minus its squared-mean part is the corresponding term of the variance.
    """
    xp, _ = namespace(eta, gamma, target_norm2, alignment, source_norm2)
    eta, g, M, s, r = (asarray(xp, v) for v in (eta, gamma, target_norm2, alignment, source_norm2))
    c = _variance_coefficients(xp, eta, g, M, s, r)
    m0, m1 = c.m0, c.m1
    return FixedSourceMoments(
        m0, m1, m0 * m0 + c.v0, 2.0 * m0 * m1 + c.v1, m1 * m1 + c.v2
    )


class _Coefficients(NamedTuple):
    kappa: object
    L: object
    m0: object
    m1: object
    v0: object  # variance = v0 + alpha v1 + alpha^2 v2
    v1: object
    v2: object
    h: object
    B: object  # v2 = (kappa/L)^2 B / h
    G: object  # M r - s^2


def _variance_coefficients(xp, eta, gamma, M, s, r, G=None):
    r"""``m0, m1`` and the variance ``v0 + alpha v1 + alpha^2 v2`` of THEORY §3, each a
    product or quotient of non-negative factors (no cancellation, no square of a large
    quantity), with the Gram determinant ``G = M r - s^2 >= 0`` (computed as
    ``r (M - s (s/r))`` unless given):

    * ``v0 = (M + eta) / (h L^2)``,
    * ``v1 = 2 kappa s (1 + kappa - eta) / ((1 + kappa) h L^2) = 2 gamma s / (h L^2)``
      (the quadratic gives ``1 + kappa - eta = gamma (1 + kappa) / kappa``, which does not
      cancel when ``kappa ~ eta - 1``),
    * ``v2 = (kappa/L)^2 B / h`` with ``B = r + (2/(1+kappa) + M/(1+kappa)^2) G
      + eta s^2/(1+kappa)^2``, which is ``(L^2 r - s^2 (2L - M - eta)) / (1+kappa)^2``
      rewritten with ``L = 1 + kappa + M``.
    """
    k = kappa(eta, gamma)
    h = _h(k, gamma)
    a = 1.0 + k
    L = M + a
    if G is None:
        G = _gram(M, s, r)
    B = r + (2.0 / a) * G + (M / a) * (G / a) + eta * (s / a) * (s / a)
    return _Coefficients(
        kappa=k,
        L=L,
        m0=M / L,
        m1=k * (s / L),
        v0=(M + eta) / L / L / h,
        v1=2.0 * gamma * (s / L) / L / h,
        v2=(k / L) * (k / L) * B / h,
        h=h,
        B=B,
        G=G,
    )


def _gram(M, s, r):
    r"""``G = M r - s^2``, the Gram determinant of ``(w~, mu_beta)`` (``>= 0`` by
    Cauchy-Schwarz), with both products exact (Dekker's two-product): a source nearly
    parallel to ``mu_beta`` (``s^2 ~ M r``, where ``G`` cancels) still gets ``G`` to full
    relative precision. Rounding can leave a tiny negative value where ``G = 0``: set to 0
    (at ``G = 0`` itself the derivative is kept: the formulas extend smoothly past the edge).
    """
    xp, _ = namespace(M, s, r)
    p1, e1 = _two_product(M, r)
    p2, e2 = _two_product(s, s)
    G = (p1 - p2) + (e1 - e2)
    return xp.where(G < 0, 0.0, G)


def _two_product(a, b):
    """``(p, e)`` with ``p = fl(a b)`` and ``p + e = a b`` exactly (Veltkamp split; valid
    inside the accepted range, where no product over- or underflows)."""
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _split(a):
    c = (134217729.0 if a.dtype.itemsize == 8 else 4097.0) * a  # 2^27 + 1, 2^12 + 1
    hi = c - (c - a)
    return hi, a - hi
