"""Types in the signatures: ``ArrayLike`` is what the closed forms accept and broadcast
(Python numbers, numpy arrays, JAX arrays); ``Array`` is what they return: float64 numpy
values for numpy input (a numpy scalar for scalar input), JAX arrays for JAX input; ``Seed`` is
an int or a ``jax.random`` key; ``PathLike`` a ``str`` or ``os.PathLike``; ``Covariance`` a
noise covariance of the general keyword sets (a (p, p) array, a (p,) diagonal, or a tuple
``(C_plus, C_minus)`` of two).

For type checkers only: the package's modules use postponed annotations
(``from __future__ import annotations``) and import these names under ``TYPE_CHECKING``, so
nothing here runs (or imports JAX) at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    import os

    import numpy as np
    from jax import Array as JaxArray
    from numpy.typing import ArrayLike

    Array = Union[np.ndarray, np.floating, JaxArray]
    Seed = Union[int, JaxArray]
    PathLike = Union[str, os.PathLike[str]]
    Covariance = Union[ArrayLike, tuple[ArrayLike, ArrayLike]]

__all__ = ["Array", "ArrayLike", "Covariance", "PathLike", "Seed"]
