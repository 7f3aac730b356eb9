"""Label audit of a scored group: which labels are probably wrong, from the scores tuning already has.

A threshold is tuned on the genuine and impostor scores of a labeled set, so a wrong label moves it: a
face filed under the wrong person adds low "genuine" and high "impostor" scores, one person under two
names adds false matches, and a photo registered twice adds a genuine score of about 100. Everything
here is numpy over a ``GroupScores`` (facereco/tuning.py); no call is made.

- **mislabeled**: a face whose best impostor similarity is above its best genuine one (or whose best
  genuine is below the EER threshold against every face of its identity); the larger the gap, the
  likelier the label is wrong. Shown with the face it matches best among the other identities.
- **same-person**: two identities most of whose cross pairs match at the operating threshold.
- **duplicate**: a pair at or above ``DUPLICATE_SIMILARITY``: the same photo (or a crop of it) twice.

``rescored`` drops faces and merges identities *from the scoring* (the group is untouched) and gives a
``GroupScores`` on which every metric recomputes; ``identity_identification`` is 1:N with an identity
represented by all its faces, or by one photo, to show what several photos per person buy.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from facereco.metrics import IdentificationRates, ScoreSet, identification_rates, wilson_interval
from facereco.tuning import GroupScores

SuspectKind = Literal["mislabeled", "same-person", "duplicate"]
KINDS: tuple[SuspectKind, ...] = ("mislabeled", "same-person", "duplicate")
# Distinct photos of one person rarely pass this; the same photo registered twice scores about 100
# (docs/quality.md has the genuine-score tail on lfw-dev it was chosen on).
DUPLICATE_SIMILARITY = 99.97
SAME_PERSON_SHARE = 0.5  # most cross pairs matching: one person, not one stray face
OPERATING_FMR = 0.001  # the default operating threshold: FMR 0.1 % where the set supports it, else the EER's


@dataclass(frozen=True)
class Suspect:
    kind: SuspectKind
    faces: tuple[int, ...]  # indexes into GroupScores.faces: the suspect face first, then what it matches
    external_image_ids: tuple[str, ...]
    score: float  # higher = more likely; comparable within a kind only
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "externalImageIds": list(self.external_image_ids),
            "score": round(self.score, 2),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Audit:
    threshold: float  # the operating threshold same-person suspects were judged at
    eer_threshold: float
    suspects: list[Suspect]  # each kind most likely first, kinds in KINDS order

    def of_kind(self, kind: SuspectKind) -> list[Suspect]:
        return [s for s in self.suspects if s.kind == kind]

    def to_json(self, group: str) -> dict[str, Any]:
        return {
            "group": group,
            "threshold": self.threshold,
            "eerThreshold": self.eer_threshold,
            "suspects": [s.to_json() for s in self.suspects],
        }

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["kind", "score", "externalImageIdA", "externalImageIdB", "reason"])
        for s in self.suspects:
            ids = list(s.external_image_ids) + [""] * (2 - len(s.external_image_ids))
            writer.writerow([s.kind, f"{s.score:.2f}", ids[0], ids[1], s.reason])
        return buffer.getvalue()


# ---------------------------------------------------------------- per-face best scores
def _both_ways(scores: GroupScores) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(face, other face, score, genuine) with every listed pair seen from both of its faces."""
    face, other, score = _pairs_both_ways(scores.pair_a, scores.pair_b, scores.scores)
    return face, other, score, np.concatenate([scores.genuine] * 2)


