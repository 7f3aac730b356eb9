"""The NHN Cloud Face Recognition API v1.0 contract, defined once.

Every request (path, query and body, as one model per call), every response ``data`` shape, the result-code table, the
input rules (patterns, ranges, image size and format) and the table of the
twelve endpoints live here. The client, the local engine and the HTTP server
all import them, so a rule changes in one place only.
See ``../shared/spec/CONTRACT.md`` for the prose version.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator
from pydantic.alias_generators import to_camel

from facereco.allocation import collector_paused

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
# base64, plus the JSON around them (keys, flags, whitespace; 64 KiB is ample). Base64 holds '/',
# which encoders such as PHP's json_encode write as the legal escape '\/': 2 bytes for a character
# in the worst case, so the budget counts each base64 character twice. A server may refuse any body
# over this before reading it: no legal request, however it is escaped, is that big.
MAX_IMAGES_PER_REQUEST = 2
REQUEST_JSON_ALLOWANCE = 65_536
MAX_ESCAPED_BASE64_CHAR_BYTES = len(b"\\/")
MAX_REQUEST_BODY_BYTES = (
    MAX_IMAGES_PER_REQUEST * base64_length(MAX_IMAGE_BYTES) * MAX_ESCAPED_BASE64_CHAR_BYTES + REQUEST_JSON_ALLOWANCE
)
# ...and it holds a handful of JSON values (an image object or two, a few flags). Base64 holds no
# ',', '{' or '[', so counting them bounds what parsing a body can build: 16 MB of "[{},{},...]"
# would be 5 million objects and 400 MB; 4,096 values leave room for any extra keys a client adds.
MAX_REQUEST_JSON_VALUES = 4_096

GROUP_ID_PATTERN = re.compile(r"[a-z0-9-]{1,255}")
EXTERNAL_IMAGE_ID_PATTERN = re.compile(r"[a-zA-Z0-9_.\-:]{1,255}")


@dataclass(frozen=True)
class IntRange:
    """An inclusive integer range with the contract's default."""

    low: int
    high: int
    default: int


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


# An image that must supply a face but holds none: the guide names no code, so -40000 with this message.
NO_FACE_MESSAGE = "no face found in {field}"


def is_no_face_message(result_code: int, message: str) -> bool:
    """Whether a result is the contract's "this image holds no face" (search by image, compare, verify)."""
    return result_code == ResultCode.InvalidParam and message.startswith(NO_FACE_MESSAGE.split("{", 1)[0])


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

    Unknown fields are ignored (``extra="ignore"``), so a newer cloud never breaks parsing; they stay in the
    result's ``raw`` JSON, and ignoring them makes a 4,096-match answer about a third cheaper to parse.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

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
        with collector_paused():  # thousands of small objects for a long search answer
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
# Each call's request is one model: its path parameters, query parameters and body fields, with
# the contract's types, patterns and ranges. The client builds and serialises it, the engine
# parses what arrives into it (``facereco.validation``), the server's OpenAPI schema is made from
# it: a field or a range changes here and all of them follow.
@dataclass(frozen=True)
class Wire:
    """Where a request field travels, and the result code for a value that breaks its pattern or range.

    A wrong type or a missing value is always InvalidParam; only the pattern/range code varies by call
    (create group's body groupId is InvalidGroupID, every other groupId InvalidParam, as the guide's
    error tables list).
    """

    place: Literal["path", "query", "body"]
    broken_rule: ResultCode = ResultCode.InvalidParam


IN_PATH = Wire("path")
IN_QUERY = Wire("query")
IN_BODY = Wire("body")
# pydantic's error types for "right type, breaks the rule"; every other error is InvalidParam.
RULE_ERROR_TYPES = frozenset(
    {"string_pattern_mismatch", "string_too_short", "string_too_long", "greater_than_equal", "less_than_equal"}
)
# ASCII digits only: int() would also take Arabic-Indic or mathematical digits, which no client sends.
_QUERY_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")


def _int_from_query(value: object) -> object:
    """Query values arrive as text: a digit string becomes an int, anything else stays for strict checking."""
    if isinstance(value, str) and _QUERY_INTEGER.fullmatch(value):
        return int(value)
    return value


def within(allowed: IntRange) -> Any:
    """The pydantic constraint for an IntRange."""
    return Field(ge=allowed.low, le=allowed.high)


def query_int(allowed: IntRange) -> Any:
    """An integer query parameter in a range. The range sits before the text-to-int step so that
    it lands in the integer's own schema (OpenAPI ``minimum``/``maximum``)."""
    return Annotated[int, IN_QUERY, within(allowed), BeforeValidator(_int_from_query)]


