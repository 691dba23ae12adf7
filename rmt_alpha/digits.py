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
import json
import warnings

import numpy as np

from ._blas import one_blas_thread
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


def _curves(Xs, ys, Xp, yp, *, n, alphas, trials, gamma, gamma_src, variant_kwargs, rng):
    """Per-draw empirical accuracy curves (trials x alphas), the accuracy at the draw's own
    predicted alpha*, the per-draw predicted curves and alpha*s, and the mean and standard
    deviation of the signed test scores ``y w_alpha^T x`` (trials x alphas)."""
    kw = dict(variant_kwargs)
    match_target_noise = kw.pop("match_target_noise", False)
    src = prepare_source(Xs, ys, **kw)
    w_src = source_weight(src.Z, src.y, gamma_src)
    k = len(alphas)
    emp = np.empty((trials, k))
    pred = np.empty((trials, k))
    smean = np.empty((trials, k))
    ssd = np.empty((trials, k))
    a_draw = np.empty(trials)
    acc_draw = np.empty(trials)
    for t in range(trials):
        tr, te = _draw_indices(rng, yp, n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # clips are recorded, not shown
            est = _estimate(src, Xp[tr], yp[tr], match_target_noise=match_target_noise)
        a_draw[t] = est.optimal_alpha(gamma=gamma, gamma_src=gamma_src)
        pred[t] = est.test_accuracy(alphas, gamma=gamma, gamma_src=gamma_src)
        ft = _fit_target(w_src, est.X_target, est.y_target, np.append(alphas, a_draw[t]),
                         gamma, gamma_src)
        margin = ft.decision_function(est.transform_target(Xp[te])) * yp[te]
        acc = np.mean((margin > 0) + 0.5 * (margin == 0), axis=-1)  # as FineTuned.accuracy
        emp[t], acc_draw[t] = acc[:-1], acc[-1]
        smean[t], ssd[t] = margin[:-1].mean(axis=1), margin[:-1].std(axis=1)
    return dict(emp=emp, pred=pred, a_draw=a_draw, acc_draw=acc_draw, src=src,
                score_mean=smean, score_sd=ssd)


def _mean_se(x, axis=0):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=axis), x.std(axis=axis, ddof=1) / np.sqrt(x.shape[axis])


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


def run_pair(source, target, *, n, trials, alphas=DEFAULT_ALPHAS, gamma=1.0, gamma_src=1.0,
             variant="standardized", twin=True, seed=0, data=None):
    """One (source pair, target pair, n, preprocessing variant): the summary numbers and the
    curves. ``variant`` is a name in :data:`VARIANTS` or a dict of ``estimate_task`` keywords.
    Returns ``dict(row=..., curves=...)``: CSV-friendly scalars and numpy arrays."""
    from ._theory import score_moments

    X, digit = load_digits_data() if data is None else data
    alphas = np.asarray(alphas, dtype=np.float64)
    kw = dict(VARIANTS[variant]) if isinstance(variant, str) else dict(variant)
    vname = variant if isinstance(variant, str) else "custom"
    rng = np.random.default_rng(seed)
    Xs, ys, Xp, yp = split_pair_data(X, digit, source, target, rng)
    c = _curves(Xs, ys, Xp, yp, n=n, alphas=alphas, trials=trials, gamma=gamma,
                gamma_src=gamma_src, variant_kwargs=kw, rng=rng)
    emp, pred, a_draw, acc_draw = c["emp"], c["pred"], c["a_draw"], c["acc_draw"]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        pool = _estimate(c["src"], Xp, yp, match_target_noise=kw.get("match_target_noise", False))
    theory = dict(gamma=gamma, gamma_src=gamma_src, n=n)
    th = np.asarray(pool.test_accuracy(alphas, **theory))
    a_star = float(pool.optimal_alpha(**theory))
    a_star_se = pool.optimal_alpha_se(**theory)
    m_th, e2_th = score_moments(alphas, n, pool.p, N=pool.N, mu=pool.mu, mu_orth=pool.mu_orth,
                                beta=pool.beta, gamma=gamma, gamma_src=gamma_src)
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
        acc_alpha_star=float(acc_draw.mean()),
        acc_alpha_star_se=float(acc_draw.std(ddof=1) / np.sqrt(trials)),
        acc_best=float(mean[i_best]), acc_best_se=float(se[i_best]),
        gain_vs_alpha1=float(d1.mean()), gain_vs_alpha1_se=float(d1.std(ddof=1) / np.sqrt(trials)),
        gain_vs_alpha0=float(d0.mean()), gain_vs_alpha0_se=float(d0.std(ddof=1) / np.sqrt(trials)),
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

    if twin:
        trng = np.random.default_rng(seed + 2)
        Xs2, ys2, Xp2, yp2 = gaussian_twin(
            dict(pool.params, n=n), n_test=yp.size - n, N_pos=int(np.sum(ys > 0)), rng=trng)
        c2 = _curves(Xs2, ys2, Xp2, yp2, n=n, alphas=alphas, trials=trials, gamma=gamma,
                     gamma_src=gamma_src, variant_kwargs=kw, rng=trng)
        m2, se2 = _mean_se(c2["emp"])
        row.update(twin_theory_gap_mean=float(np.mean(np.abs(th - m2))),
                   twin_best_alpha=float(alphas[int(np.argmax(m2))]),
                   twin_acc_alpha1=float(m2[i1]))
        curves.update(twin_mean=m2, twin_se=se2)
    row["warnings"] = "; ".join(str(w.message) for w in caught)
    return dict(row=row, curves=curves)


