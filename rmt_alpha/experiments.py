"""The data behind the eight figures of THEORY §8: computing, kept apart from drawing.

Each ``figureK(...)`` function computes one figure's results -- the closed-form theory and,
where the figure has one, the Monte Carlo check -- and returns a :class:`FigureData`: a
table (one row per plotted point, written as CSV), the parameters that produced it (JSON),
derived numbers such as alpha* per curve, and the theory-vs-simulation checks that
``VALIDATION.md`` reports. :mod:`rmt_alpha.plots` draws a :class:`FigureData`;
:func:`reproduce` runs everything and writes the files. The defaults are the settings of
THEORY §8; every one of them can be overridden by keyword.

Simulations call :func:`rmt_alpha.simulate` and friends, which need JAX in float64: enable
it before calling a function with ``simulate=True``
(``jax.config.update("jax_enable_x64", True)``); this module does not flip it for you.

Theory vs simulation is judged by ``z = (simulation - theory) / standard error``. The theory
is the high-dimensional limit; at finite ``p`` the two differ by O(1/p) (THEORY §6), so with
enough trials ``|z|`` grows beyond noise level even when everything is right. The report
therefore gives the absolute gap next to ``|z|``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.special import ndtr, ndtri

from . import _theory
from ._regression import regression_optimal_alpha, regression_risk

__all__ = [
    "FIGURES",
    "FigureData",
    "figure1",
    "figure2",
    "figure3",
    "figure4",
    "figure5",
    "figure6",
    "figure7",
    "figure8",
    "comparison_table",
    "noise_max_z",
    "reproduce",
    "validation_markdown",
]


# --------------------------------------------------------------------------------------
# The result container
# --------------------------------------------------------------------------------------


@dataclass
class FigureData:
    """One figure's computed results.

    * ``name``: file stem (``fig1_accuracy_vs_alpha``); ``number``: 1 ... 8; ``title``.
    * ``rows``: the table, one dict per plotted point. A ``series`` column says what the
      row is (``theory``, ``simulation``, ``histogram`` ...); simulation rows carry the
      simulated value, its standard error, the theory at the same point and ``z``.
    * ``params``: everything needed to recompute the figure (JSON-serialisable).
    * ``summary``: derived numbers per curve (alpha*, chance-level alpha, accuracies).
    * ``checks``: theory-vs-simulation comparisons, one dict per compared quantity with
      ``quantity, points, trials, max_abs_z, max_abs_gap, p``; empty for theory-only figures.
    """

    name: str
    number: int
    title: str
    rows: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    summary: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def simulated(self) -> bool:
        return bool(self.checks)

    def select(self, **where) -> list:
        """Rows whose columns equal the given values (``series="theory"``, ``beta=0.5``...)."""
        return [r for r in self.rows if all(_same(r.get(k), v) for k, v in where.items())]

    def column(self, name, **where) -> np.ndarray:
        """One column of the selected rows as a numpy array."""
        return np.array([r.get(name) for r in self.select(**where)])

    def columns(self) -> list:
        cols = {}
        for r in self.rows:
            for k in r:
                cols.setdefault(k, None)
        return list(cols)

    def to_csv(self, path) -> None:
        cols = self.columns()
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in self.rows:
                w.writerow([_csv_value(r.get(c)) for c in cols])

    def to_json_dict(self) -> dict:
        return _jsonable(
            {
                "figure": self.number,
                "name": self.name,
                "title": self.title,
                "params": self.params,
                "summary": self.summary,
                "checks": self.checks,
                "seconds": round(self.seconds, 2),
            }
        )

    def to_json(self, path) -> None:
        with open(path, "w") as f:
            json.dump(self.to_json_dict(), f, indent=2, allow_nan=False)
            f.write("\n")


def _same(a, b) -> bool:
    if a is b or a == b:
        return True
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15)
        except (TypeError, ValueError):
            return False
    return a == b


def _csv_value(x) -> str:
    if x is None:
        return ""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return "nan" if math.isnan(x) else format(float(x), ".10g")
    return str(x)


def _jsonable(x):
    """Plain JSON types; NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _f(x) -> float:
    return float(np.asarray(x))


def _bar(total, desc, progress):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True)


def _tick(bar, postfix=None):
    if bar is not None:
        if postfix:
            bar.set_postfix_str(postfix, refresh=False)
        bar.update(1)


def _close(bar):
    if bar is not None:
        bar.close()


