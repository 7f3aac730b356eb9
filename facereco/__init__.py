"""facereco: a typed client for the NHN Cloud Face Recognition API v1.0 and an offline engine that serves it."""

from facereco._version import __version__
from facereco.client import FaceRecoClient
from facereco.errors import ApiError, FaceRecoError, TransportError

__all__ = ["FaceRecoClient", "ApiError", "FaceRecoError", "TransportError", "__version__"]
