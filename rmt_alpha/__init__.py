"""rmt_alpha: random-matrix theory of alpha-rescaled fine-tuning.

Closed-form deterministic equivalents of the test accuracy of a classifier fine-tuned from
a rescaled source model (``w_alpha = alpha w~ + a``), its optimal alpha, and a JAX Monte
Carlo to check them. The mathematics is specified in THEORY.md (sections cited in docstrings).
"""

from ._xla import apply_flag as _apply_xla_flag

_apply_xla_flag()  # before anything can start JAX's CPU backend (see rmt_alpha._xla)

from . import blocks  # noqa: E402
from ._data import FineTuned, TaskEstimate, estimate_task, fine_tune  # noqa: E402
from ._joint import JointOptimum, optimal_alpha_gamma  # noqa: E402
from ._regression import regression_optimal_alpha, regression_risk  # noqa: E402
from ._simulate import (  # noqa: E402
    RegressionResult,
    ScoreSamples,
    SimulationResult,
    simulate,
    simulate_regression,
    simulate_scores,
)
from ._theory import (  # noqa: E402
    chance_alpha,
    optimal_alpha,
    score_moments,
    source_accuracy,
    test_accuracy,
    test_error,
    test_risk,
)

__version__ = "0.1.0"

__all__ = [
    "blocks",
    "chance_alpha",
    "estimate_task",
    "fine_tune",
    "FineTuned",
    "JointOptimum",
    "optimal_alpha",
    "optimal_alpha_gamma",
    "regression_optimal_alpha",
    "regression_risk",
    "score_moments",
    "simulate",
    "simulate_regression",
    "simulate_scores",
    "SimulationResult",
    "ScoreSamples",
    "RegressionResult",
    "source_accuracy",
    "TaskEstimate",
    "test_accuracy",
    "test_error",
    "test_risk",
]