def _pairs_both_ways(
    pair_a: np.ndarray, pair_b: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.concatenate([pair_a, pair_b]), np.concatenate([pair_b, pair_a]), np.concatenate([score, score])


def _best_per_face(n: int, face: np.ndarray, other: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per face: its highest score among the given pairs (-inf: none) and the other face there (-1)."""
    best, partner = np.full(n, -np.inf), np.full(n, -1, dtype=np.int64)
    if face.size:
        order = np.lexsort((-score, face))  # by face, best first
        first = order[np.r_[True, face[order][1:] != face[order][:-1]]]
        best[face[first]], partner[face[first]] = score[first], other[first]
    return best, partner


def eer_interval(score_set: ScoreSet) -> tuple[float, float, float]:
    """(EER, its 95 % low and high): the mean of the Wilson intervals of FMR and FNMR at the EER point."""
    point = score_set.eer_point()
    fmr = wilson_interval(point.false_matches, point.impostors)
    fnmr = wilson_interval(point.false_non_matches, point.genuines)
    return point.mean_error, (fmr[0] + fnmr[0]) / 2, (fmr[1] + fnmr[1]) / 2


def operating_threshold(scores: GroupScores) -> float:
    target = scores.score_set.for_fmr(OPERATING_FMR)
    return target.rates.threshold if target.supported and target.rates else scores.score_set.eer_point().threshold


def audit(scores: GroupScores, *, threshold: float | None = None) -> Audit:
    """Every suspect of the scored set, each kind most likely first."""
    eer_threshold = scores.score_set.eer_point().threshold if scores.scores.size else 0.0
    threshold = operating_threshold(scores) if threshold is None and scores.scores.size else (threshold or 0.0)
    suspects = _mislabeled(scores, eer_threshold) + _same_person(scores, threshold) + _duplicates(scores)
    return Audit(float(threshold), float(eer_threshold), suspects)


def _mislabeled(scores: GroupScores, eer_threshold: float) -> list[Suspect]:
    n = len(scores.faces)
    face, other, score, genuine = _both_ways(scores)
    best_genuine, _ = _best_per_face(n, face[genuine], other[genuine], score[genuine])
    best_impostor, rival = _best_per_face(n, face[~genuine], other[~genuine], score[~genuine])
    best_impostor = np.maximum(best_impostor, 0.0)  # impostor pairs no search returned scored 0
    gap = best_impostor - best_genuine
    suspicious = scores.has_mate & ((gap > 0) | (best_genuine < eer_threshold))
    suspects = []
    for i in np.nonzero(suspicious)[0][np.argsort(-gap[suspicious], kind="stable")]:
        own = scores.faces[i].external_image_id or ""
        if rival[i] >= 0:
            match = scores.faces[rival[i]].external_image_id or ""
            reason = (
                f"best match with its own identity {best_genuine[i]:.1f}, with {scores.identities[rival[i]]} "
                f"{best_impostor[i]:.1f}"
            )
            ids: tuple[str, ...] = (own, match)
            pair: tuple[int, ...] = (int(i), int(rival[i]))
        else:
            reason = f"best match with its own identity {best_genuine[i]:.1f}, below the EER threshold"
            ids, pair = (own,), (int(i),)
        suspects.append(Suspect("mislabeled", pair, ids, float(gap[i]), reason))
    return suspects


def _same_person(scores: GroupScores, threshold: float) -> list[Suspect]:
    labels, codes = np.unique(np.array(scores.identities), return_inverse=True)
    sizes = np.bincount(codes, minlength=labels.size)
    impostor = ~scores.genuine
    a, b = codes[scores.pair_a[impostor]], codes[scores.pair_b[impostor]]
    low, high = np.minimum(a, b), np.maximum(a, b)
    key = low * labels.size + high
    matching = scores.scores[impostor] >= threshold
    if not matching.any():
        return []
    candidates = np.unique(key[matching])
    wanted = np.isin(key, candidates)
    keys, inverse = np.unique(key[wanted], return_inverse=True)
    matches = np.bincount(inverse, weights=matching[wanted].astype(np.float64))
    totals = np.bincount(inverse, weights=scores.scores[impostor][wanted])
    i_id, j_id = keys // labels.size, keys % labels.size
    cross = sizes[i_id] * sizes[j_id]
    share, mean = matches / cross, totals / cross  # cross pairs no search returned scored 0
    suspects = []
    for k in np.nonzero(share >= SAME_PERSON_SHARE)[0][np.argsort(-mean[share >= SAME_PERSON_SHARE], kind="stable")]:
        first, second = str(labels[i_id[k]]), str(labels[j_id[k]])
        reason = (
            f"{int(matches[k])} of {int(cross[k])} cross pairs match at {threshold:.0f} "
            f"(mean similarity {mean[k]:.1f}): probably one person under two names"
        )
        suspects.append(Suspect("same-person", (), (first, second), float(mean[k]), reason))
    return suspects


def _duplicates(scores: GroupScores) -> list[Suspect]:
    near = np.nonzero(scores.scores >= DUPLICATE_SIMILARITY)[0]
    suspects = []
    for i in near[np.argsort(-scores.scores[near], kind="stable")]:
        a, b = int(scores.pair_a[i]), int(scores.pair_b[i])
        ids = (scores.faces[a].external_image_id or "", scores.faces[b].external_image_id or "")
        labels = "one label" if scores.genuine[i] else "two labels"
        reason = f"similarity {scores.scores[i]:.2f} under {labels}: the same photo registered twice?"
        suspects.append(Suspect("duplicate", (a, b), ids, float(scores.scores[i]), reason))
    return suspects


# ---------------------------------------------------------------- excluding and merging, no call
def rescored(scores: GroupScores, *, exclude: Iterable[str] = (), merge: Iterable[tuple[str, str]] = ()) -> GroupScores:
    """``scores`` without the faces whose faceId is in ``exclude`` and with each (kept, merged) identity
    pair counted as one: the group is untouched, the scores are the API's, nothing is called."""
    canonical = _merged_names(merge)
    excluded = set(exclude)
    kept = np.array([f.face_id not in excluded for f in scores.faces], dtype=bool)
    new_index = np.cumsum(kept) - 1
    faces = [f for f, k in zip(scores.faces, kept, strict=True) if k]
    identities = [canonical.get(name, name) for name, k in zip(scores.identities, kept, strict=True) if k]
    n = len(faces)
    listed = kept[scores.pair_a] & kept[scores.pair_b]
    pair_a, pair_b = new_index[scores.pair_a[listed]], new_index[scores.pair_b[listed]]
    values = scores.scores[listed]
    labels = np.array(identities)
    # a merge makes cross pairs genuine, and every genuine pair is listed (score 0 where none was returned)
    members: dict[str, list[int]] = {}
    for i, name in enumerate(identities):
        members.setdefault(name, []).append(i)
    have = set((pair_a * max(n, 1) + pair_b).tolist())
    missing = [
        (a, b)
        for name in set(canonical.values())
        for x, a in enumerate(members.get(name, []))
        for b in members[name][x + 1 :]
        if a * n + b not in have
    ]
    if missing:
        pair_a = np.concatenate([pair_a, np.array([a for a, _ in missing], dtype=np.int64)])
        pair_b = np.concatenate([pair_b, np.array([b for _, b in missing], dtype=np.int64)])
        values = np.concatenate([values, np.zeros(len(missing))])
    genuine = labels[pair_a] == labels[pair_b] if values.size else np.zeros(0, dtype=bool)
    face, other, score = _pairs_both_ways(pair_a, pair_b, values)
    top_score, top = _best_per_face(n, face, other, score)
    top_score = np.maximum(top_score, 0.0)
    top_is_mate = (top >= 0) & (top_score > 0) & (labels[np.maximum(top, 0)] == labels) if n else np.zeros(0, bool)
    has_mate = np.array([len(members[name]) > 1 for name in identities], dtype=bool)
    unreturned = n * (n - 1) // 2 - int(values.size)
    return GroupScores(faces, identities, pair_a, pair_b, values, genuine, unreturned, top_score, top_is_mate, has_mate)


def _merged_names(merge: Iterable[tuple[str, str]]) -> dict[str, str]:
    """identity -> the name its merged set is counted under (the smallest; chains a-b, b-c join)."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    for first, second in merge:
        a, b = root(first), root(second)
        if a != b:
            parent[max(a, b)] = min(a, b)
            parent.setdefault(min(a, b), min(a, b))
    return {name: root(name) for name in parent}


# ---------------------------------------------------------------- identity-level 1:N
def identity_identification(
    scores: GroupScores, threshold: float, *, photos: Literal["all", "one"] = "all"
) -> IdentificationRates:
    """Rank-1 identification of every face against the others, an identity scoring the best match over
    its faces (``photos="all"``: as Rekognition's user vectors stand for several photos), or over one
    reference photo each (``"one"``: its first face; the second for a probe that is that first face).
    A probe is mated when its identity has another face."""
    labels, codes = np.unique(np.array(scores.identities), return_inverse=True)
    n, m = len(scores.faces), labels.size
    face, other, score, _ = _both_ways(scores)
    if photos == "one":
        reference, second = np.full(m, -1), np.full(m, -1)
        for i in range(n - 1, -1, -1):  # walking back: the first face ends as the reference
            second[codes[i]], reference[codes[i]] = reference[codes[i]], i
        stands_for = (other == reference[codes[other]]) & (face != other)
        stands_for |= (face == reference[codes[other]]) & (other == second[codes[other]])
        face, other, score = face[stands_for], other[stands_for], score[stands_for]
    key = face.astype(np.int64) * m + codes[other]
    order = np.lexsort((-score, key))  # the best match of each (probe, identity) first
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]] if key.size else order
    top_score, top_identity = _best_per_face(n, key[first] // m, key[first] % m, score[first])
    top_score = np.maximum(top_score, 0.0)
    sizes = np.bincount(codes, minlength=m)
    top_is_mate = (top_identity == codes) & (top_score > 0)
    return identification_rates(top_score, top_is_mate, sizes[codes] > 1, threshold)
