"""Security bounds: peak resident memory added by hostile or largest-legal inputs (issue #9).

    python benchmarks/security.py

Each figure is the peak RSS (VmHWM, reset after set-up) that one piece of work adds in a fresh
process, so Pillow's, zlib's and numpy's C allocations count; models and inputs are loaded before
the reset. The bound the engine promises is +150 MB per request; beside each figure is the bare
physical work it compares to (a full Pillow decode, the size of what is read), and for the costly
kinds of image (progressive and CMYK JPEGs, RGBA and palette PNGs) the largest one accepted.
"""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import matplotlib  # noqa: E402
import skimage  # noqa: E402
from memory import peak_added  # noqa: E402
from PIL import Image  # noqa: E402

from facereco.contract import MAX_IMAGE_BYTES  # noqa: E402
from facereco.engine.images import DECODE_BUDGET_BYTES, decode_cost_bytes, open_drafted  # noqa: E402

ASTRONAUT = Path(skimage.__file__).parent / "data" / "astronaut.png"
GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def large_jpeg(folder: Path) -> None:
    path = folder / "7000.jpg"
    path.write_bytes(jpeg(Image.open(ASTRONAUT).resize((7000, 7000), Image.Resampling.BILINEAR), 80))
    setup = f"""
import io
from PIL import Image
from facereco.engine.images import decode_image
data = open({str(path)!r}, "rb").read()
"""
    engine_mb, sizes = peak_added(setup, "d = decode_image(data)\n_result = [d.width, d.height]")
    bare_mb, _ = peak_added(setup, "image = Image.open(io.BytesIO(data))\nimage.load()")
    print(f"7000x7000 JPEG ({path.stat().st_size:,} bytes) decoded to {sizes[0]}x{sizes[1]}:")
    print(f"  decode_image (draft at 1/2, then 2048 px)   +{engine_mb:6.1f} MB peak RSS")
    print(f"  bare full Pillow decode of 7000x7000 RGB    +{bare_mb:6.1f} MB peak RSS")
    print(f"  ratio engine / bare decode: {engine_mb / bare_mb:.2f}")


def _kind_image(kind: str, side: int) -> Image.Image:
    if kind.startswith("png"):
        mode = "RGBA" if kind == "png-rgba" else "P"
        return Image.new(mode, (side, side), 90 if mode == "P" else (90, 120, 150, 200))
    photo = Image.open(ASTRONAUT).convert("RGB").resize((side, side), Image.Resampling.NEAREST)
    return photo.convert("CMYK") if kind == "jpeg-cmyk-progressive" else photo


def _save_kind(kind: str, side: int, path: Path) -> None:
    image = _kind_image(kind, side)
    if kind == "png-rgba":
        image.save(path, "PNG")
    elif kind == "png-palette-transparent":
        image.save(path, "PNG", transparency=0)
    else:
        subsampling = 2 if kind == "jpeg-420-progressive" else 0
        image.save(path, "JPEG", quality=10, progressive=True, subsampling=subsampling)


def _estimate(path: Path) -> int | None:
    """The engine's estimated peak in bytes, or None when decode_image refuses the file before decoding."""
    data = path.read_bytes()
    image, original = open_drafted(data)
    cost = decode_cost_bytes(image, original, data)
    return cost if cost <= DECODE_BUDGET_BYTES and len(data) <= MAX_IMAGE_BYTES else None


def _decode_in_fresh_process(path: Path) -> tuple[float, object]:
    """(MB of peak RSS decode_image added, [width, height] decoded or the exception's class name)."""
    return peak_added(
        f"from facereco.engine.images import decode_image\ndata = open({str(path)!r}, 'rb').read()",
        "try:\n    d = decode_image(data)\n    _result = [d.width, d.height]\n"
        "except Exception as error:\n    _result = type(error).__name__",
    )


def worst_accepted(folder: Path) -> None:
    """Per kind of costly image: the largest square side decode_image accepts (50 px steps), measured."""
    starts = {
        "jpeg-444-progressive": 3700,
        "jpeg-420-progressive": 5800,
        "jpeg-cmyk-progressive": 3400,
        "png-rgba": 3350,
        "png-palette-transparent": 3200,
    }
    print("\nLargest accepted image of each costly kind (square, largest side accepted in 50 px steps):")
    for kind, side in starts.items():
        path = folder / f"{kind}.{'png' if kind.startswith('png') else 'jpg'}"
        while True:
            _save_kind(kind, side, path)
            estimate = _estimate(path)
            if estimate is not None:
                break
            side -= 50
        added_mb, sizes = _decode_in_fresh_process(path)
        print(
            f"  {kind:24s} {side}x{side} ({path.stat().st_size:>9,} bytes) -> {sizes[0]}x{sizes[1]}: "
            f"+{added_mb:6.1f} MB peak RSS (estimated {estimate / 1e6:5.1f} MB; {side + 50} px is refused)"
        )
    refused = {
        "jpeg-444-progressive": 9400,
        "jpeg-cmyk-progressive": 5000,
        "png-rgba": 5000,
        "png-palette-transparent": 5000,
    }
    print("The review's cases, refused before decoding (-40000):")
    for kind, side in refused.items():
        path = folder / f"refused-{kind}.{'png' if kind.startswith('png') else 'jpg'}"
        _save_kind(kind, side, path)
        added_mb, message = _decode_in_fresh_process(path)
        print(f"  {kind:24s} {side}x{side} ({path.stat().st_size:>9,} bytes): +{added_mb:6.1f} MB peak RSS, {message}")


