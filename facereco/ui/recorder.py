"""A transport wrapper that remembers the last exchanges, for the dashboard's "request / response" panels.

Each browser session wraps the one shared transport in its own recorder, so sessions
never see each other's calls. What is kept is already safe to show: the path has
the appkey redacted and base64 image bytes are cut short.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from facereco.errors import FaceRecoError
from facereco.transport import PreparedCall, Transport

SHOWN_BASE64_CHARS = 48


def shorten_images(value: Any) -> Any:
    """A copy with every ``bytes`` string cut to a few characters plus its length."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "bytes" and isinstance(item, str) and len(item) > SHOWN_BASE64_CHARS:
                out[key] = f"{item[:SHOWN_BASE64_CHARS]}… ({len(item):,} base64 chars)"
            else:
                out[key] = shorten_images(item)
        return out
    if isinstance(value, list):
        return [shorten_images(v) for v in value]
    return value


@dataclass(frozen=True)
class Exchange:
    """One call as shown to a person: request line, query, body, and the answer or error."""

    request_line: str
    query: dict[str, Any]
    body: Any
    response: Any
    elapsed_ms: float

    def request(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"request": self.request_line}
        if self.query:
            shown["query"] = self.query
        if self.body is not None:
            shown["body"] = self.body
        return shown


class RecordingTransport:
    """Delegates to ``inner``; keeps the last ``keep`` exchanges, newest last."""

    def __init__(self, inner: Transport, keep: int = 20) -> None:
        self.inner = inner
        self.exchanges: deque[Exchange] = deque(maxlen=keep)

    def __repr__(self) -> str:
        return f"RecordingTransport({self.inner!r})"

    @property
    def description(self) -> str:
        return self.inner.description

    def send(self, call: PreparedCall) -> dict[str, Any]:
        started = time.perf_counter()
        line = str(call.info())
        body = shorten_images(copy.deepcopy(call.body)) if call.body is not None else None
        try:
            answer = self.inner.send(call)
        except FaceRecoError as error:
            self._keep(line, call, body, {"error": str(error)}, started)
            raise
        self._keep(line, call, body, answer, started)
        return answer

    def _keep(self, line: str, call: PreparedCall, body: Any, response: Any, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        self.exchanges.append(Exchange(line, dict(call.query), body, response, elapsed))

    def last(self, count: int = 1) -> list[Exchange]:
        return list(self.exchanges)[-count:]
