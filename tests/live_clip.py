"""A webcam's view of a package photo, and a YUV4MPEG2 clip of it for Chromium's fake camera (the Live page's
browser test and benchmarks/live.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from facereco.samples import package_photo

CLIP_SIZE = (640, 480)


def astronaut_frame(size: tuple[int, int] = CLIP_SIZE) -> Image.Image:
    """The astronaut's head and shoulders filling a 4:3 frame, as a webcam would show her."""
    photo = Image.open(package_photo("astronaut")).convert("RGB")
    return photo.crop((64, 0, 448, 288)).resize(size)


def write_y4m(path: Path, frame: Image.Image, seconds: float = 3.0, fps: int = 12) -> Path:
    """A YUV4MPEG2 clip (Chromium's fake camera reads these): full-range 4:2:0, as C420jpeg says.

    Each frame shifts the picture by a pixel or two, so the stream is a moving picture, not one still."""
    width, height = frame.size
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for index in range(round(seconds * fps)):
            shifted = Image.new("RGB", frame.size)
            shifted.paste(frame, (index % 3 - 1, 0))
            y, cb, cr = (np.asarray(plane) for plane in shifted.convert("YCbCr").split())
            out.write(b"FRAME\n" + y.tobytes())
            for chroma in (cb, cr):
                half = Image.fromarray(chroma).resize((width // 2, height // 2), Image.Resampling.BILINEAR)
                out.write(np.asarray(half).tobytes())
    return path
