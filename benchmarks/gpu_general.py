"""Monte Carlo with general covariances on a GPU: throughput of the general direct sampler.

``simulate`` with the general ridge-source keyword set (THEORY §10,
:mod:`rmt_alpha._general_direct`) in float64 at p = 4096 (``--p``), ridge source N = 4p
(the exact Wishart/Bartlett route: O(p^3) per trial), target n = p/4 (the data route,
push-through in dimension n), 101 alphas, dense covariances:

* ``shared dense``: Cs = R diag(lambda) R^T (power law lambda_k ~ (k/p + 0.1)^-1, mean 1,
  R Haar), Ct = (Cs + R' Cs R'^T)/2 (not commuting with Cs);
* ``class-dependent dense``: Cs = (the Cs above, I + 5 v v^T), Ct = (the Ct above,
  (I + diag(lambda))/2).

Reports trials per second and the achieved FLOP/s, with the FLOPs of the algorithm counted
analytically by ``rmt_alpha._general_direct.flops_per_trial`` (Wishart route per class:
F L and (F L)(F L)^T, 4 p^3; Cholesky p^3/3; data route: the noise images 2 m p^2 per class
and the ridge solve; random numbers not counted), against the H200's FP64 tensor-core peak
(67 TFLOP/s; plain FP64 vector 34 TFLOP/s), and the largest |z| of the accuracy against the
general theory (THEORY §9). A first call with the same chunk shape compiles (its time is
reported); the rate is the marginal one between a one-chunk call and the full call, so the
host's per-call setup (validating and factorising the covariances: an O(p^3) numpy eigh per
dense covariance) is reported apart (``setup_s_per_call``).

Run:   python benchmarks/gpu_general.py --out DIR          (GPU; about 6 minutes, most of
       it the class-dependent theory at p = 4096: dense O(p^3) numpy on one BLAS thread)
Smoke: python benchmarks/gpu_general.py --quick --out /tmp/x  (CPU, p = 64)
Writes DIR/gpu_general.csv, machine and settings in '#' comment lines.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEAK_FP64_TENSOR = 67e12
PEAK_FP64_VECTOR = 34e12


def tasks(p):
    """``{name: task keywords}`` of the two dense settings (module docstring)."""
    import numpy as np

    rng = np.random.default_rng(4096)

    def haar():
        Q, R = np.linalg.qr(rng.standard_normal((p, p)))
        return Q * np.sign(np.diag(R))

    lam = 1.0 / (np.arange(1, p + 1) / p + 0.1)
    lam /= lam.mean()
    R1, R2 = haar(), haar()
    Cs = (R1 * lam) @ R1.T
    Ct = 0.5 * (Cs + R2 @ Cs @ R2.T)
    e = np.linalg.qr(rng.standard_normal((p, 3)))[0].T
    spike = 0.6 * e[0] + 0.8 * e[2]
    common = dict(N=4 * p, source_mean=1.5 * e[0], target_mean=1.5 * (0.8 * e[0] + 0.6 * e[1]),
                  gamma=1.0, gamma_src=1.0)
    return {
        "shared dense": dict(common, source_cov=Cs, target_cov=Ct),
        "class-dependent dense": dict(common, source_cov=(Cs, np.eye(p) + 5 * np.outer(spike, spike)),
                                      target_cov=(Ct, 0.5 * (1.0 + lam))),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", HERE / "results")))
    ap.add_argument("--p", type=int, default=4096)
    ap.add_argument("--trials", type=int, default=800)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--settings", default="shared dense,class-dependent dense",
                    help="comma-separated subset of the settings")
    ap.add_argument("--quick", action="store_true", help="p = 64, 64 trials (CPU smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.p, args.trials, args.chunk = 64, 64, 16

    import rmt_alpha as ra  # sets the XLA:CPU flag before JAX starts

    import jax
    import numpy as np
    from _machine import describe

    from rmt_alpha._general_direct import flops_per_trial
    from rmt_alpha._simulate import _spec

    jax.config.update("jax_enable_x64", True)
    info = describe(jax=jax.__version__, backend=jax.default_backend(),
                    devices=", ".join(d.device_kind for d in jax.devices()))
    print(info, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    p, n = args.p, args.p // 4
    alpha = np.linspace(-2, 6, 101)
    rows = []
    chosen = args.settings.split(",")
    for name, task in tasks(p).items():
        if name not in chosen:
            continue
        spec, _ = _spec(n, p, task, np.dtype(np.float64))
        flops = flops_per_trial(spec)
        t0 = time.perf_counter()
        ra.simulate(alpha, n, p, **task, trials=args.chunk, chunk_size=args.chunk, seed=1)
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        ra.simulate(alpha, n, p, **task, trials=args.chunk, chunk_size=args.chunk, seed=3)
        t_small = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = ra.simulate(alpha, n, p, **task, trials=args.trials, chunk_size=args.chunk, seed=2)
        dt = time.perf_counter() - t0
        # Each call validates and factorises the covariances on the host first (an O(p^3)
        # numpy eigh per dense covariance, seconds at p = 4096): the sampler's rate is the
        # marginal one between a one-chunk call and the full call; setup is the rest.
        rate = (args.trials - args.chunk) / (dt - t_small)
        setup = t_small - args.chunk / rate
        t0 = time.perf_counter()
        acc = ra.test_accuracy(alpha, n, p, **task)
        t_theory = time.perf_counter() - t0
        z = float(np.max(np.abs((res.accuracy - acc) / res.accuracy_stderr)))
        fps = flops * rate
        rows.append([name, p, n, 4 * p, args.trials, args.chunk, f"{t_first:.2f}", f"{dt:.3f}",
                     f"{setup:.2f}", f"{rate:.4g}", f"{flops:.4g}", f"{fps:.4g}",
                     f"{fps / PEAK_FP64_TENSOR:.4f}", f"{fps / PEAK_FP64_VECTOR:.4f}",
                     f"{z:.2f}", f"{t_theory:.2f}"])
        print(f"{name:22s} p={p} n={n} N={4 * p}: {rate:9.2f} trials/s, "
              f"{flops:.3g} flop/trial, {fps / 1e12:6.2f} TFLOP/s "
              f"({100 * fps / PEAK_FP64_TENSOR:4.1f}% of FP64 tensor peak), first call "
              f"{t_first:.1f} s, host setup per call {setup:.1f} s, max|z| accuracy {z:.2f}, theory {t_theory:.1f} s", flush=True)
    path = args.out / ("gpu_general.csv" if len(chosen) == 2 else
                       f"gpu_general_{chosen[0].split()[0]}.csv")
    with open(path, "w", newline="") as fh:
        for k, val in info.items():
            fh.write(f"# {k}: {val}\n")
        fh.write("# float64; 101 alphas in [-2, 6]; ridge source N = 4p (Wishart route), "
                 "n = p/4 (data route); settings: benchmarks/gpu_general.py\n")
        fh.write("# flops_per_trial: rmt_alpha._general_direct.flops_per_trial (RNG not "
                 "counted)\n")
        w = csv.writer(fh)
        w.writerow(["setting", "p", "n", "N", "trials", "chunk_size", "first_call_s", "seconds",
                    "setup_s_per_call", "trials_per_s", "flops_per_trial", "flop_per_s",
                    "fraction_fp64_tensor_peak_67T", "fraction_fp64_vector_peak_34T",
                    "max_abs_z_accuracy", "theory_seconds"])
        w.writerows(rows)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
