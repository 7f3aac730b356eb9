"""The server's own handling of contract calls (no FastAPI dependency solving): each call logged once,
appkey redacted, wrong methods and oversized bodies still answered with the contract's header."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from facereco import FaceRecoClient
from facereco.contract import API_PREFIX, MAX_REQUEST_BODY_BYTES
from facereco.engine.api import LocalEngine
from facereco.engine.server import create_app

from .servers import serving_in_thread

APPKEY = "WireKey-77aa88bb"


def test_each_call_is_logged_once_with_its_result_and_no_appkey(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="facereco.access")
    with serving_in_thread(create_app(LocalEngine(tmp_path / "data", appkeys=[APPKEY]))) as base_url:
        client = FaceRecoClient(APPKEY, base_url)
        client.create_group("logged")
        client.list_faces("logged", limit=5)
        prefix = base_url + API_PREFIX.format(appKey=APPKEY)
        requests.get(f"{prefix}/groups/logged/faces", params=[("limit", "1"), ("limit", "2")], timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "facereco.access"]
    assert [line.split(" in ")[0] for line in lines] == [
        "POST /nhn-face-reco/v1.0/appkeys/***/groups -> 0",
        "GET /nhn-face-reco/v1.0/appkeys/***/groups/logged/faces -> 0",
        "GET /nhn-face-reco/v1.0/appkeys/***/groups/logged/faces -> -40000",  # a query name given twice
    ]
    assert APPKEY not in caplog.text


def test_a_wrong_method_and_an_oversized_body_get_the_contract_header(tmp_path: Path):
    with serving_in_thread(create_app(LocalEngine(tmp_path / "data", appkeys=[APPKEY]))) as base_url:
        prefix = base_url + API_PREFIX.format(appKey=APPKEY)
        wrong = requests.put(f"{prefix}/groups", timeout=10)
        huge = requests.post(f"{prefix}/detect", data=b"{" * (MAX_REQUEST_BODY_BYTES + 1), timeout=30)
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert wrong.json()["header"]["resultCode"] == -40000
    assert huge.status_code == 200 and huge.json()["header"]["resultCode"] == -45020
