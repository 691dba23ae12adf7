"""JAX Monte Carlo of alpha-rescaled transfer (THEORY §6): simulate, simulate_scores,
simulate_regression.

How a run is organised:

* Trial ``i`` uses the key ``jax.random.fold_in(base_key, i)``, so the draws of a trial do
  not depend on how trials are grouped: the results are the same, up to float rounding,
  for every ``chunk_size``, every number of devices and every number of processes.
* Trials are processed in chunks of ``chunk_size``: one ``jit``-compiled program per chunk
  shape, a Python loop over chunks (with an optional tqdm progress bar). The default chunk
  comes from :func:`rmt_alpha._memory.plan` (a memory budget per device and the sampler's
  memory per trial): up to 1024 trials per device for the direct sampler, up to 2^20 on an
  accelerator and 64 per CPU device for the reduced one. Within
  a chunk the sampler's batch form (``trial_stats_batch``) runs on each device's share of
  the trials: ``shard_map`` on a one-axis ``Mesh`` (axis ``"trials"``) of all devices of
  ``jax.devices()``. A CPU exposes its cores as devices when JAX starts with
  ``jax.config.update("jax_num_cpu_devices", n)``.
* A sampler returns the five numbers ``[w0.mu_beta, v.mu_beta, ||w0||^2, w0.v, ||v||^2]``
  of a trial (:mod:`rmt_alpha._simspec`); the exact conditional accuracy
  ``Phi((w0.mu_beta + alpha v.mu_beta) / ||w0 + alpha v||)`` of every alpha and the means
  and co-moments of the score features are reduced over the chunk on the devices, and
  merged over chunks on the host (float64, the pairwise update of Chan, Golub and LeVeque).
* Several processes (``jax.distributed``, e.g. one per host of a cluster) run the same
  call: ``jax.devices()`` then holds every process's devices, each chunk is split over all
  of them, and every output of a chunk is replicated to all devices, so every process
  builds the same result object.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _memory, _task
from . import _validate as v
from ._blas import one_blas_thread
from ._simspec import SimSpec
from ._xla import check_cpu_scheduler

if TYPE_CHECKING:
    from ._typing import ArrayLike, Covariance, PathLike, Seed

METHODS = ("direct", "reduced")
_TEST_POINT_TAG = 0x7E57_0000  # fold_in tag of a trial's test-point key (far from split's 0, 1, ...)


# ----------------------------------------------------------------------------------------
# Results


def _jsonable(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    if isinstance(x, dict):
        return {k: _jsonable(val) for k, val in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(val) for val in x]
    return x


class _ResultMixin:
    def to_dict(self) -> dict:
        """All fields as plain Python values (lists for arrays), JSON-serialisable."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def _write_csv(self, path, columns, sidecar):
        path = Path(path)
        names = list(columns)
        data = np.column_stack([np.asarray(columns[k], dtype=np.float64) for k in names])
        np.savetxt(path, data, delimiter=",", header=",".join(names), comments="", fmt="%.17g")
        side = path.with_suffix(".json") if path.suffix != ".json" else Path(str(path) + ".json")
        side.write_text(json.dumps(_jsonable(sidecar), indent=2) + "\n")
        return path, side


@dataclasses.dataclass(frozen=True)
class SimulationResult(_ResultMixin):
    """Monte Carlo estimates on an alpha grid (THEORY §6); float64 numpy arrays.

    ``accuracy`` is the mean over trials of the exact conditional accuracy
    ``Phi(w_alpha^T mu_beta / ||w_alpha||)`` (no test set); ``score_mean`` and
    ``score_second_moment`` estimate ``m(alpha)`` and ``E2(alpha)`` of THEORY §3 (score of a
    class +1 target point); ``optimal_alpha`` is the maximiser of
    ``m / sqrt(E2 - m^2)`` built from the estimated ``m0, m1, T1, T2, T3``. Every ``*_stderr``
    is a standard error over trials (delta method for ``optimal_alpha``).

    General covariances (THEORY §10): the accuracy is the average over the two test classes
    of ``Phi(w_alpha^T mu_t / sqrt(w_alpha^T Ct_y w_alpha))``; ``score_*`` are those of the
    class +1 signed score (the classes agree for a shared test covariance); ``moments`` also
    has ``V0, V01, V11``, the means of ``w0^T Ct w0, w0^T Ct v, v^T Ct v`` (THEORY_GENERAL
    §3). For a class-dependent pair ``(Ct_+, Ct_-)``: ``class_accuracy``,
    ``class_score_second_moment`` (rows: class +1, class -1) and their standard errors;
    ``moments`` has ``T1_minus, T2_minus, T3_minus`` and ``V0_plus, ..., V11_minus``; and
    ``optimal_alpha`` maximises the class-averaged accuracy model built from the estimated
    moments (THEORY §9.5's two-class maximiser, §10.4). These fields are ``None`` otherwise.
    """

    alpha: np.ndarray
    accuracy: np.ndarray
    accuracy_stderr: np.ndarray
    score_mean: np.ndarray
    score_mean_stderr: np.ndarray
    score_second_moment: np.ndarray
    score_second_moment_stderr: np.ndarray
    optimal_alpha: float
    optimal_alpha_stderr: float
    moments: dict  # m0, m1, T1, T2, T3 estimates
    trials: int
    method: str
    params: dict
    class_accuracy: Any = None  # (2, A): class +1, class -1 (class-dependent Ct only)
    class_accuracy_stderr: Any = None
    class_score_second_moment: Any = None
    class_score_second_moment_stderr: Any = None

    CSV_COLUMNS = (
        "alpha",
        "accuracy",
        "accuracy_stderr",
        "score_mean",
        "score_mean_stderr",
        "score_second_moment",
        "score_second_moment_stderr",
    )

    def to_csv(self, path: PathLike) -> tuple[Path, Path]:
        """Write one row per alpha (columns :attr:`CSV_COLUMNS`, then per-class columns
        ``accuracy_plus, ..., score_second_moment_stderr_minus`` when present) to ``path`` and a JSON
        sidecar (same name, ``.json`` suffix) with ``params``, ``trials``, ``method``,
        ``optimal_alpha`` and the moment estimates. Returns the two paths."""
        cols = {k: getattr(self, k) for k in self.CSV_COLUMNS}
        if self.class_accuracy is not None:
            for y, label in enumerate(("plus", "minus")):
                for k in ("accuracy", "accuracy_stderr", "score_second_moment",
                          "score_second_moment_stderr"):
                    cols[f"{k}_{label}"] = getattr(self, "class_" + k)[y]
        side = {
            "params": self.params,
            "trials": self.trials,
            "method": self.method,
            "optimal_alpha": self.optimal_alpha,
            "optimal_alpha_stderr": self.optimal_alpha_stderr,
            "moments": self.moments,
        }
        return self._write_csv(path, cols, side)


