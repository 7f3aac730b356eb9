"""LocalEngine: the wire-level entry of the local engine, shared by the in-process transport and the server.

``handle(appkey, call, path_params, query, body)`` takes a request as it arrives
on the wire (query values are strings, the body is parsed JSON), parses it into the
call's request model from ``facereco.contract`` (``validation.parse_request``) and returns the
whole response body, exactly as the cloud would: a header with the result code,
and ``data`` where the call has any. It never raises: a contract error becomes
its result code, anything unexpected becomes -50000 with the details in the log.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from facereco.contract import ENDPOINTS, GROUP_QUOTA, ResultCode
from facereco.contract.codes import response_body
from facereco.engine.fetch import UrlPolicy
from facereco.engine.index import memory_budget_bytes
from facereco.engine.paths import default_data_dir
from facereco.engine.secrets import EngineSecrets, load_or_create_key
from facereco.engine.service import FaceService
from facereco.engine.store import Store
from facereco.engine.tokens import DEFAULT_TOKEN_TTL_S, PageTokens
from facereco.engine.vision import FaceAnalyzer, shared_analyzer
from facereco.errors import ApiError, UnauthorizedAppKey
from facereco.validation import parse_request

log = logging.getLogger("facereco.engine")


class LocalEngine:
    """The contract served from this process: vision models, SQLite store, signed page tokens.

    ``appkeys``: the keys accepted (None accepts any, each seeing only its own groups).
    ``allow_private_urls``: let image URLs name loopback/private hosts (tests, local use).
    ``index_memory_mb``: memory for loaded search indexes (default ``FACERECO_INDEX_MEMORY_MB``, else 1024);
    past it the least recently used groups are dropped and reloaded on demand.
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
        index_memory_mb: float | None = None,
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the key: owner only
        self.secrets = EngineSecrets(load_or_create_key(self.data_dir))
        self.appkeys = frozenset(appkeys) if appkeys is not None else None
        self.service = FaceService(
            Store(self.data_dir, self.secrets),
            analyzer or shared_analyzer(),
            PageTokens(self.secrets, token_ttl_s),
            UrlPolicy(allow_private_hosts=allow_private_urls, total_timeout=url_timeout_s),
            group_quota,
            memory_budget_bytes(index_memory_mb),
        )
        service = self.service
        # Wire -> service: each request arrives parsed and checked against its contract model.
        self._routes: dict[str, Callable[[str, Any], Any]] = {
            "create_group": lambda owner, r: service.create_group(owner, r.group_id),
            "list_groups": lambda owner, r: service.list_groups(owner, r.limit, r.next_token),
            "get_group": lambda owner, r: service.get_group(owner, r.group_id),
            "delete_group": lambda owner, r: service.delete_group(owner, r.group_id),
            "detect": lambda owner, r: service.detect(r.image, r.orientation, r.mask),
            "register_faces": lambda owner, r: service.register(
                owner, r.group_id, r.image, r.external_image_id, r.limit, r.orientation, r.mask
            ),
            "delete_face": lambda owner, r: service.delete_face(owner, r.group_id, r.face_id),
            "list_faces": lambda owner, r: service.list_faces(owner, r.group_id, r.limit, r.next_token),
            "search_by_face_id": lambda owner, r: service.search_by_face_id(
                owner, r.group_id, r.face_id, r.limit, r.threshold
            ),
            "search_by_image": lambda owner, r: service.search_by_image(
                owner, r.group_id, r.image, r.limit, r.threshold, r.orientation, r.mask
            ),
            "compare": lambda owner, r: service.compare(
                r.source_image, r.target_image, r.threshold, r.orientation, r.mask
            ),
            "verify": lambda owner, r: service.verify(
                owner, r.group_id, r.face_id, r.compare_image, r.orientation, r.mask
            ),
        }
        assert set(self._routes) == set(ENDPOINTS), "every contract call has a route"

    def __repr__(self) -> str:
        return f"LocalEngine(data_dir={str(self.data_dir)!r})"

    @property
    def model_description(self) -> str:
        """The face models this engine runs, in words (for a status line)."""
        return self.service.analyzer.model_name

    def warm_up(self, mask: bool = False) -> None:
        """Load the face models now (the mask model too when asked) rather than on the first request."""
        self.service.analyzer.warm_up(mask=mask)

    def start_warm_up(self) -> None:
        """Load every model (the mask model too) on a background thread; requests meanwhile wait for that load."""
        self.service.analyzer.start_warm_up()

    def close(self) -> None:
        """Stop the embedding worker process of this engine's analyzer and reap it.

        The process-wide analyzer's, unless another was given: every engine on it then embeds in-process
        until a ``start_warm_up`` starts a new worker.
        """
        self.service.analyzer.close()

    @property
    def url_policy(self) -> UrlPolicy:
        """The rules image URLs are fetched under (what this engine may fetch, the dashboard may fetch too)."""
        return self.service.url_policy

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
            request = parse_request(ENDPOINTS[call].request, path_params, query, body)
            outcome = self._routes[call](owner, request)
        except ApiError as error:
            return response_body(ResultCode(error.result_code), message=error.message)
        except Exception:
            log.exception("internal error in %s", call)
            return response_body(ResultCode.InternalServerError)
        if isinstance(outcome, tuple):
            data, code = outcome
            return response_body(code, data)
        return response_body(ResultCode.Success, outcome)

    def appkey_refusal(self, appkey: str) -> dict[str, Any] | None:
        """The answer to a request with an appkey this engine does not accept, else None: lets the
        server refuse before it reads (or makes room for) a body."""
        try:
            self._owner(appkey)
        except UnauthorizedAppKey as error:
            return response_body(ResultCode(error.result_code), message=error.message)
        return None

    def _owner(self, appkey: str) -> str:
        if not appkey or (self.appkeys is not None and appkey not in self.appkeys):
            raise UnauthorizedAppKey("the appkey is not known to this server")
        return self.secrets.appkey_digest(appkey)
