"""The Live page's frame processing, without Streamlit: one worker thread per camera stream calls the client
on the latest frame, rate-limited, and every frame is drawn with the last answer.

Why this shape:
- The video callback runs on streamlit-webrtc's thread for every frame: it must never wait for the API, so it
  only drops its frame into a one-slot mailbox (the newest frame wins) and draws the last result.
- One call in flight at a time, and a minimum interval between call *starts* (the cloud bills per call;
  the local engine gets 0: as fast as it answers).
- With a group, one call per result: search by image answers the largest face's detail (``sourceFace``: box
  and landmarks) *and* its matches, so a detect call beside it would double the bill and halve the rate.
  Without a group, detect: every face, numbered.
- Nothing here touches Streamlit (it runs on other threads): errors are kept as exceptions and the page
  turns them into a sentence on its own run.
- A stream's backend is fixed when it starts (``StreamTarget``): its own client, not the session's, so the
  sidebar switching backend cannot send the old stream's calls elsewhere or unpaced (the page halts it).
  Over HTTP that client makes no transport retries and has a short read timeout: each HTTP request is one
  counted, paced call, the worker's backoff is the only one, and nothing is sent after Stop.
- Over HTTP, every stream of the process to one (base URL, appkey) shares one ``CallPacer``: the cap on calls
  a second is per appkey (the operator's, FACERECO_LIVE_MAX_CALLS_PER_SECOND), not per browser tab.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from PIL import Image

from facereco.client import FaceRecoClient
from facereco.contract import SEARCH_LIMIT, THRESHOLD, FaceDetail, FaceMatch, is_no_face_message
from facereco.errors import ApiError
from facereco.labeled_sets import identity_of
from facereco.transport import HttpTransport, LocalTransport, RetryPolicy
from facereco.ui.drawing import BOX_COLOR, MATCH_COLOR, NO_MATCH_COLOR, annotate, detail_label

log = logging.getLogger(__name__)

QUERY_MAX_WIDTH = 640  # frames are sent at most this wide: enough for faces, small on the wire
QUERY_JPEG_QUALITY = 85
RATE_WINDOW_S = 5.0  # results per second: over the last five seconds
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 8.0
JOIN_TIMEOUT_S = 5.0  # a call in flight cannot be aborted: join() waits this long for it at most
STALE_AFTER_S = 2.0  # a result is drawn this long (plus two intervals) after it came, not forever
HTTP_CONNECT_TIMEOUT_S, HTTP_READ_TIMEOUT_S = 3.0, 10.0  # a live answer later than this is of no use
MAX_RATE_ENV = "FACERECO_LIVE_MAX_CALLS_PER_SECOND"
DEFAULT_MAX_CALLS_PER_SECOND = 1.0


# ---------------------------------------------------------------- settings and results
@dataclass(frozen=True)
class LiveSettings:
    """What the page chose; replaced whole from the page's run (an attribute swap is atomic)."""

    group: str | None = None
    threshold: int = THRESHOLD.default
    min_interval_s: float = 0.0
    unknown_label: str = "unknown"  # translated by the page: the drawing thread cannot ask Streamlit


@dataclass(frozen=True)
class LiveResult:
    """One answer, with the size of the frame it was computed on (boxes are 0..1 of that frame)."""

    faces: tuple[FaceDetail, ...]
    frame_size: tuple[int, int]
    searched: bool = False  # True: search by image (faces[0] is the query face), False: detect
    best_match: FaceMatch | None = None

    def fits(self, size: tuple[int, int]) -> bool:
        """Drawable on a frame of ``size``: the same shape (the camera did not switch resolution)."""
        (w, h), (fw, fh) = size, self.frame_size
        return abs(w / h - fw / fh) < 0.01

    def _matched(self, settings: LiveSettings) -> bool:
        return (
            self.searched
            and bool(self.faces)
            and self.best_match is not None
            and (self.best_match.similarity >= settings.threshold)
        )

    def identity(self, settings: LiveSettings) -> str | None:
        """The best match's identity (``<identity>`` of ``<identity>:<file>``, else the externalImageId)
        at or above the threshold; ``settings.unknown_label`` below it; None without a search or a face."""
        if not self.searched or not self.faces:
            return None
        if not self._matched(settings) or self.best_match is None:
            return settings.unknown_label
        face = self.best_match.face
        return identity_of(face.external_image_id) or face.external_image_id or face.face_id[:8]

    def labels(self, settings: LiveSettings) -> list[str]:
        """What is drawn beside each box: identity and similarity (search), or the detection confidence."""
        if not self.searched:
            return [detail_label(face) for face in self.faces]
        identity = self.identity(settings)
        if identity is None:
            return []
        if self._matched(settings) and self.best_match is not None:
            return [f"{identity} {self.best_match.similarity:.1f}"]
        return [identity]

    def colors(self, settings: LiveSettings) -> list[str]:
        if not self.searched:
            return [BOX_COLOR] * len(self.faces)
        return [MATCH_COLOR if self._matched(settings) else NO_MATCH_COLOR] * len(self.faces)

    def summary(self, settings: LiveSettings) -> list[str]:
        """One line per face, as drawn: "1: astronaut 98.7"."""
        return [f"{i}: {label}" for i, label in enumerate(self.labels(settings), start=1)]


