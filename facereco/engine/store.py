"""Groups and faces in one SQLite file (WAL), feature vectors encrypted with AES-GCM.

What is stored: per appkey (as a keyed digest, never the key itself) its groups,
and per face its ids, box, confidence, creation time and the encrypted vector.
Images and face crops are never stored. Every write is one transaction, so a
crash leaves either the whole register or none of it; deleting a group deletes
its faces in the same transaction (foreign key ON DELETE CASCADE).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from facereco.contract import MODEL_VERSION
from facereco.engine.secrets import EngineSecrets
from facereco.errors import DuplicatedGroupID, NotFoundFaceIDError, NotFoundGroupError, ServiceQuotaExceeded

SCHEMA_VERSION = 1
DB_FILE_NAME = "facereco.sqlite3"
VECTOR_DTYPE = np.float32

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    owner        TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    model_version TEXT NOT NULL,
    created_ns   INTEGER NOT NULL,
    PRIMARY KEY (owner, group_id)
);
CREATE TABLE IF NOT EXISTS faces (
    face_id      TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    image_id     TEXT NOT NULL,
    external_image_id TEXT,
    bbox         TEXT NOT NULL,
    confidence   REAL NOT NULL,
    created_ns   INTEGER NOT NULL,
    vector       BLOB NOT NULL,
    FOREIGN KEY (owner, group_id) REFERENCES groups (owner, group_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS faces_newest ON faces (owner, group_id, created_ns DESC, face_id DESC);
"""


