"""Closed-form test accuracy, score moments and the optimal alpha (THEORY §3-§4; the general
keyword sets are computed by :mod:`rmt_alpha._general`, THEORY §9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import _general, _memory
from . import _validate as v
from ._backend import asarray, finish, float_dtype, namespace
from ._task import Task, task_function
from .blocks import _h, _variance_coefficients, kappa

if TYPE_CHECKING:
    from ._typing import Array, ArrayLike


def _coefficients(task: Task):
    return _variance_coefficients(task.xp, task.eta, task.gamma, task.M, task.s, task.r,
                                  task.G)


def _snr(alpha, task: Task):
    r"""The signal-to-noise ratio ``m / sqrt(E2 - m^2)`` at ``alpha``, without overflow.

    With ``t = alpha kappa`` (the effective rescaling) and ``tau = max(1, |t|)``:
    ``m / sqrt(var) = num sqrt(h) / sqrt(P)`` (``L`` cancels), ``num = (M + t s) / tau``,
    ``P = ((M + eta) + 2 t s gamma/kappa + t^2 B) / tau^2`` (``1 - eta/(1+kappa) =
    gamma/kappa`` by the quadratic of THEORY §2, without cancellation; ``B`` of
    :func:`rmt_alpha.blocks._variance_coefficients`), so every term is bounded. ``alpha =
    +-inf`` gives the limit ``+-m1 / sqrt(T3 - m1^2)`` of THEORY §3 (``num = +-s``, ``P = B``).
    """
    xp = task.xp
    c = _coefficients(task)
    with np.errstate(over="ignore"):  # |t| = inf is the alpha -> +-inf limit, handled below
        t = asarray(xp, alpha) * c.kappa
    big = xp.abs(t) > 1.0
    u = xp.where(big, xp.sign(t), t)  # t / tau, also at t = +-inf
    w = 1.0 / xp.where(big, xp.abs(t), 1.0)  # 1 / tau (0 at t = +-inf)
    s, eta = task.s, task.eta
    num = task.M * w + u * s
    P = (task.M + eta) * w * w + 2.0 * u * (s * w) * (task.gamma / c.kappa) + u * u * c.B
    return num * xp.sqrt(c.h) / xp.sqrt(P)


def _mean_and_variance(alpha: ArrayLike, task: Task):
    r"""``m = m0 + alpha m1`` and ``var = v0 + alpha v1 + alpha^2 v2`` (THEORY §3), the
    last term as ``(t/L) (t/L) B / h`` with ``t = alpha kappa``: a term overflows only where
    its value does (and ``alpha v1``, ``alpha m1`` are 0 for ``s = 0`` at any alpha)."""
    c = _coefficients(task)
    a = asarray(task.xp, alpha)
    tl = a * (c.kappa / c.L)  # kappa <= L: no overflow before the value does
    return c.m0 + a * c.m1, c.v0 + a * c.v1 + tl * (tl * c.B) / c.h


@task_function(with_alpha=True, extra={"test_class": 1})
def score_moments(alpha: ArrayLike, task: Task, *, test_class: int = 1) -> tuple[Array, Array]:
    r"""Mean and second moment of the score ``w_alpha^T x`` of a class +1 target point.

    THEORY §3: ``m(alpha) = (M + alpha kappa s)/L`` and
    ``E2(alpha) = T1 + alpha T2 + alpha^2 T3``. Returns ``(mean, second_moment)``.

    ``test_class`` (+1 or -1) picks the class of the test point; the moments are those of
    the signed score ``y w_alpha^T x``: mean ``m(alpha)`` for both classes, second moment
    ``V_y(alpha) + m(alpha)^2`` (THEORY §9.3; the classes differ only for a class-dependent
    target covariance). ``E2`` grows like ``alpha^2``: it is ``inf`` only where its value
    exceeds the float range.
    """
    if task.general is not None:
        return _general.score_moments(alpha, task, test_class)
    if test_class not in (1, -1):
        raise ValueError(f"test_class must be +1 or -1, got {test_class!r}")
    m, var = _mean_and_variance(alpha, task)
    return finish(task.xp, m), finish(task.xp, var + m * m)


@task_function(with_alpha=True, infinite_alpha=True)
def test_accuracy(alpha: ArrayLike, task: Task) -> Array:
    r"""Test accuracy ``A(alpha) = Phi(m / sqrt(E2 - m^2))`` of the alpha-rescaled classifier.

    THEORY §3-§4. Honest: below 1/2 past the chance-level alpha (never ``max(A, 1 - A)``).
    ``alpha = +-inf`` gives the limit ``Phi(+-m1 / sqrt(T3 - m1^2))`` of THEORY §3 (isotropic
    keyword sets); every finite alpha is evaluated without overflow (through
    ``alpha kappa``, see ``_snr``). General covariances (THEORY §9.3):
    ``A = sum_y pi_y Phi(m / sqrt(V_y))``.
    """
    if task.general is not None:
        return _general.accuracy(alpha, task)
    return finish(task.xp, task.ndtr(_snr(alpha, task)))


@task_function(with_alpha=True, infinite_alpha=True)
def test_error(alpha: ArrayLike, task: Task) -> Array:
    r"""Test classification error ``1 - A(alpha)``, evaluated as ``Phi(-m / sqrt(E2 - m^2))``
    (accurate also when it is tiny; ``alpha = +-inf`` as in :func:`test_accuracy`)."""
    if task.general is not None:
        return _general.accuracy(alpha, task, error=True)
    return finish(task.xp, task.ndtr(-_snr(alpha, task)))


@task_function(with_alpha=True)
def test_risk(alpha: ArrayLike, task: Task) -> Array:
    r"""Squared loss on the target, ``E (y - w_alpha^T x)^2 = E2 - 2m + 1 = var + (1 - m)^2``
    (general covariances: the class average ``sum_y pi_y V_y + (1 - m)^2``, THEORY §9.3).
    Grows like ``alpha^2``: ``inf`` only where its value exceeds the float range."""
    if task.general is not None:
        return _general.risk(alpha, task)
    m, var = _mean_and_variance(alpha, task)
    return finish(task.xp, var + (1.0 - m) ** 2)


@task_function(with_alpha=False)
def optimal_alpha(task: Task) -> Array:
    r"""The accuracy-maximising rescaling (THEORY §3):

    ``alpha* = eta (1 + kappa) s / (kappa (L M r - (L - eta) s^2))``,
    evaluated as ``t* / kappa`` with ``t* = eta (1 + kappa) s / (L G + eta s^2)`` and the
    Gram determinant ``G = M r - s^2 >= 0`` (no cancellation, no overflow). ``A(alpha)``
    has exactly one stationary point, its maximum, so this is the global argmax. For an
    orthogonal source (``s = 0``) ``alpha* = 0``, and the formula is smooth there (its
    derivatives are right); for ``M = 0`` (``A = 1/2`` for every alpha) 0 is returned.
    As ``gamma -> 0`` with ``eta < 1``, ``alpha*`` grows like ``1/kappa``: it is ``+-inf``
    only where its value is beyond the float range.

    General covariances (THEORY §9.5): ``alpha* = (m1 V0 - m0 V01) / (m0 V11 - m1 V01)``
    for a shared target covariance, ``+-inf`` when the accuracy increases without bound
    (denominator <= 0); an orthogonal source (``m1 = 0``) gives ``-V01/V11``, not 0. For
    class-dependent target covariances, the numerical maximiser of the class-averaged
    accuracy between the two classes' own maximisers.
    """
    if task.general is not None:
        return _general.optimal_alpha(task)
    xp = task.xp
    c = _coefficients(task)
    s, eta, k = task.s, task.eta, c.kappa
    # alpha* = t* / kappa with t* = eta (1 + kappa) s / (L G + eta s^2), G = M r - s^2: the
    # printed form with L M r - (L - eta) s^2 = L G + eta s^2 (a sum of non-negative terms).
    # It is smooth in s through s = 0 (alpha* = 0 there, with the right derivative); only
    # M = 0 (then s = 0 and G = 0: A = 1/2 for every alpha) has no maximiser: 0 is returned,
    # through a safe denominator so that the unused branch cannot poison gradients.
    den = c.L * c.G + eta * s * s
    none = den == 0
    t_star = eta * (1.0 + k) * s / xp.where(none, 1.0, den)
    return finish(xp, xp.where(none, 0.0, t_star / k))


@task_function(with_alpha=False)
def chance_alpha(task: Task) -> Array:
    r"""The rescaling at which the mean score vanishes and ``A = 1/2`` (THEORY §3):
    ``alpha_bar = -M / (kappa s)``.

    Past ``alpha_bar`` (further from 0, on its side) the fine-tuned classifier is worse
    than chance. For an orthogonal source (``s = 0``) no alpha reaches chance level and
    ``nan`` is returned; as ``s -> 0`` it grows like ``1/s`` (``+-inf`` only where its value
    is beyond the float range). General covariances (THEORY §9.5): ``-m0/m1``, ``nan`` for
    ``m1 = 0``.
    """
    if task.general is not None:
        return _general.chance_alpha(task)
    xp = task.xp
    zero = task.s == 0
    k = kappa(task.eta, task.gamma)
    ratio = -task.M / xp.where(zero, 1.0, task.s)  # the pole at s = 0 gives nan, not a value
    return finish(xp, xp.where(zero, xp.nan, ratio / k))


def source_accuracy(p: ArrayLike, *, N: ArrayLike, mu: ArrayLike, beta: ArrayLike,
                    gamma_src: ArrayLike) -> Array:
    r"""Target accuracy of the ridge source classifier used as is (THEORY §4):
    ``Phi(beta m~ / sqrt(E~2 - m~^2))``, with ``m~, E~2`` from
    :func:`rmt_alpha.blocks.source_stats`, evaluated as
    ``Phi(beta mu^2 sqrt(h~) / sqrt(mu^2 + eta~))`` (``L~`` cancels). ``beta = 1`` gives its
    accuracy on the source task.
    """
    v.positive_int("p", p)
    v.positive_int("N", N)
    v.nonnegative("mu", mu)
    v.in_closed_interval("beta", beta, -1.0, 1.0)
    v.positive("gamma_src", gamma_src)
    shape = v.broadcastable(p=p, N=N, mu=mu, beta=beta, gamma_src=gamma_src)
    xp, ndtr = namespace(p, N, mu, beta, gamma_src)
    if xp is np:
        _memory.broadcast(shape)
    dtype = float_dtype(xp)
    v.ratio("p", p, "N", N, dtype)
    v.magnitude("mu", mu, dtype, squared=True)
    v.magnitude("beta", beta, dtype, squared=True, top=1.0)
    v.magnitude("gamma_src", gamma_src, dtype, zero=False)
    eta_s = asarray(xp, p) / asarray(xp, N)
    g, m, b = (asarray(xp, x) for x in (gamma_src, mu, beta))
    h = _h(kappa(eta_s, g), g)
    m2 = m * m
    return finish(xp, ndtr(b * m2 * xp.sqrt(h) / xp.sqrt(m2 + eta_s)))
