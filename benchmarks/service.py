"""Service benchmark: search latency against the bare numpy work, the cross-process check, scoring, register.

    python benchmarks/service.py [--sizes 10000 100000] [--queries 40] [--registers 20] [--skip-http]

It runs numpy with one BLAS thread (OPENBLAS_NUM_THREADS, unless set): on a busy 2-core machine
OpenBLAS's threads wait on each other and a 100k scan takes 5-10 ms instead of 2, and CPU time
then measures the work itself. The ratios compare like with like either way.

Search figures use vectors that match: synthetic identities of 5 faces, clustered so that
same-identity pairs sit at the real genuine distance and other pairs at the real impostor
distance of dlib descriptors (printed as measured). Each line prints the matches returned
beside its latency; every latency is a median over ``--queries`` searches by faceId.

- ``numpy``: the bare physical work on the same matrix: matrix-vector product, argpartition
  of the k best, sort of those k;
- ``index``: the engine's index alone (scan, selection and the matchFaces list), no database;
- ``service``: ``FaceService.search_by_face_id``: the index plus the cross-process check
  (the group's generation read from SQLite);
- ``handle``: ``LocalEngine.handle``, the wire-level entry (argument checks, result header);
- ``client``: ``FaceRecoClient.local()``, parsed into the contract's models (what the dashboard
  and the tuning scorer use);
- ``http``: the same client over HTTP to ``python -m facereco serve`` on 127.0.0.1, same data:
  each call's CPU is the client's plus the server process's (its threads' run time from
  ``/proc``, to the nanosecond), also printed apart as ``http client`` and ``http server``.

Each table is printed twice: with the paths taking turns call by call (the server then wakes from
idle for every call while the in-process paths run back to back: see ``SPACING_MODES``), and with
the same idle gap before every timed call.

Then: lfw-dev (real descriptors from the benchmark cache) scored through the client with
``facereco.tuning.score_group``, and register throughput from a 1-face JPEG.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads; the server started below inherits it

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from datasets import CACHE  # noqa: E402

from facereco import FaceRecoClient  # noqa: E402
from facereco.engine.index import unit_rows  # noqa: E402
from facereco.samples import package_photo  # noqa: E402
from facereco.synthetic import load_synthetic_faces  # noqa: E402
from facereco.transport import LocalTransport  # noqa: E402

GENUINE_DISTANCE = 0.30  # median unit-vector distance of same-person lfw-dev pairs (dlib descriptors)
IMPOSTOR_DISTANCE = 0.574  # median of different-person pairs (similarity.DISTANCE_AT_10)
FACES_PER_IDENTITY = 5


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def clustered_identities(count: int, seed: int) -> np.ndarray:
    """Unit vectors: a shared direction, an identity offset, a per-face offset (near-orthogonal in 128-d).

    Same identity: distance sqrt(2) * face; different: sqrt(2 * (identity^2 + face^2)).
    """
    face = GENUINE_DISTANCE / np.sqrt(2)
    identity = np.sqrt(IMPOSTOR_DISTANCE**2 / 2 - face**2)
    shared = np.sqrt(1 - identity**2 - face**2)
    rng = np.random.default_rng(seed)
    direction = unit_rows(rng.normal(size=(1, 128)))[0]
    identities = unit_rows(rng.normal(size=(count // FACES_PER_IDENTITY + 1, 128)))
    offsets = unit_rows(rng.normal(size=(count, 128)))
    return unit_rows(
        shared * direction + identity * identities[np.arange(count) // FACES_PER_IDENTITY] + face * offsets
    )


def build_group(client: FaceRecoClient, group_id: str, vectors: np.ndarray, labels: list[str] | None = None) -> None:
    """A group of faces with no photos behind them (``facereco.synthetic.load_synthetic_faces``):
    the benchmark's one builder."""
    engine = client.transport.engine
    client.create_group(group_id)
    owner = engine.secrets.appkey_digest(LocalTransport.LOCAL_APPKEY)
    load_synthetic_faces(engine.service.store, owner, group_id, vectors, labels)


