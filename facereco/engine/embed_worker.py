"""A second process that embeds face chips, so a group photo's faces use two cores (issue #12).

dlib's Python binding holds the interpreter lock while it computes a descriptor, so a second
thread gains nothing; a second process does. The parent cuts each face's 150x150 chip
(``dlib.get_face_chip``, cheap beside the descriptor) and sends it here; ``compute_face_descriptor`` on a chip gives
the same bits as on the whole image and its shape, so results do not depend on where a face ran.

The process is started as ``python -m facereco.engine.embed_worker`` with pipes for stdin and
stdout, not by ``multiprocessing``: the engine runs inside Streamlit and uvicorn, whose
``__main__`` must not be re-imported, and forking a threaded process is unsafe. It reads nothing
but its stdin and exits when that closes, so it dies with its parent.

The protocol (little-endian): every message starts with ``HEADER`` (``MAGIC``, count).
The worker announces itself once its network is loaded with a count of 0; then each request
is ``count`` chips (uint8, count x 150 x 150 x 3) and each answer ``count`` descriptors
(float32, count x 128).
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import numpy as np

from facereco.contract import MAX_DETECTED_FACES

CHIP_SIDE = 150
CHIP_PADDING = 0.25  # dlib's default for compute_face_descriptor(image, shape): the same chip
CHIP_BYTES = CHIP_SIDE * CHIP_SIDE * 3
DESCRIPTOR_SIZE = 128
DESCRIPTOR_BYTES = DESCRIPTOR_SIZE * 4
MAGIC = b"FRE1"
HEADER = struct.Struct("<4sI")
MAX_CHIPS = 2 * MAX_DETECTED_FACES  # one photo's faces, two looks each, at most: more is a broken stream

START_TIMEOUT_S = 60.0  # importing dlib and loading the network: far less, even on a busy machine
SEND_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 5.0  # plus ANSWER_S_PER_CHIP a chip: many times a face's embedding, for a busy machine
ANSWER_S_PER_CHIP = 1.0
MAX_FAILURES = 3  # in a row: then the worker stays off and every face is embedded in-process
OFF_VALUES = {"0", "false", "no", "off"}
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding this ``facereco``

log = logging.getLogger("facereco.engine")


# ------------------------------------------------------------------ both sides
def read_exact(stream: IO[bytes], size: int) -> bytearray | None:
    """``size`` bytes, or None when the stream ends first (EOF before the first byte or mid-message)."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        got = cast("io.BufferedReader", stream).readinto(view[done:])  # pipes are buffered; typed as plain IO
        if not got:
            return None
        done += got
    return buffer


def worker_allowed(requested: bool | None = None) -> bool:
    """Whether to run the worker: not when asked not to (argument, else ``FACERECO_EMBED_WORKER=0``),
    and never with one usable CPU, where a second process only adds its start and memory."""
    if requested is None:
        requested = os.environ.get("FACERECO_EMBED_WORKER", "1").strip().lower() not in OFF_VALUES
    return requested and usable_cpus() >= 2


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform says, else the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load_embedder() -> Any:
    """dlib's 128-d ResNet, from the ``face_recognition_models`` package (this process and the worker)."""
    import dlib
    import face_recognition_models as models

    return dlib.face_recognition_model_v1(models.face_recognition_model_location())


