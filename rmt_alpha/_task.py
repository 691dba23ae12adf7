"""The keyword sets that describe a transfer task, and their validation.

* ridge source (THEORY §4): ``N, mu, mu_orth, beta, gamma, gamma_src``;
* fixed source (THEORY §3): ``gamma, target_norm2, alignment, source_norm2``
  (``M = ||mu_beta||^2``, ``s = w~^T mu_beta``, ``r = ||w~||^2``);
* source vectors: ``gamma, source, target_mean`` (``w~`` and ``mu_beta`` as 1-D arrays of length p);
* general ridge source and general fixed source (THEORY §9): the same with mean vectors and
  noise covariances, validated and computed by :mod:`rmt_alpha._general`.

Every isotropic set reduces to ``(eta, gamma, M, s, r)``: the target depends on the source only
through ``s`` and ``r`` (rotational invariance), so the ridge source is a composition of
:func:`rmt_alpha.blocks.source_stats` with the fixed-source formulas. A general task carries
its :class:`rmt_alpha._general.GeneralTask` in ``Task.general``.
"""

from __future__ import annotations

import functools
import inspect
from typing import NamedTuple

import numpy as np

from . import _general, _memory
from . import _validate as v
from ._backend import asarray, concrete, float_dtype, namespace
from .blocks import _source

KEYWORD_SETS = {
    "ridge source": ("N", "mu", "mu_orth", "beta", "gamma", "gamma_src"),
    "fixed source": ("gamma", "target_norm2", "alignment", "source_norm2"),
    "source vectors": ("gamma", "source", "target_mean"),
    "general ridge source": ("N", "source_mean", "target_mean", "source_cov", "target_cov",
                             "gamma", "gamma_src"),
    "general fixed source": ("source", "target_mean", "target_cov", "gamma"),
}
ALL_KEYWORDS = tuple(dict.fromkeys(k for ks in KEYWORD_SETS.values() for k in ks))
#: Keywords that are vectors or covariances of length p (they do not broadcast).
ARRAY_KEYWORDS = ("source", "target_mean", "source_mean", "source_cov", "target_cov")

KEYWORD_DOC = """
    The task is given by exactly one keyword set:

    * ridge source (THEORY §4): ``N`` (source sample size), ``mu`` (source mean norm),
      ``mu_orth`` (norm of the target's new direction), ``beta`` in [-1, 1] (task
      alignment), ``gamma`` (target ridge, > 0), ``gamma_src`` (source ridge, > 0);
    * fixed source (THEORY §3): ``gamma``, ``target_norm2`` = ||mu_beta||^2 >= 0,
      ``alignment`` = w~^T mu_beta, ``source_norm2`` = ||w~||^2 > 0, with
      ``alignment^2 <= target_norm2 * source_norm2``;
    * source vectors: ``gamma``, ``source`` (w~) and ``target_mean`` (mu_beta), 1-D arrays
      of length ``p``;
    * general ridge source (THEORY §9): ``N``, ``source_mean`` (mu_s) and ``target_mean``
      (mu_t), 1-D arrays of length ``p``, ``source_cov`` (Cs), ``target_cov`` (Ct),
      ``gamma``, ``gamma_src``;
    * general fixed source (THEORY §9): ``source`` (w~), ``target_mean`` (mu_t),
      ``target_cov`` (Ct), ``gamma``.

    A covariance (THEORY §9.1) is a (p, p) symmetric positive semi-definite array, a (p,)
    array (the diagonal of a diagonal covariance: O(p), no matrix is formed), or a Python
    ``tuple`` ``(C_plus, C_minus)`` of two such arrays for class-dependent noise (only a
    tuple is a pair: lists and arrays are one covariance). Classes are balanced.

    ``n`` and ``p`` are positive integers (or arrays of them); all arguments broadcast.
    Results are float64 numpy values for numpy input, JAX arrays for JAX input.
"""


class Task(NamedTuple):
    """A task reduced to the fixed-source summary ``(eta, gamma, M, s, r)``; ``kind`` names
    the keyword set it was given by (a key of :data:`KEYWORD_SETS`). ``G = M r - s^2``
    (the Gram determinant of ``w~`` and ``mu_beta``) where a keyword set gives it without
    cancellation; ``None``: computed from ``M, s, r``."""

    kind: str
    xp: object
    ndtr: object
    eta: object
    gamma: object
    M: object
    s: object
    r: object
    general: object = None  # a rmt_alpha._general.GeneralTask for the general sets (M, s, r None)
    G: object = None


