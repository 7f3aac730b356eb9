"""The NHN Cloud Face Recognition API v1.0 contract, defined once.

Every request body, every response ``data`` shape, the result-code table, the
input rules (patterns, ranges, image size and format) and the table of the
twelve endpoints live here. The client, the local engine and the HTTP server
all import them, so a rule changes in one place only.
See ``../shared/spec/CONTRACT.md`` for the prose version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic.alias_generators import to_camel

API_PREFIX = "/nhn-face-reco/v1.0/appkeys/{appKey}"
CLOUD_BASE_URL = "https://face-recognition.api.nhncloudservice.com"
MODEL_VERSION = "v1.0"

# ---------------------------------------------------------------- input rules
MAX_IMAGE_BYTES = 3_000_000
MIN_IMAGE_SIDE = 80
MIN_FACE_SIDE = 60
MAX_IMAGE_SIDE = 2048
MAX_DETECTED_FACES = 20
MAX_TURN_DEGREES = 45.0
ALLOWED_URL_PORTS = frozenset({80, 443, *range(10000, 12001)})
GROUP_QUOTA = 100_000


def base64_length(size: int) -> int:
    """Characters of padded base64 for ``size`` bytes."""
    return 4 * -(-size // 3)


# The largest legal request is compare: sourceImage and targetImage, each up to MAX_IMAGE_BYTES as
# base64, plus the JSON around them (keys, flags, whitespace; 64 KiB is ample). A server may refuse
# any body over this before reading it: no legal request is that big.
MAX_IMAGES_PER_REQUEST = 2
REQUEST_JSON_ALLOWANCE = 65_536
MAX_REQUEST_BODY_BYTES = MAX_IMAGES_PER_REQUEST * base64_length(MAX_IMAGE_BYTES) + REQUEST_JSON_ALLOWANCE

GROUP_ID_PATTERN = re.compile(r"[a-z0-9-]{1,255}")
EXTERNAL_IMAGE_ID_PATTERN = re.compile(r"[a-zA-Z0-9_.\-:]{1,255}")


@dataclass(frozen=True)
class IntRange:
    """An inclusive integer range with the contract's default."""

    low: int
    high: int
    default: int

    def contains(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


LIST_LIMIT = IntRange(1, 200, 100)
REGISTER_LIMIT = IntRange(1, 20, 3)
SEARCH_LIMIT = IntRange(1, 4096, 100)
THRESHOLD = IntRange(1, 100, 90)


# ---------------------------------------------------------------- result codes
class ResultCode(IntEnum):
    """Every result code the contract names; the name is the guide's resultMessage."""

    Success = 0
    ServiceQuotaExceededPartialSuccessException = 40070
    InvalidParam = -40000
    InvalidGroupID = -40010
    DuplicatedGroupID = -40020
    NotFoundGroupError = -40030
    InvalidTokenError = -40040
    NotFoundFaceIDError = -40050
    ServiceQuotaExceededException = -40070
    UnauthorizedAppKey = -41000
    ImageTooLargeException = -45020
    InvalidImageBytesException = -45030
    InvalidImageFormatException = -45040
    InvalidImageURLException = -45050
    ImageTimeoutError = -45060
    InvalidImageFileException = -45080
    InternalServerError = -50000

    @property
    def message(self) -> str:
        return self.name


def header(code: ResultCode, message: str | None = None) -> dict[str, Any]:
    """The response body header the cloud sends for ``code``."""
    return {"isSuccessful": code >= 0, "resultCode": int(code), "resultMessage": message or code.message}


def response_body(code: ResultCode, data: dict[str, Any] | None = None, message: str | None = None) -> dict[str, Any]:
    """A whole response body: header, plus ``data`` when there is any."""
    body: dict[str, Any] = {"header": header(code, message)}
    if data is not None:
        body["data"] = data
    return body


# ---------------------------------------------------------------- image format
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def sniff_image_format(data: bytes) -> Literal["png", "jpeg"] | None:
    """PNG or JPEG by magic bytes, else None (the contract accepts only these two)."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    return None


# ---------------------------------------------------------------- models
class ContractModel(BaseModel):
    """Base of every contract shape: camelCase on the wire, snake_case in Python.

    Unknown fields are kept (``extra="allow"``) so a newer cloud never breaks parsing.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict the API sends or expects (camelCase, no nulls)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class BoundingBox(ContractModel):
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


LandmarkType = Literal["leftEye", "rightEye", "nose", "leftLip", "rightLip"]
LANDMARK_TYPES: tuple[LandmarkType, ...] = ("leftEye", "rightEye", "nose", "leftLip", "rightLip")


class Landmark(ContractModel):
    type: LandmarkType
    x: float
    y: float


class Orientation(ContractModel):
    """Head pose in degrees: x = yaw, y = pitch, z = roll."""

    x: float
    y: float
    z: float


def confidence_percent(value: float) -> float:
    """Confidence as percent: the guide shows both 99.89 and 0.9999; a value <= 1 is a fraction."""
    return value * 100.0 if value <= 1.0 else value


class FaceDetail(ContractModel):
    bbox: BoundingBox
    landmarks: list[Landmark] = Field(default_factory=list)
    orientation: Orientation | None = None
    mask: bool | None = None
    confidence: float

    @property
    def confidence_percent(self) -> float:
        return confidence_percent(self.confidence)


class Face(ContractModel):
    """A face stored in a group."""

    face_id: str
    image_id: str
    external_image_id: str | None = None
    bbox: BoundingBox
    confidence: float


class FaceMatch(ContractModel):
    face: Face
    similarity: float


class FaceDetailMatch(ContractModel):
    face_detail: FaceDetail
    similarity: float


class Group(ContractModel):
    group_id: str
    model_version: str
    create_time: str | None = None
    face_count: int | None = None


class ResultHeader(ContractModel):
    is_successful: bool
    result_code: int
    result_message: str


class ApiResult(ContractModel):
    """Base of every call's result: the ``data`` fields, the header, and the raw JSON body."""

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)
    _header: ResultHeader | None = PrivateAttr(default=None)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ApiResult:
        """Parse a whole response body (header + data) and keep it verbatim."""
        result = cls.model_validate(body.get("data") or {})
        result._raw = body
        result._header = ResultHeader.model_validate(body["header"])
        return result

    @property
    def raw(self) -> dict[str, Any]:
        """The exact JSON body the API answered."""
        return self._raw

    @property
    def result_code(self) -> int:
        return self._header.result_code if self._header else 0

    @property
    def result_message(self) -> str:
        return self._header.result_message if self._header else ResultCode.Success.message

    @property
    def is_partial(self) -> bool:
        """True for a partial success (resultCode > 0, e.g. 40070 on register)."""
        return self.result_code > 0