# ------------------------------------------------------------------ the worker process
def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Load the network, announce it, then answer requests until ``requests`` closes."""
    embedder = load_embedder()
    answers.write(HEADER.pack(MAGIC, 0))
    answers.flush()
    while (header := read_exact(requests, HEADER.size)) is not None:
        magic, count = HEADER.unpack(header)
        if magic != MAGIC or not 1 <= count <= MAX_CHIPS:
            raise SystemExit(f"embed worker: bad request header {bytes(header)!r}")
        payload = read_exact(requests, count * CHIP_BYTES)
        if payload is None:
            return
        chips = np.frombuffer(payload, dtype=np.uint8).reshape(count, CHIP_SIDE, CHIP_SIDE, 3)
        vectors = np.asarray(embedder.compute_face_descriptor(list(chips)), dtype="<f4")
        answers.write(HEADER.pack(MAGIC, count) + vectors.tobytes())
        answers.flush()


def main() -> None:
    # The answers go to a copy of stdout; fd 1 then points at stderr, so a library that prints
    # cannot corrupt the stream.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    if sys.stderr is not None:
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    else:  # started with fd 2 closed: what a library prints goes nowhere
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the parent went away
        serve(sys.stdin.buffer, answers)


# ------------------------------------------------------------------ the parent's handle
class _Launch:
    """One started process and whether it has announced itself."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.ready = threading.Event()
        self.settled = threading.Event()  # announced, or given up on
        self.started = time.perf_counter()
        self.start_s: float | None = None


class PendingEmbedding:
    """Chips sent to the worker; ``result`` joins the answer (None when the worker failed)."""

    def __init__(self, worker: EmbedWorker, launch: _Launch, count: int) -> None:
        self._worker = worker
        self._launch = launch
        self.count = count
        self.sent = threading.Event()
        self.done = threading.Event()
        self.answer: bytes | None = None
        self.error: str | None = None

    def exchange(self, request: bytes) -> None:
        """On a helper thread: write the chips, then block (without the GIL) for the answer."""
        process = self._launch.process
        try:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(request)
            process.stdin.flush()
            self.sent.set()
            self.answer = bytes(read_exact(process.stdout, HEADER.size + self.count * DESCRIPTOR_BYTES) or b"")
        except (OSError, ValueError) as error:  # broken pipe, or a pipe closed by stop()
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.sent.set()
            self.done.set()

    def result(self) -> list[np.ndarray] | None:
        """The descriptors in the order sent, or None (logged) when the worker died, hung or answered garbage."""
        try:
            if not self.done.wait(ANSWER_TIMEOUT_S + ANSWER_S_PER_CHIP * self.count):
                return self._failed(f"no answer in {ANSWER_TIMEOUT_S + ANSWER_S_PER_CHIP * self.count:.0f} s")
            if self.error is not None:
                return self._failed(self.error)
            vectors = self._decode(self.answer or b"")
            if vectors is None:
                return self._failed(f"a malformed answer of {len(self.answer or b'')} bytes")
            self._worker._succeeded(self.count)
            return vectors
        finally:
            self._worker._release()

    def _decode(self, answer: bytes) -> list[np.ndarray] | None:
        if len(answer) != HEADER.size + self.count * DESCRIPTOR_BYTES:
            return None
        if HEADER.unpack_from(answer) != (MAGIC, self.count):
            return None
        vectors = np.frombuffer(answer, dtype="<f4", offset=HEADER.size).reshape(self.count, DESCRIPTOR_SIZE)
        if not np.all(np.isfinite(vectors)):
            return None
        return list(vectors.astype(np.float32))

    def _failed(self, reason: str) -> list[np.ndarray] | None:
        """Report the failure to the worker; the failed request's result, None."""
        self._worker._failed(self._launch, reason)
        return None


