"""The contract's input rules: limits, patterns, ranges and the image formats it accepts."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

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

MAX_ID_LENGTH = 255
GROUP_ID_PATTERN = re.compile(rf"[a-z0-9-]{{1,{MAX_ID_LENGTH}}}")
EXTERNAL_IMAGE_ID_PATTERN = re.compile(rf"[a-zA-Z0-9_.\-:]{{1,{MAX_ID_LENGTH}}}")


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


# ---------------------------------------------------------------- the largest answer
# The largest legal answer is a search with SEARCH_LIMIT.high matches (a face list holds
# LIST_LIMIT.high faces, every other answer a few dozen). One match written with the longest ids
# (UUIDs; an external id of MAX_ID_LENGTH) and every number as long as JSON writes a float is
# WORST_MATCH_JSON_BYTES; pretty-printing (indent up to 4) less than doubles it, and the header,
# source face and paging fit in REQUEST_JSON_ALLOWANCE. A client may refuse any answer over this,
# before or while reading it: no legal answer is that big (about 5 MB; a real one is a tenth).
_LONGEST_FLOAT = -2.2250738585072014e-308  # 24 characters: no float's JSON is longer
_UUID = "00000000-0000-0000-0000-000000000000"
_WORST_MATCH = {
    "face": {
        "faceId": _UUID,
        "imageId": _UUID,
        "externalImageId": "x" * MAX_ID_LENGTH,
        "bbox": dict.fromkeys(("x0", "y0", "x1", "y1"), _LONGEST_FLOAT),
        "confidence": _LONGEST_FLOAT,
    },
    "similarity": _LONGEST_FLOAT,
}
WORST_MATCH_JSON_BYTES = len(json.dumps(_WORST_MATCH, separators=(", ", ": ")))
MAX_ANSWER_BYTES = SEARCH_LIMIT.high * 2 * WORST_MATCH_JSON_BYTES + REQUEST_JSON_ALLOWANCE


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
