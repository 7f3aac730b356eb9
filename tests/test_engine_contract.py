"""The whole contract through the client, against the real engine: in-process and over HTTP on loopback.

Both backends run the same suite on a real SQLite file. Requests the client would
refuse before sending are sent raw (``raw``), so the server's own answer is tested too.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from facereco import FaceRecoClient
from facereco import errors as E
from facereco.contract import ENDPOINTS, MAX_REQUEST_BODY_BYTES
from facereco.transport import PreparedCall

from .servers import running_server

pytestmark = pytest.mark.slow

APPKEY, OTHER_APPKEY = "contract-key-1", "contract-key-2"
QUOTA = 3


@pytest.fixture(scope="module", params=["in-process", "http"])
def backend(request, tmp_path_factory) -> Iterator[tuple[str, FaceRecoClient, Any]]:
    data_dir = tmp_path_factory.mktemp(f"engine-{request.param}") / "data"
    if request.param == "in-process":
        yield (
            request.param,
            FaceRecoClient.local(data_dir, group_quota=QUOTA, url_timeout_s=1.0, allow_private_urls=True),
            None,
        )
        return
    extra = ["--group-quota", str(QUOTA), "--url-timeout", "1", "--allow-private-urls", "--log-level", "warning"]
    with running_server(data_dir, [APPKEY, OTHER_APPKEY], *extra) as server:
        yield request.param, FaceRecoClient(APPKEY, server.base_url), server


@pytest.fixture
def client(backend) -> FaceRecoClient:
    return backend[1]


@pytest.fixture
def group(client: FaceRecoClient) -> Iterator[str]:
    group_id = f"g-{uuid.uuid4().hex[:12]}"
    client.create_group(group_id)
    yield group_id
    with contextlib.suppress(E.NotFoundGroupError):
        client.delete_group(group_id)


def raw(
    client: FaceRecoClient, name: str, path: dict | None = None, query: dict | None = None, body: Any = None
) -> dict:
    """Send a call without the client's own checks; the whole response body."""
    return client.transport.send(PreparedCall(ENDPOINTS[name], path or {}, query or {}, body))


def code_of(answer: dict) -> int:
    return answer["header"]["resultCode"]


def b64(data: bytes) -> dict[str, str]:
    return {"bytes": base64.b64encode(data).decode()}


@pytest.fixture(scope="module")
def astronaut(astronaut_path) -> bytes:
    return astronaut_path.read_bytes()


@pytest.fixture(scope="module")
def grace(grace_hopper_path) -> bytes:
    return grace_hopper_path.read_bytes()


@pytest.fixture(scope="module")
def pair_photo(astronaut_path, grace_hopper_path) -> bytes:
    canvas = Image.new("RGB", (1200, 600), (210, 210, 210))
    canvas.paste(Image.open(astronaut_path).convert("RGB").resize((420, 420)), (40, 100))
    canvas.paste(Image.open(grace_hopper_path).convert("RGB").resize((500, 585)), (650, 10))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


# ---------------------------------------------------------------- groups
def test_group_lifecycle(client: FaceRecoClient):
    group_id = f"life-{uuid.uuid4().hex[:8]}"
    client.create_group(group_id)
    with pytest.raises(E.DuplicatedGroupID):
        client.create_group(group_id)
    detail = client.get_group(group_id)
    assert detail.group_count == 1 and detail.group.group_id == group_id and detail.group.face_count == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", detail.group.create_time)
    assert detail.group.model_version == "v1.0"
    client.delete_group(group_id)
    for call in (client.get_group, client.delete_group):
        with pytest.raises(E.NotFoundGroupError):
            call(group_id)


def test_group_ids_are_checked_by_the_server(client: FaceRecoClient):
    assert code_of(raw(client, "create_group", body={"groupId": "Upper_Case"})) == -40010
    assert code_of(raw(client, "create_group", body={"groupId": "x" * 256})) == -40010
    assert code_of(raw(client, "create_group", body={"groupId": 12})) == -40010
    assert code_of(raw(client, "create_group", body={})) == -40000
    assert code_of(raw(client, "create_group", body=["not", "an", "object"])) == -40000


