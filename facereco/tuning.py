"""Threshold tuning from a labeled group (see ``labeled_sets`` for labels and enrollment): score every
pair through the API. Faces whose externalImageId carries no identity are left out of the scores.

**Scores come from the API** (so tuning works on the cloud as on the local engine): each face is
searched by faceId with threshold 1 and the largest limit (4096); a pair's score is what the
search returned (each unordered pair counted once, the first answer kept). A pair the search did
not return scored below 1 — or, in groups of more than 4,097 faces, fell outside the 4,096 best —
and is counted with score 0: a non-match at every threshold. Every genuine pair is listed; impostor
pairs no search returned are only counted (a 10,000-face group has 50 million pairs).

**Searches run on a bounded pool** (``workers``, 4 by default) so a remote backend's round trips
overlap; retries and backoff on 5xx, throttling and dropped connections are the transport's
(``RetryPolicy``), not repeated here. A ``ScoringCheckpoint`` keeps every answer as it arrives, so
a cancelled, failed or interrupted run resumes where it stopped.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from facereco.client import FaceRecoClient
from facereco.contract import SEARCH_LIMIT, Face
from facereco.labeled_sets import identity_of
from facereco.metrics import Rates, ScoreSet


# ---------------------------------------------------------------- scoring
@dataclass
class GroupScores:
    """Every labeled pair's score and each probe's best candidate, from the API."""

    faces: list[Face]
    identities: list[str]
    pair_a: np.ndarray  # indexes into faces: every pair the searches returned, and every genuine pair
    pair_b: np.ndarray
    scores: np.ndarray
    genuine: np.ndarray  # bool per pair
    unreturned_impostors: int  # impostor pairs no search returned: score 0, not listed one by one
    top_score: np.ndarray  # per face: best candidate's score (0 when none)
    top_is_mate: np.ndarray
    has_mate: np.ndarray

    @cached_property
    def score_set(self) -> ScoreSet:
        """Sorted once (a 10,000-face group has 50 million pairs), then every threshold is a lookup."""
        impostor = np.concatenate([self.scores[~self.genuine], np.zeros(self.unreturned_impostors)])
        return ScoreSet(self.scores[self.genuine], impostor)

    @property
    def pair_count(self) -> int:
        return int(self.scores.size) + self.unreturned_impostors

    def hardest(self, genuine: bool, count: int = 10) -> list[dict[str, object]]:
        """Lowest-scoring genuine pairs, or highest-scoring impostor pairs (a partition, not a full sort)."""
        chosen = np.nonzero(self.genuine == genuine)[0]
        keys = self.scores[chosen] if genuine else -self.scores[chosen]
        count = min(count, chosen.size)
        if count == 0:
            return []
        picked = np.argpartition(keys, count - 1)[:count]
        return [self.pair_row(i) for i in chosen[picked[np.argsort(keys[picked], kind="stable")]]]

    @cached_property
    def hardest_tables(self) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """(10 highest impostor pairs, 10 lowest genuine pairs): threshold-free, so computed once for the page."""
        return self.hardest(genuine=False), self.hardest(genuine=True)

    def pair_row(self, i: int) -> dict[str, object]:
        a, b = self.faces[self.pair_a[i]], self.faces[self.pair_b[i]]
        return {
            "similarity": float(self.scores[i]),
            "genuine": bool(self.genuine[i]),
            "externalImageId A": a.external_image_id,
            "externalImageId B": b.external_image_id,
            "faceId A": a.face_id,
            "faceId B": b.face_id,
        }

    def to_csv(self) -> str:
        """Every listed pair (impostor pairs that no search returned are counted, not listed)."""
        lines = ["similarity,genuine,faceIdA,externalImageIdA,faceIdB,externalImageIdB"]
        for i in range(self.scores.size):
            a, b = self.faces[self.pair_a[i]], self.faces[self.pair_b[i]]
            lines.append(
                f"{self.scores[i]:.4f},{int(self.genuine[i])},{a.face_id},{a.external_image_id},"
                f"{b.face_id},{b.external_image_id}"
            )
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- concurrent, resumable scoring
DEFAULT_WORKERS = 4  # searches in flight at once against a server: hides round trips, gentle on its limits
LOCAL_WORKERS = 1  # in-process searches share the GIL: a pool only adds contention (benchmarks/tuning.py)
MAX_WORKERS = 32


def default_workers(is_local: bool) -> int:
    return LOCAL_WORKERS if is_local else DEFAULT_WORKERS


@dataclass(frozen=True)
class ScoringProgress:
    """Where a scoring run is: faces searched (``resumed`` of them from a checkpoint) and the pace."""

    done: int
    total: int
    resumed: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        """Faces searched per second in this run (checkpointed faces are not counted)."""
        searched = self.done - self.resumed
        return searched / self.elapsed_s if self.elapsed_s > 0 and searched else 0.0

    @property
    def remaining_s(self) -> float:
        return (self.total - self.done) / self.rate if self.rate else float("nan")


class ScoringCancelled(Exception):
    """The cancel event was set: the checkpoint holds every face searched so far."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"scoring cancelled after {done} of {total} faces")
        self.done, self.total = done, total


