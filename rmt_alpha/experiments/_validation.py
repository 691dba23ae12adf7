"""Theory against simulation: z-scores, the noise level of ``max |z|``, the finite-size
re-run of a worst point, and the ``VALIDATION.md`` report.

Theory vs simulation is judged by ``z = (simulation - theory) / standard error``. The theory
is the high-dimensional limit; at finite ``p`` the two differ by O(1/p) (THEORY §6), so with
enough trials ``|z|`` grows beyond noise level even when everything is right. The report
therefore gives the absolute gap next to ``|z|``, and re-simulates the worst point of a check
above the noise level at ``p``, ``2p``, ``4p`` (:func:`finite_size_check`).
"""

from __future__ import annotations

import math
import os

import numpy as np
from scipy.special import ndtri

from .. import _theory
from ._common import bar, close, grid, require_x64, scalar, tick, versions
from ._record import FigureData


def z_score(sim, stderr, theory):
    """``(sim - theory) / stderr``, ``nan`` where the standard error is 0."""
    sim, stderr, theory = (np.asarray(v, dtype=float) for v in (sim, stderr, theory))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(stderr > 0, (sim - theory) / stderr, np.nan)


def accuracy_rows(res, theory, **where) -> list:
    """The rows of one simulated accuracy curve: per alpha of the simulation result ``res``,
    ``series="simulation"``, the labels ``where`` (e.g. ``beta=0.5``), ``alpha``, the simulated
    accuracy ``value`` with its ``stderr``, the ``theory`` and :func:`z_score`."""
    z = z_score(res.accuracy, res.accuracy_stderr, theory)
    return [{"series": "simulation", **where, "alpha": a, "value": y, "stderr": e, "theory": t,
             "z": zz} for a, y, e, t, zz in zip(res.alpha, res.accuracy, res.accuracy_stderr,
                                                theory, z)]


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


def check(quantity, rows, *, trials, p, note=""):
    """Summarise the simulation rows of one quantity (columns ``value, stderr, theory, z``)
    into a check dict."""
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


def alpha_star_check(summary, *, trials, p, key="beta", quantity="optimal alpha"):
    """The check of the simulation's own alpha* against the theory's, one row per summary
    entry that has a ``sim_optimal_alpha``."""
    rows = []
    for s in summary:
        if "sim_optimal_alpha" not in s:
            continue
        z = z_score(s["sim_optimal_alpha"], s["sim_optimal_alpha_stderr"], s["optimal_alpha"])
        rows.append({key: s[key], "value": s["sim_optimal_alpha"], "stderr": s["sim_optimal_alpha_stderr"],
                     "theory": s["optimal_alpha"], "z": float(z)})
    return check(quantity, rows, trials=trials, p=p)


# --------------------------------------------------------------------------------------
# The finite-size check
# --------------------------------------------------------------------------------------

_QUANTITY = {"accuracy": "accuracy", "score mean": "score_mean",
             "score second moment": "score_second_moment", "optimal alpha": "optimal_alpha"}
_TASK_KEYS = ("N", "n", "p", "mu", "mu_orth", "beta", "gamma", "gamma_src")


def has_finite_size_check(check) -> bool:
    """Whether :func:`finite_size_check` applies: a classification quantity of the ridge
    source (accuracy, score moments, alpha*)."""
    return check["quantity"] in _QUANTITY


