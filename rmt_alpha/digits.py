r"""Real-data check of the theory: alpha-rescaled transfer between pairs of handwritten digits.

scikit-learn's bundled digits (``sklearn.datasets.load_digits``: 1797 images of 8x8 pixels,
``p = 64`` features, no network) give binary tasks "digit a vs digit b" (``a`` is class
``+1``). For a source pair and a target pair:

* the source is every image of the source pair (``N`` of them); when a digit belongs to both
  pairs its images are split at random into two disjoint halves, one per task, so that no
  target test image was seen by the source;
* for each of ``trials`` random draws, ``n`` labelled target images (``n/2`` per class) are
  the fine-tuning set and all other target-pair images the held-out test set;
* per draw: :func:`rmt_alpha.estimate_task` on (source, the ``n`` target points) gives the
  practitioner's predicted ``alpha*``; :func:`rmt_alpha.fine_tune` is trained on the same
  transformed data over the alpha grid, and its accuracy measured on the test images
  (standardized the same way; labels are never flipped);
* the theory curve is ``test_accuracy`` with the task estimated from *all* labelled
  target-pair images (the best estimate this dataset allows; it isolates the modelling error
  from the estimation error of ``n`` points), evaluated at the experiment's ``n``;
* a *Gaussian twin* repeats the identical pipeline on synthetic data drawn from the THEORY §1
  model with the estimated parameters (same ``N``, ``n``, ``p``, test size): it shows how
  closely the theory can match at these small sizes when its assumptions hold exactly.

Computing (:func:`run_pair`, :func:`run_experiment`, :func:`summary_rows`) is separate from
rendering (:func:`markdown_table`, :func:`plot_transfer`, :func:`write_outputs`).
scikit-learn is imported only by :func:`load_digits_data` (``pip install rmt_alpha[data]``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import warnings

import numpy as np

from ._blas import one_blas_thread
from . import _centred
from . import _data_covariance as dc
from ._data import _estimate, _fit_target, prepare_source, source_weight

#: ``(source pair, target pair)``; the first digit of a pair is class +1.
DEFAULT_PAIRS = (
    ((6, 8), (5, 9)),
    ((3, 8), (5, 8)),
    ((4, 9), (7, 9)),
    ((1, 7), (4, 9)),
    ((0, 8), (1, 4)),
    ((3, 5), (8, 9)),  # little shared structure (beta close to 0)
    ((2, 3), (2, 3)),  # control: the same task on disjoint images (beta close to 1)
)

#: preprocessing variants compared (keyword arguments of estimate_task)
VARIANTS = {
    "standardized": dict(standardize=True),
    "whitened": dict(standardize=True, whiten=True),
    "whitened+matched": dict(standardize=True, whiten=True, match_target_noise=True),
}

DEFAULT_ALPHAS = np.round(np.linspace(-2.0, 6.0, 81), 10)

#: the general theory with the task from all target images (estimate_task keywords; unshrunk):
#: class-dependent covariances, the target's from its labelled pool (n = 131-343 >> 0)
GENERAL_POOL = dict(covariance="class", target_covariance="labelled")

#: the practitioner's general theory from the n labelled points: one covariance per task, the
#: target's = the source's rescaled to the target's noise level (THEORY §11.2)
GENERAL_DRAW = dict(covariance="pooled", target_covariance="source")

#: the practitioner's per-draw general alpha*, by key suffix: (covariance shrinkage, centred):
#: Ledoit-Wolf (the package's default), none (THEORY_GENERAL §10's practitioner), and
#: Ledoit-Wolf with the centred-target theory (THEORY §11.4)
GENERAL_DRAWS = {"": (None, False), "_s0": (0.0, False), "_c": (None, True)}


def load_digits_data():
    """``(X, digit)``: the 1797 x 64 pixel matrix (float) and the digit of every image."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching in tests
        raise ImportError(
            "the digits experiment needs scikit-learn (its bundled handwritten digits); "
            "install it with `pip install rmt_alpha[data]` (or `pip install scikit-learn`)"
        ) from exc
    d = load_digits()
    return np.asarray(d.data, dtype=np.float64), np.asarray(d.target, dtype=int)


def pair_name(pair):
    return f"{pair[0]} vs {pair[1]}"


