"""One BLAS thread for batches of small matrices.

Our matrices are small and come in batches; with its default of one thread per core,
OpenBLAS busy-waits between calls. On a 2-core machine shared with other processes a
200 x 200 Cholesky was seen to take 150-220 ms instead of 1-2 ms. JAX's CPU linear algebra
(Cholesky, triangular solves) calls the OpenBLAS bundled with SciPy, so importing
``scipy.linalg`` first makes sure threadpoolctl sees that library too.

The limit is process-wide (it is the library's setting), so concurrent blocks (simulations
run from several threads) share one: the first to enter sets it, the last to leave restores
the setting the first found. (With each block restoring the value it found, blocks that
overlap without nesting left the process at one thread.)
"""

from __future__ import annotations

import contextlib
import functools
import threading

_lock = threading.Lock()
_depth = 0
_limiter = None


@functools.lru_cache(maxsize=None)
def _controller():
    """numpy's and scipy's BLAS, found once (a fresh search costs ~5 ms per call)."""
    import scipy.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread():
    """Limit every loaded BLAS to one thread inside the block; restore it afterwards."""
    global _depth, _limiter
    with _lock:
        if _depth == 0:
            _limiter = _controller().limit(limits=1, user_api="blas")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _limiter.restore_original_limits()
                _limiter = None