def zip_figures(folder: Path) -> None:
    bomb = folder / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("set/a/x.jpg", "w") as handle:
        handle.write(b"\xff\xd8\xff")
        for _ in range(1000):
            handle.write(bytes(1_000_000))
    small = jpeg(Image.open(ASTRONAUT).resize((100, 100)), 85)
    honest = folder / "set.zip"
    with zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(40):
            archive.writestr(f"set/p{i % 4}/{i}.jpg", small + random.Random(i).randbytes(2_900_000 - len(small)))
    setup = f"""
import tempfile
from pathlib import Path
from facereco import FaceRecoClient
from facereco.labeled_sets import enroll
client = FaceRecoClient.local(tempfile.mkdtemp(dir={str(folder)!r}))
client.create_group("g")
client.register_faces("g", {str(ASTRONAUT)!r})
"""
    bomb_mb, message = peak_added(
        setup,
        f"try:\n    enroll(client, 'g', Path({str(bomb)!r}))\nexcept Exception as error:\n    _result = str(error)",
    )
    set_mb, counts = peak_added(
        setup, f"r = enroll(client, 'g', Path({str(honest)!r}))\n_result = [r.added, r.no_face, len(r.failed)]"
    )
    print(f"\nZIP bomb ({bomb.stat().st_size:,} bytes, one member of 1,000,000,003 bytes), enrollment refused:")
    print(f"  +{bomb_mb:6.1f} MB peak RSS   ({message[:90]}...)")
    print(f"ZIP of 40 members x 2.9 MB ({honest.stat().st_size:,} bytes), every member registered (no face):")
    print(f"  +{set_mb:6.1f} MB peak RSS   outcome added/no-face/failed = {counts}; one member is 2.9 MB")


def listing_only_zip(path: Path, entries: int) -> Path:
    """The review's archive: nothing but a ZIP64 central directory of empty ``p/NNNNNNN.txt`` members."""
    record = bytearray()
    for i in range(entries):
        name = b"p/%07d.txt" % i
        record += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, *[0] * 7, len(name), *[0] * 6) + name
    end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, entries, entries, len(record), 0)
    end += struct.pack("<IIQI", 0x07064B50, 0, len(record), 1)
    end += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(bytes(record) + end)
    return path


def zip_listing_figures(folder: Path, entries: int = 3_000_000) -> None:
    archive = listing_only_zip(folder / "listing.zip", entries)
    setup = f"import time, zipfile\nfrom facereco.labeled_sets import count_labeled_images\npath = {str(archive)!r}"
    refused_mb, (refused_s, message) = peak_added(
        setup,
        "started = time.perf_counter()\ntry:\n    count_labeled_images(open(path, 'rb'))\n"
        "except Exception as error:\n    _result = [time.perf_counter() - started, str(error)]",
    )
    bare_mb, (bare_s, listed) = peak_added(
        setup,
        "started = time.perf_counter()\nlisted = len(zipfile.ZipFile(path).infolist())\n"
        "_result = [time.perf_counter() - started, listed]",
    )
    print(f"\nZIP listing of {entries:,} entries ({archive.stat().st_size:,} bytes), refused from its end record:")
    print(f"  count_labeled_images                        +{refused_mb:6.1f} MB peak RSS  {refused_s * 1000:8.1f} ms")
    print(f"  bare zipfile listing ({listed:,} entries)  +{bare_mb:6.1f} MB peak RSS  {bare_s * 1000:8.1f} ms")
    print(f"  ({message[:100]}...)")


def largest_compare(folder: Path) -> None:
    def padded(path: Path) -> str:
        data = jpeg(Image.open(path), 90)
        return base64.b64encode(data + bytes(MAX_IMAGE_BYTES - 10 - len(data))).decode()

    body = json.dumps({"sourceImage": {"bytes": padded(ASTRONAUT)}, "targetImage": {"bytes": padded(GRACE_HOPPER)}})
    (folder / "body.json").write_text(body)
    setup = f"""
import json
from facereco.engine.api import LocalEngine
engine = LocalEngine({str(folder / "engine")!r})
raw = open({str(folder / "body.json")!r}, "rb").read()
engine.handle("k", "compare", {{}}, {{"threshold": "1"}}, json.loads(raw))  # models loaded before the measure
"""
    added_mb, code = peak_added(
        setup,
        "answer = engine.handle('k', 'compare', {}, {'threshold': '1'}, json.loads(raw))\n"
        "_result = [answer['header']['resultCode'], answer['data']['sourceFace']['confidence']]",
    )
    print(f"\nLargest legal request: compare, two {MAX_IMAGE_BYTES - 10:,}-byte JPEGs, body {len(body):,} bytes:")
    print(
        f"  JSON parse + decode + detect + compare      +{added_mb:6.1f} MB peak RSS   resultCode {code[0]}, "
        f"source face confidence {code[1]:.1f}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        large_jpeg(Path(folder))
        worst_accepted(Path(folder))
        zip_figures(Path(folder))
        zip_listing_figures(Path(folder))
        largest_compare(Path(folder))


if __name__ == "__main__":
    main()