def run_experiment(pairs=DEFAULT_PAIRS, ns=(20, 50), *, trials=200, alphas=DEFAULT_ALPHAS,
                   gamma=1.0, gamma_src=1.0,
                   variants=("standardized", "whitened", "whitened+matched"),
                   twin_variants=("standardized",), seed=0):
    """Every (pair, n, variant). Returns a list of :func:`run_pair` results; seeds are fixed
    (``seed + 1000 * pair index + n``; the same seed across variants, so they see the same
    draws)."""
    data = load_digits_data()
    out = []
    with one_blas_thread():
        for k, (s, t) in enumerate(pairs):
            for n in ns:
                for var in variants:
                    out.append(run_pair(s, t, n=n, trials=trials, alphas=alphas, gamma=gamma,
                                        gamma_src=gamma_src, variant=var,
                                        twin=var in twin_variants, seed=seed + 1000 * k + n,
                                        data=data))
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
    ("predicted α*", "alpha_star", "{:.2f}"),
    ("empirical best α", "best_alpha", "{:.1f} ± {:.1f}", "best_alpha_se"),
    ("acc. α = 0", "acc_alpha0", "{:.3f}"),
    ("acc. α = 1", "acc_alpha1", "{:.3f}"),
    ("acc. α̂*", "acc_alpha_star", "{:.3f}"),
    ("acc. best α", "acc_best", "{:.3f}"),
    ("theory acc. α = 1", "pred_acc_alpha1", "{:.3f}"),
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
        ax.plot(a, c["theory"], "-", color="C3", label="theory, task from all target images")
        ax.plot(a, c["theory_draw_mean"], "--", color="C1", lw=1,
                label=f"theory, task from the n = {n} points (mean)")
        if "twin_mean" in c:
            ax.plot(a, c["twin_mean"], ":", color="0.35", lw=1.3,
                    label="Gaussian twin: fine_tune on model data")
        ax.axvline(row["alpha_star"], color="C3", lw=0.8)
        ax.axvline(row["best_alpha"], color="C0", lw=0.8, ls="--")
        lo = min(np.nanmin(c["emp_mean"]), np.nanmin(c["theory"]))
        ax.set_ylim(max(lo - 0.02, 0.0), 1.005)
        ax.set_title(f"{row['source']} → {row['target']}:  "
                     rf"$\hat\beta$ = {row['beta']:.2f}" "\n"
                     rf"$\alpha^*$ = {row['alpha_star']:.2f},  "
                     rf"best $\alpha$ = {row['best_alpha']:.1f}",
                     fontsize=8.5)
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
                        color=f"C{k + 4}", lw=0.8, label=var)
        lim = [-2.1, 6.1]
        ax.plot(lim, lim, color="0.5", lw=0.8)
        ax.set_xlim(-0.6, 1.4)
        ax.set_ylim(*lim)
        ax.set_xlabel(r"predicted $\alpha^*$", fontsize=8)
        ax.set_ylabel(r"empirical best $\alpha$ (± s.e.)", fontsize=8)
        ax.set_title(f"all pairs, n = {n}", fontsize=8.5)
        ax.legend(fontsize=6.5, loc="lower right")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.045, 1, 1))
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
