r"""The centred target (THEORY §11.4): the closed forms of THEORY §9 for the pipeline that
centres the target at the midpoint of its labelled points (and the source at its own), as
:func:`rmt_alpha.estimate_task` does with ``center=True``.

Centring at ``c_hat = (xbar_+ + xbar_-)/2`` makes the Gram matrix ``W/n + b b^T`` (``W`` the
within-class scatter, ``b`` the half mean difference) and moves every test point by the
centring error ``-e``; with ``n_a`` labelled points of class ``a`` (THEORY §11.4):

* blocks of THEORY §9.2 without the mean and with weights ``omega_a = (n_a - 1 + zeta_a)/n``
  in place of ``pi_a``, ``zeta_a = n/(4 n_a)``: ``delta_a``, ``Q_c``, ``G``, ``e(A)`` and
  ``Y_A = Q_c A Q_c + sum_c e_c(A) Q_c Ct_c Q_c``;
* ``delta_zeta = sum_a zeta_a delta_a``, ``delta_x = zeta_+ delta_+ - zeta_- delta_-``,
  ``a = mu^T Q_c mu``, ``g = mu^T Q_c w~``, ``kappa0 = 1/(1 + a + delta_zeta)``,
  ``kappa1 = -gamma g kappa0``;
* class-``y`` score mean ``m_y = kappa0 (a - y delta_x) + alpha (kappa1 (a - y delta_x) + gamma g)``;
* variance ``V_{Ct_y}(alpha) + V_S(alpha)/n``, ``V_A = kappa^2 P_A + 2 alpha kappa gamma
  mu^T Y_A w~ + alpha^2 gamma^2 w~^T Y_A w~`` with ``kappa = kappa0 + alpha kappa1``,
  ``P_A = mu^T Y_A mu + sum_a zeta_a (t_a(A) + (G e(A))_a)``, and the shift covariance
  ``S = C_zeta - C_x C_zeta^+ C_x`` (``C_zeta = sum_a zeta_a Ct_a``, ``C_x = zeta_+ Ct_+ -
  zeta_- Ct_-``);
* a ridge source centred at its own midpoint: ``E[w~] = kappa~0 Q~_c mu_s`` and the
  "covariance" ``Sigma~ = sum_a l~_a Q~_c Cs_a Q~_c / N``,
  ``l~ = kappa~0^2 (zeta~ + ((I - Omega~ G~)^{-1} Omega~)^T (q~ + G~ zeta~))``,
  ``q~_c = (Q~_c mu_s)^T Cs_c (Q~_c mu_s)``; ``V11`` gains ``gamma^2 tr(Y_A Sigma~)`` (the
  rank-one parts are O(1/N) and dropped, as in THEORY §9.4).

For a shared covariance and balanced counts this is exactly THEORY §9 at ``n - 1`` samples,
``mu_t sqrt(n/(n-1))``, ``gamma n/(n-1)``, ``alpha sqrt((n-1)/n)``, with the variance times
``1 + 1/n`` (THEORY §11.4; tested). Numpy only (the class-dependent fixed point).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

from . import _general as g_
from . import _validate as v
from ._covariance import layout


class Counts(NamedTuple):
    """The class counts ``(n_+, n_-)`` of one centred task and its constants."""

    plus: int
    minus: int

    @property
    def n(self):
        return self.plus + self.minus

    @property
    def zeta(self):
        return np.array([self.n / (4.0 * self.plus), self.n / (4.0 * self.minus)])

    @property
    def omega(self):
        return (np.array([self.plus, self.minus], dtype=float) - 1.0 + self.zeta) / self.n


def check_counts(name, counts):
    """``(n_+, n_-)``, integers >= 2 (the pipeline needs two points per class)."""
    try:
        plus, minus = (int(c) for c in counts)
        ok = (plus, minus) == tuple(counts) and min(plus, minus) >= 2
    except (TypeError, ValueError):
        ok = False
    if not ok:
        v.fail(name, "a pair (n_plus, n_minus) of integers >= 2 (two points per class)", counts)
    return Counts(plus, minus)


def balanced(n):
    """The counts of a balanced draw of ``n`` points (``n//2`` of class +1)."""
    return Counts(n // 2, n - n // 2)


class _Blocks(NamedTuple):
    covs: tuple  # (C_+, C_-) in the frame, both diagonals or both matrices
    Q: object
    G: np.ndarray
    Minv: np.ndarray  # (I - Omega G)^{-1}
    Om: np.ndarray
    zeta: np.ndarray
    delta: np.ndarray
    m: int

    def t(self, A):
        """``t_a(A) = tr(C_a Q A Q)/m``."""
        return np.array([g_._tr(g_._sandwich(self.Q, C), A) / self.m for C in self.covs])

    def e(self, t):
        return self.Minv @ (self.Om * t)

    def quad(self, x, A, e, y):
        """``x^T Y_A y`` with ``Y_A = Q A Q + sum_c e_c Q C_c Q``."""
        qx, qy = g_._mv(self.Q, x), g_._mv(self.Q, y)
        return g_._quad(qx, A, qy) + sum(ec * g_._quad(qx, C, qy) for ec, C in zip(e, self.covs))

    def trace(self, A, e, Sigma):
        """``tr(Y_A Sigma)``."""
        return g_._tr(g_._sandwich(self.Q, A), Sigma) + sum(
            ec * g_._tr(g_._sandwich(self.Q, C), Sigma) for ec, C in zip(e, self.covs))


def _blocks(covs, m, gamma, counts):
    covs = tuple(covs) if len(covs) == 2 else tuple(covs) * 2
    if covs[0].ndim != covs[1].ndim:
        covs = tuple(np.diag(C) if C.ndim == 1 else C for C in covs)
    delta, Q, G, Minv = g_._class_deltas(covs, counts.omega, m, gamma)
    return _Blocks(covs, Q, G, Minv, counts.omega / (1.0 + delta) ** 2, counts.zeta, delta, m)


def _shift_covariance(T):
    """``S = C_zeta - C_x C_zeta^+ C_x`` in the frame of ``T``."""
    z = T.zeta
    Cz = z[0] * T.covs[0] + z[1] * T.covs[1]
    Cx = z[0] * T.covs[0] - z[1] * T.covs[1]
    if Cz.ndim == 1:
        safe = np.where(Cz > 0, Cz, 1.0)
        return np.where(Cz > 0, Cz - Cx * Cx / safe, 0.0)
    return Cz - Cx @ np.linalg.pinv(Cz, hermitian=True) @ Cx


def source_moments(covs, N, gamma_src, mu_s, counts):
    """``(E[w~], Sigma~)`` of a ridge source centred at its class midpoint (THEORY §11.4), in
    the frame of ``covs``."""
    S = _blocks(covs, N, gamma_src, counts)
    qmu = g_._mv(S.Q, mu_s)
    kappa0 = 1.0 / (1.0 + g_._dot(mu_s, qmu) + S.zeta @ S.delta)
    q = np.array([g_._quad(qmu, C, qmu) for C in S.covs])
    ell = kappa0**2 * (S.zeta + (S.Minv * S.Om[None, :]).T @ (q + S.G @ S.zeta))
    Sigma = g_._sandwich(S.Q, sum(l * C for l, C in zip(ell, S.covs))) / N
    return kappa0 * qmu, Sigma


class Coefficients(NamedTuple):
    """Per test class (index 0: y = +1, 1: y = -1): mean ``m0 + alpha m1`` and total variance
    ``V0 + 2 alpha V01 + alpha^2 V11`` of the signed score of the centred pipeline."""

    m0: np.ndarray
    m1: np.ndarray
    V0: np.ndarray
    V01: np.ndarray
    V11: np.ndarray


def coefficients(task, counts, source_counts=None):
    """:class:`Coefficients` of a resolved general task (``rmt_alpha._task.Task`` with a
    ``general`` part; scalar ``n``, ``gamma`` ...) for a target centred with class counts
    ``counts`` (and a ridge source centred with ``source_counts``)."""
    g = task.general
    n, gamma = int(np.asarray(g.n)), float(np.asarray(g.gamma))
    if counts.n != n:
        v.fail("target counts", f"a pair adding up to n = {n}", tuple(counts))
    ridge = g.source_cov is not None
    with g_._blas_threads(g.p, tuple(c.array for c in g.target_cov + (g.source_cov or ()))):
        frames = layout(g.target_cov, g.source_cov) if ridge else layout(g.target_cov)
        Ft = frames[0]
        rot = lambda U, x: np.asarray(x, dtype=np.float64) if U is None \
            else U.T @ np.asarray(x, dtype=np.float64)  # noqa: E731
        mu = rot(Ft.U, g.target_mean)
        T = _blocks(Ft.covs, n, gamma, counts)
        Sigma = None
        if ridge:
            N, Fs = int(np.asarray(g.N)), frames[1]
            if source_counts.n != N:
                v.fail("source counts", f"a pair adding up to N = {N}", tuple(source_counts))
            w, Sigma = source_moments(Fs.covs, N, float(np.asarray(g.gamma_src)),
                                      rot(Fs.U, g.source_mean), source_counts)
            transfer = g_._Transfer.between(Ft.U, Fs.U)
            w, Sigma = transfer.vector(w), transfer.covariance(Sigma, T.covs[0].ndim == 2)
        else:
            w = rot(Ft.U, g.source)
        return _target(T, gamma, mu, w, Sigma)


def _target(T, gamma, mu, w, Sigma):
    a = g_._dot(mu, g_._mv(T.Q, mu))
    gw = g_._dot(mu, g_._mv(T.Q, w))
    kappa0 = 1.0 / (1.0 + a + T.zeta @ T.delta)
    kappa1 = -gamma * gw * kappa0
    d_x = T.zeta[0] * T.delta[0] - T.zeta[1] * T.delta[1]

    def variance(A, t):
        e = T.e(t)
        P = T.quad(mu, A, e, mu) + T.zeta @ (t + T.G @ e)
        muw, ww = T.quad(mu, A, e, w), T.quad(w, A, e, w)
        if Sigma is not None:
            ww = ww + T.trace(A, e, Sigma)
        return np.array([kappa0**2 * P, kappa0 * (kappa1 * P + gamma * muw),
                         kappa1**2 * P + 2.0 * kappa1 * gamma * muw + gamma**2 * ww])

    S = _shift_covariance(T)
    shift = variance(S, T.t(S)) / T.m
    V = np.array([variance(T.covs[y], T.G[:, y]) + shift for y in (0, 1)])
    y = np.array([1.0, -1.0])
    return Coefficients(kappa0 * (a - y * d_x), kappa1 * (a - y * d_x) + gamma * gw,
                        V[:, 0], V[:, 1], V[:, 2])


def accuracy(alpha, c):
    """``sum_y Phi(m_y / sqrt(V_y)) / 2`` at ``alpha`` (any shape)."""
    a = np.asarray(alpha, dtype=np.float64)
    return sum(0.5 * ndtr((c.m0[y] + a * c.m1[y])
                          / np.sqrt(c.V0[y] + a * (2.0 * c.V01[y] + a * c.V11[y])))
               for y in (0, 1))


def optimal_alpha(c):
    """The maximiser of :func:`accuracy` (THEORY §9.5's closed form when both classes have
    the same coefficients, else the numerical two-class maximiser)."""
    if all(np.isclose(x[0], x[1], rtol=1e-14, atol=0) for x in c):
        return float(g_._stationary(np, c.m0[0], c.m1[0], c.V0[0], c.V01[0], c.V11[0]))
    return g_._two_class_argmax(c.m0, c.m1, c.V0, c.V01, c.V11)
