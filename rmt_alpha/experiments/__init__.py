"""The data behind the figures: computing, kept apart from drawing.

Each ``figureK(...)`` function computes one figure's results -- the closed-form theory and,
where the figure has one, the Monte Carlo check -- and returns a :class:`FigureData`: a
table (one row per plotted point, written as CSV), the parameters that produced it (JSON),
derived numbers such as alpha* per curve, and the theory-vs-simulation checks that
``VALIDATION.md`` reports. :func:`rmt_alpha.plots.render` draws a :class:`FigureData`;
:func:`reproduce` runs everything and writes the files. The defaults are the settings of
THEORY §8; every one of them can be overridden by keyword.

Layout (private modules; everything public is re-exported here):

* ``_record``: :class:`FigureData`, the record of one figure, and its CSV/JSON output;
* ``_validation``: z-scores, the noise level of ``max |z|`` (:func:`noise_max_z`), the
  finite-size re-run of a worst point (:func:`finite_size_check`), the ``VALIDATION.md``
  report (:func:`validation_markdown`) and :func:`comparison_table`;
* ``_figK_<name>``: one module per figure family (``_fig1_accuracy_vs_alpha``,
  ``_fig2_5_optimal_alpha``, ...; the notebooks in ``notebooks/`` carry the same names).
  Each holds a ``figureK(**settings) -> FigureData`` function that computes and a
  ``renderK(data, fig)`` function that draws, and declares them in ``FIGURES``, a tuple of
  :class:`Figure` (number, compute, render, figure size, the settings of each
  ``reproduce`` mode, whether it simulates);
* ``_registry``: :data:`FIGURES`, figure number -> :class:`Figure`, collected from the
  family modules listed in ``_registry.FAMILIES``;
* ``_reproduce``: :func:`run_settings` and :func:`reproduce`;
* ``_common``: grids, progress bars, access to the Monte Carlo, version stamps.

**Computing and drawing.** ``figureK`` returns plain numbers and imports no matplotlib;
``renderK`` draws from a :class:`FigureData` alone (figure 6 also evaluates the closed-form
score moments for its Gaussian curves) and imports matplotlib through :mod:`rmt_alpha.plots`
only when it is called. The two sit in one module so that a figure is one file: to add
figure 11, write ``_fig11_<name>.py`` with ``figure11``, ``render11`` and ``FIGURES =
(Figure(11, ...),)``, and add the module to ``_registry.FAMILIES`` -- one line. The command
line (``rmt-alpha reproduce --figures``), :func:`reproduce` and :func:`rmt_alpha.plots.render`
find it there.

Simulations call :func:`rmt_alpha.simulate` and friends, which need JAX in float64: enable
it before calling a function with ``simulate=True``
(``jax.config.update("jax_enable_x64", True)``); this package does not flip it for you.
"""

from ._fig1_accuracy_vs_alpha import figure1
from ._fig2_5_optimal_alpha import figure2, figure3, figure4, figure5
from ._fig6_score_histograms import figure6
from ._fig7_accuracy_vs_gamma import figure7
from ._fig8_regression import figure8, regression_weights
from ._fig9_10_when_alpha_helps import PROFILE_TASKS, figure9, figure10
from ._fig11_general_covariance import figure11
from ._figure import MODES, Figure
from ._record import FigureData
from ._registry import FIGURES, SIMULATED
from ._reproduce import reproduce, run_settings
from ._validation import (
    comparison_table,
    finite_size_check,
    noise_max_z,
    validation_markdown,
)

__all__ = [
    "FIGURES",
    "Figure",
    "FigureData",
    "MODES",
    "PROFILE_TASKS",
    "SIMULATED",
    "figure1",
    "figure2",
    "figure3",
    "figure4",
    "figure5",
    "figure6",
    "figure7",
    "figure8",
    "figure9",
    "figure10",
    "figure11",
    "comparison_table",
    "finite_size_check",
    "noise_max_z",
    "regression_weights",
    "reproduce",
    "run_settings",
    "validation_markdown",
]
