"""Covariance arguments of the general keyword sets (THEORY §9): parsing, validation and the
frame in which each task's covariances are diagonal.

A covariance argument is

* a ``(p, p)`` symmetric positive semi-definite array (dense),
* a ``(p,)`` array, the diagonal of a diagonal covariance (never expanded to a matrix), or
* a Python ``tuple`` ``(C_plus, C_minus)`` of two such arrays: class-dependent noise.

Only a ``tuple`` means a pair (a list or an array is converted to one array), so that
``p = 2`` is unambiguous.

:func:`layout` then chooses, for each task (target, source), an orthonormal frame ``U``
(``None``: the coordinate frame) in which its covariances are diagonal, so that every block
of THEORY §9 is a sum over ``p`` eigenvalues (O(p)). Covariances that commute share a frame
(one frame for source and target when possible, which makes the cross terms O(p) too); two
class covariances of one task that do not commute are kept dense (O(p^3)).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from . import _validate as v
from ._backend import concrete

SYMMETRY_RTOL = 1e-10  # |C - C^T| <= SYMMETRY_RTOL * max |C|
PSD_RTOL = 1e-10  # eigenvalues >= -PSD_RTOL * ||C||; smaller negative ones are set to 0
COMMUTE_RTOL = 1e-10  # ||AB - BA||_F <= COMMUTE_RTOL ||A||_F ||B||_F counts as commuting


class Cov:
    """One validated covariance: ``array`` is the (p,) diagonal or the symmetrised (p, p)
    matrix (float64 numpy, or a JAX array when traced); ``eigh()`` is computed once."""

    def __init__(self, name, array, eig=None):
        self.name = name
        self.array = array
        self._eig = eig

    @property
    def diagonal(self):
        return self.array.ndim == 1

    @property
    def traced(self):
        return concrete(self.array) is None

    def eigh(self):
        """(eigenvalues >= 0, eigenvectors) of a dense covariance."""
        if self._eig is None:
            lam, U = np.linalg.eigh(self.array)
            self._eig = (np.maximum(lam, 0.0), U)
        return self._eig


def parse(name, x, p, memo=None):
    """Validate one covariance argument; return a tuple of one or two :class:`Cov`.

    ``memo`` (a dict) lets arguments passed as the same object share one validation and one
    eigendecomposition.
    """
    if isinstance(x, tuple):
        if len(x) != 2:
            raise ValueError(
                f"{name} must be one covariance or a tuple (C_plus, C_minus) of two, "
                f"got a tuple of length {len(x)}"
            )
        return tuple(_parse_one(f"{name}[{i}]", c, p, memo) for i, c in enumerate(x))
    return (_parse_one(name, x, p, memo),)


_SCOPE = contextvars.ContextVar("rmt_alpha_validated_covariances", default=None)


@contextlib.contextmanager
def validated_once():
    """Inside the block (one thread or task), a covariance passed again as the same object
    is not validated again (finite, symmetric, its content hash): for a caller that
    evaluates the closed forms many times on one task and does not change the arrays
    meanwhile (:func:`rmt_alpha.optimal_alpha_gamma`, about 200 evaluations)."""
    token = _SCOPE.set({}) if _SCOPE.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _SCOPE.reset(token)


def scope_memo():
    """The ``memo`` of :func:`parse` for one validation: the block's of
    :func:`validated_once`, else a fresh one."""
    memo = _SCOPE.get()
    return {} if memo is None else memo


def _parse_one(name, x, p, memo):
    if memo is None:
        return _validate_one(name, x, p)
    if id(x) in memo:
        return memo[id(x)][1]
    a = concrete(x) if not isinstance(x, (list, tuple)) else None
    for y, cov in memo.values():  # an equal array given again (e.g. Cs = Ct as two copies)
        if a is not None and isinstance(y, np.ndarray) and a.shape == y.shape \
                and np.array_equal(a, y):
            memo[id(x)] = (x, cov)
            return cov
    cov = _validate_one(name, x, p)
    memo[id(x)] = (x, cov)  # keep x alive so that its id is not reused
    return cov


def _shape_error(name, shape, p):
    hint = (" (for class-dependent noise pass a tuple (C_plus, C_minus), not a list or an array)"
            if len(shape) >= 2 and shape[0] == 2 and tuple(shape[1:]) in ((p,), (p, p)) else "")
    return ValueError(
        f"{name} must be a (p, p) = ({p}, {p}) covariance matrix or a (p,) = ({p},) diagonal, "
        f"got shape {tuple(shape)}{hint}"
    )


def _validate_one(name, x, p):
    if concrete(x) is None:  # traced by JAX: only the shape can be checked
        if x.shape not in ((p,), (p, p)):
            raise _shape_error(name, x.shape, p)
        return Cov(name, x)
    v.finite(name, x)  # TypeError for non-numbers, ValueError for nan/inf
    a = np.asarray(x, dtype=np.float64)
    if a.shape not in ((p,), (p, p)):
        raise _shape_error(name, a.shape, p)
    if a.ndim == 1:
        scale = np.max(np.abs(a)) if a.size else 0.0
        if np.any(a < -PSD_RTOL * scale):
            raise ValueError(
                f"{name} must be positive semi-definite: the diagonal has the negative entry "
                f"{a.min():.3g}"
            )
        return Cov(name, np.maximum(a, 0.0))
    # the cache holds only matrices that passed the checks below: a hit skips them
    key = (a.shape, content_digest(a))
    cached = _EIGH_CACHE.get(key)
    if cached is not None:
        return Cov(name, *cached)
    scale = np.max(np.abs(a))
    asym = np.max(np.abs(a - a.T))
    if asym > SYMMETRY_RTOL * scale:
        raise ValueError(
            f"{name} must be symmetric (max |C - C^T| = {asym:.3g}, "
            f"relative {asym / scale:.3g} > {SYMMETRY_RTOL:g})"
        )
    a = 0.5 * (a + a.T)
    lam, U = np.linalg.eigh(a)
    norm = np.max(np.abs(lam))
    if lam[0] < -PSD_RTOL * norm:
        raise ValueError(
            f"{name} must be positive semi-definite: smallest eigenvalue {lam[0]:.3g} "
            f"(largest {lam[-1]:.3g})"
        )
    if lam[0] < 0:  # rounding: rebuild the matrix from the clipped spectrum
        lam = np.maximum(lam, 0.0)
        a = (U * lam) @ U.T
    _EIGH_CACHE.put(key, (a, (lam, U)), 2 * a.nbytes)
    return Cov(name, a, (lam, U))


def content_digest(a) -> bytes:
    """A 16-byte digest of an array's bytes: the key of the caches of computations on
    arrays a caller may change in place between calls."""
    return hashlib.blake2b(np.ascontiguousarray(a).data, digest_size=16).digest()


class _LRU:
    """The validated matrices and eigendecompositions of the last dense covariances seen
    (keyed by content), so that repeated calls with the same covariance (a sweep over gamma, an
    optimiser) factorise it once. At most ``max_bytes``; thread-safe."""

    def __init__(self, max_bytes):
        self.max_bytes, self.bytes, self.items = max_bytes, 0, OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key][0]
        return None

    def clear(self):
        with self.lock:
            self.items.clear()
            self.bytes = 0

    def put(self, key, value, nbytes):
        if nbytes > self.max_bytes:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = (value, nbytes)
            self.bytes += nbytes
            while self.bytes > self.max_bytes:
                _, (_, size) = self.items.popitem(last=False)
                self.bytes -= size


# 1 GiB each: room for a source and a target covariance of p = 4096 (256 MiB per entry: the
# matrix and its eigenvectors) and their pair products. With 256 MiB two such covariances
# evicted each other and every call factorised both again (p = 3072: 11-12 s per call).
CACHE_BYTES = 2**30
_EIGH_CACHE = _LRU(max_bytes=CACHE_BYTES)
_PAIR_CACHE = _LRU(max_bytes=CACHE_BYTES)


def pair_cached(kind, a, b, compute):
    """``compute()`` for the pair of arrays ``(a, b)``, remembered while both are the same
    objects (the cached validated matrices and eigenvectors are, from call to call)."""
    key = (kind, id(a), id(b))
    hit = _PAIR_CACHE.get(key)
    if hit is not None and hit[0] is a and hit[1] is b:
        return hit[2]
    value = compute()
    parts = value if isinstance(value, tuple) else ()
    size = a.nbytes + b.nbytes + sum(x.nbytes for x in parts if isinstance(x, np.ndarray))
    _PAIR_CACHE.put(key, (a, b, value), size)
    return value


# ----------------------------------------------------------------------------------------
# Frames


class TaskFrame(NamedTuple):
    """A task's covariances in its frame: ``U`` (None: coordinates) and ``covs``, all (p,)
    diagonals in that frame, or all (p, p) matrices (``U`` None) when they do not commute."""

    U: object
    covs: tuple

    @property
    def dense(self):
        return self.covs[0].ndim == 2


def layout(*groups):
    """One :class:`TaskFrame` per group (a task's tuple of :class:`Cov`).

    All diagonal: the coordinate frame. Otherwise one common frame for all groups when
    every covariance commutes with every other, else a frame per group (dense if its two
    class covariances do not commute).
    """
    everything = [c for g in groups for c in g]
    if all(c.diagonal for c in everything):
        return tuple(TaskFrame(None, tuple(c.array for c in g)) for g in groups)
    # (a covariance traced by JAX is a diagonal: its task keeps the coordinate frame)
    common = None if any(c.traced for c in everything) else _common_frame(everything)
    if common is not None:
        U, diag = common
        return tuple(TaskFrame(U, tuple(diag[id(c)] for c in g)) for g in groups)
    out = []
    for g in groups:
        if all(c.diagonal for c in g):
            out.append(TaskFrame(None, tuple(c.array for c in g)))
            continue
        own = _common_frame(list(g))
        if own is not None:
            U, diag = own
            out.append(TaskFrame(U, tuple(diag[id(c)] for c in g)))
        else:
            out.append(TaskFrame(None, tuple(_dense(c) for c in g)))
    return tuple(out)


def _dense(c):
    return np.diag(c.array) if c.diagonal else c.array


def _distinct(covs):
    out = []
    for c in covs:
        if not any(c is d or (c.array.shape == d.array.shape and np.array_equal(c.array, d.array))
                   for d in out):
            out.append(c)
    return out


def _commute(a, b):
    A, B = _dense(a), _dense(b)
    if a.diagonal and b.diagonal:
        return True
    if a.diagonal or b.diagonal:  # (D C - C D)_ij = (d_i - d_j) C_ij
        d, C = (a.array, B) if a.diagonal else (b.array, A)
        comm = (d[:, None] - d[None, :]) * C
    else:
        return pair_cached("commute", A, B, lambda: _dense_commute(A, B))
    return np.linalg.norm(comm) <= COMMUTE_RTOL * np.linalg.norm(A) * np.linalg.norm(B)


def _dense_commute(A, B):
    AB = A @ B
    comm = AB - AB.T  # BA = (AB)^T for symmetric A, B
    return bool(np.linalg.norm(comm) <= COMMUTE_RTOL * np.linalg.norm(A) * np.linalg.norm(B))


def _is_multiple_of_identity(c):
    return c.diagonal and np.all(c.array == c.array[0])


def _common_frame(covs):
    """``(U, {id(cov): diagonal in U})`` if the covariances share an eigenbasis, else None."""
    dist = _distinct(covs)
    dense = [c for c in dist if not c.diagonal]
    if not dense:
        return None, {id(c): c.array for c in covs}
    for i, a in enumerate(dist):
        for b in dist[i + 1:]:
            if not _commute(a, b):
                return None
    if len(dense) == 1 and all(_is_multiple_of_identity(c) for c in dist if c.diagonal):
        lam, U = dense[0].eigh()
        diag_of = {id(dense[0]): lam}
    else:
        # A generic combination of commuting matrices has their joint eigenvectors.
        weights = 1.0 + np.sqrt(np.arange(2, len(dist) + 2)) % 1.0
        S = sum(w * _dense(c) / max(np.linalg.norm(_dense(c)), 1e-300)
                for w, c in zip(weights, dist))
        _, U = np.linalg.eigh(S)
        diag_of = {}
        for c in dist:
            R = U.T @ _dense(c) @ U
            d = np.diag(R).copy()
            off = np.linalg.norm(R - np.diag(d))
            if off > COMMUTE_RTOL * max(np.linalg.norm(R), 1e-300):
                return None
            diag_of[id(c)] = np.maximum(d, 0.0)
    out = {}
    for c in covs:
        rep = next(d for d in dist if c is d or (c.array.shape == d.array.shape
                                                  and np.array_equal(c.array, d.array)))
        out[id(c)] = diag_of.get(id(rep), rep.array)  # (a multiple of I: diagonal anywhere)
    return U, out
