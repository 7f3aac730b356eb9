"""Labeled sets: the label convention and enrollment of a folder or ZIP of ``<identity>/<image>``.

**Label convention.** A face's identity is the part of its externalImageId before the first
``:`` — ``enroll`` writes ``<identity>:<file name>`` (e.g. ``aaron-peirsol:Aaron_Peirsol_0001.jpg``),
which fits the contract's pattern ``[a-zA-Z0-9_.\\-:]``; a name that does not fit keeps a digest, so
different names never become one label. Faces whose externalImageId has no ``:`` are unlabeled.

**Archives are hostile input**: a ZIP is checked from its end record and listing before any member is
read, and members are read one at a time, never past the contract's image size.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, NamedTuple, Union

from facereco.client import FaceRecoClient
from facereco.contract import GROUP_QUOTA, MAX_IMAGE_BYTES
from facereco.errors import ApiError, FaceRecoError
from facereco.quality_gate import QualityGate
from facereco.validation import external_image_id_from

LABEL_SEPARATOR = ":"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
Progress = Callable[[int, int, str], None]


def identity_of(external_image_id: str | None) -> str | None:
    """The identity a face is labeled with, or None when it carries no label."""
    if not external_image_id or LABEL_SEPARATOR not in external_image_id:
        return None
    return external_image_id.split(LABEL_SEPARATOR, 1)[0] or None


def _label_part(text: str, limit: int) -> str:
    """``text`` as it is when it already fits the externalImageId pattern (without ':', kept for the separator);
    otherwise its fitting characters plus a short digest of the original, so that two different names
    (``김철수`` and ``이영희``, ``a b`` and ``a_b``) never become one label."""
    cleaned = external_image_id_from(text).replace(LABEL_SEPARATOR, "_")
    if cleaned == text and len(text) <= limit:
        return text
    stem, dot, suffix = cleaned.rpartition(".") if "." in cleaned[1:] else (cleaned, "", "")
    tag = "-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    tail = f"{tag}{dot}{suffix}"[:limit]
    return stem[: max(limit - len(tail), 0)] + tail


def labeled_external_id(identity: str, file_name: str) -> str:
    """``<identity>:<file name>``, each part made to fit the externalImageId pattern, distinct names kept
    distinct (see ``_label_part``), at most 255 characters."""
    return f"{_label_part(identity, 100)}{LABEL_SEPARATOR}{_label_part(file_name, 154)}"


# ---------------------------------------------------------------- enrollment
class _NoVerdict:
    """A photo the gate found no face in passes it: the register call answers for it as before."""

    passed = True
    reasons: tuple[str, ...] = ()


_NO_VERDICT = _NoVerdict()


@dataclass
class EnrollReport:
    added: int = 0
    skipped: int = 0
    no_face: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    low_quality: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # skipped by the gate: reasons
    several_faces: list[tuple[str, int]] = field(default_factory=list)  # (image, faces in it): the largest taken


LabeledSource = Union[Path, bytes, BinaryIO]

# A ZIP is refused from its listing, before anything is decompressed, when it is absurd for photos.
# JPEG and PNG barely compress (ratio about 1), so 20 times is already a bomb; each member is then
# read on its own and never past MAX_IMAGE_BYTES + 1, so memory stays at one image whatever it says.
MAX_ARCHIVE_IMAGES = GROUP_QUOTA
MAX_ARCHIVE_UNPACKED_BYTES = 2_000_000_000
MAX_ARCHIVE_RATIO = 20
# The listing itself is bounded too, from the end record, before zipfile reads it: zipfile keeps
# ~360-470 bytes per entry, so the byte bound is what caps its memory, whatever entry count the end
# record claims. A record is 46 bytes at least (empty names): 120 bytes per image (a record and a
# 74-character path) still lists 100,000 real photos, and lets a listing of empty names hold at most
# 260,000 entries (~95 MB) where 256 per image let 556,000 (~199 MB) through.
MAX_ARCHIVE_ENTRIES = 2 * MAX_ARCHIVE_IMAGES  # images, and room for folders and stray files
MAX_ARCHIVE_LISTING_BYTES = 120 * MAX_ARCHIVE_IMAGES
# What zipfile raises on a damaged archive: bad headers, lying offsets (ValueError: negative seek),
# names flagged UTF-8 that are not (UnicodeDecodeError, a ValueError), truncation, bad deflate data.
_DAMAGED_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error)


class ArchiveRefused(FaceRecoError):
    """A ZIP that is not one, or whose sizes are absurd for a set of photos."""


class LabeledImage(NamedTuple):
    identity: str  # the image's folder
    name: str  # its file name
    path: str  # where it is in the folder or ZIP (two images may share identity and name)
    data: bytes


@contextmanager
def open_labeled_images(source: LabeledSource) -> Iterator[tuple[int, Iterator[LabeledImage]]]:
    """How many ``<identity>/<image>`` a folder or ZIP holds, and the images one at a time, from one
    listing (a ZIP's is checked before any member is read).

    A ZIP comes as a path, bytes or a binary file object (the page's upload, read in place).
    """
    if isinstance(source, Path) and not _is_zip(source):
        paths = _folder_images(source)
        yield len(paths), (_folder_image(path) for path in paths)
        return
    with _open_zip(source) as archive:
        members = _zip_images(archive)
        yield len(members), (_zip_image(archive, member) for member in members)


def labeled_images(source: LabeledSource) -> Iterator[LabeledImage]:
    """Every ``<identity>/<image>`` of a folder or a ZIP, one at a time."""
    with open_labeled_images(source) as (_, images):
        yield from images


def count_labeled_images(source: LabeledSource) -> int:
    """How many images ``labeled_images`` will give, without reading any (the ZIP's listing is checked)."""
    with open_labeled_images(source) as (count, _):
        return count


def _folder_image(path: Path) -> LabeledImage:
    return LabeledImage(path.parent.name, path.name, f"{path.parent.name}/{path.name}", path.read_bytes())


def _zip_image(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> LabeledImage:
    parts = PurePosixPath(member.filename).parts
    return LabeledImage(parts[-2], parts[-1], member.filename, _read_member(archive, member))


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    """One member, never past MAX_IMAGE_BYTES + 1 bytes (the API refuses more anyway)."""
    try:
        with archive.open(member) as handle:
            return handle.read(MAX_IMAGE_BYTES + 1)
    except (*_DAMAGED_ZIP_ERRORS, NotImplementedError, RuntimeError) as error:
        raise ArchiveRefused(f"The ZIP is damaged at {member.filename!r}: {error}.") from None


def _is_zip(source: LabeledSource) -> bool:
    return not isinstance(source, Path) or source.suffix.lower() == ".zip"


def _folder_images(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*/*")) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]


def _open_zip(source: LabeledSource) -> zipfile.ZipFile:
    try:
        if isinstance(source, Path):
            with source.open("rb") as handle:
                _check_listing_size(handle)
            return zipfile.ZipFile(source)
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        _check_listing_size(stream)
        return zipfile.ZipFile(stream)
    except (*_DAMAGED_ZIP_ERRORS, zipfile.LargeZipFile):
        raise ArchiveRefused("This file is not a readable ZIP archive.") from None


def _check_listing_size(handle: BinaryIO) -> None:
    """Refuse a ZIP from its end record (entry count, listing size), before zipfile reads the listing:
    reading three million entries takes seconds and over a gigabyte before any other rule can run."""
    # zipfile's own end-record reader (private, but unchanged since Python 2.6; it knows ZIP64).
    end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]
    if end is None:
        raise ArchiveRefused("This file is not a readable ZIP archive.")
    entries, listing_bytes = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
    if entries > MAX_ARCHIVE_ENTRIES or listing_bytes > MAX_ARCHIVE_LISTING_BYTES:
        raise ArchiveRefused(
            f"The ZIP lists {entries:,} entries in {listing_bytes:,} bytes; a set of photos for one group "
            f"lists at most {MAX_ARCHIVE_ENTRIES:,} entries in {MAX_ARCHIVE_LISTING_BYTES:,} bytes."
        )


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
    client: FaceRecoClient,
    group_id: str,
    source: LabeledSource,
    progress: Progress | None = None,
    gate: QualityGate | None = None,
) -> EnrollReport:
    """Register the largest face of every labeled image, one image in memory at a time; resumable:
    what is already there is skipped. ``gate`` (facereco/quality_gate.py) skips, before the register
    call, a photo whose largest face fails it."""
    with open_labeled_images(source) as (total, images):  # checks a ZIP before any member is read
        return _enroll_images(client, group_id, images, total, progress, gate)


def _enroll_images(
    client: FaceRecoClient,
    group_id: str,
    images: Iterator[LabeledImage],
    total: int,
    progress: Progress | None,
    gate: QualityGate | None = None,
) -> EnrollReport:
    existing = {f.external_image_id for f in client.iter_faces(group_id, limit=200)}
    report = EnrollReport()
    labeled_here: dict[str, str] = {}  # label -> the source it came from in this run
    for i, (identity, name, source_name, data) in enumerate(images, 1):
        external_id = labeled_external_id(identity, name)
        first = labeled_here.get(external_id)
        labeled_here.setdefault(external_id, source_name)
        if first is not None:  # this label was already given in this run: never merge two images
            # two sources, one label (alice/front/1.jpg and bob/front/1.jpg), or one path twice in a ZIP
            reason = "appears twice in the archive" if first == source_name else f"gets the same label as {first}"
            report.failed.append((source_name, reason))
        elif external_id in existing:
            report.skipped += 1
        elif gate is not None and not (quality := gate(data) or _NO_VERDICT).passed:
            report.low_quality.append((source_name, quality.reasons))
        else:
            try:
                result = client.register_faces(group_id, data, external_image_id=external_id, limit=1)
                report.added += result.added_face_count
                report.no_face += result.added_face_count == 0
                if result.added_face_count and result.not_added_face_count:
                    report.several_faces.append((source_name, 1 + result.not_added_face_count))
                existing.add(external_id)
            except ApiError as error:
                report.failed.append((source_name, str(error)))
        if progress:
            progress(i, total, external_id)
    return report
