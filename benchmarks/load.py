"""Load on a real `python -m facereco serve` (issue 21): mixed calls, hostile clients held, parallel large images.

    python benchmarks/load.py [--clients 16] [--seconds 60] [--hostile-seconds 30] [--large 24]

Everything runs on 127.0.0.1 against one server started here (``--warm``, a fresh data folder).

1. mixed: ``--clients`` threads, each on its own keep-alive session, loop for ``--seconds`` over
   register (a 400 px photo of one face), search by image, list faces and detect, in that order from
   a random start. Printed: calls per second, p50 / p99 latency per call, errors (any answer that is
   not a success), the server's resident memory before, at peak (VmHWM) and after.
2. hostile: while 30 stalled uploads (16,000,000 bytes declared, 15,000,000 sent, then silence) and
   45 detects on an image URL that trickles a byte every 0.2 s are held (each re-sent as soon as the
   server drops or answers it), 8 clients make plain calls (get group, list faces) for
   ``--hostile-seconds``: their p50 / p99 and errors.
3. large: ``--large`` detects at once of a 3250x3250 RGBA PNG of a face (the largest PNG kind
   accepted, 0.9 MB): all must answer 0 with the face; the server's peak over its resident size
   before them, against the analysis budget (``FACERECO_ANALYSIS_MEMORY_MB``, 512 MB unless set),
   and what stays resident after.
4. pipeline: the models' peak on a 2048x2048 photo, in a fresh process (the per-pixel figure the
   analysis estimate uses).

The loops are bounded by their deadlines; the hostile threads stop when their phase ends.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from PIL import Image  # noqa: E402

from facereco.engine.memory import analysis_budget_bytes  # noqa: E402
from facereco.samples import package_photo  # noqa: E402
from tests.hostile import TricklingHost, reset_peak, rss_kb, stalled_upload  # noqa: E402
from tests.servers import RunningServer, start_server, stop_server  # noqa: E402

APPKEY = "load-benchmark-key"
PREFIX = f"/nhn-face-reco/v1.0/appkeys/{APPKEY}"
GROUP = "load"


def image_ref(data: bytes) -> dict[str, str]:
    return {"bytes": base64.b64encode(data).decode()}


def face_photo(side: int = 400) -> bytes:
    buffer = io.BytesIO()
    Image.open(package_photo("astronaut")).convert("RGB").resize((side, side)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def largest_png() -> bytes:
    """The largest PNG kind accepted (RGBA, 3250 px: its decode is estimated just under the 130 MB
    limit), with a face in it so that detection, alignment and embedding run too."""
    photo = Image.open(package_photo("astronaut")).convert("RGBA")
    buffer = io.BytesIO()
    photo.resize((3250, 3250), Image.Resampling.NEAREST).save(buffer, "PNG")
    return buffer.getvalue()


class Timings:
    """Latencies and errors per call, from many threads."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: list[str] = []
        self._lock = threading.Lock()

    def call(self, name: str, run: Callable[[], requests.Response]) -> None:
        started = time.perf_counter()
        try:
            answer = run()
            header = answer.json()["header"]
            ok = answer.status_code == 200 and header["resultCode"] >= 0
            problem = f"{name}: HTTP {answer.status_code} {header['resultCode']} {header['resultMessage']}"
        except (requests.RequestException, ValueError, KeyError) as error:
            ok, problem = False, f"{name}: {type(error).__name__}"
        took = time.perf_counter() - started
        with self._lock:
            self.seconds[name].append(took)
            if not ok:
                self.errors[name] += 1
                self.examples = (self.examples + [problem])[:5]

    def report(self, wall_s: float) -> None:
        total = sum(len(v) for v in self.seconds.values())
        errors = sum(self.errors.values())
        print(f"  {total:,} calls in {wall_s:.0f} s: {total / wall_s:.1f} calls/s, {errors} errors")
        for name, values in sorted(self.seconds.items()):
            ordered = sorted(values)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            print(
                f"    {name:<16} {len(values):6,} calls  p50 {statistics.median(values) * 1000:7.0f} ms"
                f"  p99 {p99 * 1000:7.0f} ms  errors {self.errors[name]}"
            )
        for example in self.examples:
            print(f"    e.g. {example}")