@dataclasses.dataclass(frozen=True)
class ScoreSamples(_ResultMixin):
    """Scores ``w_alpha^T x`` of fresh target test points, per class.

    ``positive[k]`` / ``negative[k]``: samples for ``alpha[k]`` of class +1 / -1 points,
    ``trials * test_points`` of them (trial-major: sample ``i * test_points + j`` is test
    point ``j`` of trial ``i``). Within a trial the same test point is scored by every alpha.
    """

    alpha: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    trials: int
    test_points: int
    method: str
    params: dict

    def to_csv(self, path: PathLike) -> tuple[Path, Path]:
        """Long format: columns ``alpha, label, score`` (one row per sample) plus a JSON sidecar."""
        A, S = self.positive.shape
        alpha = np.repeat(np.tile(self.alpha, 2), S)
        label = np.repeat([1.0, -1.0], A * S)
        score = np.concatenate([self.positive.ravel(), self.negative.ravel()])
        side = {"params": self.params, "trials": self.trials, "test_points": self.test_points,
                "method": self.method}
        return self._write_csv(path, {"alpha": alpha, "label": label, "score": score}, side)


@dataclasses.dataclass(frozen=True)
class RegressionResult(_ResultMixin):
    """Monte Carlo test risk of alpha-rescaled ridge transfer (THEORY §5).

    ``alpha``: 1-D, or 2-D ``(K, d)`` (one row of per-output ``alpha_j`` per point) when
    ``rowwise``; ``risk``/``risk_stderr``: shape ``(K,)``, the mean over trials of the exact
    risk ``||W_alpha - W_t||_F^2 + sigma^2 d`` and its standard error. ``optimal_alpha``: the
    minimiser of the estimated risk (scalar, or one per output row when ``rowwise``), with a
    delta-method standard error.
    """

    alpha: np.ndarray
    risk: np.ndarray
    risk_stderr: np.ndarray
    optimal_alpha: Any
    optimal_alpha_stderr: Any
    trials: int
    rowwise: bool
    params: dict

    def to_csv(self, path: PathLike) -> tuple[Path, Path]:
        """One row per alpha point (``alpha`` or ``alpha_0 .. alpha_{d-1}``, ``risk``,
        ``risk_stderr``) plus a JSON sidecar with ``params`` and ``optimal_alpha``."""
        if self.rowwise:
            cols = {f"alpha_{j}": self.alpha[:, j] for j in range(self.alpha.shape[1])}
        else:
            cols = {"alpha": self.alpha}
        cols.update(risk=self.risk, risk_stderr=self.risk_stderr)
        side = {"params": self.params, "trials": self.trials, "rowwise": self.rowwise,
                "optimal_alpha": self.optimal_alpha,
                "optimal_alpha_stderr": self.optimal_alpha_stderr}
        return self._write_csv(path, cols, side)


# ----------------------------------------------------------------------------------------
# Argument handling


def resolve_dtype(dtype):
    """``None`` -> float64 if JAX's x64 mode is on, else float32; float64 without x64 warns."""
    import jax
    import jax.numpy as jnp

    x64 = bool(jax.config.read("jax_enable_x64"))
    if dtype is None:
        return jnp.float64 if x64 else jnp.float32
    try:
        dt = np.dtype(dtype)
    except TypeError:
        v.fail("dtype", "float32 or float64", dtype, error=TypeError)
    if dt == np.float64:
        if not x64:
            warnings.warn(
                "dtype=float64 needs JAX's x64 mode (jax.config.update('jax_enable_x64', "
                "True) before any JAX computation); simulating in float32 instead.",
                UserWarning,
                stacklevel=3,
            )
            return jnp.float32
        return jnp.float64
    if dt == np.float32:
        return jnp.float32
    v.fail("dtype", "float32 or float64", v.Got(str(dt)))


def base_key(seed):
    """A new-style JAX key from an int seed, a typed key, or a legacy uint32 key array."""
    import jax
    import jax.numpy as jnp

    accepted = ("an int, a key from jax.random.key(...) or a legacy uint32 key from "
                "jax.random.PRNGKey(...)")
    if isinstance(seed, (bool, np.bool_)):
        v.fail("seed", accepted, seed, error=TypeError)
    if isinstance(seed, (int, np.integer)):
        try:
            return jax.random.key(int(seed))
        except OverflowError:
            v.fail("seed", "an int in the range of a JAX key (64 bits)", seed)
    if isinstance(seed, (jax.Array, np.ndarray)):
        if jnp.issubdtype(seed.dtype, jax.dtypes.prng_key):
            if seed.shape != ():
                v.fail("seed", "a single key", v.Got(f"a key array of shape {seed.shape}"))
            return seed
        if seed.dtype == np.uint32:
            try:
                return jax.random.wrap_key_data(jnp.asarray(seed))
            except (ValueError, TypeError) as exc:
                v.fail("seed", accepted, v.Got(f"a uint32 array of shape {seed.shape} ({exc})"))
    v.fail("seed", accepted, v.Got(type(seed).__name__), error=TypeError)


def _key_impl(key):
    """The name of a key's PRNG implementation (programs receive the key's raw data)."""
    import jax

    return str(jax.random.key_impl(key))


def _seed_record(seed):
    import jax

    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return int(seed)
    key = base_key(seed)
    return {"key_data": np.asarray(jax.random.key_data(key)).tolist(), "impl": _key_impl(key)}


def _alpha_1d(alpha):
    v.finite("alpha", alpha)
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim > 1 or a.size == 0:
        v.fail("alpha", "a number or a non-empty 1-D array", v.Got(f"shape {a.shape}"))
    return np.atleast_1d(a)


def _scalar(name, x):
    if np.ndim(x) != 0:
        v.fail(name, "a single number for the simulation", v.Got(f"shape {np.shape(x)}"))
    return float(x)


def _spec(n, p, task_kwargs, dtype):
    """Validate one task keyword set (exactly as the theory does, with the accepted range of
    the simulation's ``dtype``) and build a SimSpec."""
    n = v.integer("n", n)
    p = v.integer("p", p)
    given = {k: val for k, val in task_kwargs.items() if val is not None}
    task = _task.resolve(n, p, task_kwargs, dtype=dtype)  # raises like the theory
    kind = task.kind
    if task.general is not None:
        return _general_spec(n, p, kind, task.general)
    if p < 2:
        v.fail("p", ">= 2 for the simulation (mu and mu_perp are orthogonal directions)", p)
    gamma = _scalar("gamma", given["gamma"])
    if kind == "ridge source":
        N = v.integer("N", given["N"])
        vals = {k: _scalar(k, given[k]) for k in ("mu", "mu_orth", "beta", "gamma_src")}
        spec = SimSpec(n=n, p=p, gamma=gamma, source="ridge", N=N, **vals)
        params = dict(task="ridge source", N=N, gamma=gamma, **vals)
    else:
        M, s, r = (_scalar(k, x) for k, x in (("M", task.M), ("s", task.s), ("r", task.r)))
        spec = SimSpec(n=n, p=p, gamma=gamma, source="fixed", target_norm2=M, alignment=s,
                       source_norm2=r)
        params = dict(task=kind, gamma=gamma, target_norm2=M, alignment=s, source_norm2=r)
    params.update(n=n, p=p)
    return spec, params


