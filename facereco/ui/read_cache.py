"""A per-session read cache between the dashboard and its backend: the cloud bills per call.

GET answers (list groups, group detail, list faces) are kept per request; any call that
changes something (create, register, delete) empties the cache, so this session sees its
own writes at once. Searches, compares and detects are never cached: they are what a
person asks for. Another session's writes show after *Refresh* (``clear``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from facereco.transport import PreparedCall, Transport

MAX_CACHED_READS = 256  # a session paging through a huge group must not grow memory without bound
# The listings only: a search by faceId is a GET too, but it is what a person (or the tuning scorer,
# thousands of times) asks for, and its answers are large.
CACHED_CALLS = frozenset({"list_groups", "get_group", "list_faces"})


def _request_key(call: PreparedCall) -> str:
    return json.dumps([call.endpoint.name, call.path_params, call.query], sort_keys=True, default=str)


class ReadCachingTransport:
    """Delegates to ``inner``; answers repeated GETs from memory until a write or ``clear``."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self._answers: dict[str, dict[str, Any]] = {}
        self.reads_answered = 0  # how many calls the cache saved (benchmarks/dashboard.py prints it)

    def __repr__(self) -> str:
        return f"ReadCachingTransport({self.inner!r})"

    @property
    def description(self) -> str:
        return self.inner.description

    def clear(self) -> None:
        self._answers.clear()

    def send(self, call: PreparedCall) -> dict[str, Any]:
        if call.endpoint.name not in CACHED_CALLS:
            if not call.endpoint.retry_safe:  # a write: whatever was read may be stale now
                self.clear()
            return self.inner.send(call)
        key = _request_key(call)
        if key not in self._answers:
            if len(self._answers) >= MAX_CACHED_READS:
                self._answers.pop(next(iter(self._answers)))
            self._answers[key] = self.inner.send(call)
        else:
            self.reads_answered += 1
        return copy.deepcopy(self._answers[key])
