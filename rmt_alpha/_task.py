"""The three keyword sets that describe a transfer task, and their validation.

* ridge source (THEORY §4): ``N, mu, mu_orth, beta, gamma, gamma_src``;
* fixed source (THEORY §3): ``gamma, target_norm2, alignment, source_norm2``
  (``M = ||mu_beta||^2``, ``s = w~^T mu_beta``, ``r = ||w~||^2``);
* source vectors: ``gamma, source, target_mean`` (``w~`` and ``mu_beta`` as 1-D arrays of length p).

Every set reduces to ``(eta, gamma, M, s, r)``: the target depends on the source only through
``s`` and ``r`` (rotational invariance), so the ridge source is a composition of
:func:`rmt_alpha.blocks.source_stats` with the fixed-source formulas.
"""

from __future__ import annotations

import functools
import inspect
from typing import NamedTuple

from . import _validate as v
from ._backend import asarray, concrete, namespace
from .blocks import source_stats

KEYWORD_SETS = {
    "ridge source": ("N", "mu", "mu_orth", "beta", "gamma", "gamma_src"),
    "fixed source": ("gamma", "target_norm2", "alignment", "source_norm2"),
    "source vectors": ("gamma", "source", "target_mean"),
}
ALL_KEYWORDS = tuple(dict.fromkeys(k for ks in KEYWORD_SETS.values() for k in ks))

KEYWORD_DOC = """
    The task is given by exactly one keyword set:

    * ridge source (THEORY §4): ``N`` (source sample size), ``mu`` (source mean norm),
      ``mu_orth`` (norm of the target's new direction), ``beta`` in [-1, 1] (task
      alignment), ``gamma`` (target ridge, > 0), ``gamma_src`` (source ridge, > 0);
    * fixed source (THEORY §3): ``gamma``, ``target_norm2`` = ||mu_beta||^2 >= 0,
      ``alignment`` = w~^T mu_beta, ``source_norm2`` = ||w~||^2 > 0, with
      ``alignment^2 <= target_norm2 * source_norm2``;
    * source vectors: ``gamma``, ``source`` (w~) and ``target_mean`` (mu_beta), 1-D arrays
      of length ``p``.

    ``n`` and ``p`` are positive integers (or arrays of them); all arguments broadcast.
    Results are float64 numpy values for numpy input, JAX arrays for JAX input.
"""


class Task(NamedTuple):
    """A task reduced to the fixed-source summary ``(eta, gamma, M, s, r)``; ``kind`` names
    the keyword set it was given by (a key of :data:`KEYWORD_SETS`)."""

    kind: str
    xp: object
    ndtr: object
    eta: object
    gamma: object
    M: object
    s: object
    r: object


def _select_set(given):
    for name, keys in KEYWORD_SETS.items():
        if set(keys) == set(given):
            return name
    sets = "; ".join(f"{name}: {', '.join(keys)}" for name, keys in KEYWORD_SETS.items())
    raise TypeError(
        f"got task keywords {sorted(given)}, which match no keyword set. "
        f"Give exactly one of these sets (do not mix them): {sets}"
    )


