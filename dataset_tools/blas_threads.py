"""Keep BLAS single-threaded inside build workers.

The DSP's matrix products (VRDAE maps) run on OpenBLAS. Its default thread pool, competing with
the build's own worker processes and Zarr's I/O threads on a small machine, made VRDAE maps
30x slower in measurement (86 ms instead of 3 ms per frame on 2 cores). Parallelism comes from
the worker processes instead.
"""

from __future__ import annotations

import ctypes
import os

_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_SYMBOLS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def limit_blas_threads(n: int = 1) -> int:
    """Set every loaded OpenBLAS to ``n`` threads (and the environment, for child processes).

    Returns:
        How many loaded BLAS libraries were limited.
    """
    for var in _ENV:
        os.environ[var] = str(n)
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return 0
    limited = 0
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in _SYMBOLS:
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                limited += 1
                break
    return limited
