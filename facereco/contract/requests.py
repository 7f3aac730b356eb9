"""What each call carries: one request model per call (path, query and body fields in one place)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from facereco.contract.codes import ResultCode
from facereco.contract.rules import (
    EXTERNAL_IMAGE_ID_PATTERN,
    GROUP_ID_PATTERN,
    LIST_LIMIT,
    REGISTER_LIMIT,
    SEARCH_LIMIT,
    THRESHOLD,
    IntRange,
)


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


# The query integers the calls take, as named types (a type checker reads these; query_int builds others).
ListLimitQuery = Annotated[int, IN_QUERY, within(LIST_LIMIT), BeforeValidator(_int_from_query)]
SearchLimitQuery = Annotated[int, IN_QUERY, within(SEARCH_LIMIT), BeforeValidator(_int_from_query)]
ThresholdQuery = Annotated[int, IN_QUERY, within(THRESHOLD), BeforeValidator(_int_from_query)]


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

    limit: ListLimitQuery = LIST_LIMIT.default
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
    limit: SearchLimitQuery = SEARCH_LIMIT.default
    threshold: ThresholdQuery = THRESHOLD.default


class SearchByFaceIdRequest(FaceRequest, SearchRequest):
    pass


class SearchByImageRequest(GroupRequest, SearchRequest, DetectRequest):
    pass


class CompareRequest(ImageOptions):
    threshold: ThresholdQuery = THRESHOLD.default
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
