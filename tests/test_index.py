"""Search indexes on a real SQLite file: exact results, freshness across engines, memory budget and eviction.

Faces here are vectors written through the store (no images, no models), so every figure
is checked against a plain numpy computation over the same vectors.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import time
import uuid

import numpy as np
import pytest

from facereco import FaceRecoClient
from facereco import errors as E
from facereco.contract.allocation import collector_paused
from facereco.engine.index import GroupIndex, memory_budget_bytes, unit_rows
from facereco.engine.similarity import similarity_from_distance
from facereco.engine.store import DB_FILE_NAME, SCHEMA_VERSION, NewFace, Store
from facereco.transport import LocalTransport

from .servers import running_server

BBOX = {"x0": 0.125, "y0": 0.25, "x1": 0.625, "y1": 0.75}


def clustered(count: int, seed: int, identities: int = 20) -> np.ndarray:
    """Vectors in identity clusters, so searches at low thresholds return many matches."""
    rng = np.random.default_rng(seed)
    centers = unit_rows(rng.normal(size=(identities, 128)))
    noise = unit_rows(rng.normal(size=(count, 128)))
    return (0.9 * np.ones(128) / np.sqrt(128) + 0.33 * centers[np.arange(count) % identities] + 0.23 * noise).astype(
        np.float32
    )


def owner_of(client: FaceRecoClient) -> str:
    return client.transport.engine.secrets.appkey_digest(LocalTransport.LOCAL_APPKEY)


def store_faces(client: FaceRecoClient, group_id: str, vectors: np.ndarray) -> list[str]:
    """Write faces straight into the engine's store, as another process would: the faceIds."""
    faces = [
        NewFace(str(uuid.uuid4()), str(uuid.uuid4()), f"id{i % 7}:f{i}.jpg", BBOX, 99.25, v)
        for i, v in enumerate(vectors)
    ]
    added, _ = client.transport.engine.service.store.add_faces(owner_of(client), group_id, faces, 10**6)
    return [row.face_id for row in added]


def expected_matches(
    vectors: np.ndarray, ids: list[str], query: str, limit: int, threshold: int
) -> list[tuple[str, float]]:
    """The same search by full sort in float64: (faceId, similarity), most similar first."""
    distance, similarity = true_scores(vectors, ids, query)
    order = [i for i in np.argsort(distance, kind="stable") if ids[i] != query][:limit]
    return [(ids[i], float(similarity[i])) for i in order if similarity[i] >= threshold]


def true_scores(vectors: np.ndarray, ids: list[str], query: str) -> tuple[np.ndarray, np.ndarray]:
    unit = unit_rows(vectors).astype(np.float64)
    distance = np.sqrt(np.maximum(2.0 - 2.0 * (unit @ unit[ids.index(query)]), 0.0))
    return distance, np.round(similarity_from_distance(distance), 4)


def assert_matches(got: list[tuple[str, float]], want: list[tuple[str, float]], vectors, ids, query) -> None:
    """Equal to the full sort, except that faces closer than float32 can tell apart may trade places."""
    distance = dict(zip(ids, true_scores(vectors, ids, query)[0], strict=True))
    assert len(got) == len(want)
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=2e-4)
    for (got_id, _), (want_id, _) in zip(got, want, strict=True):
        assert abs(distance[got_id] - distance[want_id]) < 1e-5
    assert len({face_id for face_id, _ in got}) == len(got) and query not in dict(got)


@pytest.fixture
def client(tmp_path) -> FaceRecoClient:
    return FaceRecoClient.local(tmp_path / "data")


@pytest.mark.parametrize("limit,threshold", [(1, 1), (10, 50), (100, 1), (4096, 1), (4096, 90)])
def test_search_equals_a_full_sort(client: FaceRecoClient, limit: int, threshold: int):
    client.create_group("g")
    vectors = clustered(600, seed=1)
    ids = store_faces(client, "g", vectors)
    for query in ids[:5]:
        got = client.search_by_face_id("g", query, limit=limit, threshold=threshold)
        want = expected_matches(vectors, ids, query, limit, threshold)
        assert_matches([(m.face.face_id, m.similarity) for m in got.match_faces], want, vectors, ids, query)
        assert got.match_face_count == len(want) > 0
        if threshold == 1:  # most impostors score above 1: the limit, or nearly the whole group, matches
            assert len(want) >= min(limit, 500)