def resolve(n, p, task_kwargs, alpha=None) -> Task:
    """Validate ``n, p`` and one keyword set and reduce them to a :class:`Task`.

    ``alpha`` (not validated here) only takes part in choosing the array namespace, so that a
    JAX ``alpha`` alone (e.g. under ``jax.grad`` in alpha) gives a JAX computation.
    """
    given = {k: val for k, val in task_kwargs.items() if val is not None}
    unknown = set(given) - set(ALL_KEYWORDS)
    if unknown:
        raise TypeError(f"unexpected keyword(s) {sorted(unknown)}; accepted: {ALL_KEYWORDS}")
    kind = _select_set(given)
    v.positive_int("n", n)
    v.positive_int("p", p)
    v.positive("gamma", given["gamma"])
    xp, ndtr = namespace(n, p, alpha, *given.values())
    eta = asarray(xp, p) / asarray(xp, n)
    gamma = asarray(xp, given["gamma"])

    if kind == "ridge source":
        v.positive_int("N", given["N"])
        v.nonnegative("mu", given["mu"])
        v.nonnegative("mu_orth", given["mu_orth"])
        v.in_closed_interval("beta", given["beta"], -1.0, 1.0)
        v.positive("gamma_src", given["gamma_src"])
        mu, mu_orth, beta = (asarray(xp, given[k]) for k in ("mu", "mu_orth", "beta"))
        src = source_stats(p, N=given["N"], mu=mu, gamma_src=given["gamma_src"])
        M = beta * beta * mu * mu + (1.0 - beta * beta) * mu_orth * mu_orth
        return Task(kind, xp, ndtr, eta, gamma, M, beta * src.mean, src.norm2)

    if kind == "fixed source":
        v.nonnegative("target_norm2", given["target_norm2"])
        v.finite("alignment", given["alignment"])
        v.positive("source_norm2", given["source_norm2"])
        M, s, r = (asarray(xp, given[k]) for k in ("target_norm2", "alignment", "source_norm2"))
        _check_cauchy_schwarz(M, s, r)
        # The mean and chance_alpha do not involve r: broadcast so that every result has
        # the broadcast shape of all the arguments.
        M, s, r = xp.broadcast_arrays(M, s, r)
        return Task(kind, xp, ndtr, eta, gamma, M, s, r)

    p_value = concrete(p)
    if p_value is None or p_value.ndim != 0:
        raise ValueError("with source=/target_mean= vectors, p must be a single integer")
    length = int(p_value)
    v.vector("source", given["source"], length)
    v.vector("target_mean", given["target_mean"], length)
    w, mu_b = asarray(xp, given["source"]), asarray(xp, given["target_mean"])
    r = xp.dot(w, w)
    r_value = concrete(r)
    if r_value is not None and r_value <= 0:
        raise ValueError("source must be a non-zero vector (||source||^2 > 0)")
    return Task(kind, xp, ndtr, eta, gamma, xp.dot(mu_b, mu_b), xp.dot(w, mu_b), r)


def _check_cauchy_schwarz(M, s, r):
    Mv, sv, rv = concrete(M), concrete(s), concrete(r)
    if Mv is None or sv is None or rv is None:
        return
    excess = sv * sv - Mv * rv
    if (excess > 1e-12 * Mv * rv).any():
        raise ValueError(
            "alignment^2 must be <= target_norm2 * source_norm2 (Cauchy-Schwarz: "
            "|w~^T mu_beta| <= ||w~|| ||mu_beta||)"
        )


def task_function(with_alpha: bool):
    """Decorate ``f(alpha, task)`` (or ``f(task)``) into ``f(alpha, n, p, *, <keywords>)``.

    The public signature lists every task keyword (keyword-only, default ``None``) so that
    ``help()`` and introspection show them; :func:`resolve` enforces that exactly one
    keyword set is given.
    """

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            positional = ("alpha", "n", "p") if with_alpha else ("n", "p")
            bound = wrapper.__signature__.bind(*args, **kwargs)
            pos = [bound.arguments[k] for k in positional]
            task_kwargs = {k: bound.arguments.get(k) for k in ALL_KEYWORDS}
            task = resolve(pos[-2], pos[-1], task_kwargs, pos[0] if with_alpha else None)
            if with_alpha:
                v.finite("alpha", pos[0])
                return f(pos[0], task)
            return f(task)

        params = [
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for name in (("alpha", "n", "p") if with_alpha else ("n", "p"))
        ] + [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
            for name in ALL_KEYWORDS
        ]
        wrapper.__signature__ = inspect.Signature(params)
        wrapper.__doc__ = (f.__doc__ or "") + KEYWORD_DOC
        return wrapper

    return decorate
