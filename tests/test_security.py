"""Security and data integrity (issue #9): each bound, each refusal, measured on real parts.

Peak memory is measured in a fresh process (``tests/memory.py``) so Pillow's and zlib's C
allocations count. URL tests answer DNS from a table and intercept ``socket.connect``: nothing is
sent off this machine, and a refused connection is one that was never attempted.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import http.server
import io
import json
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from facereco import FaceRecoClient
from facereco.client import ImageUrl, image_ref
from facereco.contract import MAX_IMAGE_BYTES, MAX_REQUEST_BODY_BYTES
from facereco.contract.rules import base64_length
from facereco.engine import fetch
from facereco.engine.fetch import UrlPolicy, fetch_image_url
from facereco.engine.images import DECODING_MEMORY, decode_image, first_scan_components
from facereco.errors import (
    ImageTimeout,
    ImageTooLarge,
    InvalidImageFile,
    InvalidImageFormat,
    InvalidImageURL,
    InvalidParam,
)
from facereco.labeled_sets import MAX_ARCHIVE_ENTRIES, MAX_ARCHIVE_LISTING_BYTES, ArchiveRefused, labeled_images

from .memory import peak_added
from .servers import free_allowed_port, running_server

ROOT = Path(__file__).resolve().parent.parent
PEAK_LIMIT_MB = 150


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def padded_to(data: bytes, size: int) -> bytes:
    """A valid JPEG of exactly ``size`` bytes: decoders stop at the end-of-image marker."""
    assert len(data) <= size
    return data + b"\0" * (size - len(data))


# ---------------------------------------------------------------- decoding in bounded memory
@pytest.fixture(scope="module")
def jpeg_7000px(tmp_path_factory, astronaut_path) -> Path:
    path = tmp_path_factory.mktemp("big") / "7000.jpg"
    path.write_bytes(jpeg(Image.open(astronaut_path).resize((7000, 7000), Image.Resampling.BILINEAR), 80))
    return path


def test_a_7000px_jpeg_is_decoded_at_reduced_size_under_150_mb(jpeg_7000px: Path):
    assert jpeg_7000px.stat().st_size < MAX_IMAGE_BYTES
    added_mb, sizes = peak_added(
        f"from facereco.engine.images import decode_image\ndata = open({str(jpeg_7000px)!r}, 'rb').read()",
        "image = decode_image(data)\n_result = [image.width, image.height, *image.original_size]",
    )
    assert sizes == [2048, 2048, 7000, 7000]
    assert added_mb < PEAK_LIMIT_MB, f"decoding a 7000x7000 JPEG added {added_mb:.0f} MB"


def test_a_png_over_the_pixel_budget_is_refused_before_decoding(tmp_path: Path):
    path = tmp_path / "flat.png"
    Image.new("RGB", (6000, 6000), (90, 120, 150)).save(path)  # 36 MP in a few kB
    added_mb, message = peak_added(
        f"from facereco.engine.images import decode_image\ndata = open({str(path)!r}, 'rb').read()",
        "try:\n    decode_image(data)\nexcept Exception as error:\n    _result = f'{type(error).__name__}: {error}'",
    )
    assert message.startswith("InvalidParam") and "6000x6000" in message  # -40000: the guide names no code
    assert added_mb < 20, f"refusing a 36 MP PNG added {added_mb:.0f} MB"


def _hostile_image(path: Path, astronaut_path: Path) -> Path:
    """The review's cases, named ``kind-WIDTHxHEIGHT.ext``; small files that decode big."""
    kind, size = path.stem.split("-")
    width, height = (int(side) for side in size.split("x"))
    if kind.startswith("png"):
        mode = {"pngrgba": "RGBA", "pngpalette": "P", "pngrgb": "RGB"}[kind]
        image = Image.new(mode, (width, height), 90 if mode == "P" else (90, 120, 150, 200)[: len(mode)])
        image.save(path, **({"transparency": 0} if mode == "P" else {}))
    else:
        photo = Image.open(astronaut_path).convert("RGB").resize((width, height), Image.Resampling.NEAREST)
        if kind == "cmyk":
            photo = photo.convert("CMYK")
        subsampling = 0 if kind in ("p444", "cmyk") else 2
        photo.save(path, quality=10, progressive=True, subsampling=subsampling)
    assert path.stat().st_size < MAX_IMAGE_BYTES
    return path


