"""What each call answers: the ``data`` shapes, parsed into typed results that keep the raw body."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from pydantic.alias_generators import to_camel

from facereco.contract.allocation import collector_paused
from facereco.contract.codes import ResultCode


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
