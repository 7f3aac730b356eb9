"""The HTTP server under stress: paging while writing, restarts, kill -9, concurrency, fuzzing.

Every server here is a real `python -m facereco serve` on 127.0.0.1 with a real SQLite file.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facereco import FaceRecoClient
from facereco import errors as E
from facereco.engine.secrets import EngineSecrets, load_or_create_key
from facereco.engine.store import DB_FILE_NAME, Store
from facereco.synthetic import load_synthetic_faces

from .servers import running_server, start_server, stop_server

pytestmark = pytest.mark.slow
APPKEY = "robust-key"


@pytest.fixture(scope="module")
def small_face(astronaut_path) -> bytes:
    """The astronaut at 400 px: a quick register (one face of about 68x88 px, over 60 px on both sides)."""
    buffer = io.BytesIO()
    Image.open(astronaut_path).convert("RGB").resize((400, 400)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def owner_store(data_dir: Path) -> tuple[Store, str]:
    """The server's own store opened from this process (same file, same key file)."""
    secrets = EngineSecrets(load_or_create_key(data_dir))
    return Store(data_dir, secrets), secrets.appkey_digest(APPKEY)


def test_pagination_sees_every_face_once_while_faces_are_added(tmp_path: Path, small_face: bytes):
    data_dir = tmp_path / "data"
    with running_server(data_dir, [APPKEY]) as server:
        client = FaceRecoClient(APPKEY, server.base_url)
        client.create_group("paging")
        store, owner = owner_store(data_dir)
        load_synthetic_faces(store, owner, "paging", np.random.default_rng(1).normal(size=(250, 128)))
        original = {f.face_id for f in client.iter_faces("paging", limit=200)}
        assert len(original) == 250

        seen: list[str] = []
        page = client.list_faces("paging", limit=100)
        pages = 1
        while True:
            seen += [f.face_id for f in page.faces]
            client.register_faces("paging", small_face)  # a new face between pages
            if not page.next_token:
                break
            page = client.list_faces("paging", next_token=page.next_token, limit=7)  # limit is fixed by the token
            pages += 1
            assert len(page.faces) <= 100
        counts = Counter(seen)
        assert pages == 3 and max(counts.values()) == 1
        assert original <= set(seen)
        assert client.get_group("paging").group.face_count == 253


def test_expired_tokens_are_refused(tmp_path: Path):
    client = FaceRecoClient.local(tmp_path, token_ttl_s=0.3)
    client.create_group("expiry")
    store = client.transport.engine.service.store
    owner = client.transport.engine.secrets.appkey_digest("local")
    load_synthetic_faces(store, owner, "expiry", np.ones((3, 128)))
    token = client.list_faces("expiry", limit=1).next_token
    assert len(client.list_faces("expiry", next_token=token).faces) == 1
    time.sleep(0.5)
    with pytest.raises(E.InvalidTokenError, match="expired"):
        client.list_faces("expiry", next_token=token)


def test_restart_keeps_groups_faces_and_search_results(tmp_path: Path, astronaut_path, grace_hopper_path):
    data_dir = tmp_path / "data"
    with running_server(data_dir, [APPKEY]) as server:
        client = FaceRecoClient(APPKEY, server.base_url)
        client.create_group("durable")
        face = client.register_faces("durable", astronaut_path, external_image_id="astro").added_faces[0]
        client.register_faces("durable", grace_hopper_path)
        before_faces = [f.to_wire() for f in client.iter_faces("durable")]
        before_search = client.search_by_face_id("durable", face.face_id, threshold=1).raw["data"]
    with running_server(data_dir, [APPKEY]) as server:
        client = FaceRecoClient(APPKEY, server.base_url)
        assert [g.group_id for g in client.iter_groups()] == ["durable"]
        assert [f.to_wire() for f in client.iter_faces("durable")] == before_faces
        assert client.search_by_face_id("durable", face.face_id, threshold=1).raw["data"] == before_search


