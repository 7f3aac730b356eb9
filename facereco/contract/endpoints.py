"""The twelve calls: method, path, request model, result model, and whether a retry is safe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facereco.contract.requests import (
    CompareRequest,
    CreateGroupRequest,
    DetectRequest,
    FaceRequest,
    GroupRequest,
    ListFacesRequest,
    PageRequest,
    RegisterRequest,
    RequestModel,
    SearchByFaceIdRequest,
    SearchByImageRequest,
    VerifyRequest,
)
from facereco.contract.responses import (
    ApiResult,
    CompareResult,
    DetectResult,
    EmptyResult,
    FaceList,
    GroupDetail,
    GroupList,
    RegisterResult,
    SearchResult,
    VerifyResult,
)


@dataclass(frozen=True)
class Endpoint:
    """One call of the API: how it travels, what it carries (``request``) and what it answers (``result``).

    ``retry_safe`` marks calls that change nothing, so a transport may send them
    again after a timeout; create group, register and the deletes are never re-sent.
    """

    name: str
    method: Literal["GET", "POST", "DELETE"]
    path: str
    request: type[RequestModel]
    result: type[ApiResult]
    retry_safe: bool = False

    def render_path(self, **path_params: str) -> str:
        """The path below the appkey prefix with its parameters filled in."""
        return self.path.format(**path_params)


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("create_group", "POST", "/groups", CreateGroupRequest, EmptyResult),
        Endpoint("list_groups", "GET", "/groups", PageRequest, GroupList, retry_safe=True),
        Endpoint("get_group", "GET", "/groups/{group_id}", GroupRequest, GroupDetail, retry_safe=True),
        Endpoint("delete_group", "DELETE", "/groups/{group_id}", GroupRequest, EmptyResult),
        Endpoint("detect", "POST", "/detect", DetectRequest, DetectResult, retry_safe=True),
        Endpoint("register_faces", "POST", "/groups/{group_id}", RegisterRequest, RegisterResult),
        Endpoint("delete_face", "DELETE", "/groups/{group_id}/faces/{face_id}", FaceRequest, EmptyResult),
        Endpoint("list_faces", "GET", "/groups/{group_id}/faces", ListFacesRequest, FaceList, retry_safe=True),
        Endpoint(
            "search_by_face_id",
            "GET",
            "/groups/{group_id}/faces/{face_id}",
            SearchByFaceIdRequest,
            SearchResult,
            retry_safe=True,
        ),
        Endpoint(
            "search_by_image",
            "POST",
            "/groups/{group_id}/search",
            SearchByImageRequest,
            SearchResult,
            retry_safe=True,
        ),
        Endpoint("compare", "POST", "/compare", CompareRequest, CompareResult, retry_safe=True),
        Endpoint(
            "verify", "POST", "/verify/groups/{group_id}/faces/{face_id}", VerifyRequest, VerifyResult, retry_safe=True
        ),
    )
}