@dataclass
class ScoringCheckpoint:
    """The searches an interrupted scoring already made, so the next run makes only the rest.

    Valid for one face list: ``faces`` is the sorted faceIds it was made for; when the group's
    labeled faces differ, the answers are stale (a new face is missing from them) and are dropped.
    ``answers[faceId]`` = (indexes into ``faces`` of the labeled matches, best first; their scores).
    """

    faces: list[str] = field(default_factory=list)
    answers: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def restart_for(self, face_ids: list[str]) -> None:
        if face_ids != self.faces:
            self.faces, self.answers = list(face_ids), {}

    def save(self, path: Path) -> None:
        """One .npz (written beside, then renamed: an interruption never leaves half a file)."""
        done = [f for f in self.faces if f in self.answers]
        counts = np.array([self.answers[f][0].size for f in done], dtype=np.int64)
        empty_i, empty_s = np.zeros(0, np.int32), np.zeros(0)
        # a temporary name of its own (two runs may save at once), fsynced before it replaces the old file
        descriptor, partial_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
        partial = Path(partial_name)
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(
                handle,
                faces=np.array(self.faces, dtype=str),
                done=np.array(done, dtype=str),
                counts=counts,
                neighbours=np.concatenate([self.answers[f][0] for f in done]) if done else empty_i,
                scores=np.concatenate([self.answers[f][1] for f in done]) if done else empty_s,
            )
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> ScoringCheckpoint:
        """The checkpoint at ``path``, or an empty one when there is none (or it is unreadable)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                faces, done, counts = data["faces"].tolist(), data["done"].tolist(), data["counts"]
                neighbours = np.split(data["neighbours"], np.cumsum(counts)[:-1]) if len(done) else []
                scores = np.split(data["scores"], np.cumsum(counts)[:-1]) if len(done) else []
                return cls(faces, {f: (n, s) for f, n, s in zip(done, neighbours, scores, strict=True)})
        except Exception:  # noqa: BLE001 - empty, truncated, not a ZIP, wrong arrays: a checkpoint is only a cache
            return cls()


def labeled_faces(client: FaceRecoClient, group_id: str) -> list[Face]:
    """The group's labeled faces, in faceId order (the order pairs and checkpoints refer to)."""
    faces = [f for f in client.iter_faces(group_id, limit=200) if identity_of(f.external_image_id)]
    faces.sort(key=lambda f: f.face_id)
    return faces


def _search_one(
    client: FaceRecoClient, group_id: str, face_id: str, index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """One face's labeled matches (indexes, scores), best first; the transport retries 5xx/throttling."""
    matches = client.search_by_face_id(group_id, face_id, limit=SEARCH_LIMIT.high, threshold=1).match_faces
    # thousands of matches per answer: one pass per column, the filtering in numpy
    rows = np.fromiter((index.get(m.face.face_id, -1) for m in matches), dtype=np.int32, count=len(matches))
    scores = np.fromiter((m.similarity for m in matches), dtype=np.float64, count=len(matches))
    kept = (rows >= 0) & (rows != index[face_id])  # faces unknown to the listing, and the probe itself, left out
    return rows[kept], scores[kept]


def score_group(
    client: FaceRecoClient,
    group_id: str,
    progress: Callable[[ScoringProgress], None] | None = None,
    *,
    workers: int | None = None,
    checkpoint: ScoringCheckpoint | None = None,
    cancel: threading.Event | None = None,
) -> GroupScores:
    """Search every labeled face by faceId (threshold 1, limit 4096), ``workers`` at a time (default: 4
    against a server, 1 in-process), and assemble all pairs.

    Resumable: answers go into ``checkpoint`` as they arrive, and faces it already holds are not
    searched again. ``cancel`` stops it between searches (raising ScoringCancelled); an error or an
    interruption leaves the checkpoint with every answer that came back.
    """
    workers = max(1, min(int(workers or default_workers(client.is_local)), MAX_WORKERS))
    faces = labeled_faces(client, group_id)
    face_ids = [f.face_id for f in faces]
    checkpoint = checkpoint if checkpoint is not None else ScoringCheckpoint()
    checkpoint.restart_for(face_ids)
    index = {face_id: i for i, face_id in enumerate(face_ids)}
    todo = [f for f in face_ids if f not in checkpoint.answers]
    resumed, started = len(face_ids) - len(todo), time.monotonic()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="facereco-score") as pool:
        pending: dict[Future, str] = {}
        queue = iter(todo)
        try:
            while True:
                while len(pending) < 2 * workers and not (cancel and cancel.is_set()):
                    face_id = next(queue, None)
                    if face_id is None:
                        break
                    pending[pool.submit(_search_one, client, group_id, face_id, index)] = face_id
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    checkpoint.answers[pending.pop(future)] = future.result()
                if progress:
                    progress(ScoringProgress(len(checkpoint.answers), len(faces), resumed, time.monotonic() - started))
        finally:  # an error, a cancel, an interruption: keep what is in flight, start nothing more
            for future in pending:
                future.cancel()
            for future, face_id in pending.items():
                if not future.cancelled() and future.exception() is None:
                    checkpoint.answers[face_id] = future.result()
    if len(checkpoint.answers) < len(faces):
        raise ScoringCancelled(len(checkpoint.answers), len(faces))
    return _assemble(faces, checkpoint)