def test_kill_9_during_registrations_loses_no_acknowledged_face(tmp_path: Path, small_face: bytes):
    data_dir = tmp_path / "data"
    server = start_server(data_dir, [APPKEY])
    client = FaceRecoClient(APPKEY, server.base_url, read_timeout=10)
    client.create_group("burst")
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def register_until_killed() -> None:
        while not stop.is_set():
            try:
                result = client.register_faces("burst", small_face)
            except E.FaceRecoError:
                return
            with lock:
                acknowledged.extend(f.face_id for f in result.added_faces)

    workers = [threading.Thread(target=register_until_killed) for _ in range(3)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 15 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop_server(server, hard=True)  # SIGKILL mid-burst
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    assert len(acknowledged) >= 15

    with running_server(data_dir, [APPKEY]) as server:
        client = FaceRecoClient(APPKEY, server.base_url)
        listed = [f.face_id for f in client.iter_faces("burst", limit=200)]
        assert set(acknowledged) <= set(listed)
        assert len(listed) == len(set(listed)) == client.get_group("burst").group.face_count
    db = sqlite3.connect(data_dir / DB_FILE_NAME)
    orphans = db.execute(
        "SELECT COUNT(*) FROM faces f LEFT JOIN groups g ON f.owner = g.owner AND f.group_id = g.group_id "
        "WHERE g.group_id IS NULL"
    ).fetchone()[0]
    assert orphans == 0
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_eight_threads_mixing_calls_for_20_seconds(tmp_path: Path, small_face: bytes, grace_hopper_path):
    data_dir = tmp_path / "data"
    grace = grace_hopper_path.read_bytes()
    with running_server(data_dir, [APPKEY], "--log-level", "warning") as server:
        client = FaceRecoClient(APPKEY, server.base_url, read_timeout=60)
        client.create_group("busy")
        seed = client.register_faces("busy", grace).added_faces[0].face_id
        errors: list[str] = []
        added: Counter[str] = Counter()
        deleted: Counter[str] = Counter()
        mine: dict[int, list[str]] = {}
        deadline = time.monotonic() + 20

        def worker(n: int) -> None:
            rng = np.random.default_rng(n)
            mine[n] = []
            while time.monotonic() < deadline:
                action = rng.choice(["register", "search", "list", "delete", "search_image"])
                try:
                    if action == "register":
                        ids = [f.face_id for f in client.register_faces("busy", small_face).added_faces]
                        mine[n] += ids
                        added[n] += len(ids)
                    elif action == "search":
                        client.search_by_face_id("busy", seed, threshold=1, limit=50)
                    elif action == "search_image":
                        client.search_by_image("busy", small_face, threshold=50)
                    elif action == "list":
                        list(client.iter_faces("busy", limit=20))
                    elif mine[n]:
                        client.delete_face("busy", mine[n].pop(0))
                        deleted[n] += 1
                except E.FaceRecoError as error:
                    errors.append(f"{action}: {error}")

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        expected = 1 + sum(added.values()) - sum(deleted.values())
        listed = [f.face_id for f in client.iter_faces("busy", limit=200)]
        assert len(listed) == len(set(listed)) == expected == client.get_group("busy").group.face_count
        assert sum(added.values()) > 0 and sum(deleted.values()) > 0
        hits = client.search_by_face_id("busy", seed, threshold=1, limit=4096)
        assert hits.match_face_count == expected - 1  # the search index agrees with the store


# ---------------------------------------------------------------- fuzzing
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
_image = st.one_of(
    _json,
    st.fixed_dictionaries({"bytes": st.text(max_size=64)}),
    st.fixed_dictionaries({"bytes": st.binary(max_size=256).map(lambda b: __import__("base64").b64encode(b).decode())}),
    st.fixed_dictionaries({"url": st.text(max_size=40)}),
)
_flags = st.one_of(st.booleans(), _json)
_bodies = {
    "detect": st.fixed_dictionaries({"image": _image}, optional={"orientation": _flags, "mask": _flags}),
    "compare": st.fixed_dictionaries({"sourceImage": _image, "targetImage": _image}, optional={"mask": _flags}),
    "register": st.fixed_dictionaries(
        {"image": _image}, optional={"externalImageId": _json, "limit": _json, "orientation": _flags}
    ),
    "groups": st.fixed_dictionaries({}, optional={"groupId": _json}),
}
_segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"), min_size=1, max_size=20
)
_query = st.dictionaries(st.sampled_from(["limit", "threshold", "next-token"]), st.text(max_size=20), max_size=3)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("fuzz") / "data", [APPKEY], "--log-level", "warning") as server:
        requests.post(f"{server.base_url}/nhn-face-reco/v1.0/appkeys/{APPKEY}/groups", json={"groupId": "fuzz"})
        yield server


def _check(response: requests.Response) -> None:
    assert response.status_code in (200, 404, 405), response.text
    if response.status_code == 200:
        header = response.json()["header"]
        assert header["resultCode"] != -50000, header
        assert isinstance(header["isSuccessful"], bool)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    call=st.sampled_from(["detect", "compare", "register", "groups", "search", "verify"]),
    body=st.one_of(_json, *_bodies.values()),
    query=_query,
    segment=_segment,
    raw_body=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_fuzzed_requests_never_break_the_server(fuzz_server, call, body, query, segment, raw_body):
    prefix = f"{fuzz_server.base_url}/nhn-face-reco/v1.0/appkeys/{APPKEY}"
    paths = {
        "detect": "/detect",
        "compare": "/compare",
        "register": "/groups/fuzz",
        "groups": "/groups",
        "search": "/groups/fuzz/search",
        "verify": f"/verify/groups/fuzz/faces/{requests.utils.quote(segment, safe='')}",
    }
    url = prefix + paths[call]
    if call == "groups" and raw_body is None:
        _check(requests.get(url, params=query, timeout=30))
        _check(
            requests.get(f"{prefix}/groups/{requests.utils.quote(segment, safe='')}/faces", params=query, timeout=30)
        )
    data = raw_body if raw_body is not None else json.dumps(body).encode()
    _check(requests.post(url, params=query, data=data, headers={"Content-Type": "application/json"}, timeout=30))
    _check(requests.get(f"{prefix}/groups/fuzz/faces/{uuid.uuid4()}", params=query, timeout=30))


def test_server_still_answers_after_fuzzing(fuzz_server):
    answer = requests.get(f"{fuzz_server.base_url}/nhn-face-reco/v1.0/appkeys/{APPKEY}/groups/fuzz", timeout=10)
    assert answer.json()["header"]["resultCode"] == 0
