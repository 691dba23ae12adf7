"""Closed forms for general noise covariances (THEORY §9): anisotropic, source != target,
non-commuting and class-dependent.

Every task (the target: ``n, gamma, mu_t, Ct``; the ridge source: ``N, gamma_src, mu_s, Cs``)
is summarised by the blocks of THEORY §9.2 in the frame chosen by
:func:`rmt_alpha._covariance.layout`: its covariances are (p,) diagonals there (O(p) per
quantity) or, for two class covariances that do not commute, dense (p, p) matrices (O(p^3)).
The source enters the target formulas only through its mean ``E[w~]`` and its "covariance"
``Sigma~ = sum_a l~_a Q~_c Cs_a Q~_c / N`` (THEORY §9.4).

Numbers: ``delta`` from the scalar equation of THEORY §9.6 (bracketed root and a Newton step)
for one covariance per task, from safeguarded Newton (chord) steps on the interference map
with a residual check for two; ``Qbar`` is applied by Sherman-Morrison and never formed; the
variance coefficients ``V0, V11`` are sums of non-negative terms.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np
from scipy.optimize import brentq

from . import _validate as v
from ._backend import asarray, concrete, finish
from ._blas import one_blas_thread
from ._covariance import layout, pair_cached, parse, scope_memo

GENERAL_SETS = ("general ridge source", "general fixed source")
CLASS_WEIGHTS = (0.5, 0.5)  # balanced classes (THEORY §9.1)
DELTA_RTOL = 1e-10  # residual check of the class-dependent fixed point


class GeneralTask(NamedTuple):
    """The validated inputs of a general keyword set (covariances parsed by
    :func:`rmt_alpha._covariance.parse`). ``source`` is the fixed source vector (None for the
    ridge source, which has ``source_mean, source_cov, N, gamma_src`` instead)."""

    p: int
    n: object
    gamma: object
    target_mean: object
    target_cov: tuple
    source: object = None
    source_mean: object = None
    source_cov: tuple = None
    N: object = None
    gamma_src: object = None

    @property
    def traced(self):
        """Whether JAX traces any task argument (then only the JAX path can run)."""
        vals = [self.n, self.gamma, self.target_mean, self.source, self.source_mean, self.N,
                self.gamma_src] + [c.array for c in self.target_cov + (self.source_cov or ())]
        return any(x is not None and concrete(x) is None for x in vals)


def _blas_threads(p, *covariance_args):
    """One BLAS thread for dense linear algebra from p = 64 on: on a shared machine
    OpenBLAS's busy-waiting threads made a 128 x 128 eigh 70x slower (benchmarks/README.md)."""
    flat = [c for x in covariance_args for c in (x if isinstance(x, tuple) else (x,))]
    if p >= 64 and any(c is not None and np.ndim(c) == 2 for c in flat):
        return one_blas_thread()
    return contextlib.nullcontext()


def resolve(kind, n, p, given):
    """Validate a general keyword set (``n, p, gamma`` are checked by the caller)."""
    p_value = concrete(p)
    if p_value is None or p_value.ndim != 0:
        v.fail("p", f"a single integer with the {kind} keyword set", p)
    p = int(p_value)
    with _blas_threads(p, given.get("target_cov"), given.get("source_cov")):
        return _resolve(kind, n, p, given)


def _resolve(kind, n, p, given):
    memo = scope_memo()
    v.vector("target_mean", given["target_mean"], p)
    target_cov = parse("target_cov", given["target_cov"], p, memo)
    for c in target_cov:
        a = concrete(c.array)
        if a is not None and not np.any(a):
            v.fail(c.name, "non-zero (the test score would have no noise)",
                   v.Got("an all-zero covariance"))
    if kind == "general fixed source":
        v.vector("source", given["source"], p)
        w = concrete(given["source"])
        if w is not None and not np.any(np.asarray(w, dtype=np.float64)):
            v.fail("source", "a non-zero vector (||source||^2 > 0)", v.Got("the zero vector"))
        return GeneralTask(p, n, given["gamma"], given["target_mean"], target_cov,
                           source=given["source"])
    v.positive_int("N", given["N"])
    v.positive("gamma_src", given["gamma_src"])
    v.vector("source_mean", given["source_mean"], p)
    source_cov = parse("source_cov", given["source_cov"], p, memo)
    return GeneralTask(p, n, given["gamma"], given["target_mean"], target_cov,
                       source_mean=given["source_mean"], source_cov=source_cov, N=given["N"],
                       gamma_src=given["gamma_src"])