def _decode_in_fresh_process(path: Path) -> tuple[float, object]:
    return peak_added(
        f"from facereco.engine.images import decode_image\ndata = open({str(path)!r}, 'rb').read()",
        "try:\n    image = decode_image(data)\n    _result = [image.width, image.height]\n"
        "except Exception as error:\n    _result = f'{type(error).__name__}: {error}'",
    )


@pytest.mark.parametrize(
    "name",
    [
        "p444-6000x6000.jpg",  # progressive: libjpeg buffers 216 MB of coefficients whatever the draft
        "cmyk-5000x5000.jpg",  # progressive CMYK: 200 MB of coefficients
        "pngrgba-5000x5000.png",  # 25 MP, but RGBA resizes through a premultiplied full-size copy
        "pngpalette-5000x5000.png",  # 25 MP of palette with transparency: converted to RGBA first
    ],
)
def test_images_whose_decoding_would_pass_150_mb_are_refused_before_decoding(tmp_path, astronaut_path, name):
    added_mb, message = _decode_in_fresh_process(_hostile_image(tmp_path / name, astronaut_path))
    assert isinstance(message, str) and message.startswith("InvalidParam"), message
    assert added_mb < 20, f"refusing {name} added {added_mb:.0f} MB"


@pytest.mark.parametrize(
    ("name", "decoded"),
    [
        ("p420-4032x3024.jpg", [2048, 1536]),  # a 12 MP phone photo, progressive
        ("p444-3600x3600.jpg", [2048, 2048]),  # the largest accepted kinds, near the budget
        ("cmyk-3200x3200.jpg", [2048, 2048]),
        ("pngrgba-3250x3250.png", [2048, 2048]),
        ("pngpalette-3100x3100.png", [2048, 2048]),
    ],
)
def test_the_largest_accepted_images_of_each_kind_decode_under_150_mb(tmp_path, astronaut_path, name, decoded):
    added_mb, sizes = _decode_in_fresh_process(_hostile_image(tmp_path / name, astronaut_path))
    assert sizes == decoded
    assert added_mb < PEAK_LIMIT_MB, f"decoding {name} added {added_mb:.0f} MB"


def test_a_thumbnail_in_an_app_segment_does_not_make_a_baseline_jpeg_count_as_multi_scan(jpeg_7000px: Path):
    """Only the main image's first scan decides: a 7000 px baseline JPEG is drafted, whatever its
    APP1 holds (here a thumbnail's start-of-scan marker); counted as multi-scan it would be refused."""
    photo = Image.open(jpeg_7000px)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=60, exif=b"Exif\x00\x00" + b"\xff\xd8\xff\xda\x00\x08\x01" + bytes(64))
    data = buffer.getvalue()
    assert data.count(b"\xff\xda") == 2 and len(data) < MAX_IMAGE_BYTES
    assert decode_image(data).original_size == (7000, 7000)


def test_a_sequential_jpeg_with_a_scan_per_component_is_found_by_its_first_scan():
    frame = b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03" + b"\x01\x11\x00\x02\x11\x01\x03\x11\x01"
    first_scan = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"  # Ns = 1 of the frame's 3 components
    assert first_scan_components(b"\xff\xd8" + b"\xff\xe1\x00\x06\xff\xda\x03\x00" + frame + first_scan) == 1
    assert first_scan_components(b"\xff\xd8" + frame) is None  # no scan reached: the caller assumes the worst


def test_concurrent_decodes_wait_for_the_process_wide_decoding_memory(astronaut_path: Path):
    """Each decode holds its estimated peak from DECODING_MEMORY (four worst cases): 40 requests at
    once cannot each add their 150 MB."""
    data = jpeg(Image.open(astronaut_path))
    finished: list[object] = []
    worker = threading.Thread(target=lambda: finished.append(decode_image(data)), daemon=True)
    with DECODING_MEMORY.hold(DECODING_MEMORY.total):  # every byte taken, as by four large decodes
        worker.start()
        worker.join(1.0)
        assert worker.is_alive() and finished == [], "a decode ran while the decoding memory was all held"
    worker.join(10)
    assert len(finished) == 1 and DECODING_MEMORY.held == 0


