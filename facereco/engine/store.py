"""Groups and faces in one SQLite file (WAL), feature vectors encrypted with AES-GCM.

What is stored: per appkey (as a keyed digest, never the key itself) its groups,
and per face its ids, box, confidence, creation time and the encrypted vector.
Images and face crops are never stored. Every write is one transaction, so a
crash leaves either the whole register or none of it; deleting a group deletes
its faces in the same transaction (foreign key ON DELETE CASCADE).

Every write that changes a group's faces stamps the group with a new **generation**,
taken from one counter for the whole file in the same transaction. A process keeps a
group's search index only while the group's generation equals the index's, so every
process on the same data folder answers from every committed write (``index.py``).
The stamp is made by SQLite triggers on the faces table, not by this module's code, so
every writer stamps: a process still running an older facereco during an upgrade too.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np

from facereco.contract.allocation import collector_paused
from facereco.engine.descriptors import NEWEST, require_version
from facereco.engine.secrets import EngineSecrets
from facereco.errors import DuplicatedGroupID, NotFoundFaceID, NotFoundGroup, ServiceQuotaExceeded

SCHEMA_VERSION = 4
DB_FILE_NAME = "facereco.sqlite3"
VECTOR_DTYPE = np.float32

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    owner        TEXT NOT NULL,
    group_id     TEXT NOT NULL,
    model_version TEXT NOT NULL,
    created_ns   INTEGER NOT NULL,
    generation   INTEGER NOT NULL DEFAULT 0,
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
GENERATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS generation (
    single       INTEGER PRIMARY KEY CHECK (single = 0),
    value        INTEGER NOT NULL
);
INSERT OR IGNORE INTO generation (single, value) VALUES (0, 0);
"""
# Schema 1 -> 2: groups gain their generation (0: any loaded index is refreshed on first use).
MIGRATE_1_TO_2 = "ALTER TABLE groups ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;"
# Schema 4: a group's model_version may name the v1.1 descriptor (descriptors.py). Nothing is rewritten:
# every group written before says v1.0, which is how its vectors were made, and keeps them. The number
# stops an older facereco from opening the file: it would embed queries into a v1.1 group the v1.0 way.
# Schema 3: the stamp moves into the file. A face inserted or deleted by any connection, whatever
# code it runs, takes the next generation for its group (a trigger body holds ';', so each is one statement).
GENERATION_TRIGGERS = tuple(
    f"""CREATE TRIGGER IF NOT EXISTS faces_{event.lower()}_stamps_group AFTER {event} ON faces BEGIN
    UPDATE generation SET value = value + 1;
    UPDATE groups SET generation = (SELECT value FROM generation)
        WHERE owner = {row}.owner AND group_id = {row}.group_id;
END"""
    for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"))
)


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


BBOX_KEYS = ("x0", "y0", "x1", "y1")


class GenerationStep(NamedTuple):
    """A group's generation before and after one write."""

    before: int
    after: int


@dataclass(frozen=True)
class FaceColumns:
    """Faces as columns (row i of each is one face): what a search index keeps beside its matrix."""

    face_ids: list[str]
    image_ids: list[str]
    external_image_ids: list[str | None]
    bboxes: np.ndarray  # (n, 4) float64: x0, y0, x1, y1
    confidences: np.ndarray  # (n,) float64
    vectors: np.ndarray  # (n, 128) float32, as stored

    @classmethod
    def of(cls, rows: list[FaceRow], vectors: list[np.ndarray]) -> FaceColumns:
        return cls(
            [r.face_id for r in rows],
            [r.image_id for r in rows],
            [r.external_image_id for r in rows],
            np.array([[r.bbox[k] for k in BBOX_KEYS] for r in rows], dtype=np.float64).reshape(-1, 4),
            np.array([r.confidence for r in rows], dtype=np.float64),
            np.vstack(vectors).astype(VECTOR_DTYPE, copy=False) if vectors else np.zeros((0, 0), VECTOR_DTYPE),
        )


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