def test_matches_carry_the_stored_face(client: FaceRecoClient):
    client.create_group("g")
    ids = store_faces(client, "g", clustered(30, seed=2))
    listed = {f.face_id: f.to_wire() for f in client.iter_faces("g")}
    result = client.search_by_face_id("g", ids[0], limit=50, threshold=1)
    assert len(result.match_faces) == 29
    for match in result.raw["data"]["matchFaces"]:
        assert match["face"] == listed[match["face"]["faceId"]]
        assert match["face"]["bbox"] == BBOX and match["face"]["externalImageId"].startswith("id")


def test_index_rows_stay_consistent_through_adds_and_swap_removes():
    rng = np.random.default_rng(3)
    vectors = clustered(40, seed=3)
    ids = [f"f{i}" for i in range(40)]

    def columns(rows: range):
        from facereco.engine.store import FaceColumns, FaceRow

        faces = [FaceRow(ids[i], f"img{i}", None, BBOX, float(i), 0) for i in rows]
        return FaceColumns.of(faces, [vectors[i] for i in rows])

    index = GroupIndex(7, columns(range(5)))
    index.add(columns(range(5, 40)))  # grows past the initial 16 rows
    kept = list(range(40))
    for i in rng.permutation(40)[:15]:
        index.remove(ids[i])
        kept.remove(i)
    index.remove("not-there")
    assert len(index) == 25
    for i in kept[:5]:
        got = index.matches(vectors[i], 100, 1, exclude=ids[i])
        kept_ids = [ids[k] for k in kept]
        want = expected_matches(vectors[kept], kept_ids, ids[i], 100, 1)
        assert_matches([(m["face"]["faceId"], m["similarity"]) for m in got], want, vectors[kept], kept_ids, ids[i])
        assert all(m["face"]["confidence"] == float(ids.index(m["face"]["faceId"])) for m in got)
        vector, face = index.face(ids[i])
        assert np.allclose(vector, unit_rows(vectors[i])[0]) and face["imageId"] == f"img{i}"
    assert index.face(ids[[i for i in range(40) if i not in kept][0]]) is None


def test_two_engines_on_one_folder_agree(tmp_path):
    one = FaceRecoClient.local(tmp_path / "data")
    two = FaceRecoClient.local(tmp_path / "data")
    one.create_group("g")
    first = store_faces(one, "g", clustered(50, seed=4))
    assert len(two.search_by_face_id("g", first[0], limit=100, threshold=1).match_faces) == 49  # two has it loaded

    # A write by one is seen by two's loaded index, and deletes by either are seen by both.
    later = store_faces(one, "g", clustered(10, seed=5))
    assert len(two.search_by_face_id("g", later[0], limit=100, threshold=1).match_faces) == 59
    one.delete_face("g", first[1])
    two.delete_face("g", first[2])
    for client in (one, two):
        found = {m.face.face_id for m in client.search_by_face_id("g", first[0], limit=100, threshold=1).match_faces}
        assert len(found) == 57 and first[1] not in found and first[2] not in found
        with pytest.raises(E.NotFoundFaceIDError):
            client.search_by_face_id("g", first[1])

    # A group deleted and made again is a new group to the other engine too, not its old index.
    one.delete_group("g")
    with pytest.raises(E.NotFoundGroupError):
        two.search_by_face_id("g", first[0])
    assert two.transport.engine.service.indexes.loaded() == {}
    one.create_group("g")
    again = store_faces(one, "g", clustered(3, seed=6))
    result = two.search_by_face_id("g", again[0], limit=100, threshold=1)
    assert {m.face.face_id for m in result.match_faces} == set(again[1:])


def test_equal_similarities_rank_the_same_everywhere(tmp_path):
    """Copies of one face tie: every engine ranks them alike (by faceId), after swaps and reloads, at any limit."""
    one = FaceRecoClient.local(tmp_path / "data")
    two = FaceRecoClient.local(tmp_path / "data")
    one.create_group("g")
    base = clustered(30, seed=8)
    copies = store_faces(one, "g", np.repeat(base[:1], 6, axis=0))
    others = store_faces(one, "g", base[1:])
    probe = others[0]

    def ranking(client: FaceRecoClient, limit: int) -> list[str]:
        return [m.face.face_id for m in client.search_by_face_id("g", probe, limit=limit, threshold=1).match_faces]

    assert ranking(two, 100)  # two loads the group now; one deletes a copy (a swap in its own index)
    one.delete_face("g", copies[0])
    full = ranking(one, 100)
    assert full == ranking(two, 100)
    tied = [face_id for face_id in full if face_id in copies]
    assert tied == sorted(copies[1:]) and full.index(tied[0]) + len(tied) - 1 == full.index(tied[-1])
    for limit in range(1, len(full) + 1):
        assert ranking(one, limit) == full[:limit] == ranking(two, limit)


