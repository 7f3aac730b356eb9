"""Readable sentences for failures: what a result code means, and one sentence for any failed call;
and ``literal``, for text a user chose (a file name, an externalImageId) inside a sentence Streamlit
renders as markdown.

Apart from the widgets so that the session (the sidebar's connection check) and every page can use
them without importing each other.
"""

from __future__ import annotations

import re

from facereco.contract import ResultCode
from facereco.errors import ApiError, FaceRecoError, RateLimited, TransportError
from facereco.ui.i18n import _

_AUTOLINK = re.compile(r"://|www\.", re.IGNORECASE)  # what GitHub-flavoured markdown turns into a link
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#!|$~])")


def literal(text: str) -> str:
    """``text`` as itself inside markdown: a file named ``**x** [link](http://…) $x^2$.jpg`` shows those
    characters, not bold, a link or a formula; nor is a bare ``http://`` or ``www.`` address made a link.
    (Emoji short codes such as ``:smile:`` still render: harmless, and not escapable in Streamlit.)"""
    escaped = _MARKDOWN.sub(r"\\\1", text)
    # a backslash does not stop GFM's bare-address links; an invisible word joiner inside the marker does
    return _AUTOLINK.sub(lambda m: m.group(0)[:-1] + "\u2060" + m.group(0)[-1], escaped)


def result_code_explanation(code: int) -> str:
    """The guide's explanation of a result code, in the session's language."""
    explanations: dict[int, str] = {
        ResultCode.InvalidParam: _("A parameter is wrong."),
        ResultCode.InvalidGroupID: _("The group ID is not valid."),
        ResultCode.DuplicatedGroupID: _("A group with this ID already exists."),
        ResultCode.NotFoundGroupError: _("The group ID was not found."),
        ResultCode.InvalidTokenError: _("The page token is not valid."),
        ResultCode.NotFoundFaceIDError: _("The face ID was not found."),
        ResultCode.ServiceQuotaExceededException: _("The group already holds the most faces it can."),
        ResultCode.ServiceQuotaExceededPartialSuccessException: _("The group is full: only some faces were added."),
        ResultCode.UnauthorizedAppKey: _("The appkey is not authorized."),
        ResultCode.ImageTooLargeException: _("The image is too large."),
        ResultCode.InvalidImageBytesException: _("The image bytes are not valid (mostly: wrong Base64)."),
        ResultCode.InvalidImageFormatException: _("The image format is not supported (PNG or JPEG only)."),
        ResultCode.InvalidImageURLException: _("The image URL is not valid."),
        ResultCode.ImageTimeoutError: _("The image download timed out."),
        ResultCode.InvalidImageFileException: _("The file does not match its image format."),
        ResultCode.InternalServerError: _("Server error."),
    }
    return explanations.get(code, _("Unknown result code."))


def explain(error: Exception, *, markdown: bool = True) -> str:
    """A readable sentence for any failure of a call. What the server or the input put in it (a host name,
    a file name) is made ``literal`` for the markdown most callers show it in; ``markdown=False`` for a
    table cell or a file, which show text as it is."""
    shown = literal if markdown else str
    if isinstance(error, ApiError):
        return _("{explanation} (result code {code}: {detail})").format(
            explanation=result_code_explanation(error.result_code), code=error.result_code, detail=shown(error.message)
        )
    if isinstance(error, RateLimited):  # it was reached: it throttles
        return _("The API asks to slow down (HTTP 429): too many calls for this appkey; fewer calls a second help.")
    if isinstance(error, TransportError):
        return _("The API could not be reached: {reason}").format(reason=shown(error.message))
    if isinstance(error, FaceRecoError):
        return shown(error.message)
    if isinstance(error, OSError):
        return _("The file could not be read: {reason}").format(reason=error.strerror or type(error).__name__)
    return shown(f"{type(error).__name__}: {error}")