def test_a_phone_photo_with_an_mpf_block_is_decoded_at_reduced_size(tmp_path, astronaut_path):
    photo = Image.open(astronaut_path).convert("RGB").resize((6000, 4500), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    photo.save(buffer, "MPO", quality=20, save_all=True, append_images=[photo.resize((600, 450))])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO" and buffer.tell() < MAX_IMAGE_BYTES
    decoded = decode_image(buffer.getvalue())
    assert (decoded.width, decoded.height, decoded.original_size) == (2048, 1536, (6000, 4500))


def test_a_file_that_only_starts_like_a_jpeg_is_not_decoded_as_another_format():
    # Kodak PhotoCD: Pillow would open it at 768x512 from any prefix; it is neither PNG nor JPEG.
    photocd = b"\xff\xd8\xff\xe0" + bytes(2044) + b"PCD_" + bytes(2048 * 96 - 2052) + bytes(768 * 512 * 3 // 2)
    assert len(photocd) < MAX_IMAGE_BYTES
    with pytest.raises(InvalidImageFile) as raised:
        decode_image(photocd)
    assert raised.value.code == -45080


@pytest.mark.slow
def test_a_large_jpeg_decoded_at_reduced_size_finds_the_same_face(tmp_path: Path, astronaut_path: Path):
    """4800 px is decoded at 2400 px (draft) then scaled to 2048: the face is where the 512 px original has it."""
    client = FaceRecoClient.local(tmp_path)
    small = client.detect(astronaut_path).face_details[0].bbox
    big = client.detect(jpeg(Image.open(astronaut_path).resize((4800, 4800), Image.Resampling.BICUBIC), 90))
    assert big.face_detail_count == 1
    box = big.face_details[0].bbox
    assert max(abs(box.x0 - small.x0), abs(box.y0 - small.y0), abs(box.x1 - small.x1), abs(box.y1 - small.y1)) < 0.02


@pytest.mark.slow
def test_large_real_photos_keep_their_faces_when_upscaled_past_4096_px(tmp_path: Path, shared_faces: Path):
    """facerec-examples (up to 2333 px) against the same photos at twice the size, decoded by draft."""
    client = FaceRecoClient.local(tmp_path)
    photos = [p for p in sorted((shared_faces / "facerec-examples").glob("*/*.jpg")) if max(Image.open(p).size) > 2048]
    assert photos, "facerec-examples has no photo over 2048 px"
    for path in photos:
        image = Image.open(path)
        doubled = jpeg(image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC), 90)
        if len(doubled) > MAX_IMAGE_BYTES:
            doubled = jpeg(image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC), 60)
        original, large = client.detect(path), client.detect(doubled)
        assert large.face_detail_count == original.face_detail_count >= 1, path.name
        a, b = original.face_details[0].bbox, large.face_details[0].bbox
        assert abs(a.x0 - b.x0) + abs(a.y0 - b.y0) + abs(a.x1 - b.x1) + abs(a.y1 - b.y1) < 0.04, path.name


# ---------------------------------------------------------------- the largest legal request over HTTP
APPKEY = "security-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("security-server") / "data", [APPKEY]) as running:
        yield running


def largest_compare_body(escape_slashes: bool) -> bytes:
    """A compare of two 3,000,000-byte images whose base64 is all '/', the worst case for '\\/' escapes."""
    image = {"bytes": "/" * base64_length(MAX_IMAGE_BYTES)}
    text = json.dumps({"sourceImage": image, "targetImage": image, "orientation": True, "mask": True}, indent=2)
    return (text.replace("/", "\\/") if escape_slashes else text).encode()


def test_the_body_limit_is_the_largest_legal_request_however_slashes_are_escaped():
    escaped = largest_compare_body(escape_slashes=True)
    assert json.loads(escaped) == json.loads(largest_compare_body(escape_slashes=False))
    assert len(escaped) + 1000 <= MAX_REQUEST_BODY_BYTES < 1.01 * len(escaped)  # room for JSON, and not much more