def _cov_record(covs):
    """What the result's ``params`` say about a parsed covariance argument (not its entries)."""
    rec = [{"form": "diagonal" if c.diagonal else "dense",
            "mean_variance": float(np.mean(c.array if c.diagonal else np.diagonal(c.array)))}
           for c in covs]
    return rec[0] if len(rec) == 1 else rec


def _general_spec(n, p, kind, g):
    """A :class:`~rmt_alpha._general_direct.GeneralSpec` (factors of the covariances computed
    here, once per call) and the ``params`` record of a general-covariance task ``g``
    (a :class:`rmt_alpha._general.GeneralTask`, validated by :func:`rmt_alpha._task.resolve`)."""
    from . import _general_direct as gd

    gamma = _scalar("gamma", g.gamma)
    target_mean = np.asarray(g.target_mean, dtype=np.float64)
    params = dict(task=kind, gamma=gamma, target_cov=_cov_record(g.target_cov),
                  target_mean_norm=float(np.linalg.norm(target_mean)))
    common = dict(n=n, p=p, gamma=gamma, target_mean=target_mean,
                  target_factors=gd.factors(g.target_cov))
    if kind == "general ridge source":
        N = v.integer("N", g.N)
        gamma_src = _scalar("gamma_src", g.gamma_src)
        source_mean = np.asarray(g.source_mean, dtype=np.float64)
        spec = gd.GeneralSpec(source="ridge", N=N, gamma_src=gamma_src, source_mean=source_mean,
                              source_factors=gd.factors(g.source_cov), **common)
        params.update(N=N, gamma_src=gamma_src, source_cov=_cov_record(g.source_cov),
                      source_mean_norm=float(np.linalg.norm(source_mean)),
                      mean_alignment=float(source_mean @ target_mean))
    else:
        w = np.asarray(g.source, dtype=np.float64)
        spec = gd.GeneralSpec(source="fixed", source_vector=w, **common)
        params.update(source_norm2=float(w @ w), alignment=float(w @ target_mean))
    params.update(n=n, p=p)
    return spec, params


def _general(spec):
    return spec is not None and not isinstance(spec, SimSpec)


def _sampler(method, spec=None):
    """The batch form ``stats(keys, spec, dtype) -> (B, 2 + 3K)`` of a method's sampler (the
    general one for a general task's ``spec``; ``K = 1`` for the isotropic ones)."""
    if _general(spec):
        if method == "reduced":
            v.fail("method", "'direct' with the general-covariance keyword sets", method,
                   note="the reduced sampler is isotropic-only (THEORY §6: it relies on the "
                        "rotational invariance of isotropic noise)")
        from ._general_direct import trial_stats_batch
        return trial_stats_batch
    if method == "direct":
        from ._direct import trial_stats_batch
        return trial_stats_batch
    if method == "reduced":
        try:
            from ._reduced import trial_stats_batch
        except ImportError as exc:  # pragma: no cover - depends on the checkout
            raise ValueError(f"method='reduced' is not available in this installation: {exc}")
        return trial_stats_batch
    v.one_of("method", method, METHODS)


# ----------------------------------------------------------------------------------------
# Chunking and sharding


def _devices():
    """Every device of the run (all processes' under ``jax.distributed``), as the programs'
    static argument."""
    import jax

    return tuple(jax.devices())


def _mesh(devices):
    """The one-axis mesh ``"trials"`` over ``devices``."""
    from jax.sharding import Mesh

    return Mesh(np.array(devices), ("trials",))


def _trial_bytes(method, spec: SimSpec, itemsize):
    """Device bytes one trial of a sampler holds at once (an upper estimate).

    direct: the one normal draw of shape ``(N + n, p + 1)`` (drawn in float64 under x64),
    the data blocks built from it and their Gram matrices; reduced: a block of rows
    (:func:`rmt_alpha._reduced.bytes_per_trial`), whatever ``p``; general covariances:
    :func:`rmt_alpha._general_direct.bytes_per_trial` (the covariance factors, held once per
    device, are :func:`_replicated_bytes`).
    """
    if _general(spec):
        from ._general_direct import bytes_per_trial

        return bytes_per_trial(spec, itemsize)
    if method != "direct":
        from ._reduced import bytes_per_trial

        return bytes_per_trial(itemsize)
    ms = [spec.n] + ([spec.N] if spec.source == "ridge" else [])
    rows = sum(ms) * (spec.p + 1)
    return 8 * rows + itemsize * (4 * rows + 2 * sum(min(m, spec.p) ** 2 for m in ms))


def _replicated_bytes(spec, itemsize):
    """Device bytes every device holds once, whatever the chunk: a general task's covariance
    factors (``p^2`` each when dense), means and source vector; 0 for the isotropic sets."""
    if not _general(spec):
        return 0
    from ._general_direct import replicated_bytes

    return replicated_bytes(spec, itemsize)


def _regression_trial_bytes(n, p, d, K, itemsize):
    """Device bytes of one regression trial: the draw ``(n, p + d)`` (float64 under x64), the
    data, the Gram matrix, the solution and the ``K x d`` risks."""
    return 8 * n * (p + d) + itemsize * (3 * n * (p + d) + 2 * min(n, p) ** 2 + 4 * d * p
                                         + 2 * n * d + 2 * d * K)


def _chunk_cap(method, spec: SimSpec):
    """Most trials per device in one default chunk (:func:`rmt_alpha._memory.plan`)."""
    if method == "direct" or _general(spec):
        return _memory.MAX_CHUNK_PER_DEVICE
    from ._reduced import chunk_per_device

    return chunk_per_device(spec)


def _describe(spec, dtype, method):
    sizes = (f"N = {spec.N}, " if spec.source == "ridge" else "") + f"n = {spec.n}, p = {spec.p}"
    if _general(spec):
        sizes += ", general covariances"
    return f"{sizes}, {np.dtype(dtype).name}, method='{method}'"


# (advice, its chunk_size part) per sampler; the part goes where the "{}" is.
_WAYS_OUT = {
    "direct": ("use method='reduced' (O(p) memory per trial), {}or fewer points (n, N, p)",
               "a smaller chunk_size, "),
    "reduced": ("use {}a smaller p", "a smaller chunk_size or "),
    "general": ("use {}fewer points (n, N) or a smaller p", "a smaller chunk_size, "),
}


def _ways_out(spec, method, *, chunk_size=True):
    """How to make a run fit; ``chunk_size=False`` for an entry point without that argument."""
    advice, chunk = _WAYS_OUT["general" if _general(spec) else method]
    return advice.format(chunk if chunk_size else "")


