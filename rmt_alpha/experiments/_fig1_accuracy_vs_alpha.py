"""Figure 1: test accuracy against alpha for several task alignments (THEORY §8.1)."""

from __future__ import annotations

import time

from .. import _theory
from ._common import bar, close, grid, grid_params, scalar, simulator, tick, versions
from ._figure import Figure
from ._record import FigureData, same
from ._validation import accuracy_rows, alpha_star_check, check


def figure1(
    *,
    N=5000,
    n=40,
    p=1000,
    mu=0.8,
    mu_orth=0.8,
    gamma=0.1,
    gamma_src=5.0,
    betas=(0.2, 0.5, 0.9),
    alpha_range=(-10.0, 10.0),
    theory_points=401,
    sim_points=41,
    simulate=True,
    sim_betas=None,
    trials=2000,
    seed=1,
    method="reduced",
    progress=False,
) -> FigureData:
    """Figure 1 (THEORY §8.1): test accuracy vs alpha for several task alignments beta.

    Theory line per beta with alpha* (maximum), the chance-level alpha (accuracy 1/2),
    alpha = 0 (no source) and alpha = 1 (plain fine-tuning); Monte Carlo accuracy
    (mean over ``trials`` ± standard error) at ``sim_points`` alphas, and the simulation's
    own alpha* estimate. ``sim_betas``: the betas that get a simulation (default: all).
    """
    t0 = time.perf_counter()
    task0 = dict(N=N, mu=mu, mu_orth=mu_orth, gamma=gamma, gamma_src=gamma_src)
    alpha = grid(*alpha_range, theory_points)
    sim_alpha = grid(*alpha_range, sim_points)
    fd = FigureData("fig1_accuracy_vs_alpha", 1, r"Test accuracy vs $\alpha$")
    ra = simulator() if simulate else None
    progress_bar = bar(len(betas), "fig 1", progress)
    sim_rows = []
    for i, beta in enumerate(betas):
        task = dict(task0, beta=beta)
        acc = _theory.test_accuracy(alpha, n, p, **task)
        for a, y in zip(alpha, acc):
            fd.rows.append({"series": "theory", "beta": beta, "alpha": a, "value": y})
        a_star = scalar(_theory.optimal_alpha(n, p, **task))
        a_bar = scalar(_theory.chance_alpha(n, p, **task))
        s = {
            "beta": beta,
            "optimal_alpha": a_star,
            "chance_alpha": a_bar,
            "accuracy_at_optimal": scalar(_theory.test_accuracy(a_star, n, p, **task)),
            "accuracy_at_1": scalar(_theory.test_accuracy(1.0, n, p, **task)),
            "accuracy_at_0": scalar(_theory.test_accuracy(0.0, n, p, **task)),
            "source_accuracy": scalar(_theory.source_accuracy(p, N=N, mu=mu, beta=beta, gamma_src=gamma_src)),
        }
        if simulate and (sim_betas is None or any(same(beta, b) for b in sim_betas)):
            res = ra.simulate(
                sim_alpha, n, p, **task, trials=trials, seed=seed + i, method=method
            )
            rows = accuracy_rows(res, _theory.test_accuracy(res.alpha, n, p, **task), beta=beta)
            fd.rows += rows
            sim_rows += rows
            s["sim_optimal_alpha"] = scalar(res.optimal_alpha)
            s["sim_optimal_alpha_stderr"] = scalar(res.optimal_alpha_stderr)
        fd.summary.append(s)
        tick(progress_bar, f"beta={beta}")
    close(progress_bar)
    fd.params = {
        "theory": "THEORY §3-§4 (ridge source), §8.1",
        "task": dict(task0, n=n, p=p),
        "betas": list(betas),
        "alpha_grid": grid_params(alpha_range, theory_points, sim_points, log=False),
        "simulation": {"trials": trials, "seed": seed, "method": method,
                       "betas": list(betas if sim_betas is None else sim_betas)} if simulate else None,
        "versions": versions(),
    }
    if sim_rows:
        fd.checks.append(check("accuracy", sim_rows, trials=trials, p=p))
        fd.checks.append(alpha_star_check(fd.summary, trials=trials, p=p))
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Drawing (matplotlib, through rmt_alpha.plots, is imported only here)
# --------------------------------------------------------------------------------------


def render1(d, fig):
    from .. import plots

    ax = fig.subplots()
    task = d.params["task"]
    for i, s in enumerate(d.summary):
        b = s["beta"]
        th = d.select(series="theory", beta=b)
        sim = d.select(series="simulation", beta=b)
        plots.accuracy_vs_alpha([r["alpha"] for r in th], [r["value"] for r in th],
                                optimal_alpha=s["optimal_alpha"], chance_alpha=s["chance_alpha"],
                                accuracy_at_optimal=s["accuracy_at_optimal"],
                                sim_alpha=[r["alpha"] for r in sim] or None,
                                sim_accuracy=[r["value"] for r in sim] or None,
                                sim_stderr=[r["stderr"] for r in sim] or None,
                                label=rf"$\beta={b:g}$", color=plots.COLORS[i], ax=ax)
    if d.checks:
        plots.simulation_legend_entry(ax)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: not labels[i].startswith(r"$\beta"))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left",
              frameon=False)
    ax.set_title(d.title + "\n" + plots.params_line(
        task, ("N", "n", "p", "mu", "mu_orth", "gamma_src", "gamma")))


FIGURES = (
    Figure(1, figure1, render1, (6.4, 4.2), simulated=True, settings={
        "full": dict(trials=2000),
        "quick": dict(trials=200, sim_points=21),
        "tiny": dict(trials=10, sim_points=11, sim_betas=(0.5,)),
    }),
)
