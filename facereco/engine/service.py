"""The twelve calls of the contract over the vision engine and the store.

Inputs arrive already checked for type and range (``api.py``); this module does
what each call means: which faces count, what is stored, what is answered. It
returns the ``data`` object of each response as a wire-ready dict.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from facereco.contract import GROUP_QUOTA, LANDMARK_TYPES, NO_FACE_MESSAGE, ImageRef, ResultCode
from facereco.engine.descriptors import NEWEST
from facereco.engine.images import DecodedImage, UrlPolicy, analysis_cost_bytes, decode_image, image_ref_bytes
from facereco.engine.index import GroupIndex, IndexCache
from facereco.engine.memory import ANALYSIS_MEMORY
from facereco.engine.similarity import similarity_from_distance, unit_distance
from facereco.engine.store import FaceColumns, NewFace, Store
from facereco.engine.tokens import PageTokens
from facereco.engine.vision import DetectedFace, FaceAnalyzer
from facereco.engine.wire import face_wire
from facereco.errors import InvalidParam, NotFoundFaceID, NotFoundGroup


@dataclass(frozen=True)
class Analysed:
    """One decoded image and its faces."""

    image: DecodedImage
    faces: list[DetectedFace]

    def detail(self, face: DetectedFace, orientation: bool, mask: bool) -> dict[str, Any]:
        return face_detail(face, self.image.width, self.image.height, orientation, mask)

    def recognisable(self) -> list[DetectedFace]:
        return [f for f in self.faces if f.recognisable]


def _unit(value: float) -> float:
    return round(min(max(value, 0.0), 1.0), 6)


def face_detail(face: DetectedFace, width: int, height: int, orientation: bool, mask: bool) -> dict[str, Any]:
    """The contract's faceDetail: bbox and landmarks in 0..1, confidence in percent."""
    x0, y0, x1, y1 = face.box
    detail: dict[str, Any] = {
        "bbox": {"x0": _unit(x0 / width), "y0": _unit(y0 / height), "x1": _unit(x1 / width), "y1": _unit(y1 / height)},
        "landmarks": [
            {"type": name, "x": _unit(face.points[name][0] / width), "y": _unit(face.points[name][1] / height)}
            for name in LANDMARK_TYPES
        ],
    }
    if orientation and face.orientation is not None:
        yaw, pitch, roll = face.orientation
        detail["orientation"] = {"x": round(yaw, 4), "y": round(pitch, 4), "z": round(roll, 4)}
    if mask and face.mask is not None:
        detail["mask"] = face.mask
    detail["confidence"] = round(face.confidence * 100.0, 6)
    return detail


def _similarity(distance: float, version: str) -> float:
    return round(float(similarity_from_distance(distance, version)), 4)