def _sharded(fn, devices, impl, n_replicated):
    """``fn(keys, *replicated)`` on a chunk of trial keys (trial ``i``: ``fold_in(key, i)``,
    for the trial indices ``idx``), split over the mesh of ``devices``; the base key arrives
    as its raw data (``impl``)."""
    import jax
    from jax.sharding import PartitionSpec as P

    def local(key_data, idx, *rep):
        base = jax.random.wrap_key_data(key_data, impl=impl)
        return fn(jax.vmap(lambda i: jax.random.fold_in(base, i))(idx), *rep)

    # check_vma=False: every device computes its own trials with no collectives, and a
    # sampler's lax.scan may start from an unsharded constant carry (rejected by the check).
    return jax.shard_map(
        local, mesh=_mesh(devices),
        in_specs=(P(), P("trials")) + (P(),) * n_replicated, out_specs=P("trials"),
        check_vma=False,
    )


def _jit_replicated(program, devices):
    """``jax.jit(program)`` with every output replicated on all devices, so that each
    process of a multi-process run (``jax.distributed``) receives the whole result."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P

    return jax.jit(program, out_shardings=NamedSharding(_mesh(devices), P()))


def _run_chunks(program, trials, chunk, n_chunks, key, args, progress, consume, desc):
    """Run ``program(key, start, count, *args)`` over all chunks (trials ``start ..
    start + chunk - 1``, the first ``count`` of them real); ``consume(out, count)``.

    On a CPU backend the runs of this process take turns (see :func:`_cpu_turn`) and a
    chunk finishes before the next one starts; on accelerators chunk ``c`` runs while
    the host consumes chunk ``c - 1``.
    """
    import jax

    mesh = _mesh(_devices())
    on_cpu = jax.default_backend() == "cpu"
    with _cpu_turn() if on_cpu else contextlib.nullcontext():
        _run_chunk_loop(program, trials, chunk, n_chunks, key, args, progress, consume, desc,
                        mesh, overlap=not on_cpu)


# One run at a time on XLA:CPU. JAX's CPU linear algebra (batched Cholesky, triangular
# solves, eigh) splits a batch over XLA's intra-op thread pool and blocks a pool thread
# until the parts are done. When every pool thread is such a waiting batch kernel (two
# programs executing at once on a 2-core machine: simulations run from two Python threads,
# or two chunks of one run in flight), the parts never get a thread and the process hangs
# at 0 % CPU (seen in CI: four threads, each in device_get, both pool threads inside
# lapack_dpotrf's batch map). Serialising our executions removes the second program.
_CPU_RUN = threading.RLock()


@contextlib.contextmanager
def _cpu_turn():
    """Hold the process's CPU-run lock, with one OpenBLAS thread (:mod:`rmt_alpha._blas`)."""
    with _CPU_RUN, one_blas_thread():
        yield


def _global_array(x, sharding):
    """A host array placed with ``sharding``; in a multi-process run every process passes
    the same ``x`` and contributes the shards of its own devices."""
    import jax

    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def _run_chunk_loop(program, trials, chunk, n_chunks, key, args, progress, consume, desc, mesh,
                    overlap):
    import jax
    from jax.sharding import NamedSharding, PartitionSpec as P
    from tqdm.auto import tqdm

    replicated = NamedSharding(mesh, P())
    key = _global_array(jax.random.key_data(key), replicated)
    args = [_global_array(a, replicated) for a in args]
    show = progress and jax.process_index() == 0
    with tqdm(total=trials, desc=desc, unit="trial", disable=not show) as bar:

        def finish(out, count):
            consume(jax.device_get(out), count)
            bar.update(count)

        pending = None
        for c in range(n_chunks):
            count = min(chunk, trials - c * chunk)
            out = program(key, _global_array(np.uint32(c * chunk), replicated),
                          _global_array(np.int32(count), replicated), *args)
            if not overlap:
                finish(out, count)
                continue
            if pending is not None:  # finish chunk c-1 while chunk c runs
                finish(*pending)
            pending = (out, count)
        if pending is not None:
            finish(*pending)


class _Running:
    """Running count, mean and sum of centred products of per-trial features, merged batch by
    batch (Chan et al.): elementwise squares (:class:`_Curve`, curves over alpha) or the
    co-moment matrices of feature vectors (:class:`_Moments`, shape (G, k) -> (G, k, k))."""

    outer = False

    def __init__(self):
        self.count = 0
        self.mean = None
        self.m2 = None

    def add(self, count, mean, m2):
        """Merge a batch of ``count`` trials with mean ``mean`` and centred products ``m2``."""
        mean = np.asarray(mean, dtype=np.float64)
        m2 = np.asarray(m2, dtype=np.float64)
        if self.count == 0:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        n = self.count + count
        delta = mean - self.mean
        product = np.einsum("gi,gj->gij", delta, delta) if self.outer else delta * delta
        self.mean = self.mean + delta * (count / n)
        self.m2 = self.m2 + m2 + product * (self.count * count / n)
        self.count = n

    def covariance_of_mean(self):
        """Sample (co)variance / count: that of the estimated means (nan if count < 2)."""
        if self.count < 2:
            return np.full_like(self.m2, np.nan)
        return self.m2 / (self.count - 1) / self.count


class _Moments(_Running):
    outer = True


class _Curve(_Running):
    def stderr(self):
        return np.sqrt(self.covariance_of_mean())


def _masked_mean_m2(x, valid, outer=False):
    """Mean and centred products over the valid rows of ``x`` (b, ...), on the device (two
    passes: the mean, then the products): elementwise squares summed over rows, or with
    ``outer`` the co-moment matrices (G, k, k) of features ``x`` (b, G, k) (:class:`_Running`
    merges them)."""
    import jax.numpy as jnp

    w = valid.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))
    mean = jnp.sum(x * w, axis=0) / jnp.sum(w)
    dev = (x - mean) * w
    return mean, (jnp.einsum("bgi,bgj->gij", dev, dev) if outer else jnp.sum(dev * dev, axis=0))


def _chunk_valid(chunk, start, count):
    """The trial indices ``start .. start + chunk - 1`` of a chunk and which are real."""
    import jax.numpy as jnp

    pos = jnp.arange(chunk, dtype=jnp.uint32)
    return start + pos, pos < count.astype(jnp.uint32)


# ----------------------------------------------------------------------------------------
# Classification


_FLOAT_FIELDS = ("gamma", "mu", "mu_orth", "beta", "gamma_src", "target_norm2", "alignment",
                 "source_norm2")


def _split_spec(spec):
    """``(static spec, names, values)``: the float parameters (a general task's arrays,
    packed into one vector by :func:`rmt_alpha._general_direct.split`) are traced arguments,
    so one compiled program serves every task of the same shapes (n, p, N, source kind)."""
    if _general(spec):
        from ._general_direct import split

        return split(spec)
    names = tuple(f for f in _FLOAT_FIELDS if getattr(spec, f) is not None)
    return spec._replace(**{f: None for f in names}), names, tuple(getattr(spec, f) for f in names)


def _with_values(static, names, vec):
    if _general(static):
        from ._general_direct import with_values

        return with_values(static, vec)
    return static._replace(**{f: vec[i] for i, f in enumerate(names)}) if names else static


def _class_forms(stats):
    """``(a, b, [(c_y, d_y, e_y) per test class])`` of sampler statistics (``2 + 3K``
    columns: one class for a shared test covariance, two for a pair), as column slices."""
    K = (stats.shape[1] - 2) // 3
    cols = [stats[:, i : i + 1] for i in range(stats.shape[1])]
    return cols[0], cols[1], [cols[2 + 3 * y : 5 + 3 * y] for y in range(K)]


