"""Tuning alpha and the target ridge gamma together (THEORY §12).

The search is generic over keyword sets: the profiles in gamma are evaluated through the
public closed forms (:func:`optimal_alpha` and :func:`test_error` with ``gamma`` set), and
each keyword set contributes only its exact limits gamma -> infinity and, where derived,
gamma -> 0 (:data:`_LIMITS`).
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import _general, _task, _theory
from ._backend import asarray, finish, namespace
from ._covariance import validated_once

if TYPE_CHECKING:
    from ._typing import Array, ArrayLike

GRID = (1e-12, 1e12)
"""The finite part of the search in gamma when ``gamma_min = 0`` / ``gamma_max = inf``."""
POINTS_PER_DECADE = 12
CANDIDATES = 3  # grid local maxima refined, so that a second local maximum is not missed
GOLDEN_STEPS = 46  # golden-section steps: a bracket of two grid steps shrinks below 1e-10 in log gamma
TIE = 1e-10  # a limit whose test error is within this (relative) of the interior best wins
# Where alpha* is +-inf (THEORY §9.5) the accuracy is evaluated at +-HUGE_ALPHA: its limit
# alpha -> +-inf to rounding (the score's mean and variance are then m1 alpha and V11 alpha^2).
HUGE_ALPHA = 1e100


class JointOptimum(NamedTuple):
    """The result of :func:`optimal_alpha_gamma` (THEORY §12); every field has the task's
    broadcast shape.

    * ``alpha``, ``gamma``: the joint maximiser (alpha**, gamma**). ``gamma`` is ``inf``
      when the optimum is the limit gamma -> infinity (then ``alpha`` is the limit of
      alpha*(gamma), 0 unless the source is exactly aligned with the target mean), and 0
      for the limit gamma -> 0 (then ``alpha`` is infinite when p < n);
    * ``alpha_gamma``: the product alpha gamma, finite in both limits: the weight ``c`` of
      the source in the limit classifier ``X y / n + c w~`` (gamma -> infinity);
    * ``accuracy``: the test accuracy at the joint optimum;
    * ``gamma_fine_tuning``, ``accuracy_fine_tuning``: plain fine-tuning (alpha = 1) with
      gamma tuned; ``gamma_no_transfer``, ``accuracy_no_transfer``: alpha = 0, gamma tuned.
    """

    alpha: Array
    gamma: Array
    alpha_gamma: Array
    accuracy: Array
    gamma_fine_tuning: Array
    accuracy_fine_tuning: Array
    gamma_no_transfer: Array
    accuracy_no_transfer: Array


class BoundaryLimit(NamedTuple):
    """A keyword set's exact limit at one end of the gamma range (THEORY §12): the test
    accuracy and error of the joint optimum there, with its ``alpha`` and ``alpha_gamma``, and
    of alpha = 1 and alpha = 0."""

    accuracy: Array
    error: Array
    alpha: Array
    alpha_gamma: Array
    accuracy_fine_tuning: Array
    error_fine_tuning: Array
    accuracy_no_transfer: Array
    error_no_transfer: Array

    @classmethod
    def from_snr(cls, ndtr, snr, alpha, alpha_gamma, snr_fine_tuning, snr_no_transfer):
        """From the score SNRs of an isotropic task (accuracy ``Phi(SNR)``)."""
        return cls(ndtr(snr), ndtr(-snr), alpha, alpha_gamma, ndtr(snr_fine_tuning),
                   ndtr(-snr_fine_tuning), ndtr(snr_no_transfer), ndtr(-snr_no_transfer))


# --------------------------------------------------------------------------------------
# The limits of the isotropic keyword sets (THEORY §12)
# --------------------------------------------------------------------------------------


def isotropic_snr(t, a, *, eta, M, s, r):
    r"""The score SNR ``m / sqrt(E2 - m^2)`` of THEORY §3 in the variables of THEORY §12,
    ``t = alpha kappa`` and ``a = 1 / (1 + kappa)``:

    ``SNR = sqrt(h) (M + t s) / sqrt(D)``, ``h = 1 - eta a^2``,
    ``D = M + eta + 2 t s (1 - eta a) + t^2 ((1 + a M)^2 r - s^2 (2a + a^2 (M - eta)))``,

    finite at ``a = 0`` (gamma -> infinity, where ``t -> alpha gamma``) and at ``kappa = 0``
    (gamma -> 0 with p < n, where ``t -> alpha gamma / (1 - eta)``).
    """
    h = 1.0 - eta * a * a
    D = M + eta + 2.0 * t * s * (1.0 - eta * a) + t * t * (
        (1.0 + a * M) ** 2 * r - s * s * (2.0 * a + a * a * (M - eta)))
    return h ** 0.5 * (M + t * s) / D ** 0.5


def _isotropic_limits(n, p, kwargs):
    """(limit gamma -> 0, limit gamma -> infinity) for a task of THEORY §3-§4."""
    task = _task.resolve(n, p, dict(kwargs, gamma=1.0))
    xp, eta, M, s, r = task.xp, task.eta, task.M, task.s, task.r
    snr = functools.partial(isotropic_snr, eta=eta, M=M, s=s, r=r)
    d = xp.maximum(M * r - s * s, 0.0)  # >= 0 by Cauchy-Schwarz
    aligned = d == 0  # source parallel to the target mean (or M = 0)
    orthogonal = s == 0
    # gamma -> infinity (a = 0): w_alpha gamma -> X y / n + c w~; the best c is eta s / d and
    # the joint SNR is S = sqrt((M d + eta s^2) / (d + eta r)); alpha = 1 leaves the source.
    S = ((M * d + eta * s * s) / (d + eta * r)) ** 0.5
    c_inf = xp.where(orthogonal, 0.0, xp.where(aligned, xp.copysign(xp.inf, s),
                                               eta * s / xp.where(aligned, 1.0, d)))
    alpha_inf = xp.where(aligned & ~orthogonal, 1.0 / xp.where(orthogonal, 1.0, s), 0.0)
    at_inf = BoundaryLimit.from_snr(task.ndtr, S, alpha_inf, c_inf, s / r ** 0.5, snr(0.0, 0.0))
    # gamma -> 0 (minimum-norm limit): kappa -> kappa0 = max(eta - 1, 0), h -> h0; the joint
    # SNR is sqrt(h0) S. With p > n alpha* stays finite (alpha gamma -> 0); with p < n the
    # source's term vanishes unless alpha ~ 1/gamma: alpha* -> +-inf, alpha gamma -> c0.
    kappa0 = xp.maximum(eta - 1.0, 0.0)
    a0 = 1.0 / (1.0 + kappa0)
    h0 = xp.abs(1.0 - eta) / xp.maximum(1.0, eta)
    den = (M + 1.0 + kappa0) * d + eta * s * s
    safe_den = xp.where(den > 0, den, 1.0)
    over = eta > 1.0
    alpha_0 = xp.where(orthogonal, 0.0, xp.where(
        over, eta * (1.0 + kappa0) * s / (xp.where(over, kappa0, 1.0) * safe_den),
        xp.copysign(xp.inf, s)))
    c_0 = xp.where(over | orthogonal, 0.0, eta * (1.0 - eta) * s / safe_den)
    at_zero = BoundaryLimit.from_snr(task.ndtr, h0 ** 0.5 * S, alpha_0, c_0, snr(kappa0, a0),
                                     snr(0.0, a0))
    return at_zero, at_inf


def _general_limits(n, p, kwargs):
    """(None, limit gamma -> infinity) for a general keyword set (THEORY §12.4): the limit
    classifier ``X y/n + c w~`` has the score coefficients of
    :func:`rmt_alpha._general.infinity_coefficients` with ``c`` in the place of alpha, so its
    best ``c`` is the argmax of THEORY §9.5. The limit gamma -> 0 is not derived for these
    sets: the search stops at the grid's lower end."""
    task = _task.resolve(n, p, dict(kwargs, gamma=1.0))
    xp = task.xp
    coefficients = _general.coefficients(task, at_infinity=True)
    c = asarray(xp, _general.argmax(task, coefficients))

    def accuracy(weight, error=False):
        """The class-averaged accuracy (or error) of ``X y/n + weight w~``; ``weight`` may be
        +-inf (the source alone)."""
        finite = xp.isfinite(weight)
        w = xp.where(finite, weight, 0.0)
        out = 0.0
        for y in (0, 1):
            V0, V01, V11 = (x[..., y] for x in coefficients[2:])
            snr = xp.where(finite, (coefficients.m0 + w * coefficients.m1)
                           / (V0 + w * (2.0 * V01 + w * V11)) ** 0.5,
                           xp.sign(weight) * coefficients.m1 / V11 ** 0.5)
            out = out + _general.CLASS_WEIGHTS[y] * task.ndtr(-snr if error else snr)
        return out

    alpha = xp.where(xp.isfinite(c), 0.0, c)
    ends = [(c, "joint"), (xp.inf, "fine_tuning"), (0.0, "no_transfer")]
    acc = {name: (accuracy(asarray(xp, w)), accuracy(asarray(xp, w), True)) for w, name in ends}
    return None, BoundaryLimit(*acc["joint"], alpha, c, *acc["fine_tuning"], *acc["no_transfer"])