Figure = tuple[float, float, int]  # median wall ms, median CPU ms, matches returned

# How each timed call meets the machine. A process that has just slept pays for it (caches and the
# vCPU's state lost while idle): compare the in-process rows of the two tables. Taking turns, the
# in-process paths run back to back in this process while the server sleeps between its calls, so
# the HTTP figure alone carries that cost; after an equal idle gap before every timed call, every
# path carries it.
IDLE_GAP_S = 0.005
SPACING_MODES = {
    "turns": "paths taking turns call by call (in-process paths back to back, the server woken from idle)",
    "idle": f"each timed call after {IDLE_GAP_S * 1000:g} ms idle (every path, in-process too, woken from idle)",
}


def interleaved_medians(
    runs: dict[str, Callable[[int], int]], queries: int, server_pid: int | None = None, idle_gap_s: float = 0.0
) -> dict[str, Figure]:
    """Median wall-clock and CPU milliseconds of each ``run(i)``, and the matches its last call returned.

    The runs take turns query by query, so a burst of load from elsewhere on the machine hits every
    path alike. CPU time is this process's (one BLAS thread: the work itself, whatever else the
    machine runs); for the ``http`` run each call's CPU is the client's plus the server process's
    (``server_pid``), whose medians are also given alone as ``http client`` and ``http server``.
    ``idle_gap_s``: a sleep before each timed call, so every path starts from idle as the server does.
    """
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    server: list[float] = []
    returned = {name: run(0) for name, run in runs.items()}  # warm
    for i in range(queries):
        for name, run in runs.items():
            time.sleep(idle_gap_s)
            server_before = process_cpu_s(server_pid) if name == "http" and server_pid else 0.0
            started, cpu_started = time.perf_counter(), time.process_time()
            returned[name] = run(i)
            cpu[name].append((time.process_time() - cpu_started) * 1000)
            wall[name].append((time.perf_counter() - started) * 1000)
            if name == "http" and server_pid:
                time.sleep(0.002)  # the server's last steps after answering (access line, back to its poll) count too
                server.append((process_cpu_s(server_pid) - server_before) * 1000)
    if server:
        cpu["http client"], wall["http client"] = cpu["http"], wall["http"]
        cpu["http server"], wall["http server"] = server, wall["http"]
        cpu["http"] = [own + theirs for own, theirs in zip(cpu["http"], server, strict=True)]
        returned["http client"] = returned["http server"] = returned["http"]
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name]), returned[name]) for name in cpu}


