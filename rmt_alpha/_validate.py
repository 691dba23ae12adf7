"""Argument checks shared by the theory, the simulator, the data tools and the command line.

Every refusal has one format, built by :func:`fail`::

    <name> must be <accepted range>, got <value>

(``ValueError`` for a value out of range, ``TypeError`` for a value of the wrong kind), so
that a message names the argument, the offending value and what would have been accepted.
For an array the offending entry and its index are shown. Values that are being traced by
JAX (inside ``jit``/``vmap``/``grad``) cannot be inspected and are passed through unchecked.
"""

from __future__ import annotations

import numpy as np

from ._backend import concrete, float_dtype

#: Largest accepted sample size or dimension: integers above 2**53 are not all representable
#: as floats, so "integer-valued" would lose its meaning.
MAX_INT = 2**53


def describe(x) -> str:
    """A short description of a value for an error message (arrays by shape and dtype)."""
    if isinstance(x, (bool, np.bool_)):
        return f"{bool(x)!r} (a bool)"
    if isinstance(x, (int, float, complex, str, np.generic)) or x is None:
        return repr(x.item() if isinstance(x, np.generic) else x)
    a = np.asarray(x) if not hasattr(x, "shape") else x
    shape = tuple(getattr(a, "shape", ()))
    dtype = getattr(a, "dtype", None)
    kind = type(x).__name__
    if shape == ():
        try:
            return repr(np.asarray(x).item())
        except Exception:  # noqa: BLE001 - a description must never fail
            return kind
    return f"a {kind} of shape {shape}" + (f" and dtype {dtype}" if dtype is not None else "")


def _entry(x, v, bad):
    """The first offending entry of ``v`` (a numpy view of ``x``) where ``bad`` holds."""
    if v.ndim == 0:
        return describe(x)
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{v[idx].item()!r} at index {idx if len(idx) > 1 else idx[0]} of {describe(x)}"


def fail(name, requirement, got, *, error=ValueError, note=None):
    """Raise ``error("<name> must be <requirement>, got <got>[; note]")``.

    ``got`` is the offending value (described with :func:`describe`) or, for a ready-made
    description, a string wrapped in :class:`Got`.
    """
    shown = got.text if isinstance(got, Got) else describe(got)
    message = f"{name} must be {requirement}, got {shown}"
    if note:
        message += f"; {note}"
    raise error(message)


class Got:
    """A value description already formatted for :func:`fail` (e.g. ``"shape (3, 2)"``)."""

    def __init__(self, text):
        self.text = text


def _values(name, x, kind="a real number", allow_inf=False):
    """A numpy view of ``x`` after the checks every numeric argument shares (``None`` when
    traced): not a bool, not a string, not complex, finite (or +-inf with ``allow_inf``).
    ``kind`` names what is expected."""
    if isinstance(x, (bool, np.bool_, str)):
        fail(name, f"{kind} (or an array of them)", x, error=TypeError)
    v = concrete(x)
    if v is None:
        return None
    if v.dtype == np.bool_ or v.dtype == object or not np.issubdtype(v.dtype, np.number):
        fail(name, f"{kind} (or an array of them)", x, error=TypeError)
    if np.iscomplexobj(v):
        fail(name, "real", Got(f"a complex value ({describe(x)})"), error=TypeError)
    if allow_inf and np.any(np.isnan(v)):
        fail(name, "a number or +-inf (not nan)", Got(_entry(x, v, np.isnan(v))))
    if not allow_inf and not np.all(np.isfinite(v)):
        fail(name, "finite", Got(_entry(x, v, ~np.isfinite(v))))
    return v


def finite(name, x):
    """Any finite real value(s)."""
    _values(name, x)
    return x


def not_nan(name, x):
    """Any real value(s) but nan: +-inf allowed (where a function evaluates its limit)."""
    _values(name, x, allow_inf=True)
    return x


def positive_int(name, x):
    """Integer-valued and in ``[1, 2**53]`` (sample sizes and dimensions); not a bool."""
    v = _values(name, x, "a positive integer")
    if v is not None:
        bad = (v < 1) | (v != np.floor(v)) | (v > MAX_INT)
        if np.any(bad):
            fail(name, "a positive integer (1 <= value <= 2**53)", Got(_entry(x, v, bad)))
    return x


