"""Figures 9-10: when is alpha worth tuning once gamma is tuned (THEORY §12).

Figure 9 maps, over the task alignment beta and eta = p/n, the accuracy gained by tuning
alpha and gamma together over plain fine-tuning (alpha = 1) and over no transfer (alpha = 0),
each with gamma tuned, and the tuned source weight alpha** gamma** (the joint optimum of the
isotropic model is the limit gamma -> infinity, classifier ``X y/n + c w~``). Figure 10 shows
the profiles ``A(alpha*(gamma), gamma)``, ``A(1, gamma)``, ``A(0, gamma)`` for three tasks.
"""

from __future__ import annotations

import time

import numpy as np

from .. import _joint, _theory
from ._common import bar, close, grid, grid_params, scalar, simulator, tick, versions
from ._figure import Figure
from ._record import FigureData
from ._validation import check, z_score

# The gamma at which the limit gamma -> infinity is simulated, with alpha = c / gamma: the
# theory there is within ~eta/gamma^2 of the limit (THEORY §12.2), far below the Monte Carlo
# error, and the simulation is compared with the theory at the simulated (alpha, gamma).
LIMIT_GAMMA = 1e4

_OPTIMA = ("joint", "fine-tuning", "no transfer")
GAIN_FLOOR = 1e-4  # figure 9 draws smaller gains (in accuracy) with the colour of this one


def _task_sizes(p, eta, source_ratio):
    """Integer ``n = p/eta`` and ``N = p * source_ratio`` (the actual ``p/n`` is reported)."""
    n = np.maximum(1, np.round(p / np.asarray(eta, float))).astype(int)
    return n, int(round(p * source_ratio))


def _simulate_optima(ra, n, p, task, res, *, trials, seed, method):
    """Monte Carlo accuracy at the joint optimum (at ``LIMIT_GAMMA`` when it is the limit
    gamma -> infinity) and at plain fine-tuning's optimum; rows with the theory at the
    simulated point and z."""
    rows = []
    for k, (optimum, alpha, gamma) in enumerate((
            ("joint", float(res.alpha), float(res.gamma)),
            ("fine-tuning", 1.0, float(res.gamma_fine_tuning)))):
        limit = None
        if optimum == "joint" and np.isinf(gamma):
            limit, gamma = float(res.accuracy), LIMIT_GAMMA
            alpha = float(res.alpha_gamma) / gamma
        gamma = min(max(gamma, 1e-6), LIMIT_GAMMA)  # a limit gamma -> 0 is simulated at 1e-6
        sim = ra.simulate(np.array([alpha]), n, p, **task, gamma=gamma, trials=trials,
                          seed=seed + k, method=method)
        theory = scalar(_theory.test_accuracy(alpha, n, p, **task, gamma=gamma))
        value, err = scalar(sim.accuracy[0]), scalar(sim.accuracy_stderr[0])
        row = {"series": "simulation", "optimum": optimum, "n": n, "p": p, **task,
               "alpha": alpha, "gamma": gamma, "value": value,
               "stderr": err, "theory": theory, "z": float(z_score(value, err, theory))}
        if limit is not None:
            row["limit"] = limit
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------
# Figure 9: gain maps
# --------------------------------------------------------------------------------------


