"""The client over real `requests` with the remote cloud faked from the guide's own examples."""

from __future__ import annotations

import json
import logging
import socket
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from facereco import FaceRecoClient, __version__
from facereco import errors as E
from facereco.contract import ENDPOINTS, MAX_ANSWER_BYTES, ApiResult, ResultCode
from facereco.transport import RetryPolicy

GUIDE = json.loads((Path(__file__).parent / "fixtures" / "guide_examples.json").read_text())
BASE = "https://face.example.test"
APPKEY = "SeCrEtAppKey-9f8e7d"
PREFIX = f"{BASE}/nhn-face-reco/v1.0/appkeys/{APPKEY}"
GROUP, FACE = "my-group", "87db50d4-f2c6-b8ea-05ed-9f201309fd92"


def make_client(**kwargs: Any) -> FaceRecoClient:
    kwargs.setdefault("retry", RetryPolicy(max_retries=2, backoff_base=0.0))
    return FaceRecoClient(APPKEY, BASE, **kwargs)


def invoke(client: FaceRecoClient, name: str, image: bytes) -> ApiResult:
    """Call endpoint `name` with valid arguments."""
    calls = {
        "create_group": lambda: client.create_group(GROUP),
        "list_groups": lambda: client.list_groups(limit=2),
        "get_group": lambda: client.get_group(GROUP),
        "delete_group": lambda: client.delete_group(GROUP),
        "detect": lambda: client.detect(image, orientation=True, mask=True),
        "register_faces": lambda: client.register_faces(GROUP, image, external_image_id="image01.jpg"),
        "delete_face": lambda: client.delete_face(GROUP, FACE),
        "list_faces": lambda: client.list_faces(GROUP, limit=2),
        "search_by_face_id": lambda: client.search_by_face_id(GROUP, FACE, limit=10, threshold=70),
        "search_by_image": lambda: client.search_by_image(GROUP, image),
        "compare": lambda: client.compare(image, image, threshold=80),
        "verify": lambda: client.verify(GROUP, FACE, image),
    }
    return calls[name]()


def url_for(name: str) -> str:
    path = GUIDE[name]["path"].replace("{appKey}", APPKEY).replace("{group-id}", GROUP).replace("{face-id}", FACE)
    return BASE + path


def test_endpoint_table_matches_the_guide():
    assert set(ENDPOINTS) == set(GUIDE)
    for name, endpoint in ENDPOINTS.items():
        guide_path = GUIDE[name]["path"].removeprefix("/nhn-face-reco/v1.0/appkeys/{appKey}")
        assert endpoint.method == GUIDE[name]["method"]
        assert endpoint.path.replace("group_id", "group-id").replace("face_id", "face-id") == guide_path


@pytest.mark.parametrize("name", sorted(GUIDE))
@responses.activate
def test_guide_response_example_parses(name: str, tiny_png: bytes):
    example = GUIDE[name]["response_example"]
    responses.add(GUIDE[name]["method"], url_for(name), json=example)
    result = invoke(make_client(), name, tiny_png)
    assert isinstance(result, ENDPOINTS[name].result)
    assert result.raw == example
    assert result.result_code == 0 and not result.is_partial
    # every field of the example's data survives into the model (camelCase on the wire)
    assert result.to_wire() == example.get("data", {})
    sent = responses.calls[0].request
    assert sent.headers["User-Agent"].startswith(f"facereco/{__version__}")


@responses.activate
def test_example_values_reach_typed_fields(tiny_png: bytes):
    responses.add("POST", url_for("verify"), json=GUIDE["verify"]["response_example"])
    result = make_client().verify(GROUP, FACE, tiny_png)
    assert result.similarity == pytest.approx(29.507784)
    assert result.face.external_image_id == "imsa-control-wb801-test"
    # the guide's verify example gives confidence as a fraction: read it as percent
    assert result.face.confidence == pytest.approx(0.997507)
    assert result.source_face.confidence_percent == pytest.approx(99.9286)
    eyes = {lm.type: lm.x for lm in result.source_face.landmarks}
    assert eyes["leftEye"] < eyes["rightEye"]
    assert result.source_face.orientation.z == pytest.approx(-2.08028)