def positive(name, x):
    """Strictly positive, finite (regularisations)."""
    v = _values(name, x)
    if v is not None and np.any(v <= 0):
        fail(name, "> 0 and finite", Got(_entry(x, v, v <= 0)))
    return x


def nonnegative(name, x):
    """Non-negative, finite (norms, noise levels)."""
    v = _values(name, x)
    if v is not None and np.any(v < 0):
        fail(name, ">= 0 and finite", Got(_entry(x, v, v < 0)))
    return x


def in_closed_interval(name, x, lo, hi):
    """Within ``[lo, hi]``."""
    v = _values(name, x)
    if v is not None:
        bad = (v < lo) | (v > hi)
        if np.any(bad):
            fail(name, f"in [{lo:g}, {hi:g}]", Got(_entry(x, v, bad)))
    return x


#: The accepted range of the closed forms, by the dtype they are computed in: every non-zero
#: scale parameter (ridges, squared norms, alignments) within ``[1/R, R]``, every length
#: whose square enters (``mu``, ``mu_orth``, ``sigma``, ``|beta|``) within
#: ``[1/sqrt(R), sqrt(R)]`` (``beta`` at most 1), and ``p/n``, ``p/N`` within ``[1/R, R]``.
#: The formulas multiply at most about ten such factors, so inside this range no
#: intermediate over- or underflows and every result is exact to rounding
#: (tests/test_reliability_extremes.py); outside it an argument is refused, never computed
#: wrongly.
SCALE_LIMIT = {np.dtype(np.float64): 1e30, np.dtype(np.float32): 1e6}


def magnitude(name, x, dtype=np.float64, *, squared=False, zero=True, top=None):
    """``x = 0`` (if ``zero``) or ``1/R <= |x| <= R`` with ``R = SCALE_LIMIT[dtype]``.

    ``squared=True`` for a length whose square enters the formulas (``mu``, ``sigma``): its
    range is ``[1/sqrt(R), sqrt(R)]``; ``top`` overrides the upper end (``beta``: 1).
    """
    v = concrete(x)
    if v is None:
        return x
    dtype = np.dtype(dtype)
    R = SCALE_LIMIT[dtype]
    lo, hi = (1.0 / np.sqrt(R), np.sqrt(R)) if squared else (1.0 / R, R)
    hi = hi if top is None else top
    a = np.abs(v.astype(np.float64))
    slack = 4.0 * np.finfo(dtype).eps  # the edges themselves, rounded to dtype, are accepted
    lo, hi = lo * (1.0 - slack), hi * (1.0 + slack)
    bad = (a != 0) & ((a < lo) | (a > hi)) if zero else (a < lo) | (a > hi)
    if np.any(bad):
        fail(name, f"{'0 or ' if zero else ''}between {lo:.3g} and {hi:.3g} in magnitude (the "
             f"range of the closed forms in {dtype.name})", Got(_entry(x, v, bad)),
             note=None if dtype == np.float64 else "JAX's x64 mode is off; enable it with "
             "jax.config.update('jax_enable_x64', True) for the float64 range")
    return x


def ratio(name, x, other_name, other, dtype=np.float64):
    """``x / other`` (e.g. ``p / n``) within ``[1/R, R]`` (``R = SCALE_LIMIT[dtype]``)."""
    a, b = concrete(x), concrete(other)
    if a is None or b is None:
        return
    dtype = np.dtype(dtype)
    R = SCALE_LIMIT[dtype]
    q = np.asarray(a.astype(np.float64) / b.astype(np.float64))
    bad = (q < 1.0 / R) | (q > R)
    if np.any(bad):
        fail(name, f"such that {name}/{other_name} lies between {1 / R:g} and {R:g} (the range "
             f"of the closed forms in {dtype.name})",
             Got(f"{name}/{other_name} = " + _entry(q, q, bad)))