def run_clients(clients: int, seconds: float, work: Callable[[requests.Session, random.Random], None]) -> float:
    deadline = time.monotonic() + seconds

    def client(seed: int) -> None:
        session, rng = requests.Session(), random.Random(seed)
        while time.monotonic() < deadline:
            work(session, rng)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def mixed(server: RunningServer, clients: int, seconds: float, photo: bytes) -> None:
    print(f"\n1. mixed register / search / list / detect: {clients} clients for {seconds:.0f} s")
    timings, base = Timings(), server.base_url + PREFIX
    body = {"image": image_ref(photo)}
    calls: list[tuple[str, Callable[[requests.Session], requests.Response]]] = [
        ("register", lambda s: s.post(f"{base}/groups/{GROUP}", json={**body, "limit": 1}, timeout=60)),
        ("search_by_image", lambda s: s.post(f"{base}/groups/{GROUP}/search", json={**body, "limit": 10}, timeout=60)),
        ("list_faces", lambda s: s.get(f"{base}/groups/{GROUP}/faces", params={"limit": 50}, timeout=60)),
        ("detect", lambda s: s.post(f"{base}/detect", json=body, timeout=60)),
    ]

    def work(session: requests.Session, rng: random.Random) -> None:
        start = rng.randrange(len(calls))
        for name, call in calls[start:] + calls[:start]:
            timings.call(name, lambda call=call: call(session))  # type: ignore[misc]

    pid = server.process.pid
    before = reset_peak(pid)
    wall = run_clients(clients, seconds, work)
    peak = rss_kb(pid, "VmHWM")
    time.sleep(2)  # let the last answers' buffers go before reading what stays
    timings.report(wall)
    print(f"  server RSS: before {mb(before)}, peak {mb(peak)}, after {mb(rss_kb(pid))}")


def hostile(server: RunningServer, seconds: float) -> None:
    print(f"\n2. plain calls from 8 clients for {seconds:.0f} s while 30 stalled uploads and 45 slow URLs are held")
    host, stop = TricklingHost(), threading.Event()
    port = int(server.base_url.rsplit(":", 1)[1])
    held = {"stalled answered": 0, "slow answered": 0}
    lock = threading.Lock()

    def keep(count_as: str, send: Callable[[], object]) -> None:
        while not stop.is_set():
            send()
            with lock:
                held[count_as] += 1

    slow_body = {"image": {"url": f"http://127.0.0.1:{host.port}/slow.png"}}

    def slow_detect() -> object:
        return requests.post(f"{server.base_url}{PREFIX}/detect", json=slow_body, timeout=300)

    attackers = [
        threading.Thread(target=keep, args=("stalled answered", lambda: stalled_upload(port, f"{PREFIX}/detect", 120)))
        for _ in range(30)
    ] + [threading.Thread(target=keep, args=("slow answered", slow_detect)) for _ in range(45)]
    for thread in attackers:
        thread.daemon = True
        thread.start()
    host.first.wait(30)
    time.sleep(2)  # the attack in place before the plain clients start timing
    timings, base = Timings(), server.base_url + PREFIX

    def work(session: requests.Session, rng: random.Random) -> None:
        if rng.random() < 0.5:
            timings.call("get_group", lambda: session.get(f"{base}/groups/{GROUP}", timeout=60))
        else:
            timings.call("list_faces", lambda: session.get(f"{base}/groups/{GROUP}/faces", timeout=60))

    wall = run_clients(8, seconds, work)
    timings.report(wall)
    print(
        f"  meanwhile: {held['stalled answered']} stalled uploads dropped (and re-sent), "
        f"{held['slow answered']} slow detects answered, at most {host.most_at_once} downloads at once"
    )
    stop.set()
    host.close()
    for thread in attackers:  # before the next phase measures memory: stalled ones end within ~40 s
        thread.join(120)


