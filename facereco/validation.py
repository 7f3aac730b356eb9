"""The contract's input checks, raising the exception the server would answer.

Requests: the client builds each call's request model with ``build_request`` (fail fast, no
round trip) and the local engine parses what arrives with ``parse_request``; both answer a
broken rule with the code the guide lists for that call. Images: the client checks the bytes
and URL it is about to send with the functions the engine runs on what it receives.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from facereco.contract import (
    ALLOWED_URL_PORTS,
    MAX_IMAGE_BYTES,
    RequestModel,
    ResultCode,
)
from facereco.contract.requests import RULE_ERROR_TYPES, wire_fields
from facereco.contract.rules import base64_length, sniff_image_format
from facereco.errors import (
    ApiError,
    ImageTooLarge,
    InvalidImageBytes,
    InvalidImageFormat,
    InvalidImageURL,
    InvalidParam,
)

R = TypeVar("R", bound=RequestModel)


def parse_request(model: type[R], path: dict[str, str], query: dict[str, str], body: object) -> R:
    """A call as it arrives on the wire (query values are text, the body is parsed JSON) -> its request model.

    Each field is read from the place the model says it travels, so a body key never fills a path
    parameter; an empty query value counts as absent (its default applies).
    """
    plan = _wire_plan(model)
    takes_body = any(place == "body" for _, place, _ in plan)
    if takes_body and not isinstance(body, dict):
        raise InvalidParam("the request body must be a JSON object")
    sources: dict[str, Any] = {
        "path": path,
        "query": {k: v for k, v in query.items() if v != ""},
        "body": body if takes_body else {},
    }
    values = {name: sources[place][key] for name, place, key in plan if key in sources[place]}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise request_error(model, exc) from None


@functools.cache
def _wire_plan(model: type[RequestModel]) -> tuple[tuple[str, str, str], ...]:
    """(field name, place, wire key) of each field: the hot path reads plain tuples."""
    return tuple((f.name, f.wire.place, f.key) for f in wire_fields(model).values())


def build_request(model: type[R], **values: Any) -> R:
    """A request model from Python values (the client's side): the same rules, the same exceptions."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise request_error(model, exc) from None


def request_error(model: type[RequestModel], exc: ValidationError) -> ApiError:
    """The contract's exception for a request that breaks its model: the first problem, in one sentence."""
    problem = exc.errors(include_url=False, include_input=False)[0]
    location = [str(part) for part in problem["loc"]]
    # pydantic names a field by the key it read, the wire alias (compareImage), not the Python name.
    field = next((f for f in wire_fields(model).values() if location and location[0] in (f.name, f.alias)), None)
    code = field.wire.broken_rule if field and problem["type"] in RULE_ERROR_TYPES else ResultCode.InvalidParam
    where = ".".join([field.key, *location[1:]]) if field else "request"
    return ApiError.for_code(int(code), f"{where}: {problem['msg']}")


def external_image_id_from(text: str) -> str:
    """Any text (a file name, say) made to fit externalImageId's pattern: other characters become '_'."""
    return re.sub(r"[^a-zA-Z0-9_.\-:]", "_", text)[:255] or "image"


def check_image_bytes(data: bytes) -> str:
    """Decoded image bytes: at most 3,000,000 bytes, PNG or JPEG by magic bytes. Returns the format."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"image is {len(data):,} bytes; the limit is {MAX_IMAGE_BYTES:,} bytes")
    if not data:
        raise InvalidImageFormat("image is empty")
    fmt = sniff_image_format(data)
    if fmt is None:
        raise InvalidImageFormat("image is neither PNG nor JPEG")
    return fmt


def decode_base64_image(text: object) -> bytes:
    """Strict base64 to bytes; -45030 when it is not base64."""
    if not isinstance(text, str):
        raise InvalidImageBytes("image.bytes must be a base64 string")
    # Reject early on size, before decoding anything.
    if len(text) > base64_length(MAX_IMAGE_BYTES):
        raise ImageTooLarge(f"image is over {MAX_IMAGE_BYTES:,} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageBytes("image.bytes is not valid base64") from exc


def check_image_url(url: object) -> str:
    """http(s) URL with a host, and a port only among 80, 443, 10000-12000."""
    if not isinstance(url, str) or len(url) > 4096:
        raise InvalidImageURL("image.url must be a string")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidImageURL(f"image.url is malformed: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidImageURL("image.url must be an http or https URL with a host")
    if port is not None and port not in ALLOWED_URL_PORTS:
        raise InvalidImageURL(f"image.url port {port} is not allowed (80, 443, 10000-12000 only)")
    return url
