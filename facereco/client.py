"""FaceRecoClient: one typed method per call of the Face Recognition API v1.0.

The client builds each call's request model from ``facereco.contract`` (checking
inputs before sending, raising what the server would), serialises it generically,
hands it to a transport (HTTP, or the in-process local engine) and turns the answer
into a result model or an ``ApiError``.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union

from pydantic import ValidationError

from facereco.contract import (
    CLOUD_BASE_URL,
    ENDPOINTS,
    LIST_LIMIT,
    REGISTER_LIMIT,
    SEARCH_LIMIT,
    THRESHOLD,
    ApiResult,
    CompareResult,
    DetectResult,
    EmptyResult,
    Endpoint,
    Face,
    FaceList,
    Group,
    GroupDetail,
    GroupList,
    RegisterResult,
    RequestModel,
    SearchResult,
    VerifyResult,
)
from facereco.contract.requests import request_parts
from facereco.errors import ApiError, BadResponse, DuplicatedGroupID
from facereco.paging import Page, PageIterator
from facereco.transport import HttpTransport, LocalTransport, PreparedCall, RetryPolicy, Transport
from facereco.validation import build_request, check_image_bytes, check_image_url


@dataclass(frozen=True)
class ImageUrl:
    """An image the API fetches itself: always sent as ``{"url": ...}``, never read as a local file.

    What the dashboard sends for its URL box, so no text a visitor types can name a file here.
    """

    url: str


if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    ImageInput = Union[bytes, str, os.PathLike[str], PILImage, ImageUrl]
else:
    ImageInput = Any

T = TypeVar("T")
R = TypeVar("R", bound=ApiResult)
P = TypeVar("P", GroupList, FaceList)  # the listings: a page of items and a next-token


def image_to_bytes(image: Any) -> bytes:
    """Bytes of an image given as bytes, a file path or a PIL image (PNG if it has alpha, else JPEG)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if isinstance(image, (str, os.PathLike)):
        return Path(image).read_bytes()
    if hasattr(image, "save") and hasattr(image, "mode"):
        buffer = io.BytesIO()
        if image.mode in ("RGBA", "LA", "P"):
            image.save(buffer, format="PNG")
        else:
            image.convert("RGB").save(buffer, format="JPEG", quality=95)
        return buffer.getvalue()
    raise TypeError(f"unsupported image input: {type(image).__name__}")


def image_ref(image: ImageInput) -> dict[str, str]:
    """The contract's image object: ``{"url": ...}`` for a URL (http/https only), else ``{"bytes": base64}``.

    An ``ImageUrl``, or a ``str`` containing ``://``, is a URL; any other ``str`` or path is a file on
    this machine, read here (a convenience of the Python client: never pass text from a visitor).
    """
    if isinstance(image, ImageUrl):
        return {"url": check_image_url(image.url)}
    if isinstance(image, str) and "://" in image:
        return {"url": check_image_url(image)}
    data = image_to_bytes(image)
    check_image_bytes(data)
    return {"bytes": base64.b64encode(data).decode("ascii")}


def _analysis_of(image: ImageInput, orientation: bool, mask: bool) -> dict[str, Any]:
    """The fields of a call that analyses one image: the image object and its two switches."""
    return {"image": image_ref(image), "orientation": orientation, "mask": mask}


