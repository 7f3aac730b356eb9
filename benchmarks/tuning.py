"""Tuning benchmark: scoring a labeled group through the API, and the Tuning page's reruns on it.

    python benchmarks/tuning.py [--sizes 1000] [--http] [--lfw]

Synthetic groups (facereco/synthetic.py: identities of 5 faces, impostors spread over the
similarity scale) are scored through the in-process client with 1 and 4 searches at once, and with
--http through a real ``python -m facereco serve`` on 127.0.0.1. --lfw puts lfw-dev's cached
descriptors (benchmarks/datasets.py; one face per photo, as enrollment stores them) into a local
engine, then runs the real dashboard on it (Streamlit AppTest of app.py -> pages/tuning.py): the
scoring the page's button starts, then reruns after slider moves and after an FMR button. Each
scoring is set beside the bare work: one matrix product of all descriptors plus a top-4096 per face.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from facereco import FaceRecoClient  # noqa: E402
from facereco.contract import SEARCH_LIMIT  # noqa: E402
from facereco.metrics import identification_rates  # noqa: E402
from facereco.synthetic import add_labeled_vectors, add_synthetic_group  # noqa: E402
from facereco.transport import LocalTransport  # noqa: E402
from facereco.tuning import FMR_TARGETS, GroupScores, ScoringCheckpoint, score_group  # noqa: E402

APP = str(ROOT / "app.py")
SCORING_CACHE = "lfw-dev-scoring.npz"  # the page's answers for lfw-dev, so a later run times the reruns alone


def bare_scan_s(vectors: np.ndarray) -> float:
    """The physical work of scoring: every descriptor against every other, the best 4,096 kept per face."""
    started = time.perf_counter()
    matrix = np.asarray(vectors, np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    similarities = matrix @ matrix.T
    keep = min(SEARCH_LIMIT.high, similarities.shape[1] - 1)
    np.argpartition(-similarities, keep, axis=1)[:, :keep]
    return time.perf_counter() - started


def timed_scoring(client: FaceRecoClient, group: str, workers: int) -> tuple[GroupScores, float]:
    first = next(iter(client.iter_faces(group, limit=1)))
    client.search_by_face_id(group, first.face_id, threshold=1)  # load the group's index before timing
    started = time.perf_counter()
    scores = score_group(client, group, workers=workers)
    return scores, time.perf_counter() - started


def describe(scores: GroupScores) -> str:
    returned = scores.scores.size
    return f"{len(scores.faces):,} faces, {scores.pair_count:,} pairs ({returned:,} returned by the searches)"


def synthetic(sizes: list[int], http: bool) -> None:
    for size in sizes:
        with tempfile.TemporaryDirectory() as data_dir:
            client = FaceRecoClient.local(data_dir)
            vectors = add_synthetic_group(client.transport.engine, "bench", size)
            for workers in (1, 4):
                scores, seconds = timed_scoring(client, "bench", workers)
                print(f"synthetic {describe(scores)}: in-process, {workers} at once: {seconds:.1f} s")
            print(f"  bare numpy scan of the same descriptors: {bare_scan_s(vectors):.2f} s")
            if http:
                from servers import running_server

                # every appkey accepted: "local" is the in-process client's owner, so the server sees the group
                with running_server(Path(data_dir), []) as server:
                    remote = FaceRecoClient(LocalTransport.LOCAL_APPKEY, server.base_url)
                    for workers in (1, 4):
                        _, seconds = timed_scoring(remote, "bench", workers)
                        print(f"  over HTTP (python -m facereco serve), {workers} at once: {seconds:.1f} s")


def lfw() -> None:
    from datasets import CACHE, faces_dir, labeled_unit_vectors, require_faces
    from streamlit.testing.v1 import AppTest

    from facereco.ui.session import TUNED_SCORES_KEY

    require_faces()
    identities, vectors = labeled_unit_vectors(faces_dir() / "lfw-dev")
    with tempfile.TemporaryDirectory() as data_dir:
        client = FaceRecoClient.local(data_dir)
        labels = [(identity, f"{i}.jpg") for i, identity in enumerate(identities)]
        add_labeled_vectors(client.transport.engine, "lfw-dev", labels, vectors)
        print(f"lfw-dev: {len(labels):,} faces (cached descriptors; photos without a face left out)")
        print(f"  bare numpy scan (all-pairs product + top-4096 per face): {bare_scan_s(vectors):.2f} s")
        wall, cpu = time.perf_counter(), time.process_time()
        plain = score_group(client, "lfw-dev")  # the client alone, as a script or the CLI scores
        print(
            f"  score_group through FaceRecoClient.local(), 1 at once: {time.perf_counter() - wall:.1f} s wall, "
            f"{time.process_time() - cpu:.1f} s CPU, {describe(plain)}"
        )
        os.environ["FACERECO_DATA_DIR"] = data_dir
        os.environ.pop("FACERECO_APPKEY", None)
        at = AppTest.from_file(APP, default_timeout=3600)
        at.run()
        at.switch_page("pages/tuning.py").run()
        # faceIds follow the labels, so an earlier run's answers (kept in the cache) are valid: the page resumes
        checkpoint = ScoringCheckpoint.load(CACHE / SCORING_CACHE)
        at.session_state["tuning-checkpoints"] = {"lfw-dev": checkpoint}
        at.selectbox(key="tuning-group").set_value("lfw-dev").run()
        workers, resumed = at.number_input(key="tuning-workers").value, len(checkpoint.answers)
        started = time.perf_counter()
        at.button(key="tuning-score").click().run()  # the page's own scoring
        scoring = time.perf_counter() - started
        assert not at.exception, at.exception
        checkpoint.save(CACHE / SCORING_CACHE)
        scores: GroupScores = next(iter(at.session_state[TUNED_SCORES_KEY].values()))
        print(
            f"  dashboard scoring (Score button, {workers} at once, in-process client): {scoring:.0f} s for "
            f"{len(scores.faces) - resumed:,} searches ({resumed:,} answers from an earlier run), {describe(scores)}"
        )
        moves = []
        for threshold in (50, 60, 70, 75, 80, 85, 90, 95, 65):
            started = time.perf_counter()
            at.slider(key="tuning-threshold").set_value(threshold).run()
            moves.append(time.perf_counter() - started)
        started = time.perf_counter()
        at.button(key=f"tuning-fmr-{FMR_TARGETS[1]}").click().run()
        button = time.perf_counter() - started
        print(
            f"  page rerun after a slider move: median {statistics.median(moves) * 1000:.0f} ms "
            f"({len(moves)} moves, {scores.pair_count:,} pairs); after an FMR 0.1 % button: {button * 1000:.0f} ms"
        )
        print_figures(scores)


def print_figures(scores: GroupScores) -> None:
    s = scores.score_set
    eer = s.eer_point()
    print(
        f"  EER {eer.mean_error:.2%} at threshold {eer.threshold:.0f} "
        f"(FMR {eer.fmr:.3%}, FNMR {eer.fnmr:.2%}; {s.genuine.size:,} genuine / {s.impostor.size:,} impostor pairs)"
    )
    for target in (s.for_fmr(t) for t in FMR_TARGETS):
        if target.rates is None:
            print(f"  FMR {target.target:.2%}: no threshold reaches it")
            continue
        r = target.rates
        support = "" if target.supported else f" (not supported: {target.needed_impostors:,} impostor pairs needed)"
        print(
            f"  FMR <= {target.target:.2%}: threshold {r.threshold:.0f}, FMR {r.fmr:.4%} "
            f"({r.false_matches:,}/{r.impostors:,}), FNMR {r.fnmr:.2%}{support}"
        )
    ident = identification_rates(scores.top_score, scores.top_is_mate, scores.has_mate, 90)
    fpir = f"FPIR {ident.fpir:.2%}" if ident.non_mated_probes else "no probe without a mate, so no FPIR"
    print(f"  rank-1 identification {ident.rank1_rate:.2%}; at 90: FNIR {ident.fnir:.2%}, {fpir}")


def main() -> None:
    from datasets import add_faces_dir_argument, use_faces_dir  # lazily, as lfw() does: it loads the engine

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000])
    parser.add_argument("--http", action="store_true", help="also score the synthetic groups over HTTP")
    parser.add_argument("--lfw", action="store_true")
    add_faces_dir_argument(parser)
    args = parser.parse_args()
    use_faces_dir(args)
    synthetic(args.sizes, args.http)
    if args.lfw:
        lfw()


if __name__ == "__main__":
    main()
