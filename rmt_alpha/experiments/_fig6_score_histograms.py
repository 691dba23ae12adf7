"""Figure 6: histograms of the score per class against the predicted Gaussians (THEORY §8.6)."""

from __future__ import annotations

import time

import numpy as np
from scipy.special import ndtr

from .. import _theory
from ._common import bar, close, simulator, tick, versions
from ._figure import Figure
from ._record import FigureData
from ._validation import check, z_score


def figure6(
    *,
    N=5000,
    n=200,
    p=400,
    mu=1.5,
    mu_orth=1.0,
    gamma=1.0,
    gamma_src=1.0,
    betas=(0.3, 0.8),
    alphas=(0.1, 1.0, 10.0),
    simulate=True,
    hist_trials=1000,
    test_points=50,
    bins=50,
    trials=2000,
    seed=601,
    method="reduced",
    progress=False,
) -> FigureData:
    """Figure 6 (THEORY §8.6): histograms of the score ``w_alpha^T x`` per class against the
    predicted Gaussians ``N(±m(alpha), E2(alpha) - m(alpha)^2)``.

    Histograms pool ``hist_trials * test_points`` scores per class and panel (fresh source
    and target data per trial, ``test_points`` fresh test points per class). The moments are
    checked separately with ``trials`` trials of :func:`rmt_alpha.simulate` (exact
    per-trial mean and second moment, no test-set noise). With ``simulate=False`` only the
    predicted densities are tabulated.
    """
    t0 = time.perf_counter()
    task0 = dict(N=N, mu=mu, mu_orth=mu_orth, gamma=gamma, gamma_src=gamma_src)
    alphas = tuple(float(a) for a in alphas)
    fd = FigureData("fig6_score_histograms", 6, r"Score $w_\alpha^\top x$ per class vs the predicted Gaussians")
    ra = simulator() if simulate else None
    progress_bar = bar(2 * len(betas) if simulate else len(betas), "fig 6", progress)
    mean_rows, m2_rows = [], []
    for i, beta in enumerate(betas):
        task = dict(task0, beta=beta)
        m, e2 = (np.atleast_1d(x) for x in _theory.score_moments(np.array(alphas), n, p, **task))
        sd = np.sqrt(e2 - m * m)
        samples = None
        if simulate:
            samples = ra.simulate_scores(np.array(alphas), n, p, **task, trials=hist_trials,
                                         test_points=test_points, seed=seed + 10 * i,
                                         method=method)
            tick(progress_bar, f"beta={beta} scores")
        for j, a in enumerate(alphas):
            lo, hi = -m[j] - 4.5 * sd[j], m[j] + 4.5 * sd[j]
            edges = np.linspace(lo, hi, bins + 1)
            for label, sign in ((1, 1.0), (-1, -1.0)):
                mass = ndtr((edges[1:] - sign * m[j]) / sd[j]) - ndtr((edges[:-1] - sign * m[j]) / sd[j])
                pred = mass / np.diff(edges)
                if samples is not None:
                    x = np.asarray(samples.positive if label == 1 else samples.negative)[j]
                    counts, _ = np.histogram(x, bins=edges)
                    dens = counts / (x.size * np.diff(edges))
                    outside = int(np.sum((x < lo) | (x > hi)))
                else:
                    x, dens, outside = None, np.full(bins, np.nan), 0
                for k in range(bins):
                    fd.rows.append({"series": "histogram", "beta": beta, "alpha": a, "label": label,
                                    "bin_left": edges[k], "bin_right": edges[k + 1],
                                    "value": dens[k], "theory": pred[k]})
                if x is not None:
                    fd.summary.append({
                        "beta": beta, "alpha": a, "label": label, "samples": int(x.size),
                        "outside_histogram_range": outside,
                        "sample_mean": float(np.mean(x)), "predicted_mean": sign * float(m[j]),
                        "sample_std": float(np.std(x)), "predicted_std": float(sd[j]),
                    })
        if simulate:
            res = ra.simulate(np.array(alphas), n, p, **task, trials=trials, seed=seed + 10 * i + 1,
                              method=method)
            for j, a in enumerate(res.alpha):
                for q, val, err, th, into in (
                    ("score_mean", res.score_mean[j], res.score_mean_stderr[j], m[j], mean_rows),
                    ("score_second_moment", res.score_second_moment[j],
                     res.score_second_moment_stderr[j], e2[j], m2_rows),
                ):
                    row = {"series": "moments", "beta": beta, "alpha": float(a), "quantity": q,
                           "value": float(val), "stderr": float(err), "theory": float(th),
                           "z": float(z_score(val, err, th))}
                    fd.rows.append(row)
                    into.append(row)
            tick(progress_bar, f"beta={beta} moments")
        else:
            tick(progress_bar, f"beta={beta}")
    close(progress_bar)
    fd.params = {
        "theory": "THEORY §3-§4 (score moments), §8.6",
        "task": dict(task0, n=n, p=p),
        "betas": list(betas),
        "alphas": list(alphas),
        "histograms": {"trials": hist_trials, "test_points": test_points, "bins": bins,
                       "range": "predicted mean ± 4.5 predicted sd"} if simulate else None,
        "simulation": {"trials": trials, "seed": seed, "method": method} if simulate else None,
        "versions": versions(),
    }
    if simulate:
        fd.checks.append(check("score mean", mean_rows, trials=trials, p=p))
        fd.checks.append(check("score second moment", m2_rows, trials=trials, p=p))
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Drawing (matplotlib, through rmt_alpha.plots, is imported only here)
# --------------------------------------------------------------------------------------


