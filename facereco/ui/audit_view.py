"""The Tuning page's label audit, hardest pairs and face crops: pure functions, no Streamlit here.

Crops come from **thumbnails kept in the browser session at enrollment** (``thumbnail``: the photo
scaled to at most ``THUMBNAIL_PX``, JPEG, keyed by externalImageId); a stored face's box is relative,
so it fits the thumbnail. A face enrolled elsewhere (CLI, another session) has no crop: its row says so.

Excluding a face or merging two identities is a ``ScoringEdits``: it changes what is *scored*
(facereco/audit.py ``rescored``), never the group, and costs no call.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from PIL import Image

from facereco.audit import Audit, Suspect, rescored
from facereco.contract import Face
from facereco.metrics import IdentificationRates
from facereco.quality import FaceQuality
from facereco.quality_gate import QualityGate
from facereco.tuning import GroupScores
from facereco.ui.drawing import open_image
from facereco.ui.i18n import _
from facereco.ui.report import HardestTable

THUMBNAIL_PX = 384
CROP_PX = 96
HARDEST_ROWS = 10


def thumbnail(data: bytes) -> bytes | None:
    """The photo at most THUMBNAIL_PX a side, as JPEG (None: not an image we can decode)."""
    try:
        image = open_image(data)
    except Exception:  # noqa: BLE001 - what cannot be decoded gets no crop; the register call says why
        return None
    image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def face_crop(thumb: bytes | None, face: Face, margin: float = 0.15) -> Image.Image | None:
    """The face's box (relative, with a margin) cut from its photo's thumbnail, CROP_PX high."""
    if not thumb:
        return None
    try:
        image = Image.open(io.BytesIO(thumb)).convert("RGB")
    except Exception:  # noqa: BLE001 - a damaged thumbnail: no crop
        return None
    width, height = image.size
    box = face.bbox
    dx, dy = box.width * margin, box.height * margin
    left, top = max(0.0, box.x0 - dx) * width, max(0.0, box.y0 - dy) * height
    right, bottom = min(1.0, box.x1 + dx) * width, min(1.0, box.y1 + dy) * height
    if right - left < 1 or bottom - top < 1:
        return None
    crop = image.crop((int(left), int(top), int(right), int(bottom)))
    crop.thumbnail((CROP_PX * 4, CROP_PX))
    return crop


def jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


# ---------------------------------------------------------------- excluding and merging from the scoring
@dataclass(frozen=True)
class ScoringEdits:
    """Faces left out of the scoring (by faceId) and identity pairs counted as one."""

    excluded: frozenset[str] = field(default_factory=frozenset)
    merged: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.excluded and not self.merged

    def exclude(self, face_id: str) -> ScoringEdits:
        return ScoringEdits(self.excluded | {face_id}, self.merged)

    def merge(self, first: str, second: str) -> ScoringEdits:
        pair = (min(first, second), max(first, second))
        return self if pair in self.merged else ScoringEdits(self.excluded, (*self.merged, pair))

    def restore_face(self, face_id: str) -> ScoringEdits:
        return ScoringEdits(self.excluded - {face_id}, self.merged)

    def unmerge(self, pair: tuple[str, str]) -> ScoringEdits:
        return ScoringEdits(self.excluded, tuple(p for p in self.merged if p != pair))


def edited_scores(base: GroupScores, edits: ScoringEdits) -> GroupScores:
    """What every metric, chart and recommendation is computed on: the API's scores, edited (no call)."""
    if edits.empty:
        return base
    return rescored(base, exclude=edits.excluded, merge=edits.merged)


def edits_lines(base: GroupScores, edits: ScoringEdits) -> list[str]:
    """What was excluded and merged, one sentence each (for the page and the report)."""
    names = {f.face_id: f.external_image_id or f.face_id for f in base.faces}
    lines = [_("excluded: {face}").format(face=names.get(face_id, face_id)) for face_id in sorted(edits.excluded)]
    lines += [_("merged: {first} + {second}").format(first=a, second=b) for a, b in edits.merged]
    return lines


# ---------------------------------------------------------------- what the tables say
def kind_label(kind: str) -> str:
    return {
        "mislabeled": _("probably mislabeled"),
        "same-person": _("one person under two names?"),
        "duplicate": _("near-duplicate"),
    }.get(kind, kind)


def suspect_sentence(suspect: Suspect, audit: Audit) -> str:
    """Why it is suspected, in the reader's language (audit.py's ``reason`` is the CLI's English)."""
    if suspect.kind == "mislabeled":
        if len(suspect.faces) > 1:
            return _("matches another identity {gap:.1f} points better than its own").format(gap=suspect.score)
        return _("below the EER threshold ({value:.0f}) against every face of its identity").format(
            value=audit.eer_threshold
        )
    if suspect.kind == "same-person":
        return _("most cross pairs match at {value:.0f} (mean similarity {mean:.1f})").format(
            value=audit.threshold, mean=suspect.score
        )
    return _("similarity {value:.1f}: the same photo twice?").format(value=suspect.score)