def finite_size_check(data: FigureData, check: dict, *, scales=(1, 2, 4), trials=8000,
                      seed=90_000, progress=False) -> list:
    """Re-simulate the worst point of a check at ``p, n, N`` times each of ``scales``
    (fixed ratios, so the same theory), with fresh seeds and ``trials`` trials.

    THEORY §6: a real finite-size gap shrinks as 1/p -- ``gap * p`` stays roughly constant --
    while a wrong formula leaves a gap that does not shrink. Scale 1 re-measures the worst
    point without the selection bias of having picked the largest ``|z|`` among many.
    Classification checks of a ridge-source task only (accuracy, score moments, alpha*): the
    task is ``data.params["task"]`` with the worst point's own task values (``beta``,
    ``gamma``, ``p`` ...) in place. Returns one row per scale.
    """
    import rmt_alpha as ra

    if not has_finite_size_check(check):
        raise ValueError(f"no finite-size check for figure {data.number}, {check['quantity']}")
    require_x64()
    point = dict(check["worst_point"])
    task = {k: v for k, v in data.params["task"].items()}
    for k in _TASK_KEYS:
        if k in point:
            task[k] = point[k]
    sim = data.params["simulation"]
    if check["quantity"] == "optimal alpha":
        alpha = grid(*sim["alpha_grid"])
    else:
        alpha = np.array([float(point["alpha"])])
    rows = []
    progress_bar = bar(len(scales), f"fig {data.number} finite size", progress)
    for i, f in enumerate(scales):
        t = dict(task)
        n, p = int(t.pop("n")) * f, int(t.pop("p")) * f
        t["N"] = int(t["N"]) * f
        res = ra.simulate(alpha, n, p, **t, trials=trials, seed=seed + i, method=sim["method"])
        q = check["quantity"]
        if q == "optimal alpha":
            value, err = scalar(res.optimal_alpha), scalar(res.optimal_alpha_stderr)
            theory = scalar(_theory.optimal_alpha(n, p, **t))
        else:
            value = scalar(getattr(res, _QUANTITY[q])[0])
            err = scalar(getattr(res, _QUANTITY[q] + "_stderr")[0])
            m, e2 = _theory.score_moments(alpha[0], n, p, **t)
            theory = {"accuracy": scalar(_theory.test_accuracy(alpha[0], n, p, **t)),
                      "score mean": scalar(m), "score second moment": scalar(e2)}[q]
        gap = value - theory
        rows.append({"scale": f, "N": t["N"], "n": n, "p": p, "trials": trials, "theory": theory,
                     "value": value, "stderr": err, "gap": gap, "z": gap / err if err > 0 else float("nan"),
                     "gap_times_p": gap * p, "gap_times_p_stderr": err * p})
        tick(progress_bar, f"p={p}")
    close(progress_bar)
    return rows


# --------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------


def comparison_table(data: FigureData, limit: int | None = None) -> str:
    """Plain-text table of the simulated points of one figure: theory, simulation ±
    standard error, gap and z (for notebooks and the terminal)."""
    rows = [r for r in data.rows if "z" in r]
    if not rows:
        return f"figure {data.number}: theory only (no simulation)"
    keys = [k for k in dict.fromkeys(k for r in rows for k in r)
            if k not in ("series", "value", "stderr", "theory", "z")]
    head = keys + ["theory", "simulation", "stderr", "gap", "z"]
    lines = []
    shown = rows if limit is None else rows[:limit]
    for r in shown:
        lines.append([_fmt(r[k]) if k in r else "" for k in keys] + [
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


def validation_markdown(figures, *, command=None, seconds=None, recorded=()) -> str:
    """The ``VALIDATION.md`` report for a list of :class:`FigureData`; ``recorded``: the
    numbers of the figures that this run did not compute (their checks come from their JSON
    records of earlier runs, which the report says)."""
    by_number = {f.number: f for f in figures}
    computed = sorted(set(by_number) - set(recorded))
    lines = [
        "# Theory vs simulation",
        "",
        f"Generated by `{command or 'rmt-alpha reproduce'}`"
        + (f" in {seconds:.0f} s on {os.cpu_count()} CPU cores" if seconds is not None else "")
        + f" (rmt_alpha {versions()['rmt_alpha']}). Do not edit by hand.",
        "",
    ]
    if recorded:
        lines += [
            f"This run computed figure{'s' if len(computed) > 1 else ''} "
            f"{', '.join(map(str, computed))}; the rows of figure{'s' if len(recorded) > 1 else ''} "
            f"{', '.join(map(str, sorted(recorded)))} are the checks of their own earlier runs, "
            "read from their JSON records (`figN_*.json`) beside this file.",
            "",
        ]
    lines += [
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
