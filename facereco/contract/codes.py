"""The contract's result codes and the response header each one makes."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


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