def test_list_groups_pages_with_tokens(client: FaceRecoClient):
    prefix = f"list-{uuid.uuid4().hex[:6]}"
    created = [f"{prefix}-{i}" for i in range(3)]
    for group_id in created:
        client.create_group(group_id)
    try:
        seen = [g.group_id for g in client.iter_groups(limit=1)]
        assert [g for g in seen if g.startswith(prefix)] == created
        first = client.list_groups(limit=1)
        assert first.group_count == 1 and first.next_token
        assert code_of(raw(client, "list_groups", query={"limit": "0"})) == -40000
        assert code_of(raw(client, "list_groups", query={"limit": "abc"})) == -40000
        assert code_of(raw(client, "list_groups", query={"next-token": first.next_token[:-2] + "xx"})) == -40040
        with pytest.raises(E.InvalidTokenError):
            client.list_groups(next_token="garbage")
    finally:
        for group_id in created:
            client.delete_group(group_id)


# ---------------------------------------------------------------- detect
def test_detect_flags_and_shapes(client: FaceRecoClient, astronaut: bytes):
    plain = client.detect(astronaut)
    assert plain.face_detail_count == 1
    face = plain.face_details[0]
    assert face.orientation is None and face.mask is None and 95 <= face.confidence <= 100
    full = client.detect(astronaut, orientation=True, mask=True).face_details[0]
    assert full.orientation is not None and full.mask is False
    assert "orientation" not in plain.raw["data"]["faceDetails"][0]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"image": {"bytes": "@@@not-base64@@@"}}, -45030),
        ({"image": b64(b"GIF89a" + bytes(300))}, -45040),
        ({"image": b64(b"\xff\xd8\xff" + bytes(3_000_001))}, -45020),
        ({"image": b64(b"\xff\xd8\xff\xe0" + bytes(500))}, -45080),
        ({"image": {"url": "http://images.example.test:8080/x.jpg"}}, -45050),
        ({"image": {"url": "file:///etc/passwd"}}, -45050),
        ({"image": {}}, -40000),
        ({}, -40000),
        ({"image": {"url": "https://a.test/x.png"}, "orientation": "yes"}, -40000),
        ({"image": {"url": "https://a.test/x.png"}, "mask": 1}, -40000),
    ],
)
def test_detect_bad_input_codes(client: FaceRecoClient, body: dict, code: int):
    assert code_of(raw(client, "detect", body=body)) == code


def test_detect_small_image_is_invalid_param(client: FaceRecoClient):
    buffer = io.BytesIO()
    Image.new("RGB", (60, 200)).save(buffer, format="PNG")
    answer = raw(client, "detect", body={"image": b64(buffer.getvalue())})
    assert code_of(answer) == -40000 and "80 px" in answer["header"]["resultMessage"]


def test_image_download_timeout(client: FaceRecoClient):
    # A listening socket that never answers: the download must give up at the engine's limit (1 s).
    import socket

    with socket.socket() as silent:
        for port in range(10500, 11000):
            try:
                silent.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
        silent.listen(1)
        answer = raw(client, "detect", body={"image": {"url": f"http://127.0.0.1:{port}/slow.png"}})
    assert code_of(answer) == -45060


# ---------------------------------------------------------------- register, list, delete
def test_register_adds_largest_first_and_keeps_external_id(client: FaceRecoClient, group: str, pair_photo: bytes):
    result = client.register_faces(group, pair_photo, external_image_id="pair:01.jpg", limit=1, orientation=True)
    assert result.added_face_count == 1 and result.not_added_face_count == 1
    added = result.added_faces[0]
    assert added.external_image_id == "pair:01.jpg" and uuid.UUID(added.face_id) and uuid.UUID(added.image_id)
    assert result.added_face_details[0].bbox.x0 > 0.5  # grace is the larger face
    assert result.added_face_details[0].orientation is not None
    second = client.register_faces(group, pair_photo, limit=2)
    assert second.added_face_count == 2 and len({f.image_id for f in second.added_faces}) == 1
    assert second.added_faces[0].image_id != added.image_id
    assert client.get_group(group).group.face_count == 3


def test_register_errors(client: FaceRecoClient, group: str, astronaut: bytes):
    with pytest.raises(E.NotFoundGroupError):
        client.register_faces("no-such-group", astronaut)
    image = b64(astronaut)
    assert code_of(raw(client, "register_faces", {"group_id": group}, body={"image": image, "limit": 21})) == -40000
    assert code_of(raw(client, "register_faces", {"group_id": group}, body={"image": image, "limit": "3"})) == -40000
    bad_id = {"image": image, "externalImageId": "has space"}
    assert code_of(raw(client, "register_faces", {"group_id": group}, body=bad_id)) == -40000
    assert client.get_group(group).group.face_count == 0


