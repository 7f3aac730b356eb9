"""What one client may hold of the server: connections, time to send headers and bodies, body bytes, threads.

uvicorn's own settings come first: ``limit_concurrency`` answers 503 past a number of connections,
``timeout_keep_alive`` closes an idle kept-alive connection, h11's ``max_incomplete_event_size``
bounds a request head, ``timeout_graceful_shutdown`` bounds a stop. uvicorn has no deadline for a
request head on a fresh connection nor for a body, so:

- ``guarded_h11_protocol``: uvicorn's h11 protocol with one timer per request head, armed when the
  connection opens and after each answer, and disarmed only by a complete head. A head trickled a
  line at a time, or a connection that sends nothing, is closed when it fires (any byte cancels
  uvicorn's keep-alive timer, so that timer alone holds neither).
- ``read_body``: the app reads the body itself, each ``receive`` under ``body_timeout_s``; a body that
  sends nothing for that long is answered and its connection closed. A wrapper on ``receive`` measures
  the client's silence exactly, where a protocol timer would also count the time the app is not
  reading (uvicorn then pauses the socket itself).
- ``BodyBudget``: bodies over ``SMALL_BODY_BYTES`` (only images are) reserve their declared length
  before a byte is read; past ``body_bytes_in_flight`` they wait, without a thread, then are refused.
  Smaller bodies are bounded by the connection cap.
- ``CallLanes``: calls run on their own thread limits, so none can take the others' threads: plain
  calls on anyio's default 40, calls with image bytes on ``image_threads`` (they queue on the
  analysis memory budget inside), calls with an image URL on ``download_threads`` in all and
  ``downloads_per_appkey`` per appkey. A request waiting for a lane waits in the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from facereco.contract import MAX_REQUEST_BODY_BYTES, REQUEST_JSON_ALLOWANCE

SMALL_BODY_BYTES = REQUEST_JSON_ALLOWANCE  # a call without an image fits in this


@dataclass(frozen=True)
class ServerLimits:
    header_timeout_s: float = 10.0  # a request head complete within this, from connection or last answer
    body_timeout_s: float = 10.0  # a body silent this long is dropped
    body_total_s: float = 120.0  # a whole body within this (16 MB at 1.1 Mbit/s): no trickle holds its room for ever
    keep_alive_s: int = 5  # uvicorn's timeout_keep_alive
    max_connections: int = 256  # uvicorn's limit_concurrency: 503 past it
    body_bytes_in_flight: int = 4 * MAX_REQUEST_BODY_BYTES  # image bodies being received or served at once
    body_queue_s: float = 30.0  # an image body waits this long for room, then is refused
    body_share_per_appkey: float = 0.5  # of body_bytes_in_flight: one appkey cannot take every image's room
    image_threads: int = 8
    download_threads: int = 8
    downloads_per_appkey: int = 4
    max_head_bytes: int = 16_384  # h11's max_incomplete_event_size
    graceful_shutdown_s: int = 10


def guarded_h11_protocol(header_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline on every request head (see the module's docstring)."""

    class GuardedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_deadline()
            super().connection_lost(exc)

        def _arm_head_deadline(self) -> None:
            self._disarm_head_deadline()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_overdue, self.cycle)

        def _disarm_head_deadline(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_overdue(self, cycle_when_armed: object) -> None:
            # A new cycle means a whole head arrived since: that request is the app's to time.
            if self.cycle is cycle_when_armed and not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


class BodyStalled(Exception):
    pass


class BodyTooLarge(Exception):
    pass


async def read_body(
    request: Request, timeout_s: float, cap: int = MAX_REQUEST_BODY_BYTES, total_s: float = math.inf
) -> bytes:
    """The whole body, each wait for more under ``timeout_s`` and all of it within ``total_s``
    (BodyStalled: a byte every few seconds would otherwise hold its room for ever), at most ``cap``
    bytes (BodyTooLarge, refused from a declared length before anything is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge
    chunks, size = [], 0
    deadline = time.monotonic() + total_s
    while True:
        try:
            message = await asyncio.wait_for(request.receive(), min(timeout_s, max(deadline - time.monotonic(), 0.0)))
        except TimeoutError:
            raise BodyStalled from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class BodyBudget:
    """Image-body bytes being received or served at once, in one event loop (no lock needed)."""

    def __init__(self, total: int, per_appkey: int | None = None) -> None:
        self.total = total
        self.per_appkey = total if per_appkey is None else per_appkey
        self.held = 0
        self._held_by: dict[str, int] = {}
        self._changed = asyncio.Condition()

    @staticmethod
    def reservation(request: Request) -> int:
        declared = request.headers.get("content-length", "")
        if declared.isdigit():
            size = int(declared)
            return size if size > SMALL_BODY_BYTES else 0
        if "chunked" in request.headers.get("transfer-encoding", "").lower():
            return MAX_REQUEST_BODY_BYTES  # no length said: it may grow to the cap
        return 0  # no body at all

    @contextlib.asynccontextmanager
    async def hold(self, size: int, wait_s: float, appkey: str = "") -> AsyncIterator[bool]:
        """Yields whether ``size`` bytes were found within ``wait_s``, within the whole budget and
        ``appkey``'s share of it; held until the block ends."""
        size = min(size, self.total, self.per_appkey)
        if size == 0:
            yield True
            return

        def fits() -> bool:
            return self.held + size <= self.total and self._held_by.get(appkey, 0) + size <= self.per_appkey

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(fits), wait_s)
            except TimeoutError:
                granted = False
            else:
                granted = True
                self.held += size
                self._held_by[appkey] = self._held_by.get(appkey, 0) + size
        try:
            yield granted
        finally:
            if granted:
                async with self._changed:
                    self.held -= size
                    left = self._held_by.pop(appkey) - size
                    if left:
                        self._held_by[appkey] = left  # any number of appkeys: keep only those holding room
                    self._changed.notify_all()


IMAGE_FIELDS = ("image", "sourceImage", "targetImage", "compareImage")


class CallLanes:
    """The thread limit a call runs under, chosen from its body (see the module's docstring)."""

    def __init__(self, limits: ServerLimits) -> None:
        self.images = anyio.CapacityLimiter(limits.image_threads)
        self.downloads = anyio.CapacityLimiter(limits.download_threads)
        self.per_appkey = limits.downloads_per_appkey
        self._appkey_lanes: dict[str, tuple[anyio.CapacityLimiter, int]] = {}  # (lane, requests using it)

    @staticmethod
    def images_in(body: Any) -> tuple[bool, bool]:
        """(the body holds an image object, one of them names a URL)."""
        if not isinstance(body, dict):
            return False, False
        images = [body[name] for name in IMAGE_FIELDS if isinstance(body.get(name), dict)]
        return bool(images), any("url" in image for image in images)

    @contextlib.asynccontextmanager
    async def lane(self, appkey: str, body: Any) -> AsyncIterator[anyio.CapacityLimiter | None]:
        """The limiter to run the call's thread under (None: anyio's default), its appkey's download
        slot taken first for a call with an image URL."""
        has_image, has_url = self.images_in(body)
        if not has_url:
            yield self.images if has_image else None
            return
        own, users = self._appkey_lanes.get(appkey) or (anyio.CapacityLimiter(self.per_appkey), 0)
        self._appkey_lanes[appkey] = (own, users + 1)
        try:
            async with own:
                yield self.downloads
        finally:
            own, users = self._appkey_lanes[appkey]
            if users == 1:
                del self._appkey_lanes[appkey]  # any number of appkeys: keep only the busy ones
            else:
                self._appkey_lanes[appkey] = (own, users - 1)