def inner_product(name, a, b, what, dtype=np.float64):
    """The inner product ``a . b`` of two arrays (flattened) 0 or within ``[1/R, R]`` in
    magnitude (``R = SCALE_LIMIT[dtype]``); ``what`` names it in the message (e.g.
    ``"||source||^2"``). Computed in float64 after an exact power-of-two scaling of each
    array, so that the check itself cannot over- or underflow."""
    a, b = concrete(a), concrete(b)
    if a is None or b is None:
        return
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    ea = np.frexp(np.max(np.abs(a)))[1] if np.any(a) else 0
    eb = np.frexp(np.max(np.abs(b)))[1] if np.any(b) else 0
    dot = abs(float(np.dot(np.ldexp(a, -ea), np.ldexp(b, -eb))))
    if dot == 0:
        return
    R = SCALE_LIMIT[np.dtype(dtype)]
    log10 = np.log10(dot) + (ea + eb) * np.log10(2.0)
    if abs(log10) > np.log10(R):
        fail(name, f"an array with {what} 0 or between {1 / R:g} and {R:g} in magnitude (the "
             f"range of the closed forms in {np.dtype(dtype).name})",
             Got(f"{what} = {10.0 ** (log10 % 1):.3g}e{int(np.floor(log10)):+d}"))


def boolean(name, x):
    """``True`` or ``False`` (numpy bools too)."""
    if not isinstance(x, (bool, np.bool_)):
        fail(name, "True or False", x, error=TypeError)
    return bool(x)


def one_of(name, x, choices):
    """One of the strings ``choices``."""
    if not (isinstance(x, str) and x in choices):
        fail(name, "one of " + ", ".join(repr(c) for c in choices), x)
    return x


def integer(name, x, minimum=1):
    """A single integer (int, numpy integer or integer-valued float) ``>= minimum``."""
    if isinstance(x, (bool, np.bool_)) or np.ndim(x) != 0:
        fail(name, f"an integer >= {minimum}", x, error=TypeError)
    v = _values(name, x, f"an integer >= {minimum}")
    if v is not None and (v != np.floor(v) or v < minimum or v > MAX_INT):
        fail(name, f"an integer >= {minimum}", x)
    return int(x)


def vector(name, x, length=None):
    """A finite 1-D vector (of the given length)."""
    v = _values(name, x)
    if v is not None:
        if v.ndim != 1:
            fail(name, "a 1-D vector", Got(f"shape {v.shape}"))
        if length is not None and v.shape[0] != length:
            fail(name, f"a vector of length p = {length}", Got(f"length {v.shape[0]}"))
    return x


def matrix(name, x):
    """A finite 2-D array."""
    v = _values(name, x)
    if v is not None and v.ndim != 2:
        fail(name, "a 2-D array (d x p)", Got(f"shape {v.shape}"))
    return x


def broadcastable(**arrays):
    """The shapes of the named arguments broadcast together; returns the broadcast shape.

    Arguments that are ``None`` are ignored. The message names every argument that is not a
    scalar, with its shape.
    """
    shapes = {k: np.shape(x) for k, x in arrays.items() if x is not None}
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        listed = ", ".join(f"{k} {s}" for k, s in shapes.items() if s != ())
        names = [k for k, s in shapes.items() if s != ()]
        fail(" and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 2 else names),
             "arrays whose shapes broadcast together (numpy rules)", Got(f"shapes {listed}"))


def representable(xp, **named):
    """With JAX in float32 (x64 off), every non-zero value must be a normal float32.

    A value that does not fit would silently become 0 or inf on conversion. numpy
    computations (float64) need no check: every finite input is representable.
    """
    dtype = float_dtype(xp)
    if dtype == np.float64:
        return
    info = np.finfo(dtype)
    for name, x in named.items():
        val = None if x is None else concrete(x)
        if val is None or not np.issubdtype(val.dtype, np.number):
            continue
        a = np.abs(val.astype(np.float64))
        bad = (a != 0) & ((a < info.tiny) | (a > info.max)) & np.isfinite(a)
        if np.any(bad):
            fail(name, f"0 or between {info.tiny:.3g} and {info.max:.3g} in magnitude to be "
                 f"computed in {dtype.name} (JAX's x64 mode is off)", Got(_entry(x, val, bad)),
                 note="enable it with jax.config.update('jax_enable_x64', True) before any "
                 "JAX computation, or pass numpy values (float64)")