def split_pair_data(X, digit, source, target, rng):
    """Source rows/labels and the target pool, with disjoint images for shared digits."""
    for name, pr in (("source", source), ("target", target)):
        if len(pr) != 2 or pr[0] == pr[1]:
            raise ValueError(f"{name} must be two different digits, got {pr!r}")
    owner = np.full(digit.shape[0], "both", dtype=object)
    for d in sorted(set(source) & set(target)):
        idx = rng.permutation(np.flatnonzero(digit == d))
        owner[idx[: idx.size // 2]] = "source"
        owner[idx[idx.size // 2:]] = "target"

    def rows(pr, who):
        m = np.isin(digit, pr) & ((owner == "both") | (owner == who))
        return X[m], np.where(digit[m] == pr[0], 1.0, -1.0)

    Xs, ys = rows(source, "source")
    Xp, yp = rows(target, "target")
    return Xs, ys, Xp, yp


def _draw_indices(rng, yp, n):
    pos, neg = np.flatnonzero(yp > 0), np.flatnonzero(yp < 0)
    k = n // 2
    tr = np.concatenate([rng.choice(pos, k, replace=False), rng.choice(neg, n - k, replace=False)])
    mask = np.ones(yp.size, bool)
    mask[tr] = False
    return tr, np.flatnonzero(mask)


def _curves(Xs, ys, Xp, yp, *, n, alphas, trials, gamma, gamma_src, variant_kwargs, rng,
            fixed_alphas=(), general=True, src=None):
    """Per-draw empirical accuracy curves (trials x alphas), the accuracy at the draw's own
    predicted alpha* (isotropic and, with ``general``, the general theory's of
    :data:`GENERAL_DRAW` with the trained source, once per entry of
    :data:`GENERAL_DRAWS`; an infinite alpha* is used as +-1e6), the per-draw predicted
    curves and alpha*s, the accuracy at each of ``fixed_alphas`` (trials x len), and the mean
    and standard deviation of the signed test scores ``y w_alpha^T x`` (trials x alphas).
    ``src``: ``prepare_source(Xs, ys, ...)`` with the variant's keywords, if the caller has it."""
    kw = dict(variant_kwargs)
    match_target_noise = kw.pop("match_target_noise", False)
    if src is None:
        src = prepare_source(Xs, ys, **kw)
    w_src = source_weight(src.Z, src.y, gamma_src)
    sources = {sh: dataclasses.replace(src, settings=dict(src.settings, shrinkage_given=sh))
               for sh in dict.fromkeys(sh for sh, _ in GENERAL_DRAWS.values())} if general else {}
    draws = GENERAL_DRAWS if general else {}
    k, f = len(alphas), len(fixed_alphas)
    out = {name: np.full((trials, k), np.nan) for name in
           ("emp", "pred", "pred_general", "score_mean", "score_sd")}
    out.update({name + sfx: np.full(trials, np.nan) for name in ("a_draw", "acc_draw")
                for sfx in ("", *(f"_general{x}" for x in draws))})
    out["acc_fixed"] = np.empty((trials, f))
    g = dict(gamma=gamma, gamma_src=gamma_src)
    for t in range(trials):
        tr, te = _draw_indices(rng, yp, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # clips are recorded, not shown
            est = _estimate(src, Xp[tr], yp[tr], match_target_noise=match_target_noise)
            ests = {sh: _estimate(sg, Xp[tr], yp[tr], match_target_noise=match_target_noise,
                                  **GENERAL_DRAW) for sh, sg in sources.items()}
        out["a_draw"][t] = est.optimal_alpha(**g)
        out["pred"][t] = est.test_accuracy(alphas, **g)
        for sfx, (sh, centred) in draws.items():
            out[f"a_draw_general{sfx}"][t] = ests[sh].optimal_alpha(
                **g, source_model="trained", centred=centred)
        if draws:
            out["pred_general"][t] = ests[None].test_accuracy(alphas, **g, source_model="trained")
        names = ["a_draw", *(f"a_draw_general{sfx}" for sfx in draws)]
        extra = np.clip([out[d][t] for d in names], -1e6, 1e6)
        ft = _fit_target(w_src, est.X_target, est.y_target,
                         np.concatenate([alphas, extra, fixed_alphas]), gamma, gamma_src)
        margin = ft.decision_function(est.transform_target(Xp[te])) * yp[te]
        acc = np.mean((margin > 0) + 0.5 * (margin == 0), axis=-1)  # as FineTuned.accuracy
        out["emp"][t] = acc[:k]
        for j, d in enumerate(names):
            out["acc" + d[1:]][t] = acc[k + j]
        out["acc_fixed"][t] = acc[acc.size - f:]
        out["score_mean"][t], out["score_sd"][t] = margin[:k].mean(axis=1), margin[:k].std(axis=1)
    out["src"] = src
    return out


def _mean_se(x, axis=0):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(x.shape[axis])


def _with_se(key, x, sfx=""):
    """``{key: mean, key + "_se": standard error}`` (``sfx`` appended to both) of ``x`` over
    the draws."""
    mean, se = _mean_se(x)
    return {key + sfx: float(mean), key + "_se" + sfx: float(se)}


def _interp(alphas, curve, a):
    return float(np.interp(a, alphas, curve, left=np.nan, right=np.nan))


def gaussian_twin(params, *, n_test, N_pos, rng):
    """Synthetic THEORY §1 data with the given ``params`` (p, N, mu, mu_orth, beta):
    ``mu = mu e1``, ``mu_perp = mu_orth e2``, unit isotropic noise, ``N_pos`` source points of
    class +1, a balanced target pool of ``n + n_test`` points."""
    p, N = params["p"], params["N"]
    mu, mo, beta = params["mu"], params["mu_orth"], params["beta"]
    m = np.zeros(p)
    m[0] = mu
    mb = np.zeros(p)
    mb[0] = beta * mu
    mb[1] = np.sqrt(1.0 - beta * beta) * mo
    ys = np.where(np.arange(N) < N_pos, 1.0, -1.0)
    Xs = ys[:, None] * m + rng.standard_normal((N, p))
    size = params["n"] + n_test
    yp = np.where(np.arange(size) < size // 2, 1.0, -1.0)
    Xp = yp[:, None] * mb + rng.standard_normal((size, p))
    return Xs, ys, Xp, yp


def gaussian_twin_general(moments, *, N, N_pos, pool_size, rng):
    """Synthetic THEORY §9 data with the given ``moments`` (``source_mean``, ``target_mean``,
    ``source_cov``, ``target_cov``, covariances a matrix or a ``(C_plus, C_minus)`` pair):
    ``N_pos`` of ``N`` source points of class +1, a balanced target pool of ``pool_size``."""

    def rows(m, m_pos, mean, cov):
        y = np.where(np.arange(m) < m_pos, 1.0, -1.0)
        X = np.empty((m, mean.size))
        for cls, C in zip((1.0, -1.0), cov if isinstance(cov, tuple) else (cov, cov)):
            lam, U = np.linalg.eigh(C)
            F = U * np.sqrt(np.maximum(lam, 0.0))  # F F^T = C (singular C allowed)
            sel = y == cls
            X[sel] = cls * mean + rng.standard_normal((sel.sum(), mean.size)) @ F.T
        return X, y

    Xs, ys = rows(N, N_pos, moments["source_mean"], moments["source_cov"])
    Xp, yp = rows(pool_size, pool_size // 2, moments["target_mean"], moments["target_cov"])
    return Xs, ys, Xp, yp


def _twin_moments(src, moments):
    """The twin's true target moments in the coordinates its own pipeline works in: the
    transformation ``z = T^T (x - c)[keep]`` of :class:`rmt_alpha._data._Transform`
    (``T = _Transform.linear_map()``: prescale, scales, whitener) applied to the mean and the
    class covariances."""
    tf = src.transform
    T = tf.linear_map()
    k = tf.keep
    covs = moments["target_cov"]
    return dict(target_mean=T.T @ moments["target_mean"][k],
                target_cov=tuple(T.T @ C[np.ix_(k, k)] @ T for C in covs))


def run_pair(source, target, *, n, trials, alphas=DEFAULT_ALPHAS, gamma=1.0, gamma_src=1.0,
             variant="standardized", twin=True, general=True, seed=0, data=None):
    """One (source pair, target pair, n, preprocessing variant): the summary numbers and the
    curves. ``variant`` is a name in :data:`VARIANTS` or a dict of ``estimate_task`` keywords.
    ``general``: also the general-covariance theory (THEORY §9, §11) beside the isotropic one
    (task from all target images: :data:`GENERAL_POOL`; from the ``n`` points:
    :data:`GENERAL_DRAW` in the variants of :data:`GENERAL_DRAWS`; the trained source
    classifier), the general theory of the centred pipeline (THEORY §11.4; keys ending in
    ``_centred``), and, with ``twin``, a general Gaussian twin. Returns ``dict(row=..., curves=...)``: CSV-friendly scalars and arrays."""
    from ._task import resolve
    from ._theory import score_moments, test_accuracy

    X, digit = load_digits_data() if data is None else data
    alphas = np.asarray(alphas, dtype=np.float64)
    kw = dict(VARIANTS[variant]) if isinstance(variant, str) else dict(variant)
    vname = variant if isinstance(variant, str) else "custom"
    match = kw.get("match_target_noise", False)
    rng = np.random.default_rng(seed)
    Xs, ys, Xp, yp = split_pair_data(X, digit, source, target, rng)

    # the theory with the task from all target images (the draws do not enter it)
    src = prepare_source(Xs, ys, **{k: v for k, v in kw.items() if k != "match_target_noise"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        pool = _estimate(src, Xp, yp, match_target_noise=match)
    theory = dict(gamma=gamma, gamma_src=gamma_src, n=n)
    a_star = float(pool.optimal_alpha(**theory))
    fixed = [a_star]
    if general:
        unshrunk = dataclasses.replace(src, settings=dict(src.settings, shrinkage_given=0.0))
        pool_g = _estimate(unshrunk, Xp, yp, match_target_noise=match, **GENERAL_POOL)
        pool_gr = _estimate(unshrunk, Xp, yp, match_target_noise=match, covariance="pooled",
                            target_covariance="labelled")
        a_star_g = float(pool_g.optimal_alpha(**theory, source_model="trained"))
        a_star_gc = float(pool_g.optimal_alpha(**theory, source_model="trained", centred=True))
        fixed += [a_star_g, a_star_gc]
    c = _curves(Xs, ys, Xp, yp, n=n, alphas=alphas, trials=trials, gamma=gamma,
                gamma_src=gamma_src, variant_kwargs=kw, rng=rng,
                fixed_alphas=[a if np.isfinite(a) else 0.0 for a in fixed], general=general,
                src=src)
    emp, pred, a_draw, acc_draw = c["emp"], c["pred"], c["a_draw"], c["acc_draw"]

    th = np.asarray(pool.test_accuracy(alphas, **theory))
    a_star_se = pool.optimal_alpha_se(**theory)
    m_th, e2_th = score_moments(alphas, **pool.theory_kwargs(**theory))
    sd_th = np.sqrt(e2_th - m_th**2)

    mean, se = _mean_se(emp)
    i_best = int(np.argmax(mean))
    boot = np.random.default_rng(seed + 1)
    best_boot = [alphas[np.argmax(emp[boot.integers(0, trials, trials)].mean(0))]
                 for _ in range(200)]
    i0, i1 = int(np.argmin(np.abs(alphas))), int(np.argmin(np.abs(alphas - 1)))
    d1, d0 = acc_draw - emp[:, i1], acc_draw - emp[:, i0]
    s_mean, s_sd = c["score_mean"].mean(0), np.sqrt(np.mean(c["score_sd"] ** 2, axis=0))
    snr = s_mean / s_sd

    row = dict(
        source=pair_name(source), target=pair_name(target),
        pair=f"{pair_name(source)} → {pair_name(target)}", n=int(n), variant=vname,
        trials=int(trials), gamma=float(gamma), gamma_src=float(gamma_src),
        N=pool.N, p=pool.p, pool_size=int(yp.size), test_size=int(yp.size - n),
        mu=pool.mu, mu_se=pool.se["mu"], mu_orth=pool.mu_orth, mu_orth_se=pool.se["mu_orth"],
        beta=pool.beta, beta_se=pool.se["beta"], clipped="; ".join(pool.clipped),
        effective_dimension=pool.diagnostics["effective_dimension"],
        target_noise_ratio=pool.diagnostics["target_noise_ratio"],
        alpha_star=a_star, alpha_star_se=a_star_se,
        alpha_star_draw_median=float(np.median(a_draw)),
        alpha_star_draw_q25=float(np.quantile(a_draw, 0.25)),
        alpha_star_draw_q75=float(np.quantile(a_draw, 0.75)),
        best_alpha=float(alphas[i_best]), best_alpha_se=float(np.std(best_boot, ddof=1)),
        acc_alpha0=float(mean[i0]), acc_alpha0_se=float(se[i0]),
        acc_alpha1=float(mean[i1]), acc_alpha1_se=float(se[i1]),
        **_with_se("acc_alpha_star", acc_draw),
        acc_pool_alpha_star=float(c["acc_fixed"][:, 0].mean()),
        acc_best=float(mean[i_best]), acc_best_se=float(se[i_best]),
        **_with_se("gain_vs_alpha1", d1), **_with_se("gain_vs_alpha0", d0),
        pred_acc_alpha0=float(th[i0]), pred_acc_alpha1=float(th[i1]),
        pred_acc_alpha_star=float(pool.test_accuracy(a_star, **theory)),
        theory_gap_mean=float(np.mean(np.abs(th - mean))),
        theory_gap_max=float(np.max(np.abs(th - mean))),
        draw_theory_gap_mean=float(np.mean(np.abs(pred.mean(0) - mean))),
        # the score y w^T x on test points at alpha = 1: measured vs predicted (THEORY §3)
        score_mean_alpha1=float(s_mean[i1]), pred_score_mean_alpha1=float(m_th[i1]),
        score_sd_alpha1=float(s_sd[i1]), pred_score_sd_alpha1=float(sd_th[i1]),
        best_alpha_snr=float(alphas[int(np.argmax(snr))]),
    )
    curves = dict(alphas=alphas, emp_mean=mean, emp_se=se, theory=th,
                  theory_draw_mean=pred.mean(0), alpha_draw=a_draw, score_mean=s_mean,
                  score_sd=s_sd, theory_score_mean=m_th, theory_score_sd=sd_th)

    if general:
        kg = pool_g.theory_kwargs(**theory, source_model="trained")
        th_g = np.asarray(test_accuracy(alphas, **kg))
        m_g, e2p = score_moments(alphas, **kg, test_class=1)
        _, e2m = score_moments(alphas, **kg, test_class=-1)
        sd_g = np.sqrt(0.5 * (e2p + e2m) - m_g**2)  # both test classes, one score mean
        row.update(
            alpha_star_general=a_star_g,
            alpha_star_general_ridge=float(pool_gr.optimal_alpha(**theory)),
            acc_pool_alpha_star_general=float(c["acc_fixed"][:, 1].mean())
            if np.isfinite(a_star_g) else float("nan"),
            theory_gap_mean_general=float(np.mean(np.abs(th_g - mean))),
            theory_gap_max_general=float(np.max(np.abs(th_g - mean))),
            pred_acc_alpha1_general=float(th_g[i1]),
            draw_theory_gap_mean_general=float(np.mean(np.abs(c["pred_general"].mean(0) - mean))),
            pred_score_mean_alpha1_general=float(m_g[i1]),
            pred_score_sd_alpha1_general=float(sd_g[i1]),
            target_source_trace_ratio=pool_g.general.diagnostics["target_source_trace_ratio"],
            effective_dimension_target=dc.effective_dimension(sum(pool_g.general.target_cov) / 2),
        )
        th_gc = np.asarray(pool_g.test_accuracy(alphas, **theory, source_model="trained",
                                                centred=True))
        row.update(
            alpha_star_general_centred=a_star_gc,
            acc_pool_alpha_star_general_centred=float(c["acc_fixed"][:, 2].mean())
            if np.isfinite(a_star_gc) else float("nan"),
            theory_gap_mean_general_centred=float(np.mean(np.abs(th_gc - mean))),
            theory_gap_max_general_centred=float(np.max(np.abs(th_gc - mean))),
        )
        for sfx in GENERAL_DRAWS:
            a_g, acc_g = c[f"a_draw_general{sfx}"], c[f"acc_draw_general{sfx}"]
            dg, db = acc_g - acc_draw, acc_g - emp[:, i_best]
            row.update({
                f"alpha_star_general_draw_median{sfx}": float(np.median(a_g)),
                f"alpha_star_general_draw_q25{sfx}": float(np.quantile(a_g, 0.25)),
                f"alpha_star_general_draw_q75{sfx}": float(np.quantile(a_g, 0.75)),
                f"acc_alpha_star_general{sfx}": float(acc_g.mean()),
                **_with_se("gain_general_vs_iso", dg, sfx),
                **_with_se("gain_general_vs_best", db, sfx),
            })
        dc_ = c["acc_draw_general_c"] - c["acc_draw_general"]
        row.update(_with_se("gain_general_c_vs_general", dc_))
        curves.update(theory_general=th_g, theory_general_centred=th_gc,
                      theory_draw_mean_general=c["pred_general"].mean(0),
                      alpha_draw_general=c["a_draw_general"], theory_score_mean_general=m_g,
                      theory_score_sd_general=sd_g)

    if twin:
        trng = np.random.default_rng(seed + 2)
        Xs2, ys2, Xp2, yp2 = gaussian_twin(
            dict(pool.params, n=n), n_test=yp.size - n, N_pos=int(np.sum(ys > 0)), rng=trng)
        c2 = _curves(Xs2, ys2, Xp2, yp2, n=n, alphas=alphas, trials=trials, gamma=gamma,
                     gamma_src=gamma_src, variant_kwargs=kw, rng=trng, general=False)
        m2, se2 = _mean_se(c2["emp"])
        row.update(twin_theory_gap_mean=float(np.mean(np.abs(th - m2))),
                   twin_best_alpha=float(alphas[int(np.argmax(m2))]),
                   twin_acc_alpha1=float(m2[i1]))
        curves.update(twin_mean=m2, twin_se=se2)
    if twin and general:
        # the general twin: Gaussian data with the pool's means and class covariances; its
        # theory is the exact fixed-source one for its own trained source
        trng = np.random.default_rng(seed + 3)
        moments = dict(pool_g.params)
        Xs3, ys3, Xp3, yp3 = gaussian_twin_general(
            moments, N=pool.N, N_pos=int(np.sum(ys > 0)), pool_size=int(yp.size), rng=trng)
        c3 = _curves(Xs3, ys3, Xp3, yp3, n=n, alphas=alphas, trials=trials, gamma=gamma,
                     gamma_src=gamma_src, variant_kwargs=kw, rng=trng, general=False)
        m3, se3 = _mean_se(c3["emp"])
        src3 = c3["src"]
        twin_task = dict(source=source_weight(src3.Z, src3.y, gamma_src), gamma=gamma,
                         **_twin_moments(src3, moments))
        p3 = src3.Z.shape[1]
        th3 = np.asarray(test_accuracy(alphas, n, p3, **twin_task))
        th3c = _centred.accuracy(alphas, _centred.coefficients(resolve(n, p3, twin_task),
                                                               _centred.balanced(n)))
        row.update(twin_general_theory_gap_mean=float(np.mean(np.abs(th3 - m3))),
                   twin_general_centred_theory_gap_mean=float(np.mean(np.abs(th3c - m3))),
                   twin_general_best_alpha=float(alphas[int(np.argmax(m3))]))
        curves.update(twin_general_mean=m3, twin_general_se=se3, twin_general_theory=th3)
    row["warnings"] = "; ".join(str(w.message) for w in caught)
    return dict(row=row, curves=curves)


def run_experiment(pairs=DEFAULT_PAIRS, ns=(20, 50), *, trials=200, alphas=DEFAULT_ALPHAS,
                   gamma=1.0, gamma_src=1.0,
                   variants=("standardized", "whitened", "whitened+matched"),
                   twin_variants=("standardized",), general_variants=("standardized",),
                   seed=0):
    """Every (pair, n, variant). Returns a list of :func:`run_pair` results; seeds are fixed
    (``seed + 1000 * pair index + n``; the same seed across variants, so they see the same
    draws). ``twin_variants`` / ``general_variants``: the variants that get the Gaussian
    twins / the general-covariance theory."""
    data = load_digits_data()
    out = []
    with one_blas_thread():
        for k, (s, t) in enumerate(pairs):
            for n in ns:
                for var in variants:
                    out.append(run_pair(s, t, n=n, trials=trials, alphas=alphas, gamma=gamma,
                                        gamma_src=gamma_src, variant=var,
                                        twin=var in twin_variants,
                                        general=var in general_variants,
                                        seed=seed + 1000 * k + n, data=data))
    return out


def summary_rows(results):
    """The CSV-friendly summary rows (one dict per pair, n and variant)."""
    return [r["row"] for r in results]


# ----------------------------------------------------------------------------- rendering

#: ``(header, key, format, *keys of further format arguments)``
README_COLUMNS = (
    ("source → target", "pair", "{}"),
    ("n", "n", "{}"),
    ("β̂", "beta", "{:.2f}"),
    ("α* iso", "alpha_star", "{:.2f}"),
    ("α* general", "alpha_star_general", "{:.2f}"),
    ("empirical best α", "best_alpha", "{:.1f} ± {:.1f}", "best_alpha_se"),
    ("acc. α = 1", "acc_alpha1", "{:.3f}"),
    ("acc. best α", "acc_best", "{:.3f}"),
    ("acc. α̂* iso / general", "acc_alpha_star", "{:.3f} / {:.3f}", "acc_alpha_star_general"),
    ("gap iso: mean / max", "theory_gap_mean", "{:.3f} / {:.3f}", "theory_gap_max"),
    ("gap general: mean / max", "theory_gap_mean_general", "{:.3f} / {:.3f}",
     "theory_gap_max_general"),
    ("gap general, centred: mean / max", "theory_gap_mean_general_centred", "{:.3f} / {:.3f}",
     "theory_gap_max_general_centred"),
)

#: THEORY_GENERAL §10's first table: alpha* and the gaps of both theories (task from all
#: target images) and the general Gaussian twin's gap
GENERAL_COLUMNS = (
    ("source → target", "pair", "{}"),
    ("n", "n", "{}"),
    ("β̂", "beta", "{:.2f}"),
    ("empirical best α", "best_alpha", "{:.1f} ± {:.1f}", "best_alpha_se"),
    ("iso α*", "alpha_star", "{:.2f}"),
    ("general α* (trained w̃, Ct±)", "alpha_star_general", "{:.2f}"),
    ("general α* (ridge, pooled Cs, Ct)", "alpha_star_general_ridge", "{:.2f}"),
    ("max gap iso", "theory_gap_max", "{:.3f}"),
    ("max gap general", "theory_gap_max_general", "{:.3f}"),
    ("mean gap iso", "theory_gap_mean", "{:.3f}"),
    ("mean gap general", "theory_gap_mean_general", "{:.3f}"),
    ("general twin gap (mean)", "twin_general_theory_gap_mean", "{:.3f}"),
)

#: the general theory of the centred pipeline (THEORY §11.4) beside the uncentred one
CENTRED_COLUMNS = (
    ("source → target", "pair", "{}"),
    ("n", "n", "{}"),
    ("empirical best α", "best_alpha", "{:.1f} ± {:.1f}", "best_alpha_se"),
    ("general α*", "alpha_star_general", "{:.2f}"),
    ("general α*, centred", "alpha_star_general_centred", "{:.2f}"),
    ("mean / max gap general", "theory_gap_mean_general", "{:.4f} / {:.3f}",
     "theory_gap_max_general"),
    ("mean / max gap general, centred", "theory_gap_mean_general_centred", "{:.4f} / {:.3f}",
     "theory_gap_max_general_centred"),
    ("twin gap (mean): general / centred", "twin_general_theory_gap_mean", "{:.4f} / {:.4f}",
     "twin_general_centred_theory_gap_mean"),
    ("acc. general α* / centred α* (all images)", "acc_pool_alpha_star_general",
     "{:.4f} / {:.4f}", "acc_pool_alpha_star_general_centred"),
    ("acc. general α̂* / centred α̂* (n pts)", "acc_alpha_star_general", "{:.4f} / {:.4f}",
     "acc_alpha_star_general_c"),
    ("centred − uncentred α̂* (paired)", "gain_general_c_vs_general", "{:+.4f} ± {:.4f}",
     "gain_general_c_vs_general_se"),
)

#: following each theory: held-out accuracy at the all-images alpha*s and at the per-draw
#: predictions from the n labelled points, with Ledoit-Wolf shrinkage (the package's default)
#: and unshrunk (THEORY_GENERAL §10's second table)
FOLLOWING_COLUMNS = (
    ("source → target", "pair", "{}"),
    ("n", "n", "{}"),
    ("acc. iso α* (all images)", "acc_pool_alpha_star", "{:.4f}"),
    ("acc. general α* (all images)", "acc_pool_alpha_star_general", "{:.4f}"),
    ("acc. best α", "acc_best", "{:.4f}"),
    ("acc. iso α̂*", "acc_alpha_star", "{:.4f}"),
    ("median general α̂* (n pts) [quartiles]", "alpha_star_general_draw_median",
     "{:+.2f} [{:+.2f}, {:+.2f}]", "alpha_star_general_draw_q25", "alpha_star_general_draw_q75"),
    ("acc. general α̂*", "acc_alpha_star_general", "{:.4f}"),
    ("general − iso (paired)", "gain_general_vs_iso", "{:+.4f} ± {:.4f}", "gain_general_vs_iso_se"),
    ("general − best", "gain_general_vs_best", "{:+.4f} ± {:.4f}", "gain_general_vs_best_se"),
    ("unshrunk: median general α̂* [quartiles]", "alpha_star_general_draw_median_s0",
     "{:+.2f} [{:+.2f}, {:+.2f}]", "alpha_star_general_draw_q25_s0",
     "alpha_star_general_draw_q75_s0"),
    ("unshrunk: acc. general α̂*", "acc_alpha_star_general_s0", "{:.4f}"),
    ("unshrunk: general − iso", "gain_general_vs_iso_s0", "{:+.4f} ± {:.4f}",
     "gain_general_vs_iso_se_s0"),
)

#: the score y w_alpha^T x on held-out images at alpha = 1: measured and both predictions
SCORE_COLUMNS = (
    ("source → target", "pair", "{}"),
    ("n", "n", "{}"),
    ("mean: measured", "score_mean_alpha1", "{:.3f}"),
    ("iso", "pred_score_mean_alpha1", "{:.3f}"),
    ("general", "pred_score_mean_alpha1_general", "{:.3f}"),
    ("sd: measured", "score_sd_alpha1", "{:.3f}"),
    ("iso", "pred_score_sd_alpha1", "{:.3f}"),
    ("general", "pred_score_sd_alpha1_general", "{:.3f}"),
    ("noise ratio tr Ct / tr Cs", "target_noise_ratio", "{:.2f}"),
    ("eff. dim. of Ct", "effective_dimension_target", "{:.1f}"),
)

FULL_COLUMNS = (
    ("source → target", "pair", "{}"),
    ("n", "n", "{}"),
    ("β̂", "beta", "{:.2f} ± {:.2f}", "beta_se"),
    ("predicted α*", "alpha_star", "{:.2f} ± {:.2f}", "alpha_star_se"),
    ("median α̂* (n pts)", "alpha_star_draw_median", "{:.2f}"),
    ("empirical best α", "best_alpha", "{:.1f} ± {:.1f}", "best_alpha_se"),
    ("acc. α = 0", "acc_alpha0", "{:.3f}"),
    ("acc. α = 1", "acc_alpha1", "{:.3f}"),
    ("acc. α̂*", "acc_alpha_star", "{:.3f}"),
    ("acc. best α", "acc_best", "{:.3f}"),
    ("α̂* vs α = 1", "gain_vs_alpha1", "{:+.3f} ± {:.3f}", "gain_vs_alpha1_se"),
    ("α̂* vs α = 0", "gain_vs_alpha0", "{:+.3f} ± {:.3f}", "gain_vs_alpha0_se"),
    ("theory acc. α = 1", "pred_acc_alpha1", "{:.3f}"),
)

DIAGNOSTIC_COLUMNS = (
    ("source → target", "pair", "{}"),
    ("n", "n", "{}"),
    ("variant", "variant", "{}"),
    ("mean gap", "theory_gap_mean", "{:.3f}"),
    ("max gap", "theory_gap_max", "{:.3f}"),
    ("twin gap", "twin_theory_gap_mean", "{:.3f}"),
    ("α*", "alpha_star", "{:.2f}"),
    ("best α", "best_alpha", "{:.1f} ± {:.1f}", "best_alpha_se"),
    ("acc. α̂*", "acc_alpha_star", "{:.3f}"),
    ("acc. best α", "acc_best", "{:.3f}"),
    ("score mean α=1 (theory)", "score_mean_alpha1", "{:.2f} ({:.2f})", "pred_score_mean_alpha1"),
    ("score sd α=1 (theory)", "score_sd_alpha1", "{:.2f} ({:.2f})", "pred_score_sd_alpha1"),
    ("noise ratio", "target_noise_ratio", "{:.2f}"),
    ("eff. dim / p", "effective_dimension", "{:.0f} / {}", "p"),
)


def _cell(row, spec):
    fmt, key = spec[2], spec[1]
    if any(k not in row for k in spec[1:2] + spec[3:]):
        return "—"
    vals = [row[spec[1]]] + [row[k] for k in spec[3:]]
    try:
        return fmt.format(*vals)
    except (TypeError, ValueError):
        return str(row[key])


def markdown_table(rows, columns=README_COLUMNS):
    """A markdown table of summary rows (default: the README columns)."""
    head = "| " + " | ".join(c[0] for c in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def write_csv(rows, path):
    keys = list(rows[0])
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def plot_transfer(results, *, variant="standardized", n=20, ncols=4, scatter=True):
    """Accuracy vs alpha per pair at one ``n``: empirical mean ± 2 s.e. (markers and band),
    theory with the task estimated from all target images (line), mean of the per-draw
    predictions from ``n`` points (dashed), Gaussian twin (dotted); predicted alpha* (solid
    vertical) and empirical best alpha (dashed vertical). With ``scatter``, a last panel plots
    predicted alpha* against the empirical best alpha for every variant at this ``n``.
    Returns the matplotlib figure (mathtext only, no LaTeX)."""
    import matplotlib.pyplot as plt  # the caller chooses the backend (the notebook uses Agg)

    sel = [r for r in results if r["row"]["variant"] == variant and r["row"]["n"] == n]
    if not sel:
        raise ValueError(f"no results for variant={variant!r}, n={n!r}")
    panels = len(sel) + bool(scatter)
    nrows = -(-panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.5 * ncols, 2.9 * nrows), squeeze=False)
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    for ax, r in zip(axes.flat, sel):
        row, c = r["row"], r["curves"]
        a = c["alphas"]
        ax.fill_between(a, c["emp_mean"] - 2 * c["emp_se"], c["emp_mean"] + 2 * c["emp_se"],
                        color="C0", alpha=0.25, lw=0)
        ax.plot(a, c["emp_mean"], "o", ms=2.2, color="C0",
                label="digits: fine_tune (mean ± 2 s.e.)")
        ax.plot(a, c["theory"], "-", color="C3",
                label="isotropic theory, task from all target images")
        if "theory_general" in c:
            ax.plot(a, c["theory_general"], "-", color="C2", lw=1.4,
                    label="general theory (THEORY §9), task from all target images")
            ax.plot(a, c["theory_general_centred"], "-.", color="C2", lw=1.1,
                    label="general theory of the centred target (THEORY §11.4)")
            ax.axvline(row["alpha_star_general"], color="C2", lw=0.8)
        ax.plot(a, c["theory_draw_mean"], "--", color="C1", lw=1,
                label=f"isotropic theory, task from the n = {n} points (mean)")
        if "twin_mean" in c:
            ax.plot(a, c["twin_mean"], ":", color="0.35", lw=1.3,
                    label="isotropic Gaussian twin: fine_tune on THEORY §1 data")
        ax.axvline(row["alpha_star"], color="C3", lw=0.8)
        ax.axvline(row["best_alpha"], color="C0", lw=0.8, ls="--")
        lo = min(np.nanmin(c["emp_mean"]), np.nanmin(c["theory"]),
                 np.nanmin(c.get("theory_general", c["theory"])))
        ax.set_ylim(max(lo - 0.02, 0.0), 1.005)
        star = f"{row['alpha_star']:.2f}"
        if "alpha_star_general" in row:
            star = f"{star} (iso), {row['alpha_star_general']:.2f} (general)"
        ax.set_title(f"{row['source']} → {row['target']}:  "
                     rf"$\hat\beta$ = {row['beta']:.2f},  "
                     rf"best $\alpha$ = {row['best_alpha']:.1f}" "\n"
                     rf"$\alpha^*$ = {star}", fontsize=8.5)
        ax.tick_params(labelsize=7)
        ax.set_xlabel(r"$\alpha$", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("target test accuracy", fontsize=8)
    if scatter:
        ax = axes.flat[len(sel)]
        for k, var in enumerate(dict.fromkeys(r["row"]["variant"] for r in results)):
            rows = [r["row"] for r in results if r["row"]["variant"] == var and r["row"]["n"] == n]
            ax.errorbar([q["alpha_star"] for q in rows], [q["best_alpha"] for q in rows],
                        yerr=[q["best_alpha_se"] for q in rows], fmt="os^"[k % 3], ms=4,
                        color=f"C{k + 4}", lw=0.8, label=f"{var}, isotropic")
            gen = [q for q in rows if "alpha_star_general" in q]
            if gen:
                ax.errorbar([q["alpha_star_general"] for q in gen], [q["best_alpha"] for q in gen],
                            yerr=[q["best_alpha_se"] for q in gen], fmt="D", ms=4, color="C2",
                            lw=0.8, label=f"{var}, general")
        lim = [-2.1, 6.1]
        ax.plot(lim, lim, color="0.5", lw=0.8)
        ax.set_xlim(-0.6, 2.0)
        ax.set_ylim(*lim)
        ax.set_xlabel(r"predicted $\alpha^*$", fontsize=8)
        ax.set_ylabel(r"empirical best $\alpha$ (± s.e.)", fontsize=8)
        ax.set_title(f"all pairs, n = {n}", fontsize=8.5)
        ax.legend(fontsize=6.5, loc="lower right")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def write_outputs(results, *, figure_path=None, csv_path=None, json_path=None, params=None,
                  variant="standardized", n=20):
    """Save the figure, the summary CSV and a JSON of the run's parameters (and results)."""
    rows = summary_rows(results)
    if csv_path:
        write_csv(rows, csv_path)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(dict(parameters=params or {}, rows=rows), f, indent=1, default=float)
    if figure_path:
        fig = plot_transfer(results, variant=variant, n=n)
        fig.savefig(figure_path, dpi=130)
        return fig
    return None
