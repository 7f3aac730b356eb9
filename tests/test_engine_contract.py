"""The whole contract through the client, against the real engine: in-process and over HTTP on loopback.

Both backends run the same suite on a real SQLite file. Requests the client would
refuse before sending are sent raw (``raw``), so the server's own answer is tested too.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import re
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import annotated_types
import pytest
import requests
from PIL import Image
from pydantic import create_model

from facereco import FaceRecoClient
from facereco import errors as E
from facereco.contract import API_PREFIX, ENDPOINTS, MAX_REQUEST_BODY_BYTES
from facereco.engine.api import LocalEngine
from facereco.engine.server import create_app
from facereco.transport import LocalTransport, PreparedCall

from .servers import running_server, serving_in_thread

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
    assert detail.group.model_version == "v1.1"  # new groups hold the newest descriptor (descriptors.py)
    client.delete_group(group_id)
    for call in (client.get_group, client.delete_group):
        with pytest.raises(E.NotFoundGroupError):
            call(group_id)


def test_group_ids_are_checked_by_the_server(client: FaceRecoClient):
    assert code_of(raw(client, "create_group", body={"groupId": "Upper_Case"})) == -40010
    assert code_of(raw(client, "create_group", body={"groupId": "x" * 256})) == -40010
    assert code_of(raw(client, "create_group", body={})) == -40000
    assert code_of(raw(client, "create_group", body=["not", "an", "object"])) == -40000


@pytest.mark.parametrize("group_id", [12, None, True, ["my-group"], {"id": "my-group"}])
def test_a_group_id_that_is_not_a_string_is_invalid_param(client: FaceRecoClient, group_id):
    # The guide: -40010 is a groupId that breaks its pattern; a value of the wrong type is a bad parameter.
    assert code_of(raw(client, "create_group", body={"groupId": group_id})) == -40000
    with pytest.raises(E.InvalidParam):
        client.create_group(group_id)


@pytest.mark.parametrize(
    ("call", "path", "body"),
    [
        ("get_group", {}, None),
        ("delete_group", {}, None),
        ("list_faces", {}, None),
        ("register_faces", {}, {"image": {"url": "https://a.test/x.png"}}),
        ("delete_face", {"face_id": "f"}, None),
        ("search_by_face_id", {"face_id": "f"}, None),
        ("search_by_image", {}, {"image": {"url": "https://a.test/x.png"}}),
        ("verify", {"face_id": "f"}, {"compareImage": {"url": "https://a.test/x.png"}}),
    ],
)
def test_a_malformed_group_id_in_the_path_is_invalid_param(client: FaceRecoClient, call, path, body):
    # Every call with {group-id} in its path lists only -40000 for it in the guide's error table.
    for bad in ("Upper_Case", "x" * 256, "dots.not.allowed"):
        answer = raw(client, call, {"group_id": bad, **path}, body=body)
        assert code_of(answer) == -40000, (call, bad, answer)
    with pytest.raises(E.InvalidParam):
        client.get_group("Upper_Case")


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
        tail = "yy" if first.next_token.endswith("xx") else "xx"  # a tail the signed token cannot already have
        assert code_of(raw(client, "list_groups", query={"next-token": first.next_token[:-2] + tail})) == -40040
        assert code_of(raw(client, "list_groups", query={"next-token": "x" * 5000})) == -40040
        with pytest.raises(E.InvalidTokenError):
            client.list_groups(next_token="garbage")
    finally:
        for group_id in created:
            client.delete_group(group_id)


def test_a_limit_beside_a_next_token_is_ignored(client: FaceRecoClient, group: str, pair_photo: bytes):
    # The guide: with a next-token the limit cannot change; the token fixed it when it was issued.
    client.create_group(f"{group}-2")
    try:
        first = client.list_groups(limit=1)
        assert first.next_token
        for limit in ("0", "abc", "500", "7"):
            answer = raw(client, "list_groups", query={"next-token": first.next_token, "limit": limit})
            assert code_of(answer) == 0 and answer["data"]["groupCount"] == 1, (limit, answer["header"])
    finally:
        client.delete_group(f"{group}-2")
    client.register_faces(group, pair_photo, limit=2)
    page = client.list_faces(group, limit=1)
    answer = raw(client, "list_faces", {"group_id": group}, {"next-token": page.next_token, "limit": "0"})
    assert code_of(answer) == 0 and len(answer["data"]["faces"]) == 1


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


def test_list_faces_face_count_is_the_whole_groups(client: FaceRecoClient, group: str, pair_photo: bytes, grace):
    # The guide: faceCount is "the number of faces registered in the group", not the length of the page.
    client.register_faces(group, pair_photo, limit=2)
    client.register_faces(group, grace)
    first = client.list_faces(group, limit=2)
    assert first.face_count == 3 and len(first.faces) == 2 and first.next_token
    last = client.list_faces(group, next_token=first.next_token)
    assert last.face_count == 3 and len(last.faces) == 1 and not last.next_token


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


# ---------------------------------------------------------------- which faces count
@pytest.fixture(scope="module")
def narrow_face(astronaut_path) -> bytes:
    """The astronaut squeezed to 317x384: her face box is about 56x79 px, 67 px by the sides' geometric mean."""
    buffer = io.BytesIO()
    Image.open(astronaut_path).convert("RGB").resize((317, 384)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_face_under_60_px_on_either_side_is_not_recognised(client: FaceRecoClient, group: str, narrow_face: bytes):
    # CONTRACT.md: only faces >= 60x60 px are recognised: both sides, not their mean.
    assert client.detect(narrow_face).face_detail_count == 0
    result = client.register_faces(group, narrow_face)
    assert result.added_face_count == 0 and result.not_added_face_count == 1  # listed, as the contract says
    box = result.not_added_faces[0].bbox
    width, height = box.width * 317, box.height * 384
    assert width < 60 <= height and (width * height) ** 0.5 >= 60  # the mean alone would have let it through
    with pytest.raises(E.InvalidParam, match="no face found in image"):
        client.search_by_image(group, narrow_face)


def test_a_face_turned_beyond_45_degrees_is_not_recognised(client: FaceRecoClient, group: str, shared_faces):
    # Two faces: Susan Sarandon facing the camera, and a man beside her in profile (yaw ~75 degrees).
    photo = (shared_faces / "lfw-dev" / "susan-sarandon" / "Susan_Sarandon_0001.jpg").read_bytes()
    detected = client.detect(photo, orientation=True)
    assert detected.face_detail_count == 1
    assert abs(detected.face_details[0].orientation.x) <= 45 and abs(detected.face_details[0].orientation.y) <= 45
    result = client.register_faces(group, photo, limit=20)  # orientation not asked: pose still decides
    assert result.added_face_count == 1 and result.not_added_face_count == 1
    assert result.not_added_faces[0].orientation is None
    compared = client.compare(photo, photo, threshold=1)
    assert compared.matched_face_detail_count + compared.unmatched_face_detail_count == 1


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
    assert result.source_face is not None and result.model_version == "v1.1"
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


# ---------------------------------------------------------------- one definition of each request
@pytest.fixture
def narrowed_list_limit(monkeypatch) -> None:
    """list groups' limit narrowed from 1-200 to 1-5 in its request model, and nowhere else."""
    endpoint = ENDPOINTS["list_groups"]
    limit = endpoint.request.model_fields["limit"]
    metadata = [annotated_types.Le(5) if isinstance(m, annotated_types.Le) else m for m in limit.metadata]
    narrowed = create_model(
        endpoint.request.__name__, __base__=endpoint.request, limit=(Annotated[(int, *metadata)], 5)
    )
    monkeypatch.setitem(ENDPOINTS, "list_groups", dataclasses.replace(endpoint, request=narrowed))


def test_a_range_changed_in_one_model_is_followed_everywhere(narrowed_list_limit, tmp_path):
    engine = LocalEngine(tmp_path / "data")
    with serving_in_thread(create_app(engine)) as base_url:
        for client in (FaceRecoClient(transport=LocalTransport(engine)), FaceRecoClient(APPKEY, base_url)):
            with pytest.raises(E.InvalidParam, match="limit"):
                client.list_groups(limit=6)  # the client, before sending
            assert code_of(raw(client, "list_groups", query={"limit": "6"})) == -40000  # the engine
            assert code_of(raw(client, "list_groups", query={"limit": "5"})) == 0
        operation = requests.get(f"{base_url}/openapi.json").json()["paths"][API_PREFIX + "/groups"]["get"]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    assert limit["in"] == "query" and limit["schema"]["maximum"] == 5 and limit["schema"]["minimum"] == 1


def test_openapi_takes_every_request_from_its_model(backend):
    name, client, server = backend
    if server is None:
        pytest.skip("HTTP only")
    paths = requests.get(f"{server.base_url}/openapi.json").json()["paths"]
    search = paths[API_PREFIX + "/groups/{group_id}/search"]["post"]
    parameters = {p["name"]: p for p in search["parameters"]}
    assert parameters["group_id"]["in"] == "path" and parameters["group_id"]["required"]
    assert parameters["limit"]["schema"]["maximum"] == 4096 and parameters["threshold"]["schema"]["maximum"] == 100
    body = search["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]) == {"image", "orientation", "mask"} and body["required"] == ["image"]
    register = paths[API_PREFIX + "/groups/{group_id}"]["post"]["requestBody"]["content"]["application/json"]
    assert register["schema"]["properties"]["limit"]["maximum"] == 20
    assert register["schema"]["properties"]["externalImageId"]["anyOf"][0]["pattern"]
    pages = {p["name"] for p in paths[API_PREFIX + "/groups/{group_id}/faces"]["get"]["parameters"]}
    assert pages == {"group_id", "limit", "next-token"}


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
    unknown = requests.get(f"{server.base_url}/no/such/path")
    assert unknown.status_code == 404 and unknown.json()["header"]["resultCode"] == -40000
    schema = requests.get(f"{server.base_url}/openapi.json").json()
    paths = schema["paths"]
    assert len([op for p in paths.values() for op in p]) == 12
    ok = requests.get(f"{prefix}/groups")
    assert ok.status_code == 200 and ok.json()["header"] == {
        "isSuccessful": True,
        "resultCode": 0,
        "resultMessage": "Success",
    }


def http_only(backend) -> str:
    name, client, server = backend
    if server is None:
        pytest.skip("HTTP only")
    return f"{server.base_url}/nhn-face-reco/v1.0/appkeys/{APPKEY}"


@pytest.mark.parametrize(
    "body",
    [b"[" * 3_000 + b"]" * 3_000, b"[" * 100_000 + b"]" * 100_000, b'{"image": [' + b"{}," * 2_000_000 + b"{}]}"],
    ids=["deep-under-the-value-count", "deep", "millions-of-objects"],
)
def test_json_too_deep_or_too_many_values_is_malformed_not_an_internal_error(backend, body: bytes):
    prefix = http_only(backend)
    answer = requests.post(f"{prefix}/detect", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["header"]["resultCode"] == -40000
    assert "Traceback" not in backend[2].log() and "RecursionError" not in backend[2].log()


@pytest.mark.parametrize("query", ["limit=abc&limit=5", "limit=5&limit=5", "limit=%D9%A1", "limit=%F0%9D%9F%8F"])
def test_a_repeated_or_non_ascii_query_integer_is_invalid_param(backend, query: str):
    answer = requests.get(f"{http_only(backend)}/groups?{query}")
    assert answer.status_code == 200 and answer.json()["header"]["resultCode"] == -40000


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("POST", "/groups/", 404),
        ("GET", "/detect", 405),
        ("DELETE", "/groups", 405),
        ("HEAD", "/groups", 405),
        ("OPTIONS", "/detect", 405),
    ],
)
def test_a_wrong_path_or_method_answers_the_contract_header(backend, method: str, path: str, status: int):
    answer = requests.request(method, f"{http_only(backend)}{path}", json={"groupId": "g"}, allow_redirects=False)
    assert answer.status_code == status
    if method != "HEAD":  # HEAD answers carry no body
        assert answer.json()["header"] == {
            "isSuccessful": False,
            "resultCode": -40000,
            "resultMessage": answer.json()["header"]["resultMessage"],
        }
    if status == 405:
        assert answer.headers["Allow"]


@pytest.mark.parametrize(
    "name, body, wire_name",
    [("compare", {"targetImage": {"url": "http://x.test/a.png"}}, "sourceImage"), ("create_group", {}, "groupId")],
)
def test_a_missing_field_is_named_as_it_travels(client: FaceRecoClient, name: str, body: dict, wire_name: str):
    answer = raw(client, name, body=body)
    assert code_of(answer) == -40000
    assert answer["header"]["resultMessage"].startswith(f"{wire_name}: ")
