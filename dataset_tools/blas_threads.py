"""Keep BLAS single-threaded inside build workers.

The DSP's matrix products (VRDAE maps) run on OpenBLAS. Its default thread pool, competing with
the build's own worker processes and Zarr's I/O threads on a small machine, made VRDAE maps
30x slower in measurement (86 ms instead of 3 ms per frame on 2 cores). Parallelism comes from
the worker processes instead.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_SYMBOLS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def _libraries() -> list[ctypes.CDLL]:
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return []
    libs = []
    for path in sorted(paths):
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _set(lib: ctypes.CDLL, n: int) -> bool:
    for symbol in _SYMBOLS:
        fn = getattr(lib, symbol, None)
        if fn is not None:
            fn(ctypes.c_int(n))
            return True
    return False


def _get(lib: ctypes.CDLL) -> int | None:
    for symbol in _SYMBOLS:
        fn = getattr(lib, symbol.replace("set_num", "get_num"), None)
        if fn is not None:
            return int(fn())
    return None


def limit_blas_threads(n: int = 1) -> int:
    """Set every loaded OpenBLAS to ``n`` threads (and the environment, for child processes).

    Returns:
        How many loaded BLAS libraries were limited.
    """
    for var in _ENV:
        os.environ[var] = str(n)
    return sum(_set(lib, n) for lib in _libraries())


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """One BLAS thread inside the block, then the previous settings (for build work done in the
    calling process, which goes on to other work afterwards)."""
    env = {var: os.environ.get(var) for var in _ENV}
    before = [(lib, _get(lib)) for lib in _libraries()]
    limit_blas_threads(1)
    try:
        yield
    finally:
        for var, value in env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        for lib, n in before:
            if n is not None:
                _set(lib, n)
