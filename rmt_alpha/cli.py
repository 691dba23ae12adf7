"""The ``rmt-alpha`` command (also ``python -m rmt_alpha``).

Subcommands:

* ``reproduce``: regenerate every figure of :data:`rmt_alpha.experiments.FIGURES` (PNG,
  PDF, CSV, JSON) and ``VALIDATION.md``;
* ``optimal-alpha``: alpha*, the chance-level alpha and the accuracies at alpha*, 1 and 0
  for one task; with ``--tune-gamma``, the joint optimum over alpha and gamma (THEORY §12)
  and the gamma-tuned accuracies of alpha = 1 and alpha = 0;
* ``curve``: a CSV of accuracy vs alpha, optionally with a Monte Carlo check.

Bad arguments exit with status 2 and a message naming the argument.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
import textwrap
import time

import numpy as np

import rmt_alpha  # noqa: F401  (sets the XLA:CPU flag before JAX can start)
from rmt_alpha._general import GENERAL_SETS  # noqa: E402
from rmt_alpha._task import KEYWORD_SETS  # noqa: E402

# Library argument name -> command-line flag.
FLAGS = {
    "n": "--n", "p": "--p", "N": "--N", "mu": "--mu", "mu_orth": "--mu-orth", "beta": "--beta",
    "gamma": "--gamma", "gamma_src": "--gamma-src", "target_norm2": "--target-norm2",
    "alignment": "--alignment", "source_norm2": "--source-norm2", "alpha": "--alpha",
    "trials": "--trials", "seed": "--seed", "method": "--method",
    "gamma_min": "--gamma-min", "gamma_max": "--gamma-max",
}
# The library's keyword sets, less those with vectors (they do not fit on a command line).
TASK_SETS = {k: keys for k, keys in KEYWORD_SETS.items()
             if k not in ("source vectors",) + GENERAL_SETS}
TASK_KEYS = tuple(dict.fromkeys(k for keys in TASK_SETS.values() for k in keys))


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit status 2), with a hook to report
    library errors as errors of the flag they name -- a flag this command has."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(str(message).split())} "
                     f"(see '{self.prog} --help')\n")

    def fail(self, exc: Exception):
        msg = str(exc)
        own = self._option_string_actions
        for name, flag in sorted(FLAGS.items(), key=lambda kv: -len(kv[0])):
            if (flag in own and re.match(rf"{re.escape(name)}\b", msg)
                    and not msg.startswith(name + "_")):
                self.error(f"argument {flag}: {msg}")
        self.error(msg)

    def writable(self, flag, path, directory=False):
        """Refuse (exit 2) an output ``path`` that cannot be written, before any work:
        create its folder (or the folder itself) and check that it is writable."""
        folder = path if directory else os.path.dirname(os.path.abspath(path))
        try:
            if not directory and os.path.isdir(path):
                raise IsADirectoryError(21, "Is a directory")
            os.makedirs(folder, exist_ok=True)
            if not os.access(folder, os.W_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as exc:
            self.error(f"argument {flag}: cannot write to {path!r} ({exc.strerror})")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (>= 1), got {value}")
    return value


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _finite(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def _nonnegative(text):
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _positive_or_inf(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or inf, got {text!r}") from None
    if math.isnan(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (inf allowed), got {text!r}")
    return value


def alpha_grid(text) -> np.ndarray:
    """Parse ``START:STOP:COUNT`` (inclusive, evenly spaced), a comma-separated list, or one
    number into a 1-D array of alphas."""
    bad = argparse.ArgumentTypeError(
        f"expected START:STOP:COUNT (e.g. -2:6:101), a comma-separated list or one number, "
        f"got {text!r}"
    )
    text = text.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise bad
            start, stop = float(parts[0]), float(parts[1])
            count = int(parts[2])
            if not (math.isfinite(start) and math.isfinite(stop)):
                raise argparse.ArgumentTypeError(f"START and STOP must be finite, got {text!r}")
            if count < 1:
                raise argparse.ArgumentTypeError(f"COUNT must be a positive integer, got {text!r}")
            _fits(count)
            return np.linspace(start, stop, count)
        values = np.array([float(t) for t in text.split(",")])
    except ValueError:
        raise bad from None
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f"alphas must be finite numbers, got {text!r}")
    return values


def _fits(count):
    """The grid, its columns and its CSV lines must fit in memory (checked before allocating)."""
    from rmt_alpha import _memory

    try:
        _memory.guard("COUNT", count * (8 * _memory.LIVE_ARRAYS + 256), detail=f"{count} alphas",
                      ways_out="use fewer alphas")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _figure_numbers():
    from rmt_alpha.experiments import FIGURES

    return tuple(FIGURES)


def _figure_list(text):
    try:
        nums = sorted({int(t) for t in text.replace(" ", "").split(",") if t})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected figure numbers such as 1,6,8, got {text!r}") from None
    known = _figure_numbers()
    if not nums or any(k not in known for k in nums):
        raise argparse.ArgumentTypeError(
            f"figure numbers are {', '.join(map(str, known))}, got {text!r}")
    return nums


def _add_task(p):
    g = p.add_argument_group(
        "task",
        _wrap("--n and --p, plus exactly one keyword set: the ridge source (--N --mu --mu-orth "
        "--beta --gamma --gamma-src, THEORY §4) or a fixed source (--gamma --target-norm2 "
        "--alignment --source-norm2, THEORY §3)"),
    )
    g.add_argument("--n", type=_positive_int, required=True, metavar="n", help="target sample size")
    g.add_argument("--p", type=_positive_int, required=True, metavar="p", help="dimension")
    g.add_argument("--N", type=_positive_int, metavar="N", help="source sample size")
    g.add_argument("--mu", type=_finite, help="source mean norm ||mu|| >= 0")
    g.add_argument("--mu-orth", dest="mu_orth", type=_finite,
                   help="norm of the target's new direction ||mu_perp|| >= 0")
    g.add_argument("--beta", type=_finite, help="task alignment in [-1, 1]")
    g.add_argument("--gamma", type=_finite, help="target ridge > 0 (both keyword sets)")
    g.add_argument("--gamma-src", dest="gamma_src", type=_finite, help="source ridge > 0")
    g.add_argument("--target-norm2", dest="target_norm2", type=_finite,
                   help="fixed source: M = ||mu_beta||^2 >= 0")
    g.add_argument("--alignment", type=_finite, help="fixed source: s = w~^T mu_beta")
    g.add_argument("--source-norm2", dest="source_norm2", type=_finite,
                   help="fixed source: r = ||w~||^2 > 0")


def _task(parser, args, *, tuned_gamma=False) -> dict:
    """The task keywords of ``args``: exactly one keyword set (without ``gamma`` when it is
    tuned)."""
    given = {k: getattr(args, k) for k in TASK_KEYS if getattr(args, k) is not None}
    task_sets = TASK_SETS
    if tuned_gamma:
        if "gamma" in given:
            parser.error("argument --gamma: not allowed with --tune-gamma (gamma is tuned; "
                         "--gamma-min and --gamma-max bound it)")
        task_sets = {k: tuple(x for x in keys if x != "gamma") for k, keys in TASK_SETS.items()}
    for name, keys in task_sets.items():
        if set(given) == set(keys):
            return given
    # Name what is wrong: the closest set's missing flags, or the flags that mix sets.
    best = max(task_sets, key=lambda s: (len(set(given) & set(task_sets[s])), s == "ridge source"))
    keys = task_sets[best]
    missing = [FLAGS[k] for k in keys if k not in given]
    extra = [FLAGS[k] for k in given if k not in keys]
    sets = "; ".join(f"{s}: {' '.join(FLAGS[k] for k in ks)}" for s, ks in task_sets.items())
    if extra:
        parser.error(f"argument {extra[0]}: does not belong with the {best} keywords "
                     f"({' '.join(extra)} given); give exactly one keyword set ({sets})")
    parser.error(f"argument {missing[0]}: required for the {best} task (missing: "
                 f"{' '.join(missing)}); give exactly one keyword set ({sets})")
    raise AssertionError  # pragma: no cover


def _enable_x64():
    import jax

    jax.config.update("jax_enable_x64", True)


def _json_number(x):
    x = float(x)
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------


def _cmd_optimal_alpha(parser, args):
    import rmt_alpha as ra

    if args.tune_gamma:
        return _cmd_tune_gamma(parser, args)
    for flag in ("gamma_min", "gamma_max"):
        if getattr(args, flag) is not None:
            parser.error(f"argument {FLAGS[flag]}: only with --tune-gamma")
    task = _task(parser, args)
    a_star = float(ra.optimal_alpha(args.n, args.p, **task))
    a_bar = float(ra.chance_alpha(args.n, args.p, **task))
    acc = ra.test_accuracy(np.array([a_star, 1.0, 0.0]), args.n, args.p, **task)
    src = None
    if "N" in task:
        src = float(ra.source_accuracy(args.p, N=task["N"], mu=task["mu"], beta=task["beta"],
                                       gamma_src=task["gamma_src"]))
    kind = "ridge source" if "N" in task else "fixed source"
    out = {
        "optimal_alpha": a_star,
        "chance_alpha": _json_number(a_bar),
        "accuracy_at_optimal": float(acc[0]),
        "accuracy_at_1": float(acc[1]),
        "accuracy_at_0": float(acc[2]),
    }
    if src is not None:
        out["source_accuracy"] = src
    bar = ("undefined (orthogonal source: the accuracy never reaches 1/2)"
           if out["chance_alpha"] is None
           else f"{a_bar:.6g}   (accuracy 1/2; worse than chance beyond it)")
    rows = [
        ("optimal alpha           alpha*", f"{a_star:.6g}"),
        ("chance-level alpha      alpha_bar", bar),
        ("accuracy at alpha*", f"{acc[0]:.6f}"),
        ("accuracy at alpha = 1 (fine-tuning)", f"{acc[1]:.6f}"),
        ("accuracy at alpha = 0 (no source)", f"{acc[2]:.6f}"),
    ]
    if src is not None:
        rows.append(("source classifier used as is", f"{src:.6f}"))
    return _report(args, out, task, kind, rows)


def _report(args, out, task, kind, rows, context=""):
    """Print ``out`` (with the keyword set and the task) as JSON with ``--json``, else the
    task line (plus ``context``) and the aligned ``rows``."""
    out["keyword_set"] = kind
    out["task"] = dict(n=args.n, p=args.p, **task)
    if args.json:
        print(json.dumps(out, indent=2, allow_nan=False))
        return 0
    desc = ", ".join(f"{k}={v:g}" for k, v in out["task"].items())
    print("\n".join([f"task ({kind}): {desc}{context}"] + [f"{k:<36} = {v}" for k, v in rows]))
    return 0


def _json_limit(x):
    """A JSON value for a number that may be infinite (JSON has no infinity): the string
    ``"inf"`` or ``"-inf"``."""
    x = float(x)
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _cmd_tune_gamma(parser, args):
    import rmt_alpha as ra

    task = _task(parser, args, tuned_gamma=True)
    bounds = {"gamma_min": 0.0 if args.gamma_min is None else args.gamma_min,
              "gamma_max": math.inf if args.gamma_max is None else args.gamma_max}
    res = ra.optimal_alpha_gamma(args.n, args.p, **task, **bounds)
    kind = "ridge source" if "N" in task else "fixed source"
    out = {k: _json_limit(v) for k, v in res._asdict().items()}
    out["gamma_range"] = [bounds["gamma_min"], _json_limit(bounds["gamma_max"])]
    where = ("the limit gamma -> inf: the classifier X y/n + (alpha gamma) w~"
             if res.gamma == math.inf else
             "the limit gamma -> 0 (minimum norm)" if res.gamma == 0 else "interior")
    rows = [
        ("joint optimum           alpha**", f"{res.alpha:.6g}"),
        ("                        gamma**", f"{res.gamma:.6g}   ({where})"),
        ("                  alpha** gamma**", f"{res.alpha_gamma:.6g}"),
        ("accuracy, alpha and gamma tuned", f"{res.accuracy:.6f}"),
        ("accuracy, alpha = 1 (fine-tuning)", f"{res.accuracy_fine_tuning:.6f}   (gamma = "
         f"{res.gamma_fine_tuning:.6g})"),
        ("accuracy, alpha = 0 (no source)", f"{res.accuracy_no_transfer:.6f}   (gamma = "
         f"{res.gamma_no_transfer:.6g})"),
    ]
    context = f"; gamma tuned in [{bounds['gamma_min']:g}, {bounds['gamma_max']:.6g}]"
    return _report(args, out, task, kind, rows, context)


def _cmd_curve(parser, args):
    import rmt_alpha as ra

    task = _task(parser, args)
    alpha = args.alpha
    if args.out not in (None, "-"):
        parser.writable("--out", args.out)
    acc = np.atleast_1d(ra.test_accuracy(alpha, args.n, args.p, **task))
    mean, e2 = (np.atleast_1d(x) for x in ra.score_moments(alpha, args.n, args.p, **task))
    cols = {"alpha": alpha, "accuracy": acc, "score_mean": mean, "score_second_moment": e2}
    if args.simulate:
        _enable_x64()
        if not hasattr(ra, "simulate"):
            parser.error("argument --simulate: this installation has no Monte Carlo (rmt_alpha.simulate)")
        res = ra.simulate(alpha, args.n, args.p, **task, trials=args.trials, seed=args.seed,
                          method=args.method, progress=args.progress)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (res.accuracy - acc) / res.accuracy_stderr
        cols.update({
            "accuracy_sim": res.accuracy, "accuracy_sim_stderr": res.accuracy_stderr,
            "accuracy_z": z, "score_mean_sim": res.score_mean,
            "score_mean_sim_stderr": res.score_mean_stderr,
            "score_second_moment_sim": res.score_second_moment,
            "score_second_moment_sim_stderr": res.score_second_moment_stderr,
        })
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(cols))
    for i in range(alpha.size):
        w.writerow([format(float(c[i]), ".10g") for c in cols.values()])
    if args.out in (None, "-"):
        sys.stdout.write(buf.getvalue())
    else:
        try:
            with open(args.out, "w") as f:
                f.write(buf.getvalue())
        except OSError as exc:
            parser.error(f"argument --out: cannot write to {args.out!r} ({exc.strerror})")
        print(f"wrote {args.out} ({alpha.size} rows)", file=sys.stderr)
    return 0


def _cmd_reproduce(parser, args):
    from . import experiments

    parser.writable("--out", args.out, directory=True)
    _enable_x64()
    t0 = time.perf_counter()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    command = "rmt-alpha reproduce" + ("" if mode == "full" else f" --{mode}") + (
        f" --trials {args.trials}" if args.trials else "") + (
        f" --figures {','.join(map(str, args.figures))}" if args.figures else "")
    print(f"writing the figures to {args.out}/"
          + ("" if mode == "full" else f" ({mode} run)"), file=sys.stderr)
    results = experiments.reproduce(
        args.out, mode=mode, trials=args.trials, figures=args.figures,
        pdf=not args.no_pdf, progress=args.progress, command=command,
        log=lambda s: print(s, file=sys.stderr),
    )
    seconds = time.perf_counter() - t0
    print(f"\nTheory vs simulation ({os.path.join(args.out, 'VALIDATION.md')}):")
    for d in results:
        if not d.checks:
            print(f"  figure {d.number}: theory only")
        for c in d.checks:
            print(f"  figure {d.number}, {c['quantity']}: max |z| = {c['max_abs_z']:.2f} "
                  f"(noise level {c['noise_max_z_95']:.2f}), max |gap| = {c['max_abs_gap']:.2e}")
    print(f"done in {seconds:.0f} s")
    return 0


# --------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------

_EPILOG = """examples:
  rmt-alpha reproduce --out figures/
  rmt-alpha optimal-alpha --n 100 --p 400 --N 2000 --mu 1.5 --mu-orth 1 --beta 0.8 --gamma 1 --gamma-src 1
  rmt-alpha optimal-alpha --n 40 --p 400 --gamma 1 --target-norm2 1 --alignment 0.5 --source-norm2 1 --json
  rmt-alpha optimal-alpha --n 200 --p 100 --N 1000 --mu 1 --mu-orth 1.5 --beta 0.3 --gamma-src 1 --tune-gamma
  rmt-alpha curve --n 100 --p 400 --N 2000 --mu 1.5 --mu-orth 1 --beta 0.8 --gamma 1 --gamma-src 1 \\
      --alpha -2:6:101 --simulate --trials 1000 --out curve.csv