def render6(d, fig):
    from .. import plots

    betas, alphas = d.params["betas"], d.params["alphas"]
    axes = fig.subplots(len(betas), len(alphas), squeeze=False)
    import rmt_alpha as ra

    task = d.params["task"]
    kw = {k: task[k] for k in ("N", "mu", "mu_orth", "gamma", "gamma_src")}
    for i, b in enumerate(betas):
        for j, a in enumerate(alphas):
            ax = axes[i, j]
            m, e2 = ra.score_moments(a, task["n"], task["p"], beta=b, **kw)
            pos = d.select(series="histogram", beta=b, alpha=a, label=1)
            neg = d.select(series="histogram", beta=b, alpha=a, label=-1)
            edges = np.array([r["bin_left"] for r in pos] + [pos[-1]["bin_right"]])
            pd_ = np.array([r["value"] for r in pos], float)
            nd_ = np.array([r["value"] for r in neg], float)
            plots.score_histogram(mean=m, second_moment=e2, edges=edges, ax=ax,
                                  positive_density=None if np.all(np.isnan(pd_)) else pd_,
                                  negative_density=None if np.all(np.isnan(nd_)) else nd_,
                                  title=rf"$\beta={b:g},\ \alpha={a:g}$", legend=False)
            if j:
                ax.set_ylabel("")
            if i < len(betas) - 1:
                ax.set_xlabel("")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    h = d.params.get("histograms")
    extra = (f"   ({h['trials']} trials $\\times$ {h['test_points']} test points per class)"
             if h else "")
    fig.suptitle(d.title + "\n" + plots.params_line(task, ("N", "n", "p", "mu", "mu_orth", "gamma",
                                                      "gamma_src")) + extra, fontsize=9)


def _trials_settings(trials):
    return {"trials": trials, "hist_trials": max(10, trials // 2)}


FIGURES = (
    Figure(6, figure6, render6, (10.0, 5.6), simulated=True, trials_settings=_trials_settings, settings={
        "full": dict(trials=2000, hist_trials=1000),
        "quick": dict(trials=200, hist_trials=100, test_points=50),
        "tiny": dict(trials=10, hist_trials=10, test_points=20, betas=(0.8,)),
    }),
)
