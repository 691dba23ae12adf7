r"""Noise-covariance models of :func:`rmt_alpha.estimate_task` (THEORY §11.1-§11.3): from a
source dataset, ``n`` labelled target points and, optionally, unlabelled target points to the
general keyword sets of THEORY §9.

Everything lives in estimate_task's transformed coordinates (centred, constant features
dropped, standardized, optionally whitened): source rows ``Z`` with labels ``y`` (``N_a``
points of class ``a``), labelled target rows ``Zt, yt`` (``n_a``), unlabelled target rows
``Zu`` (``m``). Every covariance estimate is a sample covariance ``S = R^T R / dof`` of
residuals ``R`` shrunk towards ``(tr S / p) I``: ``(1 - s) S + s (tr S / p) I`` with the
Ledoit-Wolf weight ``s`` (or the user's ``shrinkage``); shrinkage keeps the trace.

Means (both tasks alike). ``a`` (``b``) is half the class-mean difference of the source
(labelled target): ``E a = mu_s``, ``Cov a = sum_a Cs_a / (4 N_a)``, so
``E ||a||^2 = ||mu_s||^2 + tau_s`` with ``tau_s = sum_a tr(Cs_a) / (4 N_a)``. The vector passed
to the theory is ``a`` rescaled to the unbiased squared norm,
``mu_s_hat = a sqrt(max(||a||^2 - tau_s_hat, 0) / ||a||^2)``, with ``tau_s_hat`` from the
sample traces (unbiased); the same for ``mu_t_hat`` from ``b``.

Covariances (``covariance=``):

* ``"pooled"``: ``Cs`` from the pooled within-class residuals (``N - 2`` degrees of freedom);
* ``"class"``: ``(Cs_+, Cs_-)`` from each class's residuals (``N_a - 1``).

The target covariance (``target_covariance=``):

* ``"source"`` (the default without unlabelled data): ``n << p`` labelled points cannot
  estimate a ``p x p`` matrix, but they estimate its level well. ``Ct = rho_hat Cs_pool``,
  ``rho_hat = tr(St) / tr(Cs_pool)``, with ``St`` the within-class covariance of the labelled
  points (``n - 2`` degrees of freedom) and ``Cs_pool`` the pooled source covariance;
  ``"class"``: ``Ct_a = rho_hat_a Cs_pool``, ``rho_hat_a`` from class a's ``n_a - 1``;
* ``"labelled"``: the within-class covariance(s) of the labelled points themselves, shrunk
  (for ``n`` not much smaller than ``p``, e.g. a whole labelled target pool);
* ``"unlabelled"`` (the default when ``X_target_unlabelled`` is given): a class-blind sample
  has the covariance ``T = Ct_bar + mu_t mu_t^T`` about its mean (balanced classes,
  ``Ct_bar`` the class average), so ``Ct = T_hat - mu_t_hat mu_t_hat^T`` with ``T_hat`` shrunk
  (``m - 1`` degrees of freedom) and ``mu_t_hat`` the labelled estimate above: the model's
  total second moment ``Ct + mu_t_hat mu_t_hat^T`` is then the observed one. Removing a
  rank-one term can leave one negative eigenvalue (when ``||mu_t_hat||^2`` exceeds the
  unlabelled variance along ``mu_t_hat``); it is set to 0 and reported
  (``diagnostics["target_cov_clipped"]``, the removed fraction of the trace).
  ``"class"``: ``Ct_a = s_a Ct``, ``s_a = tr(St_a) / mean_b tr(St_b)`` (the class levels from
  the labelled points).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from . import _validate as v

COVARIANCES = ("isotropic", "pooled", "class")
TARGET_COVARIANCES = ("source", "labelled", "unlabelled")


def ledoit_wolf(R, gram=None):
    """Ledoit-Wolf shrinkage intensity for the covariance of the rows of ``R`` (centred):
    ``min(b^2, d^2) / d^2`` with ``S = R^T R / m`` (``m`` rows), ``d^2 = ||S - (tr S/p) I||_F^2``
    and ``b^2 = sum_k ||r_k r_k^T - S||_F^2 / m^2`` (Ledoit and Wolf 2004; the same number as
    ``sklearn.covariance.ledoit_wolf(R, assume_centered=True)``). ``gram``: ``R^T R`` if the
    caller has it."""
    m = R.shape[0]
    p = R.shape[1]
    S = (R.T @ R if gram is None else gram) / m
    mu = np.trace(S) / p
    d2 = np.sum((S - mu * np.eye(p)) ** 2)
    # (1/m^2) sum_k ||r_k r_k^T - S||_F^2
    #   = (1/m^2) (sum_k ||r_k||^4 - 2 sum_k r_k^T S r_k + m ||S||_F^2)
    rn2 = np.sum(R * R, axis=1)
    b2 = (np.sum(rn2**2) - 2.0 * np.sum((R @ S) * R) + m * np.sum(S * S)) / m**2
    if d2 <= 0:
        return 1.0
    return float(min(max(b2, 0.0), d2) / d2)


def shrunk_covariance(R, dof, shrinkage=None):
    """``((1 - s) S + s (tr S / p) I, s)`` with ``S = R^T R / dof`` and ``s`` the Ledoit-Wolf
    weight (``shrinkage=None``) or the given one."""
    gram = R.T @ R
    S = gram / dof
    s = ledoit_wolf(R, gram) if shrinkage is None else float(shrinkage)
    C = (1.0 - s) * S
    C[np.diag_indices_from(C)] += s * np.trace(S) / S.shape[0]
    return C, s


def effective_dimension(C):
    """``(tr C)^2 / tr(C^2)`` (``p`` for a multiple of the identity)."""
    t2 = float(np.sum(C * C))
    return float(np.trace(C) ** 2 / t2) if t2 > 0 else float("nan")


def _class_rows(y):
    return (y > 0, y < 0)


def _residuals(Z, rows):
    R = Z[rows]
    return R - R.mean(axis=0)


def debiased_mean(h, tau):
    """``h`` rescaled to the squared norm ``max(||h||^2 - tau, 0)`` (see the module docstring)."""
    h2 = float(h @ h)
    return h * np.sqrt(max(h2 - tau, 0.0) / h2) if h2 > 0 else h.copy()


@dataclasses.dataclass(frozen=True, eq=False)
class CovarianceModel:
    """The general-covariance estimate of a task (THEORY §11): the mean vectors and covariances
    that :attr:`rmt_alpha.TaskEstimate.params` passes to the theory, and how they are built
    from the sufficient statistics that the delta method of
    :meth:`rmt_alpha.TaskEstimate.optimal_alpha_se` varies: the half mean differences ``a, b``
    (covariances ``cov_a, cov_b`` = ``sum_a C_a / (4 m_a)``, estimated) and the labelled
    target's noise traces ``traces`` (one per class, or one pooled; variances
    ``trace_var = 2 tr(C^2) / dof``). :meth:`at` rebuilds the task from them."""

    kind: str
    target_from: str
    source_mean: np.ndarray
    target_mean: np.ndarray
    source_cov: object
    target_cov: object
    diagnostics: dict
    a: np.ndarray
    b: np.ndarray
    traces: np.ndarray
    cov_a: np.ndarray
    cov_b: np.ndarray
    trace_var: np.ndarray
    tau_s: float
    inv_counts: np.ndarray  # 1 / n_a of the labelled target classes
    base: object  # "source": (Cs_pool, tr Cs_pool); "unlabelled": the rows' covariance

    def tau_t(self, traces):
        """``E||b||^2 - ||mu_t||^2 = sum_a tr(Ct_a) / (4 n_a)`` from the noise traces."""
        return float(np.sum(traces * self.inv_counts) if traces.size == 2
                     else traces[0] * np.sum(self.inv_counts)) / 4

    def at(self, a, b, traces, *, with_clipped=False):
        """``(source_mean, target_mean, target_cov)`` from ``a``, ``b`` and the target's noise
        traces (the module docstring's formulas); ``with_clipped``: also the amount
        :func:`_unlabelled_target` removed (``target_from="unlabelled"`` only)."""
        mu_t = debiased_mean(b, self.tau_t(traces))
        mu_s = debiased_mean(a, self.tau_s)
        levels = None if traces.size == 1 else traces
        if self.target_from == "source":
            Cs_pool, tr_pool = self.base
            ts = (traces[0],) if levels is None else levels
            target_cov = tuple((t / tr_pool) * Cs_pool for t in ts)
            return mu_s, mu_t, target_cov[0] if levels is None else target_cov
        if self.target_from == "unlabelled":
            target_cov, clipped = _unlabelled_target(self.base, mu_t, levels)
            return (mu_s, mu_t, target_cov) + ((clipped,) if with_clipped else ())
        return mu_s, mu_t, self.target_cov


def _unlabelled_target(T, mu_t, traces):
    """``(Ct, clipped)``: ``T - mu_t mu_t^T`` with its negative eigenvalue set to 0 (and the
    removed amount); for two classes ``(s_+ Ct, s_- Ct)``, ``s_a = traces_a / mean(traces)``."""
    lam, U = np.linalg.eigh(T - np.outer(mu_t, mu_t))
    Ct = (U * np.maximum(lam, 0.0)) @ U.T
    Ct = 0.5 * (Ct + Ct.T)
    clipped = -float(lam[lam < 0].sum())
    if traces is None:
        return Ct, clipped
    return tuple((t / np.mean(traces)) * Ct for t in traces), clipped


def estimate(kind, target_from, Z, y, Zt, yt, Zu=None, shrinkage=None) -> CovarianceModel:
    """:class:`CovarianceModel` of ``kind`` ("pooled" or "class") with the target covariance
    ``target_from`` ("source", "labelled" or "unlabelled"; see the module docstring)."""
    p = Z.shape[1]
    shrink = {}

    def cov(name, R, dof):
        C, s = shrunk_covariance(R, dof, shrinkage)
        shrink[name] = s
        return C

    def split(Zx, yx):
        rows = _class_rows(yx)
        counts = np.array([r.sum() for r in rows], dtype=float)
        Rs = [_residuals(Zx, r) for r in rows]
        half = 0.5 * (Zx[rows[0]].mean(axis=0) - Zx[rows[1]].mean(axis=0))
        traces = np.array([np.sum(R * R) / (c - 1.0) for R, c in zip(Rs, counts)])
        return half, counts, Rs, traces

    a, Ns, Rs, trs = split(Z, y)
    b, ns, Rt, trt = split(Zt, yt)
    Rs_pool = np.vstack(Rs)
    tr_pool = float(np.sum(Rs_pool * Rs_pool)) / (Rs_pool.shape[0] - 2)
    if kind == "pooled" or target_from == "source":
        Cs_pool = cov("source", Rs_pool, Rs_pool.shape[0] - 2)
    if kind == "pooled":
        source_cov = Cs_pool
        tau_s = tr_pool * np.sum(1.0 / Ns) / 4
        n = Zt.shape[0]
        traces = np.array([float(sum(np.sum(R * R) for R in Rt)) / (n - 2)])
        dofs = np.array([n - 2.0])
    else:
        source_cov = (cov("source[0]", Rs[0], Ns[0] - 1), cov("source[1]", Rs[1], Ns[1] - 1))
        tau_s = float(np.sum(trs / Ns)) / 4
        traces, dofs = trt, ns - 1.0

    diag = {}
    base, target_cov = None, None
    if target_from == "source":
        base = (Cs_pool, tr_pool)
    elif target_from == "labelled":
        if kind == "pooled":
            target_cov = cov("target", np.vstack(Rt), Zt.shape[0] - 2)
        else:
            target_cov = (cov("target[0]", Rt[0], ns[0] - 1), cov("target[1]", Rt[1], ns[1] - 1))
    else:
        base = cov("target_unlabelled", Zu - Zu.mean(axis=0), Zu.shape[0] - 1)
    model = CovarianceModel(kind, target_from, None, None, source_cov, target_cov, diag,
                            a, b, traces, None, None, None, float(tau_s), 1.0 / ns, base)
    if target_from == "unlabelled":
        mu_s, mu_t, target_cov, clipped = model.at(a, b, traces, with_clipped=True)
        diag["target_cov_clipped"] = clipped / max(float(np.trace(base)), np.finfo(float).tiny)
    else:
        mu_s, mu_t, target_cov = model.at(a, b, traces)

    covs_t = target_cov if isinstance(target_cov, tuple) else (target_cov,)
    covs_s = source_cov if isinstance(source_cov, tuple) else (source_cov,)
    per_class = lambda covs: covs if len(covs) == 2 else covs * 2  # noqa: E731
    cov_a = sum(C / (4 * c) for C, c in zip(per_class(covs_s), Ns))
    cov_b = sum(C / (4 * c) for C, c in zip(per_class(covs_t), ns))
    trace_var = np.array([2.0 * np.sum(C * C) for C in covs_t]) / dofs
    diag.update(
        covariance=kind,
        target_covariance=target_from,
        covariance_shrinkage=shrink,
        effective_dimension_source_cov=[effective_dimension(C) for C in covs_s],
        effective_dimension_target_cov=[effective_dimension(C) for C in covs_t],
        target_source_trace_ratio=float(np.trace(sum(covs_t)) / len(covs_t)
                                        / (np.trace(sum(covs_s)) / len(covs_s))),
        source_mean_norm=float(np.linalg.norm(mu_s)),
        target_mean_norm=float(np.linalg.norm(mu_t)),
        unlabelled_rows=None if Zu is None else int(Zu.shape[0]),
    )
    if p == 1:  # nothing to shrink towards: report it as unshrunk
        diag["covariance_shrinkage"] = {k: 0.0 for k in shrink}
    return dataclasses.replace(model, source_mean=mu_s, target_mean=mu_t, target_cov=target_cov,
                               cov_a=cov_a, cov_b=cov_b, trace_var=trace_var)


def delta_method_se(f, model):
    """The delta-method standard error of ``f(*model.at(a, b, traces))`` from the sampling
    noise of its statistics: ``sqrt(sum_k (df along sqrt(lambda_k) u_k)^2)`` over the
    eigenvectors ``u_k`` of ``cov_a`` and ``cov_b``, plus the traces' terms (when the target
    covariance is built from them, ``target_from`` "source" or "unlabelled"). The sample
    covariances themselves are held fixed, so with ``target_from="labelled"`` (``Ct`` from the
    same ``n`` points) this is a lower bound. Central differences with steps of ``1e-4``
    standard deviations: ``4 p`` (+ 4) evaluations of ``f``."""
    base = (model.a, model.b, model.traces)
    directions = []
    for i in (0, 1):
        lam, U = np.linalg.eigh(model.cov_a if i == 0 else model.cov_b)
        directions += [(i, np.sqrt(lk) * uk) for lk, uk in zip(lam, U.T) if lk > 1e-12 * lam[-1]]
    if model.target_from != "labelled":
        for k, var in enumerate(model.trace_var):
            directions.append((2, np.sqrt(var) * (np.arange(model.traces.size) == k)))
    total = 0.0
    for i, sd in directions:
        vals = []
        for sign in (1.0, -1.0):
            args = list(base)
            args[i] = base[i] + sign * 1e-4 * sd
            vals.append(f(*model.at(*args)))
        d = (vals[0] - vals[1]) / 2e-4  # the derivative along one standard deviation
        total += d * d
    return float(np.sqrt(total)) if np.isfinite(total) else float("nan")


def source_accuracy(p, *, N, source_mean, source_cov, target_mean, target_cov, gamma_src):
    """Target accuracy of the ridge source classifier used as is, general covariances
    (THEORY §9.4): ``sum_y pi_y Phi(wbar^T mu_t / sqrt(wbar^T Ct_y wbar + tr(Ct_y Sigma~)))``
    with the source's mean ``wbar`` and "covariance" ``Sigma~``."""
    from scipy.special import ndtr

    from . import _general
    from ._covariance import layout, parse

    v.positive_int("N", N)
    v.positive("gamma_src", gamma_src)
    v.vector("source_mean", source_mean, p)
    v.vector("target_mean", target_mean, p)
    (frame,) = layout(parse("source_cov", source_cov, p))
    U = frame.U
    mu_s = np.asarray(source_mean, dtype=np.float64)
    S = _general.task_blocks(frame.covs, N, float(gamma_src), mu_s if U is None else U.T @ mu_s)
    wbar, Sigma = _general.source_summary(S, N)
    if U is not None:
        wbar = U @ wbar
        Sigma = (U * Sigma) @ U.T if Sigma.ndim == 1 else U @ Sigma @ U.T
    m = float(wbar @ np.asarray(target_mean, dtype=np.float64))
    covs = [c.array for c in parse("target_cov", target_cov, p)]
    V = [_general._quad(wbar, C, wbar) + _general._tr(C, Sigma) for C in covs]
    return float(np.mean([ndtr(m / np.sqrt(x)) for x in V]))