def _select_set(given):
    for name, keys in KEYWORD_SETS.items():
        if set(keys) == set(given):
            return name
    sets = "; ".join(f"{name}: {', '.join(keys)}" for name, keys in KEYWORD_SETS.items())
    v.fail("the task keywords", f"exactly one keyword set, not a mix ({sets})",
           v.Got(f"{sorted(given)}, which match no keyword set"), error=TypeError)


def resolve(n, p, task_kwargs, alpha=None, dtype=None) -> Task:
    """Validate ``n, p`` and one keyword set and reduce them to a :class:`Task`.

    ``alpha`` (not validated here) only takes part in choosing the array namespace, so that a
    JAX ``alpha`` alone (e.g. under ``jax.grad`` in alpha) gives a JAX computation.
    ``dtype``: the float type whose accepted range applies (default: the namespace's;
    the simulator passes its own).
    """
    given = {k: val for k, val in task_kwargs.items() if val is not None}
    unknown = set(given) - set(ALL_KEYWORDS)
    if unknown:
        v.fail("the task keywords", f"among {', '.join(ALL_KEYWORDS)}",
               v.Got(str(sorted(unknown))), error=TypeError)
    kind = _select_set(given)
    shape = v.broadcastable(alpha=alpha, n=n, p=p,
                            **{k: x for k, x in given.items() if k not in ARRAY_KEYWORDS})
    v.positive_int("n", n)
    v.positive_int("p", p)
    v.positive("gamma", given["gamma"])
    xp, ndtr = namespace(n, p, alpha, *_flat(given.values()))
    if xp is np:
        _memory.broadcast(shape)
    dtype = float_dtype(xp) if dtype is None else np.dtype(dtype)
    v.representable(xp, alpha=alpha)
    v.ratio("p", p, "n", n, dtype)
    v.magnitude("gamma", given["gamma"], dtype, zero=False)
    eta = asarray(xp, p) / asarray(xp, n)
    gamma = asarray(xp, given["gamma"])

    if kind in _general.GENERAL_SETS:
        g = _general.resolve(kind, n, p, given)
        return Task(kind, xp, ndtr, eta, gamma, None, None, None, general=g)

    if kind == "ridge source":
        v.positive_int("N", given["N"])
        v.nonnegative("mu", given["mu"])
        v.nonnegative("mu_orth", given["mu_orth"])
        v.in_closed_interval("beta", given["beta"], -1.0, 1.0)
        v.positive("gamma_src", given["gamma_src"])
        v.magnitude("gamma_src", given["gamma_src"], dtype, zero=False)
        v.magnitude("mu", given["mu"], dtype, squared=True)
        v.magnitude("mu_orth", given["mu_orth"], dtype, squared=True)
        v.magnitude("beta", given["beta"], dtype, squared=True, top=1.0)
        v.ratio("p", p, "N", given["N"], dtype)
        mu, mu_orth, beta = (asarray(xp, given[k]) for k in ("mu", "mu_orth", "beta"))
        mean, r, excess = _source(p, given["N"], mu, given["gamma_src"])
        b2, o2 = beta * beta, mu_orth * mu_orth
        M = b2 * (mu * mu) + (1.0 - b2) * o2
        # G = M r - s^2 = beta^2 (mu^2 r - mean^2) + (1 - beta^2) mu_orth^2 r: no cancellation
        G = b2 * excess + (1.0 - b2) * o2 * r
        return Task(kind, xp, ndtr, eta, gamma, M, beta * mean, r, G=G)

    if kind == "fixed source":
        v.nonnegative("target_norm2", given["target_norm2"])
        v.finite("alignment", given["alignment"])
        v.positive("source_norm2", given["source_norm2"])
        for k in ("target_norm2", "alignment", "source_norm2"):
            v.magnitude(k, given[k], dtype, zero=k != "source_norm2")
        M, s, r = (asarray(xp, given[k]) for k in ("target_norm2", "alignment", "source_norm2"))
        _check_cauchy_schwarz(M, s, r)
        # The mean and chance_alpha do not involve r: broadcast so that every result has
        # the broadcast shape of all the arguments.
        M, s, r = xp.broadcast_arrays(M, s, r)
        return Task(kind, xp, ndtr, eta, gamma, M, s, r)

    p_value = concrete(p)
    if p_value is None or p_value.ndim != 0:
        v.fail("p", "a single integer with the source=/target_mean= vectors", p)
    length = int(p_value)
    v.vector("source", given["source"], length)
    v.vector("target_mean", given["target_mean"], length)
    _check_vectors(given["source"], given["target_mean"], dtype)
    w, mu_b = asarray(xp, given["source"]), asarray(xp, given["target_mean"])
    r, s = xp.dot(w, w), xp.dot(w, mu_b)
    d = mu_b - (s / r) * w  # the part of mu_beta orthogonal to w~: G = r ||d||^2
    return Task(kind, xp, ndtr, eta, gamma, xp.dot(mu_b, mu_b), s, r, G=r * xp.dot(d, d))