_LIMITS = {
    "ridge source": _isotropic_limits,
    "fixed source": _isotropic_limits,
    "source vectors": _isotropic_limits,
    "general ridge source": _general_limits,
    "general fixed source": _general_limits,
}


# --------------------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------------------


def _loop(xp, steps, body, state):
    if xp is np:
        for _ in range(steps):
            state = body(state)
        return state
    from jax import lax

    return lax.fori_loop(0, steps, lambda i, s: body(s), state)


def _log_grid(xp, lo, hi):
    """``log gamma`` from ``log lo`` to ``log hi``, ``POINTS_PER_DECADE`` points per decade."""
    count = max(3, int(math.ceil(POINTS_PER_DECADE * math.log10(hi / lo))) + 1)
    return asarray(xp, np.linspace(math.log(lo), math.log(hi), count))


def _minimise(xp, error, ell, E):
    """Minimise ``error(gamma)`` over ``log gamma`` for every task of a batch at once, from
    its values ``E`` on the grid ``ell`` (:func:`_log_grid`; shape ``(len(ell),) + batch``): a
    golden-section refinement of the ``CANDIDATES`` best grid local minima (ends included)
    between their grid neighbours. Returns ``(log gamma, error)``, never worse than the
    grid's best point."""
    count, shape = E.shape[0], E.shape[1:]
    pad = xp.full((1,) + shape, xp.inf, dtype=E.dtype)
    padded = xp.concatenate([pad, E, pad], axis=0)
    is_min = (E <= padded[:-2]) & (E <= padded[2:])
    k = min(CANDIDATES, count)
    index = xp.argsort(xp.where(is_min, E, xp.inf), axis=0)[:k]
    e_grid = xp.take_along_axis(E, index, axis=0)
    a = xp.take(ell, xp.maximum(index - 1, 0))  # the bracket: the grid neighbours
    b = xp.take(ell, xp.minimum(index + 1, count - 1))
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)

    def step(state):
        a, b, c, d, fc, fd = state
        left = fc < fd  # the minimum is in [a, d]
        a2, b2 = xp.where(left, a, c), xp.where(left, d, b)
        c2 = xp.where(left, b2 - g * (b2 - a2), d)
        d2 = xp.where(left, c, a2 + g * (b2 - a2))
        f_new = error(xp.exp(xp.where(left, c2, d2)))
        return a2, b2, c2, d2, xp.where(left, f_new, fd), xp.where(left, fc, f_new)

    state = (a, b, c, d, error(xp.exp(c)), error(xp.exp(d)))
    a, b, c, d, fc, fd = _loop(xp, GOLDEN_STEPS, step, state)
    e_ref = xp.minimum(fc, fd)
    ell_ref = xp.where(fc <= fd, c, d)
    better = e_ref <= e_grid
    e_cand = xp.where(better, e_ref, e_grid)
    ell_cand = xp.where(better, ell_ref, xp.take(ell, index))
    best = xp.argmin(e_cand, axis=0)[None]
    return (xp.take_along_axis(ell_cand, best, axis=0)[0],
            xp.take_along_axis(e_cand, best, axis=0)[0])


