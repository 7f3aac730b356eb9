"""The store on a real SQLite file: encryption at rest, key handling, transactions, tokens, error boundary."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
import uuid

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag

from facereco import errors as E
from facereco.engine.api import LocalEngine
from facereco.engine.secrets import KEY_FILE_NAME, EngineSecrets, load_or_create_key
from facereco.engine.store import DB_FILE_NAME, SCHEMA_VERSION, NewFace, Store
from facereco.engine.tokens import PageTokens

OWNER = "owner-digest"


def new_face(vector: np.ndarray, external: str | None = None) -> NewFace:
    bbox = {"x0": 0.1, "y0": 0.1, "x1": 0.5, "y1": 0.6}
    return NewFace(str(uuid.uuid4()), str(uuid.uuid4()), external, bbox, 99.5, vector)


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    monkeypatch.delenv("FACERECO_SECRET_KEY", raising=False)
    return Store(tmp_path, EngineSecrets(load_or_create_key(tmp_path)))


def test_key_file_is_created_once_with_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("FACERECO_SECRET_KEY", raising=False)
    key = load_or_create_key(tmp_path)
    path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(tmp_path) == key and len(key) == 32
    monkeypatch.setenv("FACERECO_SECRET_KEY", "11" * 32)
    assert load_or_create_key(tmp_path) == bytes.fromhex("11" * 32)
    monkeypatch.setenv("FACERECO_SECRET_KEY", "too-short")
    with pytest.raises(ValueError):
        load_or_create_key(tmp_path)


def test_vectors_are_encrypted_at_rest(store: Store, tmp_path):
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(5, 128)).astype(np.float32)
    store.create_group(OWNER, "g")
    added, _ = store.add_faces(OWNER, "g", [new_face(v) for v in vectors], quota=100)
    database = (tmp_path / DB_FILE_NAME).read_bytes() + (tmp_path / f"{DB_FILE_NAME}-wal").read_bytes()
    for vector in vectors:
        assert vector.tobytes() not in database
        assert vector.tobytes()[:16] not in database
    # A copy of the database with another key reveals nothing: decryption fails authentication.
    stranger = Store(tmp_path, EngineSecrets(os.urandom(32)))
    with pytest.raises(InvalidTag):
        stranger.load_group(OWNER, "g")
    _, faces = store.load_group(OWNER, "g")
    assert faces.face_ids == [row.face_id for row in added] and np.array_equal(faces.vectors, vectors)


def test_ciphertexts_are_bound_to_their_face(store: Store, tmp_path):
    store.create_group(OWNER, "g")
    (a, b), _ = store.add_faces(OWNER, "g", [new_face(np.ones(128)), new_face(np.zeros(128))], quota=10)
    db = sqlite3.connect(tmp_path / DB_FILE_NAME)
    blob = db.execute("SELECT vector FROM faces WHERE face_id = ?", (a.face_id,)).fetchone()[0]
    db.execute("UPDATE faces SET vector = ? WHERE face_id = ?", (blob, b.face_id))
    db.commit()
    with pytest.raises(InvalidTag):
        store.load_group(OWNER, "g")


def test_group_delete_takes_faces_in_one_transaction(store: Store, tmp_path):
    store.create_group(OWNER, "g")
    store.add_faces(OWNER, "g", [new_face(np.ones(128)) for _ in range(4)], quota=10)
    store.delete_group(OWNER, "g")
    db = sqlite3.connect(tmp_path / DB_FILE_NAME)
    assert db.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == 0
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_register_writes_nothing(store: Store):
    store.create_group(OWNER, "g")
    duplicate = new_face(np.ones(128))
    with pytest.raises(sqlite3.IntegrityError):
        store.add_faces(OWNER, "g", [new_face(np.ones(128)), duplicate, duplicate], quota=10)
    assert store.get_group(OWNER, "g").face_count == 0


def test_quota_in_the_store(store: Store):
    store.create_group(OWNER, "g")
    added, _ = store.add_faces(OWNER, "g", [new_face(np.ones(128)) for _ in range(3)], quota=2)
    assert len(added) == 2
    with pytest.raises(E.ServiceQuotaExceeded):
        store.add_faces(OWNER, "g", [new_face(np.ones(128))], quota=2)


def test_tokens_reject_forgery_tampering_scope_and_expiry():
    secrets = EngineSecrets(os.urandom(32))
    tokens = PageTokens(secrets, ttl_s=0.2)
    token = tokens.issue("scope-a", 10, [1, "x"])
    assert tokens.open(token, "scope-a") == (10, [1, "x"])
    payload, signature = token.split(".")
    tampered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    for bad in (tampered, "abc", "", token + "x", PageTokens(EngineSecrets(os.urandom(32))).issue("scope-a", 10, [])):
        with pytest.raises(E.InvalidTokenError):
            tokens.open(bad, "scope-a")
    with pytest.raises(E.InvalidTokenError, match="another listing"):
        tokens.open(token, "scope-b")
    time.sleep(0.3)
    with pytest.raises(E.InvalidTokenError, match="expired"):
        tokens.open(token, "scope-a")


class _BrokenAnalyzer:
    model_name = "broken"

    def detect(self, *args, **kwargs):
        raise RuntimeError("model exploded with /secret/path in the message")


def test_unexpected_failures_answer_50000_without_details(tmp_path, tiny_png, caplog):
    import base64

    engine = LocalEngine(tmp_path, analyzer=_BrokenAnalyzer(), appkeys=["k"])
    body = {"image": {"bytes": base64.b64encode(tiny_png).decode()}}
    answer = engine.handle("k", "detect", {}, {}, body)
    assert answer == {"header": {"isSuccessful": False, "resultCode": -50000, "resultMessage": "InternalServerError"}}
    assert "model exploded" in caplog.text  # the log keeps what the answer hides
    assert engine.handle("other", "detect", {}, {}, body)["header"]["resultCode"] == -41000
