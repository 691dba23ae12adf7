"""Array-namespace dispatch: numpy (float64) by default, jax.numpy for JAX inputs.

JAX is never imported here: an argument can only be a JAX array if the user already
imported JAX, so ``sys.modules`` tells us whether to look.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.special import ndtr as _np_ndtr


def _is_jax(x) -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, (jax.Array, jax.core.Tracer))


def namespace(*args):
    """Return ``(xp, ndtr)`` for the arguments: jax.numpy if any is a JAX array."""
    if any(_is_jax(a) for a in args):
        import jax.numpy as jnp
        from jax.scipy.special import ndtr

        return jnp, ndtr
    return np, _np_ndtr


def asarray(xp, x):
    """Convert to the namespace's floating array (float64 for numpy)."""
    if xp is np:
        return np.asarray(x, dtype=np.float64)
    return xp.asarray(x, dtype=xp.result_type(float))


def float_dtype(xp):
    """The floating dtype a namespace computes in (float32 for JAX without x64)."""
    if xp is np:
        return np.dtype(np.float64)
    return np.dtype(xp.result_type(float))


def concrete(x):
    """A numpy view of ``x``, or ``None`` when ``x`` is traced (inside jit/vmap/grad)."""
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def finish(xp, x):
    """numpy results as float64 (scalars as numpy scalars); JAX results untouched."""
    if xp is np:
        return np.asarray(x, dtype=np.float64)[()]
    return x
