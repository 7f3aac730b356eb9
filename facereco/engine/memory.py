"""One memory budget for the whole analysis of an image: decoding, the detection pyramid, alignment, embedding.

Every analysis holds its estimated peak from ``ANALYSIS_MEMORY`` from the moment its bytes are in
hand until its faces are embedded, so N parallel large images run a few at a time and queue (they
never fail for it) while the process stays near the budget. The budget is
``FACERECO_ANALYSIS_MEMORY_MB`` (``serve --analysis-memory-mb``), 512 MB unless set. After a large
analysis the C heap is handed back to the system (``malloc_trim`` on glibc): numpy and Pillow free
their buffers, but glibc keeps freed arenas of the 40 server threads resident otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
from collections.abc import Iterator

DEFAULT_ANALYSIS_MEMORY_MB = 512
ANALYSIS_MEMORY_ENV = "FACERECO_ANALYSIS_MEMORY_MB"
# Releases this large or larger trim the heap: below it, glibc's reuse is cheaper than a trim.
TRIM_AFTER_BYTES = 32_000_000


def analysis_budget_bytes(megabytes: float | None = None) -> int:
    """``megabytes``, else ``FACERECO_ANALYSIS_MEMORY_MB``, else 512 MB, in bytes."""
    if megabytes is None:
        megabytes = float(os.environ.get(ANALYSIS_MEMORY_ENV) or DEFAULT_ANALYSIS_MEMORY_MB)
    if megabytes <= 0:
        raise ValueError(f"the analysis memory budget must be positive, not {megabytes:g} MB")
    return int(megabytes * 1_000_000)


def _load_malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_malloc_trim = _load_malloc_trim()


def return_freed_memory() -> None:
    """Hand freed C-heap pages back to the system, where the C library can."""
    if _malloc_trim is not None:
        _malloc_trim(0)


class MemoryBudget:
    """Bytes shared by the threads of one process: ``hold(n)`` waits until n bytes are free.

    A thread already holding part of the budget is not made to wait again by a nested ``hold`` (a decode
    inside an analysis): its bytes are counted once, and it cannot deadlock against itself.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.held = 0
        self.waiting = 0
        self._changed = threading.Condition()
        self._mine = threading.local()

    def resize(self, total: int) -> None:
        with self._changed:
            self.total = total
            self._changed.notify_all()

    @contextlib.contextmanager
    def hold(self, size: int) -> Iterator[None]:
        if getattr(self._mine, "depth", 0):  # counted already by this thread's outer hold
            yield
            return
        with self._changed:
            size = min(size, self.total)  # one request alone always gets to run
            self.waiting += 1
            try:
                self._changed.wait_for(lambda: self.held + size <= self.total)
            finally:
                self.waiting -= 1
            self.held += size
        self._mine.depth = 1
        try:
            yield
        finally:
            self._mine.depth = 0
            with self._changed:
                self.held -= size
                self._changed.notify_all()
            if size >= TRIM_AFTER_BYTES:
                return_freed_memory()


ANALYSIS_MEMORY = MemoryBudget(analysis_budget_bytes())
