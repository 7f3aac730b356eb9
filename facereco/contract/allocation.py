"""Building many small objects at once without paying the cyclic garbage collector for each batch of them.

A 4,096-match search answer is some 60,000 dicts and model objects. CPython starts a collection every
700 new container objects and, every few of those, walks the older generations too, so building
such an answer cost several times the building itself (``benchmarks/service.py``; docs/benchmarks.md).
The objects built are plain
trees (no reference cycles), so nothing is left for the collector to free; it runs again as soon as
the block ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause automatic garbage collection for the block; re-entrant, and safe across threads.

    Only the outermost block that found the collector running turns it back on, so it never stays
    off because of this, and a collector that was already off stays off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