def test_register_without_faces_succeeds_empty(client: FaceRecoClient, group: str, coffee_path):
    result = client.register_faces(group, coffee_path)
    assert result.added_face_count == 0 and result.not_added_face_count == 0 and result.result_code == 0


def test_quota_partial_then_full(client: FaceRecoClient, group: str, pair_photo: bytes, astronaut: bytes):
    client.register_faces(group, astronaut)
    client.register_faces(group, astronaut)
    partial = client.register_faces(group, pair_photo, limit=2)
    assert partial.is_partial and partial.result_code == 40070
    assert partial.added_face_count == 1 and partial.not_added_face_count == 1
    with pytest.raises(E.ServiceQuotaExceeded):
        client.register_faces(group, astronaut)
    assert client.get_group(group).group.face_count == QUOTA


def test_list_faces_newest_first_and_delete(client: FaceRecoClient, group: str, astronaut: bytes, grace: bytes):
    first = client.register_faces(group, astronaut, external_image_id="a").added_faces[0]
    second = client.register_faces(group, grace, external_image_id="g").added_faces[0]
    listed = client.list_faces(group)
    assert [f.face_id for f in listed.faces] == [second.face_id, first.face_id]
    assert listed.face_count == 2 and not listed.next_token
    client.delete_face(group, first.face_id)
    assert [f.face_id for f in client.iter_faces(group)] == [second.face_id]
    with pytest.raises(E.NotFoundFaceIDError):
        client.delete_face(group, first.face_id)
    with pytest.raises(E.NotFoundGroupError):
        client.list_faces("no-such-group")


def test_delete_group_takes_its_faces(client: FaceRecoClient, astronaut: bytes):
    group_id = f"gone-{uuid.uuid4().hex[:8]}"
    client.create_group(group_id)
    face = client.register_faces(group_id, astronaut).added_faces[0]
    client.delete_group(group_id)
    client.create_group(group_id)
    try:
        assert client.list_faces(group_id).face_count == 0
        with pytest.raises(E.NotFoundFaceIDError):
            client.search_by_face_id(group_id, face.face_id)
    finally:
        client.delete_group(group_id)


# ---------------------------------------------------------------- search, compare, verify
def test_search_by_face_id_excludes_the_query(client: FaceRecoClient, group: str, astronaut: bytes, grace: bytes):
    a1 = client.register_faces(group, astronaut).added_faces[0]
    flipped = io.BytesIO()
    Image.open(io.BytesIO(astronaut)).convert("RGB").resize((460, 460)).save(flipped, format="JPEG")
    a2 = client.register_faces(group, flipped.getvalue()).added_faces[0]
    g = client.register_faces(group, grace).added_faces[0]
    result = client.search_by_face_id(group, a1.face_id, threshold=1)
    ids = [m.face.face_id for m in result.match_faces]
    assert a1.face_id not in ids and ids[0] == a2.face_id and g.face_id in ids
    sims = [m.similarity for m in result.match_faces]
    assert sims == sorted(sims, reverse=True) and result.match_face_count == 2
    strict = client.search_by_face_id(group, a1.face_id)  # threshold 90
    assert [m.face.face_id for m in strict.match_faces] == [a2.face_id]
    assert client.search_by_face_id(group, a1.face_id, threshold=1, limit=1).match_face_count == 1
    with pytest.raises(E.NotFoundFaceIDError):
        client.search_by_face_id(group, str(uuid.uuid4()))
    query = {"limit": "4097", "threshold": "90"}
    assert code_of(raw(client, "search_by_face_id", {"group_id": group, "face_id": a1.face_id}, query)) == -40000


def test_search_by_image(client: FaceRecoClient, group: str, astronaut: bytes, grace: bytes, coffee_path):
    g = client.register_faces(group, grace, external_image_id="grace").added_faces[0]
    client.register_faces(group, astronaut)
    result = client.search_by_image(group, grace, threshold=90)
    assert [m.face.face_id for m in result.match_faces] == [g.face_id]
    assert result.match_faces[0].face.external_image_id == "grace"
    assert result.source_face is not None and result.model_version == "v1.0"
    with pytest.raises(E.InvalidParam, match="no face found in image"):
        client.search_by_image(group, coffee_path)
    with pytest.raises(E.NotFoundGroupError):
        client.search_by_image("no-such-group", grace)


