"""The static description of one Monte Carlo setting, shared by the samplers.

A sampler is a pure function ``trial_stats(key, spec, dtype) -> array of shape (5,)``
returning, for one trial with fresh source and target data (THEORY §6),

    [w0^T mu_beta, v^T mu_beta, ||w0||^2, w0^T v, ||v||^2]

with ``w0 = Q X y / n`` and ``v = gamma Q w~``, so that ``w_alpha = w0 + alpha v``, and a
batch form ``trial_stats_batch(keys, spec, dtype) -> (B, 5)`` (what
:func:`rmt_alpha.simulate` calls), equal to ``trial_stats`` key by key.
By rotational invariance only span(mu, mu_perp) is explicit: ``mu = mu e1``,
``mu_perp = mu_orth e2``. A fixed source (``source == "fixed"``) is the vector
``w~ = (s/sqrt(M)) e1 + sqrt(r - s^2/M) e2`` with ``mu_beta = sqrt(M) e1``, which has the
requested ``M = ||mu_beta||^2``, ``s = w~^T mu_beta`` and ``r = ||w~||^2`` (for ``M = 0``:
``w~ = sqrt(r) e1``, ``mu_beta = 0``).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

STAT_NAMES = ("w0_mu", "v_mu", "w0_norm2", "w0_v", "v_norm2")


class SimSpec(NamedTuple):
    """Hashable (usable as a ``jit`` static argument) Monte Carlo setting."""

    n: int
    p: int
    gamma: float
    source: str  # "ridge" or "fixed"
    # ridge source (THEORY §1/§4)
    N: Optional[int] = None
    mu: Optional[float] = None
    mu_orth: Optional[float] = None
    beta: Optional[float] = None
    gamma_src: Optional[float] = None
    # fixed source (THEORY §3)
    target_norm2: Optional[float] = None
    alignment: Optional[float] = None
    source_norm2: Optional[float] = None
