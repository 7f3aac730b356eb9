"""Per-group in-memory search indexes, kept fresh across processes and within a memory budget.

A group's index is a matrix of unit vectors plus, beside it, the columns a match needs
(faceId, imageId, externalImageId, box, confidence), so a search is one matrix-vector
product, a partial selection of the k best and a response built straight from those
columns: no database query per search, no model per match.

**Freshness.** Each index remembers the generation of its group (``store.py``: every write
stamps the group with a new one). A search reads the group's generation (the same primary-key
lookup that checks the group exists) and reloads the index when the store's is newer, that is,
when another process wrote. This process's own writes are applied to the loaded index directly.

**Memory.** Loaded indexes are counted in bytes (matrix, columns, strings); past the budget the
least recently used groups are dropped and reloaded on demand. The group in use always stays,
even when it alone is larger than the budget.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from facereco.contract.allocation import collector_paused
from facereco.engine.descriptors import NEWEST
from facereco.engine.similarity import similarity_from_distance
from facereco.engine.store import FaceColumns, GenerationStep
from facereco.engine.wire import faces_wire

DIMENSIONS = 128
TIE_TOLERANCE = 1e-6  # cosines of identical vectors differ by float32 rounding, depending on their row
MEMORY_BUDGET_ENV = "FACERECO_INDEX_MEMORY_MB"
DEFAULT_MEMORY_BUDGET_MB = 1024.0  # about ten full (100,000-face) groups


def memory_budget_bytes(megabytes: float | None = None) -> int:
    """The index memory budget: ``megabytes`` if given, else ``FACERECO_INDEX_MEMORY_MB``, else 1 GiB."""
    if megabytes is None:
        raw = os.environ.get(MEMORY_BUDGET_ENV, "").strip()
        try:
            megabytes = float(raw) if raw else DEFAULT_MEMORY_BUDGET_MB
        except ValueError:
            raise ValueError(f"{MEMORY_BUDGET_ENV} must be a number of megabytes, got {raw[:40]!r}") from None
    if not megabytes > 0:
        raise ValueError(f"the index memory budget must be positive, got {megabytes} MB")
    return int(megabytes * 1024 * 1024)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, DIMENSIONS)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _grown(array: np.ndarray, rows: int) -> np.ndarray:
    bigger = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    bigger[: array.shape[0]] = array
    return bigger


def _string_bytes(values: Sequence[str | None]) -> int:
    """Memory of the strings plus the list slots that hold them (None is shared)."""
    return sum(map(sys.getsizeof, filter(None, values))) + 8 * len(values)


class GroupIndex:
    """One group's faces at one generation; rows grow by doubling so appends are amortised O(1)."""

    def __init__(self, generation: int, faces: FaceColumns) -> None:
        self.generation = generation
        self._lock = threading.RLock()
        capacity = max(len(faces.face_ids), 16)
        self._matrix = np.zeros((capacity, DIMENSIONS), dtype=np.float32)
        self._bboxes = np.zeros((capacity, 4), dtype=np.float64)
        self._confidences = np.zeros(capacity, dtype=np.float64)
        self._ids: list[str] = []
        self._image_ids: list[str] = []
        self._external_ids: list[str | None] = []
        self._row: dict[str, int] = {}
        self._object_bytes = 0
        self.add(faces)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def nbytes(self) -> int:
        """Bytes held: the arrays (with their spare rows), the strings and the faceId -> row map."""
        arrays = self._matrix.nbytes + self._bboxes.nbytes + self._confidences.nbytes
        return arrays + self._object_bytes + sys.getsizeof(self._row)

    def add(self, faces: FaceColumns) -> None:
        with self._lock:
            start, end = len(self._ids), len(self._ids) + len(faces.face_ids)
            if end > self._matrix.shape[0]:
                rows = max(end, 2 * self._matrix.shape[0])
                self._matrix, self._bboxes = _grown(self._matrix, rows), _grown(self._bboxes, rows)
                self._confidences = _grown(self._confidences, rows)
            if end > start:
                self._matrix[start:end] = unit_rows(faces.vectors)
                self._bboxes[start:end] = faces.bboxes
                self._confidences[start:end] = faces.confidences
            self._row.update(zip(faces.face_ids, range(start, end), strict=True))
            self._ids.extend(faces.face_ids)
            self._image_ids.extend(faces.image_ids)
            self._external_ids.extend(faces.external_image_ids)
            new_columns: tuple[Sequence[str | None], ...] = (faces.face_ids, faces.image_ids, faces.external_image_ids)
            self._object_bytes += sum(map(_string_bytes, new_columns))

    def remove(self, face_id: str) -> None:
        """Swap the last row into the removed one's place."""
        with self._lock:
            row = self._row.pop(face_id, None)
            if row is None:
                return
            self._object_bytes -= _string_bytes([face_id, self._image_ids[row], self._external_ids[row]])
            last = len(self._ids) - 1
            if row != last:
                for array in (self._matrix, self._bboxes, self._confidences):
                    array[row] = array[last]
                columns: tuple[list[Any], ...] = (self._ids, self._image_ids, self._external_ids)
                for column in columns:
                    column[row] = column[last]
                self._row[self._ids[row]] = row
            for column in (self._ids, self._image_ids, self._external_ids):
                column.pop()

    def face(self, face_id: str) -> tuple[np.ndarray, dict[str, object]] | None:
        """A stored face's unit vector and its wire form, or None when the group has no such face."""
        with self._lock:
            row = self._row.get(face_id)
            if row is None:
                return None
            return self._matrix[row].copy(), self._wire_faces(np.array([row]))[0]

    def matches(
        self, query: np.ndarray, limit: int, threshold: float, exclude: str | None = None, version: str = NEWEST
    ) -> list[dict]:
        """The contract's matchFaces: up to ``limit`` faces at or above ``threshold``, most similar first
        (similarity as calibrated for ``version``, the group's descriptor version)."""
        with self._lock:
            count = len(self._ids)
            if count == 0:
                return []
            cosine = self._matrix[:count] @ unit_rows(query)[0]
            if exclude is not None and exclude in self._row:
                cosine[self._row[exclude]] = -np.inf
            take = min(limit, count)
            if take < count:
                top = np.argpartition(cosine, count - take)[count - take :]
                # faces tied with the last one taken (within float32 noise) may lie outside it: keep them all
                # as candidates, so the ranking below, not the partition, decides which of them are returned
                top = np.flatnonzero(cosine >= cosine[top].min() - TIE_TOLERANCE)
            else:
                top = np.arange(count)
            distance = np.sqrt(np.maximum(2.0 - 2.0 * cosine[top].astype(np.float64), 0.0))
            similarity = np.round(similarity_from_distance(distance, version), 4)
            # ranked on the similarity answered, equal ones by faceId: the same order in every process,
            # after any history of swaps and reloads, and limit k is always the first k of a larger limit
            order = np.lexsort((np.array([self._ids[i] for i in top.tolist()]), -similarity))[:take]
            top, similarity, cosine_top = top[order], similarity[order], cosine[top[order]]
            keep = np.isfinite(cosine_top) & (similarity >= threshold)
            top, similarity = top[keep], similarity[keep]
            with collector_paused():
                return [
                    {"face": face, "similarity": score}
                    for face, score in zip(self._wire_faces(top), similarity.tolist(), strict=True)
                ]

    def _wire_faces(self, rows: np.ndarray) -> list[dict[str, object]]:
        """The wire faces of the given rows; array columns are turned to Python values in bulk, not per row."""
        picked = rows.tolist()
        return faces_wire(
            [self._ids[row] for row in picked],
            [self._image_ids[row] for row in picked],
            [self._external_ids[row] for row in picked],
            self._bboxes[rows].tolist(),
            self._confidences[rows].tolist(),
        )


