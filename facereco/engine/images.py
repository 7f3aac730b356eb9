"""The guide's input rules for images: base64, size, format, decoding in bounded memory, EXIF, scaling.

URLs are fetched by ``facereco.engine.fetch``. Every failure raises the contract's exception
(via ``facereco.validation``), so the service answers the right result code and never a stack
trace. Nothing here keeps or writes the image.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from facereco.contract import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, ImageRef
from facereco.engine.fetch import UrlPolicy, fetch_image_url
from facereco.engine.memory import ANALYSIS_MEMORY
from facereco.errors import ApiError, InvalidImageFile, InvalidParam
from facereco.validation import check_image_bytes, decode_base64_image

# A 3 MB file can still unpack to gigapixels: what decoding would take is estimated from the header
# and refused past this, so decoding one image stays under +150 MB (measured: tests/test_security.py,
# benchmarks/security.py). The estimate is in bytes, not pixels, because the mode decides the cost.
DECODE_BUDGET_BYTES = 130_000_000

# Peak bytes per decoded pixel, by PIL mode, measured (5000x5000 PNGs, 4095x4095 JPEGs): Pillow keeps
# RGB, CMYK and LA in 4 bytes a pixel; the 2048 px resize adds its first pass; an alpha image is
# premultiplied into a full-size copy before resizing; a palette image is converted to RGB(A) first.
_PEAK_BYTES_PER_PIXEL = {"1": 3, "L": 3, "P": 7, "I;16": 5, "I;16B": 5, "I;16L": 5, "RGB": 7, "YCbCr": 7, "CMYK": 7}
_PEAK_BYTES_ALPHA = 12  # RGBA, LA, PA, and any mode not listed
_PEAK_BYTES_TRANSPARENT_PALETTE = 13  # P + tRNS: the palette image, its RGBA conversion, the premultiplied copy
_PIL_BYTES_PER_PIXEL = 4  # what the decoded image itself holds (RGB is stored in 4 bytes)
# Pillow's JPEG opener answers an MPO (a phone's JPEG with an MPF block) itself: decoded as a JPEG.
_ALLOWED_FORMATS = ("PNG", "JPEG")
# A progressive JPEG decodes one full pass per scan: libjpeg writes 6-10 scans, a hostile file tens of
# thousands (a small file then costs minutes of CPU: docs/benchmarks.md). Counting start-of-scan markers is exact
# enough: inside entropy-coded data a 0xFF byte is always stuffed, so FF DA is a marker (or one of a
# thumbnail's, which stays far below the limit).
MAX_JPEG_SCANS = 100
# The engine reads no PNG text; Pillow would inflate up to 64 MB of it per image, outside any estimate.
PngImagePlugin.MAX_TEXT_CHUNK = 1_000_000
PngImagePlugin.MAX_TEXT_MEMORY = 4_000_000


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


def load_image_ref(ref: ImageRef, policy: UrlPolicy) -> DecodedImage:
    """An image object of a request (url or base64 bytes; its shape checked by the contract) to a decoded image."""
    return decode_image(image_ref_bytes(ref, policy))


def image_ref_bytes(ref: ImageRef, policy: UrlPolicy) -> bytes:
    """An image object's file bytes: downloaded, or from base64."""
    return fetch_image_url(ref.url, policy) if ref.url is not None else decode_base64_image(ref.bytes)


def decode_image(data: bytes, min_side: int = MIN_IMAGE_SIDE) -> DecodedImage:
    """PNG/JPEG bytes to RGB pixels, enforcing every rule of the guide, in bounded memory.

    A JPEG is decoded at the smallest of 1/1, 1/2, 1/4, 1/8 scale still at least the 2048 px the
    contract scales it to anyway (``Image.draft``), so a 7000x7000 JPEG costs 3500x3500 pixels.
    What the decoder would allocate is estimated and checked before anything is decoded, then held
    from ``DECODING_MEMORY`` while it decodes, so concurrent requests wait rather than pile up.
    ``min_side``: the guide's smallest side; a display of any image (the dashboard's preview) passes 1.
    """
    check_image_bytes(data)
    with _decoder_errors():
        image, original_size = open_drafted(data)
        cost = _checked_decode_cost(image, original_size, data)
    with DECODING_MEMORY.hold(cost):
        with _decoder_errors():
            image.load()
            orientation = _exif_orientation(image)  # after load: a PNG's EXIF may follow its pixels
        if orientation in _SWAPS_SIDES:
            original_size = (original_size[1], original_size[0])
        if min(original_size) < min_side:
            width, height = original_size
            raise InvalidParam(f"image is {width}x{height} px; both sides must be at least {min_side} px")
        # Scale first, then turn and convert: every later copy is of the small image.
        image = _fit_side(image)
        if orientation in _TRANSPOSE:
            image = image.transpose(_TRANSPOSE[orientation])
        return DecodedImage(np.ascontiguousarray(_to_rgb(image)), original_size)


