"""Plotting helpers: one panel per call, theory lines with simulation markers on top.

Every helper draws on the axis ``ax`` it is given, or on a new figure, and returns
``(fig, ax)``. They are headless: new figures are plain :class:`matplotlib.figure.Figure`
objects (rendered by Agg when saved) unless ``matplotlib.pyplot`` is already in use, in
which case they are created through it so that ``plt.show()`` and notebooks display them.
Labels use mathtext only (no LaTeX installation needed).

Error bars are ± 1 standard error of the Monte Carlo mean.

:func:`render` draws a whole figure of THEORY §8 from the table computed by
:mod:`rmt_alpha.experiments`. ``import rmt_alpha`` does not import this module (nor
matplotlib); import it explicitly: ``from rmt_alpha import plots``.
"""

from __future__ import annotations

import sys

import matplotlib
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "accuracy_vs_alpha",
    "optimal_alpha_curve",
    "optimal_alpha_heatmap",
    "score_histogram",
    "risk_vs_alpha",
    "theory_and_simulation",
    "new_figure",
    "render",
    "close",
]

_RC = {"text.usetex": False, "font.size": 9, "axes.titlesize": 9, "legend.fontsize": 8,
       "axes.labelsize": 9}
_REF = "rmt_alpha_reference"


def new_figure(nrows=1, ncols=1, *, figsize=(5.0, 3.5), **kwargs):
    """A new figure with a grid of axes: ``(fig, axes)`` as ``plt.subplots`` returns them.

    Uses pyplot when it has been imported (interactive sessions, notebooks), a detached
    :class:`~matplotlib.figure.Figure` otherwise (headless: nothing is displayed or kept).
    """
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        return plt.subplots(nrows, ncols, figsize=figsize, **kwargs)
    fig = Figure(figsize=figsize, layout=kwargs.pop("layout", "constrained"))
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def close(fig) -> None:
    """Release a figure made by :func:`new_figure` or :func:`render`."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(fig)


def _axes(ax, figsize=(5.0, 3.5)):
    if ax is None:
        return new_figure(figsize=figsize)
    return ax.figure, ax


def _has_ref(ax, gid) -> bool:
    return any(a.get_gid() == gid for a in (*ax.lines, *ax.collections))


def _simulation(ax, x, y, err, *, color, label="simulation (± 1 s.e.)", marker="o", size=3.5):
    if x is None or y is None:
        return
    ax.errorbar(np.asarray(x), np.asarray(y), yerr=None if err is None else np.asarray(err),
                fmt=marker, ms=size, mfc="white", mec=color, ecolor=color, elinewidth=0.9,
                capsize=1.5, mew=1.0, color=color, label=label, zorder=4)


def _draw(x, y, *, sim_x, sim_y, sim_stderr, label, color, ax, logx=False, logy=False,
          xlabel=None, ylabel=None, linestyle="-", lw=1.5, sim_label=None):
    """Draw a theory line and simulation markers; return the colour used."""
    with matplotlib.rc_context(_RC):
        (line,) = ax.plot(np.asarray(x), np.asarray(y), linestyle, color=color, lw=lw,
                          label=label, zorder=3)
        color = line.get_color()
        _simulation(ax, sim_x, sim_y, sim_stderr, color=color,
                    label=sim_label if sim_label is not None else
                    (f"{label}: simulation" if label else "simulation (± 1 s.e.)"))
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        if xlabel:
            ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
    return color


def theory_and_simulation(x, y, *, sim_x=None, sim_y=None, sim_stderr=None, label=None,
                          color=None, ax=None, logx=False, logy=False, xlabel=None,
                          ylabel=None, linestyle="-", sim_label=None):
    """A theory line ``y(x)`` with optional simulation markers ``sim_y ± sim_stderr``."""
    fig, ax = _axes(ax)
    _draw(x, y, sim_x=sim_x, sim_y=sim_y, sim_stderr=sim_stderr, label=label, color=color,
          ax=ax, logx=logx, logy=logy, xlabel=xlabel, ylabel=ylabel, linestyle=linestyle,
          sim_label=sim_label)
    return fig, ax


def accuracy_vs_alpha(alpha, accuracy, *, optimal_alpha=None, chance_alpha=None,
                      accuracy_at_optimal=None, sim_alpha=None, sim_accuracy=None,
                      sim_stderr=None, label=None, color=None, ax=None, references=True):
    """Test accuracy vs alpha, with alpha* (star), the chance-level alpha (cross, at
    accuracy 1/2), and, once per axis, dotted lines at alpha = 0 (no source) and alpha = 1
    (plain fine-tuning) and the chance level 1/2.

    ``alpha, accuracy``: the theory curve (e.g. :func:`rmt_alpha.test_accuracy`);
    ``optimal_alpha``, ``chance_alpha``: markers, drawn when finite and inside the curve's
    alpha range; ``sim_*``: Monte Carlo means and standard errors.
    """
    fig, ax = _axes(ax)
    color = _draw(alpha, accuracy, sim_x=sim_alpha, sim_y=sim_accuracy, sim_stderr=sim_stderr,
                  label=label, color=color, ax=ax, xlabel=r"$\alpha$", ylabel="test accuracy",
                  sim_label="_nolegend_")
    a = np.asarray(alpha, dtype=float)
    lo, hi = np.nanmin(a), np.nanmax(a)
    with matplotlib.rc_context(_RC):
        if references and not _has_ref(ax, _REF):
            ax.axvline(0.0, color="0.45", ls=":", lw=1, gid=_REF)
            ax.axvline(1.0, color="0.45", ls="--", lw=1, gid=_REF)
            ax.axhline(0.5, color="0.7", ls="-", lw=0.8, gid=_REF)
            ax.text(0.0, 0.01, r"$\alpha=0$ ", transform=ax.get_xaxis_transform(), ha="right",
                    va="bottom", fontsize=7, color="0.35")
            ax.text(1.0, 0.01, r" $\alpha=1$", transform=ax.get_xaxis_transform(), ha="left",
                    va="bottom", fontsize=7, color="0.35")
        if optimal_alpha is not None and np.isfinite(optimal_alpha) and lo <= optimal_alpha <= hi:
            y = accuracy_at_optimal
            if y is None:
                y = np.interp(optimal_alpha, a, np.asarray(accuracy, dtype=float))
            ax.plot([optimal_alpha], [y], marker="*", ms=11, color=color, mec="black", mew=0.6,
                    ls="none", zorder=5, gid="rmt_alpha_star",
                    label=r"$\alpha^*$" if not _has_ref(ax, "rmt_alpha_star") else "_nolegend_")
        if chance_alpha is not None and np.isfinite(chance_alpha) and lo <= chance_alpha <= hi:
            ax.plot([chance_alpha], [0.5], marker="X", ms=7, color=color, mec="black", mew=0.5,
                    ls="none", zorder=5, gid="rmt_alpha_bar",
                    label=r"$\bar\alpha$ (chance level)" if not _has_ref(ax, "rmt_alpha_bar")
                    else "_nolegend_")
    return fig, ax


def optimal_alpha_curve(x, optimal_alpha, *, xlabel, label=None, color=None, ax=None,
                        logx=False, logy=False, sim_x=None, sim_alpha=None, sim_stderr=None):
    """alpha* against a parameter (alignment, gamma, beta ...), with optional simulation
    estimates of alpha* ± standard error."""
    return theory_and_simulation(x, optimal_alpha, sim_x=sim_x, sim_y=sim_alpha,
                                 sim_stderr=sim_stderr, label=label, color=color, ax=ax,
                                 logx=logx, logy=logy, xlabel=xlabel, ylabel=r"$\alpha^*$",
                                 sim_label=(f"{label}: simulation" if label else
                                            r"simulation $\alpha^*$ (± 1 s.e.)"))


def optimal_alpha_heatmap(gamma, gamma_src, optimal_alpha, *, ax=None, norm=None, cmap="viridis",
                          colorbar=True, contours=(1.0,), title=None):
    """alpha* over (gamma, gamma_src) on log-log axes.

    ``optimal_alpha`` has shape ``(len(gamma), len(gamma_src))``. The colour scale is
    logarithmic when every value is positive (pass ``norm`` to share one scale between
    panels); ``contours`` are drawn as labelled white lines.
    """
    from matplotlib.colors import LogNorm, Normalize

    fig, ax = _axes(ax, figsize=(4.5, 3.5))
    g, gs = np.asarray(gamma, float), np.asarray(gamma_src, float)
    A = np.asarray(optimal_alpha, float)
    if A.shape != (g.size, gs.size):
        raise ValueError(f"optimal_alpha must have shape (len(gamma), len(gamma_src)) = "
                         f"{(g.size, gs.size)}, got {A.shape}")
    if norm is None:
        norm = LogNorm(A.min(), A.max()) if np.all(A > 0) else Normalize(A.min(), A.max())
    with matplotlib.rc_context(_RC):
        mesh = ax.pcolormesh(g, gs, A.T, norm=norm, cmap=cmap, shading="nearest",
                             rasterized=True)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"target ridge $\gamma$")
        ax.set_ylabel(r"source ridge $\tilde\gamma$")
        if contours:
            levels = [c for c in contours if A.min() < c < A.max()]
            if levels:
                cs = ax.contour(g, gs, A.T, levels=levels, colors="white", linewidths=1.0)
                ax.clabel(cs, fmt=lambda v: rf"$\alpha^*={v:g}$", fontsize=7)
        if title:
            ax.set_title(title)
        if colorbar:
            fig.colorbar(mesh, ax=ax, label=r"$\alpha^*$")
    return fig, ax


def _gauss(x, m, sd):
    return np.exp(-0.5 * ((x - m) / sd) ** 2) / (sd * np.sqrt(2.0 * np.pi))


def score_histogram(positive=None, negative=None, *, mean, second_moment, bins=50, ax=None,
                    title=None, edges=None, positive_density=None, negative_density=None,
                    legend=True):
    """Histograms of the scores of class +1 and class -1 test points against the predicted
    Gaussians ``N(±mean, second_moment - mean^2)`` (THEORY §3).

    Give raw samples (``positive``, ``negative``, e.g. rows of
    :func:`rmt_alpha.simulate_scores`' arrays) or already binned densities (``edges`` with
    ``positive_density``, ``negative_density``). ``mean``, ``second_moment``: the class +1
    predictions of :func:`rmt_alpha.score_moments`.
    """
    fig, ax = _axes(ax)
    m = float(mean)
    sd = float(np.sqrt(second_moment - m * m))
    if edges is None:
        lo, hi = -abs(m) - 4.5 * sd, abs(m) + 4.5 * sd
        edges = np.linspace(lo, hi, bins + 1)
        dens = []
        for x in (positive, negative):
            if x is None:
                dens.append(None)
                continue
            x = np.asarray(x, float).ravel()
            c, _ = np.histogram(x, bins=edges)
            dens.append(c / (x.size * np.diff(edges)))
        positive_density, negative_density = dens
    edges = np.asarray(edges, float)
    xs = np.linspace(edges[0], edges[-1], 400)
    with matplotlib.rc_context(_RC):
        for d, c, lab in ((positive_density, "tab:blue", r"$y=+1$"),
                          (negative_density, "tab:red", r"$y=-1$")):
            if d is not None:
                ax.stairs(np.asarray(d, float), edges, fill=True, alpha=0.35, color=c,
                          label=f"{lab} simulation")
        ax.plot(xs, _gauss(xs, m, sd), color="navy", lw=1.3, label=r"predicted $y=+1$")
        ax.plot(xs, _gauss(xs, -m, sd), color="darkred", lw=1.3, ls="--",
                label=r"predicted $y=-1$")
        ax.axvline(0.0, color="0.5", lw=0.7, ls=":")
        ax.set_xlabel(r"score $w_\alpha^\top x$")
        ax.set_ylabel("density")
        if title:
            ax.set_title(title)
        if legend:
            ax.legend(loc="upper right", frameon=False)
    return fig, ax


def risk_vs_alpha(alpha, risk, *, optimal_alpha=None, sim_alpha=None, sim_risk=None,
                  sim_stderr=None, label=None, color=None, ax=None, logy=False):
    """Regression test risk vs alpha (THEORY §5), alpha* marked by a star, optional
    simulation markers."""
    fig, ax = _axes(ax)
    color = _draw(alpha, risk, sim_x=sim_alpha, sim_y=sim_risk, sim_stderr=sim_stderr,
                  label=label, color=color, ax=ax, logy=logy, xlabel=r"$\alpha$",
                  ylabel="test risk", sim_label="_nolegend_")
    if optimal_alpha is not None and np.isfinite(optimal_alpha):
        a = np.asarray(alpha, float)
        y = np.interp(optimal_alpha, a, np.asarray(risk, float))
        with matplotlib.rc_context(_RC):
            ax.plot([optimal_alpha], [y], marker="*", ms=11, color=color, mec="black", mew=0.6,
                    ls="none", zorder=5, gid="rmt_alpha_star",
                    label=r"$\alpha^*$" if not _has_ref(ax, "rmt_alpha_star") else "_nolegend_")
    return fig, ax


# --------------------------------------------------------------------------------------
# Whole figures of THEORY §8, drawn from rmt_alpha.experiments.FigureData
# --------------------------------------------------------------------------------------

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _sim_legend_entry(ax):
    ax.errorbar([], [], yerr=[], fmt="o", ms=3.5, mfc="white", mec="0.3", ecolor="0.3",
                label="simulation (± 1 s.e.)")


def _unique(values):
    return list(dict.fromkeys(values))


def _params_line(task, keys):
    names = {"N": "N", "n": "n", "p": "p", "mu": r"\|\mu\|", "mu_orth": r"\|\mu_\perp\|",
             "gamma": r"\gamma", "gamma_src": r"\tilde\gamma", "beta": r"\beta",
             "sigma": r"\sigma", "d": "d", "target_norm2": r"\|\mu_\beta\|^2",
             "source_norm2": r"\|\tilde w\|^2"}
    parts = [f"{names[k]}={task[k]:g}" for k in keys if k in task]
    return "$" + ",\\ ".join(parts) + "$"


def _render1(d, fig):
    ax = fig.subplots()
    task = d.params["task"]
    for i, s in enumerate(d.summary):
        b = s["beta"]
        th = d.select(series="theory", beta=b)
        sim = d.select(series="simulation", beta=b)
        accuracy_vs_alpha([r["alpha"] for r in th], [r["value"] for r in th],
                          optimal_alpha=s["optimal_alpha"], chance_alpha=s["chance_alpha"],
                          accuracy_at_optimal=s["accuracy_at_optimal"],
                          sim_alpha=[r["alpha"] for r in sim] or None,
                          sim_accuracy=[r["value"] for r in sim] or None,
                          sim_stderr=[r["stderr"] for r in sim] or None,
                          label=rf"$\beta={b:g}$", color=_COLORS[i], ax=ax)
    if d.checks:
        _sim_legend_entry(ax)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: not labels[i].startswith(r"$\beta"))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], loc="upper left",
              frameon=False)
    ax.set_title(d.title + "\n" + _params_line(task, ("N", "n", "p", "mu", "mu_orth", "gamma_src", "gamma")))


def _render2(d, fig):
    ax = fig.subplots()
    for i, p in enumerate(d.params["ps"]):
        th = d.select(series="theory", p=p)
        optimal_alpha_curve([r["alignment"] for r in th], [r["value"] for r in th],
                            xlabel=r"alignment $\tilde w^\top\mu_\beta$ "
                                   r"($\|\tilde w\|=\|\mu_\beta\|=1$)",
                            label=f"$p={p}$", color=_COLORS[i], ax=ax, logy=True)
    ax.set_xlim(0, 1)
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(d.title + " (fixed source, theory)\n"
                 + _params_line(d.params["task"], ("n", "gamma")))


def _render3(d, fig):
    ax = fig.subplots()
    for i, s in enumerate(d.params["alignments"]):
        th = d.select(series="theory", alignment=s)
        optimal_alpha_curve([r["gamma"] for r in th], [r["value"] for r in th],
                            xlabel=r"target ridge $\gamma$",
                            label=rf"$\tilde w^\top\mu_\beta={s:g}$", color=_COLORS[i], ax=ax,
                            logx=True)
    ax.legend(loc="center left", frameon=False)
    ax.set_title(d.title + r" (fixed source $\|\tilde w\|=\|\mu_\beta\|=1$, theory)" + "\n"
                 + _params_line(d.params["task"], ("n", "p")))


def _render4(d, fig):
    ax = fig.subplots()
    for i, p in enumerate(d.params["ps"]):
        th = d.select(series="theory", p=p)
        sim = d.select(series="simulation", p=p)
        optimal_alpha_curve([r["beta"] for r in th], [r["value"] for r in th],
                            xlabel=r"task alignment $\beta$", label=f"$p={p}$",
                            color=_COLORS[i], ax=ax,
                            sim_x=[r["beta"] for r in sim] or None,
                            sim_alpha=[r["value"] for r in sim] or None,
                            sim_stderr=[r["stderr"] for r in sim] or None)
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(d.title + " (ridge source)\n" + _params_line(
        d.params["task"], ("N", "n", "mu", "mu_orth", "gamma", "gamma_src")))


def _render5(d, fig):
    from matplotlib.colors import LogNorm, Normalize

    betas = d.params["betas"]
    axes = np.atleast_1d(fig.subplots(1, len(betas), sharey=True))
    vals = np.array([r["value"] for r in d.rows], float)
    norm = LogNorm(vals.min(), vals.max()) if np.all(vals > 0) else Normalize(vals.min(), vals.max())
    for k, (ax, b) in enumerate(zip(axes, betas)):
        rows = d.select(series="theory", beta=b)
        g = np.array(_unique([r["gamma"] for r in rows]))
        gs = np.array(_unique([r["gamma_src"] for r in rows]))
        A = np.array([r["value"] for r in rows]).reshape(g.size, gs.size)
        optimal_alpha_heatmap(g, gs, A, ax=ax, norm=norm, colorbar=k == len(betas) - 1,
                              contours=(0.1, 1.0), title=rf"$\beta={b:g}$")
        if k:
            ax.set_ylabel("")
    fig.suptitle(d.title + " (ridge source, theory)   " + _params_line(
        d.params["task"], ("N", "n", "p", "mu", "mu_orth")), fontsize=9)


def _render6(d, fig):
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
            score_histogram(mean=m, second_moment=e2, edges=edges, ax=ax,
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
    fig.suptitle(d.title + "\n" + _params_line(task, ("N", "n", "p", "mu", "mu_orth", "gamma",
                                                      "gamma_src")) + extra, fontsize=9)


def _render7(d, fig):
    ax = fig.subplots()
    for i, a in enumerate(d.params["alphas"]):
        th = d.select(series="theory", alpha=a)
        sim = d.select(series="simulation", alpha=a)
        lab = {0.0: r"$\alpha=0$ (no source)", 1.0: r"$\alpha=1$ (fine-tuning)"}.get(
            a, rf"$\alpha={a:g}$")
        _draw([r["gamma"] for r in th], [r["value"] for r in th],
              sim_x=[r["gamma"] for r in sim] or None, sim_y=[r["value"] for r in sim] or None,
              sim_stderr=[r["stderr"] for r in sim] or None, label=lab, color=_COLORS[i],
              ax=ax, logx=True, lw=1.8 if i == 0 else 1.1, sim_label="_nolegend_")
    best = d.select(series="theory optimal")
    ax.plot([r["gamma"] for r in best], [r["value"] for r in best], color="black", lw=1.0,
            ls="--", label=r"$\alpha=\alpha^*(\gamma)$ (theory)")
    if d.checks:
        _sim_legend_entry(ax)
    ax.set_xlabel(r"target ridge $\gamma$")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="best", frameon=False)
    ax.set_title(d.title + "\n" + _params_line(
        d.params["task"], ("N", "n", "p", "mu", "mu_orth", "beta", "gamma_src")))


def _render8(d, fig):
    ax = fig.subplots()
    for i, s in enumerate(d.summary):
        b = s["beta"]
        th = d.select(series="theory", beta=b)
        sim = d.select(series="simulation", beta=b)
        risk_vs_alpha([r["alpha"] for r in th], [r["value"] for r in th],
                      optimal_alpha=s["optimal_alpha"],
                      sim_alpha=[r["alpha"] for r in sim] or None,
                      sim_risk=[r["value"] for r in sim] or None,
                      sim_stderr=[r["stderr"] for r in sim] or None,
                      label=rf"$\beta={b:g}$", color=_COLORS[i], ax=ax, logy=True)
    if d.checks:
        _sim_legend_entry(ax)
    ax.legend(loc="upper center", frameon=False, ncol=3)
    ax.set_title(d.title + r" ($W_t=\beta W_s+B$, $\langle B,W_s\rangle_F=0$)" + "\n"
                 + _params_line(d.params["task"], ("n", "p", "d", "sigma", "gamma")))


_RENDER = {1: (_render1, (6.4, 4.2)), 2: (_render2, (5.6, 4.0)), 3: (_render3, (5.6, 4.0)),
           4: (_render4, (5.6, 4.0)), 5: (_render5, (11.0, 3.6)), 6: (_render6, (10.0, 5.6)),
           7: (_render7, (6.0, 4.2)), 8: (_render8, (6.0, 4.2))}


def render(data):
    """Draw one figure of THEORY §8 from its :class:`rmt_alpha.experiments.FigureData`.

    Returns the :class:`~matplotlib.figure.Figure` (save it with ``fig.savefig``).
    """
    draw, size = _RENDER[data.number]
    with matplotlib.rc_context(_RC):
        if "matplotlib.pyplot" in sys.modules:
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=size, layout="constrained")
        else:
            fig = Figure(figsize=size, layout="constrained")
        draw(data, fig)
    return fig
