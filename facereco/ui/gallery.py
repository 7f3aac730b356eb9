"""A demo gallery of real people from LFW, through scikit-learn's own loader and its cache folder.

``fetch_lfw_people`` downloads LFW once into ``<data_home>/lfw_home/lfw_funneled/<Name>/<Name>_NNNN.jpg``
(with its pairs files) and verifies that cache. Its arrays are cropped, rescaled floats, so the
gallery sends the cached JPEGs themselves, a few people at a time: memory stays bounded whatever
the size of LFW. Enrollment is resumable (what the group already has is skipped). No Streamlit here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from facereco.client import FaceRecoClient
from facereco.errors import FaceRecoError
from facereco.labeled_sets import labeled_external_id

GALLERY_GROUP = "lfw-gallery"
# Larger than any LFW identity's image count: the loader then checks (and fetches) its cache and stops
# before decoding a single image into its arrays (it raises ValueError, "too restrictive").
_LOAD_NOTHING = 10**9


class GalleryUnavailable(Exception):
    """LFW is not in scikit-learn's cache and could not be fetched (offline): ``str()`` is the sentence."""


def lfw_folder(data_home: str | Path | None = None, download: bool = True) -> Path:
    """The funneled LFW folder in scikit-learn's cache, fetched by its loader when missing and allowed."""
    try:
        from sklearn.datasets import fetch_lfw_people, get_data_home
    except ImportError:  # an install without requirements.txt's scikit-learn: a sentence, not a traceback
        raise GalleryUnavailable("ImportError") from None
    try:
        fetch_lfw_people(
            data_home=data_home, min_faces_per_person=_LOAD_NOTHING, download_if_missing=download, n_retries=1
        )
    except ValueError as error:
        if "too restrictive" not in str(error):
            raise
        # the cache is there and complete: nothing was decoded (see _LOAD_NOTHING)
    except OSError as error:  # missing and not downloadable: offline, or a firewall
        raise GalleryUnavailable(type(error).__name__) from None
    return Path(get_data_home(data_home)) / "lfw_home" / "lfw_funneled"


def choose_people(folder: Path, people: int, per_person: int) -> list[tuple[str, list[Path]]]:
    """The first ``people`` identities (by name) with at least ``per_person`` photos, and those photos."""
    chosen = []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = sorted(person.glob("*.jpg"))
        if len(photos) >= per_person:
            chosen.append((person.name, photos[:per_person]))
            if len(chosen) == people:
                break
    return chosen


@dataclass
class GalleryReport:
    added: int = 0
    skipped: int = 0
    no_face: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def build_gallery(
    client: FaceRecoClient,
    chosen: list[tuple[str, list[Path]]],
    progress: Callable[[int, int], None] | None = None,
    group: str = GALLERY_GROUP,
) -> GalleryReport:
    """Enroll each chosen photo's largest face as ``<person>:<file>``; resumable."""
    client.ensure_group(group)
    existing = {face.external_image_id for face in client.iter_faces(group, limit=200)}
    photos = [(person, path) for person, paths in chosen for path in paths]
    report = GalleryReport()
    for done, (person, path) in enumerate(photos, 1):
        external_id = labeled_external_id(person, path.name)
        if external_id in existing:
            report.skipped += 1
        else:
            try:
                added = client.register_faces(group, path.read_bytes(), external_image_id=external_id, limit=1)
                report.added += added.added_face_count
                if not added.added_face_count:
                    report.no_face.append(path.name)
            except (FaceRecoError, OSError) as error:
                report.failed.append((path.name, str(error)))
        if progress:
            progress(done, len(photos))
    return report
