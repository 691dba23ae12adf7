"""Speed of the closed-form theory on a 10^6-point grid against the naive scalar approach.

Vectorised: ``rmt_alpha.test_accuracy`` and ``rmt_alpha.optimal_alpha``, each on a grid of
10^6 parameter points built by broadcasting (six axes of 10 values).

Naive baseline (as published code does it): a Python loop over the points calling a scalar
function that computes the same deterministic equivalents with ``math`` (THEORY §2-§4,
written out here independently) and obtains the accuracy by integrating the Gaussian
density of the score, ``int_0^inf N(x; m, E2 - m^2) dx``, with ``scipy.integrate.quad``;
alpha* by the §3 formula. Timed on a random subsample of the grid, checked against the
vectorised values, and compared per point.

Run:  python benchmarks/bench_theory.py [--subsample 2000] [--repeat 5]
(vectorised: best of --repeat runs; naive loop: best of min(--repeat, 3) runs)
Writes benchmarks/results/theory_speed.csv (machine description in '#' comment lines).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np
import scipy
from scipy.integrate import quad

from _machine import describe
from _timing import best_of

import rmt_alpha as ra

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------
# the grid: 6 axes x 10 values = 10^6 points (broadcast, never materialised as inputs)
# ---------------------------------------------------------------------------------------

AXES = {
    "n": np.array([20, 40, 60, 100, 150, 200, 300, 500, 800, 1000]),
    "p": np.array([10, 50, 100, 200, 400, 600, 1000, 1500, 2000, 4000]),
    "beta": np.linspace(-0.95, 0.95, 10),
    "gamma": np.logspace(-4, 3, 10),
    "gamma_src": np.logspace(-4, 1, 10),
}
ALPHA = np.linspace(-10, 10, 10)   # 6th axis for test_accuracy
MU = np.linspace(0.5, 3.0, 10)     # 6th axis for optimal_alpha
FIXED = dict(N=2000, mu_orth=1.0)
MU_ACC = 1.5                        # mu for the accuracy grid


def _shaped(values, axis, ndim=6):
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


def accuracy_grid():
    """Arguments of test_accuracy over alpha x n x p x beta x gamma x gamma_src."""
    args = {"alpha": _shaped(ALPHA, 0)}
    for i, (k, v) in enumerate(AXES.items(), start=1):
        args[k] = _shaped(v, i)
    return dict(args, mu=MU_ACC, **FIXED)


def optimal_grid():
    """Arguments of optimal_alpha over mu x n x p x beta x gamma x gamma_src."""
    args = {"mu": _shaped(MU, 0)}
    for i, (k, v) in enumerate(AXES.items(), start=1):
        args[k] = _shaped(v, i)
    return dict(args, **FIXED)


def run_accuracy(a):
    return ra.test_accuracy(a["alpha"], a["n"], a["p"], N=a["N"], mu=a["mu"], mu_orth=a["mu_orth"],
                            beta=a["beta"], gamma=a["gamma"], gamma_src=a["gamma_src"])


def run_optimal(a):
    return ra.optimal_alpha(a["n"], a["p"], N=a["N"], mu=a["mu"], mu_orth=a["mu_orth"],
                            beta=a["beta"], gamma=a["gamma"], gamma_src=a["gamma_src"])


# ---------------------------------------------------------------------------------------
# naive scalar baseline, written from THEORY.md with the math module
# ---------------------------------------------------------------------------------------


def _kappa(eta, gamma):
    # delta: positive root of gamma d^2 - (eta - gamma - 1) d - eta = 0
    b = eta - gamma - 1.0
    D = math.sqrt(b * b + 4.0 * eta * gamma)
    delta = (b + D) / (2.0 * gamma) if b >= 0 else 2.0 * eta / (D - b)
    return gamma * (1.0 + delta)


def _naive_moments(alpha, n, p, N, mu, mu_orth, beta, gamma, gamma_src):
    """Literal formulas of §2-§4 for one point: (m, E2, eta, kappa, L, M, s, r)."""
    # source (§4)
    eta_s = p / N
    ks = _kappa(eta_s, gamma_src)
    hs = 1.0 - eta_s / (1.0 + ks) ** 2
    Ls = mu * mu + 1.0 + ks
    mt = mu * mu / Ls
    E2t = mu * mu / (hs * Ls) * ((mu * mu + 1.0) / Ls - 2.0 * (1.0 - hs)) + (1.0 - hs) / hs
    s, r = beta * mt, E2t - mt * mt
    # target (§3)
    M = beta * beta * mu * mu + (1.0 - beta * beta) * mu_orth * mu_orth
    eta = p / n
    k = _kappa(eta, gamma)
    h = 1.0 - eta / (1.0 + k) ** 2
    L = M + 1.0 + k
    T1 = M / (h * L) * ((M + 1.0) / L - 2.0 * (1.0 - h)) + (1.0 - h) / h
    T2 = 2.0 * k * s * ((M + 1.0) / L - (1.0 - h)) / (h * L)
    T3 = k * k / h * (s * s / L**2 + (1.0 - h) * r / eta
                      + (1.0 - h) * s * s * (M / L - 2.0) / (eta * L))
    m = (M + alpha * k * s) / L
    return m, T1 + alpha * T2 + alpha * alpha * T3, eta, k, L, M, s, r


def naive_accuracy(alpha, n, p, N, mu, mu_orth, beta, gamma, gamma_src):
    """P(score > 0), score ~ N(m, E2 - m^2), by numerical integration of the density."""
    m, E2 = _naive_moments(alpha, n, p, N, mu, mu_orth, beta, gamma, gamma_src)[:2]
    sd = math.sqrt(E2 - m * m)
    c = 1.0 / (sd * math.sqrt(2.0 * math.pi))
    acc, _ = quad(lambda x: c * math.exp(-0.5 * ((x - m) / sd) ** 2), 0.0, math.inf,
                  epsabs=1e-13, epsrel=1e-11)
    return acc


def naive_alpha_star(n, p, N, mu, mu_orth, beta, gamma, gamma_src):
    """alpha* of §3 (closed form; cheap next to the quad accuracy)."""
    _, _, eta, k, L, M, s, r = _naive_moments(0.0, n, p, N, mu, mu_orth, beta, gamma, gamma_src)
    return -eta * (1.0 + k) * s / (k * ((L - eta) * s * s - L * M * r)) if s != 0 else 0.0


# ---------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subsample", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "theory_speed.csv")
    args = ap.parse_args(argv)

    acc_args, opt_args = accuracy_grid(), optimal_grid()
    run_accuracy(acc_args), run_optimal(opt_args)  # warm-up (imports, allocator)
    t_acc, t_acc_med, acc = best_of(lambda: run_accuracy(acc_args), args.repeat)
    t_opt, t_opt_med, a_star = best_of(lambda: run_optimal(opt_args), args.repeat)
    assert acc.size == 10**6 and a_star.size == 10**6 and acc.dtype == np.float64
    assert np.all(np.isfinite(acc)) and np.all(np.isfinite(a_star))
    npts = acc.size

    # naive loop on a random subsample of the points of both grids
    rng = np.random.default_rng(args.seed)
    idx = rng.integers(0, 10, size=(args.subsample, 6))
    names = ["n", "p", "beta", "gamma", "gamma_src"]
    pts = []
    for row in idx:
        kw = {k: float(AXES[k][row[i + 1]]) for i, k in enumerate(names)}
        pts.append((float(ALPHA[row[0]]), float(MU[row[0]]), kw))
    naive_repeat = max(1, min(args.repeat, 3))
    t_naive_acc, t_naive_acc_med, naive = best_of(
        lambda: [naive_accuracy(alpha, kw["n"], kw["p"], FIXED["N"], MU_ACC, FIXED["mu_orth"],
                                kw["beta"], kw["gamma"], kw["gamma_src"]) for alpha, _, kw in pts],
        naive_repeat)
    t_naive_opt, t_naive_opt_med, naive_opt = best_of(
        lambda: [naive_alpha_star(kw["n"], kw["p"], FIXED["N"], mu, FIXED["mu_orth"], kw["beta"],
                                  kw["gamma"], kw["gamma_src"]) for _, mu, kw in pts],
        naive_repeat)
    # the two approaches agree
    sel = tuple(idx.T)
    err_acc = np.max(np.abs(np.array(naive) - acc[sel]))
    err_opt = np.max(np.abs(np.array(naive_opt) - a_star[sel]) / (1 + np.abs(a_star[sel])))

    # per point, both quantities (accuracy at one alpha and alpha*)
    per_vec = (t_acc + t_opt) / npts
    per_naive = (t_naive_acc + t_naive_opt) / args.subsample
    per_vec_acc, per_naive_acc = t_acc / npts, t_naive_acc / args.subsample
    rows = [
        ("vectorised test_accuracy", npts, t_acc, t_acc_med),
        ("vectorised optimal_alpha", npts, t_opt, t_opt_med),
        ("naive quad accuracy (loop)", args.subsample, t_naive_acc, t_naive_acc_med),
        ("naive closed-form alpha* (loop)", args.subsample, t_naive_opt, t_naive_opt_med),
    ]
    info = describe(scipy=scipy.__version__)
    print(f"machine: {info['cpu']}, {info['cores']} cores, numpy {info['numpy']}, "
          f"scipy {info['scipy']}, python {info['python']}")
    for what, n, best, med in rows:
        print(f"{what:38s} {n:>8d} points  best {best:9.4f} s  median {med:9.4f} s  "
              f"{best / n * 1e9:10.1f} ns/point")
    print(f"grid (test_accuracy + optimal_alpha, 10^6 points each): {t_acc + t_opt:.3f} s")
    print(f"per-point ratio naive/vectorised: accuracy {per_naive_acc / per_vec_acc:,.0f}x, "
          f"accuracy + alpha* {per_naive / per_vec:,.0f}x")
    print(f"max |naive - vectorised|: accuracy {err_acc:.2e}, alpha* (relative) {err_opt:.2e}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as fh:
        for k, v in info.items():
            fh.write(f"# {k}: {v}\n")
        fh.write(f"# ratio_accuracy: {per_naive_acc / per_vec_acc:.1f}\n")
        fh.write(f"# ratio_accuracy_and_alpha_star: {per_naive / per_vec:.1f}\n")
        fh.write(f"# max_abs_diff_accuracy: {err_acc:.3e}\n")
        w = csv.writer(fh)
        w.writerow(["what", "points", "best_s", "median_s", "per_point_s"])
        for what, n, best, med in rows:
            w.writerow([what, n, f"{best:.6g}", f"{med:.6g}", f"{best / n:.6g}"])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