class IndexCache:
    """One GroupIndex per (owner, group), loaded on demand through ``load`` and kept within a byte budget.

    ``lock(owner, group)`` serialises a group's writes with its index load, so a face committed
    to the store is applied to a loaded index exactly once.
    """

    def __init__(self, load: Callable[[str, str], tuple[int, FaceColumns]], budget_bytes: int | None = None) -> None:
        self._load = load
        self.budget_bytes = budget_bytes if budget_bytes is not None else memory_budget_bytes()
        self._indexes: OrderedDict[tuple[str, str], GroupIndex] = OrderedDict()  # least recently used first
        self._locks: dict[tuple[str, str], threading.RLock] = {}
        self._guard = threading.Lock()

    def lock(self, owner: str, group_id: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault((owner, group_id), threading.RLock())

    def fresh(self, owner: str, group_id: str, generation: int) -> GroupIndex:
        """The group's index at ``generation`` or later (the store's, read just before): loaded if need be."""
        key = (owner, group_id)
        index = self._touch(key)
        if index is not None and index.generation >= generation:
            return index
        with self.lock(owner, group_id):
            index = self._touch(key)
            if index is None or index.generation < generation:
                index = GroupIndex(*self._load(owner, group_id))
                with self._guard:
                    self._indexes[key] = index
                self._evict(keep=key)
            return index

    def after_write(self, owner: str, group_id: str, step: GenerationStep, apply: Callable[[GroupIndex], None]) -> None:
        """Apply this process's committed write to a loaded index; drop the index if it missed another's.

        The caller holds ``lock(owner, group_id)``.
        """
        key = (owner, group_id)
        with self._guard:
            index = self._indexes.get(key)
        if index is None:
            return
        if index.generation != step.before:  # another process wrote in between: reload on next use
            self.drop(owner, group_id)
            return
        apply(index)
        index.generation = step.after
        self._evict(keep=key)

    def drop(self, owner: str, group_id: str) -> None:
        with self._guard:
            self._indexes.pop((owner, group_id), None)

    def loaded(self) -> dict[tuple[str, str], int]:
        """Bytes of each loaded index, least recently used first."""
        with self._guard:
            return {key: index.nbytes for key, index in self._indexes.items()}

    def _touch(self, key: tuple[str, str]) -> GroupIndex | None:
        with self._guard:
            index = self._indexes.get(key)
            if index is not None:
                self._indexes.move_to_end(key)
            return index

    def _evict(self, keep: tuple[str, str]) -> None:
        """Drop least recently used indexes until the rest fit the budget; ``keep`` (in use) stays."""
        with self._guard:
            total = sum(index.nbytes for index in self._indexes.values())
            for key in list(self._indexes):
                if total <= self.budget_bytes:
                    break
                if key != keep:
                    total -= self._indexes.pop(key).nbytes
