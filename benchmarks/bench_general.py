"""Cost of the general-covariance closed forms (THEORY §9.7).

* diagonal covariances (the O(p) path): ``test_accuracy`` on 101 alphas and ``optimal_alpha``
  for the general ridge source at p = 10^3, 10^4, 10^5 (N = 4p, n = p/4), shared and
  class-dependent; baseline in the same process: the isotropic ridge-source call;
* dense covariances at p = 2000: non-commuting source and target covariances (each task in its
  own eigenbasis), one dense covariance for both tasks (a common eigenbasis), and a
  class-dependent pair that does not commute (dense resolvents); the first call of each
  factorises the covariances ("cold"), later calls reuse them ("warm"); baseline: one
  ``numpy.linalg.eigh`` of a p x p matrix with distinct eigenvalues, timed next to each case;
* naive baseline: the definitions of THEORY §9.2-§9.4 evaluated literally with dense matrices
  (fixed-point iteration for delta with a matrix inverse per step, explicit Qbar and X_A), as
  one would write them from the paper (the reference of tests/test_general_theory.py), for a
  class-dependent dense task at p = 400 and for diagonal covariances written as matrices at
  p = 1000; checked against the package.

Everything runs with one BLAS thread (what the package does for dense covariances from
p = 64 on), so that the baselines and the package are timed alike.

Run:  python benchmarks/bench_general.py [--repeat 3] [--quick]
(best of --repeat runs; of at least 20 for the diagonal calls)
Writes benchmarks/results/general_speed.csv (machine description in '#' comment lines;
--quick, a smoke test at small sizes, writes nothing). Timings on a shared machine vary; the
ratios within one run are the meaningful numbers.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import scipy

from _machine import describe
from _timing import best_of

import rmt_alpha as ra
from rmt_alpha._blas import one_blas_thread
from rmt_alpha._covariance import _EIGH_CACHE
from rmt_alpha._general import score_coefficients

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from test_general_theory import _ref_coefficients  # noqa: E402

ALPHA = np.linspace(-5.0, 5.0, 101)


def power_law(p):
    lam = (np.arange(1, p + 1) / p + 0.1) ** -1.0
    return lam / lam.mean()


def means(p, seed=0):
    rng = np.random.default_rng(seed)
    mu_s = 1.5 * rng.standard_normal(p) / np.sqrt(p)
    return mu_s, 0.8 * mu_s + 0.6 * rng.standard_normal(p) / np.sqrt(p)


def ridge_task(p, source_cov, target_cov):
    mu_s, mu_t = means(p)
    return dict(N=4 * p, gamma=1.0, gamma_src=1.0, source_mean=mu_s, target_mean=mu_t,
                source_cov=source_cov, target_cov=target_cov)


def rotation(p, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((p, p)))
    return Q * np.sign(np.diag(R))


def both_calls(p, kw):
    n = p // 4
    return ra.test_accuracy(ALPHA, n, p, **kw), ra.optimal_alpha(n, p, **kw)


def naive_coefficients(n, gamma, mu_t, Ct, N, gamma_src, mu_s, Cs):
    """The dense evaluation of the definitions written for the tests (fixed-point iteration
    with a matrix inverse per step, explicit Qbar and X_A); order of ScoreCoefficients."""
    return _ref_coefficients(n, gamma, mu_t, Ct, N=N, gamma_src=gamma_src, mu_s=mu_s, Cs=Cs)[0]


# ---------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke test)")
    args = ap.parse_args(argv)
    R = args.repeat
    R_diag = max(R, 20)  # cheap calls whose times on a loaded machine vary by 5x
    info = describe(scipy=scipy.__version__, rmt_alpha=ra.__version__, blas_threads=1)
    diag_sizes = (1000, 10_000) if args.quick else (1000, 10_000, 100_000)
    p_dense = 300 if args.quick else 2000
    p_naive = 100 if args.quick else 400
    p_naive_diag = 200 if args.quick else 1000
    rows = []

    def add(what, p, best, med, ratio=None, baseline=""):
        rows.append(dict(what=what, p=p, best_s=f"{best:.6g}", median_s=f"{med:.6g}",
                         ratio="" if ratio is None else f"{ratio:.3g}", baseline=baseline))
        print(f"{what:58s} p={p:<7d} best {best:9.4f} s  median {med:9.4f} s"
              + ("" if ratio is None else f"  x{ratio:.3g} {baseline}"), flush=True)

    # --- diagonal: O(p) ----------------------------------------------------------------
    for p in diag_sizes:
        iso = dict(N=4 * p, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
        b_iso, m_iso, _ = best_of(lambda: both_calls(p, iso), R_diag)
        add("isotropic ridge source: accuracy (101 alpha) + alpha*", p, b_iso, m_iso)
        lam = power_law(p)
        for label, kw in (("shared", ridge_task(p, lam, lam[::-1].copy())),
                          ("class-dependent", ridge_task(p, (lam, 1 + lam),
                                                         (lam[::-1].copy(), 0.5 + lam)))):
            b, m, _ = best_of(lambda kw=kw: both_calls(p, kw), R_diag)
            add(f"general ridge, diagonal {label}: accuracy + alpha*", p, b, m, b / b_iso,
                "vs isotropic")

    # --- dense -------------------------------------------------------------------------
    p = p_dense
    A = rotation(p, 1)
    lam = power_law(p)
    spike = np.eye(p) + 4.0 * np.outer(*(2 * [np.ones(p) / np.sqrt(p)]))
    dense_cases = {
        "dense non-commuting Cs, Ct": ridge_task(p, spike, (A * lam) @ A.T),
        "dense one C for source and target": ridge_task(p, (A * lam) @ A.T, (A * lam) @ A.T),
        "dense class-dependent non-commuting Ct pair": ridge_task(
            p, lam, ((A * lam) @ A.T, 0.5 + lam[::-1])),
    }
    for label, kw in dense_cases.items():
        # the unit, timed next to each case (the machine's load drifts during a run)
        eigh_best, eigh_med, _ = best_of(lambda: np.linalg.eigh((A * lam) @ A.T), R)
        add("numpy.linalg.eigh of one p x p matrix (unit)", p, eigh_best, eigh_med)

        def cold(kw=kw):
            _EIGH_CACHE.clear()
            return both_calls(p, kw)
        b, m, _ = best_of(cold, R)
        add(f"{label}: cold (factorise)", p, b, m, b / eigh_best, "vs one eigh")
        b, m, _ = best_of(lambda kw=kw: both_calls(p, kw), R)
        add(f"{label}: warm (cached)", p, b, m, b / eigh_best, "vs one eigh")

    # --- naive dense definitions --------------------------------------------------------
    p = p_naive
    A = rotation(p, 2)
    lam = power_law(p)
    mu_s, mu_t = means(p)
    spike = np.eye(p) + 4.0 * np.outer(*(2 * [np.ones(p) / np.sqrt(p)]))
    Ct, Cs = ((A * lam) @ A.T, np.diag(0.5 + lam[::-1])), (spike,)
    n, N = p // 4, 4 * p
    b_naive, m_naive, ref = best_of(lambda: naive_coefficients(n, 1.0, mu_t, Ct, N, 1.0, mu_s, Cs),
                                    1)
    add("naive dense definitions, class-dependent Ct (coefficients)", p, b_naive, m_naive)
    kw = dict(N=N, gamma=1.0, gamma_src=1.0, source_mean=mu_s, target_mean=mu_t,
              source_cov=spike, target_cov=Ct)

    def package():
        _EIGH_CACHE.clear()
        return np.concatenate([np.ravel(x) for x in score_coefficients(n, p, **kw)])

    b, m, got = best_of(package, R)
    diff = float(np.max(np.abs(got - ref) / np.abs(ref)))
    add("package, same task, cold (coefficients)", p, b, m, b_naive / b, "naive / package")

    # the same definitions for diagonal covariances written as matrices, against the O(p) path
    p = p_naive_diag
    lam = power_law(p)
    mu_s, mu_t = means(p)
    n, N = p // 4, 4 * p
    b_naive, m_naive, ref = best_of(lambda: naive_coefficients(
        n, 1.0, mu_t, (np.diag(lam[::-1]),), N, 1.0, mu_s, (np.diag(lam),)), 1)
    add("naive dense definitions, diagonal covariances as matrices", p, b_naive, m_naive)
    kw = dict(N=N, gamma=1.0, gamma_src=1.0, source_mean=mu_s, target_mean=mu_t,
              source_cov=lam, target_cov=lam[::-1].copy())
    b, m, got = best_of(lambda: package(), R)
    diff_diag = float(np.max(np.abs(got - ref) / np.abs(ref)))
    add("package, same task, diagonal path (coefficients)", p, b, m, b_naive / b,
        "naive / package")
    print(f"max relative difference package vs naive: {diff:.3g} (dense), "
          f"{diff_diag:.3g} (diagonal)")
    if args.quick:
        return 0
    info["max_rel_diff_package_vs_naive"] = f"{diff:.3g}"
    info["max_rel_diff_package_vs_naive_diagonal"] = f"{diff_diag:.3g}"
    out = HERE / "results" / "general_speed.csv"
    with open(out, "w", newline="") as fh:
        for k, v in info.items():
            fh.write(f"# {k}: {v}\n")
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    with one_blas_thread():
        sys.exit(main())
