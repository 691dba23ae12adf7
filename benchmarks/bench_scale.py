"""Monte Carlo at the limit of the hardware (issue 11): CPU, one GPU, several GPUs.

Task (THEORY §7's reference point, scaled): ridge source, N = 4p, n = p/4, mu = 1.5,
mu_orth = 1, beta = 0.8, gamma = gamma_src = 1, float64, 17 alphas in [-2, 6]; every
number is a call of ``rmt_alpha.simulate`` with its default chunking.

``cpu``  All CPU cores as JAX devices (``jax_num_cpu_devices``). For p in ``--ps``:
         ``simulate(method="reduced")`` against numpy drawing the sampler's chi variates
         (``Generator.chisquare``, one core; 2 (min(p, N) + min(p, n)) per trial; a
         degree of freedom 0 is drawn as 1) for the same trials, in this process,
         alternating, best of ``--repeat``; the ratio sampler / numpy is the criterion (the
         machine may be shared: each row records the load average). Then the big run:
         p = ``--p-big`` with ``--trials-big`` trials, wall time with and without the
         compilation, and the largest |z| of the accuracy against the theory.
``gpu``  Runs ``gpu-run`` once per device count in ``--devices`` (``CUDA_VISIBLE_DEVICES``
         = the first k GPUs): the reduced sampler at ``--gpu-ps`` and the direct one at
         ``--direct-ps`` (trials/s; FLOP/s of the direct algorithm from
         ``rmt_alpha._direct.flops_per_trial`` against the H200's FP64 tensor-core peak of
         67 TFLOP/s). The same seeds and trials on every device count: the
         largest difference of the results from the one-device run is recorded
         (``max_diff_vs_1_device``), and the scaling efficiency rate(k) / (k rate(1)).

Run:   python benchmarks/bench_scale.py cpu [--out DIR] [--quick]
       python benchmarks/bench_scale.py gpu [--out DIR] [--devices 1,2] [--quick]
Writes DIR/scale_cpu.csv or DIR/scale_gpu.csv and a JSON sidecar with the machine and the
parameters (default DIR: benchmarks/results).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASK = dict(mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)
PEAK_FP64_TENSOR = 67e12


def _sizes(p):
    return dict(n=p // 4, p=p, N=4 * p)


def _alpha():
    import numpy as np

    return np.linspace(-2.0, 6.0, 17)


def _load():
    return round(os.getloadavg()[0], 2)


def _write(out: Path, name, rows, info):
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / f"{name}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {path}", flush=True)


def _simulate(ra, p, trials, seed, method="reduced", chunk_size=None):
    s = _sizes(p)
    return ra.simulate(_alpha(), s["n"], p, N=s["N"], **TASK, trials=trials, seed=seed,
                       method=method, chunk_size=chunk_size)


def _default_chunk(method, p):
    """The chunk ``simulate`` picks by default (all devices) for the task at ``p``."""
    from rmt_alpha import _memory, _simulate
    from rmt_alpha._simspec import SimSpec

    s = _sizes(p)
    spec = SimSpec(n=s["n"], p=p, gamma=1.0, source="ridge", N=s["N"], mu=1.5, mu_orth=1.0,
                   beta=0.8, gamma_src=1.0)
    return _memory.plan("simulate", trials=2**40, cap=_simulate._chunk_cap(method, spec),
                        per_trial=_simulate._trial_bytes(method, spec, 8) + 4 * 8 * _alpha().size,
                        detail="", ways_out="")[0]


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


# ---------------------------------------------------------------------------------- CPU
def cpu(args):
    import rmt_alpha as ra  # sets the XLA:CPU flag before JAX starts

    import jax

    cores = len(os.sched_getaffinity(0))
    jax.config.update("jax_num_cpu_devices", cores)
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    from _machine import describe

    from rmt_alpha import _reduced

    info = describe(jax=jax.__version__, devices=len(jax.devices()))
    print(info, flush=True)
    rows = []
    for p in (int(x) for x in args.ps.split(",")):
        s = _sizes(p)
        dof = np.concatenate([_reduced._plan(s["N"], p).dof, _reduced._plan(s["n"], p).dof])
        dof = np.maximum(dof, 1)
        trials = args.trials_for.get(p, max(64, int(2e7 // p)))
        chunk = _default_chunk("reduced", p)
        _, compile_s = _timed(lambda: _simulate(ra, p, chunk, 1))  # same program as below
        rng = np.random.default_rng(0)

        def numpy_draws():
            for _ in range(trials):
                rng.chisquare(dof)

        best_np, best_sim = np.inf, np.inf
        for r in range(args.repeat):
            best_np = min(best_np, _timed(numpy_draws)[1])
            best_sim = min(best_sim, _timed(lambda: _simulate(ra, p, trials, 2 + r))[1])
        row = dict(p=p, n=s["n"], N=s["N"], devices=len(jax.devices()), trials=trials,
                   chunk=chunk, chi_variates_per_trial=dof.size,
                   sampler_s=round(best_sim, 4), numpy_chisquare_s=round(best_np, 4),
                   ratio=round(best_sim / best_np, 3),
                   sampler_ms_per_trial=round(1e3 * best_sim / trials, 4),
                   numpy_ms_per_trial=round(1e3 * best_np / trials, 4),
                   first_call_s=round(compile_s, 2), load_1min=_load())
        print(row, flush=True)
        rows.append(row)

    p, trials = args.p_big, args.trials_big
    s = _sizes(p)
    load0 = _load()
    res, total = _timed(lambda: _simulate(ra, p, trials, 2024))
    _, again = _timed(lambda: _simulate(ra, p, trials, 2025))  # compiled: the steady state
    acc = ra.test_accuracy(_alpha(), s["n"], p, N=s["N"], **TASK)
    z = float(np.max(np.abs((res.accuracy - acc) / res.accuracy_stderr)))
    big = dict(p=p, n=s["n"], N=s["N"], devices=len(jax.devices()), trials=trials,
               chunk=_default_chunk("reduced", p), chi_variates_per_trial="",
               sampler_s=round(again, 2), numpy_chisquare_s="", ratio="",
               sampler_ms_per_trial=round(1e3 * again / trials, 4), numpy_ms_per_trial="",
               first_call_s=round(total, 2), load_1min=f"{load0} -> {_load()}")
    print(big, f"max |z| of the accuracy vs theory: {z:.2f}", flush=True)
    rows.append(big)
    info.update(task=dict(TASK, N="4p", n="p/4", alphas=17, dtype="float64", method="reduced"),
                notes=["sampler_s: best of the timed simulate calls (compiled); "
                       "numpy_chisquare_s: best time of Generator.chisquare for the same "
                       "trials' chi variates, one core, alternating with the sampler",
                       f"last row: the big run; first_call_s includes compilation; max |z| "
                       f"of the accuracy against rmt_alpha.test_accuracy: {z:.2f}"])
    _write(Path(args.out), "scale_cpu", rows, info)
    print(f"{'p':>7} {'trials':>6} {'sampler s':>9} {'numpy s':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r['p']:>7} {r['trials']:>6} {r['sampler_s']:>9} {r['numpy_chisquare_s']:>8} "
              f"{r['ratio']:>6}")
    return 0


# ------------------------------------------------------------------------------ profile
def profile(args):
    """Where a row of the reduced sampler's pass goes, in CPU time (one device, one core),
    per (row, trial): each piece in a jitted loop over blocks of ``K x B`` entries."""
    import rmt_alpha  # noqa: F401

    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np

    from rmt_alpha import _reduced as R
    from rmt_alpha._simspec import SimSpec

    B, K, blocks = 32, 256, 64
    f64 = jnp.float64
    k0 = jnp.arange(B, dtype=jnp.uint32)[None, :]
    rows = jnp.arange(K, dtype=jnp.uint32)[:, None]
    dof = jnp.full((2, K, 1), 20001, jnp.int32)
    rng = np.random.default_rng(0)
    u = jnp.asarray(rng.random((2, K, B)))
    x = jnp.asarray(rng.standard_normal((2, K, B)))
    d = jnp.full((2, K, 1), 10000.0)
    c = jax.lax.rsqrt(9.0 * d)
    chi = jnp.asarray(rng.chisquare(20000, (2, K, B)))
    zero = jnp.zeros((B,))

    def loop(body):  # accumulate each piece's output over `blocks` blocks (elementwise)
        shape = jax.eval_shape(lambda: body(jnp.int32(0))).shape
        return jax.jit(lambda: jax.lax.fori_loop(
            0, blocks, lambda j, acc: acc + body(j), jnp.zeros(shape)))

    pieces = {
        "Threefry hashes (4 per row: 2 normals, 2 uniforms)": lambda j: R._uniforms(
            k0 + j.astype(jnp.uint32), k0, R._tags(0, [0, 1], 2), rows, f64),
        "Box-Muller (1 pair per row)": lambda j: jnp.stack(R._box_muller(u[0] * 0.5 + j * 1e-9, u[1])),
        "Marsaglia-Tsang attempt (2 per row)": lambda j: R._mt_attempt(x + j * 1e-9, u, d, c)[1],
        "chi-square pairs, complete (retries included)": lambda j: R._chi2_pairs(
            k0 + j.astype(jnp.uint32), k0, 0, rows, dof, f64)[0],
        "scan step, source (2 carries)": lambda j: jax.lax.scan(
            R._pass_step(1.0, 0), (zero + j, zero, (), ()), (chi[0], chi[1], chi[0], 1.0 + 0 * chi[0], ()),
            reverse=True, unroll=R._UNROLL)[0][0],
        "scan step, target (6 carries, 6 outputs)": lambda j: jax.lax.scan(
            R._pass_step(1.0, 2), (zero + j, zero, (zero, zero), (zero, zero)),
            (chi[0], chi[1], chi[0], 1.0 + 0 * chi[0], (chi[0], chi[1])), reverse=True,
            unroll=R._UNROLL)[1][2][0],
    }
    rows_out = []
    for name, body in pieces.items():
        f = loop(body)
        jax.block_until_ready(f())
        best = np.inf
        for _ in range(args.repeat + 3):
            c0 = time.process_time()
            jax.block_until_ready(f())
            best = min(best, time.process_time() - c0)
        rows_out.append(dict(piece=name, ns_per_row_trial=round(1e9 * best / (blocks * K * B), 2)))
        print(rows_out[-1], flush=True)
    for p in (int(v) for v in args.ps.split(",")):
        s = _sizes(p)
        spec = SimSpec(n=s["n"], p=p, gamma=1.0, source="ridge", N=s["N"], mu=1.5, mu_orth=1.0,
                       beta=0.8, gamma_src=1.0)
        keys = jax.random.split(jax.random.key(0), 64)
        f = jax.jit(lambda k: R.trial_stats_batch(k, spec))
        jax.block_until_ready(f(keys))
        best = np.inf
        for _ in range(args.repeat + 1):
            c0 = time.process_time()
            jax.block_until_ready(f(keys))
            best = min(best, time.process_time() - c0)
        rows_total = min(p, s["N"]) + min(p, s["n"])
        dof = np.maximum(np.concatenate([R._plan(s["N"], p).dof, R._plan(s["n"], p).dof]), 1)
        gen = np.random.default_rng(0)
        c0 = time.process_time()
        for _ in range(16):
            gen.chisquare(dof)
        numpy_ns = 1e9 * (time.process_time() - c0) / 16 / rows_total
        rows_out.append(dict(piece=f"whole trial, p = {p} (64 trials)",
                             ns_per_row_trial=round(1e9 * best / 64 / rows_total, 2)))
        rows_out.append(dict(piece=f"numpy chisquare, p = {p} (2 variates per row)",
                             ns_per_row_trial=round(numpy_ns, 2)))
        print(rows_out[-2:], flush=True)
    from _machine import describe

    info = describe(jax=jax.__version__, block_rows=K, block_trials=B)
    info["notes"] = ["CPU (process) time per (row, trial) of each piece, best of several; "
                     "a row of a stage holds 2 chi-square variates"]
    _write(Path(args.out), "scale_profile", rows_out, info)
    return 0


# ---------------------------------------------------------------------------------- GPU
def gpu_run(args):
    """One device count (the visible GPUs): rows and results as JSON in ``--run-file``."""
    import rmt_alpha as ra

    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    from rmt_alpha._direct import flops_per_trial
    from rmt_alpha._simspec import SimSpec

    ndev = len(jax.devices())
    rows, results = [], {}
    jobs = [("reduced", p, None) for p in (int(x) for x in args.gpu_ps.split(","))]
    jobs += [("direct", p, None) for p in (int(x) for x in args.direct_ps.split(",") if x)]
    jobs += [("direct", int(p), int(c) * ndev)  # also a given chunk per device
             for p, c in (x.split(":") for x in args.direct_chunks.split(",") if x)]
    for method, p, given in jobs:
        chunk = given or _default_chunk(method, p)
        if method == "reduced":  # the same trials for every device count: 4 chunks of one GPU
            trials = args.reduced_trials or args.chunks * (chunk // ndev)
        else:
            trials = args.direct_trials[p]
        _, first = _timed(lambda: _simulate(ra, p, chunk, 1, method, given))
        res, dt = _timed(lambda: _simulate(ra, p, trials, 2, method, given))
        s = _sizes(p)
        spec = SimSpec(n=s["n"], p=p, gamma=1.0, source="ridge", N=s["N"], mu=1.5,
                       mu_orth=1.0, beta=0.8, gamma_src=1.0)
        fl = flops_per_trial(spec) if method == "direct" else float("nan")
        rate = trials / dt
        rows.append(dict(method=method, p=p, n=s["n"], N=s["N"], devices=ndev, trials=trials,
                         chunk=chunk, chunk_from="given" if given else "default",
                         first_call_s=round(first, 2), seconds=round(dt, 4),
                         trials_per_s=round(rate, 2), flops_per_trial=fl,
                         flop_per_s=fl * rate,
                         fraction_fp64_tensor_peak_per_gpu=fl * rate / (ndev * PEAK_FP64_TENSOR)))
        results[f"{method}_{p}_{chunk // ndev if given else 'default'}"] = np.concatenate([res.accuracy, res.score_second_moment]).tolist()
        print(rows[-1], flush=True)
        Path(args.run_file).write_text(json.dumps(dict(rows=rows, results=results)))
    return 0


def gpu(args):
    import numpy as np
    from _machine import describe

    runs = {}
    for k in (int(x) for x in args.devices.split(",")):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=",".join(str(i) for i in range(k)))
        run_file = Path(args.out) / f"scale_gpu_{k}dev.json"
        Path(args.out).mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(Path(__file__)), "gpu-run", "--gpu-ps", args.gpu_ps,
               "--direct-ps", args.direct_ps, "--direct-chunks", args.direct_chunks,
               "--chunks", str(args.chunks), "--run-file", str(run_file)]
        if args.quick:
            cmd.append("--quick")
        if args.reduced_trials:
            cmd += ["--reduced-trials", str(args.reduced_trials)]
        print("running", " ".join(cmd), "with", k, "GPU(s)", flush=True)
        if subprocess.run(cmd, env=env).returncode != 0:
            raise SystemExit(f"gpu-run with {k} device(s) failed")
        runs[k] = json.loads(run_file.read_text())
    rows = []
    one = runs.get(1)
    for k, run in runs.items():
        for r in run["rows"]:
            per_dev = r["chunk"] // k if r["chunk_from"] == "given" else "default"
            key = f"{r['method']}_{r['p']}_{per_dev}"
            base = next((b for b in one["rows"] if (b["method"], b["p"], b["chunk_from"]) ==
                         (r["method"], r["p"], r["chunk_from"])) if one else None, None)
            r["scaling_efficiency"] = (round(r["trials_per_s"] / (k * base["trials_per_s"]), 3)
                                       if base else "")
            r["max_diff_vs_1_device"] = (float(np.max(np.abs(np.subtract(run["results"][key],
                                                                          one["results"][key]))))
                                         if one and key in one["results"] else "")
            rows.append(r)
    from importlib.metadata import version

    info = describe(jax=version("jax"))
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,"
                              "clocks.max.sm", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
        info["gpus"] = smi.stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        info["gpus"] = []
    info.update(task=dict(TASK, N="4p", n="p/4", alphas=17, dtype="float64"),
                peak_fp64_tensor_flop_per_s=PEAK_FP64_TENSOR,
                notes=["trials_per_s: compiled simulate call with the default chunking "
                       "(first_call_s: the compiling call, one chunk)",
                       "flops_per_trial: rmt_alpha._direct.flops_per_trial (Gram "
                       "2 m p min(m, p), Cholesky min(m, p)^3 / 3, solves, products; random "
                       "numbers not counted)",
                       "max_diff_vs_1_device: largest |difference| of the accuracy and second-"
                       "moment curves from the one-device run with the same seed and trials"])
    _write(Path(args.out), "scale_gpu", rows, info)
    print(f"{'method':>8} {'p':>5} {'dev':>3} {'trials/s':>12} {'TFLOP/s':>8} {'eff':>6} {'diff':>8}")
    for r in rows:
        tf = r["flop_per_s"] / 1e12 if r["method"] == "direct" else float("nan")
        print(f"{r['method']:>8} {r['p']:>5} {r['devices']:>3} {r['trials_per_s']:>12.4g} "
              f"{tf:>8.2f} {r['scaling_efficiency']!s:>6} {r['max_diff_vs_1_device']!s:>8}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["cpu", "profile", "gpu", "gpu-run"])
    ap.add_argument("--out", default=os.environ.get("OUT", str(HERE / "results")))
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--ps", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--p-big", type=int, default=100_000)
    ap.add_argument("--trials-big", type=int, default=10_000)
    ap.add_argument("--devices", default="1,2")
    ap.add_argument("--gpu-ps", default="1024,4096,8192")
    ap.add_argument("--direct-ps", default="4096,8192")
    ap.add_argument("--direct-chunks", default="4096:8,8192:2",
                    help="direct sampler also with these chunks per device (p:chunk,...)")
    ap.add_argument("--chunks", type=int, default=4, help="chunks per timed GPU call")
    ap.add_argument("--reduced-trials", type=int, default=0)
    ap.add_argument("--run-file", help="gpu-run: where to write its rows (JSON)")
    args = ap.parse_args(argv)
    args.trials_for = {10_000: 2048, 100_000: 384}  # whole chunks of 128
    args.direct_trials = {4096: 240, 8192: 40}
    if args.quick:
        args.ps, args.p_big, args.trials_big = "400,2000", 4000, 200
        args.trials_for = {}
        args.gpu_ps, args.direct_ps = "256", "256"
        args.direct_trials = {256: 64}
        args.direct_chunks = "256:8"
        args.reduced_trials = args.reduced_trials or 512
    return {"cpu": cpu, "profile": profile, "gpu": gpu, "gpu-run": gpu_run}[args.part](args)


if __name__ == "__main__":
    sys.exit(main())
