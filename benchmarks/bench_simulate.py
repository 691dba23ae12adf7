"""Speed of ``rmt_alpha.simulate`` against the straightforward Monte Carlo, in one process.

Setting (THEORY §7's reference point): N = 2000, n = 100, p = 400, beta = 0.8, mu = 1.5,
mu_orth = 1, gamma = gamma_src = 1.

Naive baseline, written plainly in numpy: for every (alpha, trial) point draw fresh source
and target data, solve the two p x p ridge systems with ``np.linalg.solve`` and count the
accuracy on 20 n = 2000 freshly sampled target test points. Timed on ``--naive-points``
points; OpenBLAS is tried both with its default threads and with one thread, and the faster
is kept (on a small shared machine one thread is often faster).

Engine: ``simulate`` on 101 alphas x 1000 trials (method="direct": builds the data, solves
in the smaller dimension, one solve per alpha curve, exact conditional accuracy; and
method="reduced" when ``rmt_alpha._reduced`` is present). The first call includes the JIT
compilation ("cold"); a second identical call ("warm") does not. The ratio is
naive time per point / (simulate time / (101 x 1000)).

Run:  python benchmarks/bench_simulate.py [--trials 1000] [--naive-points 8]
Writes benchmarks/results/simulate_speed.csv (machine described in '#' comment lines).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import rmt_alpha as ra  # noqa: F401  (sets the XLA:CPU flag before JAX starts)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
from _machine import describe  # noqa: E402

HERE = Path(__file__).resolve().parent
TASK = dict(N=2000, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
N_SMALL, P = 100, 400


def naive_point(alpha, rng, N=2000, n=100, p=400, mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0,
                gamma_src=1.0, test_factor=20):
    """One (alpha, trial) point the plain way: fresh data, p x p solves, a sampled test set."""
    mu_v = np.zeros(p)
    mu_v[0] = mu
    mu_b = np.zeros(p)
    mu_b[0], mu_b[1] = beta * mu, np.sqrt(1 - beta**2) * mu_orth
    ys = rng.choice([-1.0, 1.0], size=N)
    Xs = ys[:, None] * mu_v + rng.standard_normal((N, p))
    w_src = np.linalg.solve(Xs.T @ Xs / N + gamma_src * np.eye(p), Xs.T @ ys / N)
    y = rng.choice([-1.0, 1.0], size=n)
    X = y[:, None] * mu_b + rng.standard_normal((n, p))
    w = np.linalg.solve(X.T @ X / n + gamma * np.eye(p), X.T @ y / n + alpha * gamma * w_src)
    yt = rng.choice([-1.0, 1.0], size=test_factor * n)
    Xt = yt[:, None] * mu_b + rng.standard_normal((test_factor * n, p))
    return np.mean(np.sign(Xt @ w) == yt)


def time_naive(points, seed):
    from threadpoolctl import threadpool_limits

    out = {}
    alphas = np.linspace(-2, 6, points)
    for label, limit in (("default threads", None), ("1 thread", 1)):
        rng = np.random.default_rng(seed)
        with threadpool_limits(limits=limit, user_api="blas"):
            naive_point(1.0, rng)  # warm-up
            t0 = time.perf_counter()
            accs = [naive_point(a, rng) for a in alphas]
            out[label] = ((time.perf_counter() - t0) / points, accs)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--alphas", type=int, default=101)
    ap.add_argument("--naive-points", type=int, default=8)
    ap.add_argument("--methods", default="direct,reduced")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "simulate_speed.csv")
    args = ap.parse_args(argv)
    info = describe(jax=jax.__version__, backend=jax.default_backend(),
                    devices=len(jax.devices()))
    print(f"machine: {info['cpu']}, {info['cores']} cores, jax {info['jax']} "
          f"({info['backend']}), load {info['load_average_1min_at_start']}", flush=True)

    naive = time_naive(args.naive_points, args.seed)
    best_label = min(naive, key=lambda k: naive[k][0])
    per_naive = naive[best_label][0]
    for label, (t, _) in naive.items():
        print(f"naive numpy ({label}): {t:.4f} s per (alpha, trial) point", flush=True)

    alpha = np.linspace(-2, 6, args.alphas)
    theory = ra.test_accuracy(alpha, N_SMALL, P, **TASK)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rows = [("naive numpy, " + label, args.naive_points, t * args.naive_points, t, "", "", "")
            for label, (t, _) in naive.items()]
    results = {}
    for method in methods:
        if method == "reduced":
            try:
                import rmt_alpha._reduced  # noqa: F401
            except ImportError:
                print("method='reduced' not available: skipped")
                continue
        times = []
        for rep in range(2):  # cold (compiles), then warm
            t0 = time.perf_counter()
            res = ra.simulate(alpha, N_SMALL, P, **TASK, trials=args.trials, seed=args.seed + rep,
                              method=method)
            times.append(time.perf_counter() - t0)
        points = args.alphas * args.trials
        z = np.max(np.abs((res.accuracy - theory) / res.accuracy_stderr))
        results[method] = (times, res)
        for label, t in zip(("cold", "warm"), times):
            ratio = per_naive / (t / points)
            rows.append((f"simulate method={method} ({label})", points, t, t / points,
                         f"{ratio:.1f}", f"{z:.2f}", f"{res.optimal_alpha:.5f}"))
            print(f"simulate method={method} ({label}): {t:.2f} s for {args.alphas} alphas x "
                  f"{args.trials} trials = {t / points * 1e6:.2f} us per point; "
                  f"ratio vs naive {ratio:,.0f}x", flush=True)
        print(f"  max |z| vs theory over the alpha grid: {z:.2f}; alpha* MC "
              f"{res.optimal_alpha:.4f} +- {res.optimal_alpha_stderr:.4f}, theory "
              f"{float(ra.optimal_alpha(N_SMALL, P, **TASK)):.4f}", flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as fh:
        for k, v in info.items():
            fh.write(f"# {k}: {v}\n")
        fh.write(f"# setting: N=2000 n=100 p=400 beta=0.8 mu=1.5 mu_orth=1 gamma=gamma_src=1; "
                 f"{args.alphas} alphas in [-2, 6] x {args.trials} trials; float64\n")
        fh.write(f"# naive per point (best of BLAS settings, {best_label}): {per_naive:.6g} s\n")
        fh.write("# ratio = naive seconds per point / simulate seconds per point (same process)\n")
        w = csv.writer(fh)
        w.writerow(["what", "points", "seconds", "seconds_per_point", "ratio_vs_naive",
                    "max_abs_z_vs_theory", "optimal_alpha"])
        for r in rows:
            w.writerow([r[0], r[1], f"{r[2]:.6g}", f"{r[3]:.6g}", *r[4:]])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