def _implicit(xp, error, task, ell, free):
    """``ell``, the minimiser of ``error(task, exp(ell))``, made differentiable in ``task``
    (JAX only): its derivative is the implicit-function one, ``-d_task E' / E''`` (``'`` in
    ``ell``) where the minimum is interior (``free``), and 0 at a bound. Nothing extra is
    computed unless JAX differentiates."""
    if xp is np:
        return ell
    import jax

    def slope(t, y):
        return jax.jvp(lambda z: error(t, xp.exp(z)), (y,), (xp.ones_like(y),))[1]

    @jax.custom_jvp
    def located(t, y, free):
        return y

    @located.defjvp
    def located_jvp(primals, tangents):
        t, y, free = primals
        mixed = jax.jvp(lambda u: slope(u, y), (t,), (tangents[0],))[1]
        curvature = jax.jvp(lambda z: slope(t, z), (y,), (xp.ones_like(y),))[1]
        ok = free & (curvature > 0)
        return y, xp.where(ok, -mixed / xp.where(ok, curvature, 1.0), 0.0)

    return located(task, jax.lax.stop_gradient(ell), free)


def _tuned(xp, error, task, constant_task, limits, grid, E, zero_is_limit, inf_is_limit):
    """One profile: minimise the test error ``error(task, gamma)`` (values ``E`` on the grid
    ``grid = (lo, hi, log gamma)``) over ``[lo, hi]``, on the task held constant (nothing of
    the search is differentiated), and compare with the limits' test errors
    ``(at 0, at infinity)``. Returns ``(gamma, at_zero, at_inf)``."""
    shape = E.shape[1:]
    lo, hi, ell = grid
    ell, e = _minimise(xp, lambda g: error(constant_task, g), ell, E)
    at_inf = xp.zeros(shape, dtype=bool)
    at_zero = xp.zeros(shape, dtype=bool)
    e0, e_inf = (None if x is None else xp.broadcast_to(x, shape) for x in limits)
    if inf_is_limit:
        at_inf = e_inf <= e * (1.0 + TIE)
        if zero_is_limit:
            at_inf = at_inf & (e_inf <= e0 * (1.0 + TIE))
    if zero_is_limit:
        at_zero = ~at_inf & (e0 <= e * (1.0 + TIE))
    margin = 1e-9
    at_lo = ell < math.log(lo) + margin
    at_hi = ell > math.log(hi) - margin
    free = ~at_inf & ~at_zero & ~at_lo & ~at_hi
    ell = _implicit(xp, error, task, ell, free)
    return xp.where(at_lo, lo, xp.where(at_hi, hi, xp.exp(ell))), at_zero, at_inf


