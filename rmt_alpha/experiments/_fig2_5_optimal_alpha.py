"""Figures 2-5: the optimal alpha against the source alignment, the target ridge, the task
alignment, and over both ridges (THEORY §8.2-§8.5)."""

from __future__ import annotations

import math
import time

import numpy as np

from .. import _theory
from ._common import bar, close, grid, scalar, simulator, tick, versions
from ._figure import Figure
from ._record import FigureData
from ._validation import check, z_score


def figure2(
    *,
    n=200,
    gamma=1.0,
    ps=(2, 20, 200, 2000),
    target_norm2=1.0,
    source_norm2=1.0,
    points=400,
) -> FigureData:
    """Figure 2 (THEORY §8.2): alpha* vs the alignment ``w~^T mu_beta`` of a fixed source
    with ``||w~|| = ||mu_beta|| = 1`` (so the alignment is the cosine), for several ``p``.
    Theory only.

    The alignment grid is uniform on (0, 1] and refined geometrically towards 1, where
    alpha* changes fastest.
    """
    t0 = time.perf_counter()
    cmax = math.sqrt(target_norm2 * source_norm2)
    uniform = np.linspace(cmax / points, cmax, points)
    near_one = cmax * (1.0 - np.logspace(-6, -1, 60))
    align = np.unique(np.concatenate([uniform, near_one]))
    fd = FigureData("fig2_optimal_alpha_vs_alignment", 2, r"$\alpha^*$ vs source alignment")
    for p in ps:
        a = _theory.optimal_alpha(n, p, gamma=gamma, target_norm2=target_norm2,
                                  alignment=align, source_norm2=source_norm2)
        for s, y in zip(align, a):
            fd.rows.append({"series": "theory", "p": p, "alignment": s, "value": y})
        fd.summary.append({
            "p": p,
            "eta": p / n,
            "optimal_alpha_at_alignment_0.5": scalar(_theory.optimal_alpha(
                n, p, gamma=gamma, target_norm2=target_norm2, alignment=0.5 * cmax,
                source_norm2=source_norm2)),
            "optimal_alpha_at_alignment_1": scalar(a[-1]),
        })
    fd.params = {
        "theory": "THEORY §3 (fixed source), §8.2",
        "task": {"n": n, "gamma": gamma, "target_norm2": target_norm2, "source_norm2": source_norm2},
        "ps": list(ps),
        "alignment_grid": f"{points} uniform points on (0, {cmax:g}] plus 60 geometric points towards {cmax:g}",
        "simulation": None,
        "versions": versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


def figure3(
    *,
    n=40,
    p=400,
    alignments=(0.0, 0.25, 0.5, 0.75, 1.0),
    target_norm2=1.0,
    source_norm2=1.0,
    gamma_range=(1e-6, 1e3),
    points=301,
) -> FigureData:
    """Figure 3 (THEORY §8.3): alpha* vs the target ridge gamma (log scale) for the fixed
    source of figure 2, at several alignments. Theory only."""
    t0 = time.perf_counter()
    gamma = grid(*gamma_range, points, log=True)
    fd = FigureData("fig3_optimal_alpha_vs_gamma", 3, r"$\alpha^*$ vs target ridge $\gamma$")
    for s in alignments:
        a = _theory.optimal_alpha(n, p, gamma=gamma, target_norm2=target_norm2, alignment=s,
                                  source_norm2=source_norm2)
        for g, y in zip(gamma, a):
            fd.rows.append({"series": "theory", "alignment": s, "gamma": g, "value": y})
        fd.summary.append({"alignment": s, "optimal_alpha_at_min_gamma": scalar(a[0]),
                           "optimal_alpha_at_max_gamma": scalar(a[-1])})
    fd.params = {
        "theory": "THEORY §3 (fixed source), §8.3",
        "task": {"n": n, "p": p, "target_norm2": target_norm2, "source_norm2": source_norm2},
        "alignments": list(alignments),
        "gamma_grid": [*gamma_range, points, "log"],
        "simulation": None,
        "versions": versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Figure 4: alpha* vs beta (ridge source), with a sparse Monte Carlo check
# --------------------------------------------------------------------------------------


def figure4(
    *,
    N=2000,
    n=200,
    gamma=1.0,
    gamma_src=1.0,
    mu=1.0,
    mu_orth=1.0,
    ps=(2, 20, 200, 2000),
    points=201,
    simulate=True,
    sim_p=200,
    sim_betas=(0.25, 0.5, 0.75, 1.0),
    sim_alpha=(-2.0, 6.0, 81),
    trials=2000,
    seed=401,
    method="reduced",
    progress=False,
) -> FigureData:
    """Figure 4 (THEORY §8.4): alpha* vs beta for a ridge source, several ``p``.

    Theory lines; with ``simulate=True`` also a sparse Monte Carlo check of alpha* (the
    simulation's own estimate ± standard error) at ``p = sim_p`` and a few betas.
    """
    t0 = time.perf_counter()
    task0 = dict(N=N, mu=mu, mu_orth=mu_orth, gamma=gamma, gamma_src=gamma_src)
    beta = grid(0.0, 1.0, points)
    fd = FigureData("fig4_optimal_alpha_vs_beta", 4, r"$\alpha^*$ vs task alignment $\beta$")
    for p in ps:
        a = _theory.optimal_alpha(n, p, **task0, beta=beta)
        for b, y in zip(beta, a):
            fd.rows.append({"series": "theory", "p": p, "beta": b, "value": y})
    sim_rows = []
    if simulate:
        ra = simulator()
        alphas = grid(*sim_alpha)
        progress_bar = bar(len(sim_betas), "fig 4", progress)
        for i, b in enumerate(sim_betas):
            res = ra.simulate(alphas, n, sim_p, **task0, beta=b, trials=trials, seed=seed + i,
                              method=method)
            th = scalar(_theory.optimal_alpha(n, sim_p, **task0, beta=b))
            row = {"series": "simulation", "p": sim_p, "beta": b, "value": scalar(res.optimal_alpha),
                   "stderr": scalar(res.optimal_alpha_stderr), "theory": th,
                   "z": float(z_score(res.optimal_alpha, res.optimal_alpha_stderr, th))}
            fd.rows.append(row)
            sim_rows.append(row)
            tick(progress_bar, f"beta={b}")
        close(progress_bar)
        fd.checks.append(check("optimal alpha", sim_rows, trials=trials, p=sim_p,
                                note=f"sparse check at p = {sim_p}"))
    for p in ps:
        fd.summary.append({
            "p": p,
            "eta": p / n,
            "optimal_alpha_at_beta_0.5": scalar(_theory.optimal_alpha(n, p, **task0, beta=0.5)),
            "optimal_alpha_at_beta_1": scalar(_theory.optimal_alpha(n, p, **task0, beta=1.0)),
        })
    fd.params = {
        "theory": "THEORY §3-§4 (ridge source), §8.4",
        "task": dict(task0, n=n),
        "ps": list(ps),
        "beta_grid": [0.0, 1.0, points],
        "simulation": {"p": sim_p, "betas": list(sim_betas), "alpha_grid": list(sim_alpha),
                       "trials": trials, "seed": seed, "method": method} if simulate else None,
        "versions": versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Figure 5: heat map of alpha* over (gamma, gamma_src)
# --------------------------------------------------------------------------------------


def figure5(
    *,
    N=2000,
    n=40,
    p=400,
    mu=1.0,
    mu_orth=1.0,
    betas=(0.2, 0.5, 0.8),
    gamma_range=(1e-4, 1e3),
    gamma_src_range=(1e-4, 1.0),
    gamma_points=71,
    gamma_src_points=41,
) -> FigureData:
    """Figure 5 (THEORY §8.5): alpha* over (log gamma, log gamma_src), one map per beta.
    Theory only. THEORY §8 does not fix ``mu, mu_orth``; the defaults (1, 1) are those of
    figure 4."""
    t0 = time.perf_counter()
    g = grid(*gamma_range, gamma_points, log=True)
    gs = grid(*gamma_src_range, gamma_src_points, log=True)
    G, GS = np.meshgrid(g, gs, indexing="ij")
    fd = FigureData("fig5_optimal_alpha_heatmap", 5, r"$\alpha^*$ over $(\gamma, \tilde\gamma)$")
    for beta in betas:
        a = _theory.optimal_alpha(n, p, N=N, mu=mu, mu_orth=mu_orth, beta=beta, gamma=G, gamma_src=GS)
        for gi, gsi, y in zip(G.ravel(), GS.ravel(), a.ravel()):
            fd.rows.append({"series": "theory", "beta": beta, "gamma": gi, "gamma_src": gsi, "value": y})
        k = np.unravel_index(np.argmax(a), a.shape)
        fd.summary.append({"beta": beta, "min_optimal_alpha": float(a.min()),
                           "max_optimal_alpha": float(a.max()),
                           "argmax_gamma": float(G[k]), "argmax_gamma_src": float(GS[k])})
    fd.params = {
        "theory": "THEORY §3-§4 (ridge source), §8.5",
        "task": {"N": N, "n": n, "p": p, "mu": mu, "mu_orth": mu_orth},
        "betas": list(betas),
        "gamma_grid": [*gamma_range, gamma_points, "log"],
        "gamma_src_grid": [*gamma_src_range, gamma_src_points, "log"],
        "simulation": None,
        "versions": versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Drawing (matplotlib, through rmt_alpha.plots, is imported only here)
# --------------------------------------------------------------------------------------


def render2(d, fig):
    from .. import plots

    ax = fig.subplots()
    for i, p in enumerate(d.params["ps"]):
        th = d.select(series="theory", p=p)
        plots.optimal_alpha_curve([r["alignment"] for r in th], [r["value"] for r in th],
                                  xlabel=r"alignment $\tilde w^\top\mu_\beta$ "
                                         r"($\|\tilde w\|=\|\mu_\beta\|=1$)",
                                  label=f"$p={p}$", color=plots.COLORS[i], ax=ax, logy=True)
    ax.set_xlim(0, 1)
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(d.title + " (fixed source, theory)\n"
                 + plots.params_line(d.params["task"], ("n", "gamma")))


def render3(d, fig):
    from .. import plots

    ax = fig.subplots()
    for i, s in enumerate(d.params["alignments"]):
        th = d.select(series="theory", alignment=s)
        plots.optimal_alpha_curve([r["gamma"] for r in th], [r["value"] for r in th],
                                  xlabel=r"target ridge $\gamma$",
                                  label=rf"$\tilde w^\top\mu_\beta={s:g}$",
                                  color=plots.COLORS[i], ax=ax, logx=True)
    ax.legend(loc="center left", frameon=False)
    ax.set_title(d.title + r" (fixed source $\|\tilde w\|=\|\mu_\beta\|=1$, theory)" + "\n"
                 + plots.params_line(d.params["task"], ("n", "p")))


def render4(d, fig):
    from .. import plots

    ax = fig.subplots()
    for i, p in enumerate(d.params["ps"]):
        th = d.select(series="theory", p=p)
        sim = d.select(series="simulation", p=p)
        plots.optimal_alpha_curve([r["beta"] for r in th], [r["value"] for r in th],
                                  xlabel=r"task alignment $\beta$", label=f"$p={p}$",
                                  color=plots.COLORS[i], ax=ax,
                                  sim_x=[r["beta"] for r in sim] or None,
                                  sim_alpha=[r["value"] for r in sim] or None,
                                  sim_stderr=[r["stderr"] for r in sim] or None)
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(d.title + " (ridge source)\n" + plots.params_line(
        d.params["task"], ("N", "n", "mu", "mu_orth", "gamma", "gamma_src")))


def render5(d, fig):
    from matplotlib.colors import LogNorm, Normalize

    from .. import plots

    betas = d.params["betas"]
    axes = np.atleast_1d(fig.subplots(1, len(betas), sharey=True))
    vals = np.array([r["value"] for r in d.rows], float)
    norm = LogNorm(vals.min(), vals.max()) if np.all(vals > 0) else Normalize(vals.min(), vals.max())
    for k, (ax, b) in enumerate(zip(axes, betas)):
        rows = d.select(series="theory", beta=b)
        g = np.array(_unique([r["gamma"] for r in rows]))
        gs = np.array(_unique([r["gamma_src"] for r in rows]))
        A = np.array([r["value"] for r in rows]).reshape(g.size, gs.size)
        plots.optimal_alpha_heatmap(g, gs, A, ax=ax, norm=norm, colorbar=k == len(betas) - 1,
                                    contours=(0.1, 1.0), title=rf"$\beta={b:g}$")
        if k:
            ax.set_ylabel("")
    fig.suptitle(d.title + " (ridge source, theory)   " + plots.params_line(
        d.params["task"], ("N", "n", "p", "mu", "mu_orth")), fontsize=9)


def _unique(values):
    return list(dict.fromkeys(values))


FIGURES = (
    Figure(2, figure2, render2, (5.6, 4.0)),
    Figure(3, figure3, render3, (5.6, 4.0)),
    Figure(4, figure4, render4, (5.6, 4.0), simulated=True, settings={
        "full": dict(trials=2000),
        "quick": dict(trials=200, sim_betas=(0.5, 1.0)),
        "tiny": dict(trials=10, sim_betas=(1.0,)),
    }),
    Figure(5, figure5, render5, (11.0, 3.6), settings={
        "tiny": dict(gamma_points=15, gamma_src_points=9),
    }),
)
