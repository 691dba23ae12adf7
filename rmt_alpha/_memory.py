"""Memory: estimate before allocating, refuse what cannot fit (issue 9, class 2).

:func:`guard` is the one check every entry point that allocates in proportion to its
arguments calls *before* allocating: the Monte Carlo (through :func:`plan`, which also
chooses the chunking), the broadcast of the closed forms, and the Gram and whitening
matrices of :func:`rmt_alpha.estimate_task`. It compares an estimate in bytes with the
memory of the device that would hold it and raises a ``ValueError`` that gives the
estimate, the limit and the way out, instead of a raw out-of-memory error (or a swapping
machine) later. Estimates are upper bounds of the arrays the computation holds at once
(a few live temporaries included), not exact counts.
"""

from __future__ import annotations

import functools
import os

from . import _validate as v

#: Trials per device per compiled chunk when ``chunk_size`` is not given: at most this many,
#: and no more than fit in the budget below.
MAX_CHUNK_PER_DEVICE = 1024
#: Default chunk budget per device: an eighth of its memory, and at most 256 MiB on a CPU.
CPU_CHUNK_BUDGET = 2**28


def host_limit() -> int:
    """Bytes of memory this process may use: the physical memory, or the cgroup limit
    (containers) when that is smaller. Read once per process: every numpy closed form
    guards its broadcast shape with it (two sysconf calls and two file reads cost ~19 µs,
    a tenth of a scalar ``test_accuracy``)."""
    return _host_limit()


@functools.lru_cache(maxsize=1)
def _host_limit() -> int:
    limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            limit = min(limit, int(text))
    return limit


def device_limit():
    """``(bytes, description)`` of the memory of one JAX device (the host's for a CPU)."""
    import jax

    dev = jax.devices()[0]
    if jax.default_backend() == "cpu":
        return host_limit(), "cpu, host memory"
    try:
        return int(dev.memory_stats()["bytes_limit"]), f"{dev.device_kind}"
    except Exception:  # noqa: BLE001 - memory_stats is optional for a backend
        return host_limit(), f"{dev.device_kind} (limit unknown; host memory used)"


def size(nbytes) -> str:
    """``nbytes`` in readable units (decimal: 1 GB = 1e9 bytes)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def guard(what, need, *, detail, ways_out, limit=None):
    """Refuse (``ValueError``) when an estimated ``need`` bytes exceeds the memory.

    ``what`` names the computation (``"simulate(method='direct')"``), ``detail`` says what
    the estimate covers, ``ways_out`` how to make it fit; ``limit`` is ``(bytes,
    description)`` (default: the host's memory).
    """
    nbytes, where = limit if limit is not None else (host_limit(), "host memory")
    if need > nbytes:
        v.fail(what, f"within the memory of its device ({where}: {size(nbytes)})",
               v.Got(f"an estimated {size(need)} ({detail})"), note=ways_out)


#: Float64 arrays of the broadcast shape that a closed form holds at once (upper estimate).
LIVE_ARRAYS = 40


def broadcast(shape, what="the broadcast arguments"):
    """Guard a numpy closed-form evaluation over the broadcast ``shape`` (host memory)."""
    count = 1
    for k in shape:
        count *= int(k)
    guard(what, 8 * LIVE_ARRAYS * count, detail=f"shape {tuple(shape)}",
          ways_out="use smaller arrays, or evaluate in pieces")


def plan(what, *, per_trial, trials, chunk_size=None, host=0, replicated=0,
         cap=MAX_CHUNK_PER_DEVICE, detail, ways_out):
    """Chunking of a Monte Carlo run, checked before anything is allocated.

    ``per_trial``: device bytes one trial holds (data, solves, its share of the outputs);
    ``host``: bytes the run keeps on the host in total (e.g. every score sample);
    ``replicated``: bytes every device holds once whatever the chunk (e.g. the dense
    covariance factors of a general task), taken off the chunk budget.
    The chunk is ``chunk_size`` rounded up to a multiple of the device count, or by default
    as many trials per device as fit in the chunk budget (at least one, at most ``cap``:
    a sampler whose cost per chunk barely depends on the batch wants large chunks on an
    accelerator, see :func:`rmt_alpha._reduced.chunk_per_device`). The chunk on each
    device must fit that device's memory (with the host's ``host`` bytes on a CPU, where
    they share it), and ``host`` the host's. Returns ``(chunk, number of chunks)``.
    """
    import jax

    n_dev = len(jax.devices())
    limit = device_limit()
    if chunk_size is None:
        budget = limit[0] // 8
        if jax.default_backend() == "cpu":
            budget = min(CPU_CHUNK_BUDGET, budget)
        budget = max(budget - replicated, 0)
        per_dev = max(1, min(cap, budget // max(per_trial, 1)))
        chunk = min(per_dev * n_dev, -(-trials // n_dev) * n_dev)
    else:
        chunk = v.integer("chunk_size", chunk_size)
        chunk = -(-chunk // n_dev) * n_dev  # a multiple of the device count
    per_device = per_trial * (chunk // n_dev) + replicated
    shared = jax.default_backend() == "cpu"
    guard(what, per_device + (host if shared else 0), limit=limit, ways_out=ways_out,
          detail=f"{detail}; a chunk of {chunk // n_dev} trial(s) per device"
                 + (f", {size(host)} of results" if shared and host else ""))
    if not shared:
        guard(what, host, detail=f"{detail}; the results on the host", ways_out=ways_out)
    return chunk, -(-trials // chunk)
