"""The guide's input rules on real bytes: every bad input gets its result code, odd-but-valid images decode."""

from __future__ import annotations

import base64
import contextlib
import http.server
import io
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from facereco import errors as E
from facereco.contract import DetectRequest, ImageRef
from facereco.engine.fetch import UrlPolicy, fetch_image_url
from facereco.engine.images import decode_image, load_image_ref
from facereco.validation import parse_request

from .servers import free_allowed_port

OPEN = UrlPolicy(allow_private_hosts=True, total_timeout=2.0)


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def ref(data: bytes) -> dict[str, str]:
    return {"bytes": base64.b64encode(data).decode()}


@pytest.fixture(scope="module")
def astronaut(astronaut_path) -> Image.Image:
    return Image.open(astronaut_path).convert("RGB")


# ---------------------------------------------------------------- bad input -> code
@pytest.mark.parametrize(
    ("image_ref", "error"),
    [
        ({"bytes": "not base64 at all!"}, E.InvalidImageBytes),
        ({"bytes": "QUJ"}, E.InvalidImageBytes),
        ({"bytes": base64.b64encode(b"GIF89a" + b"\0" * 200).decode()}, E.InvalidImageFormat),
        ({"bytes": base64.b64encode(b"\xff\xd8\xff" + b"\0" * 3_000_001).decode()}, E.ImageTooLarge),
        ({"bytes": ""}, E.InvalidImageFormat),
        ({}, E.InvalidParam),
        ({"url": "https://a.test/x.png", "bytes": "AAAA"}, E.InvalidParam),
        ("just a string", E.InvalidParam),
        ({"url": "ftp://a.test/x.png"}, E.InvalidImageURL),
        ({"url": "https://a.test:8443/x.png"}, E.InvalidImageURL),
        ({"url": "http://"}, E.InvalidImageURL),
    ],
)
def test_bad_image_refs_get_their_code(image_ref, error):
    with pytest.raises(error):
        # As the engine does: the request model checks the image object's shape, loading checks the rest.
        load_image_ref(parse_request(DetectRequest, {}, {}, {"image": image_ref}).image, OPEN)


def test_corrupt_and_truncated_files_are_invalid_files(astronaut: Image.Image):
    jpeg = encode(astronaut, "JPEG")
    with pytest.raises(E.InvalidImageFile):
        decode_image(jpeg[: len(jpeg) // 2])
    png = encode(astronaut)
    with pytest.raises(E.InvalidImageFile):
        decode_image(png[:4000])
    with pytest.raises(E.InvalidImageFile):
        decode_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 100)


def test_small_images_are_refused_with_a_message():
    with pytest.raises(E.InvalidParam, match="at least 80 px"):
        decode_image(encode(Image.new("RGB", (79, 200))))
    assert decode_image(encode(Image.new("RGB", (80, 80)))).width == 80


def test_large_images_are_scaled_to_2048_keeping_ratio():
    decoded = decode_image(encode(Image.new("RGB", (4096, 1024), (10, 20, 30)), "JPEG"))
    assert (decoded.width, decoded.height) == (2048, 512)
    assert decoded.original_size == (4096, 1024)


def test_decompression_bomb_is_refused_cleanly_as_invalid_param():
    bomb = encode(Image.new("1", (12000, 12000)))  # a few kB of PNG, 144 megapixels
    assert len(bomb) < 3_000_000
    with pytest.raises(E.InvalidParam, match="pixels"):
        decode_image(bomb)


def test_exif_orientation_is_honoured(astronaut: Image.Image):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    data = encode(astronaut.crop((0, 0, 300, 200)), "JPEG", exif=exif)
    decoded = decode_image(data)
    assert (decoded.width, decoded.height) == (200, 300)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "I;16", "CMYK"])
def test_unusual_modes_decode_to_rgb(astronaut: Image.Image, mode: str):
    if mode == "I;16":
        grey = (np.asarray(astronaut.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        image = Image.fromarray(grey.astype("<u2"))
    else:
        image = astronaut.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    decoded = decode_image(encode(image, fmt))
    assert decoded.rgb.shape == (512, 512, 3) and decoded.rgb.dtype == np.uint8
    assert 40 < decoded.rgb.mean() < 200  # not clipped to black or white


# ---------------------------------------------------------------- URLs
class _ImageHandler(http.server.BaseHTTPRequestHandler):
    payloads: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow.png":
            time.sleep(3)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/face.png")
            self.end_headers()
            return
        body = self.payloads.get(self.path.split("?")[0])
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def image_server(astronaut: Image.Image) -> Iterator[str]:
    _ImageHandler.payloads = {
        "/face.png": encode(astronaut),
        "/slow.png": encode(astronaut),
        "/huge.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 3_200_000,
        "/text.png": b"hello, not an image",
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_allowed_port()), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_fetch_from_an_allowed_port(image_server: str):
    decoded = load_image_ref(ImageRef(url=f"{image_server}/face.png"), OPEN)
    assert (decoded.width, decoded.height) == (512, 512)
    assert fetch_image_url(f"{image_server}/redirect", OPEN).startswith(b"\x89PNG")


def test_loopback_urls_are_refused_by_default(image_server: str):
    with pytest.raises(E.InvalidImageURL, match="not a public address"):
        load_image_ref(ImageRef(url=f"{image_server}/face.png"), UrlPolicy())
    for host in ("10.1.2.3", "169.254.169.254", "[::1]"):
        with pytest.raises(E.InvalidImageURL):
            fetch_image_url(f"http://{host}/x.png", UrlPolicy())


def test_url_errors_get_their_codes(image_server: str):
    with pytest.raises(E.ImageTimeout):
        fetch_image_url(f"{image_server}/slow.png", UrlPolicy(allow_private_hosts=True, total_timeout=0.5))
    with pytest.raises(E.ImageTooLarge):
        fetch_image_url(f"{image_server}/huge.png", OPEN)
    with pytest.raises(E.InvalidImageURL, match="HTTP 404"):
        fetch_image_url(f"{image_server}/missing.png", OPEN)
    with pytest.raises(E.InvalidImageFormat):
        load_image_ref(ImageRef(url=f"{image_server}/text.png"), OPEN)
    with pytest.raises(E.InvalidImageURL, match="unreachable"):
        fetch_image_url(f"http://127.0.0.1:{free_allowed_port()}/x.png", OPEN)
