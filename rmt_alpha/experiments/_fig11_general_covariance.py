"""Figure 11: test accuracy against alpha under anisotropic noise (THEORY §9), against the
isotropic theory with the same noise levels."""

from __future__ import annotations

import time

import numpy as np

from .. import _general, _theory
from ._common import bar, close, grid, grid_params, scalar, simulator, tick, versions
from ._figure import Figure
from ._record import FigureData
from ._validation import accuracy_rows, alpha_star_check, check

PANELS = ("power law", "spiked", "Cs != Ct", "class-dependent", "orthogonal source")
TITLES = {"power law": "power-law spectrum", "spiked": "spiked",
          "Cs != Ct": r"$C_s \neq C_t$, non-commuting",
          "class-dependent": r"class-dependent $C_\pm$",
          "orthogonal source": r"orthogonal fixed source ($\tilde w^\top\mu_t = m_1 = 0$)"}

DESCRIPTIONS = {
    "power law": "Cs = Ct = diag(lambda), lambda_k ∝ (k/p + 0.1)^-1 (mean 1)",
    "spiked": "Cs = Ct = I + 5 v v^T, v = 0.6 e1 + 0.8 e2",
    "Cs != Ct": "Cs = diag(lambda), Ct = R diag(lambda) R^T (R a fixed Haar rotation): "
                "non-commuting",
    "class-dependent": "Cs+- = (diag(lambda), I + 5 v v^T), Ct+- = (R diag(lambda) R^T, "
                       "diag((1 + lambda)/2))",
    "orthogonal source": "fixed source with w~^T mu_t = 0 and m1 = 0 (THEORY §9.5, "
                         "orthogonal_source), Ct = R diag(l) R^T, l in (0.1, 1, 10) on thirds "
                         "of the dimensions (normalised to mean 1)",
}


def _profiles(p):
    """Two smooth orthonormal profiles ``e1, e2`` in the coordinate basis, so that the means
    lie partly along high- and partly along low-variance directions of the diagonal
    covariances (THEORY_GENERAL §9's construction)."""
    t = np.linspace(0.0, 1.0, p)
    e1 = np.cos(np.pi * t)
    e1 /= np.linalg.norm(e1)
    e2 = np.sin(2.0 * np.pi * t)
    e2 -= (e2 @ e1) * e1
    return e1, e2 / np.linalg.norm(e2)


def _power_law(p, cut):
    lam = (np.arange(1, p + 1) / p + cut) ** -1.0
    return lam / lam.mean()


def orthogonal_source(n, target_mean, target_cov, gamma):
    """A fixed source vector that is orthogonal to the target mean in both senses that matter
    -- ``w~^T mu_t = 0`` and ``m1 = gamma mu_t^T Qbar w~ = 0`` (the score mean does not depend on
    alpha, THEORY §9.5) -- and that carries the noise geometry: ``w~ = Qbar^{-1} z``, with ``z``
    the change of direction from ``Qbar mu_t`` to the whitened direction ``Ct^{-1} mu_t`` (same
    score mean), projected orthogonally to ``mu_t`` and ``Qbar^{-1} mu_t``. Built in the
    eigenbasis of the dense ``target_cov`` with the target's blocks (THEORY §9.2)."""
    lam, U = np.linalg.eigh(target_cov)
    mu = U.T @ target_mean
    T = _general.task_blocks((lam,), n, gamma, mu)
    u = T.qbar(mu)
    ideal = mu / lam
    z = (mu @ u) / (mu @ ideal) * ideal - u

    def qbar_inverse(y):  # Qbar^{-1} = Q_c^{-1} + theta mu mu^T
        return y / T.Q + T.theta * mu * (mu @ y)

    B, _ = np.linalg.qr(np.column_stack([mu, qbar_inverse(mu)]))
    z -= B @ (B.T @ z)
    return U @ qbar_inverse(z)


