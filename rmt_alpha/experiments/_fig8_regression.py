"""Figure 8: regression test risk against alpha (THEORY §8.8)."""

from __future__ import annotations

import time

import numpy as np

from .._regression import regression_optimal_alpha, regression_risk
from ._common import bar, close, grid, grid_params, scalar, simulator, tick, versions
from ._figure import Figure
from ._record import FigureData
from ._validation import check, z_score


def regression_weights(d=10, p=40, beta=0.5, seed=8):
    """``W_s`` with i.i.d. N(0, 1) entries and ``W_t = beta W_s + B``, ``B`` i.i.d. N(0, 1)
    projected Frobenius-orthogonally to ``W_s`` (THEORY §8.8), so that ``alpha* = beta``.
    The same ``seed`` gives the same ``W_s`` and ``B`` for every ``beta``."""
    rng = np.random.default_rng(seed)
    Ws = rng.standard_normal((d, p))
    G = rng.standard_normal((d, p))
    B = G - (np.sum(G * Ws) / np.sum(Ws * Ws)) * Ws
    return Ws, beta * Ws + B


def figure8(
    *,
    n=20,
    p=40,
    d=10,
    sigma=0.5,
    gamma=0.01,
    betas=(-2.0, 0.5, 2.0),
    alpha_range=(-4.0, 4.0),
    theory_points=401,
    sim_points=33,
    weights_seed=8,
    simulate=True,
    trials=2000,
    seed=801,
    progress=False,
) -> FigureData:
    """Figure 8 (THEORY §8.8): regression test risk vs alpha, theory and Monte Carlo, for
    ``W_t = beta W_s + B`` (``alpha* = beta``)."""
    t0 = time.perf_counter()
    alpha = grid(*alpha_range, theory_points)
    sim_alpha = grid(*alpha_range, sim_points)
    fd = FigureData("fig8_regression_risk", 8, r"Regression test risk vs $\alpha$")
    ra = simulator() if simulate else None
    progress_bar = bar(len(betas), "fig 8", progress)
    sim_rows = []
    Ws0 = None
    for i, beta in enumerate(betas):
        Ws, Wt = regression_weights(d, p, beta, weights_seed)
        Ws0 = Ws
        kw = dict(W_source=Ws, W_target=Wt, sigma=sigma, gamma=gamma)
        risk = regression_risk(alpha, n, p, **kw)
        for a, y in zip(alpha, risk):
            fd.rows.append({"series": "theory", "beta": beta, "alpha": a, "value": y})
        a_star = scalar(regression_optimal_alpha(Ws, Wt))
        fd.summary.append({"beta": beta, "optimal_alpha": a_star,
                           "risk_at_optimal": scalar(regression_risk(a_star, n, p, **kw)),
                           "risk_at_1": scalar(regression_risk(1.0, n, p, **kw)),
                           "risk_at_0": scalar(regression_risk(0.0, n, p, **kw))})
        if simulate:
            res = ra.simulate_regression(sim_alpha, n, p, **kw, trials=trials, seed=seed + i)
            th = regression_risk(res.alpha, n, p, **kw)
            z = z_score(res.risk, res.risk_stderr, th)
            for a, y, e, t, zz in zip(res.alpha, res.risk, res.risk_stderr, th, z):
                row = {"series": "simulation", "beta": beta, "alpha": a, "value": y, "stderr": e,
                       "theory": t, "z": zz}
                fd.rows.append(row)
                sim_rows.append(row)
        tick(progress_bar, f"beta={beta}")
    close(progress_bar)
    _, Wt1 = regression_weights(d, p, 0.0, weights_seed)
    fd.params = {
        "theory": "THEORY §5, §8.8",
        "task": {"n": n, "p": p, "d": d, "sigma": sigma, "gamma": gamma},
        "betas": list(betas),
        "weights": {"seed": weights_seed, "construction": "W_s iid N(0,1); B iid N(0,1) projected "
                    "orthogonally to W_s in Frobenius inner product; W_t = beta W_s + B",
                    "W_source_fro2": float(np.sum(Ws0 * Ws0)), "B_fro2": float(np.sum(Wt1 * Wt1)),
                    "W_source": Ws0, "B": Wt1},
        "alpha_grid": grid_params(alpha_range, theory_points, sim_points, log=False),
        "simulation": {"trials": trials, "seed": seed} if simulate else None,
        "versions": versions(),
    }
    if simulate:
        fd.checks.append(check("risk", sim_rows, trials=trials, p=p,
                                note="relative gap is the meaningful scale: risk is O(||W||^2)"))
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Drawing (matplotlib, through rmt_alpha.plots, is imported only here)
# --------------------------------------------------------------------------------------


def render8(d, fig):
    from .. import plots

    ax = fig.subplots()
    for i, s in enumerate(d.summary):
        b = s["beta"]
        th = d.select(series="theory", beta=b)
        sim = d.select(series="simulation", beta=b)
        plots.risk_vs_alpha([r["alpha"] for r in th], [r["value"] for r in th],
                            optimal_alpha=s["optimal_alpha"],
                            sim_alpha=[r["alpha"] for r in sim] or None,
                            sim_risk=[r["value"] for r in sim] or None,
                            sim_stderr=[r["stderr"] for r in sim] or None,
                            label=rf"$\beta={b:g}$", color=plots.COLORS[i], ax=ax, logy=True)
    if d.checks:
        plots.simulation_legend_entry(ax)
    ax.legend(loc="upper center", frameon=False, ncol=3)
    ax.set_title(d.title + r" ($W_t=\beta W_s+B$, $\langle B,W_s\rangle_F=0$)" + "\n"
                 + plots.params_line(d.params["task"], ("n", "p", "d", "sigma", "gamma")))


FIGURES = (
    Figure(8, figure8, render8, (6.0, 4.2), simulated=True, settings={
        "full": dict(trials=4000),
        "quick": dict(trials=200, sim_points=17),
        "tiny": dict(trials=10, sim_points=9),
    }),
)
