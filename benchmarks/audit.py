"""Label audit on planted errors: lfw-dev's first 60 identities with 4+ photos, 4 photos each, 10 faces
filed under another identity and 5 photos registered twice (as tests/test_audit.py plants them).

    python benchmarks/audit.py

The faces go into a local engine from the cached descriptors of benchmarks/datasets.py (one face per
photo, as enrollment stores them; no detector run), once as they are ("clean") and once with the
planted errors; both are scored through the client (facereco.tuning.score_group). Prints where the
relabeled faces rank among the suspects, whether each duplicate is found, the EER of the planted set,
of the planted set with the suspects excluded (no call) and of the clean set with its 95 % interval,
identity-level 1:N with one photo and with every photo per identity, and how long the audit takes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasets import add_faces_dir_argument, embed_files, require_faces, use_faces_dir  # noqa: E402

from facereco import FaceRecoClient  # noqa: E402
from facereco.audit import audit, eer_interval, identity_identification, operating_threshold, rescored  # noqa: E402
from facereco.labeled_sets import labeled_external_id  # noqa: E402
from facereco.synthetic import add_labeled_vectors  # noqa: E402
from facereco.tuning import score_group  # noqa: E402

IDENTITIES, PER_IDENTITY, RELABELED, DUPLICATED = 60, 4, 10, 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_faces_dir_argument(parser)
    use_faces_dir(parser.parse_args())
    folder = require_faces() / "lfw-dev"
    chosen = [p for p in sorted(folder.iterdir()) if p.is_dir() and len(list(p.glob("*.jpg"))) >= PER_IDENTITY]
    files = {p.name: [f"{p.name}/{f.name}" for f in sorted(p.glob("*.jpg"))[:PER_IDENTITY]] for p in chosen}
    vectors = embed_files(folder, [f for fs in files.values() for f in fs])
    names = list(files)[:IDENTITIES]
    clean, planted, wrong, copies = [], [], {}, {}
    for i, identity in enumerate(names):
        with_face = [f for f in files[identity] if vectors[f] is not None]
        for k, file in enumerate(with_face):
            photo = file.split("/")[1]
            clean.append((identity, photo, vectors[file]))
            label = names[i + 30] if i < RELABELED and k == len(with_face) - 1 else identity
            if label != identity:
                wrong[labeled_external_id(label, photo)] = identity
            planted.append((label, photo, vectors[file]))
    for identity in names[45 : 45 + DUPLICATED]:
        label, photo, vector = next(row for row in clean if row[0] == identity)
        planted.append((identity, f"copy-{photo}", vector))
        copies[labeled_external_id(identity, f"copy-{photo}")] = labeled_external_id(identity, photo)
    with tempfile.TemporaryDirectory() as data_dir:
        client = FaceRecoClient.local(data_dir)
        for group, rows in (("clean", clean), ("planted", planted)):
            add_labeled_vectors(
                client.transport.engine, group, [(a, b) for a, b, _ in rows], np.vstack([v for *_, v in rows])
            )
        clean_scores, scores = score_group(client, "clean"), score_group(client, "planted")
    started = time.perf_counter()
    result = audit(scores)
    audit_ms = (time.perf_counter() - started) * 1000
    ranks = sorted(i + 1 for i, s in enumerate(result.suspects) if s.external_image_ids[0] in wrong)
    duplicates = {frozenset(s.external_image_ids) for s in result.of_kind("duplicate")}
    found = sum(frozenset(pair) in duplicates for pair in copies.items())
    print(f"planted set: {len(scores.faces)} faces ({len(wrong)} relabeled, {len(copies)} photos twice)")
    print(f"  ranks of the relabeled faces among {len(result.suspects)} suspects: {ranks}")
    print(f"  duplicates found: {found} of {len(copies)} ({len(duplicates)} duplicate suspects in all)")
    by_label = {f.external_image_id: f.face_id for f in scores.faces}
    started = time.perf_counter()
    fixed = rescored(scores, exclude=[by_label[e] for e in [*wrong, *copies]])
    rescore_ms = (time.perf_counter() - started) * 1000
    eer, low, high = eer_interval(clean_scores.score_set)
    print(
        f"  EER planted {scores.score_set.eer_point().mean_error:.2%}, suspects excluded "
        f"{fixed.score_set.eer_point().mean_error:.2%}, clean {eer:.2%} (95 % CI {low:.2%}-{high:.2%})"
    )
    threshold = operating_threshold(clean_scores)
    for photos in ("one", "all"):
        rates = identity_identification(clean_scores, threshold, photos=photos)
        print(
            f"  clean set, 1:N with {'one photo' if photos == 'one' else 'every photo'} per identity at "
            f"{threshold:.0f}: rank-1 {rates.rank1_rate:.2%}, "
            f"FNIR {rates.fnir:.2%} ({rates.mated_probes} mated probes)"
        )
    print(
        f"  audit {audit_ms:.0f} ms, rescoring without the suspects {rescore_ms:.0f} ms ({scores.pair_count:,} pairs)"
    )


if __name__ == "__main__":
    main()
