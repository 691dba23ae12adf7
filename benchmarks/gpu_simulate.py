"""Monte Carlo on a GPU: the convergence of the finite-size gap (throughput: bench_scale.py).

Convergence: at fixed eta = p/n = 4 and eta~ = p/N = 1/2 (same task: beta = 0.8,
mu = 1.5, mu_orth = 1, gamma = gamma_src = 1), p = 128 ... 8192; for each p the largest
|MC - theory| over an alpha grid for the accuracy and the relative gap of the second moment
E2, with standard errors. Runs ``--conv-methods`` (default: the exact reduced sampler with
200 000 trials per p and its default chunking, and the direct one with fewer trials at
large p).

Run:   python benchmarks/gpu_simulate.py --out DIR
Plot:  python benchmarks/gpu_simulate.py --plot benchmarks/results/mc_convergence.csv
       (writes figures/mc_convergence.png and a copy of the CSV next to it)
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TASK = dict(mu=1.5, mu_orth=1.0, beta=0.8, gamma=1.0, gamma_src=1.0)


def _machine(jax):
    info = {"jax": jax.__version__, "backend": jax.default_backend(),
            "devices": ", ".join(d.device_kind for d in jax.devices()),
            "python": platform.python_version(),
            "date": datetime.datetime.now().isoformat(timespec="seconds")}
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
        info["nvidia_smi"] = smi.stdout.strip().replace("\n", " | ")
    except Exception:  # noqa: BLE001
        pass
    return info


def _write(path, info, header, rows, notes=()):
    with open(path, "w", newline="") as fh:
        for k, v in info.items():
            fh.write(f"# {k}: {v}\n")
        for n in notes:
            fh.write(f"# {n}\n")
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    print(f"wrote {path}", flush=True)


def convergence(ra, jax, out, sizes, trials_for, methods):
    import numpy as np

    alpha = np.linspace(-2, 6, 17)
    rows = []
    info = _machine(jax)
    for method, p in [(m, p) for m in methods for p in sizes]:
        n, N = p // 4, 2 * p
        trials, chunk = trials_for(p, method)
        t0 = time.perf_counter()
        res = ra.simulate(alpha, n, p, N=N, **TASK, trials=trials, chunk_size=chunk,
                          method=method, seed=100 + p)
        dt = time.perf_counter() - t0
        acc = ra.test_accuracy(alpha, n, p, N=N, **TASK)
        m, e2 = ra.score_moments(alpha, n, p, N=N, **TASK)
        ga = res.accuracy - acc
        k = int(np.argmax(np.abs(ga)))
        ge = (res.score_second_moment - e2) / e2
        j = int(np.argmax(np.abs(ge)))
        T1 = float(e2[np.argmin(np.abs(alpha))])
        g1 = (res.moments["T1"] - T1) / T1
        rows.append([method, p, n, N, trials, f"{abs(ga[k]):.4e}", f"{res.accuracy_stderr[k]:.3e}",
                     f"{alpha[k]:.2f}", f"{abs(ge[j]):.4e}",
                     f"{res.score_second_moment_stderr[j] / e2[j]:.3e}", f"{alpha[j]:.2f}",
                     f"{g1:.4e}", f"{res.moments['T1_stderr'] / T1:.3e}",
                     f"{np.max(np.abs(ga / res.accuracy_stderr)):.2f}", f"{dt:.2f}"])
        print(f"{method:8s} p={p:5d} trials={trials:7d}: max|acc gap| {abs(ga[k]):.2e} "
              f"(se {res.accuracy_stderr[k]:.1e}), max|E2 gap|/E2 {abs(ge[j]):.2e} "
              f"(se {res.score_second_moment_stderr[j] / e2[j]:.1e}), T1 gap/T1 {g1:+.2e} "
              f"(se {res.moments['T1_stderr'] / T1:.1e}), {dt:.1f} s", flush=True)
        _write(out / "mc_convergence.csv", info,
               ["method", "p", "n", "N", "trials", "max_abs_gap_accuracy",
                "stderr_at_max_accuracy", "alpha_at_max_accuracy", "max_rel_gap_E2",
                "rel_stderr_at_max_E2", "alpha_at_max_E2", "rel_gap_T1", "rel_stderr_T1",
                "max_abs_z_accuracy", "seconds"],
               rows, notes=["eta=p/n=4, eta~=p/N=1/2; beta=0.8, mu=1.5, mu_orth=1, "
                            "gamma=gamma_src=1; 17 alphas in [-2, 6]; gaps = MC - theory "
                            "(accuracy absolute, E2 and T1 relative); max over the alpha grid"])


def plot(csv_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in csv.DictReader(line for line in open(csv_path) if not line.startswith("#"))]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    panels = [("max_abs_gap_accuracy", "stderr_at_max_accuracy",
               r"accuracy: $\max_\alpha\,|A_{\mathrm{MC}}(\alpha) - A(\alpha)|$"),
              ("max_rel_gap_E2", "rel_stderr_at_max_E2",
               r"second moment: $\max_\alpha\,|E_2^{\mathrm{MC}} - E_2|\,/\,E_2$")]
    markers = {"reduced": "o", "direct": "s"}
    for ax, (key, se_key, title) in zip(axes, panels):
        for m in methods:
            sel = [r for r in rows if r["method"] == m]
            p = np.array([float(r["p"]) for r in sel])
            g = np.array([float(r[key]) for r in sel])
            se = np.array([float(r[se_key]) for r in sel])
            t = sorted({int(r["trials"]) for r in sel})
            trials = f"{t[0]:,}" if len(t) == 1 else f"{t[-1]:,} to {t[0]:,}"
            line = ax.errorbar(p, g, yerr=se, marker=markers.get(m, "^"), ls="-", capsize=3,
                               label=f"{m} ({trials} trials)")
            ax.plot(p, 2 * se, ls=":", lw=1, color=line[0].get_color(),
                    label=f"{m}: 2 standard errors")
        sel = [r for r in rows if r["method"] == methods[0]]
        p = np.array([float(r["p"]) for r in sel])
        g0 = float(sel[0][key])
        ax.plot(p, g0 * p[0] / p, "k--", lw=1, label=r"$\propto 1/p$")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(r"$p$   ($p/n = 4$, $p/N = 1/2$)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("Monte Carlo minus theory")
    fig.suptitle(r"Finite-size gap of the theory ($\beta=0.8$, $\mu=1.5$, $\mu_\perp=1$, "
                 r"$\gamma=\tilde\gamma=1$, 17 values of $\alpha \in [-2, 6]$)", fontsize=10)
    fig.tight_layout()
    png = ROOT / "figures" / "mc_convergence.png"
    fig.savefig(png, dpi=150)
    (ROOT / "figures" / "mc_convergence.csv").write_text(Path(csv_path).read_text())
    print(f"wrote {png}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", HERE / "results")))
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test on a CPU)")
    ap.add_argument("--conv-methods", default="reduced,direct",
                    help="samplers for the convergence table")
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args(argv)
    if args.plot:
        plot(args.plot)
        return 0

    import rmt_alpha as ra  # sets the XLA:CPU flag before JAX starts

    import jax

    jax.config.update("jax_enable_x64", True)
    print(_machine(jax), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = [32, 64] if args.quick else [128, 256, 512, 1024, 2048, 4096, 8192]

    def conv_trials(p, m):
        if args.quick:
            return 200, 50
        if m == "reduced":
            return 200_000, None  # the default chunking
        return {128: (100_000, 2000), 256: (50_000, 1000), 512: (40_000, 500),
                1024: (20_000, 128), 2048: (6000, 32), 4096: (1000, 8), 8192: (200, 2)}[p]

    convergence(ra, jax, args.out, sizes, conv_trials, args.conv_methods.split(","))
    return 0


if __name__ == "__main__":
    sys.exit(main())