ERROR_CASES = [(name, code) for name in sorted(GUIDE) for code in GUIDE[name]["error_codes"] if code < 0]


@pytest.mark.parametrize(("name", "code"), ERROR_CASES)
@responses.activate
def test_every_listed_error_code_raises_its_class(name: str, code: int, tiny_png: bytes):
    message = ResultCode(code).name
    responses.add(
        GUIDE[name]["method"],
        url_for(name),
        json={"header": {"isSuccessful": False, "resultCode": code, "resultMessage": message}},
    )
    with pytest.raises(E.ApiError) as caught:
        invoke(make_client(), name, tiny_png)
    error = caught.value
    assert type(error).code == ResultCode(code)
    assert error.result_code == code and error.message == message
    assert error.call is not None and error.call.method == GUIDE[name]["method"]
    assert APPKEY not in str(error) and "/appkeys/***/" in error.call.path


def test_each_result_code_has_its_own_class():
    error_codes = [c for c in ResultCode if c < 0]
    classes = {type(E.ApiError.for_code(int(c))) for c in error_codes}
    assert len(classes) == len(error_codes)
    assert isinstance(E.ApiError.for_code(-49999), E.UnknownResultCode)


@responses.activate
def test_partial_success_is_a_result_not_an_error(tiny_png: bytes):
    body = json.loads(json.dumps(GUIDE["register_faces"]["response_example"]))
    body["header"] = {
        "isSuccessful": True,
        "resultCode": 40070,
        "resultMessage": "ServiceQuotaExceededPartialSuccessException",
    }
    responses.add("POST", url_for("register_faces"), json=body)
    result = make_client().register_faces(GROUP, tiny_png)
    assert result.is_partial and result.result_code == 40070
    assert result.added_face_count == 1


@responses.activate
def test_iterator_walks_three_pages_and_keeps_the_tokens_limit():
    url = url_for("list_faces")
    pages = [
        {"faces": ["a", "b"], "nextToken": "tok-1"},
        {"faces": ["c", "d"], "nextToken": "tok-2"},
        {"faces": ["e"], "nextToken": ""},
    ]
    for page in pages:
        faces = [{**GUIDE["list_faces"]["response_example"]["data"]["faces"][0], "faceId": f} for f in page["faces"]]
        data = {"modelVersion": "v1.0", "faceCount": 5, "faces": faces, "nextToken": page["nextToken"]}
        responses.add(
            "GET",
            url,
            json={"header": {"isSuccessful": True, "resultCode": 0, "resultMessage": "Success"}, "data": data},
        )
    iterator = make_client().iter_faces(GROUP, limit=2)
    assert [f.face_id for f in iterator] == ["a", "b", "c", "d", "e"]
    assert iterator.page_count == 3 and iterator.next_token is None
    queries = [parse_qs(urlsplit(c.request.url).query) for c in responses.calls]
    assert queries[0] == {"limit": ["2"]}
    assert queries[1] == {"next-token": ["tok-1"]} and queries[2] == {"next-token": ["tok-2"]}