# ----------------------------------------------------------------------------------------
# Linear algebra on a (p,) diagonal or a (p, p) matrix (both symmetric)


def _mv(C, x):
    return C * x if C.ndim == 1 else C @ x


def _dot(x, y):
    """x^T y without BLAS: a threaded ddot busy-waits on a shared machine (20 ms at p = 10^5)."""
    return (x * y).sum()


def _quad(x, C, y):
    return _dot(x, _mv(C, y))


def _tr(A, B):
    """tr(A B) for symmetric A, B, each a diagonal or a matrix."""
    if A.ndim == 1 and B.ndim == 1:
        return (A * B).sum()
    if A.ndim == 1 or B.ndim == 1:
        d, M = (A, B) if A.ndim == 1 else (B, A)
        return (d * M.diagonal()).sum()
    return (A * B).sum()


def _sandwich(Q, C):
    """Q C Q."""
    if Q.ndim == 1 and C.ndim == 1:
        return Q * C * Q
    return Q @ (C if C.ndim == 2 else np.diag(C)) @ Q


# ----------------------------------------------------------------------------------------
# Blocks of one ridge task (THEORY §9.2)


class Blocks(NamedTuple):
    """THEORY §9.2 for one task, in its frame. ``G[a][b] = tr(C_a Q_c C_b Q_c)/m``,
    ``Minv = (I - W G)^{-1}``, ``om = 1 - m_self = 1/(1 + theta mu^T Q_c mu)``,
    ``ubar = Qbar mu``, ``ell`` the non-negative weights of the second-order terms."""

    covs: tuple
    delta: tuple
    theta: object
    w: tuple
    Q: object
    G: tuple
    Minv: tuple
    Qmu: object
    om: object
    m_self: object
    ubar: object
    ell: tuple

    def qbar(self, y):
        """``Qbar y = Q_c (y - c(y) mu)`` (Sherman-Morrison; Qbar is never formed)."""
        return _mv(self.Q, y) - (self.theta * self.om * _dot(self.Qmu, y)) * self.Qmu


def _blocks(covs, pis, m, mu, delta, Q, G, Minv):
    theta = sum(pi / (1.0 + d) for pi, d in zip(pis, delta))
    w = tuple(pi / (1.0 + d) ** 2 for pi, d in zip(pis, delta))
    Qmu = _mv(Q, mu)
    ta0 = theta * _dot(mu, Qmu)
    om = 1.0 / (1.0 + ta0)
    ubar = Qmu * om
    # l = (I - W G)^{-1} W r,  r_b = theta^2 ubar^T C_b ubar + (1 - m_self)^2 >= 0
    wr = [wb * (theta * theta * _quad(ubar, C, ubar) + om * om) for wb, C in zip(w, covs)]
    ell = tuple(sum(Minv[a][b] * wr[b] for b in range(len(covs))) for a in range(len(covs)))
    return Blocks(covs, delta, theta, w, Q, G, Minv, Qmu, om, ta0 * om, ubar, ell)


def shared_blocks(lam, m, g, mu, nu):
    """Blocks for one covariance, diagonal (``lam``) in the frame, from ``nu = g (1 + delta)``.

    With ``1 + delta = nu/g``: ``Q_c = (nu/g) (C + nu)^{-1}``, and
    ``1 - w G = g/nu + (nu/m) sum lam/(lam + nu)^2`` (THEORY §9.6: a sum of positive terms,
    which is ``h`` of THEORY §2 for C = I, free of the cancellation of ``(1+delta)^2 - tau``).
    """
    opd = nu / g
    q = opd / (lam + nu)
    delta = opd * (lam / (lam + nu)).sum() / m
    G = (lam * lam * q * q).sum() / m
    h = g / nu + nu * (lam / ((lam + nu) * (lam + nu))).sum() / m
    return _blocks((lam,), (1.0,), m, mu, (delta,), q, ((G,),), ((1.0 / h,),))