@pytest.mark.slow
def test_a_server_and_an_in_process_engine_on_one_folder_agree(tmp_path, astronaut_path, grace_hopper_path):
    """`python -m facereco serve` in its own process and an engine in this one, on one data folder."""
    astronaut, grace = astronaut_path.read_bytes(), grace_hopper_path.read_bytes()
    data_dir = tmp_path / "data"
    local = FaceRecoClient.local(data_dir)
    local.create_group("g")
    first = local.register_faces("g", astronaut, limit=1).added_faces[0].face_id
    extra = ("--index-memory-mb", "64", "--log-level", "warning")
    with running_server(data_dir, [LocalTransport.LOCAL_APPKEY], *extra) as server:
        remote = FaceRecoClient(LocalTransport.LOCAL_APPKEY, server.base_url)
        assert remote.search_by_face_id("g", first, threshold=1).match_face_count == 0  # the server's index is loaded

        # Registered in this process, found by the server.
        second = local.register_faces("g", astronaut, limit=1).added_faces[0].face_id
        found = remote.search_by_face_id("g", first, threshold=90).match_faces
        assert [m.face.face_id for m in found] == [second] and found[0].similarity == pytest.approx(100.0, abs=0.01)

        # Deleted by the server, gone here: from search and from verify.
        assert local.search_by_face_id("g", first, threshold=90).match_face_count == 1  # this index is loaded
        remote.delete_face("g", second)
        assert local.search_by_face_id("g", first, threshold=1).match_face_count == 0
        with pytest.raises(E.NotFoundFaceIDError):
            local.verify("g", second, astronaut)

        # Registered by the server, verified here.
        third = remote.register_faces("g", grace, limit=1).added_faces[0].face_id
        assert local.verify("g", third, grace).similarity == pytest.approx(100.0, abs=0.01)
        assert local.search_by_face_id("g", first, threshold=1, limit=10).match_face_count <= 1


def test_an_engine_that_misses_a_write_reloads_rather_than_patches(tmp_path):
    one = FaceRecoClient.local(tmp_path / "data")
    two = FaceRecoClient.local(tmp_path / "data")
    one.create_group("g")
    ids = store_faces(one, "g", clustered(20, seed=7))
    one.search_by_face_id("g", ids[0])  # one's index loaded
    two.delete_face("g", ids[1])  # one did not see this write...
    one.delete_face("g", ids[2])  # ...so its own delete must not be patched onto a stale index
    found = {m.face.face_id for m in one.search_by_face_id("g", ids[0], limit=100, threshold=1).match_faces}
    assert found == set(ids[3:])


def test_least_recently_used_groups_are_evicted_and_reloaded(client: FaceRecoClient):
    indexes = client.transport.engine.service.indexes
    groups = {}
    for seed, group_id in enumerate(("a", "b", "c")):
        client.create_group(group_id)
        vectors = clustered(300, seed=10 + seed)
        groups[group_id] = (vectors, store_faces(client, group_id, vectors))

    def search(group_id: str) -> list[tuple[str, float]]:
        vectors, ids = groups[group_id]
        result = client.search_by_face_id(group_id, ids[0], limit=20, threshold=1)
        got = [(m.face.face_id, m.similarity) for m in result.match_faces]
        assert_matches(got, expected_matches(vectors, ids, ids[0], 20, 1), vectors, ids, ids[0])
        return got

    first_a = search("a")
    one_group = indexes.loaded()[(owner_of(client), "a")]
    assert 300 * 512 < one_group < 300 * 2048  # the matrix and the columns, counted
    indexes.budget_bytes = int(2.5 * one_group)
    search("b")
    search("a")  # a is now more recent than b
    search("c")
    assert [group for _, group in indexes.loaded()] == ["a", "c"]  # b, least recently used, went
    assert sum(indexes.loaded().values()) <= indexes.budget_bytes
    search("b")  # reloaded on demand; a is now the oldest
    assert [group for _, group in indexes.loaded()] == ["c", "b"]
    assert search("a") == first_a

    indexes.budget_bytes = one_group // 2  # smaller than any group: the one in use still stays
    search("c")
    assert [group for _, group in indexes.loaded()] == ["c"]


