"""Guard against the XLA:CPU scheduler deadlock on small machines.

On 2-core machines XLA:CPU (seen with jax 0.10.1 and 0.10.2) can deadlock -- the process
sits at 0 % CPU forever -- in jit/vmap/lax.map programs containing linear algebra.
Disabling the concurrency-optimised scheduler avoids it. XLA reads ``XLA_FLAGS`` once,
when JAX starts its CPU backend, so the flag is appended here, at ``import rmt_alpha``,
which is before any JAX computation of ours. A user who already started JAX before
importing ``rmt_alpha`` (or who set the flag to another value) keeps their own setting;
:func:`check_cpu_scheduler` warns in that case when a simulation is about to run on CPU.
Set ``RMT_ALPHA_NO_XLA_FLAG=1`` to opt out.
"""

from __future__ import annotations

import os
import sys
import warnings

FLAG_NAME = "--xla_cpu_enable_concurrency_optimized_scheduler"
FLAG = FLAG_NAME + "=false"


def _backend_started() -> bool:
    xb = sys.modules.get("jax._src.xla_bridge")
    return bool(getattr(xb, "_backends", None))


def apply_flag() -> None:
    """Append the scheduler flag to ``XLA_FLAGS`` unless the user decided otherwise."""
    if os.environ.get("RMT_ALPHA_NO_XLA_FLAG"):
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if FLAG_NAME in flags or _backend_started():
        return
    os.environ["XLA_FLAGS"] = (flags + " " + FLAG).strip()


def check_cpu_scheduler() -> None:
    """Warn when a CPU computation is about to run without the deadlock guard."""
    import jax

    if jax.default_backend() != "cpu" or os.environ.get("RMT_ALPHA_NO_XLA_FLAG"):
        return
    if FLAG not in os.environ.get("XLA_FLAGS", ""):
        warnings.warn(
            "JAX's CPU backend started without XLA_FLAGS="
            f"{FLAG}; on small machines XLA:CPU can deadlock in linear algebra. "
            "Import rmt_alpha before running any JAX code, or set the flag yourself.",
            RuntimeWarning,
            stacklevel=3,
        )