def test_compare_matched_and_unmatched(client: FaceRecoClient, astronaut: bytes, pair_photo: bytes, coffee_path):
    result = client.compare(astronaut, pair_photo, threshold=90, orientation=True)
    assert result.matched_face_detail_count == 1 and result.unmatched_face_detail_count == 1
    assert result.matched_face_details[0].face_detail.bbox.x1 < 0.5
    assert result.matched_face_details[0].face_detail.orientation is not None
    loose = client.compare(astronaut, pair_photo, threshold=1)
    sims = [m.similarity for m in loose.matched_face_details]
    assert loose.matched_face_detail_count == 2 and sims == sorted(sims, reverse=True)
    empty = client.compare(astronaut, coffee_path)
    assert empty.matched_face_detail_count == 0 and empty.unmatched_face_detail_count == 0
    with pytest.raises(E.InvalidParam, match="no face found in sourceImage"):
        client.compare(coffee_path, astronaut)
    query = {"threshold": "101"}
    body = {"sourceImage": b64(astronaut), "targetImage": b64(astronaut)}
    assert code_of(raw(client, "compare", query=query, body=body)) == -40000
    assert code_of(raw(client, "compare", body={"sourceImage": b64(astronaut)})) == -40000


def test_verify(client: FaceRecoClient, group: str, astronaut: bytes, grace: bytes, coffee_path):
    face = client.register_faces(group, astronaut, external_image_id="astro").added_faces[0]
    same = client.verify(group, face.face_id, astronaut)
    assert same.similarity >= 90 and same.face.face_id == face.face_id and same.face.external_image_id == "astro"
    other = client.verify(group, face.face_id, grace, orientation=True)
    assert other.similarity < 90 and other.source_face.orientation is not None
    with pytest.raises(E.NotFoundFaceIDError):
        client.verify(group, str(uuid.uuid4()), astronaut)
    with pytest.raises(E.NotFoundGroupError):
        client.verify("no-such-group", face.face_id, astronaut)
    with pytest.raises(E.InvalidParam, match="no face found in compareImage"):
        client.verify(group, face.face_id, coffee_path)


# ---------------------------------------------------------------- appkeys and HTTP specifics
def test_appkeys_are_checked_and_isolated(backend, group: str):
    name, client, server = backend
    if server is None:
        pytest.skip("the in-process backend uses one fixed local key")
    with pytest.raises(E.UnauthorizedAppKey):
        FaceRecoClient("not-a-known-key", server.base_url).list_groups()
    other = FaceRecoClient(OTHER_APPKEY, server.base_url)
    assert group not in [g.group_id for g in other.iter_groups()]
    with pytest.raises(E.NotFoundGroupError):
        other.get_group(group)
    other.create_group(group)  # same name, other appkey: a different group
    other.delete_group(group)
    assert "contract-key" not in server.log()


def test_http_wire_behaviour(backend, astronaut: bytes):
    name, client, server = backend
    if server is None:
        pytest.skip("HTTP only")
    prefix = f"{server.base_url}/nhn-face-reco/v1.0/appkeys/{APPKEY}"
    malformed = requests.post(f"{prefix}/detect", data=b"{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 200 and malformed.json()["header"]["resultCode"] == -40000
    wrong_type = requests.post(f"{prefix}/detect", json={"image": "a string"})
    assert wrong_type.status_code == 200 and wrong_type.json()["header"]["resultCode"] == -40000
    too_big = b"x" * (MAX_REQUEST_BODY_BYTES + 1)
    huge = requests.post(f"{prefix}/detect", data=too_big, headers={"Content-Type": "application/json"})
    assert huge.status_code == 200 and huge.json()["header"]["resultCode"] == -45020
    assert requests.get(f"{server.base_url}/no/such/path").status_code == 404
    schema = requests.get(f"{server.base_url}/openapi.json").json()
    paths = schema["paths"]
    assert len([op for p in paths.values() for op in p]) == 12
    ok = requests.get(f"{prefix}/groups")
    assert ok.status_code == 200 and ok.json()["header"] == {
        "isSuccessful": True,
        "resultCode": 0,
        "resultMessage": "Success",
    }