def _assemble(faces: list[Face], checkpoint: ScoringCheckpoint) -> GroupScores:
    """Every returned pair once (the first answer in faceId order), every genuine pair, the best candidates."""
    identities = [identity_of(f.external_image_id) or "" for f in faces]
    n = len(faces)
    answers = [checkpoint.answers[f.face_id] for f in faces]
    labels = np.array(identities)
    probe = np.repeat(np.arange(n, dtype=np.int64), [a[0].size for a in answers])
    other = np.concatenate([a[0] for a in answers]).astype(np.int64) if n else np.zeros(0, np.int64)
    returned = np.concatenate([a[1] for a in answers]) if n else np.zeros(0)
    top_score = np.array([a[1][0] if a[1].size else 0.0 for a in answers])
    top_is_mate = np.array([bool(a[0].size) and identities[a[0][0]] == identities[i] for i, a in enumerate(answers)])
    # every genuine pair is listed, returned or not (score 0 when no search returned it)
    members: dict[str, list[int]] = {}
    for i, identity in enumerate(identities):
        members.setdefault(identity, []).append(i)
    mates = [(a, b) for group in members.values() for x, a in enumerate(group) for b in group[x + 1 :]]
    mate_a = np.array([a for a, _ in mates], dtype=np.int64)
    mate_b = np.array([b for _, b in mates], dtype=np.int64)
    pair_a = np.concatenate([np.minimum(probe, other), mate_a])
    pair_b = np.concatenate([np.maximum(probe, other), mate_b])
    scores = np.concatenate([returned, np.zeros(len(mates))])
    _, first = np.unique(pair_a * max(n, 1) + pair_b, return_index=True)  # first occurrence: the earlier answer
    pair_a, pair_b, scores = pair_a[first], pair_b[first], scores[first]
    genuine = labels[pair_a] == labels[pair_b] if scores.size else np.zeros(0, dtype=bool)
    has_mate = np.array([len(members[identity]) > 1 for identity in identities], dtype=bool)
    unreturned = n * (n - 1) // 2 - int(scores.size)
    return GroupScores(faces, identities, pair_a, pair_b, scores, genuine, unreturned, top_score, top_is_mate, has_mate)


# ---------------------------------------------------------------- what a scoring says
FMR_TARGETS = (0.01, 0.001, 0.0001)


def _known(value: float) -> float | None:
    """A rate, or None (JSON null) where it is undefined: no impostor or no genuine pair to count it on."""
    return None if math.isnan(value) else value


def _rates_fields(rates: Rates) -> dict[str, float | int | None]:
    return {
        "threshold": rates.threshold,
        "fmr": _known(rates.fmr),
        "falseMatches": rates.false_matches,
        "impostorPairs": rates.impostors,
        "fnmr": _known(rates.fnmr),
        "falseNonMatches": rates.false_non_matches,
        "genuinePairs": rates.genuines,
    }


def scoring_summary(scores: GroupScores) -> dict[str, object]:
    """The figures a tuning session is for, as JSON-ready fields: EER point and thresholds for FMR targets."""
    score_set = scores.score_set
    eer = score_set.eer_point()
    targets = [score_set.for_fmr(t) for t in FMR_TARGETS]
    return {
        "faces": len(scores.faces),
        "eer": {"eer": _known(eer.mean_error), **_rates_fields(eer)},
        "thresholdForFmr": [
            {
                "targetFmr": t.target,
                "supported": t.supported,
                "neededImpostorPairs": t.needed_impostors,
                **(_rates_fields(t.rates) if t.rates else {"threshold": None}),
            }
            for t in targets
        ],
    }
