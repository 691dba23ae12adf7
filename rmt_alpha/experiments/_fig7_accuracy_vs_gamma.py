"""Figure 7: test accuracy against the target ridge gamma (THEORY §8.7)."""

from __future__ import annotations

import time

import numpy as np

from .. import _theory
from ._common import bar, close, grid, grid_params, simulator, tick, versions
from ._figure import Figure
from ._record import FigureData
from ._validation import check, z_score


def figure7(
    *,
    N=1000,
    n=200,
    p=100,
    mu=1.0,
    mu_orth=1.5,
    beta=0.3,
    gamma_src=1.0,
    alphas=(0.5, 1.0, 0.0),
    gamma_range=(1e-6, 1e3),
    theory_points=301,
    sim_points=10,
    simulate=True,
    trials=2000,
    seed=701,
    method="reduced",
    progress=False,
) -> FigureData:
    """Figure 7 (THEORY §8.7): test accuracy vs the target ridge gamma at alpha = 0.5 (the
    figure's subject), with alpha = 1 (plain fine-tuning) and alpha = 0 (no source) for
    reference. Theory lines, Monte Carlo markers at ``sim_points`` gammas."""
    t0 = time.perf_counter()
    task0 = dict(N=N, mu=mu, mu_orth=mu_orth, beta=beta, gamma_src=gamma_src)
    alphas = tuple(float(a) for a in alphas)
    g = grid(*gamma_range, theory_points, log=True)
    fd = FigureData("fig7_accuracy_vs_gamma", 7, r"Test accuracy vs target ridge $\gamma$")
    for a in alphas:
        acc = _theory.test_accuracy(a, n, p, **task0, gamma=g)
        for gi, y in zip(g, acc):
            fd.rows.append({"series": "theory", "alpha": a, "gamma": gi, "value": y})
    best = _theory.optimal_alpha(n, p, **task0, gamma=g)
    best_acc = _theory.test_accuracy(best, n, p, **task0, gamma=g)
    for gi, y, ab in zip(g, best_acc, best):
        fd.rows.append({"series": "theory optimal", "gamma": gi, "alpha": ab, "value": y})
    sim_rows = []
    if simulate:
        ra = simulator()
        sg = grid(*gamma_range, sim_points, log=True)
        progress_bar = bar(len(sg), "fig 7", progress)
        for i, gi in enumerate(sg):
            res = ra.simulate(np.array(alphas), n, p, **task0, gamma=gi, trials=trials,
                              seed=seed + i, method=method)
            th = _theory.test_accuracy(res.alpha, n, p, **task0, gamma=gi)
            z = z_score(res.accuracy, res.accuracy_stderr, th)
            for a, y, e, t, zz in zip(res.alpha, res.accuracy, res.accuracy_stderr, th, z):
                row = {"series": "simulation", "alpha": float(a), "gamma": gi, "value": y,
                       "stderr": e, "theory": t, "z": zz}
                fd.rows.append(row)
                sim_rows.append(row)
            tick(progress_bar, f"gamma={gi:.2g}")
        close(progress_bar)
        fd.checks.append(check("accuracy", sim_rows, trials=trials, p=p))
    i_max = int(np.argmax(_theory.test_accuracy(alphas[0], n, p, **task0, gamma=g)))
    fd.summary.append({"alpha": alphas[0], "best_gamma": float(g[i_max]),
                       "best_accuracy": float(_theory.test_accuracy(alphas[0], n, p, **task0, gamma=g[i_max]))})
    fd.params = {
        "theory": "THEORY §3-§4 (ridge source), §8.7",
        "task": dict(task0, n=n, p=p),
        "alphas": list(alphas),
        "gamma_grid": grid_params(gamma_range, theory_points, sim_points),
        "simulation": {"trials": trials, "seed": seed, "method": method} if simulate else None,
        "versions": versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Drawing (matplotlib, through rmt_alpha.plots, is imported only here)
# --------------------------------------------------------------------------------------


def render7(d, fig):
    from .. import plots

    ax = fig.subplots()
    for i, a in enumerate(d.params["alphas"]):
        th = d.select(series="theory", alpha=a)
        sim = d.select(series="simulation", alpha=a)
        lab = {0.0: r"$\alpha=0$ (no source)", 1.0: r"$\alpha=1$ (fine-tuning)"}.get(
            a, rf"$\alpha={a:g}$")
        plots.theory_and_simulation(
            [r["gamma"] for r in th], [r["value"] for r in th],
            sim_x=[r["gamma"] for r in sim] or None, sim_y=[r["value"] for r in sim] or None,
            sim_stderr=[r["stderr"] for r in sim] or None, label=lab, color=plots.COLORS[i],
            ax=ax, logx=True, lw=1.8 if i == 0 else 1.1, sim_label="_nolegend_")
    best = d.select(series="theory optimal")
    ax.plot([r["gamma"] for r in best], [r["value"] for r in best], color="black", lw=1.0,
            ls="--", label=r"$\alpha=\alpha^*(\gamma)$ (theory)")
    if d.checks:
        plots.simulation_legend_entry(ax)
    ax.set_xlabel(r"target ridge $\gamma$")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="best", frameon=False)
    ax.set_title(d.title + "\n" + plots.params_line(
        d.params["task"], ("N", "n", "p", "mu", "mu_orth", "beta", "gamma_src")))


FIGURES = (
    Figure(7, figure7, render7, (6.0, 4.2), simulated=True, settings={
        "full": dict(trials=2000),
        "quick": dict(trials=200, sim_points=4),
        "tiny": dict(trials=10, sim_points=1),
    }),
)
