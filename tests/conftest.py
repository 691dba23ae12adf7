"""Test configuration: float64 and strict dtype promotion in JAX, and the XLA:CPU guard.

The XLA flag must be in the environment before JAX starts its CPU backend, so it is set
here, before anything imports JAX (``import rmt_alpha`` would also set it).
"""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_concurrency_optimized_scheduler=false"
).strip()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
