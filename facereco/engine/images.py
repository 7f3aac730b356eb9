"""The guide's input rules for images: base64, size, format, decoding, EXIF, scaling, safe URL fetch.

Every failure raises the contract's exception (via ``facereco.validation``), so the
service answers the right result code and never a stack trace. Nothing here keeps
or writes the image.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import socket
import time
import warnings
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import numpy as np
import requests
from PIL import Image, ImageOps, UnidentifiedImageError

from facereco.contract import MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, ImageRef
from facereco.errors import ImageTimeout, ImageTooLarge, InvalidImageFile, InvalidImageURL, InvalidParam
from facereco.validation import check_image_bytes, check_image_url, decode_base64_image

# A 3 MB PNG can still unpack to gigapixels; refuse past this many pixels before decoding.
MAX_DECODED_PIXELS = 50_000_000


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image ready for the models: EXIF orientation applied, scaled to <= 2048 px."""

    rgb: np.ndarray  # H x W x 3, uint8
    original_size: tuple[int, int]  # (width, height) before scaling

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


@dataclass(frozen=True)
class UrlPolicy:
    """How image URLs are fetched. Loopback/private/link-local hosts are refused unless allowed."""

    allow_private_hosts: bool = False
    connect_timeout: float = 5.0
    total_timeout: float = 10.0
    max_redirects: int = 3


def load_image_ref(ref: ImageRef, policy: UrlPolicy) -> DecodedImage:
    """An image object of a request (url or base64 bytes; its shape checked by the contract) to a decoded image."""
    data = fetch_image_url(ref.url, policy) if ref.url is not None else decode_base64_image(ref.bytes)
    return decode_image(data)


def decode_image(data: bytes) -> DecodedImage:
    """PNG/JPEG bytes to RGB pixels, enforcing every rule of the guide."""
    check_image_bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_DECODED_PIXELS:
                raise ImageTooLarge(f"image is {width}x{height} pixels; the limit is {MAX_DECODED_PIXELS:,} pixels")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"image has too many pixels to decode safely ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageFile(f"image does not decode: {exc}") from None
    # A broken EXIF block is no reason to refuse the pixels.
    with contextlib.suppress(Exception):
        image = ImageOps.exif_transpose(image)
    width, height = image.size
    if min(width, height) < MIN_IMAGE_SIDE:
        raise InvalidParam(f"image is {width}x{height} px; both sides must be at least {MIN_IMAGE_SIDE} px")
    rgb = _to_rgb(image)
    if max(width, height) > MAX_IMAGE_SIDE:
        scale = MAX_IMAGE_SIDE / max(width, height)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
    return DecodedImage(np.ascontiguousarray(rgb), (width, height))


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any PIL mode to 8-bit RGB: 16-bit grey scaled down, alpha laid over white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(image, dtype=np.int64)
        top = max(int(grey.max()), 1)
        grey = (grey * 255 // (65535 if top > 255 else 255)).clip(0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "F":
        grey = np.asarray(image, dtype=np.float32).clip(0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


# ---------------------------------------------------------------- URL fetch
def _check_host_allowed(url: str, policy: UrlPolicy) -> None:
    """Refuse hosts that resolve to loopback, private, link-local or reserved addresses (SSRF)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise InvalidImageURL(f"image.url host {parts.hostname!r} does not resolve") from None
    if policy.allow_private_hosts:
        return
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise InvalidImageURL(f"image.url host {parts.hostname!r} is not a public address")


def fetch_image_url(url: str, policy: UrlPolicy) -> bytes:
    """Download an image: allowed ports only, public hosts only, a deadline and a size cut-off."""
    deadline = time.monotonic() + policy.total_timeout
    for _ in range(policy.max_redirects + 1):
        check_image_url(url)
        _check_host_allowed(url, policy)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ImageTimeout(f"image download took over {policy.total_timeout:g} s")
        try:
            response = requests.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(min(policy.connect_timeout, remaining), remaining),
                headers={"User-Agent": "facereco-engine"},
            )
        except requests.Timeout:
            raise ImageTimeout(f"image download took over {policy.total_timeout:g} s") from None
        except requests.RequestException as exc:
            raise InvalidImageURL(f"image.url is unreachable ({type(exc).__name__})") from None
        with response:
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200:
                raise InvalidImageURL(f"image.url answered HTTP {response.status_code}")
            return _read_capped(response, deadline, policy.total_timeout)
    raise InvalidImageURL(f"image.url redirected more than {policy.max_redirects} times")


def _read_capped(response: requests.Response, deadline: float, total_timeout: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"image is {int(declared):,} bytes; the limit is {MAX_IMAGE_BYTES:,} bytes")
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > MAX_IMAGE_BYTES:
                raise ImageTooLarge(f"image is over {MAX_IMAGE_BYTES:,} bytes")
            if time.monotonic() > deadline:
                raise ImageTimeout(f"image download took over {total_timeout:g} s")
            chunks.append(chunk)
    except requests.RequestException as exc:
        if isinstance(exc, (requests.Timeout, requests.exceptions.ConnectionError)) and time.monotonic() > deadline:
            raise ImageTimeout(f"image download took over {total_timeout:g} s") from None
        raise InvalidImageURL(f"image download failed ({type(exc).__name__})") from None
    return b"".join(chunks)
