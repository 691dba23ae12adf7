"""The ``reproduce`` driver: compute, save, draw every registered figure, then write
``VALIDATION.md``."""

from __future__ import annotations

import glob
import os
import time

from ._figure import MODES
from ._record import FigureData
from ._registry import FIGURES
from ._validation import finite_size_check, has_finite_size_check, validation_markdown


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
    return {k: spec.run_settings(mode, trials=trials) for k, spec in FIGURES.items()}


def reproduce(out="figures", *, mode="full", trials=None, figures=None, pdf=True, progress=True,
              command=None, log=print, finite_size=None) -> list:
    """Compute, save (CSV + JSON), draw (PNG + PDF) every figure and write ``VALIDATION.md``.

    Every check whose ``max |z|`` is above the noise level gets a :func:`finite_size_check`
    of its worst point (``finite_size``: run them; default: in the full mode only).
    With ``figures`` (a selection), ``VALIDATION.md`` keeps the checks of the other figures
    whose JSON records are in ``out`` (:func:`recorded`), marked as such.
    Returns the list of computed :class:`FigureData`. Needs JAX float64 enabled for the
    simulations.
    """
    if finite_size is None:
        finite_size = mode == "full"
    from .. import plots

    numbers = sorted(figures) if figures else sorted(FIGURES)
    settings = run_settings(mode, trials=trials)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    results = []
    for num in numbers:
        kw = dict(settings[num])
        if FIGURES[num].simulated:
            kw["progress"] = progress
        data = FIGURES[num](**kw)
        data.params["run"] = {"mode": mode, "trials_override": trials}
        for c in data.checks:
            if finite_size and c["max_abs_z"] > c["noise_max_z_95"] and has_finite_size_check(c):
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
    kept = recorded(out, exclude=numbers) if figures else []
    with open(os.path.join(out, "VALIDATION.md"), "w") as f:
        f.write(validation_markdown(results + kept, command=command, seconds=seconds,
                                    recorded=[d.number for d in kept]))
    return results


def recorded(out, *, exclude=()) -> list:
    """The :class:`FigureData` records (``FigureData.from_json``) of the registered figures
    not in ``exclude`` that have exactly one ``fig<number>_*.json`` in ``out``."""
    found = []
    for num in sorted(set(FIGURES) - set(exclude)):
        paths = glob.glob(os.path.join(glob.escape(out), f"fig{num}_*.json"))
        if len(paths) == 1:
            found.append(FigureData.from_json(paths[0]))
    return found
