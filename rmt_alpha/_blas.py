"""One BLAS thread for batches of small matrices.

Our matrices are small and come in batches; with its default of one thread per core,
OpenBLAS busy-waits between calls. On a 2-core machine shared with other processes a
200 x 200 Cholesky was seen to take 150-220 ms instead of 1-2 ms. JAX's CPU linear algebra
(Cholesky, triangular solves) calls the OpenBLAS bundled with SciPy, so importing
``scipy.linalg`` first makes sure threadpoolctl sees that library too.
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def one_blas_thread():
    """Limit every loaded BLAS to one thread inside the block; restore it afterwards."""
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