def process_cpu_s(pid: int) -> float:
    """CPU seconds run by a process's threads, to the nanosecond (Linux ``/proc/PID/task/*/schedstat``;
    ``/proc/PID/stat`` counts 10 ms clock ticks, too coarse for a call of a few milliseconds)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def bare_scan(matrix: np.ndarray, query: np.ndarray, k: int) -> int:
    cosine = matrix @ query
    top = np.argpartition(cosine, len(cosine) - k)[len(cosine) - k :]
    return len(top[np.argsort(-cosine[top])])


def search_figures(size: int, queries: int, http: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        client = FaceRecoClient.local(data_dir)
        engine = client.transport.engine
        service = engine.service
        owner = engine.secrets.appkey_digest(LocalTransport.LOCAL_APPKEY)
        vectors = clustered_identities(size, seed=size)
        sample = vectors[:2000].astype(np.float64)
        distances = np.sqrt(np.maximum(2 - 2 * sample @ sample.T, 0))
        same = np.arange(2000)[:, None] // FACES_PER_IDENTITY == np.arange(2000)[None, :] // FACES_PER_IDENTITY
        upper = np.triu(np.ones_like(same), 1).astype(bool)
        build_group(client, "bench", vectors)
        matrix = unit_rows(vectors)  # the same unit rows the index scans, for the bare numpy figure
        ids = [f.face_id for f in client.list_faces("bench", limit=200).faces]
        before, started = rss_mb(), time.perf_counter()
        index = service.indexes.fresh(owner, "bench", service.store.group_generation(owner, "bench"))
        load_s, added_mb = time.perf_counter() - started, rss_mb() - before
        print(
            f"\n{size:,} faces (synthetic identities: genuine distance median "
            f"{np.median(distances[same & upper]):.3f}, impostor {np.median(distances[~same & upper]):.3f}); "
            f"index {index.nbytes / 2**20:.1f} MB counted, RSS +{added_mb:.0f} MB, loaded in {load_s:.2f} s"
        )
        query_vectors = [index.face(face_id)[0] for face_id in ids]

        def wire(limit: int, threshold: int) -> Callable[[int], int]:
            query = {"limit": str(limit), "threshold": str(threshold)}

            def run(i: int) -> int:
                path = {"group_id": "bench", "face_id": ids[i % len(ids)]}
                return len(
                    engine.handle(LocalTransport.LOCAL_APPKEY, "search_by_face_id", path, query, None)["data"][
                        "matchFaces"
                    ]
                )

            return run

        cases = [(100, 1), (4096, 1), (100, 90)]
        tables: dict[str, dict[str, dict[tuple[int, int], Figure]]] = {mode: {} for mode in SPACING_MODES}
        with contextlib.ExitStack() as stack:
            remote, server_pid = stack.enter_context(http_client(data_dir)) if http else (None, None)
            for limit, threshold in cases:
                case = (limit, threshold)
                k = min(limit, len(matrix))
                runs: dict[str, Callable[[int], int]] = {
                    "numpy": lambda i, k=k: bare_scan(matrix, query_vectors[i % len(ids)], k),
                    "index": lambda i, c=case: len(
                        index.matches(query_vectors[i % len(ids)], *c, exclude=ids[i % len(ids)])
                    ),
                    "service": lambda i, c=case: service.search_by_face_id(owner, "bench", ids[i % len(ids)], *c)[
                        "matchFaceCount"
                    ],
                    "handle": wire(limit, threshold),
                    "client": lambda i, c=case: len(
                        client.search_by_face_id("bench", ids[i % len(ids)], limit=c[0], threshold=c[1]).match_faces
                    ),
                }
                if remote is not None:
                    runs["http"] = lambda i, c=case: len(
                        remote.search_by_face_id("bench", ids[i % len(ids)], limit=c[0], threshold=c[1]).match_faces
                    )
                for mode, figures in tables.items():
                    gap = IDLE_GAP_S if mode == "idle" else 0.0
                    for name, figure in interleaved_medians(runs, queries, server_pid, gap).items():
                        figures.setdefault(name, {})[case] = figure
        for mode, figures in tables.items():
            print_table(SPACING_MODES[mode], figures, cases)
        figures = tables["turns"]
        for case in cases:
            on, off = figures["service"][case][1], figures["index"][case][1]
            print(
                f"  cross-process check, limit {case[0]}, threshold {case[1]}: service (check on) {on:.2f} ms CPU, "
                f"index alone (no database read) {off:.2f} ms: {100 * (on - off) / off:+.1f} %"
            )
        check = interleaved_medians({"read": lambda i: service.store.group_generation(owner, "bench")}, 300)["read"]
        print(f"  the generation read alone: {check[1] * 1000:.1f} us CPU ({check[0] * 1000:.1f} us wall)")


def print_table(mode: str, figures: dict[str, dict[tuple[int, int], Figure]], cases: list[tuple[int, int]]) -> None:
    print(
        f"  {mode}\n"
        "  median CPU ms (wall ms in brackets), matches returned, CPU ratio to the bare numpy scan-and-select\n"
        "  of the same k on the same matrix in this run"
    )
    print(f"  {'path':<11}" + "".join(f"{f'limit {lim}, threshold {thr}':>38}" for lim, thr in cases))
    for name, row in figures.items():
        cells = []
        for case in cases:
            wall_ms, cpu_ms, returned = row[case]
            ratio = cpu_ms / figures["numpy"][case][1]
            cells.append(f"{cpu_ms:7.2f} ({wall_ms:7.2f}) {returned:5d} m {ratio:5.1f}x")
        print(f"  {name:<11}" + "".join(f"{c:>38}" for c in cells))
    if "http" in figures:
        ratios = (
            f"limit {c[0]}, threshold {c[1]}: {figures['http'][c][1] / figures['client'][c][1]:.2f}x" for c in cases
        )
        print("  HTTP / in-process client CPU: " + "; ".join(ratios))


@contextlib.contextmanager
def http_client(data_dir: Path) -> Iterator[tuple[FaceRecoClient, int]]:
    """A client over HTTP to `python -m facereco serve` on 127.0.0.1, on the same data folder; the server's pid."""
    from servers import running_server

    # At serve's default level: the access line it writes per call is part of what a call costs.
    with running_server(data_dir, [LocalTransport.LOCAL_APPKEY], "--log-level", "info") as server:
        yield FaceRecoClient(LocalTransport.LOCAL_APPKEY, server.base_url), server.process.pid