class FaceRecoClient:
    """A client for the cloud, for ``python -m facereco serve``, or for the in-process engine.

    ``FaceRecoClient(appkey)`` talks to the NHN cloud; ``base_url`` points it elsewhere;
    ``FaceRecoClient.local()`` runs the local engine in this process;
    ``FaceRecoClient.from_env()`` picks the cloud when ``FACERECO_APPKEY`` is set, else local.
    """

    def __init__(
        self,
        appkey: str | None = None,
        base_url: str | None = None,
        *,
        transport: Transport | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if transport is None:
            appkey = appkey or os.environ.get("FACERECO_APPKEY")
            if not appkey:
                raise ValueError("an appkey is required: pass appkey= or set FACERECO_APPKEY (or use .local())")
            transport = HttpTransport(
                appkey,
                base_url or os.environ.get("FACERECO_BASE_URL") or CLOUD_BASE_URL,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retry=retry,
            )
        self.transport = transport

    def __repr__(self) -> str:
        return f"FaceRecoClient({self.transport!r})"

    @classmethod
    def local(cls, data_dir: str | os.PathLike[str] | None = None, **engine_options: Any) -> FaceRecoClient:
        """A client on the in-process local engine (no server, no appkey, no network)."""
        from facereco.engine import LocalEngine

        return cls(transport=LocalTransport(LocalEngine(data_dir=data_dir, **engine_options)))

    @classmethod
    def from_env(cls) -> FaceRecoClient:
        """The cloud (or FACERECO_BASE_URL) when FACERECO_APPKEY is set, else the local engine."""
        if os.environ.get("FACERECO_APPKEY"):
            return cls()
        return cls.local()

    @property
    def is_local(self) -> bool:
        return isinstance(self.transport, LocalTransport)

    # ------------------------------------------------------------ plumbing
    def _call(self, result: type[R], name: str, **values: Any) -> R:
        """Build the call's request model (raising what the server would), send it, parse the answer.

        ``result`` is the call's result model (``ENDPOINTS[name].result``), named here so that each
        method's return type is checked. A value of None means "not given": the contract's default applies.
        """
        endpoint = ENDPOINTS[name]
        assert endpoint.result is result, f"{name} answers {endpoint.result.__name__}"
        request = build_request(endpoint.request, **{k: v for k, v in values.items() if v is not None})
        parsed = self._send(endpoint, request)
        assert isinstance(parsed, result)
        return parsed

    def _send(self, endpoint: Endpoint, request: RequestModel) -> ApiResult:
        call = PreparedCall(endpoint, *request_parts(request))
        answer = self.transport.send(call)
        head = answer.get("header") or {}
        code = head.get("resultCode")
        if not isinstance(code, int):
            raise BadResponse("the answer's header has no integer resultCode", call.info())
        if code < 0:
            raise ApiError.for_code(code, head.get("resultMessage"), call.info())
        try:
            return endpoint.result.from_body(answer)
        except ValidationError as exc:
            raise BadResponse(
                f"the answer does not match the contract: {exc.error_count()} field error(s)", call.info()
            ) from None

    def _pages(self, page_type: type[P], name: str, items: Callable[[P], list[T]], **values: Any) -> PageIterator[T]:
        """Every item of a listing, page by page (later pages carry the token, which keeps the first limit)."""
        endpoint = ENDPOINTS[name]
        build_request(endpoint.request, **values)  # bad values raise here, not at the first page

        def fetch(token: str | None) -> Page[T]:
            page = self._call(page_type, name, **values, next_token=token)
            return Page(items(page), page.next_token)

        return PageIterator(fetch)

    # ------------------------------------------------------------ groups
    def create_group(self, group_id: str) -> EmptyResult:
        """Create an empty group (groupId: 1-255 of [a-z0-9-])."""
        return self._call(EmptyResult, "create_group", group_id=group_id)

    def ensure_group(self, group_id: str) -> bool:
        """Create the group unless it exists; True when it was created."""
        try:
            self.create_group(group_id)
        except DuplicatedGroupID:
            return False
        return True

    def list_groups(self, limit: int | None = None, next_token: str | None = None) -> GroupList:
        """One page of groups; pass ``next_token`` from the previous page for the next (it keeps its limit)."""
        return self._call(GroupList, "list_groups", limit=limit, next_token=next_token)

    def iter_groups(self, limit: int = LIST_LIMIT.default) -> PageIterator[Group]:
        """Every group, walking the pages."""
        return self._pages(GroupList, "list_groups", lambda page: page.groups, limit=limit)

    def get_group(self, group_id: str) -> GroupDetail:
        """A group's detail: model version, creation time, face count."""
        return self._call(GroupDetail, "get_group", group_id=group_id)

    def delete_group(self, group_id: str) -> EmptyResult:
        """Delete a group and all its faces."""
        return self._call(EmptyResult, "delete_group", group_id=group_id)

    # ------------------------------------------------------------ faces
    def detect(self, image: ImageInput, *, orientation: bool = False, mask: bool = False) -> DetectResult:
        """Every face (up to 20, largest first) with box, five landmarks and confidence."""
        return self._call(DetectResult, "detect", **_analysis_of(image, orientation, mask))

    def register_faces(
        self,
        group_id: str,
        image: ImageInput,
        *,
        external_image_id: str | None = None,
        limit: int = REGISTER_LIMIT.default,
        orientation: bool = False,
        mask: bool = False,
    ) -> RegisterResult:
        """Add the image's largest faces (up to ``limit``) to a group. Never retried.

        A partial success (40070, the group filled up) is not raised: check ``result.is_partial``.
        """
        return self._call(
            RegisterResult,
            "register_faces",
            group_id=group_id,
            external_image_id=external_image_id,
            limit=limit,
            **_analysis_of(image, orientation, mask),
        )

    def delete_face(self, group_id: str, face_id: str) -> EmptyResult:
        """Remove one face from a group."""
        return self._call(EmptyResult, "delete_face", group_id=group_id, face_id=face_id)

    def list_faces(self, group_id: str, limit: int | None = None, next_token: str | None = None) -> FaceList:
        """One page of a group's faces, newest first; ``face_count`` is the whole group's."""
        return self._call(FaceList, "list_faces", group_id=group_id, limit=limit, next_token=next_token)

    def iter_faces(self, group_id: str, limit: int = LIST_LIMIT.default) -> PageIterator[Face]:
        """Every face of a group, walking the pages (the token keeps the first page's limit)."""
        return self._pages(FaceList, "list_faces", lambda page: page.faces, group_id=group_id, limit=limit)

    def search_by_face_id(
        self, group_id: str, face_id: str, *, limit: int = SEARCH_LIMIT.default, threshold: int = THRESHOLD.default
    ) -> SearchResult:
        """Faces of the group like a stored face, highest similarity first (the face itself excluded)."""
        return self._call(
            SearchResult, "search_by_face_id", group_id=group_id, face_id=face_id, limit=limit, threshold=threshold
        )

    def search_by_image(
        self,
        group_id: str,
        image: ImageInput,
        *,
        limit: int = SEARCH_LIMIT.default,
        threshold: int = THRESHOLD.default,
        orientation: bool = False,
        mask: bool = False,
    ) -> SearchResult:
        """Faces of the group like the image's largest face, highest similarity first."""
        return self._call(
            SearchResult,
            "search_by_image",
            group_id=group_id,
            limit=limit,
            threshold=threshold,
            **_analysis_of(image, orientation, mask),
        )

    def compare(
        self,
        source: ImageInput,
        target: ImageInput,
        *,
        threshold: int = THRESHOLD.default,
        orientation: bool = False,
        mask: bool = False,
    ) -> CompareResult:
        """The source's largest face against every face of the target, split by threshold."""
        return self._call(
            CompareResult,
            "compare",
            source_image=image_ref(source),
            target_image=image_ref(target),
            threshold=threshold,
            orientation=orientation,
            mask=mask,
        )

    def verify(
        self, group_id: str, face_id: str, image: ImageInput, *, orientation: bool = False, mask: bool = False
    ) -> VerifyResult:
        """Similarity between a stored face and the image's largest face."""
        return self._call(
            VerifyResult,
            "verify",
            group_id=group_id,
            face_id=face_id,
            compare_image=image_ref(image),
            orientation=orientation,
            mask=mask,
        )


__all__ = ["FaceRecoClient", "ImageInput", "ImageUrl", "image_ref", "image_to_bytes"]