def panels(p, *, seed=11):
    """The five tasks of figure 11 at dimension ``p``: ``{name: dict(n, keyword set)}``
    (deterministic given ``p`` and ``seed``; THEORY_GENERAL §9's kinds of covariances)."""
    e1, e2 = _profiles(p)
    lam = _power_law(p, 0.1)
    R, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))
    rotated = (R * lam) @ R.T
    v = 0.6 * e1 + 0.8 * e2
    spiked = np.eye(p) + 5.0 * np.outer(v, v)
    mu, mu_orth, beta = 1.5, 1.2, 0.6
    means = dict(source_mean=mu * e1,
                 target_mean=beta * mu * e1 + np.sqrt(1.0 - beta**2) * mu_orth * e2)
    ridge = dict(N=10 * p, gamma=1.0, gamma_src=1.0, **means)
    n = p // 2
    out = {
        "power law": dict(n=n, source_cov=lam, target_cov=lam, **ridge),
        "spiked": dict(n=n, source_cov=spiked, target_cov=spiked, **ridge),
        "Cs != Ct": dict(n=n, source_cov=lam, target_cov=rotated, **ridge),
        "class-dependent": dict(n=n, source_cov=(lam, spiked),
                                target_cov=(rotated, 0.5 * (1.0 + lam)), **ridge),
    }
    levels = np.repeat((0.1, 1.0, 10.0), (p // 3, p // 3, p - 2 * (p // 3)))
    three = (R * (levels / levels.mean())) @ R.T
    n_orth, gamma_orth, mu_t = 2 * p, 0.3, e1.copy()
    out["orthogonal source"] = dict(
        n=n_orth, gamma=gamma_orth, target_mean=mu_t, target_cov=three,
        source=orthogonal_source(n_orth, mu_t, three, gamma_orth))
    return out


def _map_covariances(task, f):
    """``task`` with ``f`` applied to each covariance (both of a class-dependent pair)."""

    def each(C):
        return tuple(each(c) for c in C) if isinstance(C, tuple) else f(np.asarray(C))

    return {k: (each(val) if k.endswith("_cov") else val) for k, val in task.items()}


def isotropic(task):
    """The same task with every covariance replaced by ``(tr C / p) I`` (as a (p,) diagonal):
    the isotropic theory with the same noise levels (THEORY §9.1, C = sigma^2 I)."""
    return _map_covariances(task, lambda C: np.full(C.shape[0], np.trace(C) / C.shape[0]
                                                    if C.ndim == 2 else C.mean()))


ALPHA_RANGES = {"orthogonal source": (-1.5, 4.5)}
ISOTROPIC_LABEL = "isotropic theory, same tr C / p"


def figure11(
    *,
    p=200,
    panels_shown=PANELS,
    alpha_range=(-2.0, 4.0),
    theory_points=241,
    sim_points=13,
    simulate=True,
    sim_panels=None,
    trials=2000,
    seed=1101,
    rotation_seed=11,
    method="direct",
    progress=False,
) -> FigureData:
    """Figure 11 (THEORY §9): test accuracy vs alpha for anisotropic tasks -- power-law
    spectrum, spiked, non-commuting source and target covariances, class-dependent
    covariances, and a source orthogonal to the target mean -- with the general theory
    (lines), the Monte Carlo of the same model (markers, ``method="direct"``) and the isotropic
    theory with the same noise levels ``tr C / p`` (dashed; :func:`isotropic`).
    ``sim_panels``: the panels that get a simulation (default: all).

    ``p``: dimension (``n = p/2``, ``N = 10 p``, ``gamma = gamma_src = 1`` for the ridge-source
    panels; ``n = 2 p``, ``gamma = 0.3`` for the orthogonal fixed source, whose alpha range is
    ``ALPHA_RANGES``). The tasks are
    :func:`panels`.
    """
    t0 = time.perf_counter()
    tasks = panels(p, seed=rotation_seed)
    fd = FigureData("fig11_general_covariance", 11,
                    r"Test accuracy vs $\alpha$, anisotropic noise")
    ra = simulator() if simulate else None
    progress_bar = bar(len(panels_shown), "fig 11", progress)
    sim_rows = []
    for i, name in enumerate(panels_shown):
        task = dict(tasks[name])
        n = task.pop("n")
        iso = isotropic(task)
        lo, hi = ALPHA_RANGES.get(name, alpha_range)
        alpha = grid(lo, hi, theory_points)
        for series, kw in (("theory", task), ("isotropic", iso)):
            acc = _theory.test_accuracy(alpha, n, p, **kw)
            fd.rows += [{"series": series, "panel": name, "alpha": a, "value": y}
                        for a, y in zip(alpha, acc)]
        s = {"panel": name, "n": n, "p": p}
        for key, kw in (("", task), ("isotropic_", iso)):
            a_star = scalar(_theory.optimal_alpha(n, p, **kw))
            s[key + "optimal_alpha"] = a_star
            s[key + "accuracy_at_optimal"] = scalar(_theory.test_accuracy(a_star, n, p, **kw))
            s[key + "accuracy_at_0"] = scalar(_theory.test_accuracy(0.0, n, p, **kw))
            s[key + "accuracy_at_1"] = scalar(_theory.test_accuracy(1.0, n, p, **kw))
            s[key + "chance_alpha"] = _chance_alpha(n, p, kw)
        if simulate and (sim_panels is None or name in sim_panels):
            res = ra.simulate(grid(lo, hi, sim_points), n, p, **_dense(task), trials=trials,
                              seed=seed + i, method=method)
            rows = accuracy_rows(res, _theory.test_accuracy(res.alpha, n, p, **task), panel=name)
            fd.rows += rows
            sim_rows += rows
            s["sim_optimal_alpha"] = scalar(res.optimal_alpha)
            s["sim_optimal_alpha_stderr"] = scalar(res.optimal_alpha_stderr)
        fd.summary.append(s)
        tick(progress_bar, name)
    close(progress_bar)
    fd.params = {
        "theory": "THEORY §9 (general covariances); isotropic comparison: each covariance "
                  "replaced by (tr C / p) I",
        "p": p,
        "panels": {name: {"description": DESCRIPTIONS[name], **_sizes(tasks[name])}
                   for name in panels_shown},
        "means": "mu_s = 1.5 e1, mu_t = 0.6*1.5 e1 + 0.8*1.2 e2 (ridge-source panels); "
                 "mu_t = e1 (orthogonal source); e1, e2 smooth profiles (_profiles)",
        "rotation_seed": rotation_seed,
        "alpha_grid": {**grid_params(alpha_range, theory_points, sim_points, log=False),
                       "ranges": ALPHA_RANGES},
        "simulation": {"trials": trials, "seed": seed, "method": method,
                       "panels": list(panels_shown if sim_panels is None else sim_panels)}
        if simulate else None,
        "versions": versions(),
    }
    if sim_rows:  # (quantity names of their own: the finite-size re-run is isotropic only)
        fd.checks.append(check("accuracy, general covariances", sim_rows, trials=trials, p=p))
        fd.checks.append(alpha_star_check(fd.summary, trials=trials, p=p, key="panel",
                                          quantity="optimal alpha, general covariances"))
    fd.seconds = time.perf_counter() - t0
    return fd


def _chance_alpha(n, p, task):
    """THEORY §9.5's ``-m0/m1``; ``nan`` (JSON ``null``) where ``m1`` vanishes to rounding
    (``|m1| <= 1e-12 |m0|``): the orthogonal source, whose score mean does not depend on alpha,
    so that no alpha reaches chance level (``-m0/m1`` of a rounding-level ``m1`` would be a
    meaningless ~1e16)."""
    m0, m1 = (float(x) for x in _general.score_coefficients(n, p, **task)[:2])
    return float("nan") if abs(m1) <= 1e-12 * abs(m0) else -m0 / m1


def _dense(task):
    """The task with (p,) diagonal covariances as (p, p) matrices: the same model, and the
    simulator compiles one program for all shared-covariance ridge-source panels."""
    return _map_covariances(task, lambda C: np.diag(C) if C.ndim == 1 else C)


def _sizes(task):
    return {k: task[k] for k in ("n", "N", "gamma", "gamma_src") if k in task}


# --------------------------------------------------------------------------------------
# Drawing (matplotlib, through rmt_alpha.plots, is imported only here)
# --------------------------------------------------------------------------------------


def render11(d, fig):
    from .. import plots

    shown = [s["panel"] for s in d.summary]
    axes = fig.subplots(2, 3).ravel()
    for ax, s in zip(axes, d.summary):
        name = s["panel"]
        th, iso = d.select(series="theory", panel=name), d.select(series="isotropic", panel=name)
        sim = d.select(series="simulation", panel=name)
        plots.accuracy_vs_alpha([r["alpha"] for r in th], [r["value"] for r in th],
                                optimal_alpha=s["optimal_alpha"],
                                accuracy_at_optimal=s["accuracy_at_optimal"],
                                sim_alpha=[r["alpha"] for r in sim] or None,
                                sim_accuracy=[r["value"] for r in sim] or None,
                                sim_stderr=[r["stderr"] for r in sim] or None,
                                label="general theory", color=plots.COLORS[0], ax=ax)
        plots.accuracy_vs_alpha([r["alpha"] for r in iso], [r["value"] for r in iso],
                                optimal_alpha=s["isotropic_optimal_alpha"],
                                accuracy_at_optimal=s["isotropic_accuracy_at_optimal"],
                                label=ISOTROPIC_LABEL, color=plots.COLORS[1], ax=ax,
                                references=False)
        for line in ax.lines:
            if line.get_label() == ISOTROPIC_LABEL:
                line.set_linestyle("--")
        ax.set_title(f"{TITLES[name]}\n" + rf"$\alpha^*$ = {s['optimal_alpha'] + 0.0:.2f} "
                     rf"(isotropic {round(s['isotropic_optimal_alpha'], 2) + 0.0:.2f})",
                     fontsize=9)
        lo = min(min(r["value"] for r in th), min(r["value"] for r in iso))
        ax.set_ylim(max(lo - 0.02, 0.45), None)
    legend_ax = axes[len(shown)] if len(shown) < len(axes) else None
    for ax in axes[len(shown) + 1:]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if d.checks:
        plots.simulation_legend_entry(axes[0])
        handles, labels = axes[0].get_legend_handles_labels()
    if legend_ax is not None:
        legend_ax.axis("off")
        legend_ax.legend(handles, labels, loc="upper left", frameon=False, fontsize=8)
        legend_ax.text(0.0, 0.35, f"p = {d.params['p']}; ridge-source panels: n = p/2, N = 10p,\n"
                       r"$\gamma = \tilde\gamma = 1$; orthogonal source: n = 2p, $\gamma = 0.3$" "\n"
                       "dashed: every covariance C replaced by (tr C / p) I",
                       transform=legend_ax.transAxes, fontsize=7.5, va="top")
    else:
        axes[0].legend(handles, labels, fontsize=7, frameon=False)
    fig.suptitle(d.title)


FIGURES = (
    Figure(11, figure11, render11, (11.0, 6.6), simulated=True, settings={
        "full": dict(trials=2000),
        "quick": dict(trials=100, sim_points=7),
        "tiny": dict(p=60, trials=10, sim_points=5, panels_shown=("Cs != Ct",)),
    }),
)