def _norm_columns(static, stats):
    """Columns of the statistics that must be normal numbers: ``||w0||^2, ||v||^2`` for the
    isotropic samplers; every ``w0^T Ct_y w0`` for a general task (``v^T Ct_y v`` may vanish
    exactly: a source in the null space of a singular ``Ct_y``)."""
    if _general(static):
        return tuple(range(2, stats.shape[1], 3))
    return (2, 4)


@functools.lru_cache(maxsize=32)
def _accuracy_program(sampler, static, names, dtype_name, devices, impl, chunk):
    import jax.numpy as jnp
    from jax.scipy.special import ndtr

    dtype = jnp.dtype(dtype_name)
    per_trial = _sharded(
        lambda keys, vec: sampler(keys, _with_values(static, names, vec), dtype), devices, impl, 1)

    def program(key, start, count, alpha, vec):
        idx, valid = _chunk_valid(chunk, start, count)
        stats = per_trial(key, idx, vec)
        a, b, forms = _class_forms(stats)
        mean = a + alpha * b
        acc = [ndtr(mean / jnp.sqrt(c + alpha * (2.0 * d + alpha * e))) for c, d, e in forms]
        if len(acc) > 1:  # class-dependent test covariances: the average, then each class
            acc = [0.5 * (acc[0] + acc[1])] + acc
        features = _score_features(stats, jnp)[:, None, :]
        return (_masked_mean_m2(jnp.concatenate(acc, axis=1), valid)
                + _masked_mean_m2(features, valid, outer=True)
                + _bad_trials(stats, valid, dtype, _norm_columns(static, stats)))

    return _jit_replicated(program, devices)


def _bad_rows(stats, dtype, norms, xp=np):
    """Which trials (rows of ``stats``) a ``dtype`` simulation does not represent: a
    non-finite statistic, or a squared norm (columns ``norms``) that is not a normal number."""
    stats = stats.reshape(stats.shape[0], -1)
    bad = ~xp.isfinite(stats).all(axis=1)
    for j in norms:
        bad |= ~(stats[:, j] >= np.finfo(dtype).tiny)
    return bad


def _bad_trials(stats, valid, dtype, norms=(2, 4)):
    """On the device: the number of bad trials (:func:`_bad_rows`) among the valid ones and
    the statistics of the first (for :func:`_refuse_bad_trials`)."""
    import jax.numpy as jnp

    bad = _bad_rows(stats, dtype, norms, jnp) & valid
    return jnp.sum(bad), stats.reshape(stats.shape[0], -1)[jnp.argmax(bad)]


def _refuse_bad_trials(count, example, dtype):
    """Every trial's statistics must be finite, and its squared norms (``||w0||^2, ||v||^2``
    for a classification trial) normal numbers of ``dtype``: anything else means the task
    lies outside what a ``dtype`` simulation represents, and it is refused rather than
    averaged in silently. ``count`` bad trials, ``example`` the statistics of one."""
    if count:
        shown = ", ".join(f"{x:.3g}" for x in np.asarray(example)[:6])
        shown += ", ..." if np.size(example) > 6 else ""
        v.fail("the task", f"one that a {np.dtype(dtype).name} simulation can represent",
               v.Got(f"{int(count)} trial(s) with non-finite or underflowing statistics "
                     f"(e.g. [{shown}])"),
               note="use float64 (JAX's x64 mode) or parameters nearer 1")


def _check_trials(stats, dtype, norms=(2, 4)):
    """:func:`_refuse_bad_trials` for statistics on the host (one row per trial)."""
    bad = _bad_rows(stats, dtype, norms)
    _refuse_bad_trials(int(bad.sum()), stats.reshape(stats.shape[0], -1)[int(np.argmax(bad))],
                       dtype)


def _score_features(stats, xp=np):
    """Per-trial ``(a, b, q1_y, q2_y, q3_y per class, c_y, d_y, e_y per class)``: the score
    mean is ``a + alpha b``, the class-y second moment ``q1_y + alpha q2_y + alpha^2 q3_y``;
    ``c_y, d_y, e_y`` are the raw quadratic forms (the general theory's V0_y, V01_y, V11_y)."""
    a, b, forms = _class_forms(stats)
    q = [xp.concatenate([a * a + c, 2.0 * (a * b + d), b * b + e], axis=1) for c, d, e in forms]
    return xp.concatenate([a, b] + q + [stats[:, 2:]], axis=1)