@responses.activate
def test_register_is_never_resent_after_a_timeout(tiny_png: bytes):
    responses.add("POST", url_for("register_faces"), body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(E.RequestTimeout):
        make_client().register_faces(GROUP, tiny_png)
    assert len(responses.calls) == 1


@responses.activate
def test_get_is_retried_after_a_timeout_then_succeeds():
    sleeps: list[float] = []
    client = make_client(retry=RetryPolicy(max_retries=3, backoff_base=0.25))
    client.transport._sleep = sleeps.append
    url = url_for("get_group")
    responses.add("GET", url, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.add("GET", url, body=requests.exceptions.ConnectionError("reset"))
    responses.add("GET", url, status=503, body="<html>busy</html>")
    responses.add("GET", url, json=GUIDE["get_group"]["response_example"])
    result = client.get_group(GROUP)
    assert result.group.face_count == 365
    assert len(responses.calls) == 4
    assert len(sleeps) == 3 and all(0 <= s <= 0.25 * 2**i for i, s in enumerate(sleeps))


@responses.activate
def test_retries_give_up_after_the_policy():
    url = url_for("list_groups")
    for _ in range(5):
        responses.add("GET", url, status=502, body="bad gateway")
    with pytest.raises(E.BadResponse) as caught:
        make_client(retry=RetryPolicy(max_retries=2, backoff_base=0.0)).list_groups()
    assert caught.value.status == 502 and len(responses.calls) == 3


@responses.activate
def test_non_json_and_headerless_answers_are_bad_responses():
    responses.add("GET", url_for("get_group"), body="<html>proxy</html>", content_type="text/html")
    with pytest.raises(E.BadResponse, match="not JSON"):
        make_client().get_group(GROUP)
    responses.add("GET", url_for("list_groups"), json={"data": {}})
    with pytest.raises(E.BadResponse, match="no result header"):
        make_client().list_groups()
    responses.add("DELETE", url_for("delete_group"), status=404, body="not found")
    with pytest.raises(E.BadResponse, match="HTTP 404"):
        make_client().delete_group(GROUP)


@responses.activate
def test_a_redirect_from_the_cloud_is_not_followed():
    elsewhere = "https://elsewhere.example.test/groups"
    responses.add("GET", url_for("list_groups"), status=307, headers={"Location": elsewhere})
    responses.add("GET", elsewhere, json=GUIDE["list_groups"]["response_example"])
    with pytest.raises(E.BadResponse, match="HTTP 307") as caught:
        make_client().list_groups(limit=2)
    assert caught.value.status == 307 and len(responses.calls) == 1  # the appkey's path went nowhere else


def _padded_search_answer(size: int) -> bytes:
    """The guide's search answer, padded with trailing spaces (legal JSON whitespace) to ``size`` bytes."""
    body = json.dumps(GUIDE["search_by_image"]["response_example"]).encode()
    return body + b" " * (size - len(body))


@responses.activate
def test_an_answer_over_the_largest_legal_one_is_refused(tiny_png: bytes):
    responses.add("POST", url_for("search_by_image"), body=_padded_search_answer(MAX_ANSWER_BYTES + 1))
    with pytest.raises(E.BadResponse, match=f"over {MAX_ANSWER_BYTES:,} bytes"):
        make_client().search_by_image(GROUP, tiny_png)
    responses.replace("POST", url_for("search_by_image"), body=_padded_search_answer(MAX_ANSWER_BYTES))
    assert make_client().search_by_image(GROUP, tiny_png).match_face_count == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connection_is_readable_and_secret_free(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    client = FaceRecoClient(APPKEY, f"http://127.0.0.1:{_closed_port()}", retry=RetryPolicy(1, 0.0))
    with pytest.raises(E.ConnectionFailed) as caught:
        client.list_groups()
    assert "could not reach" in str(caught.value)
    assert_secret_free(caught.value, caplog)


def test_a_host_urllib3_cannot_parse_is_a_connection_failure(caplog: pytest.LogCaptureFixture):
    # A DNS label over 63 characters: refused by urllib3 before any lookup, so nothing leaves the machine.
    client = FaceRecoClient(APPKEY, f"http://{'a' * 70}.invalid:10080", retry=RetryPolicy(0))
    with pytest.raises(E.ConnectionFailed, match="could not reach") as caught:
        client.list_groups()
    assert_secret_free(caught.value, caplog)


@pytest.mark.parametrize(("name", "code"), ERROR_CASES[:6])
@responses.activate
def test_appkey_is_absent_from_every_error_text(
    name: str, code: int, tiny_png: bytes, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    responses.add(
        GUIDE[name]["method"],
        url_for(name),
        json={"header": {"isSuccessful": False, "resultCode": code, "resultMessage": "x"}},
    )
    with pytest.raises(E.ApiError) as caught:
        invoke(make_client(), name, tiny_png)
    assert_secret_free(caught.value, caplog)


@responses.activate
def test_appkey_is_absent_from_transport_error_texts(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    client = make_client()
    client.transport._sleep = lambda _: None
    url = url_for("get_group")
    failures = [
        requests.exceptions.ReadTimeout(f"timeout on {url}"),
        requests.exceptions.ConnectionError(f"refused {url}"),
    ]
    for failure in failures:
        responses.replace("GET", url, body=failure) if responses.registered() else responses.add(
            "GET", url, body=failure
        )
        with pytest.raises(E.TransportError) as caught:
            client.get_group(GROUP)
        assert_secret_free(caught.value, caplog)
    assert APPKEY not in repr(client) and APPKEY not in repr(client.transport)


def assert_secret_free(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(error), repr(error), "".join(traceback.format_exception(error)), caplog.text]
    chained = error.__cause__ or error.__context__  # kept even when not printed ("from None")
    while chained is not None:
        texts += [str(chained), repr(chained)]
        chained = chained.__cause__ or chained.__context__
    for text in texts:
        assert APPKEY not in text


# ---------------------------------------------------------------- local checks
@responses.activate
@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c, img: c.create_group("Bad_Group"), E.InvalidGroupID),
        (lambda c, img: c.create_group(""), E.InvalidGroupID),
        (lambda c, img: c.create_group("a" * 256), E.InvalidGroupID),
        (lambda c, img: c.create_group(12), E.InvalidParam),
        (lambda c, img: c.get_group("Bad_Group"), E.InvalidParam),
        (lambda c, img: c.list_faces("Bad_Group"), E.InvalidParam),
        (lambda c, img: c.delete_face(GROUP, ""), E.InvalidParam),
        (lambda c, img: c.verify(GROUP, "", img), E.InvalidParam),
        (lambda c, img: c.detect(img, orientation="yes"), E.InvalidParam),
        (lambda c, img: c.list_groups(limit=0), E.InvalidParam),
        (lambda c, img: c.list_faces(GROUP, limit=201), E.InvalidParam),
        (lambda c, img: c.register_faces(GROUP, img, limit=21), E.InvalidParam),
        (lambda c, img: c.register_faces(GROUP, img, external_image_id="bad id!"), E.InvalidParam),
        (lambda c, img: c.search_by_face_id(GROUP, FACE, limit=4097), E.InvalidParam),
        (lambda c, img: c.search_by_image(GROUP, img, threshold=0), E.InvalidParam),
        (lambda c, img: c.compare(img, img, threshold=101), E.InvalidParam),
        (lambda c, img: c.detect(b"GIF89a" + b"\0" * 100), E.InvalidImageFormat),
        (lambda c, img: c.detect(b"\xff\xd8\xff" + b"\0" * 3_000_000), E.ImageTooLarge),
        (lambda c, img: c.detect("https://example.test:8080/a.jpg"), E.InvalidImageURL),
        (lambda c, img: c.detect("ftp://example.test/a.jpg"), E.InvalidImageURL),
        (lambda c, img: c.detect("http://example.test:99999/a.jpg"), E.InvalidImageURL),
    ],
)
def test_bad_input_is_refused_before_sending(call, error, tiny_png: bytes):
    with pytest.raises(error):
        call(make_client(), tiny_png)
    assert len(responses.calls) == 0


# Where each call's values travel, from the guide's request tables: (path tail, query, body keys).
GUIDE_REQUESTS = {
    "create_group": ("/groups", {}, {"groupId"}),
    "list_groups": ("/groups", {"limit": ["2"]}, None),
    "get_group": (f"/groups/{GROUP}", {}, None),
    "delete_group": (f"/groups/{GROUP}", {}, None),
    "detect": ("/detect", {}, {"image", "orientation", "mask"}),
    "register_faces": (f"/groups/{GROUP}", {}, {"image", "externalImageId", "limit", "orientation", "mask"}),
    "delete_face": (f"/groups/{GROUP}/faces/{FACE}", {}, None),
    "list_faces": (f"/groups/{GROUP}/faces", {"limit": ["2"]}, None),
    "search_by_face_id": (f"/groups/{GROUP}/faces/{FACE}", {"limit": ["10"], "threshold": ["70"]}, None),
    "search_by_image": (
        f"/groups/{GROUP}/search",
        {"limit": ["100"], "threshold": ["90"]},
        {"image", "orientation", "mask"},
    ),
    "compare": ("/compare", {"threshold": ["80"]}, {"sourceImage", "targetImage", "orientation", "mask"}),
    "verify": (f"/verify/groups/{GROUP}/faces/{FACE}", {}, {"compareImage", "orientation", "mask"}),
}


@pytest.mark.parametrize("name", sorted(GUIDE_REQUESTS))
@responses.activate
def test_each_request_travels_as_the_guide_shows(name: str, tiny_png: bytes):
    responses.add(GUIDE[name]["method"], url_for(name), json=GUIDE[name]["response_example"])
    invoke(make_client(), name, tiny_png)
    sent = responses.calls[0].request
    path, query, body_keys = GUIDE_REQUESTS[name]
    assert urlsplit(sent.url).path == f"/nhn-face-reco/v1.0/appkeys/{APPKEY}{path}"
    assert parse_qs(urlsplit(sent.url).query) == query
    body = json.loads(sent.body) if sent.body else None
    assert (set(body) if body is not None else None) == body_keys
    if name == "create_group":
        assert body == {"groupId": GROUP}
    if name == "register_faces":
        assert body["externalImageId"] == "image01.jpg" and body["limit"] == 3 and set(body["image"]) == {"bytes"}


@responses.activate
def test_a_limit_beside_a_next_token_is_not_sent_nor_checked():
    # The token fixed its limit when it was issued; the guide says a limit beside it is ignored.
    responses.add("GET", url_for("list_faces"), json=GUIDE["list_faces"]["response_example"])
    make_client().list_faces(GROUP, limit=0, next_token="tok-1")
    assert parse_qs(urlsplit(responses.calls[0].request.url).query) == {"next-token": ["tok-1"]}


@responses.activate
def test_image_inputs_bytes_path_pil_and_url(tmp_path: Path, tiny_png: bytes):
    from PIL import Image

    responses.add(
        "POST",
        url_for("detect"),
        json={
            "header": {"isSuccessful": True, "resultCode": 0, "resultMessage": "Success"},
            "data": {"faceDetailCount": 0, "faceDetails": []},
        },
    )
    path = tmp_path / "in.png"
    path.write_bytes(tiny_png)
    client = make_client()
    client.detect(tiny_png)
    client.detect(path)
    client.detect(str(path))
    client.detect(Image.open(path))
    client.detect("https://images.example.test:10443/face.jpg")
    bodies = [json.loads(c.request.body) for c in responses.calls]
    import base64

    assert base64.b64decode(bodies[0]["image"]["bytes"]) == tiny_png
    assert bodies[1]["image"] == bodies[0]["image"] == bodies[2]["image"]
    assert base64.b64decode(bodies[3]["image"]["bytes"]).startswith(b"\xff\xd8\xff")
    assert bodies[4]["image"] == {"url": "https://images.example.test:10443/face.jpg"}
    assert bodies[0]["orientation"] is False and bodies[0]["mask"] is False


def test_configuration_from_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FACERECO_APPKEY", APPKEY)
    monkeypatch.setenv("FACERECO_BASE_URL", "http://127.0.0.1:10001/")
    client = FaceRecoClient()
    assert client.transport.base_url == "http://127.0.0.1:10001"
    assert APPKEY not in repr(client)
    monkeypatch.delenv("FACERECO_APPKEY")
    with pytest.raises(ValueError, match="appkey"):
        FaceRecoClient()