def _usable(xp, alpha):
    """alpha, with +-inf (THEORY §9.5) replaced by +-HUGE_ALPHA, where the closed forms equal
    their limit alpha -> +-inf to rounding."""
    return xp.where(xp.isfinite(alpha), alpha, xp.sign(alpha) * HUGE_ALPHA)


def _errors(xp, n, p):
    """The test error of the three profiles as functions of ``(task, gamma)``: alpha*(gamma)
    (joint), alpha = 1 (fine-tuning), alpha = 0 (no transfer)."""

    def joint(task, g):
        alpha = _usable(xp, _theory.optimal_alpha(n, p, **task, gamma=g))
        return _theory.test_error(alpha, n, p, **task, gamma=g)

    def fixed(alpha):
        return lambda task, g: _theory.test_error(alpha, n, p, **task, gamma=g)

    return {"joint": joint, "fine_tuning": fixed(1.0), "no_transfer": fixed(0.0)}


def _constant(xp):
    """Holds a value constant under JAX differentiation (identity for numpy)."""
    if xp is np:
        return lambda x: x
    import jax

    return jax.lax.stop_gradient


def _check_bounds(gamma_min, gamma_max):
    for name, x in (("gamma_min", gamma_min), ("gamma_max", gamma_max)):
        if not isinstance(x, (int, float, np.integer, np.floating)) or isinstance(x, bool):
            raise TypeError(f"{name} must be a real number, got {x!r}")
    if not (math.isfinite(gamma_min) and gamma_min >= 0):
        raise ValueError(f"gamma_min must be >= 0 and finite, got {gamma_min!r}")
    if math.isnan(gamma_max) or gamma_max <= gamma_min:
        raise ValueError(f"gamma_max must be > gamma_min = {gamma_min!r} (inf allowed), "
                         f"got {gamma_max!r}")


