"""Per-group in-memory matrices of unit-length vectors for exact (brute-force) search.

A group's vectors are decrypted from the store once, on first use, and then kept
in step with every register and delete. Search is one matrix-vector product:
100,000 x 128 float32 is 51 MB and a few milliseconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

DIMENSIONS = 128


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, DIMENSIONS)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class GroupIndex:
    """The unit vectors of one group; rows grow by doubling so appends are amortised O(1)."""

    def __init__(self, face_ids: list[str], vectors: np.ndarray) -> None:
        self._lock = threading.RLock()
        count = len(face_ids)
        self._matrix = np.zeros((max(count, 16), DIMENSIONS), dtype=np.float32)
        if count:
            self._matrix[:count] = unit_rows(vectors)
        self._ids = list(face_ids)
        self._row = {face_id: i for i, face_id in enumerate(self._ids)}

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, face_ids: list[str], vectors: np.ndarray) -> None:
        with self._lock:
            new = unit_rows(vectors)
            start, end = len(self._ids), len(self._ids) + len(face_ids)
            if end > self._matrix.shape[0]:
                grown = np.zeros((max(end, 2 * self._matrix.shape[0]), DIMENSIONS), dtype=np.float32)
                grown[:start] = self._matrix[:start]
                self._matrix = grown
            self._matrix[start:end] = new
            for offset, face_id in enumerate(face_ids):
                self._row[face_id] = start + offset
            self._ids.extend(face_ids)

    def remove(self, face_id: str) -> None:
        """Swap the last row into the removed one's place."""
        with self._lock:
            row = self._row.pop(face_id, None)
            if row is None:
                return
            last = len(self._ids) - 1
            if row != last:
                moved = self._ids[last]
                self._matrix[row] = self._matrix[last]
                self._ids[row] = moved
                self._row[moved] = row
            self._ids.pop()

    def vector(self, face_id: str) -> np.ndarray | None:
        with self._lock:
            row = self._row.get(face_id)
            return None if row is None else self._matrix[row].copy()

    def nearest(self, query: np.ndarray, limit: int, exclude: str | None = None) -> list[tuple[str, float]]:
        """(faceId, distance between unit vectors) of the ``limit`` closest faces, closest first."""
        with self._lock:
            count = len(self._ids)
            if count == 0:
                return []
            unit = unit_rows(query)[0]
            cosine = self._matrix[:count] @ unit
            if exclude is not None and exclude in self._row:
                cosine[self._row[exclude]] = -np.inf
            take = min(limit, count)
            top = np.argpartition(-cosine, take - 1)[:take] if take < count else np.arange(count)
            top = top[np.argsort(-cosine[top], kind="stable")]
            ids = [self._ids[i] for i in top]
            scores = cosine[top]
        keep = np.isfinite(scores)
        distances = np.sqrt(np.maximum(2.0 - 2.0 * scores[keep], 0.0))
        return [(face_id, float(d)) for face_id, d in zip(np.array(ids)[keep], distances, strict=True)]


class IndexCache:
    """One GroupIndex per (owner, group), loaded on first use through ``load``.

    ``lock(owner, group)`` serialises a group's writes with its index load, so a
    face committed to the store is added to a loaded index exactly once.
    """

    def __init__(self, load: Callable[[str, str], tuple[list[str], np.ndarray]]) -> None:
        self._load = load
        self._indexes: dict[tuple[str, str], GroupIndex] = {}
        self._locks: dict[tuple[str, str], threading.RLock] = {}
        self._guard = threading.Lock()

    def lock(self, owner: str, group_id: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault((owner, group_id), threading.RLock())

    def get(self, owner: str, group_id: str) -> GroupIndex:
        key = (owner, group_id)
        with self.lock(owner, group_id):
            index = self._indexes.get(key)
            if index is None:
                index = GroupIndex(*self._load(owner, group_id))
                with self._guard:
                    self._indexes[key] = index
            return index

    def peek(self, owner: str, group_id: str) -> GroupIndex | None:
        """The index only if it is loaded already (writes need not load one)."""
        with self._guard:
            return self._indexes.get((owner, group_id))

    def drop(self, owner: str, group_id: str) -> None:
        with self._guard:
            self._indexes.pop((owner, group_id), None)