def _z(sim, stderr, theory):
    sim, stderr, theory = (np.asarray(v, dtype=float) for v in (sim, stderr, theory))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(stderr > 0, (sim - theory) / stderr, np.nan)


def _check(quantity, rows, *, trials, p, note=""):
    """Summarise the simulation rows of one quantity into a check dict."""
    z = np.array([r["z"] for r in rows], dtype=float)
    gap = np.array([r["value"] - r["theory"] for r in rows], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(gap) / np.abs(np.array([r["theory"] for r in rows], dtype=float))
    i = int(np.nanargmax(np.abs(z))) if np.isfinite(z).any() else 0
    return {
        "quantity": quantity,
        "points": len(rows),
        "trials": trials,
        "p": p,
        "max_abs_z": float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else float("nan"),
        "max_abs_gap": float(np.max(np.abs(gap))),
        "max_rel_gap": float(np.nanmax(rel)) if np.isfinite(rel).any() else float("nan"),
        "median_stderr": float(np.median([r["stderr"] for r in rows])),
        "noise_max_z_95": noise_max_z(len(rows)),
        "worst_point": {k: v for k, v in rows[i].items() if k not in ("series",)},
        "note": note,
    }


def noise_max_z(points: int, level: float = 0.95) -> float:
    """The ``level`` quantile of ``max |z|`` over ``points`` independent standard normals.

    A reference for "within noise": a larger ``max |z|`` is unlikely from Monte Carlo noise
    alone. Points of one curve share their trials and are positively correlated, which only
    makes the true quantile smaller, so the reference is generous.
    """
    if points < 1:
        return float("nan")
    tail = 1.0 - level ** (1.0 / points)  # P(|z| > t) per point
    return float(ndtri(1.0 - tail / 2.0))


def _simulate():
    """The Monte Carlo entry points (imported late: they need JAX)."""
    import rmt_alpha as ra

    missing = [f for f in ("simulate", "simulate_scores", "simulate_regression") if not hasattr(ra, f)]
    if missing:
        raise RuntimeError(
            f"this rmt_alpha has no {', '.join(missing)}: the Monte Carlo is not available"
        )
    _require_x64()
    return ra


def _require_x64():
    import jax

    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "the simulations run in float64: call jax.config.update('jax_enable_x64', True) "
            "before simulating (the rmt-alpha command does this itself)"
        )


