"""FaceRecoClient: one typed method per call of the Face Recognition API v1.0.

The client checks inputs before sending (raising what the server would), builds
the contract request, hands it to a transport (HTTP, or the in-process local
engine) and turns the answer into a result model or an ``ApiError``.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from pydantic import ValidationError

from facereco.contract import (
    CLOUD_BASE_URL,
    ENDPOINTS,
    LIST_LIMIT,
    REGISTER_LIMIT,
    SEARCH_LIMIT,
    THRESHOLD,
    CompareResult,
    DetectResult,
    EmptyResult,
    Face,
    FaceList,
    Group,
    GroupDetail,
    GroupList,
    RegisterResult,
    SearchResult,
    VerifyResult,
)
from facereco.errors import ApiError, BadResponse, DuplicatedGroupID
from facereco.paging import Page, PageIterator
from facereco.transport import HttpTransport, LocalTransport, PreparedCall, RetryPolicy, Transport
from facereco.validation import (
    check_external_image_id,
    check_face_id,
    check_group_id,
    check_image_bytes,
    check_image_url,
    check_range,
)


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
        from facereco.engine.api import LocalEngine

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
    def _call(
        self,
        name: str,
        path_params: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        call = PreparedCall(ENDPOINTS[name], path_params or {}, query or {}, body)
        answer = self.transport.send(call)
        head = answer.get("header") or {}
        code = head.get("resultCode")
        if not isinstance(code, int):
            raise BadResponse("the answer's header has no integer resultCode", call.info())
        if code < 0:
            raise ApiError.for_code(code, head.get("resultMessage"), call.info())
        try:
            return call.endpoint.result.from_body(answer)
        except ValidationError as exc:
            raise BadResponse(
                f"the answer does not match the contract: {exc.error_count()} field error(s)", call.info()
            ) from None

    @staticmethod
    def _image_options(orientation: bool, mask: bool) -> dict[str, bool]:
        return {"orientation": bool(orientation), "mask": bool(mask)}

    # ------------------------------------------------------------ groups
    def create_group(self, group_id: str) -> EmptyResult:
        """Create an empty group (groupId: 1-255 of [a-z0-9-])."""
        return self._call("create_group", body={"groupId": check_group_id(group_id)})

    def ensure_group(self, group_id: str) -> bool:
        """Create the group unless it exists; True when it was created."""
        try:
            self.create_group(group_id)
        except DuplicatedGroupID:
            return False
        return True

    def list_groups(self, limit: int | None = None, next_token: str | None = None) -> GroupList:
        """One page of groups; pass ``next_token`` from the previous page for the next."""
        return self._call("list_groups", query=self._page_query(limit, next_token))

    def iter_groups(self, limit: int = LIST_LIMIT.default) -> PageIterator[Group]:
        """Every group, walking the pages."""
        check_range("limit", limit, LIST_LIMIT)

        def fetch(token: str | None) -> Page[Group]:
            page = self.list_groups(limit=None if token else limit, next_token=token)
            return Page(page.groups, page.next_token)

        return PageIterator(fetch)

    def get_group(self, group_id: str) -> GroupDetail:
        """A group's detail: model version, creation time, face count."""
        return self._call("get_group", {"group_id": check_group_id(group_id)})

    def delete_group(self, group_id: str) -> EmptyResult:
        """Delete a group and all its faces."""
        return self._call("delete_group", {"group_id": check_group_id(group_id)})

    # ------------------------------------------------------------ faces
    def detect(self, image: ImageInput, *, orientation: bool = False, mask: bool = False) -> DetectResult:
        """Every face (up to 20, largest first) with box, five landmarks and confidence."""
        return self._call("detect", body={"image": image_ref(image), **self._image_options(orientation, mask)})

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
        body: dict[str, Any] = {
            "image": image_ref(image),
            "limit": check_range("limit", limit, REGISTER_LIMIT),
            **self._image_options(orientation, mask),
        }
        if check_external_image_id(external_image_id) is not None:
            body["externalImageId"] = external_image_id
        return self._call("register_faces", {"group_id": check_group_id(group_id)}, body=body)

    def delete_face(self, group_id: str, face_id: str) -> EmptyResult:
        """Remove one face from a group."""
        return self._call("delete_face", {"group_id": check_group_id(group_id), "face_id": check_face_id(face_id)})

    def list_faces(self, group_id: str, limit: int | None = None, next_token: str | None = None) -> FaceList:
        """One page of a group's faces, newest first."""
        return self._call("list_faces", {"group_id": check_group_id(group_id)}, self._page_query(limit, next_token))

    def iter_faces(self, group_id: str, limit: int = LIST_LIMIT.default) -> PageIterator[Face]:
        """Every face of a group, walking the pages (the token keeps the first page's limit)."""
        check_range("limit", limit, LIST_LIMIT)

        def fetch(token: str | None) -> Page[Face]:
            page = self.list_faces(group_id, limit=None if token else limit, next_token=token)
            return Page(page.faces, page.next_token)

        return PageIterator(fetch)

    def search_by_face_id(
        self, group_id: str, face_id: str, *, limit: int = SEARCH_LIMIT.default, threshold: int = THRESHOLD.default
    ) -> SearchResult:
        """Faces of the group like a stored face, highest similarity first (the face itself excluded)."""
        return self._call(
            "search_by_face_id",
            {"group_id": check_group_id(group_id), "face_id": check_face_id(face_id)},
            self._search_query(limit, threshold),
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
            "search_by_image",
            {"group_id": check_group_id(group_id)},
            self._search_query(limit, threshold),
            {"image": image_ref(image), **self._image_options(orientation, mask)},
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
        body = {
            "sourceImage": image_ref(source),
            "targetImage": image_ref(target),
            **self._image_options(orientation, mask),
        }
        return self._call("compare", query={"threshold": check_range("threshold", threshold, THRESHOLD)}, body=body)

    def verify(
        self, group_id: str, face_id: str, image: ImageInput, *, orientation: bool = False, mask: bool = False
    ) -> VerifyResult:
        """Similarity between a stored face and the image's largest face."""
        return self._call(
            "verify",
            {"group_id": check_group_id(group_id), "face_id": check_face_id(face_id)},
            body={"compareImage": image_ref(image), **self._image_options(orientation, mask)},
        )

    # ------------------------------------------------------------ query helpers
    @staticmethod
    def _page_query(limit: int | None, next_token: str | None) -> dict[str, Any]:
        # A token fixes its limit: with a token, send a limit only if the caller named one.
        if limit is None and not next_token:
            limit = LIST_LIMIT.default
        query: dict[str, Any] = {}
        if limit is not None:
            query["limit"] = check_range("limit", limit, LIST_LIMIT)
        if next_token:
            query["next-token"] = next_token
        return query

    @staticmethod
    def _search_query(limit: int, threshold: int) -> dict[str, Any]:
        return {
            "limit": check_range("limit", limit, SEARCH_LIMIT),
            "threshold": check_range("threshold", threshold, THRESHOLD),
        }


__all__ = ["FaceRecoClient", "ImageInput", "ImageUrl", "image_ref", "image_to_bytes"]