class FaceService:
    """Stateless between calls except for the store and the in-memory search indexes."""

    def __init__(
        self,
        store: Store,
        analyzer: FaceAnalyzer,
        tokens: PageTokens,
        url_policy: UrlPolicy,
        group_quota: int = GROUP_QUOTA,
        index_budget_bytes: int | None = None,
    ) -> None:
        self.store = store
        self.analyzer = analyzer
        self.tokens = tokens
        self.url_policy = url_policy
        self.group_quota = group_quota
        self.indexes = IndexCache(store.load_group, index_budget_bytes)

    # ------------------------------------------------------------ helpers
    @contextmanager
    def _analysing(self, ref: ImageRef, orientation: bool, mask: bool) -> Iterator[Analysed]:
        """The image decoded and its faces found, under one hold of the analysis memory budget that lasts
        until the caller's embedding is done too (its estimated peak, taken once the bytes are in hand:
        a slow download holds none of it)."""
        data = image_ref_bytes(ref, self.url_policy)
        with ANALYSIS_MEMORY.hold(analysis_cost_bytes(data, mask)):
            image = decode_image(data)
            del data
            yield Analysed(image, self.analyzer.detect(image.rgb, orientation=orientation, mask=mask))

    def _largest_face(self, analysed: Analysed, field: str) -> DetectedFace:
        """Search, compare and verify use the largest recognisable face of their query image."""
        faces = analysed.recognisable()
        if not faces:
            raise InvalidParam(NO_FACE_MESSAGE.format(field=field))
        return faces[0]

    def _embed(self, analysed: Analysed, face: DetectedFace, version: str) -> np.ndarray:
        """The query's descriptor made the way ``version``'s stored ones were (``descriptors.py``)."""
        return self.analyzer.embed(analysed.image.rgb, face, version)

    def _index(self, owner: str, group_id: str) -> GroupIndex:
        """The group's index as of every committed write, whichever process made it (-40030 if no group).

        The generation read is the group-exists lookup every search needs anyway, so it costs nothing more.
        """
        try:
            generation = self.store.group_generation(owner, group_id)
        except NotFoundGroup:
            self.indexes.drop(owner, group_id)  # deleted, perhaps by another process: free its memory
            raise
        return self.indexes.fresh(owner, group_id, generation)

    def _stored_face(self, owner: str, group_id: str, face_id: str) -> tuple[GroupIndex, np.ndarray, dict[str, Any]]:
        """The group's fresh index, a stored face's unit vector and its wire form (-40030, -40050)."""
        index = self._index(owner, group_id)
        stored = index.face(face_id)
        if stored is None:
            raise NotFoundFaceID(f"face {face_id!r} is not in group {group_id!r}")
        return index, *stored

    def _group_version(self, owner: str, group_id: str) -> str:
        """The group's descriptor version (-40030 if no group: its loaded index, if any, is let go too)."""
        try:
            return self.store.group_version(owner, group_id)
        except NotFoundGroup:
            self.indexes.drop(owner, group_id)  # deleted, perhaps by another process: free its memory
            raise

    def _still_version(self, owner: str, group_id: str, version: str) -> None:
        """-40030 when the group now holds another descriptor version than the query was made for: it was
        deleted and created again while this request ran, so its index and the query are of two kinds.
        Checked after the index was read, so an index of the new group is never scored as the old kind."""
        if self._group_version(owner, group_id) != version:
            raise NotFoundGroup(f"group {group_id!r} was deleted and created again during this request")

    @staticmethod
    def _match_faces(matches: list[dict]) -> dict[str, Any]:
        return {"matchFaceCount": len(matches), "matchFaces": matches}

    # ------------------------------------------------------------ groups
    def create_group(self, owner: str, group_id: str) -> None:
        self.store.create_group(owner, group_id)

    def _page(
        self,
        scope: str,
        limit: int,
        token: str | None,
        fetch: Callable[[int, list[Any] | None], list[Any]],
        cursor_of: Callable[[Any], list[Any]],
    ) -> tuple[list[Any], str | None]:
        """One page of a keyset listing and the token for the next (a token brings its own limit and cursor).

        ``fetch(limit, cursor)`` returns up to limit + 1 rows: the extra one says another page follows.
        """
        cursor = None
        if token:
            limit, cursor = self.tokens.open(token, scope)
        rows = fetch(limit, cursor)
        page = rows[:limit]
        return page, self.tokens.issue(scope, limit, cursor_of(page[-1])) if len(rows) > limit else None

    def list_groups(self, owner: str, limit: int, token: str | None) -> dict[str, Any]:
        page, next_token = self._page(
            f"{owner}/groups",
            limit,
            token,
            lambda n, cursor: self.store.list_groups(owner, n, cursor[0] if cursor else None),
            lambda row: [row.group_id],
        )
        data: dict[str, Any] = {
            "groupCount": len(page),
            "groups": [{"groupId": r.group_id, "modelVersion": r.model_version} for r in page],
        }
        if next_token:
            data["nextToken"] = next_token
        return data

    def get_group(self, owner: str, group_id: str) -> dict[str, Any]:
        row = self.store.get_group(owner, group_id)
        group = {
            "groupId": row.group_id,
            "modelVersion": row.model_version,
            "createTime": row.create_time,
            "faceCount": row.face_count,
        }
        return {"groupCount": 1, "groups": [group]}

    def delete_group(self, owner: str, group_id: str) -> None:
        with self.indexes.lock(owner, group_id):
            self.store.delete_group(owner, group_id)
            self.indexes.drop(owner, group_id)

    # ------------------------------------------------------------ faces
    def detect(self, image: ImageRef, orientation: bool, mask: bool) -> dict[str, Any]:
        with self._analysing(image, orientation, mask) as analysed:
            # The contract reports only recognisable faces (>= 60x60 px, yaw and pitch within 45 degrees).
            details = [analysed.detail(f, orientation, mask) for f in analysed.recognisable()]
        return {"faceDetailCount": len(details), "faceDetails": details}

    def register(
        self,
        owner: str,
        group_id: str,
        image: ImageRef,
        external_image_id: str | None,
        limit: int,
        orientation: bool,
        mask: bool,
    ) -> tuple[dict[str, Any], ResultCode]:
        version = self._group_version(owner, group_id)  # -40030 before any image work
        with self._analysing(image, orientation, mask) as analysed:
            chosen = analysed.recognisable()[:limit]
            vectors = self.analyzer.embed_all(analysed.image.rgb, chosen, version)
        image_id = str(uuid.uuid4())
        candidates = [
            NewFace(
                face_id=str(uuid.uuid4()),
                image_id=image_id,
                external_image_id=external_image_id,
                bbox=analysed.detail(face, False, False)["bbox"],
                confidence=round(face.confidence * 100.0, 6),
                vector=vector,
            )
            for face, vector in zip(chosen, vectors, strict=True)
        ]
        with self.indexes.lock(owner, group_id):
            added, step = self.store.add_faces(owner, group_id, candidates, self.group_quota, model_version=version)
            columns = FaceColumns.of(added, [c.vector for c in candidates[: len(added)]])
            self.indexes.after_write(owner, group_id, step, lambda index: index.add(columns))
        added_faces = chosen[: len(added)]
        not_added = [f for f in analysed.faces if not any(f is a for a in added_faces)]
        data = {
            "modelVersion": version,
            "addedFaceCount": len(added),
            "addedFaces": [face_wire(row) for row in added],
            "addedFaceDetails": [analysed.detail(f, orientation, mask) for f in added_faces],
            "notAddedFaceCount": len(not_added),
            "notAddedFaces": [analysed.detail(f, orientation, mask) for f in not_added],
        }
        partial = len(added) < len(candidates)
        return data, (ResultCode.ServiceQuotaExceededPartialSuccessException if partial else ResultCode.Success)

    def delete_face(self, owner: str, group_id: str, face_id: str) -> None:
        with self.indexes.lock(owner, group_id):
            step = self.store.delete_face(owner, group_id, face_id)
            self.indexes.after_write(owner, group_id, step, lambda index: index.remove(face_id))

    def list_faces(self, owner: str, group_id: str, limit: int, token: str | None) -> dict[str, Any]:
        page, next_token = self._page(
            f"{owner}/faces/{group_id}",
            limit,
            token,
            lambda n, cursor: self.store.list_faces(
                owner, group_id, n, (int(cursor[0]), str(cursor[1])) if cursor else None
            ),
            lambda row: [row.created_ns, row.face_id],
        )
        group = self.store.get_group(owner, group_id)
        data: dict[str, Any] = {
            "modelVersion": group.model_version,
            "faceCount": group.face_count,  # the group's, not the page's (the guide)
            "faces": [face_wire(r) for r in page],
        }
        if next_token:
            data["nextToken"] = next_token
        return data

    def search_by_face_id(self, owner: str, group_id: str, face_id: str, limit: int, threshold: int) -> dict[str, Any]:
        version = self._group_version(owner, group_id)
        index, vector, _ = self._stored_face(owner, group_id, face_id)
        matches = index.matches(vector, limit, threshold, exclude=face_id, version=version)
        self._still_version(owner, group_id, version)
        return self._match_faces(matches)

    def search_by_image(
        self, owner: str, group_id: str, image: ImageRef, limit: int, threshold: int, orientation: bool, mask: bool
    ) -> dict[str, Any]:
        version = self._group_version(owner, group_id)  # -40030 before any image work
        with self._analysing(image, orientation, mask) as analysed:
            source = self._largest_face(analysed, "image")
            query = self._embed(analysed, source, version)
        matches = self._index(owner, group_id).matches(query, limit, threshold, version=version)
        self._still_version(owner, group_id, version)
        return {
            "modelVersion": version,
            **self._match_faces(matches),
            "sourceFace": analysed.detail(source, orientation, mask),
        }

    def compare(
        self, source: ImageRef, target: ImageRef, threshold: int, orientation: bool, mask: bool
    ) -> dict[str, Any]:
        # One image's hold at a time: a thread holding the source while it waits for the target's
        # bytes could deadlock against another doing the same.
        with self._analysing(source, orientation, mask) as source_analysed:
            source_face = self._largest_face(source_analysed, "sourceImage")
            source_vector = self._embed(source_analysed, source_face, NEWEST)  # no group: the newest descriptor
            source_detail = source_analysed.detail(source_face, orientation, mask)
        del source_analysed
        with self._analysing(target, orientation, mask) as target_analysed:
            targets = target_analysed.recognisable()
            target_vectors = self.analyzer.embed_all(target_analysed.image.rgb, targets, NEWEST)
        scored = [
            (face, _similarity(unit_distance(source_vector, vector), NEWEST))
            for face, vector in zip(targets, target_vectors, strict=True)
        ]
        scored.sort(key=lambda pair: pair[1], reverse=True)
        matched = [
            {"faceDetail": target_analysed.detail(f, orientation, mask), "similarity": s}
            for f, s in scored
            if s >= threshold
        ]
        unmatched = [
            {"faceDetail": target_analysed.detail(f, orientation, mask), "similarity": s}
            for f, s in scored
            if s < threshold
        ]
        return {
            "modelVersion": NEWEST,
            "matchedFaceDetailCount": len(matched),
            "matchedFaceDetails": matched,
            "unmatchedFaceDetailCount": len(unmatched),
            "unmatchedFaceDetails": unmatched,
            "sourceFace": source_detail,
        }

    def verify(
        self, owner: str, group_id: str, face_id: str, image: ImageRef, orientation: bool, mask: bool
    ) -> dict[str, Any]:
        self._stored_face(owner, group_id, face_id)  # -40030 / -40050 before any image work
        version = self._group_version(owner, group_id)
        with self._analysing(image, orientation, mask) as analysed:
            source = self._largest_face(analysed, "compareImage")
            query = self._embed(analysed, source, version)
        _, vector, face = self._stored_face(owner, group_id, face_id)  # again: writes may land while we embed
        return {
            "similarity": _similarity(unit_distance(vector, query), version),
            "face": face,
            "sourceFace": analysed.detail(source, orientation, mask),
        }
