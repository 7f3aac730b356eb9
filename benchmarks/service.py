"""Service benchmark: search latency by group size, index memory, register throughput.

    python benchmarks/service.py [--sizes 1000 10000 100000] [--registers 20]

Vectors for the search figures are random unit vectors inserted through the store
directly (not from images). Register throughput uses 1-face 640 px JPEGs, through
the client in-process and over HTTP to `python -m facereco serve` on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facereco import FaceRecoClient  # noqa: E402
from facereco.engine.store import load_synthetic_faces  # noqa: E402
from facereco.samples import package_photo  # noqa: E402
from facereco.transport import LocalTransport  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def search_figures(sizes: list[int], queries: int) -> None:
    print("Search by faceId (in-process client, limit 100, threshold 90), ms")
    print(f"{'faces':>8} {'median':>8} {'p99':>8} {'index MB':>9} {'load s':>7}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as data_dir:
            client = FaceRecoClient.local(data_dir)
            engine = client.transport.engine
            owner = engine.secrets.appkey_digest(LocalTransport.LOCAL_APPKEY)
            client.create_group("bench")
            vectors = np.random.default_rng(size).normal(size=(size, 128)).astype(np.float32)
            load_synthetic_faces(engine.service.store, owner, "bench", vectors)
            del vectors
            ids = [f.face_id for f in client.list_faces("bench", limit=200).faces]
            before = rss_mb()
            started = time.perf_counter()
            engine.service.indexes.get(owner, "bench")
            load_s = time.perf_counter() - started
            added = rss_mb() - before
            times = []
            for i in range(queries):
                started = time.perf_counter()
                client.search_by_face_id("bench", ids[i % len(ids)], limit=100)
                times.append((time.perf_counter() - started) * 1000)
            print(f"{size:8,d} {statistics.median(times):8.2f} {percentile(times, 99):8.2f} {added:9.1f} {load_s:7.2f}")


def register_throughput(count: int) -> None:
    from PIL import Image

    sys.path.insert(0, str(ROOT / "tests"))
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--registers", type=int, default=20)
    args = parser.parse_args()
    search_figures(args.sizes, args.queries)
    register_throughput(args.registers)


if __name__ == "__main__":
    main()