class EmbedWorker:
    """The parent's handle on the embedding process: starts it in the background, sends one request
    at a time, notices failures, restarts it (at most ``MAX_FAILURES`` times in a row) and stops it.

    Nothing here ever waits for the worker to start, and nothing raises to the caller: ``submit``
    answers None whenever the faces should be embedded in-process instead.
    """

    def __init__(self, command: Sequence[str] | None = None) -> None:
        # The worker's command line: this module by default (tests run misbehaving ones).
        self._command = list(command or [sys.executable, "-m", "facereco.engine.embed_worker"])
        self.chips_embedded = 0  # chips described by the worker since this handle was made (v1.1: two a face)
        self._state_lock = threading.Lock()
        self._busy = threading.Lock()  # one request at a time; others embed in-process
        self._launch: _Launch | None = None
        self._wanted = False  # started and not stopped: a failed process is replaced on the next request
        self._failures = 0
        self._finalizer: weakref.finalize | None = None
        if hasattr(os, "register_at_fork"):  # a forked child must not talk to (or keep alive) our worker
            os.register_at_fork(after_in_child=functools.partial(_forget_in_child, weakref.ref(self)))

    @property
    def pid(self) -> int | None:
        launch = self._launch
        return launch.process.pid if launch is not None else None

    @property
    def ready(self) -> bool:
        """Announced and still running (``poll`` also reaps a process that died while idle)."""
        launch = self._launch
        return launch is not None and launch.ready.is_set() and launch.process.poll() is None

    @property
    def disabled(self) -> bool:
        """Off for good after ``MAX_FAILURES`` failures in a row."""
        return self._failures >= MAX_FAILURES

    @property
    def start_s(self) -> float | None:
        """Seconds from starting the process to its announcement (imports and network load)."""
        launch = self._launch
        return launch.start_s if launch is not None else None

    def start(self) -> None:
        """Start the process in the background unless it runs already; returns at once.
        After ``stop`` this is a fresh start: failures counted before no longer switch it off."""
        with self._state_lock:
            if not self._wanted:
                self._failures = 0
            self._wanted = True
            self._spawn_if_missing()

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Block until the worker has loaded its network (for warm_up, benchmarks and tests)."""
        launch = self._launch
        return launch is not None and launch.settled.wait(timeout) and launch.ready.is_set() and self._launch is launch

    def accepting(self) -> bool:
        """Ready for a request now. When its process has failed, this starts the replacement in the
        background (unless stopped or off for good) and says False: this request embeds in-process."""
        if self.ready:
            return True
        launch = self._launch
        if launch is not None and launch.ready.is_set():  # it died since it announced itself
            self._failed(launch, f"it exited while idle (exit code {launch.process.poll()})")
        with self._state_lock:
            if self._wanted:
                self._spawn_if_missing()
        return False

    def submit(self, chips: np.ndarray) -> PendingEmbedding | None:
        """Send ``chips`` (n x 150 x 150 x 3 uint8) and return once they are in the pipe; None when the
        worker is not ready, busy with another request, or fails to take them: embed in-process then."""
        launch = self._launch
        if not 1 <= len(chips) <= MAX_CHIPS:  # more than a photo's faces: not worth a broken worker
            return None
        if launch is None or not launch.ready.is_set() or not self._busy.acquire(blocking=False):
            return None
        try:
            pending = PendingEmbedding(self, launch, len(chips))
            request = HEADER.pack(MAGIC, len(chips)) + np.ascontiguousarray(chips, dtype=np.uint8).tobytes()
            helper = threading.Thread(
                target=pending.exchange, args=(request,), name="facereco-embed-worker-io", daemon=True
            )
            helper.start()
        except Exception as error:  # "can't start new thread", no memory: free it for the next photo
            self._release()
            log.warning("embedding worker not used for this photo (%s: %s)", type(error).__name__, error)
            return None
        # Wait for the write before the caller's dlib call takes the GIL for the rest of its share.
        if not pending.sent.wait(SEND_TIMEOUT_S) or pending.error is not None:
            self._failed(launch, pending.error or f"chips not taken in {SEND_TIMEOUT_S:.0f} s")
            self._release()
            return None
        return pending

    def stop(self) -> None:
        """Stop the process and reap it (no zombie); a later ``start`` starts a new one."""
        with self._state_lock:
            self._wanted = False
            launch, self._launch = self._launch, None
        if launch is not None:
            _stop_process(launch.process)

    # -------------------------------------------------------------- internals
    def _spawn_if_missing(self) -> None:
        """Under ``_state_lock``: start a process unless one runs or failures ran out."""
        if self._launch is not None or self.disabled:
            return
        try:
            # Its own session: a Ctrl-C meant for the server does not kill it mid-request (it exits on EOF).
            process = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None if _fd_open(2) else subprocess.DEVNULL,  # its main() needs an fd 2
                cwd=_PACKAGE_ROOT,  # no other ``facereco`` in the working directory comes first
                env=_child_environment(),
                start_new_session=True,
            )
        except OSError as error:  # no processes left, interpreter gone: count it like a crash
            self._failures += 1
            log.warning("embedding worker could not start (%s); faces embed in-process", error)
            return
        launch = self._launch = _Launch(process)
        if self._finalizer is not None:
            self._finalizer.detach()
        # Reaps the process when this handle is collected or the interpreter exits.
        self._finalizer = weakref.finalize(self, _stop_process, process)
        try:
            threading.Thread(
                target=self._await_announcement, args=(launch,), name="facereco-embed-worker-start", daemon=True
            ).start()
        except RuntimeError as error:  # "can't start new thread": nobody would ever see it announce itself
            self._launch = None
            self._failures += 1
            _stop_process(process)
            launch.settled.set()
            log.warning("embedding worker could not be watched (%s); faces embed in-process", error)

    def _await_announcement(self, launch: _Launch) -> None:
        timer = threading.Timer(START_TIMEOUT_S, launch.process.kill)
        timer.name, timer.daemon = "facereco-embed-worker-start-timer", True
        try:
            timer.start()  # without it a hung start would go unnoticed: treat "can't start new thread" as a failure
            assert launch.process.stdout is not None
            header = read_exact(launch.process.stdout, HEADER.size)
        except (OSError, ValueError, RuntimeError):
            header = None
        finally:
            timer.cancel()
        if header is not None and HEADER.unpack(header) == (MAGIC, 0):
            launch.start_s = time.perf_counter() - launch.started
            launch.ready.set()
        else:
            self._failed(launch, f"it did not start (exit code {launch.process.poll()})")
        launch.settled.set()

    def _failed(self, launch: _Launch, reason: str) -> None:
        """Log once, stop that process; the next request starts a new one unless failures ran out."""
        with self._state_lock:
            if self._launch is not launch:
                return  # already handled, or stopped on purpose
            self._launch = None
            self._failures += 1
            failures = self._failures
        _stop_process(launch.process)
        if failures >= MAX_FAILURES:
            log.warning(
                "embedding worker failed (%s); off after %d failures in a row, faces embed in-process", reason, failures
            )
        else:
            log.warning("embedding worker failed (%s); this photo embeds in-process, a new worker starts", reason)

    def _forget_parents_worker(self) -> None:
        """In a forked child: the process and its pipes are the parent's. Let go of them without a
        kill (the parent still uses it); the child starts a worker of its own on its next request."""
        self._state_lock = threading.Lock()  # another thread may have held them at the fork
        self._busy = threading.Lock()
        launch, self._launch = self._launch, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if launch is not None:
            _release_pipes(launch.process)

    def _succeeded(self, count: int) -> None:
        self._failures = 0
        self.chips_embedded += count

    def _release(self) -> None:
        self._busy.release()


def _forget_in_child(handle: weakref.ref[EmbedWorker]) -> None:
    worker = handle()
    if worker is not None:
        worker._forget_parents_worker()


def _release_pipes(process: subprocess.Popen[bytes]) -> None:
    """Point our ends of its pipes at /dev/null: the pipes close here, and the file objects stay
    valid (anything buffered goes nowhere rather than into the parent's stream)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _child_environment() -> dict[str, str]:
    """Ours, with the folder holding ``facereco`` first on ``PYTHONPATH``: ``-m`` must find this very
    package whether or not it is installed and whatever the working directory or ``PYTHONSAFEPATH``."""
    inherited = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([_PACKAGE_ROOT, inherited] if inherited else [_PACKAGE_ROOT])}


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    """Kill and reap it (no zombie), then close our ends of its pipes.

    Killed rather than asked: it holds no state, and a kill also frees a helper thread blocked on
    its pipes (EOF, broken pipe), where closing a pipe under that thread would wait for it.
    """
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


if __name__ == "__main__":
    main()