def hardest_rows(scores: GroupScores, genuine: bool, count: int = HARDEST_ROWS) -> list[dict[str, object]]:
    """The hardest pairs, translated headers, similarity to one decimal (the EER card's rule)."""
    return [
        {
            _("similarity"): f"{row['similarity']:.1f}",
            _("genuine"): _("yes") if row["genuine"] else _("no"),
            _("externalImageId A"): row["externalImageId A"],
            _("externalImageId B"): row["externalImageId B"],
        }
        for row in scores.hardest(genuine=genuine, count=count)
    ]


def hardest_pairs(scores: GroupScores, genuine: bool, count: int = HARDEST_ROWS) -> list[tuple[int, int, float]]:
    """(face index A, face index B, similarity) of the hardest pairs, in the table's order."""
    rows = scores.hardest(genuine=genuine, count=count)
    index = {f.face_id: i for i, f in enumerate(scores.faces)}
    return [(index[str(r["faceId A"])], index[str(r["faceId B"])], float(str(r["similarity"]))) for r in rows]


def identification_row(name: str, rates: IdentificationRates) -> dict[str, object]:
    return {
        _("represented by"): name,
        _("Rank-1 identification rate"): f"{rates.rank1_rate:.2%}",
        _("FNIR at threshold"): f"{rates.fnir:.2%}",
        _("FPIR at threshold"): "—" if not rates.non_mated_probes else f"{rates.fpir:.2%}",
        _("mated probes"): f"{rates.mated_probes:,}",
    }


def crops_of(scores: GroupScores, thumbnails: Mapping[str, bytes], faces: tuple[int, ...]) -> list[Image.Image | None]:
    return [face_crop(thumbnails.get(scores.faces[i].external_image_id or ""), scores.faces[i]) for i in faces]


# ---------------------------------------------------------------- the quality gate's verdicts at enrollment
class VerdictRecorder:
    """Wraps an enrollment gate and pairs each photo's verdict with the label ``enroll`` reports next
    (the gate is asked just before that photo's progress step; photos it is not asked about get none)."""

    def __init__(self, gate: QualityGate) -> None:
        self.gate = gate
        self._last: FaceQuality | None = None
        self._asked = False
        self.verdicts: dict[str, FaceQuality | None] = {}

    def __call__(self, data: bytes) -> FaceQuality | None:
        self._last, self._asked = self.gate(data), True
        return self._last

    def step(self, external_id: str) -> None:
        if self._asked:
            self.verdicts[external_id] = self._last
        self._last, self._asked = None, False


def verdict_rows(verdicts: Mapping[str, FaceQuality | None]) -> list[dict[str, object]]:
    """One row per photo the gate judged: its largest face's verdict and reasons."""
    rows: list[dict[str, object]] = []
    for name, quality in verdicts.items():
        if quality is None:
            verdict, reasons, size = _("no face found"), "", "—"
        else:
            verdict = _("pass") if quality.passed else _("fail")
            reasons, size = ", ".join(quality.reasons), f"{quality.size_px:.0f}"
        rows.append({_("file"): name, _("verdict"): verdict, _("reasons"): reasons, _("face size (px)"): size})
    return rows


def skipped_csv(skipped: list[tuple[str, tuple[str, ...]]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "reasons"])
    for name, reasons in skipped:
        writer.writerow([name, " ".join(reasons)])
    return buffer.getvalue()


def hardest_for_report(scores: GroupScores, thumbnails: Mapping[str, bytes]) -> list[HardestTable]:
    """Both hardest-pairs tables with both faces' crops, for the HTML report."""
    tables = []
    for genuine, caption in ((False, _("Highest-scoring impostor pairs")), (True, _("Lowest-scoring genuine pairs"))):
        crops = []
        for a, b, _similarity in hardest_pairs(scores, genuine):
            pair = [jpeg_bytes(c) if c is not None else None for c in crops_of(scores, thumbnails, (a, b))]
            crops.append((pair[0], pair[1]))
        tables.append(HardestTable(caption, hardest_rows(scores, genuine), crops))
    return tables


def preset_label(name: str) -> str:
    """A quality preset's name in the reader's language."""
    return {"off": _("off"), "low": _("low"), "medium": _("medium"), "high": _("high")}.get(name, name)


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def hardest_table(scores: GroupScores, genuine: bool, thumbnails: Mapping[str, bytes]) -> list[dict[str, object]]:
    """The page's hardest-pairs table: both faces' crops first (data URIs; None where no photo was kept)."""
    rows = []
    for (a, b, _similarity), row in zip(hardest_pairs(scores, genuine), hardest_rows(scores, genuine), strict=True):
        crops = [data_uri(jpeg_bytes(c)) if c is not None else None for c in crops_of(scores, thumbnails, (a, b))]
        rows.append({_("face A"): crops[0], _("face B"): crops[1], **row})
    return rows