def nu_equation(nu, lam, m, g):
    """``F(nu) = 1 - g/nu - (1/m) sum lam/(lam + nu)`` (THEORY §9.6; numpy or JAX)."""
    return 1.0 - g / nu - (lam / (lam + nu)).sum() / m


def nu_equation_slope(nu, lam, m, g):
    """``F'(nu) = g/nu^2 + (1/m) sum lam/(lam + nu)^2`` (positive: F increases)."""
    return g / (nu * nu) + (lam / ((lam + nu) * (lam + nu))).sum() / m


def _nu_numpy(lam, m, g):
    """Root of ``F(nu) = 1 - g/nu - (1/m) sum lam/(lam + nu)`` on ``[g, g + tr C/m]``
    (F increases; THEORY §9.6): brentq, then a Newton step."""
    tr = lam.sum() / m
    if tr == 0.0:
        return g

    def F(nu):
        return nu_equation(nu, lam, m, g)

    if F(g + tr) <= 0.0:
        # F(g + tr) = (1/m) sum lam^2 / (nu (lam + nu)) > 0 is lost to rounding only when
        # lam/nu < ~1e-8; the root (within (1/m) sum lam^2/nu of g + tr) is g + tr to rounding.
        return g + tr
    nu = brentq(F, g, g + tr, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return min(max(nu - F(nu) / nu_equation_slope(nu, lam, m, g), g), g + tr)


def _resolvent(covs, pis, m, g, delta):
    """``Q_c`` and the map ``f_a = tr(C_a Q_c)/m`` at ``delta`` (numpy; a Cholesky inverse
    for dense covariances)."""
    c = [pi / (1.0 + d) for pi, d in zip(pis, delta)]
    if covs[0].ndim == 1:
        Q = 1.0 / (sum(ca * C for ca, C in zip(c, covs)) + g)
    else:
        from scipy.linalg import lapack

        S = sum(ca * C for ca, C in zip(c, covs))
        S[np.diag_indices_from(S)] += g
        L, info = lapack.dpotrf(S, lower=True)
        if info == 0:
            L, info = lapack.dpotri(L, lower=True)
        if info != 0:
            raise RuntimeError(f"the resolvent's Cholesky factorisation failed (info {info})")
        Q = np.tril(L) + np.tril(L, -1).T
    return Q, np.array([(C * Q).sum() / m for C in covs])


def _G(covs, Q, m):
    """``G_ab = tr(C_a Q_c C_b Q_c)/m``."""
    if Q.ndim == 1:
        return np.array([[(Ca * Cb * Q * Q).sum() / m for Cb in covs] for Ca in covs])
    B = [Q @ C for C in covs]
    return np.array([[(Ba * Bb.T).sum() / m for Bb in B] for Ba in B])


def _class_deltas(covs, pis, m, g):
    """Class-dependent ``delta_a = tr(C_a Q_c(delta))/m`` (THEORY §9.6; also one dense
    covariance, ``pis = (1,)``).

    The map is an interference function whose Jacobian is ``G W``: steps
    ``(I - G W) step = f(delta) - delta`` from the shared solution of the averaged covariance,
    with ``G`` recomputed only when the residual falls by less than 10x (for dense covariances
    ``G`` costs two matrix products, the step one Cholesky inverse), a plain fixed-point step
    whenever a step does not lower the residual, and a final residual check.
    """
    pis = np.asarray(pis)
    avg = sum(pi * C for pi, C in zip(pis, covs))
    lam = avg if avg.ndim == 1 else np.maximum(np.linalg.eigvalsh(avg), 0.0)
    nu = _nu_numpy(lam, m, g)
    delta = np.full(len(covs), (nu / g) * (lam / (lam + nu)).sum() / m)
    Q, f = _resolvent(covs, pis, m, g, delta)
    G, G_fresh = _G(covs, Q, m), True
    res = np.abs(f - delta).max()
    for _ in range(200):
        if res <= 4 * np.finfo(float).eps * delta.max():
            break
        w = pis / (1.0 + delta) ** 2
        new = delta + np.linalg.solve(np.eye(len(covs)) - G * w[None, :], f - delta)
        state = _resolvent(covs, pis, m, g, new) if np.all(new >= 0) else None
        if state is None or np.abs(state[1] - new).max() >= res:
            new = f  # the step did not help: one step of the (convergent) iteration
            state = _resolvent(covs, pis, m, g, new)
        if np.array_equal(new, delta):
            break
        new_res = np.abs(state[1] - new).max()
        delta, (Q, f) = new, state
        G_fresh = new_res > 0.1 * res
        if G_fresh:
            G = _G(covs, Q, m)
        res = new_res
    if res > DELTA_RTOL * max(delta.max(), np.finfo(float).tiny):
        raise RuntimeError(
            f"the class-dependent fixed point for delta did not converge (delta = {delta}, "
            f"residual {res:.3g}); this happens only at the interpolation threshold with "
            f"gamma -> 0"
        )
    if not G_fresh:
        G = _G(covs, Q, m)
    w = pis / (1.0 + delta) ** 2
    Minv = np.linalg.inv(np.eye(len(covs)) - w[:, None] * G)
    return delta, Q, G, Minv


def task_blocks(covs, m, g, mu):
    """Blocks of a task with one covariance (shared by the classes) or two (numpy), each a
    diagonal in the task's frame or a dense matrix."""
    if len(covs) == 1 and covs[0].ndim == 1:
        lam = covs[0]
        return shared_blocks(lam, m, g, mu, _nu_numpy(lam, m, g))
    pis = CLASS_WEIGHTS if len(covs) == 2 else (1.0,)
    delta, Q, G, Minv = _class_deltas(covs, pis, m, g)
    return _blocks(covs, pis, m, mu, tuple(delta), Q, tuple(map(tuple, G)),
                   tuple(map(tuple, Minv)))


# ----------------------------------------------------------------------------------------
# Source summary and target formulas (THEORY §9.3-§9.4)


def source_summary(S, N):
    """``E[w~] = theta~ Qbar~ mu_s`` and ``Sigma~ = Q~_c (sum_a l~_a Cs_a) Q~_c / N``, the
    source's mean and "covariance" in every quadratic form (THEORY §9.4)."""
    return S.theta * S.ubar, _sandwich(S.Q, sum(ell * C for ell, C in zip(S.ell, S.covs))) / N


class _Transfer(NamedTuple):
    """From the source's frame to the target's: ``x_t = rot x_s`` (None: the same frame)."""

    rot: object
    rot2: object  # rot * rot, for the diagonal of rot diag(s) rot^T

    @classmethod
    def between(cls, Ut, Us):
        if Ut is Us:
            return cls(None, None)
        if Ut is None or Us is None:
            return cls.of(Us if Ut is None else Ut.T)
        return pair_cached("overlap", Ut, Us, lambda: cls.of(Ut.T @ Us))

    @classmethod
    def of(cls, rot):
        return cls(rot, rot * rot)

    def vector(self, x):
        return x if self.rot is None else self.rot @ x

    def covariance(self, S, full):
        """``rot S rot^T``: only its diagonal unless ``full`` (a dense target needs it all)."""
        rot = self.rot
        if rot is None:
            return S
        if S.ndim == 1:
            return (rot * S) @ rot.T if full else self.rot2 @ S
        return rot @ S @ rot.T if full else ((rot @ S) * rot).sum(axis=1)


def target_coefficients(T, gamma, wbar, Sigma=None):
    """``(m0, m1, V0, V01, V11)`` of the target (blocks ``T``) with source mean ``wbar`` and
    source "covariance" ``Sigma`` (None: a fixed source), THEORY §9.3-§9.4. ``V0, V01, V11``
    are tuples over the test classes (+1, -1): ``V_y(alpha) = V0 + 2 alpha V01 + alpha^2 V11``.
    """
    K = len(T.covs)
    th, om = T.theta, T.om
    u, z = T.ubar, T.qbar(wbar)
    mz = om * _dot(T.Qmu, wbar)  # mu^T Qbar wbar
    uCu = [_quad(u, C, u) for C in T.covs]
    uCz = [_quad(u, C, z) for C in T.covs]
    zCz = [_quad(z, C, z) for C in T.covs]
    cross = [_tr(_sandwich(T.Q, C), Sigma) for C in T.covs] if Sigma is not None else None
    V0, V01, V11 = [], [], []
    for y in (0, K - 1):  # test class +1 has covariance C_0, class -1 C_{K-1}
        # e(A_y) = (I - W G)^{-1} W t(A_y), t_a(A_y) = G[a][y]; all e_c >= 0
        e = [sum(T.Minv[c][b] * T.w[b] * T.G[b][y] for b in range(K)) for c in range(K)]
        V0.append(th * th * uCu[y] + sum(T.ell[a] * T.G[a][y] for a in range(K)))
        V01.append(gamma * (th * uCz[y] + sum(e[c] * (th * uCz[c] - om * mz) for c in range(K))))
        v11 = zCz[y] + sum(e[c] * (zCz[c] + mz * mz) for c in range(K))
        if cross is not None:
            v11 = v11 + cross[y] + sum(e[c] * cross[c] for c in range(K))
        V11.append(gamma * gamma * v11)
    return T.m_self, gamma * mz, tuple(V0), tuple(V01), tuple(V11)


def infinity_coefficients(covs, n, mu, wbar, Sigma=None):
    """The limit gamma -> infinity (THEORY §12.4): ``gamma w_alpha -> X y/n + c w~`` with
    ``c = alpha gamma``, whose class-y signed score has mean ``M + c s`` and variance
    ``a_y + 2 c b_y + c^2 e_y``: ``M = ||mu_t||^2``, ``s = mu_t^T wbar``,
    ``a_y = mu_t^T Ct_y mu_t + sum_a pi_a tr(Ct_y Ct_a)/n``, ``b_y = mu_t^T Ct_y wbar``,
    ``e_y = wbar^T Ct_y wbar + tr(Ct_y Sigma~)``. Returned as ``(m0, m1) + V0 + V01 + V11`` of
    :func:`target_coefficients`, with ``c`` in the place of alpha."""
    K = len(covs)
    pis = CLASS_WEIGHTS if K == 2 else (1.0,)
    V0, V01, V11 = [], [], []
    for y in (0, K - 1):
        C = covs[y]
        V0.append(_quad(mu, C, mu) + sum(pi * _tr(C, Ca) for pi, Ca in zip(pis, covs)) / n)
        V01.append(_quad(mu, C, wbar))
        e = _quad(wbar, C, wbar)
        V11.append(e if Sigma is None else e + _tr(C, Sigma))
    return ((mu * mu).sum(), (mu * wbar).sum()) + tuple(V0) + tuple(V01) + tuple(V11)


# ----------------------------------------------------------------------------------------
# Coefficients of a task


class ScoreCoefficients(NamedTuple):
    r"""Leading-order score statistics of a general task (THEORY §9.3-§9.4).

    ``m0, m1`` have the broadcast shape ``S`` of the scalar task parameters; ``V0, V01, V11``
    have shape ``S + (2,)``, the last axis the test class (index 0: y = +1, index 1: y = -1;
    equal for a shared target covariance). With ``w0 = Q X y / n`` and ``v = gamma Q w~``
    (``w_alpha = w0 + alpha v``) they are the expectations of ``w0^T mu_t``, ``v^T mu_t``,
    ``w0^T Ct_y w0``, ``w0^T Ct_y v``, ``v^T Ct_y v``; the class-y signed score ``y w_alpha^T x``
    has mean ``m0 + alpha m1`` and variance ``V0 + 2 alpha V01 + alpha^2 V11``.
    """

    m0: object
    m1: object
    V0: object
    V01: object
    V11: object


def _coefficients(g: GeneralTask, xp, at_infinity=False):
    """Numpy (every path) or, when JAX traces task arguments, JAX (THEORY §9.7: one
    covariance per task, each diagonal in its frame; the frames from concrete covariances)."""
    covs = tuple(c.array for c in g.target_cov + (g.source_cov or ()))
    if xp is np:
        with _blas_threads(g.p, covs):
            return _coefficients_in(g, np, _nu_numpy, at_infinity)
    if any(np.ndim(c) == 2 and concrete(c) is None for c in covs):
        raise TypeError(_NUMPY_ONLY + "; a covariance traced by JAX must be a (p,) diagonal")
    from ._general_jax import nu_root

    return _coefficients_in(g, xp, nu_root, at_infinity)


_NUMPY_ONLY = (
    "with the general keyword sets, JAX can trace the task arguments only for shared "
    "covariances (no (C_plus, C_minus) pairs): THEORY §9.7"
)


def _coefficients_in(g, xp, solve, at_infinity=False):
    as_x = lambda x: asarray(xp, x)  # noqa: E731
    ridge = g.source_cov is not None
    frames = layout(g.target_cov, g.source_cov) if ridge else layout(g.target_cov)
    if xp is not np and any(len(f.covs) > 1 for f in frames):
        raise TypeError(_NUMPY_ONLY)
    Ft = frames[0]
    rot = lambda U, x: as_x(x) if U is None else as_x(U).T @ as_x(x)  # noqa: E731
    mu_t = rot(Ft.U, g.target_mean)
    if ridge:
        Fs = frames[1]
        mu_s = rot(Fs.U, g.source_mean)
        transfer = _Transfer.between(Ft.U, Fs.U)
        if xp is not np and transfer.rot is not None:
            transfer = _Transfer(as_x(transfer.rot), as_x(transfer.rot2))
    else:
        w = rot(Ft.U, g.source)

    def blocks(covs, m, gam, mu):
        if len(covs) == 1 and covs[0].ndim == 1:
            lam = as_x(covs[0])
            return shared_blocks(lam, m, gam, mu, solve(lam, m, gam))
        return task_blocks(covs, m, gam, mu)

    def core(n, gamma, N, gamma_src):
        T = None if at_infinity else blocks(Ft.covs, n, gamma, mu_t)
        if ridge:
            wbar, Sigma = source_summary(blocks(Fs.covs, N, gamma_src, mu_s), N)
            wbar, Sigma = transfer.vector(wbar), transfer.covariance(Sigma, Ft.dense)
        else:
            wbar, Sigma = w, None
        if at_infinity:
            return infinity_coefficients(Ft.covs, n, mu_t, wbar, Sigma)
        m0, m1, V0, V01, V11 = target_coefficients(T, gamma, wbar, Sigma)
        return (m0, m1) + V0 + V01 + V11

    args = [as_x(g.n), as_x(g.gamma)]
    args += [as_x(g.N), as_x(g.gamma_src)] if ridge else [as_x(1.0), as_x(1.0)]
    if xp is np:
        out = np.vectorize(core, otypes=[np.float64] * 8)(*args)
    else:
        out = xp.vectorize(core)(*args)
    pair = lambda i: xp.stack([out[i], out[i + 1]], axis=-1)  # noqa: E731
    return ScoreCoefficients(out[0], out[1], pair(2), pair(4), pair(6))


def coefficients(task, at_infinity=False):
    """:class:`ScoreCoefficients` of a resolved general task, in the task's namespace: numpy
    unless JAX traces a task argument (then the JAX path of THEORY §9.7). ``at_infinity``:
    those of the limit gamma -> infinity (:func:`infinity_coefficients`; ``gamma`` unused)."""
    g = task.general
    if g.traced:
        return _coefficients(g, task.xp, at_infinity)
    c = _coefficients(g, np, at_infinity)
    if task.xp is np:
        return c
    return ScoreCoefficients(*(task.xp.asarray(x) for x in c))


def score_coefficients(n, p, **task_kwargs):
    """The five score statistics of THEORY §9.3 for any keyword set, per test class.

    Private, for the Monte Carlo checks: ``score_coefficients(n, p, **task)`` returns a
    :class:`ScoreCoefficients` ``(m0, m1, V0, V01, V11)``, numpy float64 (JAX arrays for
    JAX input). ``m0, m1``: shape ``S`` (the broadcast shape of the scalar task parameters);
    ``V0, V01, V11``: shape ``S + (2,)``, ``[..., 0]`` for the test class y = +1 and
    ``[..., 1]`` for y = -1. These are the expectations of the per-trial statistics
    ``w0^T mu_t, v^T mu_t, w0^T Ct_y w0, w0^T Ct_y v, v^T Ct_y v`` (``w0 = Q X y/n``,
    ``v = gamma Q w~``). For the isotropic keyword sets (``Ct = I``) the two classes agree and
    ``V0 = T1 - m0^2``, ``2 V01 = T2 - 2 m0 m1``, ``V11 = T3 - m1^2`` (THEORY §3).
    """
    from ._task import resolve

    task = resolve(n, p, task_kwargs)
    if task.general is not None:
        c = coefficients(task)
        return ScoreCoefficients(*(finish(task.xp, x) for x in c))
    from .blocks import _variance_coefficients

    xp = task.xp
    c = _variance_coefficients(xp, task.eta, task.gamma, task.M, task.s, task.r, task.G)
    m0, m1 = xp.broadcast_arrays(c.m0, c.m1)
    pair = lambda x: xp.stack(xp.broadcast_arrays(x, x, m0)[:2], axis=-1)  # noqa: E731
    return ScoreCoefficients(finish(xp, m0), finish(xp, m1), finish(xp, pair(c.v0)),
                             finish(xp, pair(0.5 * c.v1)), finish(xp, pair(c.v2)))


# ----------------------------------------------------------------------------------------
# The theory functions on a general task (called by rmt_alpha._theory)


def moments(alpha, task):
    """``m(alpha)`` and ``(V_+(alpha), V_-(alpha))`` (THEORY §9.3)."""
    xp = task.xp
    c = coefficients(task)
    a = asarray(xp, alpha)
    m = c.m0 + a * c.m1
    V = tuple(c.V0[..., y] + a * (2.0 * c.V01[..., y] + a * c.V11[..., y]) for y in (0, 1))
    return m, V


def accuracy(alpha, task, error=False):
    """``sum_y pi_y Phi(+-m / sqrt(V_y))`` (THEORY §9.3); the error with ``error=True``."""
    m, V = moments(alpha, task)
    sign = -1.0 if error else 1.0
    return finish(task.xp, sum(pi * task.ndtr(sign * m / task.xp.sqrt(Vy))
                               for pi, Vy in zip(CLASS_WEIGHTS, V)))


def risk(alpha, task):
    """``sum_y pi_y E(1 - y w^T x)^2 = sum_y pi_y V_y + (1 - m)^2``."""
    m, V = moments(alpha, task)
    return finish(task.xp, sum(pi * Vy for pi, Vy in zip(CLASS_WEIGHTS, V)) + (1.0 - m) ** 2)


def score_moments(alpha, task, test_class):
    """Mean and second moment ``(m, V_y + m^2)`` of the class-``test_class`` signed score."""
    if test_class not in (1, -1):
        raise ValueError(f"test_class must be +1 or -1, got {test_class!r}")
    m, V = moments(alpha, task)
    Vy = V[0] if test_class == 1 else V[1]
    return finish(task.xp, m), finish(task.xp, Vy + m * m)


def chance_alpha(task):
    """``-m0/m1`` (nan where ``m1 = 0``), THEORY §9.5."""
    xp = task.xp
    c = coefficients(task)
    zero = c.m1 == 0
    return finish(xp, xp.where(zero, xp.nan, -c.m0 / xp.where(zero, 1.0, c.m1)))


def _stationary(xp, m0, m1, V0, V01, V11):
    """The maximiser of ``m/sqrt(V)`` (THEORY §9.5): ``d/dalpha (m/sqrt V)`` has the sign of
    ``N - alpha D``, ``N = m1 V0 - m0 V01``, ``D = m0 V11 - m1 V01``. ``D > 0``: ``N/D``;
    ``D < 0`` (a minimum): ``sign(m1) inf``; ``D = 0``: ``sign(N) inf`` (0 if also N = 0)."""
    N = m1 * V0 - m0 * V01
    D = m0 * V11 - m1 * V01
    inf = xp.where(D < 0, xp.sign(m1), xp.sign(N))
    inf = xp.where(inf == 0, 0.0, inf * xp.inf)
    return xp.where(D > 0, N / xp.where(D > 0, D, 1.0), inf)


def optimal_alpha(task):
    """The accuracy-maximising alpha (THEORY §9.5): the closed form for a shared target
    covariance; for class-dependent ones the numerical maximiser on
    ``[min alpha*_y, max alpha*_y]`` (numpy)."""
    return argmax(task, coefficients(task))


def argmax(task, c):
    """The maximiser over alpha of the accuracy with score coefficients ``c``
    (:func:`optimal_alpha`; also the best weight of the source in the limit gamma -> infinity,
    THEORY §12)."""
    xp = task.xp
    if len(task.general.target_cov) == 1:
        return finish(xp, _stationary(xp, c.m0, c.m1, c.V0[..., 0], c.V01[..., 0],
                                      c.V11[..., 0]))
    c = ScoreCoefficients(*(np.asarray(x) for x in c))
    out = np.empty(c.m0.shape)
    for i in np.ndindex(c.m0.shape):
        out[i] = _two_class_argmax(c.m0[i], c.m1[i], c.V0[i], c.V01[i], c.V11[i])
    return finish(xp, xp.asarray(out))


def _two_class_argmax(m0, m1, V0, V01, V11):
    """Maximiser of ``(Phi(m_+/sqrt V_+) + Phi(m_-/sqrt V_-))/2`` (THEORY §9.5), by the sign
    changes of its derivative on a grid and brentq; ``+-inf`` when a limit is the supremum.
    ``m0, m1``: one mean for both classes, or one per class (the centred target, THEORY §11.4)."""
    from scipy.special import ndtr

    m0, m1 = (np.broadcast_to(np.asarray(x, dtype=np.float64), (2,)) for x in (m0, m1))

    def parts(a):
        out = []
        for y in (0, 1):
            m = m0[y] + a * m1[y]
            V = V0[y] + a * (2.0 * V01[y] + a * V11[y])
            N, D = m1[y] * V0[y] - m0[y] * V01[y], m0[y] * V11[y] - m1[y] * V01[y]
            out.append((m / np.sqrt(V), (N - a * D) / V ** 1.5))
        return out

    def error(a):
        return sum(0.5 * ndtr(-f) for f, _ in parts(a))

    def slope(a):  # d accuracy / d alpha times a positive factor (no underflow)
        (f1, d1), (f2, d2) = parts(a)
        low = np.minimum(f1 * f1, f2 * f2)
        return np.exp(-0.5 * (f1 * f1 - low)) * d1 + np.exp(-0.5 * (f2 * f2 - low)) * d2

    stars = [float(_stationary(np, m0[y], m1[y], V0[y], V01[y], V11[y])) for y in (0, 1)]
    D = [m0[y] * V11[y] - m1[y] * V01[y] for y in (0, 1)]
    if min(D) > 0:  # both class accuracies unimodal: the maximiser lies between their peaks
        lo, hi = min(stars), max(stars)
        if hi == lo:
            return lo
        grid = np.linspace(lo, hi, 129)
        limits = []
    else:
        finite = [s for s in stars if np.isfinite(s)]
        scale = max([1.0] + [abs(s) for s in finite])
        logs = scale * np.logspace(-8, 8, 321)
        grid = np.unique(np.concatenate(
            [-logs, [0.0], logs, np.linspace(min(finite), max(finite), 65) if finite else []]))
        limits = [(sum(0.5 * ndtr(-sg * m1[y] / np.sqrt(V11[y])) for y in (0, 1)), sg * np.inf)
                  for sg in (1.0, -1.0)]
    s = slope(grid)
    cands = [grid[0]] if s[0] <= 0 else []
    cands += [grid[-1]] if s[-1] >= 0 else []
    for i in np.flatnonzero((s[:-1] > 0) & (s[1:] <= 0)):
        cands.append(grid[i + 1] if s[i + 1] == 0 else
                     brentq(slope, grid[i], grid[i + 1], xtol=1e-300, rtol=4 * np.finfo(float).eps))
    best = min(cands, key=error)
    best_err = error(best)
    for err_inf, a_inf in limits:
        if err_inf <= best_err:
            best, best_err = a_inf, err_inf
    return float(best)