def figure9(
    *,
    p=1000,
    mu=1.5,
    mu_orth=1.0,
    gamma_src=1.0,
    source_ratios=(0.5, 2.0, 8.0),
    beta_points=41,
    eta_range=(0.1, 20.0),
    eta_points=41,
    near_optimal=1e-3,
    simulate=True,
    sim_points=((2.0, 0.5, 0.25), (2.0, 0.3, 2.0), (2.0, -0.6, 0.5), (8.0, 0.9, 8.0)),
    sim_p=400,
    trials=2000,
    seed=901,
    method="reduced",
    progress=False,
) -> FigureData:
    """Figure 9 (THEORY §12): over beta in [-1, 1] and eta = p/n (log), one row per source
    size ``N/p``, the accuracy gained by tuning alpha and gamma together over plain
    fine-tuning (alpha = 1) and over no transfer (alpha = 0), each with gamma tuned
    (:func:`rmt_alpha.optimal_alpha_gamma`), and the tuned source weight alpha** gamma**.

    ``near_optimal``: the gain below which alpha = 1 counts as already optimal (marked).
    Monte Carlo at ``sim_points`` = ``(N/p, beta, eta)`` with ``p = sim_p``: the accuracy at
    the joint optimum (the limit gamma -> infinity, simulated at gamma = 1e4 with
    alpha = c/gamma) and at plain fine-tuning's optimum.
    """
    t0 = time.perf_counter()
    task0 = dict(mu=mu, mu_orth=mu_orth, gamma_src=gamma_src)
    beta = grid(-1.0, 1.0, beta_points)
    eta = grid(*eta_range, eta_points, log=True)
    fd = FigureData("fig9_gain_maps", 9, r"What tuning $\alpha$ adds once $\gamma$ is tuned")
    for ratio in source_ratios:
        n, N = _task_sizes(p, eta, ratio)
        res = _joint.optimal_alpha_gamma(n[None, :], p, N=N, beta=beta[:, None], **task0)
        for i, b in enumerate(beta):
            for j, nj in enumerate(n):
                r = {k: float(v[i, j]) for k, v in res._asdict().items()}
                fd.rows.append({
                    "series": "theory", "source_ratio": ratio, "beta": b, "eta": p / nj,
                    "N": N, "n": int(nj), "p": p,
                    "gain_fine_tuning": r["accuracy"] - r["accuracy_fine_tuning"],
                    "gain_no_transfer": r["accuracy"] - r["accuracy_no_transfer"], **r})
        gain = res.accuracy - res.accuracy_fine_tuning
        k = np.unravel_index(np.argmax(gain), gain.shape)
        up = beta >= 0
        fd.summary.append({
            "source_ratio": ratio, "N": N,
            "max_gain_fine_tuning": float(gain.max()),
            "max_gain_fine_tuning_at": {"beta": float(beta[k[0]]), "eta": float(p / n[k[1]])},
            "max_gain_fine_tuning_beta_nonnegative": float(gain[up].max()),
            "median_gain_fine_tuning_beta_nonnegative": float(np.median(gain[up])),
            "fraction_near_optimal_beta_nonnegative": float(np.mean(gain[up] < near_optimal)),
            "max_gain_no_transfer": float((res.accuracy - res.accuracy_no_transfer).max()),
            "joint_at_gamma_infinity": bool(np.all(np.isinf(res.gamma))),
        })
    sim_rows = []
    if simulate:
        ra = simulator()
        progress_bar = bar(len(sim_points), "fig 9", progress)
        for i, (ratio, b, e) in enumerate(sim_points):
            n, N = _task_sizes(sim_p, e, ratio)
            task = dict(task0, N=N, beta=b)
            res = _joint.optimal_alpha_gamma(int(n), sim_p, **task)
            rows = _simulate_optima(ra, int(n), sim_p, task, res, trials=trials,
                                    seed=seed + 10 * i, method=method)
            for row in rows:
                row.update(source_ratio=ratio, eta=sim_p / int(n))
            fd.rows.extend(rows)
            sim_rows.extend(rows)
            tick(progress_bar, f"beta={b}")
        close(progress_bar)
        fd.checks.append(check("accuracy", sim_rows, trials=trials, p=sim_p,
                               note="at the joint and the fine-tuning optima of a few map points"))
    fd.params = {
        "theory": "THEORY §12 (ridge source, §3-§4)",
        "task": dict(task0, p=p),
        "source_ratios": list(source_ratios),
        "beta_grid": [-1.0, 1.0, beta_points],
        "eta_grid": [*eta_range, eta_points, "log", "n = round(p / eta); eta = p / n reported"],
        "near_optimal": near_optimal,
        "search": {"grid": list(_joint.GRID), "points_per_decade": _joint.POINTS_PER_DECADE},
        "simulation": {"points": [list(x) for x in sim_points], "p": sim_p, "trials": trials,
                       "seed": seed, "method": method, "limit_gamma": LIMIT_GAMMA}
        if simulate else None,
        "versions": versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Figure 10: the profiles in gamma
# --------------------------------------------------------------------------------------

PROFILE_TASKS = (
    dict(n=200, p=100, N=1000, mu=1.0, mu_orth=1.5, beta=0.3, gamma_src=1.0),
    dict(n=100, p=400, N=3200, mu=1.5, mu_orth=1.0, beta=0.95, gamma_src=1.0),
    dict(n=400, p=200, N=1600, mu=1.5, mu_orth=1.0, beta=-0.6, gamma_src=1.0),
)


def figure10(
    *,
    tasks=PROFILE_TASKS,
    gamma_range=(1e-4, 1e4),
    theory_points=301,
    sim_points=7,
    simulate=True,
    trials=2000,
    seed=1001,
    method="reduced",
    progress=False,
) -> FigureData:
    """Figure 10 (THEORY §12): for three ridge-source tasks (weakly aligned with p < n,
    strongly aligned with a large source and p > n, anti-aligned), the profiles
    ``A(alpha*(gamma), gamma)``, ``A(1, gamma)`` and ``A(0, gamma)`` against gamma, their
    optima (:func:`rmt_alpha.optimal_alpha_gamma`; the limits gamma -> infinity drawn at the
    right edge) and Monte Carlo markers at ``sim_points`` gammas (one check per task)."""
    t0 = time.perf_counter()
    g = grid(*gamma_range, theory_points, log=True)
    sg = grid(*gamma_range, sim_points, log=True)
    fd = FigureData("fig10_profiles", 10, r"Accuracy against $\gamma$ with $\alpha$ tuned, 1 and 0")
    ra = simulator() if simulate else None
    progress_bar = bar(len(tasks) * sim_points if simulate else 0, "fig 10", progress)
    for t, spec in enumerate(tasks):
        task = dict(spec)
        n, p = task.pop("n"), task.pop("p")
        a_star = _theory.optimal_alpha(n, p, **task, gamma=g)
        curves = {"joint": (a_star, _theory.test_accuracy(a_star, n, p, **task, gamma=g)),
                  "fine-tuning": (np.ones_like(g), _theory.test_accuracy(1.0, n, p, **task, gamma=g)),
                  "no transfer": (np.zeros_like(g), _theory.test_accuracy(0.0, n, p, **task, gamma=g))}
        for name, (alpha, acc) in curves.items():
            for gi, ai, y in zip(g, alpha, acc):
                fd.rows.append({"series": "theory", "task": t, "profile": name, "gamma": gi,
                                "alpha": ai, "value": y})
        res = _joint.optimal_alpha_gamma(n, p, **task)
        fd.summary.append({"task": t, **spec, **{k: float(v) for k, v in res._asdict().items()}})
        if simulate:
            rows = []
            for i, gi in enumerate(sg):
                a_g = scalar(_theory.optimal_alpha(n, p, **task, gamma=gi))
                alphas = np.array([a_g, 1.0, 0.0])
                sim = ra.simulate(alphas, n, p, **task, gamma=gi, trials=trials,
                                  seed=seed + 100 * t + i, method=method)
                th = _theory.test_accuracy(alphas, n, p, **task, gamma=gi)
                for name, a, y, e, tt in zip(_OPTIMA, alphas, sim.accuracy, sim.accuracy_stderr, th):
                    rows.append({"series": "simulation", "task": t, "profile": name, "n": n,
                                 "p": p, **task, "gamma": gi, "alpha": a, "value": y,
                                 "stderr": e, "theory": tt, "z": float(z_score(y, e, tt))})
                tick(progress_bar, f"task {t}, gamma={gi:.2g}")
            fd.rows.extend(rows)
            fd.checks.append(check("accuracy", rows, trials=trials, p=p,
                                   note=f"task {t}: the three profiles"))
    close(progress_bar)
    fd.params = {
        "theory": "THEORY §12 (ridge source, §3-§4)",
        "task": {k: v for k, v in tasks[0].items() if k in ("mu", "mu_orth", "gamma_src")},
        "tasks": [dict(x) for x in tasks],
        "gamma_grid": grid_params(gamma_range, theory_points, sim_points),
        "simulation": {"trials": trials, "seed": seed, "method": method} if simulate else None,
        "versions": versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Drawing (matplotlib, through rmt_alpha.plots, is imported only here)
# --------------------------------------------------------------------------------------


def render9(d, fig):
    from matplotlib.colors import LogNorm, SymLogNorm

    from .. import plots

    ratios = d.params["source_ratios"]
    axes = np.atleast_2d(fig.subplots(len(ratios), 3, sharex=True, sharey=True))
    theory = d.select(series="theory")
    span = max(abs(r["alpha_gamma"]) for r in theory)
    floor = GAIN_FLOOR
    columns = (
        ("gain_fine_tuning", "magma", r"accuracy gain over $\alpha=1$ ($\gamma$ tuned)",
         LogNorm(floor, max(r["gain_fine_tuning"] for r in theory))),
        ("gain_no_transfer", "viridis", r"accuracy gain over $\alpha=0$ ($\gamma$ tuned)",
         LogNorm(floor, max(r["gain_no_transfer"] for r in theory))),
        ("alpha_gamma", "RdBu_r", r"source weight $c=\alpha^{**}\gamma^{**}$",
         SymLogNorm(1.0, vmin=-span, vmax=span)))
    bar_labels = ("accuracy gain", "accuracy gain", r"$c$ (symmetric log scale)")
    near = d.params["near_optimal"]
    sims = d.select(series="simulation", optimum="joint")
    for i, ratio in enumerate(ratios):
        rows = [r for r in theory if r["source_ratio"] == ratio]
        beta = np.array(list(dict.fromkeys(r["beta"] for r in rows)))
        eta = np.array(list(dict.fromkeys(r["eta"] for r in rows)))
        for j, (key, cmap, label, norm) in enumerate(columns):
            ax = axes[i, j]
            Z = np.array([r[key] for r in rows]).reshape(beta.size, eta.size)
            shown = Z if j == 2 else np.maximum(Z, floor)  # gains below the floor: its colour
            mesh = ax.pcolormesh(eta, beta, shown, norm=norm, cmap=cmap, shading="nearest",
                                 rasterized=True)
            ax.set_xscale("log")
            if j == 0 and Z.min() < near:
                cs = ax.contour(eta, beta, Z, levels=[near], colors="white", linewidths=1.0)
                ax.clabel(cs, fmt=rf"$\alpha=1$ within {100 * near:g} pt", fontsize=6)
            if j == 2:
                ax.contourf(eta, beta, Z, levels=[-np.inf, 0.0], colors="none", hatches=["///"])
                ax.text(0.03, 0.05, r"$\alpha^{**}<0$", transform=ax.transAxes, fontsize=7,
                        bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none"))
            for sm in sims:
                if sm["source_ratio"] == ratio:
                    for size, edge in ((7, "white"), (4.5, "black")):
                        ax.plot([sm["eta"]], [sm["beta"]], "o", ms=size, mfc="none", mec=edge,
                                mew=1.0)
            if i == 0:
                ax.set_title(label)
            if i == len(ratios) - 1:
                ax.set_xlabel(r"$\eta=p/n$")
                fig.colorbar(mesh, ax=axes[:, j], location="bottom", shrink=0.8, aspect=30,
                             label=bar_labels[j])
            if j == 0:
                ax.set_ylabel(rf"$N/p={ratio:g}$" + "\n" + r"task alignment $\beta$")
    fig.suptitle(d.title + " (ridge source, theory; circles: Monte Carlo points)   "
                 + plots.params_line(d.params["task"], ("p", "mu", "mu_orth", "gamma_src")),
                 fontsize=9)


def render10(d, fig):
    from .. import plots

    tasks = d.params["tasks"]
    axes = np.atleast_1d(fig.subplots(1, len(tasks), sharey=False))
    colors = {"joint": "black", "fine-tuning": plots.COLORS[0], "no transfer": plots.COLORS[1]}
    labels = {"joint": r"$\alpha=\alpha^*(\gamma)$", "fine-tuning": r"$\alpha=1$",
              "no transfer": r"$\alpha=0$"}
    fields = {"joint": ("gamma", "accuracy"), "fine-tuning": ("gamma_fine_tuning",
                                                              "accuracy_fine_tuning"),
              "no transfer": ("gamma_no_transfer", "accuracy_no_transfer")}
    for t, ax in enumerate(axes):
        s = d.summary[t]
        lo, hi = d.params["gamma_grid"]["theory"][:2]
        for name in _OPTIMA[::-1]:  # the joint profile on top
            th = d.select(series="theory", task=t, profile=name)
            sim = d.select(series="simulation", task=t, profile=name)
            plots.theory_and_simulation(
                [r["gamma"] for r in th], [r["value"] for r in th],
                sim_x=[r["gamma"] for r in sim] or None, sim_y=[r["value"] for r in sim] or None,
                sim_stderr=[r["stderr"] for r in sim] or None, label=labels[name],
                color=colors[name], ax=ax, logx=True, lw=1.6 if name == "joint" else 1.2,
                sim_label="_nolegend_")
            gamma, acc = (s[k] for k in fields[name])
            x, marker = ((hi, ">") if gamma > hi else (lo, "<") if gamma < lo else (gamma, "*"))
            ax.plot([x], [acc], marker=marker, ms=11 if marker == "*" else 8, color=colors[name],
                    mec="black", mew=0.6, ls="none", zorder=5, clip_on=False)
        ax.axhline(s["accuracy"], color="black", lw=0.8, ls=":", zorder=1)
        ax.set_xlabel(r"target ridge $\gamma$")
        if t == 0:
            ax.set_ylabel("test accuracy")
        ax.set_title(plots.params_line(s, ("n", "p", "N", "beta")) + "\n"
                     + rf"$\alpha^{{**}}\gamma^{{**}}={s['alpha_gamma']:.3g}$, "
                     + rf"$A^{{**}}={s['accuracy']:.4f}$")
    handles, names = axes[0].get_legend_handles_labels()
    if d.checks:
        plots.simulation_legend_entry(axes[0])
        handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=len(names), frameon=False)
    fig.suptitle(d.title + r"  (stars: optima; $\triangleright$: optimum in the limit "
                 r"$\gamma\to\infty$; dotted: $A^{**}$)   "
                 + plots.params_line(d.params["task"], ("mu", "mu_orth", "gamma_src")), fontsize=9)


FIGURES = (
    Figure(9, figure9, render9, (11.0, 9.5), simulated=True, settings={
        "full": dict(trials=2000),
        "quick": dict(trials=200, beta_points=21, eta_points=21),
        # tiny: the simulated task has figure 7's sizes (n, p, N) = (200, 100, 1000)
        "tiny": dict(trials=10, beta_points=5, eta_points=5, source_ratios=(2.0,),
                     sim_p=100, sim_points=((10.0, 0.3, 0.5),)),
    }),
    Figure(10, figure10, render10, (13.0, 4.6), simulated=True, settings={
        "full": dict(trials=2000),
        "quick": dict(trials=200, sim_points=4),
        "tiny": dict(trials=10, sim_points=1, theory_points=41, tasks=PROFILE_TASKS[:1]),
    }),
)