"""


def _wrap(text):
    return textwrap.fill(text, 88)


def build_parser() -> _Parser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="rmt-alpha",
        description=_wrap(
            "Random-matrix theory of alpha-rescaled fine-tuning: reproduce the figures, "
            "compute the optimal alpha of a task, tabulate accuracy vs alpha."),
        epilog=_EPILOG, formatter_class=fmt, allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"rmt_alpha {rmt_alpha.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    n_figures = len(_figure_numbers())
    sub.required = True

    r = sub.add_parser(
        "reproduce", help=f"regenerate the {n_figures} figures and VALIDATION.md",
        description=_wrap(
            f"Regenerate the {n_figures} figures: each as PNG and PDF, with its data as "
            "CSV and its parameters as JSON beside it, and VALIDATION.md with "
            "the largest |theory - simulation| per simulated figure (in standard errors "
            "and in absolute terms)."),
        formatter_class=fmt, allow_abbrev=False,
    )
    r.add_argument("--out", default="figures", metavar="DIR", help="output folder (default: figures)")
    r.add_argument("--quick", action="store_true",
                   help="fewer trials and simulated points: every figure, in a fraction of the time")
    r.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # smoke test
    r.add_argument("--trials", type=_positive_int, metavar="K",
                   help="Monte Carlo trials per simulated point for every figure (default: 2000 "
                        "(4000 for figure 8), 200 with --quick)")
    r.add_argument("--figures", type=_figure_list, metavar="LIST",
                   help=f"only these figures, e.g. 1,6 (default: all {n_figures}); VALIDATION.md "
                        "keeps the other figures' checks from their JSON files in --out")
    r.add_argument("--no-pdf", action="store_true", help="PNG only")
    r.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")

    o = sub.add_parser(
        "optimal-alpha", help="alpha*, the chance-level alpha and the accuracies of one task",
        description=_wrap(
            "Print the optimal alpha (alpha*), the chance-level alpha (alpha_bar, "
            "accuracy 1/2) and the test accuracy at alpha*, alpha = 1 (plain fine-tuning) "
            "and alpha = 0 (no source), from the closed forms of THEORY §3-§4."),
        epilog=_EPILOG, formatter_class=fmt, allow_abbrev=False,
    )
    _add_task(o)
    o.add_argument("--json", action="store_true", help="machine-readable output")
    t = o.add_argument_group(
        "tuning gamma too",
        _wrap("--tune-gamma: give the task without --gamma and get the joint optimum over alpha "
              "and gamma (THEORY §12), with plain fine-tuning (alpha = 1) and no transfer "
              "(alpha = 0) gamma-tuned for comparison. In --json output an infinite value is "
              'the string "inf".'))
    t.add_argument("--tune-gamma", action="store_true",
                   help="tune alpha and the target ridge gamma together")
    t.add_argument("--gamma-min", type=_nonnegative, metavar="G",
                   help="smallest gamma (default 0: the minimum-norm limit included)")
    t.add_argument("--gamma-max", type=_positive_or_inf, metavar="G",
                   help="largest gamma (default inf: the limit gamma -> inf included)")

    c = sub.add_parser(
        "curve", help="CSV of accuracy vs alpha (theory, optionally simulation)",
        description=_wrap(
            "Write a CSV of the theory's test accuracy and score moments on an alpha "
            "grid; with --simulate also the Monte Carlo estimates, their standard errors "
            "and z = (simulation - theory) / standard error."),
        epilog=_EPILOG, formatter_class=fmt, allow_abbrev=False,
    )
    _add_task(c)
    c.add_argument("--alpha", type=alpha_grid, default=alpha_grid("-2:6:101"), metavar="SPEC",
                   help="START:STOP:COUNT, a comma-separated list, or one number "
                        "(default: -2:6:101)")
    c.add_argument("--out", "-o", default="-", metavar="PATH", help="CSV file (default: stdout)")
    c.add_argument("--simulate", action="store_true", help="add Monte Carlo columns (needs JAX)")
    c.add_argument("--trials", type=_positive_int, default=1000, metavar="K",
                   help="Monte Carlo trials with --simulate (default: 1000)")
    c.add_argument("--seed", type=_int, default=0, help="Monte Carlo seed (default: 0)")
    c.add_argument("--method", choices=("direct", "reduced"), default="direct",
                   help="Monte Carlo sampler (default: direct)")
    c.add_argument("--progress", action="store_true", help="progress bar while simulating")
    return parser


_VALUE_FLAGS = ("--n", "--p", "--N", "--mu", "--mu-orth", "--beta", "--gamma", "--gamma-src",
                "--target-norm2", "--alignment", "--source-norm2", "--alpha", "--seed", "--trials",
                "--gamma-min", "--gamma-max")
_NEGATIVE = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)


def _join_negative_values(argv):
    """``--alpha -2:6:101`` -> ``--alpha=-2:6:101``: argparse would take a value that starts
    with ``-`` (and is not a plain negative number) for an option."""
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        if tok in _VALUE_FLAGS and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv=None) -> int:
    """Run the command line; returns the exit status (argument errors exit with 2)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_join_negative_values(argv))
    sub = parser._subparsers._group_actions[0].choices[args.command]
    handler = {"reproduce": _cmd_reproduce, "optimal-alpha": _cmd_optimal_alpha,
               "curve": _cmd_curve}[args.command]
    try:
        return handler(sub, args)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError) as exc:  # the library's refusals: user errors
        sub.fail(exc)
    except OSError as exc:  # e.g. a file system that fills up while writing the figures
        sub.error(f"{exc.strerror or exc}" + (f": {exc.filename!r}" if exc.filename else ""))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
