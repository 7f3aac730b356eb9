"""Threshold tuning from a labeled group: enroll a labeled set, score every pair through the API.

**Label convention.** A face's identity is the part of its externalImageId before the first
``:`` — ``enroll`` writes ``<identity>:<file name>`` (e.g. ``aaron-peirsol:Aaron_Peirsol_0001.jpg``),
which fits the contract's pattern ``[a-zA-Z0-9_.\\-:]``. Faces whose externalImageId has no ``:``
are unlabeled and left out of the scores.

**Scores come from the API** (so tuning works on the cloud as on the local engine): each face is
searched by faceId with threshold 1 and the largest limit (4096); a pair's score is what the
search returned (each unordered pair counted once, the first answer kept). A pair the search did
not return scored below 1 — or, in groups of more than 4,097 faces, fell outside the 4,096 best —
and is counted with score 0: a non-match at every threshold. Every genuine pair is listed; impostor
pairs no search returned are only counted (a 10,000-face group has 50 million pairs).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Union

import numpy as np

from facereco.client import FaceRecoClient
from facereco.contract import GROUP_QUOTA, MAX_IMAGE_BYTES, SEARCH_LIMIT, Face
from facereco.errors import ApiError, FaceRecoError
from facereco.metrics import ScoreSet
from facereco.validation import external_image_id_from

LABEL_SEPARATOR = ":"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
Progress = Callable[[int, int, str], None]


def identity_of(external_image_id: str | None) -> str | None:
    """The identity a face is labeled with, or None when it carries no label."""
    if not external_image_id or LABEL_SEPARATOR not in external_image_id:
        return None
    return external_image_id.split(LABEL_SEPARATOR, 1)[0] or None


def _clean(text: str) -> str:
    """Fit the externalImageId pattern, and keep ':' for the label separator alone."""
    return external_image_id_from(text).replace(LABEL_SEPARATOR, "_")


def labeled_external_id(identity: str, file_name: str) -> str:
    """``<identity>:<file name>``, both made to fit the externalImageId pattern (<= 255 chars)."""
    return f"{_clean(identity)[:100]}{LABEL_SEPARATOR}{_clean(file_name)}"[:255]


# ---------------------------------------------------------------- enrollment
@dataclass
class EnrollReport:
    added: int = 0
    skipped: int = 0
    no_face: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


LabeledSource = Union[Path, bytes, BinaryIO]

# A ZIP is refused from its listing, before anything is decompressed, when it is absurd for photos.
# JPEG and PNG barely compress (ratio about 1), so 20 times is already a bomb; each member is then
# read on its own and never past MAX_IMAGE_BYTES + 1, so memory stays at one image whatever it says.
MAX_ARCHIVE_IMAGES = GROUP_QUOTA
MAX_ARCHIVE_UNPACKED_BYTES = 2_000_000_000
MAX_ARCHIVE_RATIO = 20


class ArchiveRefused(FaceRecoError):
    """A ZIP that is not one, or whose sizes are absurd for a set of photos."""


def labeled_images(source: LabeledSource) -> Iterator[tuple[str, str, bytes]]:
    """(identity, file name, bytes) for every ``<identity>/<image>`` of a folder or a ZIP, one at a time.

    A ZIP comes as a path, bytes or a binary file object (the page's upload, read in place).
    """
    if not _is_zip(source):
        for path in _folder_images(source):  # type: ignore[arg-type]
            yield path.parent.name, path.name, path.read_bytes()
        return
    with _open_zip(source) as archive:
        for member in _zip_images(archive):
            parts = PurePosixPath(member.filename).parts
            yield parts[-2], parts[-1], _read_member(archive, member)


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """One member, never past MAX_IMAGE_BYTES + 1 bytes (the API refuses more anyway)."""
    try:
        with archive.open(member) as handle:
            return handle.read(MAX_IMAGE_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as error:
        raise ArchiveRefused(f"The ZIP is damaged at {member.filename!r}: {error}.") from None


def count_labeled_images(source: LabeledSource) -> int:
    """How many images ``labeled_images`` will give, without reading any (the ZIP's listing is checked)."""
    if not _is_zip(source):
        return len(_folder_images(source))  # type: ignore[arg-type]
    with _open_zip(source) as archive:
        return len(_zip_images(archive))


def _is_zip(source: LabeledSource) -> bool:
    return not isinstance(source, Path) or source.suffix.lower() == ".zip"


def _folder_images(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*/*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def _open_zip(source: LabeledSource) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        raise ArchiveRefused("This file is not a readable ZIP archive.") from None


def _zip_images(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The ``<identity>/<image>`` members, once their declared sizes passed the archive rules."""
    members = []
    for member in sorted(archive.infolist(), key=lambda m: m.filename):
        parts = PurePosixPath(member.filename).parts
        if len(parts) >= 2 and member.filename.lower().endswith(IMAGE_SUFFIXES) and not parts[-1].startswith("."):
            members.append(member)
    unpacked = sum(m.file_size for m in members)
    packed = sum(m.compress_size for m in members)
    if len(members) > MAX_ARCHIVE_IMAGES:
        raise ArchiveRefused(f"The ZIP holds {len(members):,} images; a group holds at most {MAX_ARCHIVE_IMAGES:,}.")
    if unpacked > MAX_ARCHIVE_UNPACKED_BYTES:
        raise ArchiveRefused(
            f"The ZIP's images would unpack to {unpacked:,} bytes; the limit is {MAX_ARCHIVE_UNPACKED_BYTES:,}."
        )
    if unpacked > MAX_ARCHIVE_RATIO * max(packed, 1) and unpacked > MAX_IMAGE_BYTES:  # tiny sets cannot hurt
        raise ArchiveRefused(
            f"The ZIP's images would unpack to {unpacked / max(packed, 1):,.0f} times their packed size; "
            f"photos barely compress, so over {MAX_ARCHIVE_RATIO} times is refused as a ZIP bomb."
        )
    return members


def enroll(
    client: FaceRecoClient, group_id: str, source: LabeledSource, progress: Progress | None = None
) -> EnrollReport:
    """Register the largest face of every labeled image, one image in memory at a time; resumable:
    what is already there is skipped."""
    total = count_labeled_images(source)  # checks a ZIP before any member is read
    existing = {f.external_image_id for f in client.iter_faces(group_id, limit=200)}
    report = EnrollReport()
    for i, (identity, name, data) in enumerate(labeled_images(source), 1):
        external_id = labeled_external_id(identity, name)
        if external_id in existing:
            report.skipped += 1
        else:
            try:
                result = client.register_faces(group_id, data, external_image_id=external_id, limit=1)
                report.added += result.added_face_count
                report.no_face += result.added_face_count == 0
                existing.add(external_id)
            except ApiError as error:
                report.failed.append((f"{identity}/{name}", str(error)))
        if progress:
            progress(i, total, external_id)
    return report


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
        """Lowest-scoring genuine pairs, or highest-scoring impostor pairs."""
        chosen = np.nonzero(self.genuine == genuine)[0]
        order = chosen[np.argsort(self.scores[chosen], kind="stable")]
        order = order[:count] if genuine else order[::-1][:count]
        return [self.pair_row(i) for i in order]

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


def score_group(client: FaceRecoClient, group_id: str, progress: Progress | None = None) -> GroupScores:
    """Search every labeled face by faceId (threshold 1, limit 4096) and assemble all pairs."""
    faces = [f for f in client.iter_faces(group_id, limit=200) if identity_of(f.external_image_id)]
    faces.sort(key=lambda f: f.face_id)
    index = {f.face_id: i for i, f in enumerate(faces)}
    identities = [identity_of(f.external_image_id) or "" for f in faces]
    n = len(faces)
    found: dict[tuple[int, int], float] = {}
    top_score = np.zeros(n)
    top_is_mate = np.zeros(n, dtype=bool)
    for i, face in enumerate(faces):
        result = client.search_by_face_id(group_id, face.face_id, limit=SEARCH_LIMIT.high, threshold=1)
        best = True
        for match in result.match_faces:
            j = index.get(match.face.face_id)
            if j is None or j == i:
                continue  # unlabeled neighbour
            if best:
                top_score[i], top_is_mate[i], best = match.similarity, identities[j] == identities[i], False
            found.setdefault((min(i, j), max(i, j)), float(match.similarity))
        if progress:
            progress(i + 1, n, face.external_image_id or face.face_id)
    members: dict[str, list[int]] = {}
    for i, identity in enumerate(identities):
        members.setdefault(identity, []).append(i)
    for group in members.values():  # every genuine pair is listed, returned or not
        for x, a in enumerate(group):
            for b in group[x + 1 :]:
                found.setdefault((min(a, b), max(a, b)), 0.0)
    keys = np.array(list(found.keys()), dtype=np.int64).reshape(-1, 2)
    scores = np.fromiter(found.values(), dtype=np.float64, count=len(found))
    labels = np.array(identities)
    genuine = labels[keys[:, 0]] == labels[keys[:, 1]] if len(found) else np.zeros(0, dtype=bool)
    all_pairs = n * (n - 1) // 2
    unreturned = all_pairs - len(found)
    has_mate = np.array([len(members[identity]) > 1 for identity in identities], dtype=bool)
    return GroupScores(
        faces, identities, keys[:, 0], keys[:, 1], scores, genuine, unreturned, top_score, top_is_mate, has_mate
    )
