"""facereco: a typed client for the NHN Cloud Face Recognition API v1.0 and an offline engine that serves it."""

__version__ = "0.1.0"

from facereco.client import FaceRecoClient  # noqa: E402
from facereco.errors import ApiError, FaceRecoError, TransportError  # noqa: E402

__all__ = ["FaceRecoClient", "ApiError", "FaceRecoError", "TransportError", "__version__"]
