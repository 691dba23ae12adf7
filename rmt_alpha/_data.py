r"""From two labelled datasets to the theory's parameters, and the real fine-tuned classifier.

A practitioner does not know ``mu``, ``mu_orth`` or ``beta``. :func:`estimate_task` estimates
them from a source dataset and a handful of labelled target points; :func:`fine_tune` trains
the actual alpha-rescaled ridge classifier of THEORY §1 on the same data, so that prediction
and reality can be compared with one package.

Estimators (THEORY §1 model, unit isotropic noise)
--------------------------------------------------
Labels are mapped to ``y in {-1, +1}``. Write ``N+, N-`` (``n+, n-``) for the class counts of
the source (target) and

* ``a = (mean(x~ | +1) - mean(x~ | -1)) / 2``, so ``a ~ N(mu, c_s I_p)`` with
  ``c_s = (1/N+ + 1/N-) / 4``;
* ``b = (mean(x | +1) - mean(x | -1)) / 2``, ``b ~ N(mu_beta, c_t I_p)``,
  ``c_t = (1/n+ + 1/n-) / 4``, independent of ``a``.

Class-mean differences do not depend on any common offset, so these hold whatever the
centring. The squared norms are biased upward by the noise, ``E||a||^2 = mu^2 + p c_s``;
the unbiased estimates are

* ``Q_s = ||a||^2 - p c_s``  (estimates ``mu^2``),
* ``Q_t = ||b||^2 - p c_t``  (estimates ``M = ||mu_beta||^2``),
* ``I = a . b``              (estimates ``mu . mu_beta = beta mu^2``; unbiased: independent
  samples).

Then ``mu = sqrt(Q_s)``, ``beta = I / Q_s`` and, since
``(1 - beta^2) mu_orth^2 = M - (mu . mu_beta)^2 / mu^2``,
``mu_orth^2 = (Q_t - (I^2 - Var I) / Q_s) / (1 - beta^2)``, where ``Var I`` (below) removes the
upward bias of ``I^2``. Values outside the model's range are clipped (``|beta| <= 1``,
``mu^2 >= 0``, ``mu_orth^2 >= 0``) and every clip is reported in ``TaskEstimate.clipped``.

Standard errors (delta method)
------------------------------
With ``S`` the noise covariance (estimated by the pooled within-class covariance of the
transformed source, so that it is ``I`` under the model and honest under anisotropy) and
``t2 = tr(S^2)`` (its unbiased estimate),

* ``Var Q_s = 4 c_s mu^T S mu + 2 c_s^2 t2``, ``Var Q_t = 4 c_t mu_b^T S mu_b + 2 c_t^2 t2``,
* ``Var I = c_s mu_b^T S mu_b + c_t mu^T S mu + c_s c_t t2``,
* ``Cov(Q_s, I) = 2 c_s mu^T S mu_b``, ``Cov(Q_t, I) = 2 c_t mu^T S mu_b``, ``Cov(Q_s, Q_t) = 0``

(exact for Gaussian noise), with the unknown vectors replaced by ``a`` and ``b``. The
standard errors of ``mu, mu_orth, beta`` (and of ``alpha*``, :meth:`TaskEstimate.optimal_alpha_se`)
follow by the delta method, with a numerical Jacobian in ``(Q_s, Q_t, I)``.

Preprocessing (what "unit isotropic noise" means for real data)
---------------------------------------------------------------
The model has no intercept and unit noise. :func:`estimate_task` therefore (in this order)

1. centres the source at its class midpoint ``(mean(+1) + mean(-1)) / 2`` and the target at
   the midpoint of its labelled points (``center=True``);
2. drops features whose pooled within-class variance in the source is zero (constant pixels);
3. divides every feature by its pooled within-class standard deviation in the source
   (``standardize=True``), so the source noise has unit variance per feature;
4. optionally whitens with the pooled within-class source covariance (``whiten=True``),
   shrunk towards a multiple of the identity (Ledoit-Wolf shrinkage by default, since
   the covariance of image pixels is close to rank-deficient), and rescales so that the
   mean noise variance is 1;
5. optionally divides the target by the square root of its within-class noise variance
   relative to the source's, estimated from its ``n`` labelled points
   (``match_target_noise=True``).

The target is transformed with the *source's* scale and whitening (only the centre is its
own). Assumptions that are not checked: the same noise law in source and target, Gaussian
classes, balanced classes (``TaskEstimate.diagnostics`` reports the class balance, the
target-to-source noise-variance ratio and the effective dimension ``(tr S)^2 / tr(S^2)``,
which is ``p`` for isotropic noise).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Optional

import numpy as np

from . import _centred
from . import _data_covariance as dc
from . import _memory
from . import _validate as v
from ._covariance import _LRU, content_digest

if TYPE_CHECKING:
    from ._typing import Array, ArrayLike

ASSUMPTIONS = (
    "two Gaussian classes per task, x = y mu + z (source) and x = y mu_beta + z (target), "
    "no intercept (data are centred at the class midpoint)",
    "noise z isotropic with unit variance after the transformation (standardize / whiten), "
    "and the same noise law in source and target",
    "balanced classes (P(y = +1) = 1/2); the estimators use the actual class counts",
    "|beta| <= 1: the target mean's component along mu is at most mu (else clipped)",
)

GENERAL_ASSUMPTIONS = (
    "two Gaussian classes per task, x = y mu_s + z (source) and x = y mu_t + z (target), "
    "no intercept (data are centred at the class midpoint)",
    "noise z ~ N(0, C) with the estimated covariance(s) (one per task, or per class and task), "
    "shrunk towards a multiple of the identity",
    "balanced classes (P(y = +1) = 1/2) in the theory; the estimators use the actual class "
    "counts (the unlabelled target rows are assumed balanced)",
)


# ----------------------------------------------------------------------------- validation


def _features(name, X):
    """``X`` as a float64 2-D array of finite values (rows are samples)."""
    raw = np.asarray(X)
    if np.iscomplexobj(raw):
        v.fail(name, "real", v.Got(f"a complex array of shape {raw.shape}"), error=TypeError)
    if raw.dtype == object or not (np.issubdtype(raw.dtype, np.number) or raw.dtype == bool):
        try:
            raw = raw.astype(np.float64)
        except (TypeError, ValueError):
            v.fail(name, "a numeric 2-D array (rows are samples)", X, error=TypeError)
    A = np.asarray(raw, dtype=np.float64)
    if A.ndim != 2:
        v.fail(name, "a 2-D array (rows are samples)", v.Got(f"shape {A.shape}"))
    if A.shape[0] == 0 or A.shape[1] == 0:
        v.fail(name, "an array with at least one sample and one feature",
               v.Got(f"shape {A.shape}"))
    if not np.isfinite(A).all():
        bad = ~np.isfinite(A)
        v.fail(name, "finite (impute or drop missing values first)",
               v.Got(f"{int(bad.sum())} non-finite entries, the first "
                     f"{v._entry(A, A, bad).split(' of ')[0]}"))
    return A


def _labels(name, y, rows, x_name):
    arr = np.asarray(y)
    if arr.ndim != 1:
        v.fail(name, "a 1-D array of labels", v.Got(f"shape {arr.shape}"))
    if arr.shape[0] != rows:
        v.fail(name, f"one label per row of {x_name} ({rows} labels)",
               v.Got(f"{arr.shape[0]} labels"))
    binary = "binary labels in {-1, +1} or {0, 1}"
    if np.iscomplexobj(arr):
        v.fail(name, binary, v.Got("complex values"), error=TypeError)
    try:
        yf = arr.astype(np.float64)
    except (TypeError, ValueError):
        v.fail(name, binary, v.Got("non-numeric values"), error=TypeError)
    if np.isnan(yf).any():
        v.fail(name, binary, v.Got("NaN labels"))
    values = set(np.unique(yf).tolist())
    if not values <= {-1.0, 1.0} and not values <= {0.0, 1.0}:
        v.fail(name, binary, v.Got(f"the values {sorted(values)[:10]}"))
    if len(values) < 2:
        v.fail(name, "labels of both classes", v.Got(f"only {sorted(values)}"))
    return np.where(yf > 0, 1.0, -1.0)


def _same_features(Xs, Xt):
    if Xs.shape[1] != Xt.shape[1]:
        v.fail("X_target", f"an array with as many features (columns) as X_source "
               f"({Xs.shape[1]})", v.Got(f"{Xt.shape[1]} features"))


def _same_rows(x_name, X, y_name, y):
    """pandas inputs: rows are matched by position, so ``X`` and ``y`` must share one index
    (a shuffled or filtered Series would otherwise pair features with the wrong labels)."""
    xi, yi = getattr(X, "index", None), getattr(y, "index", None)
    if xi is not None and yi is not None and hasattr(xi, "equals") and not xi.equals(yi):
        v.fail(y_name, f"labels with the same index as {x_name} (rows are matched by "
               "position)", v.Got("a different index"), note="reindex one of them first")


def _check_pair(Xs, ys, Xt, yt):
    _same_rows("X_source", Xs, "y_source", ys)
    _same_rows("X_target", Xt, "y_target", yt)
    Xs = _features("X_source", Xs)
    Xt = _features("X_target", Xt)
    _same_features(Xs, Xt)
    ys = _labels("y_source", ys, Xs.shape[0], "X_source")
    yt = _labels("y_target", yt, Xt.shape[0], "X_target")
    return Xs, ys, Xt, yt


# ----------------------------------------------------------------------------- statistics


def _half_mean_difference(X, y):
    pos, neg = y > 0, y < 0
    mp, mn = X[pos].mean(axis=0), X[neg].mean(axis=0)
    c = 0.25 * (1.0 / pos.sum() + 1.0 / neg.sum())
    return 0.5 * (mp - mn), 0.5 * (mp + mn), c


def _within_residuals(X, y):
    R = X.copy()
    for cls in (-1.0, 1.0):
        m = y == cls
        R[m] -= X[m].mean(axis=0)
    return R


@dataclasses.dataclass(frozen=True, eq=False)
class _Transform:
    keep: np.ndarray           # indices of the kept features
    scale: np.ndarray          # per kept feature
    whitener: Optional[np.ndarray]  # (p_kept, p_kept) or None
    center_source: np.ndarray  # in the original coordinates (full length)
    center_target: np.ndarray
    target_scale: float = 1.0  # target rows are divided by it (match_target_noise)
    prescale: float = 1.0      # a power of two applied first (data of any magnitude)

    def linear_map(self):
        """``T`` with ``apply(X) = (X - centre)[:, keep] @ T`` (before the target's own
        ``target_scale``): the exact prescale, the per-feature scales and the whitener."""
        T = np.diag(self.prescale / self.scale)
        return T if self.whitener is None else T @ self.whitener

    def apply(self, X, which):
        X = _features("X", X)
        if X.shape[1] != self.center_source.shape[0]:
            v.fail("X", f"an array with {self.center_source.shape[0]} features (columns), as "
                   "the data the task was estimated from", v.Got(f"{X.shape[1]} features"))
        c = self.center_source if which == "source" else self.center_target
        Z = (X * self.prescale - c)[:, self.keep] / self.scale
        if self.whitener is not None:
            Z = Z @ self.whitener
        if which == "target" and self.target_scale != 1.0:
            Z = Z / self.target_scale
        return Z


# ----------------------------------------------------------------------------- result object


@dataclasses.dataclass(frozen=True, eq=False)
class TaskEstimate:
    r"""Estimated Gaussian-mixture task from a source and a target dataset: the isotropic
    model of THEORY §1 (``covariance="isotropic"``) or the general one of THEORY §9
    (``"pooled"``, ``"class"``; THEORY §11).

    ``params`` is the task's keyword set plus ``p, N, n``: ``{p, N, n, mu, mu_orth, beta}``
    (isotropic) or ``{p, N, n, source_mean, target_mean, source_cov, target_cov}`` (general
    ridge source), ready for ``ra.optimal_alpha(**task.params, gamma=..., gamma_src=...)``,
    ``ra.test_accuracy(alpha, **task.params, gamma=..., gamma_src=...)`` and the simulator.
    The methods of the same names do this for you (``n`` may be overridden, e.g. to predict
    for a larger target set; ``source_model="trained"`` uses the source classifier trained on
    the stored source data as a fixed source vector instead of the ridge-source model).

    Attributes: ``p`` (features kept), ``N``, ``n``, ``mu``, ``mu_orth``, ``beta`` (the isotropic
    estimates, clipped to the model's range; also computed for the general models, as
    summaries), ``se`` (delta-method standard errors of ``mu, mu_orth, beta``),
    ``naive`` (the same estimates without bias correction, for comparison),
    ``unbiased`` (``mu2 = Q_s``, ``M = Q_t``, ``inner = I`` before clipping),
    ``bias`` (the subtracted noise terms ``p c_s``, ``p c_t``, ``Var I``), ``clipped`` (messages),
    ``diagnostics``, ``assumptions``, ``covariance`` (the covariance model), ``general`` (its
    :class:`rmt_alpha._data_covariance.CovarianceModel`; None for ``"isotropic"``), and the
    transformed data ``X_source, y_source, X_target, y_target`` (the inputs after centring /
    standardizing / whitening; labels ±1).
    """

    p: int
    N: int
    n: int
    mu: float
    mu_orth: float
    beta: float
    se: dict
    naive: dict
    unbiased: dict
    bias: dict
    cov: np.ndarray
    clipped: tuple
    diagnostics: dict
    assumptions: tuple
    settings: dict
    X_source: np.ndarray = dataclasses.field(repr=False)
    y_source: np.ndarray = dataclasses.field(repr=False)
    X_target: np.ndarray = dataclasses.field(repr=False)
    y_target: np.ndarray = dataclasses.field(repr=False)
    _transform: _Transform = dataclasses.field(repr=False)
    general: Optional[dc.CovarianceModel] = dataclasses.field(default=None, repr=False)

    @property
    def covariance(self) -> str:
        """The noise-covariance model: ``"isotropic"``, ``"pooled"`` or ``"class"``."""
        return "isotropic" if self.general is None else self.general.kind

    @property
    def params(self) -> dict:
        """``{p, N, n, mu, mu_orth, beta}`` as plain Python numbers (isotropic), or
        ``{p, N, n, source_mean, target_mean, source_cov, target_cov}`` (general: vectors of
        length ``p``, covariances ``(p, p)`` or a tuple ``(C_plus, C_minus)``)."""
        if self.general is None:
            return dict(p=self.p, N=self.N, n=self.n, mu=self.mu, mu_orth=self.mu_orth,
                        beta=self.beta)
        g = self.general
        return dict(p=self.p, N=self.N, n=self.n, source_mean=g.source_mean,
                    target_mean=g.target_mean, source_cov=g.source_cov, target_cov=g.target_cov)

    @property
    def target_norm2(self) -> float:
        """``M = beta^2 mu^2 + (1 - beta^2) mu_orth^2`` of the (clipped) estimate."""
        return self.beta**2 * self.mu**2 + (1 - self.beta**2) * self.mu_orth**2

    def theory_kwargs(self, *, gamma: ArrayLike, gamma_src: ArrayLike,
                      n: ArrayLike | None = None, source_model: str = "ridge") -> dict:
        """The keyword arguments (``n, p`` and a keyword set) of any theory function for this
        task: ``ra.score_moments(alpha, **task.theory_kwargs(gamma=1.0, gamma_src=1.0))``.

        ``source_model="ridge"``: the ridge-source set (``params`` with the ridges);
        ``"trained"``: the source classifier ``w~`` trained on the stored source data with
        ``gamma_src`` as a fixed source vector (THEORY §3, §9.3; exact for that classifier):
        the isotropic fixed-source set (``target_norm2`` = the estimated ``M``,
        ``alignment = w~^T b``, unbiased, clipped to Cauchy-Schwarz) or the general fixed
        source set (``target_mean``, ``target_cov`` of the estimate).
        """
        v.one_of("source_model", source_model, ("ridge", "trained"))
        nn = self.n if n is None else n
        if source_model == "ridge":
            return dict(self.params, n=nn, gamma=gamma, gamma_src=gamma_src)
        v.positive("gamma_src", gamma_src)
        w = source_weight(self.X_source, self.y_source, float(gamma_src))
        if self.general is not None:
            return dict(n=nn, p=self.p, source=w, target_mean=self.general.target_mean,
                        target_cov=self.general.target_cov, gamma=gamma)
        b, _, _ = _half_mean_difference(self.X_target, self.y_target)
        M, r = self.target_norm2, float(w @ w)
        bound = np.sqrt(M * r)
        return dict(n=nn, p=self.p, target_norm2=M, alignment=float(np.clip(w @ b, -bound, bound)),
                    source_norm2=r, gamma=gamma)

    def optimal_alpha(self, *, gamma: ArrayLike, gamma_src: ArrayLike,
                      n: ArrayLike | None = None, source_model: str = "ridge",
                      centred: bool = False) -> Array:
        """Predicted optimal rescaling ``alpha*`` (THEORY §3-§4, §9.5) for this task;
        ``centred=True``: for the centred pipeline (THEORY §11.4, see :meth:`test_accuracy`)."""
        from ._theory import optimal_alpha

        kw = self.theory_kwargs(gamma=gamma, gamma_src=gamma_src, n=n, source_model=source_model)
        if v.boolean("centred", centred):
            return _centred.optimal_alpha(self._centred_coefficients(kw))
        return optimal_alpha(**kw)

    def test_accuracy(self, alpha: ArrayLike, *, gamma: ArrayLike, gamma_src: ArrayLike,
                      n: ArrayLike | None = None, source_model: str = "ridge",
                      centred: bool = False) -> Array:
        """Predicted target test accuracy at ``alpha`` (THEORY §3-§4, §9.3).

        ``centred=True``: the accuracy of the pipeline as it runs with ``center=True`` -- the
        target centred at the midpoint of its labelled points, the source at its own
        (THEORY §11.4): the model of THEORY §1/§9 leaves that out, which costs O(1/n) for a
        shared covariance and balanced classes and O(1) otherwise (class-dependent covariances,
        unequal class counts). The class counts are those of the stored data (for ``n``
        given: a balanced draw, ``n//2`` of class +1). Needs scalar ``n``, ``gamma``,
        ``gamma_src``; numpy only.
        """
        from ._theory import test_accuracy

        kw = self.theory_kwargs(gamma=gamma, gamma_src=gamma_src, n=n, source_model=source_model)
        if v.boolean("centred", centred):
            return _centred.accuracy(alpha, self._centred_coefficients(kw))
        return test_accuracy(alpha, **kw)

    def _centred_coefficients(self, kw):
        """THEORY §11.4's coefficients for the keyword arguments ``kw`` of
        :meth:`theory_kwargs` (an isotropic set is written as vectors with unit covariances)."""
        from ._task import resolve

        n = kw.pop("n")
        p = kw.pop("p")
        if self.general is None:
            kw = _isotropic_as_general(kw, p)
        for name in ("n", "gamma", "gamma_src", "N"):
            val = n if name == "n" else kw.get(name)
            if val is not None and np.ndim(val) != 0:
                v.fail(name, "a single number with centred=True",
                       v.Got(f"shape {np.shape(val)}"))
        counts = (_centred.Counts(int((self.y_target > 0).sum()), int((self.y_target < 0).sum()))
                  if n == self.n else _centred.balanced(int(n)))
        source = _centred.Counts(int((self.y_source > 0).sum()), int((self.y_source < 0).sum()))
        return _centred.coefficients(resolve(n, p, kw), counts, source if "N" in kw else None)

    def chance_alpha(self, *, gamma: ArrayLike, gamma_src: ArrayLike,
                     n: ArrayLike | None = None, source_model: str = "ridge") -> Array:
        """Predicted chance-level rescaling (THEORY §3, §9.5)."""
        from ._theory import chance_alpha

        return chance_alpha(**self.theory_kwargs(gamma=gamma, gamma_src=gamma_src, n=n,
                                                 source_model=source_model))

    def source_accuracy(self, *, gamma_src: ArrayLike) -> Array:
        """Predicted target accuracy of the source classifier used as is (THEORY §4; general
        covariances: ``Phi(E[w~]^T mu_t / sqrt(E[w~]^T Ct E[w~] + tr(Ct Sigma~)))`` averaged
        over the target classes, THEORY §9.4)."""
        if self.general is not None:
            g = self.general
            return dc.source_accuracy(self.p, N=self.N, source_mean=g.source_mean,
                                      source_cov=g.source_cov, target_mean=g.target_mean,
                                      target_cov=g.target_cov, gamma_src=gamma_src)
        from ._theory import source_accuracy

        return source_accuracy(self.p, N=self.N, mu=self.mu, beta=self.beta, gamma_src=gamma_src)

    def optimal_alpha_se(self, *, gamma: float, gamma_src: float, n: int | None = None) -> float:
        """Delta-method standard error of :meth:`optimal_alpha` (ridge-source model).

        Isotropic: from the estimation noise of ``(Q_s, Q_t, I)`` (numerical Jacobian; see the
        module docstring). General: from the sampling noise of the two half mean differences
        (``Cov a = sum_a Cs_a/(4 N_a)``, ``Cov b = sum_a Ct_a/(4 n_a)``), the covariances held
        fixed (except the dependence of a target covariance from unlabelled rows on ``mu_t``):
        central differences along their eigenvectors, ``4 p`` evaluations of the
        theory (:func:`rmt_alpha._data_covariance.delta_method_se`)."""
        from ._theory import optimal_alpha

        nn = self.n if n is None else n
        if self.general is not None:
            kw = self.theory_kwargs(gamma=gamma, gamma_src=gamma_src, n=nn)

            def g(mu_s, mu_t, target_cov):
                return float(optimal_alpha(**dict(kw, source_mean=mu_s, target_mean=mu_t,
                                                  target_cov=target_cov)))

            return dc.delta_method_se(g, self.general)

        def f(theta):
            mu, mu_orth, beta, _ = _parameters(theta, self.bias["inner2"])
            return float(optimal_alpha(nn, self.p, N=self.N, mu=mu, mu_orth=mu_orth, beta=beta,
                                       gamma=gamma, gamma_src=gamma_src))

        return _delta_se(f, self._theta, self.cov)

    @property
    def _theta(self):
        return np.array([self.unbiased["mu2"], self.unbiased["M"], self.unbiased["inner"]])

    def transform_source(self, X: ArrayLike) -> np.ndarray:
        """Apply the source transformation (centre, drop, scale, whiten) to new source rows."""
        return self._transform.apply(X, "source")

    def transform_target(self, X: ArrayLike) -> np.ndarray:
        """Apply the target transformation to new target rows (e.g. a held-out test set)."""
        return self._transform.apply(X, "target")

    def fine_tune(self, alpha: ArrayLike, *, gamma: float, gamma_src: float) -> FineTuned:
        """:func:`fine_tune` on the transformed data stored in this estimate. Evaluate it on
        held-out target rows with ``.accuracy(task.transform_target(X_test), y_test)``."""
        return fine_tune(self.X_source, self.y_source, self.X_target, self.y_target, alpha,
                         gamma=gamma, gamma_src=gamma_src)

    def summary(self) -> str:
        """A few readable lines: the covariance model, the estimates with standard errors,
        clips, diagnostics."""
        lines = [
            f"p = {self.p}, N = {self.N}, n = {self.n}",
            f"mu      = {self.mu:.4g} ± {self.se['mu']:.2g}   (naive {self.naive['mu']:.4g})",
            f"mu_orth = {self.mu_orth:.4g} ± {self.se['mu_orth']:.2g}   "
            f"(naive {self.naive['mu_orth']:.4g})",
            f"beta    = {self.beta:.4g} ± {self.se['beta']:.2g}   "
            f"(naive {self.naive['beta']:.4g})",
        ]
        lines += [f"clipped: {c}" for c in self.clipped]
        d = self.diagnostics
        lines.append(
            f"effective noise dimension (tr S)^2/tr(S^2) = {d['effective_dimension']:.3g} of p; "
            f"target/source noise variance = {d['target_noise_ratio']:.3g}"
        )
        if self.general is None:
            lines.append("covariance model: isotropic (unit noise in both tasks, THEORY §1)")
            return "\n".join(lines)
        g = self.general.diagnostics
        fmt = lambda xs: " / ".join(f"{x:.3g}" for x in xs)  # noqa: E731
        what = {"pooled": "one within-class covariance per task",
                "class": "one covariance per class and task"}[self.general.kind]
        where = {"source": "the source covariance rescaled to the target's noise level "
                           f"({self.n} labelled points)",
                 "labelled": f"the {self.n} labelled target points",
                 "unlabelled": f"{g['unlabelled_rows']} unlabelled target points, minus "
                               "mu_t mu_t^T"}[self.general.target_from]
        lines += [
            f"covariance model: {self.general.kind} ({what}; THEORY §9, §11)",
            f"target covariance from {where}",
            ("covariance shrinkage (given): " if self.settings.get("shrinkage_given") is not None
             else "Ledoit-Wolf shrinkage: ") + ", ".join(f"{k} {s:.3g}" for k, s in
                                                  g["covariance_shrinkage"].items()),
            f"effective dimension of Cs = {fmt(g['effective_dimension_source_cov'])}, "
            f"of Ct = {fmt(g['effective_dimension_target_cov'])} (of p = {self.p}); "
            f"tr Ct / tr Cs = {g['target_source_trace_ratio']:.3g}",
            f"|mu_s| = {g['source_mean_norm']:.4g}, |mu_t| = {g['target_mean_norm']:.4g} "
            "(norms de-biased)",
        ]
        if g.get("target_cov_clipped"):
            lines.append(f"target covariance: a negative eigenvalue set to 0 "
                         f"({g['target_cov_clipped']:.2g} of the trace)")
        return "\n".join(lines)


def _isotropic_as_general(kw, p):
    """An isotropic keyword set (ridge source, or fixed source ``M, s, r``) as the general set
    with unit covariances and vectors in the plane ``e_1, e_2`` (THEORY §1: only the norms and
    the inner product matter)."""
    e1, e2 = np.zeros(p), np.zeros(p)  # unit vectors, without a p x p identity
    e1[0], e2[min(1, p - 1)] = 1.0, 1.0
    ones = np.ones(p)
    if "mu" in kw:
        mu, mo, beta = kw.pop("mu"), kw.pop("mu_orth"), kw.pop("beta")
        return dict(kw, source_mean=mu * e1, target_mean=beta * mu * e1
                    + np.sqrt(1.0 - beta * beta) * mo * e2, source_cov=ones, target_cov=ones)
    M, s, r = kw.pop("target_norm2"), kw.pop("alignment"), kw.pop("source_norm2")
    return dict(kw, source=np.sqrt(r) * e1,
                target_mean=(s / np.sqrt(r)) * e1 + np.sqrt(max(M - s * s / r, 0.0)) * e2,
                target_cov=ones)


def _parameters(theta, inner_var):
    """(Q_s, Q_t, I) -> (mu, mu_orth, beta) with clipping, and the list of clips."""
    Qs, Qt, I = (float(t) for t in theta)
    clips = []
    if Qs <= 0:
        clips.append(f"mu^2 estimate {Qs:.3g} <= 0 set to 0 (no detectable source signal); "
                     "beta set to 0")
        mu, beta = 0.0, 0.0
        orth2 = max(Qt, 0.0)
        if Qt < 0:
            clips.append(f"M = ||mu_beta||^2 estimate {Qt:.3g} < 0 set to 0")
        return mu, float(np.sqrt(orth2)), beta, clips
    mu = float(np.sqrt(Qs))
    beta = I / Qs
    orth_energy = Qt - (I * I - inner_var) / Qs  # estimates (1 - beta^2) mu_orth^2
    if abs(beta) >= 1.0:
        clips.append(f"beta estimate {beta:.6g} outside [-1, 1] clipped to {np.sign(beta):+.0f} "
                     "(the target mean along mu is longer than mu)")
        beta = float(np.sign(beta))
        # mu_orth does not enter the model when |beta| = 1; report the orthogonal part's size
        return mu, float(np.sqrt(max(orth_energy, 0.0))), beta, clips
    if orth_energy < 0:
        clips.append(f"(1 - beta^2) mu_orth^2 estimate {orth_energy:.3g} < 0 set to 0")
        orth_energy = 0.0
    return mu, float(np.sqrt(orth_energy / (1.0 - beta * beta))), float(beta), clips


def _delta_se(f, theta, cov):
    """sqrt(J cov J^T) for scalar f, central differences with steps ~ 1e-4 sd."""
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    J = np.zeros(3)
    for i in range(3):
        h = 1e-4 * sd[i] if sd[i] > 0 else 1e-8
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        J[i] = (f(tp) - f(tm)) / (2 * h)
    var = J @ cov @ J
    return float(np.sqrt(var)) if np.isfinite(var) and var >= 0 else float("nan")


def _standardize_mode(standardize):
    if standardize is True or standardize == "features":
        return "features"
    if standardize is False or standardize is None or standardize == "none":
        return "none"
    if standardize == "global":
        return "global"
    v.fail("standardize", "True (or 'features'), 'global' or False (or 'none')", standardize)


def estimate_task(X_source: ArrayLike, y_source: ArrayLike, X_target: ArrayLike,
                  y_target: ArrayLike, *, standardize: bool = True, whiten: bool = False,
                  shrinkage: float | None = None, center: bool = True,
                  match_target_noise: bool = False, covariance: str = "isotropic",
                  target_covariance: str | None = None,
                  X_target_unlabelled: ArrayLike | None = None) -> TaskEstimate:
    r"""Estimate the task from labelled data: THEORY §1's ``(p, N, n, mu, mu_orth, beta)``
    (``covariance="isotropic"``) or THEORY §9's mean vectors and noise covariances.

    Parameters
    ----------
    X_source, X_target : arrays ``(N, p)`` and ``(n, p)``; rows are samples, same features.
    y_source, y_target : binary labels in ``{-1, +1}`` or ``{0, 1}`` (``1`` is class ``+1``),
        at least two samples of each class.
    standardize : ``True`` (or ``"features"``): divide each feature by its pooled within-class
        standard deviation in the source; ``"global"``: divide all features by one number, the
        root mean pooled within-class variance (keeps the relative scale of the features,
        e.g. pixels, and cannot blow up a feature that is nearly constant in the source);
        ``False``: use the data as given (they must already have unit noise). Features
        constant within the source classes are dropped (``p`` counts the kept).
    whiten : whiten both datasets with the pooled within-class source covariance
        (shrunk towards a multiple of the identity), for noise far from isotropic. Needs
        many more source samples than features (warns when ``p > (N - 2)/2``).
    shrinkage : the shrinkage weight in [0, 1] of every covariance estimate (the whitener
        and the covariances of the general models); default: the Ledoit-Wolf weight of each.
    center : centre the source at its class midpoint and the target at the midpoint of its
        labelled points (the model has no intercept). Estimates do not depend on it; the
        stored data used by :meth:`TaskEstimate.fine_tune` do.
    match_target_noise : divide the (transformed) target by ``sqrt(rho)``, with ``rho`` the
        ratio of the target's within-class noise variance (estimated from its ``n`` labelled
        points, ``n - 2`` degrees of freedom) to the source's, so that both tasks have the
        same mean noise level as the model assumes. Off by default (it spends the few target
        labels on one more estimate); ``diagnostics['target_noise_ratio']`` shows whether it
        is needed (the ratio before matching).
    covariance : the noise model (THEORY §11). ``"isotropic"`` (default): unit isotropic noise
        in both tasks, ``params`` = ``{p, N, n, mu, mu_orth, beta}``. ``"pooled"``: one
        within-class covariance per task; ``"class"``: one per class and task; both return the
        general ridge-source set (``source_mean, target_mean, source_cov, target_cov``).
        The default stays isotropic because its inputs are three well-determined numbers
        with standard errors, whereas a general model needs a ``p x p`` target covariance
        that ``n << p`` labelled points cannot determine (see ``target_covariance``): on the
        digits (docs/real_data.md) the general theory predicts the accuracy *level* far
        better, but with only the ``n`` labelled points its ``alpha*`` beats the isotropic one
        by -0.1 ... +0.5 accuracy points. Use a general model when the covariance matters
        (``diagnostics['effective_dimension']`` far below ``p``, ``target_noise_ratio`` far
        from 1) and prefer it when unlabelled target data are available.
    target_covariance : where the target's covariance comes from (general models):
        ``"source"`` (default without ``X_target_unlabelled``): the source covariance rescaled
        to the target's noise level, estimated from the labelled points -- what a practitioner
        with ``n << p`` target labels has; ``"labelled"``: the labelled points' within-class
        covariance(s), for ``n`` comparable to ``p`` or larger; ``"unlabelled"`` (default when
        ``X_target_unlabelled`` is given): from the unlabelled rows, corrected for the mean:
        a class-blind sample's covariance is ``Ct + mu_t mu_t^T``, and ``mu_t mu_t^T`` is
        removed with the labelled estimate of ``mu_t`` (formulas in
        :mod:`rmt_alpha._data_covariance`).
    X_target_unlabelled : array ``(m, p)`` of unlabelled target rows (``m >= 2``; balanced
        classes assumed), transformed like the target.

    Returns
    -------
    TaskEstimate, whose ``params`` feed ``optimal_alpha``/``test_accuracy``. The isotropic
    formulas (unbiased ``Q_s = ||a||^2 - p c_s``, ``Q_t = ||b||^2 - p c_t``, ``I = a.b``;
    ``mu = sqrt(Q_s)``, ``beta = I/Q_s``, ``mu_orth^2 = (Q_t - (I^2 - Var I)/Q_s)/(1 - beta^2)``)
    and the delta-method standard errors are in the module docstring (rmt_alpha._data); the
    general ones in THEORY §11 and :mod:`rmt_alpha._data_covariance`.
    A ``RuntimeWarning`` is issued when an estimate had to be clipped to the model's range.
    """
    Xs, ys, Xt, yt = _check_pair(X_source, y_source, X_target, y_target)
    _check_counts("y_target", yt)
    _covariance_options(covariance, target_covariance, X_target_unlabelled, Xs.shape[1])
    src = prepare_source(Xs, ys, standardize=standardize, whiten=whiten, shrinkage=shrinkage,
                         center=center)
    return _estimate(src, Xt, yt, match_target_noise=match_target_noise, covariance=covariance,
                     target_covariance=target_covariance, Xu=X_target_unlabelled, stacklevel=3)


def _covariance_options(covariance, target_covariance, X_target_unlabelled, features):
    """Validated ``covariance``, ``target_covariance`` and unlabelled rows (``Xu``)."""
    v.one_of("covariance", covariance, dc.COVARIANCES)
    if target_covariance is not None:
        v.one_of("target_covariance", target_covariance, dc.TARGET_COVARIANCES)
    Xu = None
    if X_target_unlabelled is not None:
        Xu = _features("X_target_unlabelled", X_target_unlabelled)
        if Xu.shape[1] != features:
            v.fail("X_target_unlabelled", f"an array with as many features (columns) as "
                   f"X_source ({features})", v.Got(f"{Xu.shape[1]} features"))
        if Xu.shape[0] < 2:
            v.fail("X_target_unlabelled", "an array with at least 2 rows",
                   v.Got(f"{Xu.shape[0]} rows"))
    if covariance == "isotropic":
        for name, value in (("target_covariance", target_covariance),
                            ("X_target_unlabelled", X_target_unlabelled)):
            if value is not None:
                v.fail(name, f"None with covariance='isotropic' ({name} needs a general "
                       "covariance model: covariance='pooled' or 'class')",
                       value if isinstance(value, str) else v.Got("an array"))
        return dict(covariance=covariance)
    if target_covariance is None:
        target_covariance = "source" if Xu is None else "unlabelled"
    if (target_covariance == "unlabelled") != (Xu is not None):
        v.fail("target_covariance", "'unlabelled' exactly when X_target_unlabelled is given "
               "(target_covariance='unlabelled' needs X_target_unlabelled, and "
               "X_target_unlabelled is used only with target_covariance='unlabelled')",
               target_covariance, note="X_target_unlabelled is "
               + ("missing" if Xu is None else "given"))
    return dict(covariance=covariance, target_covariance=target_covariance, Xu=Xu)


def _check_counts(name, y):
    if min((y > 0).sum(), (y < 0).sum()) < 2:
        v.fail(name, "labels with at least 2 samples of each class",
               v.Got(f"{int((y > 0).sum())} of class +1 and {int((y < 0).sum())} of class -1"))


@dataclasses.dataclass(frozen=True, eq=False)
class _Source:
    """Everything :func:`estimate_task` computes from the source alone (reusable across many
    target draws, as in the digits experiment)."""

    X: np.ndarray          # original source rows (validated)
    y: np.ndarray
    Z: np.ndarray          # transformed source rows
    R: np.ndarray          # transformed within-class residuals
    a: np.ndarray          # half mean difference (transformed)
    cs: float
    dof: int
    trS: float
    trS2: float
    aSa: float
    transform: _Transform  # target centre still to be set
    settings: dict


def _power_of_two_scale(X):
    """``2**-e`` with ``max |X| * 2**-e`` in ``[1/2, 1)``: an exact rescaling that brings
    data of any magnitude (1e-300 ... 1e300) to order one, so that no square over- or
    underflows. The estimate does not depend on it when the data are standardized."""
    m = float(np.max(np.abs(X)))
    return 1.0 if m == 0.0 else float(np.ldexp(1.0, -int(np.frexp(m)[1])))


#: Largest magnitude accepted in data that are used as given (``standardize=False``).
UNIT_SCALE_MAX = 1e150


def _unit_scale_data(name, X):
    m = float(np.max(np.abs(X)))
    if m > UNIT_SCALE_MAX:
        v.fail(name, f"on the model's unit noise scale with standardize=False (entries at most "
               f"{UNIT_SCALE_MAX:g} in magnitude)", v.Got(f"max |x| = {m:.3g}"),
               note="use standardize=True (or 'global'), or rescale the data")
    return 1.0


def prepare_source(X_source, y_source, *, standardize=True, whiten=False, shrinkage=None,
                   center=True) -> _Source:
    """The source half of :func:`estimate_task` (steps 1-4 of the module docstring)."""
    Xs = _features("X_source", X_source)
    ys = _labels("y_source", y_source, Xs.shape[0], "X_source")
    _check_counts("y_source", ys)
    if shrinkage is not None:
        v.in_closed_interval("shrinkage", shrinkage, 0.0, 1.0)
    mode = _standardize_mode(standardize)
    whiten, center = v.boolean("whiten", whiten), v.boolean("center", center)
    N, p_in = Xs.shape
    dof = N - 2  # >= 2 by _check_counts
    rescaled = mode != "none" or whiten
    prescale = _power_of_two_scale(Xs) if rescaled else _unit_scale_data("X_source", Xs)

    _, mid_s, _ = _half_mean_difference(Xs * prescale, ys)
    if not center:
        mid_s = np.zeros(p_in)
    R = _within_residuals(Xs * prescale, ys)
    var = np.sum(R * R, axis=0) / dof
    if rescaled:
        keep = np.flatnonzero(var > 1e-12 * var.max())
        if keep.size == 0:
            v.fail("X_source", "an array with at least one feature that varies within its "
                   "classes", v.Got("every feature constant within each class"))
    else:
        keep = np.arange(p_in)
    if mode == "features":
        scale = np.sqrt(var[keep])
    elif mode == "global":
        scale = np.full(keep.size, np.sqrt(var[keep].mean()))
    else:
        scale = np.ones(keep.size)
    k = min(N, keep.size)
    _memory.guard("estimate_task", 8 * (4 * N * keep.size + 2 * k * k
                                        + (6 * keep.size**2 if whiten else 0)),
                  detail=f"N = {N}, p = {keep.size} features, whiten={whiten}",
                  ways_out="use fewer features or samples"
                  + (", or whiten=False" if whiten else ""))
    R = R[:, keep] / scale
    whitener, shrink_used = None, None
    if whiten:
        if keep.size > dof / 2:
            warnings.warn(
                f"estimate_task: whitening {keep.size} features with a covariance estimated "
                f"from {dof} within-class degrees of freedom; the whitened noise is far from "
                "isotropic on new data (estimates of mu and beta are biased). Prefer "
                "whiten=False unless N >> p.", RuntimeWarning, stacklevel=3)
        St, shrink_used = dc.shrunk_covariance(R, dof, shrinkage)
        ev, U = np.linalg.eigh(St)
        ev = np.clip(ev, 1e-12 * ev.max(), None)
        W = (U * ev**-0.5) @ U.T
        RW = R @ W
        W = W * np.sqrt(St.shape[0] * dof / np.sum(RW * RW))  # mean noise variance 1 (source)
        whitener = W
        R = R @ W
    tf = _Transform(keep=keep, scale=scale, whitener=whitener, center_source=mid_s,
                    center_target=np.zeros(p_in), prescale=prescale)
    Z = tf.apply(Xs, "source")
    p = keep.size
    a, _, cs = _half_mean_difference(Z, ys)

    # noise covariance S (transformed source, pooled within class): tr S, unbiased tr(S^2)
    G = R @ R.T if N < p else R.T @ R
    trS = float(np.trace(G)) / dof
    trS2_raw = float(np.sum(G * G)) / dof**2
    trS2 = dof**2 / ((dof - 1) * (dof + 2)) * (trS2_raw - trS**2 / dof) if dof > 1 else trS2_raw
    trS2 = max(trS2, trS**2 / p)  # tr(S^2) >= (tr S)^2 / p
    Ra = R @ a
    return _Source(X=Xs, y=ys, Z=Z, R=R, a=a, cs=float(cs), dof=dof, trS=trS, trS2=trS2,
                   aSa=float(Ra @ Ra) / dof, transform=tf,
                   settings=dict(standardize=mode, whiten=bool(whiten), center=bool(center),
                                 shrinkage=shrink_used, shrinkage_given=shrinkage))


def _estimate(src: _Source, Xt, yt, *, match_target_noise=False, covariance="isotropic",
              target_covariance=None, Xu=None, stacklevel=2) -> TaskEstimate:
    """The target half of :func:`estimate_task`; ``Xt, yt`` validated, labels ±1; ``Xu`` the
    unlabelled target rows as given."""
    opts = _covariance_options(covariance, target_covariance, Xu, src.X.shape[1])
    _same_features(src.X, Xt)
    _check_counts("y_target", yt)
    N, n, p = src.X.shape[0], Xt.shape[0], src.Z.shape[1]
    match_target_noise = v.boolean("match_target_noise", match_target_noise)
    if src.settings["standardize"] == "none" and not src.settings["whiten"]:
        _unit_scale_data("X_target", Xt)
    _, mid_t, _ = _half_mean_difference(Xt * src.transform.prescale, yt)
    if not src.settings["center"]:
        mid_t = np.zeros_like(mid_t)
    tf = dataclasses.replace(src.transform, center_target=mid_t)
    Zt = tf.apply(Xt, "target")
    Rt = _within_residuals(Zt, yt)
    noise_t = float(np.sum(Rt * Rt) / (n - 2) / src.trS) if n > 2 else float("nan")
    if match_target_noise:
        if not n > 2:
            v.fail("X_target", "an array with more than 2 rows with match_target_noise=True",
                   v.Got(f"{n} rows"))
        tf = dataclasses.replace(tf, target_scale=float(np.sqrt(noise_t)))
        Zt = tf.apply(Xt, "target")

    # estimators
    a, cs, dof, trS2 = src.a, src.cs, src.dof, src.trS2
    b, _, ct = _half_mean_difference(Zt, yt)
    Qs = float(a @ a - p * cs)
    Qt = float(b @ b - p * ct)
    I = float(a @ b)

    # Plug-in covariance of (Q_s, Q_t, I). E[a^T S a] = mu^T S mu + c_s tr(S^2): subtract it.
    Rb = src.R @ b
    bSb, aSb = float(Rb @ Rb) / dof, float((src.R @ a) @ Rb) / dof
    mSm = max(src.aSa - cs * trS2, 0.0)
    bSbc = max(bSb - ct * trS2, 0.0)
    var_Qs = 4 * cs * mSm + 2 * cs**2 * trS2
    var_Qt = 4 * ct * bSbc + 2 * ct**2 * trS2
    var_I = cs * bSbc + ct * mSm + cs * ct * trS2
    cov = np.array([
        [var_Qs, 0.0, 2 * cs * aSb],
        [0.0, var_Qt, 2 * ct * aSb],
        [2 * cs * aSb, 2 * ct * aSb, var_I],
    ])
    theta = np.array([Qs, Qt, I])
    mu, mu_orth, beta, clips = _parameters(theta, var_I)
    for c in clips:
        warnings.warn("estimate_task: " + c, RuntimeWarning, stacklevel=stacklevel)

    def unclipped(k):
        def f(th):
            Qs_, Qt_, I_ = th
            if k == 0:
                return np.sqrt(max(Qs_, 0.0))
            if k == 2:
                return I_ / Qs_
            b_ = I_ / Qs_
            return np.sqrt(max((Qt_ - (I_**2 - var_I) / Qs_) / (1 - b_**2), 0.0))
        return f

    se = {name: (_delta_se(unclipped(k), theta, cov) if Qs > 0 else float("nan"))
          for k, name in enumerate(("mu", "mu_orth", "beta"))}
    if clips:  # mu_orth at a boundary (or undefined when |beta| = 1): no delta-method se
        se["mu_orth"] = float("nan")

    na2, nb2 = float(a @ a), float(b @ b)
    naive_beta = I / na2
    naive = dict(
        mu2=na2, M=nb2, mu=float(np.sqrt(na2)), beta=naive_beta,
        mu_orth=float(np.sqrt(max(nb2 - I * I / na2, 0.0) / max(1 - naive_beta**2, 1e-300))),
    )

    frac_pos_s, frac_pos_t = float(np.mean(src.y > 0)), float(np.mean(yt > 0))
    diagnostics = dict(
        features_in=int(src.X.shape[1]),
        features_dropped=int(src.X.shape[1] - p),
        class_fraction_source=frac_pos_s,
        class_fraction_target=frac_pos_t,
        noise_trace_source=src.trS,
        effective_dimension=float(src.trS**2 / trS2),
        target_noise_ratio=noise_t,
        shrinkage=src.settings["shrinkage"],
    )
    if max(abs(frac_pos_s - 0.5), abs(frac_pos_t - 0.5)) > 0.2:
        warnings.warn("estimate_task: classes far from balanced (fraction of +1: "
                      f"source {frac_pos_s:.2f}, target {frac_pos_t:.2f}); the theory assumes "
                      "balanced classes", RuntimeWarning, stacklevel=stacklevel)

    general = None
    if covariance != "isotropic":
        _memory.guard("estimate_task", 8 * 16 * p * p,
                      detail=f"the p x p covariances of covariance={covariance!r}, p = {p}",
                      ways_out="use fewer features, or covariance='isotropic'")
        Xu = opts.get("Xu")
        general = dc.estimate(covariance, opts["target_covariance"], src.Z, src.y, Zt, yt,
                              None if Xu is None else tf.apply(Xu, "target"),
                              shrinkage=src.settings["shrinkage_given"])
    return TaskEstimate(
        p=int(p), N=int(N), n=int(n), mu=mu, mu_orth=mu_orth, beta=beta,
        se=se, naive=naive,
        unbiased=dict(mu2=Qs, M=Qt, inner=I),
        bias=dict(mu2=float(p * cs), M=float(p * ct), inner2=float(var_I)),
        cov=cov, clipped=tuple(clips), diagnostics=diagnostics,
        assumptions=ASSUMPTIONS if general is None else GENERAL_ASSUMPTIONS,
        settings=dict(src.settings, match_target_noise=bool(match_target_noise),
                      covariance=covariance, target_covariance=opts.get("target_covariance")),
        X_source=src.Z, y_source=src.y, X_target=Zt, y_target=yt, _transform=tf,
        general=general,
    )


# ----------------------------------------------------------------------------- fine-tuning


class _Ridge:
    r"""``Q = (X^T X / m + g I)^{-1}`` for data rows ``X`` (``m x p``), applied through the
    thin singular value decomposition ``X = U diag(s) V^T``, with ``lam = m g``:

    * ``Q X^T y / m = V diag(s / (s^2 + lam)) U^T y`` (:meth:`weight`),
    * ``g Q w = (w - V V^T w) + V diag(lam / (s^2 + lam)) V^T w`` (:meth:`shrink`; the first
      term, the part of ``w`` outside the row space of ``X``, is absent when ``m >= p``).

    No division by ``g`` and no Gram matrix: exact (to rounding) for every ``g > 0``, and
    ``g -> 0`` gives the minimum-norm interpolator ``X^+ y`` and the projection of ``w`` on
    the null space of ``X``. Singular values below the numerical-rank threshold
    ``max(m, p) eps s_max`` (that of ``numpy.linalg.pinv``) count as zero, so that a
    rank-deficient ``X`` has the same limit.
    """

    def __init__(self, X, g):
        m, p = X.shape
        k = min(m, p)
        _memory.guard("fine_tune", 8 * (3 * m * p + 2 * k * k), detail=f"{m} x {p} data",
                      ways_out="use fewer features or samples")
        U, sv, Vt = np.linalg.svd(X, full_matrices=False)
        rank = sv > max(m, p) * np.finfo(np.float64).eps * (sv[0] if sv.size else 0.0)
        self.U, self.Vt, self.full = U, Vt, m >= p
        root = np.sqrt(m) * np.sqrt(g)  # sqrt(lam), without overflow
        t = np.where(rank, sv, 1.0) / root  # s / sqrt(lam)
        # s / (s^2 + lam) = (1/sqrt(lam)) t / (1 + t^2), lam / (s^2 + lam) = 1 / (1 + t^2),
        # written so that neither squares nor quotients overflow.
        with np.errstate(over="ignore"):
            big = t > 1.0
            self.gain = np.where(rank, np.where(big, 1.0 / (t + 1.0 / t), t / (1.0 + t * t))
                                 / root, 0.0)
            self.keep = np.where(rank, np.where(big, (1.0 / t) / (t + 1.0 / t),
                                                1.0 / (1.0 + t * t)), 1.0)

    def weight(self, y):
        """``Q X^T y / m``."""
        return self.Vt.T @ (self.gain * (self.U.T @ y))

    def shrink(self, w):
        """``g Q w``."""
        c = self.Vt @ w
        inside = self.Vt.T @ (self.keep * c)
        return inside if self.full else (w - self.Vt.T @ c) + inside


@dataclasses.dataclass(frozen=True, eq=False)
class FineTuned:
    r"""The alpha-rescaled ridge classifiers ``w_alpha = w0 + alpha v`` for a grid of ``alpha``.

    ``w0 = Q X y / n`` (the target-only ridge classifier, ``alpha = 0``), ``v = gamma Q w~``,
    ``Q = (X^T X / n + gamma I)^{-1}`` (rows of ``X`` are samples), ``w~`` the ridge source
    classifier. ``weights`` has shape ``(len(alpha), p)`` (``(p,)`` for scalar ``alpha``).
    """

    alpha: np.ndarray
    weights: np.ndarray
    w0: np.ndarray
    v: np.ndarray
    source_weight: np.ndarray
    gamma: float
    gamma_src: float

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Scores ``X w_alpha``: shape ``(len(alpha), m)`` (``(m,)`` for scalar alpha)."""
        X = _features("X", X)
        if X.shape[1] != self.w0.shape[0]:
            v.fail("X", f"an array with {self.w0.shape[0]} features (columns), as the "
                   "classifier", v.Got(f"{X.shape[1]} features"))
        return self.weights @ X.T

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted labels in ``{-1, +1}`` (``0`` for an exact tie)."""
        return np.sign(self.decision_function(X))

    def accuracy(self, X: ArrayLike, y: ArrayLike) -> np.ndarray:
        """Fraction of correct signs on ``(X, y)`` per alpha (a tie counts 1/2). No label
        flipping: a worse-than-chance classifier has accuracy below 1/2."""
        _same_rows("X", X, "y", y)
        X = _features("X", X)
        yy = _labels("y", y, X.shape[0], "X")
        margin = self.decision_function(X) * yy
        return np.mean((margin > 0) + 0.5 * (margin == 0), axis=-1)


def fine_tune(X_source: ArrayLike, y_source: ArrayLike, X_target: ArrayLike,
              y_target: ArrayLike, alpha: ArrayLike, *, gamma: float,
              gamma_src: float) -> FineTuned:
    r"""Train the alpha-rescaled ridge classifier of THEORY §1 on data (any alpha grid at once).

    Source: ``w~ = (X~^T X~ / N + gamma_src I)^{-1} X~^T y~ / N``. Target:
    ``w_alpha = argmin_w (1/n) sum_i (y_i - w^T x_i)^2 + gamma ||w - alpha w~||^2
    = Q X^T y / n + alpha gamma Q w~`` with ``Q = (X^T X / n + gamma I)^{-1}``
    (rows of ``X`` are samples; no intercept). The data are used as given: pass the
    transformed arrays of an :func:`estimate_task` result (or use its ``fine_tune`` method)
    to match the estimated task.
    """
    Xs, ys, Xt, yt = _check_pair(X_source, y_source, X_target, y_target)
    v.positive("gamma", gamma)
    v.positive("gamma_src", gamma_src)
    v.finite("alpha", alpha)
    return _fit_target(source_weight(Xs, ys, gamma_src), Xt, yt, alpha, gamma, gamma_src)


def source_weight(Xs, ys, gamma_src):
    """``w~ = (X~^T X~ / N + gamma_src I)^{-1} X~^T y~ / N`` (validated arrays, labels ±1).

    Remembered by content (the last 16 MiB of weights): the trained-source theory asks for
    the same source's weights for every estimate made from it (each draw of a study)."""
    key = (Xs.shape, float(gamma_src), content_digest(Xs), content_digest(ys))
    w = _SOURCE_WEIGHTS.get(key)
    if w is None:
        w = _Ridge(Xs, gamma_src).weight(ys)
        _SOURCE_WEIGHTS.put(key, w, w.nbytes)
    return w.copy()


_SOURCE_WEIGHTS = _LRU(max_bytes=2**24)


def _fit_target(w_src, Xt, yt, alpha, gamma, gamma_src) -> FineTuned:
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim > 1:
        v.fail("alpha", "a number or a 1-D grid", v.Got(f"shape {a.shape}"))
    ridge = _Ridge(Xt, gamma)
    w0, vv = ridge.weight(yt), ridge.shrink(w_src)
    W = w0 + a[..., None] * vv
    return FineTuned(alpha=a, weights=W, w0=w0, v=vv, source_weight=w_src,
                     gamma=float(gamma), gamma_src=float(gamma_src))
