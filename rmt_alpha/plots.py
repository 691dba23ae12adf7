"""Plotting helpers: one panel per call, theory lines with simulation markers on top.

Every helper draws on the axis ``ax`` it is given, or on a new figure, and returns
``(fig, ax)``. They are headless: new figures are plain :class:`matplotlib.figure.Figure`
objects (rendered by Agg when saved) unless ``matplotlib.pyplot`` is already in use, in
which case they are created through it so that ``plt.show()`` and notebooks display them.
Labels use mathtext only (no LaTeX installation needed).

Error bars are ± 1 standard error of the Monte Carlo mean.

:func:`render` draws a whole figure from the table computed by :mod:`rmt_alpha.experiments`,
with the drawing function of that figure's module. ``import rmt_alpha`` does not import this
module (nor matplotlib); import it explicitly: ``from rmt_alpha import plots``.
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
    "params_line",
    "render",
    "simulation_legend_entry",
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
                          ylabel=None, linestyle="-", lw=1.5, sim_label=None):
    """A theory line ``y(x)`` (line width ``lw``) with optional simulation markers
    ``sim_y ± sim_stderr``."""
    fig, ax = _axes(ax)
    _draw(x, y, sim_x=sim_x, sim_y=sim_y, sim_stderr=sim_stderr, label=label, color=color,
          ax=ax, logx=logx, logy=logy, xlabel=xlabel, ylabel=ylabel, linestyle=linestyle,
          lw=lw, sim_label=sim_label)
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
# Whole figures, drawn from rmt_alpha.experiments.FigureData
# --------------------------------------------------------------------------------------

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
"""The colours of a figure's curves, in order."""


def simulation_legend_entry(ax):
    """One neutral legend entry for the simulation markers of every curve."""
    ax.errorbar([], [], yerr=[], fmt="o", ms=3.5, mfc="white", mec="0.3", ecolor="0.3",
                label="simulation (± 1 s.e.)")


def params_line(task, keys):
    """The task's parameters ``keys`` as one mathtext line (for titles)."""
    names = {"N": "N", "n": "n", "p": "p", "mu": r"\|\mu\|", "mu_orth": r"\|\mu_\perp\|",
             "gamma": r"\gamma", "gamma_src": r"\tilde\gamma", "beta": r"\beta",
             "sigma": r"\sigma", "d": "d", "target_norm2": r"\|\mu_\beta\|^2",
             "source_norm2": r"\|\tilde w\|^2"}
    parts = [f"{names[k]}={task[k]:g}" for k in keys if k in task]
    return "$" + ",\\ ".join(parts) + "$"


def render(data):
    """Draw one figure from its :class:`rmt_alpha.experiments.FigureData`, with the drawing
    function that its figure module registered (:data:`rmt_alpha.experiments.FIGURES`).

    Returns the :class:`~matplotlib.figure.Figure` (save it with ``fig.savefig``).
    """
    from .experiments import FIGURES

    spec = FIGURES[data.number]
    with matplotlib.rc_context(_RC):
        if "matplotlib.pyplot" in sys.modules:
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=spec.size, layout="constrained")
        else:
            fig = Figure(figsize=spec.size, layout="constrained")
        spec.render(data, fig)
    return fig