def matching(pattern: re.Pattern[str]) -> Any:
    """The pydantic constraint for one of the contract's patterns (matched whole)."""
    return Field(pattern=f"^{pattern.pattern}$")


GroupIdInPath = Annotated[str, IN_PATH, matching(GROUP_ID_PATTERN)]
FaceIdInPath = Annotated[str, IN_PATH, Field(min_length=1, max_length=255)]


class RequestModel(BaseModel):
    """Base of every call's request: strict types (no "3" for 3 in a JSON body), unknown fields refused."""

    model_config = ConfigDict(strict=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ImageRef(RequestModel):
    """An image object: exactly one of ``url`` or ``bytes`` (base64)."""

    # More keys beside url/bytes are ignored, as unknown keys of the body itself are.
    model_config = ConfigDict(extra="ignore")

    url: str | None = None
    bytes: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ImageRef:
        if (self.url is None) == (self.bytes is None):
            raise ValueError("an image object holds exactly one of url or bytes")
        return self


class ImageOptions(RequestModel):
    """The two switches of every call that analyses an image."""

    orientation: bool = False
    mask: bool = False


class CreateGroupRequest(RequestModel):
    group_id: Annotated[str, Wire("body", ResultCode.InvalidGroupID), matching(GROUP_ID_PATTERN)]


class PageRequest(RequestModel):
    """A listing page. A token fixed its limit when it was issued: a limit sent beside it is ignored."""

    limit: query_int(LIST_LIMIT) = LIST_LIMIT.default
    # A token too long to be ours is a bad token (-40040), like any other we did not issue.
    next_token: Annotated[
        str | None, Wire("query", ResultCode.InvalidTokenError), Field(alias="next-token", max_length=4096)
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _token_fixes_limit(cls, data: Any) -> Any:
        if isinstance(data, dict) and (data.get("next_token") or data.get("next-token")):
            return {k: v for k, v in data.items() if k != "limit"}
        return data


class GroupRequest(RequestModel):
    group_id: GroupIdInPath


class FaceRequest(GroupRequest):
    face_id: FaceIdInPath


class ListFacesRequest(GroupRequest, PageRequest):
    pass


class DetectRequest(ImageOptions):
    image: ImageRef


class RegisterRequest(DetectRequest):
    group_id: GroupIdInPath
    external_image_id: Annotated[str | None, matching(EXTERNAL_IMAGE_ID_PATTERN)] = None
    limit: Annotated[int, within(REGISTER_LIMIT)] = REGISTER_LIMIT.default


class SearchRequest(RequestModel):
    limit: query_int(SEARCH_LIMIT) = SEARCH_LIMIT.default
    threshold: query_int(THRESHOLD) = THRESHOLD.default


class SearchByFaceIdRequest(FaceRequest, SearchRequest):
    pass


class SearchByImageRequest(GroupRequest, SearchRequest, DetectRequest):
    pass


class CompareRequest(ImageOptions):
    threshold: query_int(THRESHOLD) = THRESHOLD.default
    source_image: ImageRef
    target_image: ImageRef


class VerifyRequest(FaceRequest, ImageOptions):
    compare_image: ImageRef


@dataclass(frozen=True)
class WireField:
    """One request field as it travels: ``key`` is its name in the path, the query or the body."""

    name: str
    alias: str
    key: str
    wire: Wire


@functools.cache
def wire_fields(model: type[RequestModel]) -> dict[str, WireField]:
    """A request model's fields by Python name (path parameters keep it: they fill ``{group_id}``)."""
    fields = {}
    for name, info in model.model_fields.items():
        wire = next((m for m in info.metadata if isinstance(m, Wire)), IN_BODY)
        alias = info.alias or name
        fields[name] = WireField(name, alias, name if wire.place == "path" else alias, wire)
    return fields


def request_parts(request: RequestModel) -> tuple[dict[str, str], dict[str, Any], dict[str, Any] | None]:
    """A request as (path parameters, query parameters, JSON body); the body is None for calls without one.

    Only the fields that were given travel (a limit beside a next-token was dropped by the model).
    """
    fields = wire_fields(type(request)).values()
    values = request.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)
    parts: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "body": {}}
    for field in fields:
        if field.alias in values:
            parts[field.wire.place][field.key] = values[field.alias]
    has_body = any(f.wire.place == "body" for f in fields)
    return parts["path"], parts["query"], parts["body"] if has_body else None


# ---------------------------------------------------------------- endpoints
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