@pytest.mark.slow
def test_a_compare_written_with_escaped_slashes_is_read_not_refused(server):
    escaped = largest_compare_body(escape_slashes=True)
    answer = requests.post(
        f"{server.base_url}/nhn-face-reco/v1.0/appkeys/{APPKEY}/compare",
        data=escaped,
        headers={"Content-Type": "application/json;charset=UTF-8"},
        timeout=60,
    ).json()
    # All-0xFF bytes are read and decoded, then refused for their format, not for the body's size.
    assert answer["header"]["resultCode"] == InvalidImageFormat.code


@pytest.mark.slow
def test_compare_with_two_images_just_under_3_mb_works_over_http(server, astronaut_path, grace_hopper_path):
    source = padded_to(jpeg(Image.open(astronaut_path)), MAX_IMAGE_BYTES - 10)
    target = padded_to(jpeg(Image.open(grace_hopper_path)), MAX_IMAGE_BYTES - 10)
    result = FaceRecoClient(APPKEY, server.base_url, read_timeout=120).compare(source, target, threshold=1)
    assert result.source_face.confidence > 90
    assert result.matched_face_detail_count + result.unmatched_face_detail_count == 1


@pytest.mark.slow
def test_a_body_over_the_limit_is_refused_before_it_is_sent(server):
    host, port = server.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    connection.putrequest("POST", f"/nhn-face-reco/v1.0/appkeys/{APPKEY}/compare")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(MAX_REQUEST_BODY_BYTES + 1))
    connection.endheaders()  # no body follows: the answer must not wait for one
    answer = json.loads(connection.getresponse().read())
    connection.close()
    assert answer["header"]["resultCode"] == ImageTooLarge.code


# ---------------------------------------------------------------- the secret key file
KEY_RACER = """
import json, sys, time
from pathlib import Path
from facereco.engine.secrets import load_or_create_key
folders, start, step = json.loads(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
answers = []
for i, folder in enumerate(folders):
    while time.time() < start + i * step:
        pass
    try:
        answers.append(load_or_create_key(Path(folder)).hex())
    except Exception as error:
        answers.append(f"{type(error).__name__}: {error}")
print(json.dumps(answers))
"""


def test_processes_starting_at_once_on_a_fresh_folder_share_one_key(tmp_path: Path, monkeypatch):
    """Six processes, 100 fresh folders, each folder's key created by all six in the same instant."""
    monkeypatch.delenv("FACERECO_SECRET_KEY", raising=False)
    folders = [tmp_path / f"data-{i}" for i in range(100)]
    for folder in folders:
        folder.mkdir()
    start = time.time() + 3.0
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", KEY_RACER, json.dumps([str(f) for f in folders]), str(start), "0.02"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(6)
    ]
    answers = [json.loads(racer.communicate(timeout=120)[0]) for racer in racers]
    for i, folder in enumerate(folders):
        keys = {answer[i] for answer in answers}
        assert keys == {(folder / "secret.key").read_text().strip()}, f"round {i}: {keys}"
        assert (folder / "secret.key").stat().st_mode & 0o777 == 0o600
        assert [p.name for p in folder.iterdir()] == ["secret.key"]  # no temporary file left behind