def optimal_alpha_from_moments(m0, m1, T1, T2, T3):
    """The stationary point of ``(m0 + alpha m1) / sqrt(E2 - m^2)`` (unique; THEORY §3).

    With ``V = v0 + alpha v1 + alpha^2 v2`` (``v0 = T1 - m0^2``, ``v1 = T2 - 2 m0 m1``,
    ``v2 = T3 - m1^2``), ``d/d alpha (m / sqrt(V)) = 0`` is linear in alpha:
    ``alpha* = (2 m1 v0 - m0 v1) / (2 m0 v2 - m1 v1)``.
    Returns ``(alpha*, gradient with respect to (m0, m1, T1, T2, T3))``.
    """
    v0, v1, v2 = T1 - m0 * m0, T2 - 2.0 * m0 * m1, T3 - m1 * m1
    P = 2.0 * m1 * v0 - m0 * v1
    Q = 2.0 * m0 * v2 - m1 * v1
    dP = np.array([-2.0 * m0 * m1 - v1, 2.0 * v0 + 2.0 * m0 * m0, 2.0 * m1, -m0, 0.0])
    dQ = np.array([2.0 * v2 + 2.0 * m1 * m1, -2.0 * m0 * m1 - v1, 0.0, -m1, 2.0 * m0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return P / Q, (dP * Q - P * dQ) / (Q * Q)


def optimal_alpha_class_average(m0, m1, T_plus, T_minus):
    """The maximiser of the class-averaged accuracy model
    ``A(alpha) = (Phi(m / sqrt(V_+)) + Phi(m / sqrt(V_-))) / 2``, ``m = m0 + alpha m1``,
    ``V_y = E2_y - m^2`` with ``E2_y = T1_y + alpha T2_y + alpha^2 T3_y`` (the class-y score
    variance; THEORY §9.5 and §10): the theory's two-class maximiser
    (:func:`rmt_alpha._general._two_class_argmax`) applied to the estimated moments.
    """
    from ._general import _two_class_argmax

    T = np.array([T_plus, T_minus], dtype=np.float64)
    return _two_class_argmax(m0, m1, T[:, 0] - m0 * m0, 0.5 * T[:, 1] - m0 * m1,
                             T[:, 2] - m1 * m1)


def _class_average_optimum_with_gradient(th):
    """``optimal_alpha_class_average`` of ``th = (m0, m1, T_+, T_-)`` and its gradient
    (central differences; for the delta-method standard error)."""
    def f(x):
        return optimal_alpha_class_average(x[0], x[1], x[2:5], x[5:8])

    a = f(th)
    if not math.isfinite(a):
        return a, np.full(8, math.nan)
    grad = np.empty(8)
    for i in range(8):
        h = 1e-6 * max(abs(th[i]), 1e-3)
        up, dn = th.copy(), th.copy()
        up[i] += h
        dn[i] -= h
        grad[i] = (f(up) - f(dn)) / (2.0 * h)
    return a, grad


def _moment_summary(alpha, th, cov, K, general):
    """Result fields from the means ``th`` and covariance ``cov`` of :func:`_score_features`."""

    def poly(idx):  # sum_k th[idx[k]] alpha^k and its standard error
        G = np.stack([alpha**k for k in range(len(idx))], axis=1)
        return G @ th[idx], np.sqrt(np.einsum("ai,ij,aj->a", G, cov[np.ix_(idx, idx)], G))

    T = [[2 + 3 * y, 3 + 3 * y, 4 + 3 * y] for y in range(K)]
    out = {}
    out["score_mean"], out["score_mean_stderr"] = poly([0, 1])
    out["score_second_moment"], out["score_second_moment_stderr"] = poly(T[0])
    if K == 1:
        a_star, grad = optimal_alpha_from_moments(*th[:5])
        idx = list(range(5))
        names = ["m0", "m1", "T1", "T2", "T3"] + (["V0", "V01", "V11"] if general else [])
    else:
        e2 = [poly(t) for t in T]
        out["class_score_second_moment"] = np.stack([x for x, _ in e2])
        out["class_score_second_moment_stderr"] = np.stack([se for _, se in e2])
        idx = list(range(8))
        a_star, grad = _class_average_optimum_with_gradient(th[idx].copy())
        names = ["m0", "m1", "T1", "T2", "T3", "T1_minus", "T2_minus", "T3_minus",
                 "V0_plus", "V01_plus", "V11_plus", "V0_minus", "V01_minus", "V11_minus"]
    g_cov = cov[np.ix_(idx, idx)]
    out["optimal_alpha"] = float(a_star)
    out["optimal_alpha_stderr"] = (float(np.sqrt(grad @ g_cov @ grad))
                                   if np.all(np.isfinite(grad)) else math.nan)
    keep = list(range(2 + 3 * K)) + (list(range(2 + 3 * K, 2 + 6 * K)) if general else [])
    ses = np.sqrt(np.diag(cov))
    out["moments"] = {k: float(th[i]) for k, i in zip(names, keep)}
    out["moments"].update({k + "_stderr": float(ses[i]) for k, i in zip(names, keep)})
    return out


def _prepare(alpha, n, p, task_kwargs, trials, seed, method, dtype):
    alpha = _alpha_1d(alpha)
    jdtype = resolve_dtype(dtype)
    spec, params = _spec(n, p, task_kwargs, jdtype)
    trials = v.integer("trials", trials)
    v.one_of("method", method, METHODS)
    key = base_key(seed)
    check_cpu_scheduler()
    sampler = _sampler(method, spec)
    params.update(seed=_seed_record(seed), dtype=np.dtype(jdtype).name)
    return alpha, spec, params, trials, key, jdtype, sampler


def simulate(alpha: ArrayLike, n: int, p: int, *, N: int | None = None,
             mu: float | None = None, mu_orth: float | None = None, beta: float | None = None,
             gamma: float | None = None, gamma_src: float | None = None,
             target_norm2: float | None = None, alignment: float | None = None,
             source_norm2: float | None = None, source: ArrayLike | None = None,
             target_mean: ArrayLike | None = None, source_mean: ArrayLike | None = None,
             source_cov: Covariance | None = None, target_cov: Covariance | None = None,
             trials: int, seed: Seed = 0, method: str = "direct", dtype: Any = None,
             chunk_size: int | None = None, progress: bool = False) -> SimulationResult:
    r"""Monte Carlo of the alpha-rescaled classifier on a grid of ``alpha`` (THEORY §6).

    Every trial draws fresh source and target data, solves once in the smaller dimension
    and evaluates the exact conditional accuracy
    ``Phi((w0^T mu_beta + alpha v^T mu_beta) / ||w0 + alpha v||)`` of every ``alpha``.

    ``trials``: number of trials; ``seed``: an int or a JAX key (``jax.random.key`` or a
    legacy ``jax.random.PRNGKey``) -- trial ``i`` uses ``jax.random.fold_in(key, i)``, so
    the result does not depend on ``chunk_size`` or on the number of devices (up to float
    rounding); ``method``: ``"direct"`` (build the data; :mod:`rmt_alpha._direct`) or
    ``"reduced"`` (exact reduced sampler, :mod:`rmt_alpha._reduced`); ``dtype``: float32 or
    float64 (default: float64 if JAX's x64 mode is on, else float32; asking for float64
    without x64 warns and uses float32); ``chunk_size``: trials per compiled chunk (rounded
    up to a multiple of the device count; default from a memory budget); ``progress``: show
    a tqdm bar. Trials are split over all devices of ``jax.devices()``.

    With the source-vector keyword set the task is reduced to ``M = ||mu_beta||^2``,
    ``s = w~^T mu_beta``, ``r = ||w~||^2`` (exact in law by rotational invariance).

    General covariances (THEORY §10, THEORY_GENERAL §1, §9): the keyword sets
    ``N, source_mean, target_mean, source_cov, target_cov, gamma, gamma_src`` (ridge source)
    and ``source, target_mean, target_cov, gamma`` (fixed source vector), with each covariance
    a ``(p, p)`` PSD array, a ``(p,)`` diagonal or a pair ``(C_plus, C_minus)``. Only
    ``method="direct"`` (:mod:`rmt_alpha._general_direct`: the data ``mu y^T + C^{1/2} Z``
    for ``m <= p`` samples, the exact Wishart/Bartlett route for ``m > p``); the per-trial
    accuracy is ``Phi(w_alpha^T mu_t / sqrt(w_alpha^T Ct_y w_alpha))`` averaged over the two
    test classes. For a pair ``Ct = (Ct_+, Ct_-)`` the result also has per-class fields and
    ``optimal_alpha`` maximises the class-averaged accuracy model built from the estimated
    moments (THEORY §10.4). Returns a :class:`SimulationResult`.
    """
    task_kwargs = dict(N=N, mu=mu, mu_orth=mu_orth, beta=beta, gamma=gamma, gamma_src=gamma_src,
                       target_norm2=target_norm2, alignment=alignment,
                       source_norm2=source_norm2, source=source, target_mean=target_mean,
                       source_mean=source_mean, source_cov=source_cov, target_cov=target_cov)
    alpha, spec, params, trials, key, jdtype, sampler = _prepare(
        alpha, n, p, task_kwargs, trials, seed, method, dtype)
    v.boolean("progress", progress)
    itemsize = np.dtype(jdtype).itemsize
    chunk, n_chunks = _memory.plan(
        f"simulate(method='{method}')", trials=trials, chunk_size=chunk_size,
        per_trial=_trial_bytes(method, spec, itemsize) + 12 * itemsize * alpha.size,
        replicated=_replicated_bytes(spec, itemsize), cap=_chunk_cap(method, spec),
        detail=_describe(spec, jdtype, method), ways_out=_ways_out(spec, method))
    static, names, values = _split_spec(spec)
    program = _accuracy_program(sampler, static, names, np.dtype(jdtype).name,
                                _devices(), _key_impl(key), chunk)

    curve, moments = _Curve(), _Moments()

    def consume(out, count):
        mean, m2, feature_mean, feature_comoment, n_bad, bad_example = out
        _refuse_bad_trials(n_bad, bad_example, jdtype)
        curve.add(count, mean, m2)
        moments.add(count, feature_mean, feature_comoment)

    import jax.numpy as jnp

    args = [jnp.asarray(alpha, dtype=jdtype), jnp.asarray(values, dtype=jdtype)]
    _run_chunks(program, trials, chunk, n_chunks, key, args, progress, consume, "simulate")

    K = (moments.mean.shape[1] - 2) // 6  # test classes with their own covariance
    fields = _moment_summary(alpha, moments.mean[0], moments.covariance_of_mean()[0], K,
                             general=_general(spec))
    acc, acc_se = (np.asarray(x, dtype=np.float64).reshape(-1, alpha.size)
                   for x in (curve.mean, curve.stderr()))
    if K > 1:
        fields.update(class_accuracy=acc[1:], class_accuracy_stderr=acc_se[1:])
    return SimulationResult(alpha=alpha, accuracy=acc[0], accuracy_stderr=acc_se[0],
                            trials=trials, method=method, params=params, **fields)


@functools.lru_cache(maxsize=32)
def _scores_program(sampler, static, names, dtype_name, test_points, devices, impl, chunk):
    import jax
    import jax.numpy as jnp

    from ._direct import normal

    dtype = jnp.dtype(dtype_name)

    def batch(keys, vec):
        xi = jax.vmap(lambda k: normal(jax.random.fold_in(k, _TEST_POINT_TAG),
                                       (2, 2, test_points), dtype))(keys)
        return sampler(keys, _with_values(static, names, vec), dtype), xi

    per_trial = _sharded(batch, devices, impl, 1)

    def program(key, start, count, alpha, vec):
        stats, xi = per_trial(key, _chunk_valid(chunk, start, count)[0], vec)
        a, b = (stats[:, i, None, None, None] for i in range(2))  # (b, 1, 1, 1)
        forms = stats[:, 2:].reshape(stats.shape[0], -1, 3)  # one row per test covariance
        c, d, e = (forms[:, :, i, None, None] for i in range(3))  # (b, 1 or 2 classes, 1, 1)
        # (w0^T z, v^T z) ~ N(0, [[c, d], [d, e]]) jointly, for a test point's noise z
        s0 = jnp.sqrt(c)
        u = xi[:, :, None, 0, :]  # (b, class, 1, tp)
        w = xi[:, :, None, 1, :]
        al = alpha[None, None, :, None]
        noise = s0 * u + al * ((d / s0) * u + jnp.sqrt(jnp.maximum(e - d * d / c, 0.0)) * w)
        mean = a + al * b  # (b, 1, A, 1)
        sign = jnp.array([1.0, -1.0], dtype=dtype)[None, :, None, None]
        return sign * mean + noise  # (b, class, A, tp)

    return _jit_replicated(program, devices)


def simulate_scores(alpha: ArrayLike, n: int, p: int, *, N: int | None = None,
                    mu: float | None = None, mu_orth: float | None = None,
                    beta: float | None = None, gamma: float | None = None,
                    gamma_src: float | None = None, target_norm2: float | None = None,
                    alignment: float | None = None, source_norm2: float | None = None,
                    source: ArrayLike | None = None, target_mean: ArrayLike | None = None,
                    source_mean: ArrayLike | None = None, source_cov: Covariance | None = None,
                    target_cov: Covariance | None = None, trials: int, test_points: int,
                    seed: Seed = 0, method: str = "direct", dtype: Any = None) -> ScoreSamples:
    r"""Samples of the score ``w_alpha^T x`` of fresh target test points of each class.

    Each trial trains ``w_alpha = w0 + alpha v`` on fresh data (same draws as
    :func:`simulate` with the same seed) and scores ``test_points`` points of class +1 and
    as many of class -1. Exactly in law, ``w^T x = y w^T mu_beta + w^T z`` with
    ``(w0^T z, v^T z)`` a centred Gaussian pair of covariance ``[[||w0||^2, w0.v],
    [w0.v, ||v||^2]]``, so the points are not built in dimension ``p``. For THEORY §8 item 6:
    the histogram of each class against ``N(+-m, E2 - m^2)``. General covariances (keyword
    sets as in :func:`simulate`): the pair of a class-``y`` point has the covariance of the
    ``Ct_y`` quadratic forms ``[[w0^T Ct_y w0, w0^T Ct_y v], [w0^T Ct_y v, v^T Ct_y v]]``.
    Returns :class:`ScoreSamples`.
    """
    task_kwargs = dict(N=N, mu=mu, mu_orth=mu_orth, beta=beta, gamma=gamma, gamma_src=gamma_src,
                       target_norm2=target_norm2, alignment=alignment,
                       source_norm2=source_norm2, source=source, target_mean=target_mean,
                       source_mean=source_mean, source_cov=source_cov, target_cov=target_cov)
    alpha, spec, params, trials, key, jdtype, sampler = _prepare(
        alpha, n, p, task_kwargs, trials, seed, method, dtype)
    test_points = v.integer("test_points", test_points)
    itemsize = np.dtype(jdtype).itemsize
    samples = 2 * alpha.size * test_points  # scores per trial
    chunk, n_chunks = _memory.plan(
        f"simulate_scores(method='{method}')", trials=trials,
        per_trial=_trial_bytes(method, spec, itemsize) + 2 * itemsize * samples,
        host=2 * 8 * samples * trials,  # the float64 samples, gathered then reshaped
        replicated=_replicated_bytes(spec, itemsize), cap=_chunk_cap(method, spec),
        detail=_describe(spec, jdtype, method) + f", {trials} trials x {samples} scores",
        ways_out=_ways_out(spec, method, chunk_size=False)
        + ", or fewer trials, test_points or alphas")
    static, names, values = _split_spec(spec)
    program = _scores_program(sampler, static, names, np.dtype(jdtype).name, test_points,
                              _devices(), _key_impl(key), chunk)
    parts = []

    def consume(out, count):
        scores = np.asarray(out, dtype=np.float64)[:count]
        _check_trials(scores, jdtype, norms=())
        parts.append(scores)

    import jax.numpy as jnp

    args = [jnp.asarray(alpha, dtype=jdtype), jnp.asarray(values, dtype=jdtype)]
    _run_chunks(program, trials, chunk, n_chunks, key, args, False, consume, "simulate_scores")
    s = np.concatenate(parts, axis=0)  # (trials, class, A, tp)
    s = np.moveaxis(s, 0, 2).reshape(2, alpha.size, trials * test_points)
    params.update(test_points=test_points)
    return ScoreSamples(alpha=alpha, positive=np.ascontiguousarray(s[0]),
                        negative=np.ascontiguousarray(s[1]), trials=trials,
                        test_points=test_points, method=method, params=params)


# ----------------------------------------------------------------------------------------
# Regression


@functools.lru_cache(maxsize=32)
def _regression_program(n, dtype_name, devices, impl, chunk):
    import jax
    import jax.numpy as jnp

    from ._direct import regression_trial_stats

    dtype = jnp.dtype(dtype_name)

    def batch(keys, Ws, Wt, sg):
        return jax.vmap(lambda k: regression_trial_stats(k, Ws, Wt, sg[0], sg[1], n))(keys)

    per_trial = _sharded(batch, devices, impl, 3)

    def program(key, start, count, alpha, Ws, Wt, sg):  # alpha: (K, d); sg = (sigma, gamma)
        idx, valid = _chunk_valid(chunk, start, count)
        R = per_trial(key, idx, Ws, Wt, sg)  # (b, d, 3)
        sigma = sg[0]
        d = R.shape[1]
        risk = (jnp.sum(R[:, :, 0], axis=1)[:, None] + 2.0 * R[:, :, 1] @ alpha.T
                + R[:, :, 2] @ (alpha * alpha).T + (sigma * sigma * d))
        features = R[:, :, 1:]  # R1_j, R2_j per row, and their sums over rows
        features = jnp.concatenate([features, jnp.sum(features, axis=1, keepdims=True)], axis=1)
        # a zero row of W_s has V_j = 0: no norm check
        return (_masked_mean_m2(risk, valid) + _masked_mean_m2(features, valid, outer=True)
                + _bad_trials(R, valid, dtype, norms=()))

    return _jit_replicated(program, devices)


def simulate_regression(alpha: ArrayLike, n: int, p: int, *, W_source: ArrayLike,
                        W_target: ArrayLike, sigma: float, gamma: float, trials: int,
                        seed: Seed = 0, rowwise: bool = False, dtype: Any = None,
                        chunk_size: int | None = None,
                        progress: bool = False) -> RegressionResult:
    r"""Monte Carlo of the test risk of alpha-rescaled multi-output ridge transfer (THEORY §5).

    Targets ``y = W_t x + sigma eps`` (``x ~ N(0, I_p)``, ``eps ~ N(0, I_d)``), ``n`` fresh
    training points per trial, ``W_alpha = Y X^T Q / n + alpha gamma W_s Q``; the test risk
    of each trial is exact: ``E ||W_alpha x - y||^2 = ||W_alpha - W_t||_F^2 + sigma^2 d``.
    ``W_source``, ``W_target``: ``(d, p)`` arrays. ``rowwise=True``: ``alpha`` has shape
    ``(d,)`` or ``(K, d)``, one ``alpha_j`` per output row. ``seed``, ``dtype``,
    ``chunk_size``, ``progress``: as in :func:`simulate`. Returns :class:`RegressionResult`.
    """
    import jax.numpy as jnp

    from ._regression import _check_norms, _check_pair

    n = v.integer("n", n)
    p = v.integer("p", p)
    trials = v.integer("trials", trials)
    v.nonnegative("sigma", sigma)
    v.positive("gamma", gamma)
    sigma, gamma = _scalar("sigma", sigma), _scalar("gamma", gamma)
    _check_pair(W_source, W_target)
    jdtype = resolve_dtype(dtype)
    v.ratio("p", p, "n", n, jdtype)
    v.magnitude("gamma", gamma, jdtype, zero=False)
    v.magnitude("sigma", sigma, jdtype, squared=True)
    _check_norms(W_source, W_target, jdtype)
    Ws = np.asarray(W_source, dtype=np.float64)
    Wt = np.asarray(W_target, dtype=np.float64)
    if Ws.shape[1] != p:
        v.fail("p", f"the number of columns of W_source ({Ws.shape[1]})", p)
    d = Ws.shape[0]
    v.boolean("rowwise", rowwise)
    v.boolean("progress", progress)
    v.finite("alpha", alpha)
    a = np.asarray(alpha, dtype=np.float64)
    if rowwise:
        if a.ndim not in (1, 2) or a.shape[-1] != d:
            v.fail("alpha", f"of shape (d,) or (K, d) with d = {d} (rowwise=True)",
                   v.Got(f"shape {a.shape}"))
        a = np.atleast_2d(a)
        alpha_mat = a
    else:
        a = _alpha_1d(a)
        alpha_mat = np.repeat(a[:, None], d, axis=1)
    key = base_key(seed)
    check_cpu_scheduler()
    itemsize = np.dtype(jdtype).itemsize
    chunk, n_chunks = _memory.plan(
        "simulate_regression", trials=trials, chunk_size=chunk_size,
        per_trial=_regression_trial_bytes(n, p, d, alpha_mat.shape[0], itemsize),
        detail=f"n = {n}, p = {p}, d = {d}, {np.dtype(jdtype).name}",
        ways_out="use a smaller chunk_size or fewer points (n, p, d)")
    program = _regression_program(n, np.dtype(jdtype).name, _devices(),
                                  _key_impl(key), chunk)
    curve, moments = _Curve(), _Moments()

    def consume(out, count):
        mean, m2, feature_mean, feature_comoment, n_bad, bad_example = out
        _refuse_bad_trials(n_bad, bad_example, jdtype)
        curve.add(count, mean, m2)
        moments.add(count, feature_mean, feature_comoment)

    args = [jnp.asarray(alpha_mat, dtype=jdtype), jnp.asarray(Ws, dtype=jdtype),
            jnp.asarray(Wt, dtype=jdtype), jnp.asarray([sigma, gamma], dtype=jdtype)]
    _run_chunks(program, trials, chunk, n_chunks, key, args, progress, consume,
                "simulate_regression")

    # risk(alpha_j) is minimised at alpha_j* = -E[R1_j] / E[R2_j]; delta method for its error
    r1, r2 = moments.mean[:, 0], moments.mean[:, 1]
    cov = moments.covariance_of_mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        a_star = np.where(r2 > 0, -r1 / r2, 0.0)
        g = np.stack([-1.0 / r2, r1 / (r2 * r2)], axis=1)
        se = np.sqrt(np.einsum("gi,gij,gj->g", g, cov, g))
    if rowwise:
        opt, opt_se = a_star[:d], se[:d]
    else:
        opt, opt_se = float(a_star[d]), float(se[d])
    params = dict(n=n, p=p, d=d, sigma=sigma, gamma=gamma, W_source=Ws, W_target=Wt,
                  seed=_seed_record(seed), dtype=np.dtype(jdtype).name)
    return RegressionResult(alpha=a, risk=np.asarray(curve.mean), risk_stderr=curve.stderr(),
                            optimal_alpha=opt, optimal_alpha_stderr=opt_se, trials=trials,
                            rowwise=bool(rowwise), params=params)