def draw_result(image: Image.Image, result: LiveResult, settings: LiveSettings) -> Image.Image:
    """``image`` with the result's numbered boxes, landmarks and labels (the shared drawing code)."""
    return annotate(image, result.faces, result.labels(settings), result.colors(settings))


# ---------------------------------------------------------------- one call per result
def query_jpeg(image: Image.Image) -> bytes:
    """The frame as the API gets it: JPEG, at most ``QUERY_MAX_WIDTH`` wide (boxes are relative, so they
    scale back to the frame whatever size was sent)."""
    if image.width > QUERY_MAX_WIDTH:
        image = image.resize((QUERY_MAX_WIDTH, round(image.height * QUERY_MAX_WIDTH / image.width)))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=QUERY_JPEG_QUALITY)
    return buffer.getvalue()


def analyse(client: FaceRecoClient, image: Image.Image, group: str | None) -> LiveResult:
    """Detect (no group), or search the group by the frame's largest face: one call either way."""
    jpeg, size = query_jpeg(image), image.size
    if group is None:
        return LiveResult(tuple(client.detect(jpeg).face_details), size)
    try:
        # threshold 1 and limit 1: the best match whatever its similarity; the page's slider judges it
        found = client.search_by_image(group, jpeg, limit=SEARCH_LIMIT.low, threshold=THRESHOLD.low)
    except ApiError as error:
        if is_no_face_message(error.result_code, error.message):  # an empty frame is a result, not an error
            return LiveResult((), size, searched=True)
        raise
    faces = (found.source_face,) if found.source_face is not None else ()
    return LiveResult(faces, size, searched=True, best_match=found.match_faces[0] if found.match_faces else None)


# ---------------------------------------------------------------- the worker
class LatestFrame:
    """A one-slot mailbox: a new frame replaces one not taken yet (results follow the camera, not a queue)."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._frame: Image.Image | None = None
        self._closed = False

    def put(self, frame: Image.Image) -> None:
        with self._ready:
            self._frame = frame
            self._ready.notify()

    def take(self, timeout: float) -> Image.Image | None:
        """The newest frame (emptying the slot), or None after ``timeout`` or once closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            return None if self._closed else frame

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()


@dataclass(frozen=True)
class LiveStats:
    """What the page shows: calls started, results per second (last five seconds), the last result and error."""

    calls: int
    results_per_second: float
    result: LiveResult | None
    error: Exception | None


@dataclass
class _Record:
    calls: int = 0
    result: LiveResult | None = None
    result_at: float = 0.0  # time.monotonic() when ``result`` came
    error: Exception | None = None
    failures_in_a_row: int = 0
    first_start: float | None = None
    spans: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=256))  # (start, end) of results