class EmptyResult(ApiResult):
    """Result of calls that return no data (create/delete group, delete face)."""


class GroupList(ApiResult):
    group_count: int
    groups: list[Group] = Field(default_factory=list)
    next_token: str | None = None


class GroupDetail(ApiResult):
    group_count: int
    groups: list[Group] = Field(default_factory=list)

    @property
    def group(self) -> Group:
        return self.groups[0]


class DetectResult(ApiResult):
    face_detail_count: int
    face_details: list[FaceDetail] = Field(default_factory=list)


class RegisterResult(ApiResult):
    model_version: str
    added_face_count: int
    added_faces: list[Face] = Field(default_factory=list)
    added_face_details: list[FaceDetail] = Field(default_factory=list)
    not_added_face_count: int
    not_added_faces: list[FaceDetail] = Field(default_factory=list)


class FaceList(ApiResult):
    model_version: str
    face_count: int
    faces: list[Face] = Field(default_factory=list)
    next_token: str | None = None


class SearchResult(ApiResult):
    """Search by faceId (no sourceFace) or by image (with sourceFace)."""

    model_version: str | None = None
    match_face_count: int
    match_faces: list[FaceMatch] = Field(default_factory=list)
    source_face: FaceDetail | None = None


class CompareResult(ApiResult):
    model_version: str
    matched_face_detail_count: int
    matched_face_details: list[FaceDetailMatch] = Field(default_factory=list)
    unmatched_face_detail_count: int
    unmatched_face_details: list[FaceDetailMatch] = Field(default_factory=list)
    source_face: FaceDetail


class VerifyResult(ApiResult):
    similarity: float
    face: Face
    source_face: FaceDetail


# ---------------------------------------------------------------- requests
class ImageRef(ContractModel):
    """An image object: exactly one of ``url`` or ``bytes`` (base64)."""

    url: str | None = None
    bytes: str | None = None


class CreateGroupRequest(ContractModel):
    group_id: str


class DetectRequest(ContractModel):
    image: ImageRef
    orientation: bool = False
    mask: bool = False


class RegisterRequest(DetectRequest):
    external_image_id: str | None = None
    limit: int = REGISTER_LIMIT.default


class SearchImageRequest(DetectRequest):
    pass


class CompareRequest(ContractModel):
    source_image: ImageRef
    target_image: ImageRef
    orientation: bool = False
    mask: bool = False


class VerifyRequest(ContractModel):
    compare_image: ImageRef
    orientation: bool = False
    mask: bool = False


# ---------------------------------------------------------------- endpoints
@dataclass(frozen=True)
class Endpoint:
    """One call of the API: how it travels and what it carries.

    ``retry_safe`` marks calls that change nothing, so a transport may send them
    again after a timeout; create group, register and the deletes are never re-sent.
    """

    name: str
    method: Literal["GET", "POST", "DELETE"]
    path: str
    result: type[ApiResult]
    request: type[ContractModel] | None = None
    query: tuple[str, ...] = ()
    retry_safe: bool = False

    def render_path(self, **path_params: str) -> str:
        """The path below the appkey prefix with its parameters filled in."""
        return self.path.format(**path_params)


ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("create_group", "POST", "/groups", EmptyResult, CreateGroupRequest),
        Endpoint("list_groups", "GET", "/groups", GroupList, query=("limit", "next-token"), retry_safe=True),
        Endpoint("get_group", "GET", "/groups/{group_id}", GroupDetail, retry_safe=True),
        Endpoint("delete_group", "DELETE", "/groups/{group_id}", EmptyResult),
        Endpoint("detect", "POST", "/detect", DetectResult, DetectRequest, retry_safe=True),
        Endpoint("register_faces", "POST", "/groups/{group_id}", RegisterResult, RegisterRequest),
        Endpoint("delete_face", "DELETE", "/groups/{group_id}/faces/{face_id}", EmptyResult),
        Endpoint(
            "list_faces", "GET", "/groups/{group_id}/faces", FaceList, query=("limit", "next-token"), retry_safe=True
        ),
        Endpoint(
            "search_by_face_id",
            "GET",
            "/groups/{group_id}/faces/{face_id}",
            SearchResult,
            query=("limit", "threshold"),
            retry_safe=True,
        ),
        Endpoint(
            "search_by_image",
            "POST",
            "/groups/{group_id}/search",
            SearchResult,
            SearchImageRequest,
            query=("limit", "threshold"),
            retry_safe=True,
        ),
        Endpoint("compare", "POST", "/compare", CompareResult, CompareRequest, query=("threshold",), retry_safe=True),
        Endpoint(
            "verify", "POST", "/verify/groups/{group_id}/faces/{face_id}", VerifyResult, VerifyRequest, retry_safe=True
        ),
    )
}