def _check_vectors(source, target_mean, dtype):
    """``||source||^2 > 0`` and the three inner products ``r, M, s`` within the accepted
    magnitudes (as for the fixed-source set)."""
    w = concrete(source)
    if w is not None and not np.any(w):
        v.fail("source", "a non-zero vector (||source||^2 > 0)", v.Got("the zero vector"))
    v.inner_product("source", source, source, "||source||^2", dtype)
    v.inner_product("target_mean", target_mean, target_mean, "||target_mean||^2", dtype)
    v.inner_product("source", source, target_mean, "source . target_mean", dtype)


def _flat(values):
    """The arguments with the covariance pairs (tuples) unpacked."""
    return [x for val in values for x in (val if isinstance(val, tuple) else (val,))]


def _check_cauchy_schwarz(M, s, r):
    Mv, sv, rv = concrete(M), concrete(s), concrete(r)
    if Mv is None or sv is None or rv is None:
        return
    excess = sv * sv - Mv * rv
    bad = excess > 1e-12 * Mv * rv
    if bad.any():
        v.fail("alignment", "at most sqrt(target_norm2 * source_norm2) in magnitude "
               "(Cauchy-Schwarz: |w~^T mu_beta| <= ||w~|| ||mu_beta||)",
               v.Got(v._entry(s, np.broadcast_to(sv, bad.shape), bad)))


# The public signatures' annotations (strings: see rmt_alpha._typing).
_ANNOTATIONS = {
    "source_cov": "ArrayLike | tuple[ArrayLike, ArrayLike] | None",
    "target_cov": "ArrayLike | tuple[ArrayLike, ArrayLike] | None",
}


def task_function(with_alpha: bool, extra=None, infinite_alpha: bool = False):
    """Decorate ``f(alpha, task)`` (or ``f(task)``) into ``f(alpha, n, p, *, <keywords>)``.

    ``infinite_alpha``: ``alpha = +-inf`` is accepted (``f`` evaluates the limit).

    The public signature lists every task keyword (keyword-only, default ``None``) so that
    ``help()`` and introspection show them; :func:`resolve` enforces that exactly one
    keyword set is given. ``extra`` maps further keyword-only arguments of ``f`` to their
    defaults; they are passed to ``f`` by name.
    """
    extra = extra or {}

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            positional = ("alpha", "n", "p") if with_alpha else ("n", "p")
            bound = wrapper.__signature__.bind(*args, **kwargs)
            pos = [bound.arguments[k] for k in positional]
            task_kwargs = {k: bound.arguments.get(k) for k in ALL_KEYWORDS}
            if with_alpha:
                (v.not_nan if infinite_alpha else v.finite)("alpha", pos[0])
            task = resolve(pos[-2], pos[-1], task_kwargs, pos[0] if with_alpha else None)
            if with_alpha and infinite_alpha and task.general is not None:
                v.finite("alpha", pos[0])  # the general sets take finite alphas only
            more = {k: bound.arguments.get(k, default) for k, default in extra.items()}
            if with_alpha:
                return f(pos[0], task, **more)
            return f(task, **more)

        own = inspect.signature(f).parameters
        params = [
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="ArrayLike")
            for name in (("alpha", "n", "p") if with_alpha else ("n", "p"))
        ] + [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=_ANNOTATIONS.get(name, "ArrayLike | None"))
            for name in ALL_KEYWORDS
        ] + [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                              annotation=own[name].annotation)
            for name, default in extra.items()
        ]
        returns = inspect.signature(f).return_annotation
        wrapper.__signature__ = inspect.Signature(params, return_annotation=returns)
        wrapper.__doc__ = (f.__doc__ or "") + KEYWORD_DOC
        del wrapper.__wrapped__  # documentation tools would show f(alpha, task) instead
        return wrapper

    return decorate
