"""The registry: every figure, by number.

To add a figure family: write ``_figK_<name>.py`` declaring ``FIGURES = (Figure(K, ...), ...)``
and add its module's name to :data:`FAMILIES`, one line.
"""

from __future__ import annotations

from importlib import import_module

from ._figure import Figure

FAMILIES = tuple(import_module(f"{__package__}.{name}") for name in (
    "_fig1_accuracy_vs_alpha",
    "_fig2_5_optimal_alpha",
    "_fig6_score_histograms",
    "_fig7_accuracy_vs_gamma",
    "_fig8_regression",
    "_fig9_10_when_alpha_helps",
    "_fig11_general_covariance",
))
"""The figure modules, each declaring ``FIGURES``: a new family is one more name here."""


def _collect(families) -> dict[int, Figure]:
    out = {}
    for module in families:
        for spec in module.FIGURES:
            if spec.number in out:
                raise RuntimeError(f"figure {spec.number} is registered twice")
            out[spec.number] = spec
    return dict(sorted(out.items()))


FIGURES: dict[int, Figure] = _collect(FAMILIES)
"""Figure number -> :class:`Figure` (callable: ``FIGURES[1](trials=100)`` computes figure 1)."""

SIMULATED = tuple(k for k, spec in FIGURES.items() if spec.simulated)
"""The numbers of the figures with a Monte Carlo."""
