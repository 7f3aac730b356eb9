"""One exception per result code, and the transport failures, under one base class.

``ApiError.for_code`` picks the class from the contract's result-code table, so
the client (raising what the server answered), the local checks (raising what
the server would answer) and the engine (turning an exception back into a
response body) share one mapping. Nothing here ever holds the appkey: a call is
described by ``CallInfo`` whose path has the appkey redacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from facereco.contract import ResultCode

REDACTED = "***"
HTTP_TOO_MANY_REQUESTS = 429
# What follows "appkeys" in any spelling a hostile or mistyped path uses: any case, '/' doubled,
# percent-encoded or a backslash, dot segments (plain or encoded) before the key.
_SEPARATOR = r"(?:/|\\|%2f|%5c)"
_APPKEY_SEGMENT = re.compile(rf"/appkeys{_SEPARATOR}+(?:(?:\.|%2e){{1,2}}{_SEPARATOR}+)*[^/?#\s\"\\]*", re.IGNORECASE)


def redact_appkey(text: str, appkey: str = "") -> str:
    """``text`` (a path, a URL, a log line) with the segment after ``/appkeys/`` written ``***``,
    whatever the spelling, and ``appkey`` itself (the routed value, raw or percent-encoded) wherever
    else it appears. On a raw (still percent-encoded) path the segment is the whole appkey, '/' included."""
    text = _APPKEY_SEGMENT.sub(f"/appkeys/{REDACTED}", text)
    if appkey:
        for spelling in {appkey, quote(appkey, safe=""), quote(appkey)}:
            text = text.replace(spelling, REDACTED)
    return text


@dataclass(frozen=True)
class CallInfo:
    """The call an error came from: method and path, the appkey already redacted."""

    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class FaceRecoError(Exception):
    """Base of every error facereco raises."""

    def __init__(self, message: str, call: CallInfo | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.call = call

    def __str__(self) -> str:
        return f"{self.message} ({self.call})" if self.call else self.message


# Naming: the base classes end in ``Error`` (FaceRecoError, ApiError, TransportError); each concrete
# failure is named for what happened, as the guide's result name without its Error/Exception suffix
# (NotFoundGroup, ImageTimeout, ConnectionFailed, RateLimited). The names that broke this pattern
# before stay importable as aliases at the end of this module.


# ---------------------------------------------------------------- result codes
class ApiError(FaceRecoError):
    """The API answered an error result code (or a local check found one before sending)."""

    code: ResultCode = ResultCode.InternalServerError

    def __init__(self, message: str | None = None, call: CallInfo | None = None, *, code: int | None = None) -> None:
        self.result_code = int(code if code is not None else self.code)
        super().__init__(message or self.code.message, call)

    def __str__(self) -> str:
        text = f"[{self.result_code}] {self.message}"
        return f"{text} ({self.call})" if self.call else text

    @staticmethod
    def for_code(code: int, message: str | None = None, call: CallInfo | None = None) -> ApiError:
        """The exception instance for an error result code; unknown codes get ``UnknownResultCode``."""
        cls = _BY_CODE.get(code, UnknownResultCode)
        return cls(message, call, code=code)


class InvalidParam(ApiError):
    code = ResultCode.InvalidParam


class InvalidGroupID(ApiError):
    code = ResultCode.InvalidGroupID


class DuplicatedGroupID(ApiError):
    code = ResultCode.DuplicatedGroupID


class NotFoundGroup(ApiError):
    code = ResultCode.NotFoundGroupError


class InvalidToken(ApiError):
    code = ResultCode.InvalidTokenError


class NotFoundFaceID(ApiError):
    code = ResultCode.NotFoundFaceIDError


class ServiceQuotaExceeded(ApiError):
    code = ResultCode.ServiceQuotaExceededException


class UnauthorizedAppKey(ApiError):
    code = ResultCode.UnauthorizedAppKey


class ImageTooLarge(ApiError):
    code = ResultCode.ImageTooLargeException


class InvalidImageBytes(ApiError):
    code = ResultCode.InvalidImageBytesException


class InvalidImageFormat(ApiError):
    code = ResultCode.InvalidImageFormatException


class InvalidImageURL(ApiError):
    code = ResultCode.InvalidImageURLException


class ImageTimeout(ApiError):
    code = ResultCode.ImageTimeoutError


class InvalidImageFile(ApiError):
    code = ResultCode.InvalidImageFileException


class InternalServer(ApiError):
    code = ResultCode.InternalServerError


class UnknownResultCode(ApiError):
    """A negative result code the contract does not list."""


_BY_CODE: dict[int, type[ApiError]] = {
    int(cls.code): cls
    for cls in (
        InvalidParam,
        InvalidGroupID,
        DuplicatedGroupID,
        NotFoundGroup,
        InvalidToken,
        NotFoundFaceID,
        ServiceQuotaExceeded,
        UnauthorizedAppKey,
        ImageTooLarge,
        InvalidImageBytes,
        InvalidImageFormat,
        InvalidImageURL,
        ImageTimeout,
        InvalidImageFile,
        InternalServer,
    )
}


# ---------------------------------------------------------------- transport
class TransportError(FaceRecoError):
    """The request did not get a contract answer."""


class ConnectionFailed(TransportError):
    """The server could not be reached (refused, DNS, TLS, reset)."""


class RequestTimeout(TransportError):
    """No answer within the read or connect timeout."""


class BadResponse(TransportError):
    """An answer that is not the contract's: a non-200 status or a body that is not its JSON.

    One with status 429 is a ``RateLimited`` however it was made, so callers catch throttling by type."""

    def __new__(cls, message: str, call: CallInfo | None = None, *, status: int | None = None) -> BadResponse:
        chosen = RateLimited if cls is BadResponse and status == HTTP_TOO_MANY_REQUESTS else cls
        return super().__new__(chosen, message, call)

    def __init__(self, message: str, call: CallInfo | None = None, *, status: int | None = None) -> None:
        super().__init__(message, call)
        self.status = status


class RateLimited(BadResponse):
    """HTTP 429: the server was reached and asks to slow down (too many calls for this appkey).

    A ``BadResponse`` too (status 429), so a handler written for that still catches it."""

    def __init__(self, message: str, call: CallInfo | None = None, *, status: int | None = None) -> None:
        super().__init__(message, call, status=HTTP_TOO_MANY_REQUESTS)


# Names used before the pattern above, kept for code that imports them.
NotFoundGroupError = NotFoundGroup
InvalidTokenError = InvalidToken
NotFoundFaceIDError = NotFoundFaceID
InternalServerError = InternalServer