def open_drafted(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """(the image opened, not decoded, set to decode a JPEG at reduced size; its original size)."""
    # formats=: a file that only starts like a PNG/JPEG (PhotoCD, say) is not handed to another decoder.
    image = Image.open(io.BytesIO(data), formats=_ALLOWED_FORMATS)
    original_size = image.size
    if isinstance(image, JpegImageFile):  # MPO too
        image.draft(image.mode, _scaled_size(original_size))
    return image, original_size


# One budget for decoding and everything after it (``facereco.engine.memory``): a decode inside an
# analysis is counted in the analysis's hold; a decode on its own (the dashboard's preview) holds its own.
DECODING_MEMORY = ANALYSIS_MEMORY

# Peak bytes the models add per pixel of the scaled (<= 2048 px) image: MTCNN's pyramid and its
# candidate boxes (measured, benchmarks/load.py: 23 B/px on a one-face photo, 44 on a group photo of
# 20 faces); plus the RGB array itself; plus one batch of the mask network when the mask is asked for.
_PIPELINE_BYTES_PER_PIXEL = 48
_RGB_BYTES_PER_PIXEL = 3
_MASK_BATCH_BYTES = 40_000_000


def analysis_cost_bytes(data: bytes, mask: bool = False) -> int:
    """The estimated peak of analysing ``data`` whole: decoding, then the models on the scaled image
    (the decoder's buffers are freed before detection starts, so the larger of the two counts).
    0 for bytes that do not open: ``decode_image`` refuses them at once, holding nothing."""
    try:
        with _decoder_errors():
            image, original_size = open_drafted(data)
            decoding = decode_cost_bytes(image, original_size, data)
    except ApiError:
        return 0
    width, height = _scaled_size(original_size)
    models = width * height * _PIPELINE_BYTES_PER_PIXEL + (_MASK_BATCH_BYTES if mask else 0)
    return max(decoding, models) + width * height * _RGB_BYTES_PER_PIXEL


@contextlib.contextmanager
def _decoder_errors() -> Iterator[None]:
    """Pillow's failures as the contract's exceptions, in fixed sentences: Pillow's own messages name
    internals (``<_io.BytesIO object at 0x...>``), which no answer repeats."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidParam("image has too many pixels to decode safely") from None
    except UnidentifiedImageError:
        raise InvalidImageFile("image does not decode: it is not a PNG or JPEG file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise InvalidImageFile("image does not decode: its data is damaged or cut short") from None


def _checked_decode_cost(image: Image.Image, original_size: tuple[int, int], data: bytes) -> int:
    """The estimated cost; refused (-40000: the guide names no code) past the memory budget."""
    if isinstance(image, JpegImageFile) and (scans := data.count(b"\xff\xda")) > MAX_JPEG_SCANS:
        raise InvalidParam(f"image holds {scans:,} JPEG scans; decoding past {MAX_JPEG_SCANS} is refused")
    cost = decode_cost_bytes(image, original_size, data)
    if cost > DECODE_BUDGET_BYTES:
        width, height = original_size
        raise InvalidParam(
            f"image is {width}x{height} pixels ({image.mode}); decoding it would take about "
            f"{cost // 1_000_000:,} MB, over the {DECODE_BUDGET_BYTES // 1_000_000} MB limit"
        )
    return cost


def decode_cost_bytes(image: Image.Image, original_size: tuple[int, int], data: bytes) -> int:
    """The peak memory decoding ``image`` (opened, drafted, not loaded) to 2048 px RGB is estimated to take."""
    pixels = image.size[0] * image.size[1]
    if image.mode == "P" and "transparency" in image.info:
        per_pixel = _PEAK_BYTES_TRANSPARENT_PALETTE
    else:
        per_pixel = _PEAK_BYTES_PER_PIXEL.get(image.mode, _PEAK_BYTES_ALPHA)
    cost = pixels * per_pixel
    if isinstance(image, JpegImageFile) and _has_multiple_scans(image, data):
        # libjpeg then keeps every DCT coefficient of the full-size image while the decoded (drafted)
        # image is written: Image.draft shrinks only the latter.
        cost = max(cost, _coefficient_bytes(image, original_size) + pixels * _PIL_BYTES_PER_PIXEL)
    return cost


def _has_multiple_scans(image: JpegImageFile, data: bytes) -> bool:
    """Progressive, or sequential with fewer components in its first scan than the frame has (a
    scan per component): either way libjpeg buffers the coefficients of the whole image."""
    if image.info.get("progressive") or image.info.get("progression"):
        return True
    components_in_scan = first_scan_components(data)
    return components_in_scan is None or components_in_scan < len(image.getbands())


def first_scan_components(data: bytes) -> int | None:
    """Ns of the main image's first start-of-scan segment (APPn, thumbnails in them, skipped by
    length); None when the marker walk does not reach one (then the caller assumes the worst)."""
    at = 2  # after SOI
    while at + 4 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length field
            at += 2
            continue
        if marker == 0xDA:
            return data[at + 4]
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def _coefficient_bytes(image: JpegImageFile, size: tuple[int, int]) -> int:
    """libjpeg's whole-image coefficient buffer: 64 coefficients x 2 bytes per 8x8 block per component."""
    layers = getattr(image, "layer", None) or [("?", 1, 1, 0)] * len(image.getbands())
    h_max = max(layer[1] for layer in layers)
    v_max = max(layer[2] for layer in layers)
    width, height = size
    blocks = sum(-(-width * layer[1] // (8 * h_max)) * -(-height * layer[2] // (8 * v_max)) for layer in layers)
    return blocks * 128


# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose does).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = frozenset({5, 6, 7, 8})


def _exif_orientation(image: Image.Image) -> int:
    # A broken EXIF block is no reason to refuse the pixels.
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - any EXIF parse failure means "upright"
        return 1


def _scaled_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size the contract scales an image to: longest side at most 2048 px, ratio kept."""
    width, height = size
    if max(width, height) <= MAX_IMAGE_SIDE:
        return size
    scale = MAX_IMAGE_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _fit_side(image: Image.Image) -> Image.Image:
    """Scale to the contract's 2048 px in PIL (before any conversion, so copies stay small)."""
    target = _scaled_size(image.size)
    if target == image.size:
        return image
    if image.mode == "P":  # palette images resize by nearest neighbour: convert first
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    return image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)


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