DATA_DIR_MODE = 0o700
DATA_FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def owner_only(data_dir: Path, db_path: Path) -> None:
    """The folder 0700 and the database with its side files 0600, whoever made them and with what umask:
    group ids and externalImageIds (people's names) are in clear in them. SQLite creates -wal and -shm
    with the database file's own mode, so a 0600 database keeps later side files owner-only too."""
    data_dir.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(data_dir, DATA_DIR_MODE)
    os.close(os.open(db_path, os.O_CREAT | os.O_RDWR, DATA_FILE_MODE))  # created 0600 before SQLite opens it
    for path in (db_path, *(db_path.with_name(db_path.name + side) for side in SQLITE_SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, DATA_FILE_MODE)


class Store:
    """Thread-safe: one SQLite connection per thread, WAL so readers never block the writer."""

    def __init__(self, data_dir: Path, secrets: EngineSecrets) -> None:
        self.path = data_dir / DB_FILE_NAME
        self._secrets = secrets
        owner_only(data_dir, self.path)
        self._local = threading.local()
        self._clock = _Clock()
        # One transaction: the tables, any migration and the version number appear together,
        # and two processes opening one folder at once cannot both migrate it.
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema {version}; this facereco knows up to {SCHEMA_VERSION}")
            script = SCHEMA + (MIGRATE_1_TO_2 if version == 1 else "") + GENERATION_SCHEMA
            for statement in [*filter(str.strip, script.split(";")), *GENERATION_TRIGGERS]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
        """-40030 unless the group exists."""
        self._require_group(self._connection(), owner, group_id)

    def group_generation(self, owner: str, group_id: str) -> int:
        """The group's generation, or -40030: one primary-key lookup, cheap enough for every search."""
        return self._require_group(self._connection(), owner, group_id)

    def group_version(self, owner: str, group_id: str) -> str:
        """How the group's stored vectors were made, so queries into it are embedded alike (-40030 if none)."""
        row = (
            self._connection()
            .execute("SELECT model_version FROM groups WHERE owner = ? AND group_id = ?", (owner, group_id))
            .fetchone()
        )
        if row is None:
            raise NotFoundGroup(f"group {group_id!r} does not exist")
        return require_version(row[0])

    def _require_group(self, db: sqlite3.Connection, owner: str, group_id: str) -> int:
        """-40030 unless the group exists; else its generation."""
        row = db.execute("SELECT generation FROM groups WHERE owner = ? AND group_id = ?", (owner, group_id)).fetchone()
        if row is None:
            raise NotFoundGroup(f"group {group_id!r} does not exist")
        return row[0]

    @staticmethod
    def _version_in(db: sqlite3.Connection, owner: str, group_id: str) -> str:
        row = db.execute("SELECT model_version FROM groups WHERE owner = ? AND group_id = ?", (owner, group_id))
        return str(row.fetchone()[0])

    def _next_generation(self, db: sqlite3.Connection) -> int:
        """One counter for the file, so a group deleted and created again never reuses a generation."""
        db.execute("UPDATE generation SET value = value + 1")
        return db.execute("SELECT value FROM generation").fetchone()[0]

    def _step(self, db: sqlite3.Connection, owner: str, group_id: str, before: int) -> GenerationStep:
        """Inside a write transaction, after its writes: the generation they moved the group from and to."""
        return GenerationStep(before, self._require_group(db, owner, group_id))

    # ------------------------------------------------------------ groups
    def create_group(self, owner: str, group_id: str, model_version: str = NEWEST) -> GroupRow:
        """A new group; its faces will hold ``model_version``'s descriptors for as long as it exists."""
        row = GroupRow(group_id, require_version(model_version), self._clock.now())
        try:
            with self._transaction() as db:
                db.execute(
                    "INSERT INTO groups (owner, group_id, model_version, created_ns, generation) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (owner, group_id, row.model_version, row.created_ns, self._next_generation(db)),
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
            raise NotFoundGroup(f"group {group_id!r} does not exist")
        count = db.execute("SELECT COUNT(*) FROM faces WHERE owner = ? AND group_id = ?", (owner, group_id)).fetchone()
        group_id, model_version, created_ns = row
        return GroupRow(group_id, model_version, created_ns, face_count=count[0])

    def delete_group(self, owner: str, group_id: str) -> None:
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM groups WHERE owner = ? AND group_id = ?", (owner, group_id))
            if cursor.rowcount == 0:
                raise NotFoundGroup(f"group {group_id!r} does not exist")

    # ------------------------------------------------------------ faces
    def add_faces(
        self, owner: str, group_id: str, faces: list[NewFace], quota: int, model_version: str | None = None
    ) -> tuple[list[FaceRow], GenerationStep]:
        """Insert as many faces as fit under the quota, atomically; returns the rows added and the group's step.

        Raises ServiceQuotaExceeded when none fit; the caller reports a partial success. ``model_version``:
        the descriptor version the vectors were made for; a group that holds another one (deleted and
        created again while they were computed) gets none of them (-40030), never a vector of the wrong kind.
        """
        with self._transaction() as db:
            before = self._require_group(db, owner, group_id)
            if model_version is not None and self._version_in(db, owner, group_id) != model_version:
                raise NotFoundGroup(f"group {group_id!r} was deleted and created again during this request")
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
            return added, self._step(db, owner, group_id, before)

    def delete_face(self, owner: str, group_id: str, face_id: str) -> GenerationStep:
        with self._transaction() as db:
            before = self._require_group(db, owner, group_id)
            cursor = db.execute(
                "DELETE FROM faces WHERE owner = ? AND group_id = ? AND face_id = ?", (owner, group_id, face_id)
            )
            if cursor.rowcount == 0:
                raise NotFoundFaceID(f"face {face_id!r} is not in group {group_id!r}")
            return self._step(db, owner, group_id, before)

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

    def load_group(self, owner: str, group_id: str) -> tuple[int, FaceColumns]:
        """The group's generation and every face of it with its decrypted vector, oldest first.

        Read in one transaction, so the faces are exactly those of that generation.
        """
        db = self._connection()
        db.execute("BEGIN")
        try:
            generation = self._require_group(db, owner, group_id)
            rows = db.execute(
                f"SELECT {self._FACE_COLUMNS}, vector FROM faces WHERE owner = ? AND group_id = ? ORDER BY created_ns",
                (owner, group_id),
            ).fetchall()
        finally:
            db.execute("COMMIT")
        with collector_paused():  # a 100,000-face group is some 400,000 small objects
            boxes = json.loads(f"[{','.join(r[3] for r in rows)}]")  # one parse, not one per face
            faces = [FaceRow(r[0], r[1], r[2], box, r[4], r[5]) for r, box in zip(rows, boxes, strict=True)]
            vectors = [np.frombuffer(self._secrets.decrypt_vector(r[6], r[0]), dtype=VECTOR_DTYPE) for r in rows]
            return generation, FaceColumns.of(faces, vectors)
