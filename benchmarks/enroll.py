"""Enrollment speed of each descriptor version (issue #19), in-process and over HTTP.

    python benchmarks/enroll.py [--photos 120] [--batch 10] [--skip-http]

Enrolls ``--photos`` lfw-dev photos (every n-th, one face each) through ``labeled_sets.enroll``
(the CLI's and the Tuning page's path) into a v1.0 and a v1.1 group of one local engine,
``--batch`` photos at a time taking turns, so load from elsewhere falls on both alike; prints
images per second and the ratio. v1.1 embeds two chips a face, the mirror on the embed worker.
Beside it, the physical floor measured in the same run: one photo's detection and one chip's
network pass on one core, so v1.0 costs detect + chip on one core and v1.1 at best
(detect + 2 chips) / 2 on two.
Then the same over HTTP: ``python -m facereco serve`` on 127.0.0.1 over a data folder holding
both groups (created in the store first: a group created over HTTP always gets the newest version).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from datasets import add_faces_dir_argument, require_faces, use_faces_dir

from facereco import FaceRecoClient
from facereco.engine.descriptors import MIRRORED_LOOK, SINGLE_LOOK
from facereco.engine.images import decode_image
from facereco.engine.vision import FaceAnalyzer
from facereco.labeled_sets import enroll
from facereco.transport import LocalTransport

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.servers import running_server  # noqa: E402

BENCH_APPKEY = "bench-enroll-key"


def create_version_groups(data_dir: Path, appkey: str) -> None:
    """One group per run, in its version, owned by ``appkey``."""
    engine = FaceRecoClient.local(data_dir).transport.engine
    owner = engine.secrets.appkey_digest(appkey)
    for run, version in RUNS.items():
        engine.service.store.create_group(owner, group_of(run), version)
    engine.close()


def through_enroll(client: FaceRecoClient, group: str, batch: list[Path]) -> None:
    """``labeled_sets.enroll`` (the CLI's and the Tuning page's path) over a folder of the batch."""
    with tempfile.TemporaryDirectory() as folder:
        for path in batch:
            (Path(folder) / path.parent.name).mkdir(exist_ok=True)
            shutil.copy(path, Path(folder) / path.parent.name / path.name)
        report = enroll(client, group, Path(folder))
    assert report.added + report.no_face == len(batch), report  # every photo was sent


RUNS: dict[str, str] = {"v1.0": SINGLE_LOOK, "v1.1": MIRRORED_LOOK}


def enroll_rates(client: FaceRecoClient, chosen: list[Path], batch_size: int) -> dict[str, float]:
    """Images per second of each run, ``batch_size`` photos at a time taking turns (each its own group)."""
    seconds = dict.fromkeys(RUNS, 0.0)
    for start in range(0, len(chosen), batch_size):
        batch = chosen[start : start + batch_size]
        names = list(RUNS) if start % (2 * batch_size) == 0 else list(reversed(RUNS))
        for name in names:
            began = time.perf_counter()
            through_enroll(client, group_of(name), batch)
            seconds[name] += time.perf_counter() - began
    return {name: len(chosen) / s for name, s in seconds.items()}


def group_of(run: str) -> str:
    return "g" + str(list(RUNS).index(run))


def report(where: str, count: int, batch_size: int, rates: dict[str, float]) -> None:
    today = rates["v1.0"]
    figures = ", ".join(f"{name} {rate:.2f} img/s = {rate / today:.2f}x" for name, rate in rates.items())
    print(f"enroll {count} lfw-dev photos {where}, batches of {batch_size} taking turns: {figures}")


def physical_floor(chosen: list[Path]) -> None:
    """Median decode+detect+align and one chip's network pass per photo, on one core (no worker)."""
    analyzer = FaceAnalyzer(embed_worker=False)
    analyzer.warm_up()
    detect_ms, chip_ms = [], []
    for path in chosen:
        began = time.perf_counter()
        rgb = decode_image(path.read_bytes()).rgb
        faces = analyzer.detect(rgb)[:1]
        detected = time.perf_counter()
        if not faces:
            continue
        analyzer.embed_all(rgb, faces, SINGLE_LOOK)
        detect_ms.append((detected - began) * 1000)
        chip_ms.append((time.perf_counter() - detected) * 1000)
    detect, chip = statistics.median(detect_ms), statistics.median(chip_ms)
    plain, best_mirrored = detect + chip, (detect + 2 * chip) / 2
    print(
        f"physical work per photo, one core, medians of {len(chip_ms)}: detect {detect:.0f} ms, "
        f"one chip {chip:.0f} ms; "
        f"v1.0 {plain:.0f} ms on one core, v1.1 at best {best_mirrored:.0f} ms spread over two: "
        f"the ceiling for v1.1/v1.0 is {plain / best_mirrored:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=120)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--skip-http", action="store_true")
    add_faces_dir_argument(parser)
    args = parser.parse_args()
    use_faces_dir(args)
    folder = require_faces() / "lfw-dev"
    paths = sorted(folder.glob("*/*.jpg"))
    chosen = paths[:: max(len(paths) // args.photos, 1)][: args.photos]
    with tempfile.TemporaryDirectory() as scratch:
        in_process = Path(scratch) / "in-process"
        create_version_groups(in_process, LocalTransport.LOCAL_APPKEY)
        client = FaceRecoClient.local(in_process)
        client.transport.engine.warm_up()
        report("in-process", len(chosen), args.batch, enroll_rates(client, chosen, args.batch))
        client.transport.engine.close()
        physical_floor(chosen)
        if args.skip_http:
            return
        served = Path(scratch) / "served"
        create_version_groups(served, BENCH_APPKEY)
        with running_server(served, [BENCH_APPKEY]) as server:
            remote = FaceRecoClient(BENCH_APPKEY, server.base_url)
            report(f"over HTTP ({server.base_url})", len(chosen), args.batch, enroll_rates(remote, chosen, args.batch))


if __name__ == "__main__":
    main()