def _grid_range(gamma_min, gamma_max):
    hi = gamma_max if math.isfinite(gamma_max) else max(GRID[1], 1e4 * gamma_min)
    lo = gamma_min if gamma_min > 0 else min(GRID[0], 1e-4 * hi)
    return float(lo), float(hi)


def _task_kwargs(given):
    task = {k: val for k, val in given.items() if val is not None}
    for name, keys in _task.KEYWORD_SETS.items():
        if set(keys) - {"gamma"} == set(task):
            return name, task
    unknown = set(task) - set(_task.ALL_KEYWORDS)
    if unknown:
        raise TypeError(f"unexpected keyword(s) {sorted(unknown)}; accepted: "
                        f"{tuple(k for k in _task.ALL_KEYWORDS if k != 'gamma')}")
    sets = "; ".join(f"{name}: {', '.join(k for k in keys if k != 'gamma')}"
                     for name, keys in _task.KEYWORD_SETS.items())
    raise TypeError(f"got task keywords {sorted(task)}, which match no keyword set. "
                    f"Give exactly one of these sets (without gamma, which is tuned): {sets}")


def optimal_alpha_gamma(n: ArrayLike, p: ArrayLike, **kwargs: Any) -> JointOptimum:
    r"""The joint maximiser of the test accuracy over alpha in R and the target ridge gamma
    in ``[gamma_min, gamma_max]`` (THEORY §12), with, for comparison, the best accuracy of
    plain fine-tuning (alpha = 1) and of no transfer (alpha = 0), gamma tuned for each.

    For each gamma the best alpha is the closed form ``alpha*(gamma)``
    (:func:`optimal_alpha`), so the joint optimum maximises the profile
    ``A(alpha*(gamma), gamma)`` over gamma. The search is in ``log gamma``: a grid of 12
    points per decade, the three best local maxima of the grid refined by golden section
    (the profile is not assumed unimodal: at alpha = 1 it can have two local maxima), and
    the exact limits gamma -> 0 and gamma -> infinity of THEORY §12 compared with the best
    interior point (a limit within a relative ``1e-10`` of the interior's test error wins).

    ``gamma_min`` (default 0: the minimum-norm limit gamma -> 0 included) and ``gamma_max``
    (default ``inf``: the limit included) bound the search; with the defaults the grid spans
    ``[1e-12, 1e12]`` and the two limits are exact. In the isotropic model (THEORY §3-§4)
    ``A(alpha*(gamma), gamma) = Phi(sqrt(h(gamma)) S)`` grows with gamma, so the joint optimum
    is the limit gamma -> infinity: ``gamma = inf``, ``alpha_gamma = c = eta s / (M r - s^2)``
    (the classifier ``X y / n + c w~``), accuracy ``Phi(S)``,
    ``S^2 = (M d + eta s^2) / (d + eta r)``, ``d = M r - s^2``. With general covariances
    (THEORY §9, §12.4) the optimum is typically interior; the limit gamma -> infinity is
    exact there too, the limit gamma -> 0 is not derived (the search stops at 1e-12), and
    alpha* may be infinite (THEORY §9.5; then ``alpha`` and ``alpha_gamma`` are ``+-inf``).

    Every argument broadcasts; numpy input gives float64, JAX input JAX arrays (under
    ``jit``, ``vmap`` and ``grad``, for the task arguments that the closed forms trace: the
    accuracies are differentiable, and the tuned gammas carry the implicit-function
    derivative where the optimum is interior). Returns a :class:`JointOptimum`.
    """
    with validated_once():  # ~200 evaluations of one task: its covariances validated once
        return _optimal_alpha_gamma(n, p, kwargs)


