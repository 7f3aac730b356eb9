"""The embedding worker process (issue #12): real dlib, real subprocesses and pipes, no stand-ins.

A photo's faces are split between this process and the worker; the descriptors must be the very
bits ``embed`` gives, whatever happens to the worker (killed, answering garbage, hanging), and no
process may outlive the analyzer that started it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facereco.engine import embed_worker
from facereco.engine.api import LocalEngine
from facereco.engine.embed_worker import EmbedWorker, usable_cpus
from facereco.engine.images import decode_image
from facereco.engine.vision import DetectedFace, FaceAnalyzer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(usable_cpus() < 2, reason="the embedding worker is off on a machine with one CPU"),
]


def exited(pid: int) -> bool:
    """Gone or a zombie (after a reparenting, reaping is init's business)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


def reaped(pid: int) -> bool:
    """Not even a zombie: our own child was waited for."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def six_faces(astronaut_path, grace_hopper_path) -> np.ndarray:
    """A 2048 px wide 3x2 grid of the two package photos, each cell cropped differently: six faces
    of about 200 px with six different descriptors, so an answer out of order cannot pass."""
    photos = [Image.open(p).convert("RGB") for p in (astronaut_path, grace_hopper_path)]
    cell = 2048 // 3
    canvas = Image.new("RGB", (2048, 2 * cell), (200, 200, 200))
    for i, photo in enumerate(photos[k] for k in (0, 0, 1, 1, 1, 0)):
        crop = photo.crop((12 * i, 6 * i, photo.width - 6 * i, photo.height - 12 * i))
        canvas.paste(crop.resize((cell, cell)), ((i % 3) * cell, (i // 3) * cell))
    return np.asarray(canvas)


@pytest.fixture(scope="module")
def analyzer():
    analyzer = FaceAnalyzer(embed_worker=True)
    analyzer.warm_up()
    assert analyzer.embed_worker is not None and analyzer.embed_worker.ready
    yield analyzer
    pid = analyzer.embed_worker.pid
    analyzer.close()
    assert pid is None or reaped(pid)


@pytest.fixture(scope="module")
def detected(analyzer: FaceAnalyzer, six_faces: np.ndarray) -> list[DetectedFace]:
    faces = analyzer.detect(six_faces)
    assert len(faces) == 6
    return faces


@pytest.fixture(scope="module")
def one_by_one(analyzer: FaceAnalyzer, six_faces: np.ndarray, detected: list[DetectedFace]) -> list[np.ndarray]:
    vectors = [analyzer.embed(six_faces, f) for f in detected]
    assert len({v.tobytes() for v in vectors}) == 6, "six different faces: an order mix-up must show"
    return vectors


def assert_identical(got: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(got) == len(expected)
    for vector, reference in zip(got, expected, strict=True):
        assert vector.dtype == np.float32 and vector.shape == (128,)
        assert np.array_equal(vector, reference)


def test_six_faces_split_with_the_worker_give_the_same_bits(analyzer, six_faces, detected, one_by_one):
    before = analyzer.embed_worker.chips_embedded
    assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)
    assert analyzer.embed_worker.chips_embedded - before == 6, "the worker embedded the last half of the 12 chips"


def test_submit_answers_in_the_order_sent(analyzer, six_faces, detected, one_by_one):
    import dlib

    worker = analyzer.embed_worker
    assert worker.wait_ready()
    side, padding = embed_worker.CHIP_SIDE, embed_worker.CHIP_PADDING
    chips = [dlib.get_face_chip(six_faces, f.shape, side, padding) for f in detected]
    here = analyzer._describe_here(chips)  # each chip's descriptor computed in this process
    assert len({v.tobytes() for v in here}) == 6, "six different faces: an order mix-up must show"
    for order in ([0, 1, 2, 3, 4, 5], [4, 0, 5, 2, 1, 3]):
        pending = worker.submit(np.stack([chips[i] for i in order]))
        assert pending is not None
        assert_identical(pending.result(), [here[i] for i in order])


def test_real_group_photo_gives_the_same_bits(analyzer, shared_faces):
    rgb = decode_image((shared_faces / "multi" / "dlib-bald-guys.jpg").read_bytes()).rgb
    faces = analyzer.detect(rgb)
    assert len(faces) >= 3
    one_at_a_time = [analyzer.embed(rgb, f) for f in faces]  # each face's mirror chip on the worker
    before = analyzer.embed_worker.chips_embedded
    assert_identical(analyzer.embed_all(rgb, faces), one_at_a_time)
    assert analyzer.embed_worker.chips_embedded - before == 2 * len(faces) - len(faces)  # two chips a face


def test_concurrent_callers_all_get_their_own_faces(analyzer, six_faces, detected, one_by_one):
    results: dict[int, list[np.ndarray]] = {}

    def call(i: int) -> None:
        results[i] = analyzer.embed_all(six_faces, detected[i:])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(3):
        assert_identical(results[i], one_by_one[i:])


def test_killed_worker_is_noticed_reaped_and_replaced(analyzer, six_faces, detected, one_by_one, caplog):
    worker = analyzer.embed_worker
    old_pid = worker.pid
    os.kill(old_pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="facereco.engine"):
        assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)
        assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)  # starts the replacement
    assert len([r for r in caplog.records if "embedding worker failed" in r.message]) == 1, "logged once"
    assert reaped(old_pid)
    assert worker.wait_ready() and worker.pid != old_pid
    before = worker.chips_embedded
    assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)
    assert worker.chips_embedded - before == 6, "the replacement takes faces again"


def ready_after_death(worker: EmbedWorker) -> bool:
    """``worker.ready`` once its killed process can be reaped: its threads take a moment to exit
    after /proc already calls it a zombie; still True after 5 s means it is never noticed."""
    for _ in range(100):
        if not worker.ready:
            return False
        time.sleep(0.05)
    return worker.ready


def test_worker_dead_while_idle_is_reaped_and_replaced_before_the_next_photo(
    analyzer, six_faces, detected, one_by_one, caplog
):
    worker = analyzer.embed_worker
    assert worker.wait_ready()
    old_pid = worker.pid
    os.kill(old_pid, signal.SIGKILL)
    assert not ready_after_death(worker), "a dead worker is not ready"
    assert reaped(old_pid), "asking reaps it: no zombie"
    with caplog.at_level(logging.WARNING, logger="facereco.engine"):
        assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)  # in-process; starts the replacement
    assert [r.message for r in caplog.records if "embedding worker failed" in r.message] == [
        "embedding worker failed (it exited while idle (exit code -9)); this photo embeds in-process, "
        "a new worker starts"
    ]
    assert worker.wait_ready() and worker.pid != old_pid
    before = worker.chips_embedded
    assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)
    assert worker.chips_embedded - before == 6


def fail_to_start_thread_once(monkeypatch, name: str) -> list[str]:
    """Make the next ``Thread.start`` of a thread called ``name`` fail as it does when a process
    has no threads left; returns the names of the threads that failed."""
    real_start = threading.Thread.start
    failed: list[str] = []

    def start(thread: threading.Thread) -> None:
        if thread.name == name and not failed:
            failed.append(name)
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    return failed


def test_io_thread_that_cannot_start_falls_back_and_frees_the_worker(
    analyzer, six_faces, detected, one_by_one, monkeypatch
):
    worker = analyzer.embed_worker
    assert worker.wait_ready()
    failed = fail_to_start_thread_once(monkeypatch, "facereco-embed-worker-io")
    before = worker.chips_embedded
    assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)
    assert failed and worker.chips_embedded == before
    assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)
    assert worker.chips_embedded - before == 6, "the worker takes the next photo's faces"


@pytest.mark.parametrize("thread", ["facereco-embed-worker-start", "facereco-embed-worker-start-timer"])
def test_start_thread_that_cannot_start_counts_a_failure_and_is_retried(
    analyzer, six_faces, detected, one_by_one, monkeypatch, thread: str
):
    worker = analyzer.embed_worker
    assert worker.wait_ready()
    old_pid = worker.pid
    os.kill(old_pid, signal.SIGKILL)
    assert not ready_after_death(worker)
    failed = fail_to_start_thread_once(monkeypatch, thread)
    assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)  # notices the death, tries a replacement
    assert not worker.wait_ready()
    assert failed and worker.pid is None, "the unwatched replacement was stopped"
    assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)  # starts another one
    assert worker.wait_ready() and worker.pid != old_pid
    before = worker.chips_embedded
    assert_identical(analyzer.embed_all(six_faces, detected), one_by_one)
    assert worker.chips_embedded - before == 6


def test_engine_close_stops_and_reaps_the_worker(tmp_path):
    engine = LocalEngine(tmp_path, analyzer=FaceAnalyzer(embed_worker=True))
    engine.start_warm_up()
    worker = engine.service.analyzer.embed_worker
    assert worker.wait_ready()
    pid = worker.pid
    engine.close()
    assert reaped(pid) and worker.pid is None and not worker.ready
    engine.start_warm_up()  # a closed engine that warms up again gets a new worker
    assert worker.wait_ready() and worker.pid != pid
    pid = worker.pid
    engine.close()
    assert reaped(pid)


def test_worker_is_off_by_environment_or_argument(monkeypatch, tmp_path, six_faces, detected, one_by_one):
    monkeypatch.setenv("FACERECO_EMBED_WORKER", "0")
    off = FaceAnalyzer(model_dir=tmp_path)
    assert off.embed_worker is None
    off.start_warm_up().join(timeout=120)
    assert_identical(off.embed_all(six_faces, detected), one_by_one)
    monkeypatch.delenv("FACERECO_EMBED_WORKER")
    assert FaceAnalyzer(embed_worker=False).embed_worker is None
    assert FaceAnalyzer().embed_worker is not None  # constructed, not started: no process
    assert FaceAnalyzer().embed_worker.pid is None


def test_worker_is_off_with_one_cpu():
    script = textwrap.dedent(
        """
        import os
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        from facereco.engine.vision import FaceAnalyzer
        print(FaceAnalyzer(embed_worker=True).embed_worker)
        """
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert process.stdout.strip() == "None"


def test_worker_dies_with_its_parent():
    script = textwrap.dedent(
        """
        import os
        from facereco.engine.embed_worker import EmbedWorker
        worker = EmbedWorker()
        worker.start()
        assert worker.wait_ready()
        print(worker.pid, flush=True)
        os._exit(0)  # no clean-up at all: the worker must notice the closed pipe
        """
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    pid = int(process.stdout.strip())
    for _ in range(600):
        if exited(pid):
            break
        time.sleep(0.1)
    assert exited(pid)


def test_forked_child_lets_go_of_the_parents_worker():
    script = textwrap.dedent(
        """
        import os
        import numpy as np
        from facereco.engine.embed_worker import EmbedWorker

        def pipe_names(pid):
            names = set()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    names.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    pass
            return {name for name in names if name.startswith("pipe:")}

        worker = EmbedWorker()
        worker.start()
        assert worker.wait_ready()
        process = worker._launch.process
        ours = {os.readlink(f"/proc/self/fd/{s.fileno()}") for s in (process.stdin, process.stdout)}
        chips = np.zeros((2, 150, 150, 3), np.uint8)
        child = os.fork()
        if child == 0:
            kept = ours & pipe_names(os.getpid())
            print("child", worker.pid, len(kept), worker.submit(chips), flush=True)
            os._exit(0)
        os.waitpid(child, 0)
        pending = worker.submit(chips)
        print("parent", worker.pid == process.pid, len(pending.result()), flush=True)
        worker.stop()
        """
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert process.stdout.splitlines() == ["child None 0 None", "parent True 2"]


@pytest.mark.parametrize("trouble", ["PYTHONSAFEPATH", "stderr-closed"])
def test_worker_starts_wherever_its_parent_found_facereco(tmp_path, trouble: str):
    package_root = Path(embed_worker.__file__).resolve().parents[2]
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(package_root)!r})  # found by the parent's own path, not installed
        if {trouble == "stderr-closed"}:
            os.close(2)
        from facereco.engine.embed_worker import EmbedWorker
        worker = EmbedWorker()
        worker.start()
        print(worker.wait_ready(), flush=True)
        worker.stop()
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONSAFEPATH"}}
    if trouble == "PYTHONSAFEPATH":
        env["PYTHONSAFEPATH"] = "1"
    process = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True, cwd=tmp_path, env=env
    )
    assert process.stdout.strip() == "True"


def test_worker_process_runs_with_stderr_closed():
    package_root = Path(embed_worker.__file__).resolve().parents[2]
    process = subprocess.Popen(
        ["sh", "-c", 'exec "$0" -m facereco.engine.embed_worker 2>&-', sys.executable],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=package_root,
    )
    announcement = process.stdout.read(embed_worker.HEADER.size)
    process.stdin.close()
    assert process.wait(timeout=120) == 0
    process.stdout.close()
    assert embed_worker.HEADER.unpack(announcement) == (embed_worker.MAGIC, 0)


GARBAGE_WORKER = """
import struct, sys
header = struct.Struct("<4sI")
sys.stdout.buffer.write(header.pack(b"FRE1", 0)); sys.stdout.buffer.flush()
while data := sys.stdin.buffer.read(header.size):
    magic, count = header.unpack(data)
    sys.stdin.buffer.read(count * 150 * 150 * 3)
    {answer}
    sys.stdout.buffer.flush()
"""
ANSWERS = {
    "not-a-number": 'sys.stdout.buffer.write(header.pack(b"FRE1", count) + b"\\xff" * (512 * count))',
    "wrong-magic": 'sys.stdout.buffer.write(header.pack(b"XXXX", count) + bytes(512 * count))',
    "wrong-count": 'sys.stdout.buffer.write(header.pack(b"FRE1", count + 1) + bytes(512 * count))',
    "short": 'sys.stdout.buffer.write(header.pack(b"FRE1", count) + bytes(100)); sys.exit(0)',
}


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_garbage_answers_fall_back_then_switch_the_worker_off(
    analyzer, six_faces, detected, one_by_one, caplog, answer: str
):
    two_faces, expected = detected[:2], one_by_one[:2]  # one for the worker, one here: quick fallbacks
    analyzer_with_bad_worker = FaceAnalyzer(embed_worker=True)
    worker = EmbedWorker([sys.executable, "-c", GARBAGE_WORKER.format(answer=ANSWERS[answer])])
    analyzer_with_bad_worker.embed_worker = worker
    worker.start()
    pids = []
    with caplog.at_level(logging.WARNING, logger="facereco.engine"):
        for _ in range(embed_worker.MAX_FAILURES):
            assert worker.wait_ready()
            pids.append(worker.pid)
            assert_identical(analyzer_with_bad_worker.embed_all(six_faces, two_faces), expected)
            assert_identical(analyzer_with_bad_worker.embed_all(six_faces, two_faces), expected)  # restarts
    assert worker.disabled and worker.pid is None and worker.chips_embedded == 0
    assert_identical(analyzer_with_bad_worker.embed_all(six_faces, two_faces), expected)
    assert worker.pid is None, "off for good: no new process"
    assert all(reaped(pid) for pid in pids)
    failures = [r.message for r in caplog.records if "embedding worker failed" in r.message]
    assert len(failures) == embed_worker.MAX_FAILURES and "off after" in failures[-1]


def test_hung_worker_times_out_and_is_killed(analyzer, six_faces, detected, one_by_one, monkeypatch):
    monkeypatch.setattr(embed_worker, "ANSWER_TIMEOUT_S", 0.5)
    monkeypatch.setattr(embed_worker, "ANSWER_S_PER_CHIP", 0.0)
    hanging = GARBAGE_WORKER.format(answer="import time; time.sleep(3600)")
    worker = EmbedWorker([sys.executable, "-c", hanging])
    hung = FaceAnalyzer(embed_worker=True)
    hung.embed_worker = worker
    worker.start()
    assert worker.wait_ready()
    pid = worker.pid
    assert_identical(hung.embed_all(six_faces, detected[:2]), one_by_one[:2])
    assert reaped(pid) and not worker.ready
    hung.close()


@pytest.mark.parametrize(
    "command",
    [[sys.executable, "-c", "raise SystemExit(3)"], [str(Path(sys.executable).parent / "no-such-interpreter")]],
    ids=["exits-at-once", "cannot-be-run"],
)
def test_worker_that_cannot_start_is_given_up(detected, six_faces, one_by_one, caplog, command: list[str]):
    analyzer = FaceAnalyzer(embed_worker=True)
    analyzer.embed_worker = worker = EmbedWorker(command)
    with caplog.at_level(logging.WARNING, logger="facereco.engine"):
        worker.start()
        for _ in range(embed_worker.MAX_FAILURES + 1):
            assert not worker.wait_ready()  # the announcement never comes: the handle lets the process go
            assert_identical(analyzer.embed_all(six_faces, detected[:2]), one_by_one[:2])  # tries again
    assert worker.disabled and worker.pid is None
    warnings = [r.message for r in caplog.records if "embedding worker" in r.message]
    assert len(warnings) == embed_worker.MAX_FAILURES and "in-process" in warnings[-1]


def test_start_after_stop_is_a_fresh_start():
    worker = EmbedWorker([sys.executable, "-c", "raise SystemExit(3)"])
    worker.start()
    while not worker.disabled:
        worker.wait_ready()
        worker.accepting()  # replaces the failed start until failures run out
    worker.start()
    assert worker.pid is None, "a start while wanted does not undo the failures"
    worker.stop()
    worker.start()
    assert not worker.disabled and worker.pid is not None, "a start after stop tries again"
    worker.stop()
