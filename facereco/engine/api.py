"""LocalEngine: the wire-level entry of the local engine, shared by the in-process transport and the server.

``handle(appkey, call, path_params, query, body)`` takes a request as it arrives
on the wire (query values are strings, the body is parsed JSON) and returns the
whole response body, exactly as the cloud would: a header with the result code,
and ``data`` where the call has any. It never raises: a contract error becomes
its result code, anything unexpected becomes -50000 with the details in the log.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from facereco.contract import (
    ENDPOINTS,
    GROUP_QUOTA,
    LIST_LIMIT,
    REGISTER_LIMIT,
    SEARCH_LIMIT,
    THRESHOLD,
    IntRange,
    ResultCode,
    response_body,
)
from facereco.engine.images import UrlPolicy
from facereco.engine.secrets import EngineSecrets, load_or_create_key
from facereco.engine.service import FaceService
from facereco.engine.store import Store
from facereco.engine.tokens import DEFAULT_TOKEN_TTL_S, PageTokens
from facereco.engine.vision import FaceAnalyzer, shared_analyzer
from facereco.errors import ApiError, InvalidParam, UnauthorizedAppKey
from facereco.validation import check_external_image_id, check_face_id, check_flag, check_group_id, check_range

log = logging.getLogger("facereco.engine")

_INTEGER = re.compile(r"[+-]?\d{1,12}")


def default_data_dir() -> Path:
    """``FACERECO_DATA_DIR``, else ``$XDG_DATA_HOME/facereco`` (``~/.local/share/facereco``)."""
    if os.environ.get("FACERECO_DATA_DIR"):
        return Path(os.environ["FACERECO_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "facereco"


def _query_int(query: dict[str, str], name: str, allowed: IntRange) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return allowed.default
    if not _INTEGER.fullmatch(str(raw)):
        raise InvalidParam(f"{name} must be an integer from {allowed.low} to {allowed.high}, got {str(raw)[:40]!r}")
    return check_range(name, int(raw), allowed)


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidParam("the request body must be a JSON object")
    return body


def _flags(body: dict[str, Any]) -> tuple[bool, bool]:
    return check_flag("orientation", body.get("orientation", False)), check_flag("mask", body.get("mask", False))


def _required(body: dict[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise InvalidParam(f"{name} is required")
    return body[name]


class LocalEngine:
    """The contract served from this process: vision models, SQLite store, signed page tokens.

    ``appkeys``: the keys accepted (None accepts any, each seeing only its own groups).
    ``allow_private_urls``: let image URLs name loopback/private hosts (tests, local use).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        appkeys: Iterable[str] | None = None,
        allow_private_urls: bool = False,
        group_quota: int = GROUP_QUOTA,
        token_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        url_timeout_s: float = 10.0,
        analyzer: FaceAnalyzer | None = None,
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.secrets = EngineSecrets(load_or_create_key(self.data_dir))
        self.appkeys = frozenset(appkeys) if appkeys is not None else None
        self.service = FaceService(
            Store(self.data_dir, self.secrets),
            analyzer or shared_analyzer(),
            PageTokens(self.secrets, token_ttl_s),
            UrlPolicy(allow_private_hosts=allow_private_urls, total_timeout=url_timeout_s),
            group_quota,
        )
        self._routes: dict[str, Callable[[str, dict[str, str], dict[str, str], Any], Any]] = {
            "create_group": self._create_group,
            "list_groups": self._list_groups,
            "get_group": self._get_group,
            "delete_group": self._delete_group,
            "detect": self._detect,
            "register_faces": self._register_faces,
            "delete_face": self._delete_face,
            "list_faces": self._list_faces,
            "search_by_face_id": self._search_by_face_id,
            "search_by_image": self._search_by_image,
            "compare": self._compare,
            "verify": self._verify,
        }
        assert set(self._routes) == set(ENDPOINTS), "every contract call has a route"

    def __repr__(self) -> str:
        return f"LocalEngine(data_dir={str(self.data_dir)!r})"

    @property
    def model_name(self) -> str:
        return self.service.analyzer.model_name

    def start_warm_up(self) -> None:
        """Load every model (the mask model too) on a background thread; requests meanwhile wait for that load."""
        self.service.analyzer.start_warm_up()

    @property
    def models_ready(self) -> bool:
        """Every model is loaded: the first request will not wait for one."""
        return self.service.analyzer.ready

    def handle(
        self, appkey: str, call: str, path_params: dict[str, str], query: dict[str, str], body: Any
    ) -> dict[str, Any]:
        """One request in wire form -> the whole response body. Never raises."""
        try:
            owner = self._owner(appkey)
            outcome = self._routes[call](owner, path_params, query, body)
        except ApiError as error:
            return response_body(ResultCode(error.result_code), message=error.message)
        except Exception:
            log.exception("internal error in %s", call)
            return response_body(ResultCode.InternalServerError)
        if isinstance(outcome, tuple):
            data, code = outcome
            return response_body(code, data)
        return response_body(ResultCode.Success, outcome)

    def _owner(self, appkey: str) -> str:
        if not appkey or (self.appkeys is not None and appkey not in self.appkeys):
            raise UnauthorizedAppKey("the appkey is not known to this server")
        return self.secrets.appkey_digest(appkey)

    # ------------------------------------------------------------ routes: wire -> service
    def _create_group(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> None:
        self.service.create_group(owner, check_group_id(_required(_body(body), "groupId")))

    def _list_groups(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> dict:
        return self.service.list_groups(owner, _query_int(query, "limit", LIST_LIMIT), query.get("next-token") or None)

    def _get_group(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> dict:
        return self.service.get_group(owner, check_group_id(path["group_id"]))

    def _delete_group(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> None:
        self.service.delete_group(owner, check_group_id(path["group_id"]))

    def _detect(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> dict:
        body = _body(body)
        return self.service.detect(_required(body, "image"), *_flags(body))

    def _register_faces(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> tuple:
        body = _body(body)
        group_id = check_group_id(path["group_id"])
        image = _required(body, "image")
        external_image_id = check_external_image_id(body.get("externalImageId"))
        limit = check_range("limit", body.get("limit", REGISTER_LIMIT.default), REGISTER_LIMIT)
        return self.service.register(owner, group_id, image, external_image_id, limit, *_flags(body))

    def _delete_face(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> None:
        self.service.delete_face(owner, check_group_id(path["group_id"]), check_face_id(path["face_id"]))

    def _list_faces(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> dict:
        group_id = check_group_id(path["group_id"])
        limit = _query_int(query, "limit", LIST_LIMIT)
        return self.service.list_faces(owner, group_id, limit, query.get("next-token") or None)

    def _search_by_face_id(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> dict:
        return self.service.search_by_face_id(
            owner,
            check_group_id(path["group_id"]),
            check_face_id(path["face_id"]),
            _query_int(query, "limit", SEARCH_LIMIT),
            _query_int(query, "threshold", THRESHOLD),
        )

    def _search_by_image(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> dict:
        body = _body(body)
        group_id = check_group_id(path["group_id"])
        limit, threshold = _query_int(query, "limit", SEARCH_LIMIT), _query_int(query, "threshold", THRESHOLD)
        return self.service.search_by_image(owner, group_id, _required(body, "image"), limit, threshold, *_flags(body))

    def _compare(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> dict:
        body = _body(body)
        source, target = _required(body, "sourceImage"), _required(body, "targetImage")
        return self.service.compare(source, target, _query_int(query, "threshold", THRESHOLD), *_flags(body))

    def _verify(self, owner: str, path: dict[str, str], query: dict[str, str], body: Any) -> dict:
        body = _body(body)
        group_id, face_id = check_group_id(path["group_id"]), check_face_id(path["face_id"])
        return self.service.verify(owner, group_id, face_id, _required(body, "compareImage"), *_flags(body))
