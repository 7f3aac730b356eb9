"""The NHN Cloud Face Recognition API v1.0 contract, defined once.

The client, the local engine and the HTTP server all import it, so a rule changes in one place only.
One module a concern; what a user imports (models, limits, patterns, result codes, the calls) is
re-exported here and listed in ``__all__``. How requests travel and how bodies are built (wire
fields, parsing helpers, the response-body builder) stays in the modules below, for the client,
the engine and the server:

- ``rules``: input rules (limits, patterns, ranges, the largest legal request, image formats);
- ``codes``: the result-code table and the response header each code makes;
- ``responses``: every response ``data`` shape, parsed into typed results;
- ``requests``: one request model per call (path, query and body fields), and how it travels;
- ``endpoints``: the twelve calls (method, path, request, result, retry safety).

See ``../shared/spec/CONTRACT.md`` for the prose version.
"""

from __future__ import annotations

from facereco.contract.codes import (
    NO_FACE_MESSAGE,
    ResultCode,
    is_no_face_message,
)
from facereco.contract.endpoints import (
    ENDPOINTS,
    Endpoint,
)
from facereco.contract.requests import (
    CompareRequest,
    CreateGroupRequest,
    DetectRequest,
    FaceRequest,
    GroupRequest,
    ImageOptions,
    ImageRef,
    ListFacesRequest,
    PageRequest,
    RegisterRequest,
    RequestModel,
    SearchByFaceIdRequest,
    SearchByImageRequest,
    SearchRequest,
    VerifyRequest,
)
from facereco.contract.responses import (
    LANDMARK_TYPES,
    ApiResult,
    BoundingBox,
    CompareResult,
    DetectResult,
    EmptyResult,
    Face,
    FaceDetail,
    FaceDetailMatch,
    FaceList,
    FaceMatch,
    Group,
    GroupDetail,
    GroupList,
    Landmark,
    LandmarkType,
    Orientation,
    RegisterResult,
    ResultHeader,
    SearchResult,
    VerifyResult,
)
from facereco.contract.rules import (
    ALLOWED_URL_PORTS,
    API_PREFIX,
    CLOUD_BASE_URL,
    EXTERNAL_IMAGE_ID_PATTERN,
    GROUP_ID_PATTERN,
    GROUP_QUOTA,
    LIST_LIMIT,
    MAX_ANSWER_BYTES,
    MAX_DETECTED_FACES,
    MAX_ESCAPED_BASE64_CHAR_BYTES,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_SIDE,
    MAX_IMAGES_PER_REQUEST,
    MAX_REQUEST_BODY_BYTES,
    MAX_REQUEST_JSON_VALUES,
    MAX_TURN_DEGREES,
    MIN_FACE_SIDE,
    MIN_IMAGE_SIDE,
    MODEL_VERSION,
    REGISTER_LIMIT,
    REQUEST_JSON_ALLOWANCE,
    SEARCH_LIMIT,
    THRESHOLD,
    IntRange,
)

# The cloud's default threshold (90), read from the contract's range rather than written again.
DEFAULT_THRESHOLD: int = THRESHOLD.default

__all__ = [
    "ALLOWED_URL_PORTS",
    "API_PREFIX",
    "ApiResult",
    "BoundingBox",
    "CLOUD_BASE_URL",
    "CompareRequest",
    "CompareResult",
    "CreateGroupRequest",
    "DEFAULT_THRESHOLD",
    "DetectRequest",
    "DetectResult",
    "ENDPOINTS",
    "EXTERNAL_IMAGE_ID_PATTERN",
    "EmptyResult",
    "Endpoint",
    "Face",
    "FaceDetail",
    "FaceDetailMatch",
    "FaceList",
    "FaceMatch",
    "FaceRequest",
    "GROUP_ID_PATTERN",
    "GROUP_QUOTA",
    "Group",
    "GroupDetail",
    "GroupList",
    "GroupRequest",
    "ImageOptions",
    "ImageRef",
    "IntRange",
    "LANDMARK_TYPES",
    "LIST_LIMIT",
    "Landmark",
    "LandmarkType",
    "ListFacesRequest",
    "MAX_ANSWER_BYTES",
    "MAX_DETECTED_FACES",
    "MAX_ESCAPED_BASE64_CHAR_BYTES",
    "MAX_IMAGES_PER_REQUEST",
    "MAX_IMAGE_BYTES",
    "MAX_IMAGE_SIDE",
    "MAX_REQUEST_BODY_BYTES",
    "MAX_REQUEST_JSON_VALUES",
    "MAX_TURN_DEGREES",
    "MIN_FACE_SIDE",
    "MIN_IMAGE_SIDE",
    "MODEL_VERSION",
    "NO_FACE_MESSAGE",
    "Orientation",
    "PageRequest",
    "REGISTER_LIMIT",
    "REQUEST_JSON_ALLOWANCE",
    "RegisterRequest",
    "RegisterResult",
    "RequestModel",
    "ResultCode",
    "ResultHeader",
    "SEARCH_LIMIT",
    "SearchByFaceIdRequest",
    "SearchByImageRequest",
    "SearchRequest",
    "SearchResult",
    "THRESHOLD",
    "VerifyRequest",
    "VerifyResult",
    "is_no_face_message",
]
