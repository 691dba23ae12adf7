"""Helpers shared by the figure modules: grids, progress bars, access to the Monte Carlo,
version stamps."""

from __future__ import annotations

import platform

import numpy as np


def scalar(x) -> float:
    """A 0-d result as a Python float."""
    return float(np.asarray(x))


def grid(lo, hi, count, *, log=False):
    """``count`` points from ``lo`` to ``hi``, evenly spaced (in ``log10`` when ``log``)."""
    return np.logspace(np.log10(lo), np.log10(hi), count) if log else np.linspace(lo, hi, count)


def grid_params(span, theory_points, sim_points, *, log=True):
    """The ``params`` record of a figure's theory and simulation grids over ``span``."""
    scale = ["log"] if log else []
    return {"theory": [*span, theory_points, *scale], "simulation": [*span, sim_points, *scale]}


def bar(total, desc, progress):
    """A tqdm progress bar, or ``None`` when ``progress`` is false."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True)


def tick(bar, postfix=None):
    if bar is not None:
        if postfix:
            bar.set_postfix_str(postfix, refresh=False)
        bar.update(1)


def close(bar):
    if bar is not None:
        bar.close()


def simulator():
    """The Monte Carlo entry points (imported late: they need JAX in float64)."""
    import rmt_alpha as ra

    missing = [f for f in ("simulate", "simulate_scores", "simulate_regression") if not hasattr(ra, f)]
    if missing:
        raise RuntimeError(
            f"this rmt_alpha has no {', '.join(missing)}: the Monte Carlo is not available"
        )
    require_x64()
    return ra


def require_x64():
    import jax

    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "the simulations run in float64: call jax.config.update('jax_enable_x64', True) "
            "before simulating (the rmt-alpha command does this itself)"
        )


def versions() -> dict:
    import rmt_alpha

    out = {"rmt_alpha": rmt_alpha.__version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        import jax

        out["jax"] = jax.__version__
    except ImportError:  # pragma: no cover
        pass
    return out