class LiveWorker:
    """One thread per stream: takes the newest frame, calls the client (one call in flight), keeps the answer."""

    def __init__(self, client: FaceRecoClient, settings: LiveSettings, pacer: CallPacer | None = None) -> None:
        self.settings = settings
        self._client = client
        self._pacer = pacer
        self._mailbox = LatestFrame()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._record = _Record()
        self._thread = threading.Thread(target=self._run, name="facereco-live", daemon=True)

    def start(self) -> LiveWorker:
        self._thread.start()
        return self

    def offer(self, frame: Image.Image) -> None:
        """From the video thread: never blocks on the client."""
        self._mailbox.put(frame)

    def stop(self) -> None:
        """No call starts after this. Never waits (it runs on Streamlit's event loop): a call in flight ends
        on its own, within the transport's timeout, and its answer is dropped."""
        self._stopping.set()
        self._mailbox.close()

    def join(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Wait for the thread (up to ``timeout``) after ``stop``; True when it ended."""
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def interval_s(self) -> float:
        """Seconds between call starts: the page's, and over HTTP at least the shared pacer's."""
        return max(self.settings.min_interval_s, self._pacer.interval_s if self._pacer else 0.0)

    @property
    def result(self) -> LiveResult | None:
        """The last answer while it is fresh: None after a failed call, or once no answer came for
        ``STALE_AFTER_S`` plus two intervals (a server gone quiet must not leave a name drawn)."""
        with self._lock:
            result, at = self._record.result, self._record.result_at
        return result if time.monotonic() - at <= STALE_AFTER_S + 2 * self.interval_s else None

    def spans(self) -> list[tuple[float, float]]:
        """(start, end) of the calls that gave a result, oldest first (the last 256)."""
        with self._lock:
            return list(self._record.spans)

    def stats(self) -> LiveStats:
        now = time.monotonic()
        with self._lock:
            record = self._record
            recent = sum(1 for _start, end in record.spans if end >= now - RATE_WINDOW_S)
            elapsed = min(RATE_WINDOW_S, now - record.first_start) if record.first_start is not None else 0.0
            rate = recent / elapsed if elapsed > 0 else 0.0
            calls, error = record.calls, record.error
        return LiveStats(calls, rate, self.result, error)

    def _run(self) -> None:
        next_start = 0.0
        while not self._stopping.is_set():
            if self._stopping.wait(max(0.0, next_start - time.monotonic())):
                return
            frame = self._mailbox.take(timeout=0.5)
            if frame is None:
                continue
            if self._pacer is not None:
                if not self._pacer.wait_turn(self._stopping):
                    return
                frame = self._mailbox.take(timeout=0.0) or frame  # a newer one may have come meanwhile
            settings = self.settings
            started = time.monotonic()
            next_start = started + settings.min_interval_s
            with self._lock:
                self._record.calls += 1
                if self._record.first_start is None:
                    self._record.first_start = started
            try:
                result = analyse(self._client, frame, settings.group)
            except Exception as error:  # noqa: BLE001 - a dead thread would freeze the last result on screen
                next_start = max(next_start, time.monotonic() + self._failed(error))
                continue
            if self._stopping.is_set():  # stopped (or halted by a backend switch) while the call was in flight
                return
            ended = time.monotonic()
            with self._lock:
                self._record.result, self._record.error, self._record.failures_in_a_row = result, None, 0
                self._record.result_at = ended
                self._record.spans.append((started, ended))

    def _failed(self, error: Exception) -> float:
        """Keep the error for the page; the pause before the next call (doubling, up to ``BACKOFF_MAX_S``)."""
        with self._lock:
            self._record.error, self._record.result = error, None  # the last answer is not drawn on
            self._record.failures_in_a_row += 1
            failures = self._record.failures_in_a_row
        if not isinstance(error, ApiError | OSError):
            log.warning("live frame call failed: %s", type(error).__name__)
        return min(BACKOFF_FIRST_S * 2 ** (failures - 1), BACKOFF_MAX_S)


# ---------------------------------------------------------------- where a stream's calls go, and how often
class CallPacer:
    """Call starts at least ``interval_s`` apart, across every worker that shares it (thread-safe)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._next_start = 0.0

    def wait_turn(self, stopping: threading.Event) -> bool:
        """Reserve the next start and wait for it; False (make no call) when ``stopping`` is set meanwhile."""
        with self._lock:
            start = max(time.monotonic(), self._next_start)
            self._next_start = start + self.interval_s
        return not stopping.wait(max(0.0, start - time.monotonic()))


_pacers: dict[str, CallPacer] = {}
_pacers_lock = threading.Lock()


def max_calls_per_second() -> float:
    """The operator's cap (FACERECO_LIVE_MAX_CALLS_PER_SECOND, default 1): calls a second to one appkey from
    every Live stream of this process together; a value that is not a positive number gives the default."""
    try:
        value = float(os.environ.get(MAX_RATE_ENV) or DEFAULT_MAX_CALLS_PER_SECOND)
    except ValueError:
        return DEFAULT_MAX_CALLS_PER_SECOND
    return value if math.isfinite(value) and value > 0 else DEFAULT_MAX_CALLS_PER_SECOND


def server_identity(appkey: str, base_url: str) -> str:
    """Who is billed: the base URL and a digest of the appkey (the key itself is kept nowhere here)."""
    return f"{base_url.strip().rstrip('/').lower()} {hashlib.sha256(appkey.encode()).hexdigest()[:16]}"


def shared_pacer(identity: str, calls_per_second: float) -> CallPacer:
    """The one pacer of this process for ``identity`` (every tab, every visitor), at the operator's rate."""
    with _pacers_lock:
        pacer = _pacers.setdefault(identity, CallPacer(1.0 / calls_per_second))
        pacer.interval_s = 1.0 / calls_per_second
        return pacer


@dataclass(frozen=True)
class StreamTarget:
    """Where one stream's calls go, fixed when it starts: its own client, who it bills, its pacer."""

    client: FaceRecoClient
    identity: str  # "local", or ``server_identity``: the page compares it with the session's backend
    pacer: CallPacer | None = None  # None on the local engine: one call at a time, as fast as it answers


LOCAL_IDENTITY = "local"


def local_target(transport: LocalTransport) -> StreamTarget:
    return StreamTarget(FaceRecoClient(transport=transport), LOCAL_IDENTITY)


def http_target(appkey: str, base_url: str, calls_per_second: float | None = None) -> StreamTarget:
    """A client of its own for the stream: no transport retries (each request is a counted, paced call; the
    worker backs off itself; none is sent after Stop), a short read timeout; the process-wide pacer."""
    transport = HttpTransport(
        appkey, base_url, connect_timeout=HTTP_CONNECT_TIMEOUT_S, read_timeout=HTTP_READ_TIMEOUT_S,
        retry=RetryPolicy(max_retries=0),
    )  # fmt: skip
    identity = server_identity(appkey, base_url)
    pacer = shared_pacer(identity, calls_per_second or max_calls_per_second())
    return StreamTarget(FaceRecoClient(transport=transport), identity, pacer)


# ---------------------------------------------------------------- streamlit-webrtc's processor
class LiveProcessor:
    """``video_processor_factory``'s product: frames in, the same frames with the last result drawn out."""

    def __init__(self, target: StreamTarget, settings: LiveSettings) -> None:
        self.target = target
        self.worker = LiveWorker(target.client, settings, target.pacer).start()

    def update(self, settings: LiveSettings) -> None:
        """From the page's run: the next call and the next drawn frame use these."""
        self.worker.settings = settings

    def recv(self, frame):  # av.VideoFrame -> av.VideoFrame (av is streamlit-webrtc's, imported lazily)
        import av

        image = frame.to_image()
        self.worker.offer(image)
        result = self.worker.result
        if result is None or not result.fits(image.size):
            return frame
        return av.VideoFrame.from_image(draw_result(image, result, self.worker.settings))

    def on_ended(self) -> None:
        """The stream stopped (the Stop button, a closed tab): no call after this. streamlit-webrtc calls
        this on Streamlit's event loop, which every session shares: it must not wait for a call in flight."""
        self.worker.stop()


# ---------------------------------------------------------------- ICE servers
# stun:host[:port], turn:host[:port][?transport=udp|tcp], turns:...: RFC 7064 / 7065 URIs, nothing else
ICE_URL = re.compile(r"(stun|turns?):[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?(\?transport=(udp|tcp))?")
ICE_CREDENTIAL_MAX = 256


def ice_servers(url: str, username: str = "", credential: str = "") -> list[dict[str, str]]:
    """The ICE server list for one typed STUN/TURN URL (none when empty: host candidates, loopback and LAN).

    Raises ValueError when ``url`` is not a stun:/turn:/turns: URI. Only the browser is given it (see the
    page): the server side never contacts an address a visitor typed."""
    url = url.strip()
    if not url:
        return []
    if not ICE_URL.fullmatch(url) or len(username) > ICE_CREDENTIAL_MAX or len(credential) > ICE_CREDENTIAL_MAX:
        raise ValueError(url)
    server = {"urls": url}
    if url.startswith("turn") and (username or credential):
        server |= {"username": username, "credential": credential}
    return [server]


__all__ = [
    "LatestFrame",
    "LiveProcessor",
    "LiveResult",
    "LiveSettings",
    "LiveStats",
    "LiveWorker",
    "CallPacer",
    "StreamTarget",
    "analyse",
    "draw_result",
    "http_target",
    "ice_servers",
    "local_target",
    "max_calls_per_second",
    "server_identity",
    "query_jpeg",
]
