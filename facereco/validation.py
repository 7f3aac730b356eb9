"""The contract's input checks, raising the exception the server would answer.

The client runs them before sending (fail fast, no round trip); the local engine
runs the very same functions on what it receives, so both sides always agree.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from facereco.contract import (
    ALLOWED_URL_PORTS,
    EXTERNAL_IMAGE_ID_PATTERN,
    GROUP_ID_PATTERN,
    MAX_IMAGE_BYTES,
    IntRange,
    base64_length,
    sniff_image_format,
)
from facereco.errors import (
    ImageTooLarge,
    InvalidGroupID,
    InvalidImageBytes,
    InvalidImageFormat,
    InvalidImageURL,
    InvalidParam,
)


def check_group_id(group_id: object) -> str:
    """A groupId is 1-255 characters of [a-z0-9-]."""
    if not isinstance(group_id, str) or not GROUP_ID_PATTERN.fullmatch(group_id):
        raise InvalidGroupID(f"groupId must be 1-255 characters of a-z, 0-9 and '-', got {group_id!r:.80}")
    return group_id


def check_external_image_id(value: object) -> str | None:
    """An externalImageId is optional; when given, 1-255 characters of [a-zA-Z0-9_.-:]."""
    if value is None:
        return None
    if not isinstance(value, str) or not EXTERNAL_IMAGE_ID_PATTERN.fullmatch(value):
        raise InvalidParam(f"externalImageId must be 1-255 characters of a-z A-Z 0-9 _ . - :, got {value!r:.80}")
    return value


def external_image_id_from(text: str) -> str:
    """Any text (a file name, say) made to fit externalImageId's pattern: other characters become '_'."""
    return re.sub(r"[^a-zA-Z0-9_.\-:]", "_", text)[:255] or "image"


def check_range(name: str, value: object, allowed: IntRange) -> int:
    """An integer parameter inside its inclusive range (booleans are not integers here)."""
    if not allowed.contains(value):
        raise InvalidParam(f"{name} must be an integer from {allowed.low} to {allowed.high}, got {value!r:.40}")
    return value  # type: ignore[return-value]


def check_flag(name: str, value: object) -> bool:
    """orientation and mask are JSON booleans."""
    if not isinstance(value, bool):
        raise InvalidParam(f"{name} must be true or false, got {value!r:.40}")
    return value


def check_face_id(face_id: object) -> str:
    """A faceId is a non-empty string (a UUID for faces this API made)."""
    if not isinstance(face_id, str) or not face_id or len(face_id) > 255:
        raise InvalidParam(f"faceId must be a non-empty string, got {face_id!r:.80}")
    return face_id


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


def check_image_ref(ref: object, field: str = "image") -> dict[str, str]:
    """An image object holds exactly one of url / bytes."""
    if not isinstance(ref, dict):
        raise InvalidParam(f"{field} must be an object with url or bytes")
    has_url, has_bytes = ref.get("url") is not None, ref.get("bytes") is not None
    if has_url == has_bytes:
        raise InvalidParam(f"{field} must hold exactly one of url or bytes")
    return ref