def large(server: RunningServer, count: int) -> None:
    data = largest_png()
    budget = analysis_budget_bytes()
    print(f"\n3. {count} detects of a 3250x3250 RGBA PNG ({len(data):,} bytes) at once; budget {budget / 1e6:,.0f} MB")
    url, pid = f"{server.base_url}{PREFIX}/detect", server.process.pid
    body = json.dumps({"image": image_ref(data)})
    requests.post(url, data=body, timeout=300)  # one alone first: the figure below is for the many
    before = reset_peak(pid)
    codes: list[int] = []
    faces: list[int] = []
    started = time.monotonic()

    def one() -> None:
        answer = requests.post(url, data=body, timeout=600).json()
        codes.append(answer["header"]["resultCode"])
        faces.append(answer.get("data", {}).get("faceDetailCount", 0))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    peak = rss_kb(pid, "VmHWM")
    time.sleep(2)
    after = rss_kb(pid)
    errors = count - codes.count(0)
    print(f"  {codes.count(0)} of {count} answered 0 in {wall:.1f} s ({sum(faces)} faces); errors {errors}")
    print(
        f"  server RSS: before {mb(before)}, peak {mb(peak)} (+{mb(peak - before)}), after {mb(after)} "
        f"(+{mb(after - before)})"
    )


def pipeline() -> None:
    """What the models add per pixel of the scaled image (the analysis estimate's bytes per pixel), measured
    on the astronaut (one face) and, when the shared photos are there, a group photo of 20 faces."""
    from tests.memory import peak_added

    photos = [package_photo("astronaut"), ROOT.parent / "shared" / "faces" / "multi" / "dlib-bald-guys.jpg"]
    print("\npipeline: detect (orientation, mask) + embed on a photo scaled to 2048x2048, in a fresh process")
    for photo in [p for p in photos if p.exists()]:
        setup = f"""
import numpy as np
from PIL import Image
from facereco.engine.vision import shared_analyzer
analyzer = shared_analyzer()
analyzer.warm_up(mask=True)
analyzer.detect(np.zeros((300, 300, 3), np.uint8))
rgb = np.asarray(Image.open({str(photo)!r}).convert("RGB").resize((2048, 2048))).copy()
"""
        work = """
faces = analyzer.detect(rgb, orientation=True, mask=True)
analyzer.embed_all(rgb, [f for f in faces if f.recognisable])
_result = len(faces)
"""
        added_mb, faces = peak_added(setup, work)
        per_pixel = added_mb * 1024 * 1024 / (2048 * 2048)
        print(f"  {photo.name}: {faces} faces, +{added_mb:.0f} MB at peak = {per_pixel:.0f} bytes per pixel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16, choices=range(8, 33), metavar="8..32")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--hostile-seconds", type=float, default=30)
    parser.add_argument("--large", type=int, default=24)
    parser.add_argument("--phases", default="mixed,hostile,large,pipeline", help="any of mixed,hostile,large,pipeline")
    args = parser.parse_args()
    photo = face_photo()
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder) / "data", [APPKEY], "--allow-private-urls", "--log-level", "warning")
        try:
            requests.post(f"{server.base_url}{PREFIX}/groups", json={"groupId": GROUP}, timeout=60)
            requests.post(f"{server.base_url}{PREFIX}/groups/{GROUP}", json={"image": image_ref(photo)}, timeout=60)
            print(f"serve pid {server.process.pid}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
            phases = args.phases.split(",")
            if "mixed" in phases:
                mixed(server, args.clients, args.seconds, photo)
            if "hostile" in phases:
                hostile(server, args.hostile_seconds)
            if "large" in phases:
                large(server, args.large)
            if "pipeline" in phases:
                pipeline()
            print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