def lfw_scoring() -> None:
    """lfw-dev's cached descriptors as a labeled group, scored through the client (threshold 1, limit 4096)."""
    from facereco.labeled_sets import labeled_external_id
    from facereco.tuning import score_group

    cache = CACHE / "lfw-dev.npz"
    if not cache.exists():
        print(f"\nlfw-dev scoring: skipped, no descriptor cache at {cache} (run benchmarks/tuning.py once)")
        return
    with np.load(cache) as data:
        kept = {name: data[name] for name in data.files if data[name].size}
    names = sorted(kept)
    labels = [labeled_external_id(*name.split("/", 1)) for name in names]
    with tempfile.TemporaryDirectory() as tmp:
        client = FaceRecoClient.local(Path(tmp) / "data")
        build_group(client, "lfw", np.vstack([kept[n] for n in names]), labels)
        started, cpu_started = time.perf_counter(), time.process_time()
        scores = score_group(client, "lfw")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        f"\nlfw-dev scored through FaceRecoClient.local(): {len(names):,} faces, {len(names):,} searches "
        f"(limit 4096, threshold 1), {scores.scores.size:,} distinct pairs returned, in {elapsed:.1f} s "
        f"({1000 * elapsed / len(names):.1f} ms per search; {cpu:.1f} s of CPU)"
    )


def register_throughput(count: int) -> None:
    from PIL import Image
    from servers import start_server, stop_server

    photo = Image.open(package_photo("grace_hopper")).convert("RGB")
    buffer = io.BytesIO()
    photo.resize((640, 749)).save(buffer, format="JPEG", quality=90)
    image = buffer.getvalue()
    print(f"\nRegister throughput, 1-face 640 px JPEG ({len(image):,} bytes), {count} sequential calls")
    with tempfile.TemporaryDirectory() as data_dir:
        client = FaceRecoClient.local(data_dir)
        client.create_group("bench")
        client.register_faces("bench", image)  # models warm
        started = time.perf_counter()
        for _ in range(count):
            client.register_faces("bench", image)
        print(f"  in-process: {count / (time.perf_counter() - started):.1f} images/s")
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(Path(data_dir) / "data", ["bench-key"], "--log-level", "warning")
        try:
            client = FaceRecoClient("bench-key", server.base_url)
            client.create_group("bench")
            client.register_faces("bench", image)
            started = time.perf_counter()
            for _ in range(count):
                client.register_faces("bench", image)
            print(f"  over HTTP : {count / (time.perf_counter() - started):.1f} images/s")
        finally:
            stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10000, 100000])
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--registers", type=int, default=20)
    parser.add_argument("--skip-http", action="store_true", help="no server: in-process figures only")
    parser.add_argument("--skip-lfw", action="store_true")
    args = parser.parse_args()
    print("Search by faceId, median ms over", args.queries, "queries; matches returned beside each figure")
    for size in args.sizes:
        search_figures(size, args.queries, http=not args.skip_http)
    if not args.skip_lfw:
        lfw_scoring()
    if args.registers:
        register_throughput(args.registers)


if __name__ == "__main__":
    main()
