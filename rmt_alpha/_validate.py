"""Argument checks shared by the theory, the simulator and the command line.

Each check raises ``ValueError`` naming the argument and its accepted range. Values that
are being traced by JAX (inside ``jit``/``vmap``/``grad``) cannot be inspected and are
passed through unchecked.
"""

from __future__ import annotations

import numpy as np

from ._backend import concrete


def _values(name, x):
    v = concrete(x)
    if v is None:
        return None
    if v.dtype == object or not (
        np.issubdtype(v.dtype, np.number) or np.issubdtype(v.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a real number or array of real numbers, got {x!r}")
    if np.iscomplexobj(v):
        raise TypeError(f"{name} must be real, got a complex value")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return v


def finite(name, x):
    """Any finite real value(s)."""
    _values(name, x)
    return x


def positive_int(name, x):
    """Integer-valued and >= 1 (sample sizes and dimensions)."""
    v = _values(name, x)
    if v is not None and (np.any(v < 1) or np.any(v != np.floor(v))):
        raise ValueError(f"{name} must be a positive integer (>= 1), got {x!r}")
    return x


def positive(name, x):
    """Strictly positive, finite (regularisations)."""
    v = _values(name, x)
    if v is not None and np.any(v <= 0):
        raise ValueError(f"{name} must be > 0 and finite, got {x!r}")
    return x


def nonnegative(name, x):
    """Non-negative, finite (norms, noise levels)."""
    v = _values(name, x)
    if v is not None and np.any(v < 0):
        raise ValueError(f"{name} must be >= 0 and finite, got {x!r}")
    return x


def in_closed_interval(name, x, lo, hi):
    v = _values(name, x)
    if v is not None and (np.any(v < lo) or np.any(v > hi)):
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {x!r}")
    return x


def vector(name, x, length=None):
    """A finite 1-D vector (of the given length)."""
    v = _values(name, x)
    if v is not None:
        if v.ndim != 1:
            raise ValueError(f"{name} must be a 1-D vector, got shape {v.shape}")
        if length is not None and v.shape[0] != length:
            raise ValueError(f"{name} must have length p = {length}, got length {v.shape[0]}")
    return x


def matrix(name, x):
    """A finite 2-D array."""
    v = _values(name, x)
    if v is not None and v.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (d x p), got shape {v.shape}")
    return x
