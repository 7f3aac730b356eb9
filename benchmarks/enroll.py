"""Enrollment speed of each descriptor version (issue #19), in-process.

    python benchmarks/enroll.py [--photos 120] [--batch 10]

Enrolls ``--photos`` lfw-dev photos (every n-th, one face each) through ``labeled_sets.enroll``'s
call (register, limit 1) into a v1.0 group and a v1.1 group of one local engine, ``--batch``
photos at a time taking turns, so load from elsewhere falls on both alike; prints images per
second for each and the ratio. v1.1 embeds two chips a face, the mirror on the embed worker.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from datasets import add_faces_dir_argument, require_faces, use_faces_dir

from facereco import FaceRecoClient
from facereco.engine.descriptors import MIRRORED_LOOK, SINGLE_LOOK
from facereco.transport import LocalTransport


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=120)
    parser.add_argument("--batch", type=int, default=10)
    add_faces_dir_argument(parser)
    args = parser.parse_args()
    use_faces_dir(args)
    folder = require_faces() / "lfw-dev"
    paths = sorted(folder.glob("*/*.jpg"))
    chosen = paths[:: max(len(paths) // args.photos, 1)][: args.photos]
    with tempfile.TemporaryDirectory() as data_dir:
        client = FaceRecoClient.local(Path(data_dir))
        engine = client.transport.engine
        engine.warm_up()
        owner = engine.secrets.appkey_digest(LocalTransport.LOCAL_APPKEY)
        for version in (SINGLE_LOOK, MIRRORED_LOOK):
            engine.service.store.create_group(owner, version.replace(".", "-"), version)
        seconds = {SINGLE_LOOK: 0.0, MIRRORED_LOOK: 0.0}
        for start in range(0, len(chosen), args.batch):
            batch = [(p, p.read_bytes()) for p in chosen[start : start + args.batch]]
            for version in (
                (SINGLE_LOOK, MIRRORED_LOOK) if start % (2 * args.batch) == 0 else (MIRRORED_LOOK, SINGLE_LOOK)
            ):
                began = time.perf_counter()
                for path, data in batch:
                    client.register_faces(version.replace(".", "-"), data, external_image_id=path.stem, limit=1)
                seconds[version] += time.perf_counter() - began
        rates = {v: len(chosen) / s for v, s in seconds.items()}
        engine.close()
    print(
        f"enroll {len(chosen)} lfw-dev photos in-process, batches of {args.batch} taking turns: "
        f"v1.0 {rates[SINGLE_LOOK]:.2f} img/s, v1.1 {rates[MIRRORED_LOOK]:.2f} img/s "
        f"= {rates[MIRRORED_LOOK] / rates[SINGLE_LOOK]:.2f}x v1.0"
    )


if __name__ == "__main__":
    main()