# ---------------------------------------------------------------- ZIP enrollment
def _write_zip(path: Path, members: dict[str, Callable[[], Iterator[bytes]]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in members.items():
            with archive.open(name, "w", force_zip64=True) as handle:
                for chunk in chunks():
                    handle.write(chunk)
    return path


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> Path:
    """One 'photo' that unpacks to 400 MB of zeros from a few hundred kB."""

    def zeros() -> Iterator[bytes]:
        yield b"\xff\xd8\xff"
        for _ in range(400):
            yield bytes(1_000_000)

    return _write_zip(tmp_path_factory.mktemp("bomb") / "bomb.zip", {"set/mallory/face.jpg": zeros})


def test_a_zip_bomb_is_refused_from_its_listing_in_bounded_memory(tmp_path: Path, zip_bomb: Path):
    assert zip_bomb.stat().st_size < 2_000_000
    added_mb, message = peak_added(
        f"""
        from facereco import FaceRecoClient
        from facereco.labeled_sets import enroll
        client = FaceRecoClient.local({str(tmp_path)!r})
        client.create_group("bomb")
        data = open({str(zip_bomb)!r}, "rb").read()
        """,
        """
        try:
            enroll(client, "bomb", data)
        except Exception as error:
            _result = f"{type(error).__name__}: {error}"
        """,
    )
    assert message.startswith("ArchiveRefused") and "ZIP bomb" in message, message
    assert added_mb < 20, f"refusing a ZIP bomb added {added_mb:.0f} MB"


def listing_only_zip(path: Path, entries: int, name_bytes: int, claimed: int | None = None) -> Path:
    """A ZIP that is nothing but a central directory of ``entries`` empty members, ZIP64 when needed;
    its end record says ``claimed`` entries (default: the truth)."""
    record = bytearray()
    for i in range(entries):
        name = f"p/{i:07d}".encode().ljust(name_bytes - 4, b"x") + b".txt"
        fields = (0x02014B50, 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0)
        record += struct.pack("<IHHHHHHIIIHHHHHII", *fields) + name
    if claimed is not None:
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, claimed, claimed, len(record), 0, 0)
    elif entries < 0xFFFF:
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(record), 0, 0)
    else:
        end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, entries, entries, len(record), 0)
        end += struct.pack("<IIQI", 0x07064B50, 0, len(record), 1)
        end += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(bytes(record) + end)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "entries, name_bytes",
    [(MAX_ARCHIVE_ENTRIES + 1, 13), (MAX_ARCHIVE_LISTING_BYTES // 500, 500)],
    ids=["too-many-entries", "too-long-a-listing"],
)
def test_a_zip_with_an_absurd_listing_is_refused_before_it_is_read(tmp_path: Path, entries: int, name_bytes: int):
    archive = listing_only_zip(tmp_path / "listing.zip", entries, name_bytes)
    added_mb, message = peak_added(
        f"""
        from facereco.labeled_sets import count_labeled_images
        data = open({str(archive)!r}, "rb").read()
        """,
        """
        try:
            count_labeled_images(data)
        except Exception as error:
            _result = f"{type(error).__name__}: {error}"
        """,
    )
    assert message.startswith("ArchiveRefused: The ZIP lists"), message
    assert added_mb < 20, f"refusing a {entries:,}-entry listing added {added_mb:.0f} MB"


@pytest.mark.slow
def test_a_listing_that_lies_about_its_count_stays_within_the_memory_bound(tmp_path: Path):
    """Records of 59 bytes filling the byte bound, the end record claiming one entry: whatever zipfile
    then builds stays under +150 MB (the bound once let 434,000 such entries through, about +199 MB)."""
    archive = listing_only_zip(tmp_path / "lying.zip", MAX_ARCHIVE_LISTING_BYTES // 59, 13, claimed=1)
    added_mb, message = peak_added(
        f"""
        from facereco.labeled_sets import count_labeled_images
        data = open({str(archive)!r}, "rb").read()
        """,
        """
        try:
            _result = f"counted {count_labeled_images(data)}"
        except Exception as error:
            _result = f"{type(error).__name__}: {error}"
        """,
    )
    assert message == "counted 0" or message.startswith("ArchiveRefused"), message
    assert added_mb < 150, f"a lying {MAX_ARCHIVE_LISTING_BYTES:,}-byte listing added {added_mb:.0f} MB"


def test_one_path_twice_in_a_zip_is_reported_not_skipped(tmp_path: Path, astronaut_path: Path, grace_hopper_path: Path):
    from facereco.labeled_sets import enroll

    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name: that is the point
        archive.write(astronaut_path, "alice/1.png")
        archive.write(grace_hopper_path, "alice/1.png")
    client = FaceRecoClient.local(tmp_path)
    client.create_group("twice")
    report = enroll(client, "twice", buffer.getvalue())
    assert (report.added, report.skipped) == (1, 0)
    assert report.failed == [("alice/1.png", "appears twice in the archive")]


def test_a_jpeg_of_absurdly_many_scans_is_refused_before_decoding(astronaut_path: Path):
    """A progressive JPEG decodes one pass per scan: a file repeating its last scan past the limit is refused
    (a 3 MB file of 32,901 scans once took 74 s of CPU); an ordinary progressive JPEG decodes."""
    from facereco.engine.images import MAX_JPEG_SCANS

    buffer = io.BytesIO()
    Image.open(astronaut_path).convert("RGB").save(buffer, "JPEG", quality=80, progressive=True)
    normal = buffer.getvalue()
    assert decode_image(normal).width == 512
    last_scan = normal[normal.rindex(b"\xff\xda") : -2]
    hostile = normal[:-2] + last_scan * MAX_JPEG_SCANS + b"\xff\xd9"
    with pytest.raises(InvalidParam, match="JPEG scans"):
        decode_image(hostile)


def test_png_text_is_not_inflated_past_a_few_megabytes(astronaut_path: Path):
    """The engine reads no PNG text: chunks that would inflate to more than a few MB make the file refused
    (Pillow's own limit let 64 MB per image through, outside any estimate); a small text chunk is fine."""
    from PIL import PngImagePlugin

    def png_with_text(chunks: int, size: int) -> bytes:
        info = PngImagePlugin.PngInfo()
        for i in range(chunks):
            info.add_text(f"k{i}", "x" * size, zip=True)
        out = io.BytesIO()
        Image.open(astronaut_path).convert("RGB").save(out, "PNG", pnginfo=info)
        return out.getvalue()

    assert decode_image(png_with_text(1, 1000)).width == 512
    with pytest.raises(InvalidImageFile):
        decode_image(png_with_text(8, 900_000))  # 7.2 MB of text in a file of a few hundred KB


def test_a_damaged_zip_is_refused_with_one_sentence():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("alice/\x01.jpg", b"\xff\xd8\xff" + bytes(100))
        archive.writestr("bob/b.png", bytes(100))
    good = buffer.getvalue()
    listing = good.find(b"PK\x01\x02")
    bad_name = bytearray(good)  # flagged UTF-8, but the name is not
    struct.pack_into("<H", bad_name, listing + 8, 0x800)
    bad_name[bad_name.find(b"\x01.jpg", listing)] = 0xFF
    bad_offset = bytearray(good)  # the member's offset points before the archive: "negative seek"
    struct.pack_into("<I", bad_offset, listing + 42, 0xFFFFFFF0)
    for damaged in (bytes(bad_name), bytes(bad_offset), good[: len(good) // 2]):
        with pytest.raises(ArchiveRefused, match=r"^The ZIP|^This file") as refused:
            list(labeled_images(damaged))
        assert str(refused.value).count(".") <= 2  # one sentence (a file name may hold a dot)


@pytest.mark.slow
def test_zip_enrollment_holds_one_member_at_a_time(tmp_path: Path, astronaut_path: Path):
    """40 members of 2.9 MB each (116 MB): enrolling them adds about one member's worth of memory."""
    import random

    small = jpeg(Image.open(astronaut_path).resize((100, 100)))

    def member(seed: int) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:  # incompressible padding, so the ratio rule lets it through
            yield small
            yield random.Random(seed).randbytes(2_900_000 - len(small))

        return chunks

    archive = _write_zip(tmp_path / "set.zip", {f"set/p{i % 4}/{i}.jpg": member(i) for i in range(40)})
    added_mb, report = peak_added(
        f"""
        from facereco import FaceRecoClient
        from facereco.labeled_sets import enroll
        client = FaceRecoClient.local({str(tmp_path / "data")!r})
        client.create_group("set")
        client.register_faces("set", {str(astronaut_path)!r})  # models loaded before the measure
        """,
        f"""
        report = enroll(client, "set", __import__("pathlib").Path({str(archive)!r}))
        _result = [report.added, report.no_face, len(report.failed)]
        """,
    )
    assert report == [0, 40, 0]  # 100 px: every image decodes, none has a face of 60 px
    assert added_mb < 60, f"enrolling 116 MB of members added {added_mb:.0f} MB"


@pytest.mark.slow
def test_the_tuning_page_refuses_a_zip_bomb_with_a_sentence(tmp_path: Path, zip_bomb: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FACERECO_DATA_DIR", str(tmp_path))  # used if the app's engine is not cached yet
    monkeypatch.delenv("FACERECO_APPKEY", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/tuning.py").run()
    at.file_uploader(key="tuning-enroll-zip").upload("bomb.zip", zip_bomb.read_bytes(), "application/zip").run()
    at.button(key="tuning-enroll").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error if "ZIP bomb" in e.value] and not at.success


def test_the_command_line_refuses_a_zip_bomb_with_a_sentence(tmp_path: Path, zip_bomb: Path):
    done = subprocess.run(
        [sys.executable, "-m", "facereco", "enroll", str(zip_bomb), "--group", "bomb", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert "ZIP bomb" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- image URLs: no way into this machine
PUBLIC = "93.184.215.14"  # a global unicast address; `connections` serves it from loopback
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str]]:
    """A name -> answers table consulted before the real resolver; each lookup takes the next answer."""
    table: dict[str, list[str]] = {}

    def resolve(host, port, *args, **kwargs):
        if isinstance(host, str) and host in table:
            answers = table[host]
            address = answers.pop(0) if len(answers) > 1 else answers[0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return table


@pytest.fixture
def connections(monkeypatch) -> list[str]:
    """Every address a socket tried to connect to. PUBLIC is served from loopback (a stand-in for a
    public server); any other address but loopback is refused here, so nothing leaves this machine."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def connect(self, address):
        attempts.append(address[0])
        if address[0] == PUBLIC:
            return real_connect(self, ("127.0.0.1", *address[1:]))
        if address[0] not in ("127.0.0.1", "::1"):
            raise ConnectionRefusedError(111, "refused by the test: nothing leaves this machine")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def test_dns_rebinding_cannot_steer_a_download_to_loopback(dns, connections, loopback_server, tiny_png):
    _, port = loopback_server
    dns["rebind.example.test"] = [PUBLIC, "127.0.0.1"]  # checked: public; asked again: loopback
    assert fetch_image_url(f"http://rebind.example.test:{port}/face.png", UrlPolicy(total_timeout=5)) == tiny_png
    assert connections == [PUBLIC]


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "[::]",
        "127.1",
        "2130706433",  # decimal
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hex
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:93.184.215.14]",  # IPv4-mapped, even of a public address
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[64:ff9b:1::a00:1]",  # local-use NAT64
        "[::7f00:1]",  # IPv4-compatible 127.0.0.1
        "[::ffff:0:7f00:1]",  # SIIT IPv4-translated 127.0.0.1
        "[fec0::1]",  # site-local
        "169.254.169.254",
        "[fe80::1]",
        "10.1.2.3",
        "100.64.0.1",
        "192.168.0.1",
        "[fc00::1]",
        "224.0.0.1",
        "255.255.255.255",
        "localhost",
    ],
)
def test_non_public_hosts_are_refused_without_a_connection(host: str, connections):
    with pytest.raises(InvalidImageURL, match="not a public address|does not resolve"):
        fetch_image_url(f"http://{host}/face.jpg", UrlPolicy(total_timeout=3))
    assert connections == []


def test_a_name_answering_public_and_private_addresses_is_refused(dns, connections):
    dns["mixed.example.test"] = ["10.0.0.7"]
    with pytest.raises(InvalidImageURL, match="not a public address"):
        fetch_image_url("http://mixed.example.test/face.jpg", UrlPolicy(total_timeout=3))
    assert connections == []


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []
    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.hosts.append(self.headers.get("Host", ""))
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", f"http://second.example.test:{self.server.server_address[1]}/face.png")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def loopback_server(tiny_png) -> Iterator[tuple[http.server.ThreadingHTTPServer, int]]:
    _RecordingHandler.hosts, _RecordingHandler.body = [], tiny_png
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_allowed_port()), _RecordingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_pinned_connections_keep_the_host_name_at_every_hop(dns, connections, loopback_server, tiny_png):
    _, port = loopback_server
    dns["first.example.test"] = [PUBLIC]
    dns["second.example.test"] = [PUBLIC]
    assert fetch_image_url(f"http://first.example.test:{port}/hop", UrlPolicy(total_timeout=5)) == tiny_png
    assert _RecordingHandler.hosts == [f"first.example.test:{port}", f"second.example.test:{port}"]
    assert connections == [PUBLIC, PUBLIC]


@pytest.fixture
def trickling_server() -> Iterator[Callable[[bytes, bytes], int]]:
    """A loopback server that sends ``head`` at once, then ``trickle`` one byte every 0.5 s (as the
    reviewer's slow server did); it returns the port."""
    listeners: list[socket.socket] = []

    def start(head: bytes, trickle: bytes) -> int:
        listener = socket.create_server(("127.0.0.1", free_allowed_port()))
        listeners.append(listener)

        def serve() -> None:
            with contextlib.suppress(OSError):
                connection, _ = listener.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(head)
                    for byte in trickle:
                        connection.sendall(bytes([byte]))
                        time.sleep(0.5)

        threading.Thread(target=serve, daemon=True).start()
        return listener.getsockname()[1]

    yield start
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize(
    ("head", "trickle"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x" * 100),  # the body, byte by byte
        (b"HTTP/1.1 200 OK\r\n\r\n", b"x" * 100),  # no Content-Length: the body ends when the socket shuts
        (b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100),  # the status line and headers, byte by byte
    ],
    ids=["body", "body-without-length", "headers"],
)
def test_one_deadline_holds_a_whole_download_however_slowly_it_trickles(trickling_server, head, trickle):
    port = trickling_server(head, trickle)
    started = time.monotonic()
    with pytest.raises(ImageTimeout) as raised:
        fetch_image_url(f"http://127.0.0.1:{port}/face.jpg", UrlPolicy(allow_private_hosts=True, total_timeout=2))
    assert time.monotonic() - started < 3
    assert raised.value.code == -45060


def test_a_name_server_that_never_answers_is_held_to_the_deadline(monkeypatch, connections):
    """getaddrinfo cannot be interrupted: the download stops waiting at its deadline, the lookup
    blocks on, and no connection is tried. Lookups queued behind stuck ones are never started."""
    release, asked = threading.Event(), []

    def stuck(host, port, *args, **kwargs):
        asked.append(host)
        release.wait(60)
        return REAL_GETADDRINFO("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    try:
        for i in range(fetch.RESOLVER_THREADS + 2):  # more than the resolver threads: later ones wait in line
            with pytest.raises(ImageTimeout) as raised:
                fetch_image_url(f"http://slow{i}.example.test/face.jpg", UrlPolicy(total_timeout=0.3))
            assert raised.value.code == -45060
            assert not release.is_set()  # it answered while the name server was still silent
        assert connections == []
        assert len(asked) == fetch.RESOLVER_THREADS  # stuck lookups hold the pool's threads, no more
    finally:
        release.set()


def test_a_redirect_to_a_private_host_is_refused_without_a_connection(dns, connections, loopback_server):
    _, port = loopback_server
    dns["first.example.test"] = [PUBLIC]
    dns["second.example.test"] = ["127.0.0.1"]
    with pytest.raises(InvalidImageURL, match="not a public address"):
        fetch_image_url(f"http://first.example.test:{port}/hop", UrlPolicy(total_timeout=5))
    assert connections == [PUBLIC]


def _certificate(common_name: str, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ``common_name`` signed by it: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "facereco test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def test_https_checks_the_certificate_against_the_host_name_not_the_address(
    dns, connections, loopback_server, tiny_png, tmp_path: Path
):
    """The connection goes to the checked address; SNI and the certificate check use the host name."""
    server, port = loopback_server
    ca, cert, key = _certificate("images.example.test", tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    dns["images.example.test"] = [PUBLIC]
    dns["impostor.example.test"] = [PUBLIC]
    policy = UrlPolicy(total_timeout=5, ca_certs=str(ca))
    assert fetch_image_url(f"https://images.example.test:{port}/face.png", policy) == tiny_png
    assert _RecordingHandler.hosts == [f"images.example.test:{port}"]
    with pytest.raises(InvalidImageURL, match="unreachable"):  # same address, a name the certificate lacks
        fetch_image_url(f"https://impostor.example.test:{port}/face.png", policy)
    assert connections == [PUBLIC, PUBLIC]


def test_an_explicit_url_is_never_read_as_a_file():
    with pytest.raises(InvalidImageURL):
        image_ref(ImageUrl("/etc/passwd"))
    assert image_ref(ImageUrl("https://images.example.test/a.jpg")) == {"url": "https://images.example.test/a.jpg"}


# ---------------------------------------------------------------- secrets in reprs
def test_the_dashboard_backend_repr_holds_no_appkey():
    from facereco.ui.session import SERVER, Backend

    backend = Backend(SERVER, "appkey-0123456789-secret", "https://face-recognition.example.test")
    for text in (repr(backend), str(backend), repr([backend]), repr(FaceRecoClient("appkey-0123456789-secret"))):
        assert "0123456789" not in text
    assert backend.masked_appkey == "appk••••••••"
