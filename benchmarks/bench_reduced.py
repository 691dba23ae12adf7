"""Speed of the exact reduced sampler (THEORY §6) and a run no direct simulation reaches.

Task (THEORY §7's reference point, scaled): ridge source, N = 4p, n = p/4, mu = 1.5,
mu_orth = 1, beta = 0.8, gamma = gamma_src = 1.

1. Time per trial of ``rmt_alpha._reduced.trial_stats_batch`` (``jit`` over chunks of
   keys, one CPU device) for p in ``--ps`` (default 400, 4000, 100 000): the first call's
   wall time (compilation included) and the steady-state wall and CPU time per trial.
   (``benchmarks/bench_scale.py cpu`` times ``simulate`` on all cores against numpy.)
2. The big run: p = ``--p-big`` (10^5: N = 4 10^5 source points, n = 25 000 target points)
   with ``--trials`` (10^4) trials in chunks of ``--chunk-big`` (100). It reports the
   wall time and, at a few alpha, the Monte Carlo accuracy E[Phi(w_a.mu_beta/||w_a||)]
   (mean +- standard error over trials) against ``rmt_alpha.test_accuracy``, the five
   moments m0, m1, T1, T2, T3 against THEORY §3-§4, and alpha* from the moments.
   A direct trial at this size would build a 10^5 x 4 10^5 source matrix (320 GB in
   float64) and cost about 8 10^15 flops (``rmt_alpha._direct.flops_per_trial``).

Run:  python benchmarks/bench_reduced.py [--trials 10000] [--ps 400,4000,100000]
          [--p-big 100000] [--chunk-big 100] [--float32]
Writes benchmarks/results/reduced_speed.csv and reduced_accuracy_p<p-big>.csv (the
machine, its load average and the software versions in '#' comment lines). The machine
may be shared with other jobs: timings are as measured and can vary by 2x or more.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import rmt_alpha as ra  # noqa: F401  (sets the XLA:CPU flag before JAX starts)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _machine import describe  # noqa: E402
from scipy.special import ndtr  # noqa: E402

from rmt_alpha import blocks  # noqa: E402
from rmt_alpha._reduced import trial_stats_batch  # noqa: E402
from rmt_alpha._simspec import SimSpec  # noqa: E402

HERE = Path(__file__).resolve().parent
TASK = dict(mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)


def spec_for(p):
    return SimSpec(n=p // 4, p=p, source="ridge", N=4 * p, **TASK)


def machine_lines():
    info = describe(jax=jax.__version__, backend=jax.default_backend(),
                    XLA_FLAGS=os.environ.get("XLA_FLAGS", ""))
    return [f"{k}: {v}" for k, v in info.items()]


def program(spec, dtype):
    return jax.jit(lambda keys: trial_stats_batch(keys, spec, dtype))


def run_chunks(f, key, trials, chunk, progress=False):
    """All per-trial statistics, float64 array (trials, 5), and (wall, cpu) seconds."""
    out = []
    t0, c0 = time.perf_counter(), time.process_time()
    for i, start in enumerate(range(0, trials, chunk)):
        keys = jax.random.split(jax.random.fold_in(key, i), min(chunk, trials - start))
        out.append(np.asarray(f(keys), dtype=np.float64))
        if progress and (i + 1) % max(1, (trials // chunk) // 20) == 0:
            el = time.perf_counter() - t0
            print(f"  {start + len(keys)}/{trials} trials, {el:.0f} s", flush=True)
    return np.concatenate(out), time.perf_counter() - t0, time.process_time() - c0


def speed_row(p, dtype, trials, chunk):
    spec = spec_for(p)
    f = program(spec, dtype)
    key = jax.random.key(p)
    t0 = time.perf_counter()
    jax.block_until_ready(f(jax.random.split(key, chunk)))
    first = time.perf_counter() - t0
    stats, wall, cpu = run_chunks(f, jax.random.fold_in(key, 1), trials, chunk)
    assert np.all(np.isfinite(stats))
    return dict(
        p=p, n=spec.n, N=spec.N, dtype=jnp.dtype(dtype).name, trials=trials, chunk=chunk,
        first_call_s=round(first, 3), wall_s=round(wall, 3),
        wall_ms_per_trial=round(1e3 * wall / trials, 4),
        cpu_ms_per_trial=round(1e3 * cpu / trials, 4),
        us_per_trial_per_p=round(1e6 * wall / trials / p, 4),
    )


def theory_moments(spec):
    st = blocks.source_stats(spec.p, N=spec.N, mu=spec.mu, gamma_src=spec.gamma_src)
    M = spec.beta**2 * spec.mu**2 + (1 - spec.beta**2) * spec.mu_orth**2
    fm = blocks.fixed_source_moments(spec.p / spec.n, gamma=spec.gamma, target_norm2=M,
                                     alignment=spec.beta * st.mean, source_norm2=st.norm2)
    return np.array([fm.m0, fm.m1, fm.T1, fm.T2, fm.T3], dtype=np.float64)


def alpha_star(m0, m1, T1, T2, T3):
    v0, v1, v2 = T1 - m0 * m0, T2 - 2 * m0 * m1, T3 - m1 * m1
    return (2 * m1 * v0 - m0 * v1) / (2 * m0 * v2 - m1 * v1)


def big_run(p, trials, chunk, dtype):
    spec = spec_for(p)
    f = program(spec, dtype)
    key = jax.random.key(2024)
    print(f"big run: p={p}, N={spec.N}, n={spec.n}, {trials} trials in chunks of {chunk}",
          flush=True)
    t0 = time.perf_counter()
    jax.block_until_ready(f(jax.random.split(jax.random.fold_in(key, 10**6), chunk)))
    first = time.perf_counter() - t0
    stats, wall, cpu = run_chunks(f, key, trials, chunk, progress=True)
    total = time.perf_counter() - t0
    assert np.all(np.isfinite(stats)), "non-finite trial"
    a, b, c, d, e = stats.T

    rows = []
    theory = theory_moments(spec)
    q = np.stack([a, b, a * a + c, 2 * a * b + 2 * d, b * b + e], axis=1)
    mc, se = q.mean(0), q.std(0, ddof=1) / np.sqrt(trials)
    for name, m, s, t in zip(("m0", "m1", "T1", "T2", "T3"), mc, se, theory):
        rows.append(dict(quantity=name, alpha="", monte_carlo=m, stderr=s, theory=t,
                         z=(m - t) / s, p_times_gap=p * (m - t)))
    # alpha* from the Monte Carlo moments, standard error by the delta method
    grad = np.zeros(5)
    base = alpha_star(*mc)
    for i in range(5):
        h = 1e-6 * max(1.0, abs(mc[i]))
        x = mc.copy()
        x[i] += h
        grad[i] = (alpha_star(*x) - base) / h
    cov = np.cov(q, rowvar=False) / trials
    a_se = float(np.sqrt(grad @ cov @ grad))
    a_th = float(ra.optimal_alpha(spec.n, p, N=spec.N, **TASK))
    rows.append(dict(quantity="alpha_star", alpha="", monte_carlo=base, stderr=a_se,
                     theory=a_th, z=(base - a_th) / a_se, p_times_gap=p * (base - a_th)))
    alphas = [-2.0, 0.0, 0.5, 1.0, round(a_th, 4), 3.0, 10.0]
    for al in alphas:
        acc = ndtr((a + al * b) / np.sqrt(c + al * (2 * d + al * e)))
        m, s = acc.mean(), acc.std(ddof=1) / np.sqrt(trials)
        t = float(ra.test_accuracy(al, spec.n, p, N=spec.N, **TASK))
        rows.append(dict(quantity="accuracy", alpha=al, monte_carlo=m, stderr=s, theory=t,
                         z=(m - t) / s, p_times_gap=p * (m - t)))
    speed = dict(p=p, n=spec.n, N=spec.N, dtype=jnp.dtype(dtype).name, trials=trials,
                 chunk=chunk, first_call_s=round(first, 3), wall_s=round(wall, 3),
                 wall_ms_per_trial=round(1e3 * wall / trials, 4),
                 cpu_ms_per_trial=round(1e3 * cpu / trials, 4),
                 us_per_trial_per_p=round(1e6 * wall / trials / p, 4))
    print(f"big run done: {total:.1f} s wall in total ({wall:.1f} s for the trials, "
          f"{first:.1f} s first call)", flush=True)
    return rows, speed, total


def write_csv(path, comments, rows):
    with open(path, "w", newline="") as fh:
        for line in comments:
            fh.write(f"# {line}\n")
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in r.items()})
    print(f"wrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ps", default="400,4000,100000")
    ap.add_argument("--speed-trials", type=int, default=2000,
                    help="trials per timing for p < 10^5 (p >= 10^5: 500)")
    ap.add_argument("--p-big", type=int, default=100_000)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--chunk-big", type=int, default=100)
    ap.add_argument("--float32", action="store_true", help="also time float32")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    comments = machine_lines()
    for line in comments:
        print(line)

    dtypes = [jnp.float64] + ([jnp.float32] if args.float32 else [])
    speed = []
    for p in (int(x) for x in args.ps.split(",") if x):
        for dt in dtypes:
            trials, chunk = (args.speed_trials, 1000) if p < 100_000 else (500, 100)
            if p == args.p_big and dt == jnp.float64:
                continue  # timed by the big run below
            row = speed_row(p, dt, trials, chunk)
            print(row, flush=True)
            speed.append(row)

    rows, big_speed, total = big_run(args.p_big, args.trials, args.chunk_big, jnp.float64)
    speed.append(big_speed)
    print(big_speed)
    for r in rows:
        print({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})

    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    end = [f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"]
    task = (f"task: ridge source, N = 4p, n = p/4, {TASK}; first_call_s includes the JIT "
            "compilation; wall/cpu per trial are steady state (cpu = process time, all threads)")
    write_csv(out / "reduced_speed.csv", comments + end + [task], speed)
    direct = ""
    try:
        from rmt_alpha._direct import flops_per_trial

        direct = (f"a direct trial at this size: {flops_per_trial(spec_for(args.p_big)):.3g} "
                  f"flops and a {args.p_big} x {4 * args.p_big} source matrix")
    except ImportError:
        pass
    write_csv(
        out / f"reduced_accuracy_p{args.p_big}.csv",
        comments + end + [
            task,
            f"big run: p = {args.p_big}, {args.trials} trials, {total:.1f} s wall in total "
            f"(compilation included); {direct}",
            "accuracy: Monte Carlo mean over trials of Phi(w_a.mu_beta/||w_a||) +- standard "
            "error vs rmt_alpha.test_accuracy; m0..T3: THEORY §3-§4; p_times_gap = p (MC - "
            "theory), the finite-size gap is O(1/p) (THEORY §6)",
        ],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