def _versions() -> dict:
    import rmt_alpha

    out = {"rmt_alpha": rmt_alpha.__version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        import jax

        out["jax"] = jax.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def _grid(lo, hi, count, *, log=False):
    return np.logspace(np.log10(lo), np.log10(hi), count) if log else np.linspace(lo, hi, count)


# --------------------------------------------------------------------------------------
# Figure 1: accuracy vs alpha
# --------------------------------------------------------------------------------------


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
    alpha = _grid(*alpha_range, theory_points)
    sim_alpha = _grid(*alpha_range, sim_points)
    fd = FigureData("fig1_accuracy_vs_alpha", 1, r"Test accuracy vs $\alpha$")
    ra = _simulate() if simulate else None
    bar = _bar(len(betas), "fig 1", progress)
    sim_rows = []
    for i, beta in enumerate(betas):
        task = dict(task0, beta=beta)
        acc = _theory.test_accuracy(alpha, n, p, **task)
        for a, y in zip(alpha, acc):
            fd.rows.append({"series": "theory", "beta": beta, "alpha": a, "value": y})
        a_star = _f(_theory.optimal_alpha(n, p, **task))
        a_bar = _f(_theory.chance_alpha(n, p, **task))
        s = {
            "beta": beta,
            "optimal_alpha": a_star,
            "chance_alpha": a_bar,
            "accuracy_at_optimal": _f(_theory.test_accuracy(a_star, n, p, **task)),
            "accuracy_at_1": _f(_theory.test_accuracy(1.0, n, p, **task)),
            "accuracy_at_0": _f(_theory.test_accuracy(0.0, n, p, **task)),
            "source_accuracy": _f(_theory.source_accuracy(p, N=N, mu=mu, beta=beta, gamma_src=gamma_src)),
        }
        if simulate and (sim_betas is None or any(_same(beta, b) for b in sim_betas)):
            res = ra.simulate(
                sim_alpha, n, p, **task, trials=trials, seed=seed + i, method=method
            )
            th = _theory.test_accuracy(res.alpha, n, p, **task)
            z = _z(res.accuracy, res.accuracy_stderr, th)
            for a, y, e, t, zz in zip(res.alpha, res.accuracy, res.accuracy_stderr, th, z):
                row = {"series": "simulation", "beta": beta, "alpha": a, "value": y,
                       "stderr": e, "theory": t, "z": zz}
                fd.rows.append(row)
                sim_rows.append(row)
            s["sim_optimal_alpha"] = _f(res.optimal_alpha)
            s["sim_optimal_alpha_stderr"] = _f(res.optimal_alpha_stderr)
        fd.summary.append(s)
        _tick(bar, f"beta={beta}")
    _close(bar)
    fd.params = {
        "theory": "THEORY §3-§4 (ridge source), §8.1",
        "task": dict(task0, n=n, p=p),
        "betas": list(betas),
        "alpha_grid": {"theory": [*alpha_range, theory_points], "simulation": [*alpha_range, sim_points]},
        "simulation": {"trials": trials, "seed": seed, "method": method,
                       "betas": list(betas if sim_betas is None else sim_betas)} if simulate else None,
        "versions": _versions(),
    }
    if sim_rows:
        fd.checks.append(_check("accuracy", sim_rows, trials=trials, p=p))
        fd.checks.append(_alpha_star_check(fd.summary, trials=trials, p=p))
    fd.seconds = time.perf_counter() - t0
    return fd


def _alpha_star_check(summary, *, trials, p, key="beta"):
    rows = []
    for s in summary:
        if "sim_optimal_alpha" not in s:
            continue
        z = _z(s["sim_optimal_alpha"], s["sim_optimal_alpha_stderr"], s["optimal_alpha"])
        rows.append({key: s[key], "value": s["sim_optimal_alpha"], "stderr": s["sim_optimal_alpha_stderr"],
                     "theory": s["optimal_alpha"], "z": float(z)})
    return _check("optimal alpha", rows, trials=trials, p=p)


# --------------------------------------------------------------------------------------
# Figures 2-3: alpha* for a fixed source
# --------------------------------------------------------------------------------------


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
            "optimal_alpha_at_alignment_0.5": _f(_theory.optimal_alpha(
                n, p, gamma=gamma, target_norm2=target_norm2, alignment=0.5 * cmax,
                source_norm2=source_norm2)),
            "optimal_alpha_at_alignment_1": _f(a[-1]),
        })
    fd.params = {
        "theory": "THEORY §3 (fixed source), §8.2",
        "task": {"n": n, "gamma": gamma, "target_norm2": target_norm2, "source_norm2": source_norm2},
        "ps": list(ps),
        "alignment_grid": f"{points} uniform points on (0, {cmax:g}] plus 60 geometric points towards {cmax:g}",
        "simulation": None,
        "versions": _versions(),
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
    gamma = _grid(*gamma_range, points, log=True)
    fd = FigureData("fig3_optimal_alpha_vs_gamma", 3, r"$\alpha^*$ vs target ridge $\gamma$")
    for s in alignments:
        a = _theory.optimal_alpha(n, p, gamma=gamma, target_norm2=target_norm2, alignment=s,
                                  source_norm2=source_norm2)
        for g, y in zip(gamma, a):
            fd.rows.append({"series": "theory", "alignment": s, "gamma": g, "value": y})
        fd.summary.append({"alignment": s, "optimal_alpha_at_min_gamma": _f(a[0]),
                           "optimal_alpha_at_max_gamma": _f(a[-1])})
    fd.params = {
        "theory": "THEORY §3 (fixed source), §8.3",
        "task": {"n": n, "p": p, "target_norm2": target_norm2, "source_norm2": source_norm2},
        "alignments": list(alignments),
        "gamma_grid": [*gamma_range, points, "log"],
        "simulation": None,
        "versions": _versions(),
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
    beta = _grid(0.0, 1.0, points)
    fd = FigureData("fig4_optimal_alpha_vs_beta", 4, r"$\alpha^*$ vs task alignment $\beta$")
    for p in ps:
        a = _theory.optimal_alpha(n, p, **task0, beta=beta)
        for b, y in zip(beta, a):
            fd.rows.append({"series": "theory", "p": p, "beta": b, "value": y})
    sim_rows = []
    if simulate:
        ra = _simulate()
        grid = _grid(*sim_alpha)
        bar = _bar(len(sim_betas), "fig 4", progress)
        for i, b in enumerate(sim_betas):
            res = ra.simulate(grid, n, sim_p, **task0, beta=b, trials=trials, seed=seed + i,
                              method=method)
            th = _f(_theory.optimal_alpha(n, sim_p, **task0, beta=b))
            row = {"series": "simulation", "p": sim_p, "beta": b, "value": _f(res.optimal_alpha),
                   "stderr": _f(res.optimal_alpha_stderr), "theory": th,
                   "z": float(_z(res.optimal_alpha, res.optimal_alpha_stderr, th))}
            fd.rows.append(row)
            sim_rows.append(row)
            _tick(bar, f"beta={b}")
        _close(bar)
        fd.checks.append(_check("optimal alpha", sim_rows, trials=trials, p=sim_p,
                                note=f"sparse check at p = {sim_p}"))
    for p in ps:
        fd.summary.append({
            "p": p,
            "eta": p / n,
            "optimal_alpha_at_beta_0.5": _f(_theory.optimal_alpha(n, p, **task0, beta=0.5)),
            "optimal_alpha_at_beta_1": _f(_theory.optimal_alpha(n, p, **task0, beta=1.0)),
        })
    fd.params = {
        "theory": "THEORY §3-§4 (ridge source), §8.4",
        "task": dict(task0, n=n),
        "ps": list(ps),
        "beta_grid": [0.0, 1.0, points],
        "simulation": {"p": sim_p, "betas": list(sim_betas), "alpha_grid": list(sim_alpha),
                       "trials": trials, "seed": seed, "method": method} if simulate else None,
        "versions": _versions(),
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
    g = _grid(*gamma_range, gamma_points, log=True)
    gs = _grid(*gamma_src_range, gamma_src_points, log=True)
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
        "versions": _versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Figure 6: score histograms vs the predicted Gaussians
# --------------------------------------------------------------------------------------


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
    ra = _simulate() if simulate else None
    bar = _bar(2 * len(betas) if simulate else len(betas), "fig 6", progress)
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
            _tick(bar, f"beta={beta} scores")
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
                           "z": float(_z(val, err, th))}
                    fd.rows.append(row)
                    into.append(row)
            _tick(bar, f"beta={beta} moments")
        else:
            _tick(bar, f"beta={beta}")
    _close(bar)
    fd.params = {
        "theory": "THEORY §3-§4 (score moments), §8.6",
        "task": dict(task0, n=n, p=p),
        "betas": list(betas),
        "alphas": list(alphas),
        "histograms": {"trials": hist_trials, "test_points": test_points, "bins": bins,
                       "range": "predicted mean ± 4.5 predicted sd"} if simulate else None,
        "simulation": {"trials": trials, "seed": seed, "method": method} if simulate else None,
        "versions": _versions(),
    }
    if simulate:
        fd.checks.append(_check("score mean", mean_rows, trials=trials, p=p))
        fd.checks.append(_check("score second moment", m2_rows, trials=trials, p=p))
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Figure 7: accuracy vs gamma
# --------------------------------------------------------------------------------------


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
    g = _grid(*gamma_range, theory_points, log=True)
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
        ra = _simulate()
        sg = _grid(*gamma_range, sim_points, log=True)
        bar = _bar(len(sg), "fig 7", progress)
        for i, gi in enumerate(sg):
            res = ra.simulate(np.array(alphas), n, p, **task0, gamma=gi, trials=trials,
                              seed=seed + i, method=method)
            th = _theory.test_accuracy(res.alpha, n, p, **task0, gamma=gi)
            z = _z(res.accuracy, res.accuracy_stderr, th)
            for a, y, e, t, zz in zip(res.alpha, res.accuracy, res.accuracy_stderr, th, z):
                row = {"series": "simulation", "alpha": float(a), "gamma": gi, "value": y,
                       "stderr": e, "theory": t, "z": zz}
                fd.rows.append(row)
                sim_rows.append(row)
            _tick(bar, f"gamma={gi:.2g}")
        _close(bar)
        fd.checks.append(_check("accuracy", sim_rows, trials=trials, p=p))
    i_max = int(np.argmax(_theory.test_accuracy(alphas[0], n, p, **task0, gamma=g)))
    fd.summary.append({"alpha": alphas[0], "best_gamma": float(g[i_max]),
                       "best_accuracy": float(_theory.test_accuracy(alphas[0], n, p, **task0, gamma=g[i_max]))})
    fd.params = {
        "theory": "THEORY §3-§4 (ridge source), §8.7",
        "task": dict(task0, n=n, p=p),
        "alphas": list(alphas),
        "gamma_grid": {"theory": [*gamma_range, theory_points, "log"],
                       "simulation": [*gamma_range, sim_points, "log"]},
        "simulation": {"trials": trials, "seed": seed, "method": method} if simulate else None,
        "versions": _versions(),
    }
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Figure 8: regression risk vs alpha
# --------------------------------------------------------------------------------------


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
    alpha = _grid(*alpha_range, theory_points)
    sim_alpha = _grid(*alpha_range, sim_points)
    fd = FigureData("fig8_regression_risk", 8, r"Regression test risk vs $\alpha$")
    ra = _simulate() if simulate else None
    bar = _bar(len(betas), "fig 8", progress)
    sim_rows = []
    Ws0 = None
    for i, beta in enumerate(betas):
        Ws, Wt = regression_weights(d, p, beta, weights_seed)
        Ws0 = Ws
        kw = dict(W_source=Ws, W_target=Wt, sigma=sigma, gamma=gamma)
        risk = regression_risk(alpha, n, p, **kw)
        for a, y in zip(alpha, risk):
            fd.rows.append({"series": "theory", "beta": beta, "alpha": a, "value": y})
        a_star = _f(regression_optimal_alpha(Ws, Wt))
        fd.summary.append({"beta": beta, "optimal_alpha": a_star,
                           "risk_at_optimal": _f(regression_risk(a_star, n, p, **kw)),
                           "risk_at_1": _f(regression_risk(1.0, n, p, **kw)),
                           "risk_at_0": _f(regression_risk(0.0, n, p, **kw))})
        if simulate:
            res = ra.simulate_regression(sim_alpha, n, p, **kw, trials=trials, seed=seed + i)
            th = regression_risk(res.alpha, n, p, **kw)
            z = _z(res.risk, res.risk_stderr, th)
            for a, y, e, t, zz in zip(res.alpha, res.risk, res.risk_stderr, th, z):
                row = {"series": "simulation", "beta": beta, "alpha": a, "value": y, "stderr": e,
                       "theory": t, "z": zz}
                fd.rows.append(row)
                sim_rows.append(row)
        _tick(bar, f"beta={beta}")
    _close(bar)
    _, Wt1 = regression_weights(d, p, 0.0, weights_seed)
    fd.params = {
        "theory": "THEORY §5, §8.8",
        "task": {"n": n, "p": p, "d": d, "sigma": sigma, "gamma": gamma},
        "betas": list(betas),
        "weights": {"seed": weights_seed, "construction": "W_s iid N(0,1); B iid N(0,1) projected "
                    "orthogonally to W_s in Frobenius inner product; W_t = beta W_s + B",
                    "W_source_fro2": float(np.sum(Ws0 * Ws0)), "B_fro2": float(np.sum(Wt1 * Wt1)),
                    "W_source": Ws0, "B": Wt1},
        "alpha_grid": {"theory": [*alpha_range, theory_points], "simulation": [*alpha_range, sim_points]},
        "simulation": {"trials": trials, "seed": seed} if simulate else None,
        "versions": _versions(),
    }
    if simulate:
        fd.checks.append(_check("risk", sim_rows, trials=trials, p=p,
                                note="relative gap is the meaningful scale: risk is O(||W||^2)"))
    fd.seconds = time.perf_counter() - t0
    return fd


# --------------------------------------------------------------------------------------
# Registry, reports and the reproduce driver
# --------------------------------------------------------------------------------------

FIGURES: dict[int, Callable[..., FigureData]] = {
    1: figure1, 2: figure2, 3: figure3, 4: figure4,
    5: figure5, 6: figure6, 7: figure7, 8: figure8,
}

SIMULATED = (1, 4, 6, 7, 8)


_QUANTITY = {"accuracy": "accuracy", "score mean": "score_mean",
             "score second moment": "score_second_moment", "optimal alpha": "optimal_alpha"}
_THEORY_OF = {"accuracy": "test_accuracy", "optimal alpha": "optimal_alpha"}


def finite_size_check(data: FigureData, check: dict, *, scales=(1, 2, 4), trials=8000,
                      seed=90_000, progress=False) -> list:
    """Re-simulate the worst point of a check at ``p, n, N`` times each of ``scales``
    (fixed ratios, so the same theory), with fresh seeds and ``trials`` trials.

    THEORY §6: a real finite-size gap shrinks as 1/p -- ``gap * p`` stays roughly constant --
    while a wrong formula leaves a gap that does not shrink. Scale 1 re-measures the worst
    point without the selection bias of having picked the largest ``|z|`` among many.
    Classification figures only (1, 4, 6, 7). Returns one row per scale.
    """
    import rmt_alpha as ra

    if data.number not in (1, 4, 6, 7) or check["quantity"] not in _QUANTITY:
        raise ValueError(f"no finite-size check for figure {data.number}, {check['quantity']}")
    _require_x64()
    point = dict(check["worst_point"])
    task = {k: v for k, v in data.params["task"].items()}
    for k in ("beta", "gamma", "p"):
        if k in point:
            task[k] = point[k]
    sim = data.params["simulation"]
    if check["quantity"] == "optimal alpha":
        alpha = _grid(*sim["alpha_grid"])
    else:
        alpha = np.array([float(point["alpha"])])
    rows = []
    bar = _bar(len(scales), f"fig {data.number} finite size", progress)
    for i, f in enumerate(scales):
        t = dict(task)
        n, p = int(t.pop("n")) * f, int(t.pop("p")) * f
        t["N"] = int(t["N"]) * f
        res = ra.simulate(alpha, n, p, **t, trials=trials, seed=seed + i, method=sim["method"])
        q = check["quantity"]
        if q == "optimal alpha":
            value, err = _f(res.optimal_alpha), _f(res.optimal_alpha_stderr)
            theory = _f(_theory.optimal_alpha(n, p, **t))
        else:
            value = _f(getattr(res, _QUANTITY[q])[0])
            err = _f(getattr(res, _QUANTITY[q] + "_stderr")[0])
            m, e2 = _theory.score_moments(alpha[0], n, p, **t)
            theory = {"accuracy": _f(_theory.test_accuracy(alpha[0], n, p, **t)),
                      "score mean": _f(m), "score second moment": _f(e2)}[q]
        gap = value - theory
        rows.append({"scale": f, "N": t["N"], "n": n, "p": p, "trials": trials, "theory": theory,
                     "value": value, "stderr": err, "gap": gap, "z": gap / err if err > 0 else float("nan"),
                     "gap_times_p": gap * p, "gap_times_p_stderr": err * p})
        _tick(bar, f"p={p}")
    _close(bar)
    return rows


MODES = ("full", "quick", "tiny")


def run_settings(mode="full", *, trials=None) -> dict:
    """Keyword arguments of each figure function for a ``reproduce`` run.

    * ``full``: the committed figures (2000 trials per point, 4000 for figure 8);
    * ``quick``: every figure, fewer trials and simulated points;
    * ``tiny``: a smoke test -- one simulated setting per figure, 10 trials.

    ``trials`` overrides the Monte Carlo trial count of every simulated figure (the score
    histograms of figure 6 then use ``max(10, trials // 2)`` trials of 50 test points).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "full":
        base = {1: dict(trials=2000), 4: dict(trials=2000), 6: dict(trials=2000, hist_trials=1000),
                7: dict(trials=2000), 8: dict(trials=4000)}
    elif mode == "quick":
        base = {1: dict(trials=200, sim_points=21), 4: dict(trials=200, sim_betas=(0.5, 1.0)),
                6: dict(trials=200, hist_trials=100, test_points=50),
                7: dict(trials=200, sim_points=4), 8: dict(trials=200, sim_points=17)}
    else:
        base = {1: dict(trials=10, sim_points=11, sim_betas=(0.5,)),
                4: dict(trials=10, sim_betas=(1.0,)),
                6: dict(trials=10, hist_trials=10, test_points=20, betas=(0.8,)),
                7: dict(trials=10, sim_points=1), 8: dict(trials=10, sim_points=9)}
        base[5] = dict(gamma_points=15, gamma_src_points=9)
    out = {k: dict(base.get(k, {})) for k in FIGURES}
    if trials is not None:
        for k in SIMULATED:
            out[k]["trials"] = trials
            if k == 6:
                out[k]["hist_trials"] = max(10, trials // 2)
    return out


def comparison_table(data: FigureData, limit: int | None = None) -> str:
    """Plain-text table of the simulated points of one figure: theory, simulation ±
    standard error, gap and z (for notebooks and the terminal)."""
    rows = [r for r in data.rows if "z" in r]
    if not rows:
        return f"figure {data.number}: theory only (no simulation)"
    keys = [k for k in rows[0] if k not in ("series", "value", "stderr", "theory", "z")]
    head = keys + ["theory", "simulation", "stderr", "gap", "z"]
    lines = []
    shown = rows if limit is None else rows[:limit]
    for r in shown:
        lines.append([_fmt(r[k]) for k in keys] + [
            f"{r['theory']:.5g}", f"{r['value']:.5g}", f"{r['stderr']:.2g}",
            f"{r['value'] - r['theory']:+.2e}", f"{r['z']:+.2f}"])
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    out += ["  ".join(c.rjust(w) for c, w in zip(l, widths)) for l in lines]
    if limit is not None and len(rows) > limit:
        out.append(f"... ({len(rows) - limit} more rows)")
    for c in data.checks:
        out.append(
            f"{c['quantity']}: {c['points']} points, {c['trials']} trials each: "
            f"max |z| = {c['max_abs_z']:.2f} (noise-only 95% level {c['noise_max_z_95']:.2f}), "
            f"max |theory - simulation| = {c['max_abs_gap']:.2e}"
        )
    return "\n".join(out)


def _fmt(x) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{x:.4g}"
    return str(x)


def _plain(title: str) -> str:
    """A mathtext title as plain text for Markdown tables."""
    for a, b in ((r"$\alpha^*$", "α*"), (r"$\alpha$", "α"), (r"$\beta$", "β"), (r"$\gamma$", "γ"),
                 (r"$(\gamma, \tilde\gamma)$", "(γ, γ̃)"), (r"$w_\alpha^\top x$", "w_αᵀx")):
        title = title.replace(a, b)
    return title


def _verdict(c) -> str:
    if not math.isfinite(c["max_abs_z"]):
        return "no standard error"
    if c["max_abs_z"] <= c["noise_max_z_95"]:
        return "within Monte Carlo noise"
    w = c["worst_point"]
    rel = abs(w["value"] - w["theory"]) / abs(w["theory"]) if w["theory"] else float("nan")
    return (f"above the noise level; relative gap at the worst point {rel:.1e} = "
            f"{rel * c['p']:.2f}/p (see the finite-size check below)"
            if c.get("finite_size") else
            f"above the noise level; relative gap at the worst point {rel:.1e} = "
            f"{rel * c['p']:.2f}/p")


def validation_markdown(figures, *, command=None, seconds=None) -> str:
    """The ``VALIDATION.md`` report for a list of :class:`FigureData`."""
    by_number = {f.number: f for f in figures}
    lines = [
        "# Theory vs simulation",
        "",
        f"Generated by `{command or 'rmt-alpha reproduce'}`"
        + (f" in {seconds:.0f} s on {os.cpu_count()} CPU cores" if seconds is not None else "")
        + f" (rmt_alpha {_versions()['rmt_alpha']}). Do not edit by hand.",
        "",
        "For every simulated point, `z = (simulation − theory) / standard error`; the table gives "
        "the largest `|z|` and the largest absolute gap `|theory − simulation|` over the points of "
        "each figure. The *noise level* column is the 95 % quantile of the largest `|z|` of that "
        "many independent standard normals: a `max |z|` below it is what Monte Carlo noise alone "
        "produces (the points of one curve share trials, so the true quantile is lower still).",
        "",
        "The theory is the high-dimensional limit. At finite `p` the expected simulation and the "
        "theory differ by O(1/p) (THEORY §6: the gap halves each time `p, n, N` double at fixed "
        "ratios; the Monte Carlo accuracy `E[Φ(·)]` and the theory `Φ(m/√V)` differ by O(1/p) too), "
        "so with enough trials `|z|` grows beyond noise level even though everything is right. "
        "The absolute gap is the number to compare with `1/p`.",
        "",
        "| figure | quantity | points | trials per point | p | max \\|z\\| | noise level | "
        "max \\|theory − sim\\| | max relative gap | median std. error | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for num in sorted(by_number):
        f = by_number[num]
        if not f.checks:
            lines.append(f"| {num} | {_plain(f.title)} | — | — | — | — | — | — | — | — | "
                         "theory only (no simulation) |")
            continue
        for c in f.checks:
            lines.append(
                f"| {num} | {c['quantity']} | {c['points']} | {c['trials']} | {c['p']} | "
                f"{c['max_abs_z']:.2f} | {c['noise_max_z_95']:.2f} | {c['max_abs_gap']:.2e} | "
                f"{c['max_rel_gap']:.1e} | {c['median_stderr']:.1e} | {_verdict(c)} |"
            )
    lines += ["", "## Worst point per check", ""]
    for num in sorted(by_number):
        for c in by_number[num].checks:
            w = c["worst_point"]
            where = ", ".join(f"{k} = {_fmt(v)}" for k, v in w.items()
                              if k not in ("value", "stderr", "theory", "z"))
            lines.append(
                f"* figure {num}, {c['quantity']}: at {where}: theory {w['theory']:.6g}, "
                f"simulation {w['value']:.6g} ± {w['stderr']:.2g} (z = {w['z']:+.2f})."
                + (f" {c['note']}." if c.get("note") else "")
            )
    fs = [(num, c) for num in sorted(by_number) for c in by_number[num].checks if c.get("finite_size")]
    if fs:
        lines += ["", "## Finite-size check of the checks above the noise level", "",
                  "The worst point is simulated again with fresh seeds at `p, n, N` times 1, 2 "
                  "and 4 (same ratios, hence the same theory). A finite-size gap shrinks like "
                  "1/p, so `gap × p` stays about constant; a wrong formula would leave a gap "
                  "that does not shrink. Scale 1 also re-measures the worst point without the "
                  "selection bias of having picked the largest `|z|` among many points.", ""]
        for num, c in fs:
            w = c["worst_point"]
            where = ", ".join(f"{k} = {_fmt(v)}" for k, v in w.items()
                              if k not in ("value", "stderr", "theory", "z", "quantity"))
            lines += [f"Figure {num}, {c['quantity']} at {where}:", "",
                      "| p | n | N | trials | theory | simulation | gap | z | gap × p |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for r in c["finite_size"]:
                lines.append(
                    f"| {r['p']} | {r['n']} | {r['N']} | {r['trials']} | {r['theory']:.6g} | "
                    f"{r['value']:.6g} ± {r['stderr']:.1e} | {r['gap']:+.2e} | {r['z']:+.2f} | "
                    f"{r['gap_times_p']:+.3f} ± {r['gap_times_p_stderr']:.3f} |")
            lines.append("")
    theory_only = [f"{n}" for n in sorted(by_number) if not by_number[n].checks]
    if theory_only:
        lines += ["", "Figures " + ", ".join(theory_only) + " are theory only: they plot closed "
                  "forms (THEORY §3-§4) with no Monte Carlo of their own."
                  + (" Figure 4 carries a sparse Monte Carlo check of α* (above)." if 4 in by_number
                     and by_number[4].checks else "")]
    lines.append("")
    return "\n".join(lines)


def reproduce(out="figures", *, mode="full", trials=None, figures=None, pdf=True, progress=True,
              command=None, log=print, finite_size=None) -> list:
    """Compute, save (CSV + JSON), draw (PNG + PDF) every figure and write ``VALIDATION.md``.

    Every check whose ``max |z|`` is above the noise level gets a :func:`finite_size_check`
    of its worst point (``finite_size``: run them; default: in the full mode only).
    Returns the list of :class:`FigureData`. Needs JAX float64 enabled for the simulations.
    """
    if finite_size is None:
        finite_size = mode == "full"
    from . import plots

    numbers = sorted(figures) if figures else sorted(FIGURES)
    settings = run_settings(mode, trials=trials)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    results = []
    for num in numbers:
        kw = dict(settings[num])
        if num in SIMULATED:
            kw["progress"] = progress
        data = FIGURES[num](**kw)
        data.params["run"] = {"mode": mode, "trials_override": trials}
        for c in data.checks:
            if (finite_size and c["max_abs_z"] > c["noise_max_z_95"] and num in (1, 4, 6, 7)):
                c["finite_size"] = finite_size_check(data, c, progress=progress)
        base = os.path.join(out, data.name)
        data.to_csv(base + ".csv")
        data.to_json(base + ".json")
        fig = plots.render(data)
        fig.savefig(base + ".png", dpi=150)
        if pdf:
            fig.savefig(base + ".pdf", metadata={"CreationDate": None})  # reproducible bytes
        plots.close(fig)
        results.append(data)
        if log:
            log(f"figure {num}: {base}.png ({data.seconds:.1f} s)")
    seconds = time.perf_counter() - t0
    with open(os.path.join(out, "VALIDATION.md"), "w") as f:
        f.write(validation_markdown(results, command=command, seconds=seconds))
    return results