def _optimal_alpha_gamma(n, p, kwargs):
    if kwargs.get("gamma") is not None:
        raise TypeError("optimal_alpha_gamma tunes gamma: do not pass gamma "
                        "(gamma_min and gamma_max bound the search)")
    kwargs.pop("gamma", None)
    bound = optimal_alpha_gamma.__signature__.bind(n, p, **kwargs)
    args = {k: bound.arguments.get(k, prm.default)
            for k, prm in optimal_alpha_gamma.__signature__.parameters.items()}
    gamma_min, gamma_max = args.pop("gamma_min"), args.pop("gamma_max")
    n, p = args.pop("n"), args.pop("p")
    kind, task = _task_kwargs(args)
    _check_bounds(gamma_min, gamma_max)
    xp, _ = namespace(n, p, *task.values())
    shape = tuple(xp.shape(_theory.optimal_alpha(n, p, **task, gamma=1.0)))  # validates
    if xp is not np:
        import jax

        task = jax.tree_util.tree_map(xp.asarray, task)  # (a covariance pair stays a tuple)
    const = _constant(xp)
    constant_task = {k: const(val) for k, val in task.items()}
    zero, inf = _LIMITS[kind](n, p, task)
    lo, hi = _grid_range(gamma_min, gamma_max)
    errors = _errors(xp, n, p)
    ends = dict(zero_is_limit=gamma_min == 0 and zero is not None,
                inf_is_limit=math.isinf(gamma_max))

    def select(at_zero, at_inf, interior, at0, at_infinity):
        if zero is None:  # never at_zero
            return xp.where(at_inf, at_infinity, interior)
        return xp.where(at_inf, at_infinity, xp.where(at_zero, at0, interior))

    # the profiles on the grid: alpha = 1 and alpha = 0 in one call (one evaluation of the
    # task's coefficients per gamma)
    ell = _log_grid(xp, lo, hi)
    grid = xp.exp(ell)[(slice(None),) + (None,) * len(shape)]
    fixed = _theory.test_error(asarray(xp, [1.0, 0.0])[(slice(None), None) + (None,) * len(shape)],
                               n, p, **constant_task, gamma=grid)
    on_grid = {"joint": errors["joint"](constant_task, grid), "fine_tuning": fixed[0],
               "no_transfer": fixed[1]}

    def tuned(name, field):
        limits = [None if end is None else const(getattr(end, field)) for end in (zero, inf)]
        E = xp.broadcast_to(on_grid[name], ell.shape + shape)
        g, z, i = _tuned(xp, errors[name], task, constant_task, limits, (lo, hi, ell), E,
                         **ends)
        return g, z, i, xp.where(z | i, 1.0, g)  # the last: finite where unused

    def limit(field):
        return [None if end is None else getattr(end, field) for end in (zero, inf)]

    g, z, i, g_int = tuned("joint", "error")
    a_int = _theory.optimal_alpha(n, p, **task, gamma=g_int)
    result = {
        "alpha": select(z, i, a_int, *limit("alpha")),
        "gamma": select(z, i, g, 0.0, xp.inf),
        "alpha_gamma": select(z, i, a_int * g_int, *limit("alpha_gamma")),
        "accuracy": select(z, i, _theory.test_accuracy(_usable(xp, a_int), n, p, **task,
                                                       gamma=g_int), *limit("accuracy")),
    }
    for name, alpha in (("fine_tuning", 1.0), ("no_transfer", 0.0)):
        g, z, i, g_int = tuned(name, "error_" + name)
        result["gamma_" + name] = select(z, i, g, 0.0, xp.inf)
        result["accuracy_" + name] = select(
            z, i, _theory.test_accuracy(alpha, n, p, **task, gamma=g_int),
            *limit("accuracy_" + name))
    return JointOptimum(**{k: finish(xp, xp.broadcast_to(asarray(xp, val), shape))
                           for k, val in result.items()})


optimal_alpha_gamma.__signature__ = inspect.Signature(
    [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="ArrayLike")
     for name in ("n", "p")]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                         annotation=_task._ANNOTATIONS.get(name, "ArrayLike | None"))
       for name in _task.ALL_KEYWORDS if name != "gamma"]
    + [inspect.Parameter("gamma_min", inspect.Parameter.KEYWORD_ONLY, default=0.0,
                         annotation="float"),
       inspect.Parameter("gamma_max", inspect.Parameter.KEYWORD_ONLY, default=math.inf,
                         annotation="float")],
    return_annotation="JointOptimum")
optimal_alpha_gamma.__doc__ += (
    "\n    The task is one keyword set of :func:`test_accuracy`, without ``gamma`` (it is tuned):\n"
    + _task.KEYWORD_DOC)