@dataclass(frozen=True)
class GroupRow:
    group_id: str
    model_version: str
    created_ns: int
    face_count: int = 0

    @property
    def create_time(self) -> str:
        """ISO seconds in UTC, as the guide's example shows ("2020-09-29T14:34:12")."""
        return datetime.fromtimestamp(self.created_ns / 1e9, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class FaceRow:
    face_id: str
    image_id: str
    external_image_id: str | None
    bbox: dict[str, float]
    confidence: float
    created_ns: int

    def to_wire(self) -> dict[str, object]:
        face: dict[str, object] = {"faceId": self.face_id, "imageId": self.image_id}
        if self.external_image_id is not None:
            face["externalImageId"] = self.external_image_id
        face.update(bbox=self.bbox, confidence=self.confidence)
        return face


@dataclass(frozen=True)
class NewFace:
    face_id: str
    image_id: str
    external_image_id: str | None
    bbox: dict[str, float]
    confidence: float
    vector: np.ndarray


class _Clock:
    """Strictly increasing nanosecond timestamps within a process (keyset pages need no ties)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return self._last


class Store:
    """Thread-safe: one SQLite connection per thread, WAL so readers never block the writer."""

    def __init__(self, data_dir: Path, secrets: EngineSecrets) -> None:
        self.path = data_dir / DB_FILE_NAME
        self._secrets = secrets
        self._local = threading.local()
        self._clock = _Clock()
        db = self._connection()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} has schema {version}; this facereco knows up to {SCHEMA_VERSION}")
        # One script, one transaction: the tables and the version number appear together.
        db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    # ------------------------------------------------------------ plumbing
    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: no half-written record."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def require_group(self, owner: str, group_id: str) -> None:
        """-40030 unless the group exists (a primary-key lookup: cheap enough for every search)."""
        self._require_group(self._connection(), owner, group_id)

    def _require_group(self, db: sqlite3.Connection, owner: str, group_id: str) -> None:
        if db.execute("SELECT 1 FROM groups WHERE owner = ? AND group_id = ?", (owner, group_id)).fetchone() is None:
            raise NotFoundGroupError(f"group {group_id!r} does not exist")

    # ------------------------------------------------------------ groups
    def create_group(self, owner: str, group_id: str) -> GroupRow:
        row = GroupRow(group_id, MODEL_VERSION, self._clock.now())
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO groups (owner, group_id, model_version, created_ns) VALUES (?, ?, ?, ?)",
                    (owner, group_id, row.model_version, row.created_ns),
                )
        except sqlite3.IntegrityError:
            raise DuplicatedGroupID(f"group {group_id!r} exists already") from None
        return row

    def list_groups(self, owner: str, limit: int, after: str | None) -> list[GroupRow]:
        """Groups by groupId, those after ``after``; up to ``limit`` + 1 rows (the extra says 'more')."""
        rows = self._connection().execute(
            "SELECT group_id, model_version, created_ns FROM groups WHERE owner = ? AND group_id > ? "
            "ORDER BY group_id LIMIT ?",
            (owner, after or "", limit + 1),
        )
        return [GroupRow(*r) for r in rows]

    def get_group(self, owner: str, group_id: str) -> GroupRow:
        db = self._connection()
        row = db.execute(
            "SELECT group_id, model_version, created_ns FROM groups WHERE owner = ? AND group_id = ?", (owner, group_id)
        ).fetchone()
        if row is None:
            raise NotFoundGroupError(f"group {group_id!r} does not exist")
        count = db.execute("SELECT COUNT(*) FROM faces WHERE owner = ? AND group_id = ?", (owner, group_id)).fetchone()
        return GroupRow(*row, face_count=count[0])

    def delete_group(self, owner: str, group_id: str) -> None:
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM groups WHERE owner = ? AND group_id = ?", (owner, group_id))
            if cursor.rowcount == 0:
                raise NotFoundGroupError(f"group {group_id!r} does not exist")

    # ------------------------------------------------------------ faces
    def add_faces(self, owner: str, group_id: str, faces: list[NewFace], quota: int) -> list[FaceRow]:
        """Insert as many faces as fit under the quota, atomically; returns the rows added.

        Raises ServiceQuotaExceeded when none fit; the caller reports a partial success.
        """
        with self._transaction() as db:
            self._require_group(db, owner, group_id)
            count = db.execute("SELECT COUNT(*) FROM faces WHERE owner = ? AND group_id = ?", (owner, group_id))
            room = quota - count.fetchone()[0]
            if faces and room <= 0:
                raise ServiceQuotaExceeded(f"group {group_id!r} holds its maximum of {quota:,} faces")
            added = []
            for face in faces[: max(room, 0)]:
                created_ns = self._clock.now()
                row = FaceRow(
                    face.face_id, face.image_id, face.external_image_id, face.bbox, face.confidence, created_ns
                )
                vector = np.asarray(face.vector, dtype=VECTOR_DTYPE).tobytes()
                db.execute(
                    "INSERT INTO faces (face_id, owner, group_id, image_id, external_image_id, bbox, confidence, "
                    "created_ns, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row.face_id,
                        owner,
                        group_id,
                        row.image_id,
                        row.external_image_id,
                        json.dumps(row.bbox),
                        row.confidence,
                        row.created_ns,
                        self._secrets.encrypt_vector(vector, row.face_id),
                    ),
                )
                added.append(row)
            return added

    def delete_face(self, owner: str, group_id: str, face_id: str) -> None:
        with self._transaction() as db:
            self._require_group(db, owner, group_id)
            cursor = db.execute(
                "DELETE FROM faces WHERE owner = ? AND group_id = ? AND face_id = ?", (owner, group_id, face_id)
            )
            if cursor.rowcount == 0:
                raise NotFoundFaceIDError(f"face {face_id!r} is not in group {group_id!r}")

    _FACE_COLUMNS = "face_id, image_id, external_image_id, bbox, confidence, created_ns"

    @staticmethod
    def _face_row(r: tuple) -> FaceRow:
        return FaceRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5])

    def list_faces(self, owner: str, group_id: str, limit: int, after: tuple[int, str] | None) -> list[FaceRow]:
        """Newest first, keyset after (created_ns, face_id); up to ``limit`` + 1 rows."""
        db = self._connection()
        self._require_group(db, owner, group_id)
        cursor_ns, cursor_id = after if after else (2**63 - 1, "\uffff")  # no cursor: before everything
        rows = db.execute(
            f"SELECT {self._FACE_COLUMNS} FROM faces WHERE owner = ? AND group_id = ? "
            "AND (created_ns, face_id) < (?, ?) ORDER BY created_ns DESC, face_id DESC LIMIT ?",
            (owner, group_id, cursor_ns, cursor_id, limit + 1),
        )
        return [self._face_row(r) for r in rows]

    def get_faces(self, owner: str, group_id: str, face_ids: list[str]) -> dict[str, FaceRow]:
        """Rows for the given faceIds (those that exist)."""
        db = self._connection()
        found: dict[str, FaceRow] = {}
        for start in range(0, len(face_ids), 500):
            chunk = face_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT {self._FACE_COLUMNS} FROM faces WHERE owner = ? AND group_id = ? AND face_id IN ({marks})",
                (owner, group_id, *chunk),
            )
            found.update((r[0], self._face_row(r)) for r in rows)
        return found

    def load_vectors(self, owner: str, group_id: str) -> tuple[list[str], np.ndarray]:
        """Every faceId of a group with its decrypted vector (rows of a float32 matrix)."""
        db = self._connection()
        self._require_group(db, owner, group_id)
        rows = db.execute(
            "SELECT face_id, vector FROM faces WHERE owner = ? AND group_id = ? ORDER BY created_ns", (owner, group_id)
        )
        ids, vectors = [], []
        for face_id, blob in rows:
            ids.append(face_id)
            vectors.append(np.frombuffer(self._secrets.decrypt_vector(blob, face_id), dtype=VECTOR_DTYPE))
        matrix = np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=VECTOR_DTYPE)
        return ids, matrix


def load_synthetic_faces(
    store: Store, owner: str, group_id: str, vectors: np.ndarray, external_image_ids: list[str] | None = None
) -> list[FaceRow]:
    """Benchmarks and tests only: faces with no photo behind them, straight into a group (no quota).

    The one documented way to build a 100,000-face group in seconds; the API path
    (register) runs the models on a photo per face. Not part of ``Store``'s own surface.
    """
    bbox = {"x0": 0.25, "y0": 0.25, "x1": 0.75, "y1": 0.75}
    labels = external_image_ids or [None] * len(vectors)
    faces = [
        NewFace(str(uuid.uuid4()), str(uuid.uuid4()), label, bbox, 99.9, v)
        for v, label in zip(vectors, labels, strict=True)
    ]
    return store.add_faces(owner, group_id, faces, quota=len(faces) + 10**9)