def test_memory_budget_setting(monkeypatch, tmp_path):
    monkeypatch.delenv("FACERECO_INDEX_MEMORY_MB", raising=False)
    assert memory_budget_bytes() == 1024 * 1024 * 1024
    assert memory_budget_bytes(64) == 64 * 1024 * 1024
    monkeypatch.setenv("FACERECO_INDEX_MEMORY_MB", "256")
    assert memory_budget_bytes() == 256 * 1024 * 1024
    assert FaceRecoClient.local(tmp_path).transport.engine.service.indexes.budget_bytes == 256 * 1024 * 1024
    monkeypatch.setenv("FACERECO_INDEX_MEMORY_MB", "lots")
    with pytest.raises(ValueError, match="FACERECO_INDEX_MEMORY_MB"):
        memory_budget_bytes()
    with pytest.raises(ValueError, match="positive"):
        memory_budget_bytes(0)


def test_a_schema_1_file_is_migrated_in_place(tmp_path, monkeypatch):
    monkeypatch.delenv("FACERECO_SECRET_KEY", raising=False)
    db = sqlite3.connect(tmp_path / DB_FILE_NAME)
    db.executescript(
        """
        CREATE TABLE groups (owner TEXT NOT NULL, group_id TEXT NOT NULL, model_version TEXT NOT NULL,
                             created_ns INTEGER NOT NULL, PRIMARY KEY (owner, group_id));
        INSERT INTO groups VALUES ('o', 'old', 'v1.0', 1);
        PRAGMA user_version = 1;
        """
    )
    db.close()
    client = FaceRecoClient.local(tmp_path)
    store: Store = client.transport.engine.service.store
    assert store.group_generation("o", "old") == 0
    store.add_faces("o", "old", [NewFace("f1", "i1", None, BBOX, 99.0, np.ones(128))], 10)
    assert store.group_generation("o", "old") > 0
    assert store.load_group("o", "old")[1].face_ids == ["f1"]
    raw = sqlite3.connect(tmp_path / DB_FILE_NAME)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    stamped = store.group_generation("o", "old")
    with raw:  # the migrated file stamps a plain SQL delete too (its triggers)
        raw.execute("DELETE FROM faces WHERE face_id = 'f1'")
    assert store.group_generation("o", "old") > stamped


def test_a_writer_running_older_code_is_seen_by_every_engine(client: FaceRecoClient, tmp_path):
    """A process still on an older facereco inserts and deletes faces with plain SQL, stamping
    nothing itself: the file's triggers stamp the group, so a loaded index notices and reloads."""
    vectors = clustered(40, seed=5)
    client.create_group("g")
    ids = store_faces(client, "g", vectors[:20])
    client.search_by_face_id("g", ids[0], limit=4096, threshold=1)  # the index is loaded now
    store: Store = client.transport.engine.service.store
    old_writer = sqlite3.connect(tmp_path / "data" / DB_FILE_NAME)
    with old_writer:
        for i, vector in enumerate(vectors[20:]):
            face_id = f"old-{i}"
            old_writer.execute(
                "INSERT INTO faces (face_id, owner, group_id, image_id, external_image_id, bbox, confidence, "
                "created_ns, vector) VALUES (?, ?, 'g', ?, NULL, ?, 99.0, ?, ?)",
                (
                    face_id, owner_of(client), f"image-{i}", json.dumps(BBOX), time.time_ns() + i,
                    store._secrets.encrypt_vector(np.asarray(vector, np.float32).tobytes(), face_id),
                ),
            )  # fmt: skip

    def matches(engine: FaceRecoClient) -> list[tuple[str, float]]:
        found = engine.search_by_face_id("g", ids[0], limit=4096, threshold=1).match_faces
        return [(m.face.face_id, m.similarity) for m in found]

    fresh = matches(FaceRecoClient.local(tmp_path / "data"))  # a new engine reads the file as it is
    assert any(face_id.startswith("old-") for face_id, _ in fresh)
    assert matches(client) == fresh
    with old_writer:
        old_writer.execute("DELETE FROM faces WHERE face_id LIKE 'old-%'")
    assert matches(client) == matches(FaceRecoClient.local(tmp_path / "data")) != fresh
    old_writer.close()


def test_collector_pause_is_reentrant_and_restores_the_collector():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block found it paused: it leaves it paused
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()
