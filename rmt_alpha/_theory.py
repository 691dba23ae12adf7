"""Closed-form test accuracy, score moments and the optimal alpha (THEORY §3-§4; the general
keyword sets are computed by :mod:`rmt_alpha._general`, THEORY §9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _general
from . import _validate as v
from ._backend import asarray, finish, namespace
from ._task import Task, task_function
from .blocks import _variance_coefficients, kappa, source_stats

if TYPE_CHECKING:
    from ._typing import Array, ArrayLike


def _coefficients(task: Task):
    return _variance_coefficients(task.xp, task.eta, task.gamma, task.M, task.s, task.r)


def _mean_and_variance(alpha: ArrayLike, task: Task):
    xp = task.xp
    a = asarray(xp, alpha)
    c = _coefficients(task)
    return c.m0 + a * c.m1, c.v0 + a * (c.v1 + a * c.v2)


@task_function(with_alpha=True, extra={"test_class": 1})
def score_moments(alpha: ArrayLike, task: Task, *, test_class: int = 1) -> tuple[Array, Array]:
    r"""Mean and second moment of the score ``w_alpha^T x`` of a class +1 target point.

    THEORY §3: ``m(alpha) = (M + alpha kappa s)/L`` and
    ``E2(alpha) = T1 + alpha T2 + alpha^2 T3``. Returns ``(mean, second_moment)``.

    ``test_class`` (+1 or -1) picks the class of the test point; the moments are those of
    the signed score ``y w_alpha^T x``: mean ``m(alpha)`` for both classes, second moment
    ``V_y(alpha) + m(alpha)^2`` (THEORY §9.3; the classes differ only for a class-dependent
    target covariance).
    """
    if task.general is not None:
        return _general.score_moments(alpha, task, test_class)
    if test_class not in (1, -1):
        raise ValueError(f"test_class must be +1 or -1, got {test_class!r}")
    m, var = _mean_and_variance(alpha, task)
    return finish(task.xp, m), finish(task.xp, var + m * m)


@task_function(with_alpha=True)
def test_accuracy(alpha: ArrayLike, task: Task) -> Array:
    r"""Test accuracy ``A(alpha) = Phi(m / sqrt(E2 - m^2))`` of the alpha-rescaled classifier.

    THEORY §3-§4. Honest: below 1/2 past the chance-level alpha (never ``max(A, 1 - A)``).
    General covariances (THEORY §9.3): ``A = sum_y pi_y Phi(m / sqrt(V_y))``.
    """
    if task.general is not None:
        return _general.accuracy(alpha, task)
    m, var = _mean_and_variance(alpha, task)
    return finish(task.xp, task.ndtr(m / task.xp.sqrt(var)))


@task_function(with_alpha=True)
def test_error(alpha: ArrayLike, task: Task) -> Array:
    r"""Test classification error ``1 - A(alpha)`` (see :func:`test_accuracy`)."""
    if task.general is not None:
        return _general.accuracy(alpha, task, error=True)
    m, var = _mean_and_variance(alpha, task)
    return finish(task.xp, task.ndtr(-m / task.xp.sqrt(var)))


@task_function(with_alpha=True)
def test_risk(alpha: ArrayLike, task: Task) -> Array:
    r"""Squared loss on the target, ``E (y - w_alpha^T x)^2 = E2 - 2m + 1 = var + (1 - m)^2``
    (general covariances: the class average ``sum_y pi_y V_y + (1 - m)^2``, THEORY §9.3)."""
    if task.general is not None:
        return _general.risk(alpha, task)
    m, var = _mean_and_variance(alpha, task)
    return finish(task.xp, var + (1.0 - m) ** 2)


@task_function(with_alpha=False)
def optimal_alpha(task: Task) -> Array:
    r"""The accuracy-maximising rescaling (THEORY §3):

    ``alpha* = eta (1 + kappa) s / (kappa (L M r - (L - eta) s^2))``,
    evaluated as ``eta (1 + kappa) s / (kappa (L (M r - s^2) + eta s^2))``. ``A(alpha)``
    has exactly one stationary point, its maximum, so this is the global argmax. For an
    orthogonal source (``s = 0``) the accuracy does not depend on the sign of alpha's
    effect and ``alpha* = 0`` is returned. As ``gamma -> 0`` with ``eta < 1``,
    ``alpha*`` grows like ``1/kappa``.

    General covariances (THEORY §9.5): ``alpha* = (m1 V0 - m0 V01) / (m0 V11 - m1 V01)``
    for a shared target covariance, ``+-inf`` when the accuracy increases without bound
    (denominator <= 0); an orthogonal source (``m1 = 0``) gives ``-V01/V11``, not 0. For
    class-dependent target covariances, the numerical maximiser of the class-averaged
    accuracy between the two classes' own maximisers.
    """
    if task.general is not None:
        return _general.optimal_alpha(task)
    xp = task.xp
    s, M, r, eta = task.s, task.M, task.r, task.eta
    k = kappa(eta, task.gamma)  # only kappa and L are needed (not the variance coefficients)
    den = k * ((M + 1.0 + k) * (M * r - s * s) + eta * s * s)
    zero = s == 0
    safe = xp.where(zero, 1.0, den)
    return finish(xp, xp.where(zero, 0.0, eta * (1.0 + k) * s / safe))


@task_function(with_alpha=False)
def chance_alpha(task: Task) -> Array:
    r"""The rescaling at which the mean score vanishes and ``A = 1/2`` (THEORY §3):
    ``alpha_bar = -M / (kappa s)``.

    Past ``alpha_bar`` (further from 0, on its side) the fine-tuned classifier is worse
    than chance. For an orthogonal source (``s = 0``) no alpha reaches chance level and
    ``nan`` is returned. General covariances (THEORY §9.5): ``-m0/m1``, ``nan`` for
    ``m1 = 0``.
    """
    if task.general is not None:
        return _general.chance_alpha(task)
    xp = task.xp
    zero = task.s == 0
    safe = xp.where(zero, 1.0, kappa(task.eta, task.gamma) * task.s)
    return finish(xp, xp.where(zero, xp.nan, -task.M / safe))


def source_accuracy(p: ArrayLike, *, N: ArrayLike, mu: ArrayLike, beta: ArrayLike,
                    gamma_src: ArrayLike) -> Array:
    r"""Target accuracy of the ridge source classifier used as is (THEORY §4):
    ``Phi(beta m~ / sqrt(E~2 - m~^2))``, with ``m~, E~2`` from
    :func:`rmt_alpha.blocks.source_stats`. ``beta = 1`` gives its accuracy on the source task.
    """
    v.positive_int("p", p)
    v.positive_int("N", N)
    v.nonnegative("mu", mu)
    v.in_closed_interval("beta", beta, -1.0, 1.0)
    v.positive("gamma_src", gamma_src)
    v.broadcastable(p=p, N=N, mu=mu, beta=beta, gamma_src=gamma_src)
    xp, ndtr = namespace(p, N, mu, beta, gamma_src)
    v.representable(xp, p=p, N=N, mu=mu, beta=beta, gamma_src=gamma_src)
    st = source_stats(p, N=N, mu=mu, gamma_src=gamma_src)
    return finish(xp, ndtr(asarray(xp, beta) * st.mean / xp.sqrt(st.norm2)))
