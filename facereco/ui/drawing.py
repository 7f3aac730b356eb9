"""Drawing contract results on images with Pillow: numbered boxes, the five landmarks, labels, crops.

Coordinates come from the contract (0..1), so the same code draws results from the
cloud and from the local engine, whatever the size the image is shown at.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from facereco.contract import BoundingBox, FaceDetail
from facereco.engine import decode_image
from facereco.ui.i18n import _

# One colour per landmark, the same everywhere (legend on the Detect page).
LANDMARK_COLORS: dict[str, str] = {
    "leftEye": "#1f77b4",
    "rightEye": "#ff7f0e",
    "nose": "#2ca02c",
    "leftLip": "#d62728",
    "rightLip": "#9467bd",
}


def landmark_labels() -> dict[str, str]:
    """The five landmarks' names in the session's language (for the legend, not drawn into images)."""
    return {
        "leftEye": _("left eye (image left)"),
        "rightEye": _("right eye"),
        "nose": _("nose"),
        "leftLip": _("left mouth corner"),
        "rightLip": _("right mouth corner"),
    }


BOX_COLOR = "#00c2ff"
MATCH_COLOR = "#22c55e"
NO_MATCH_COLOR = "#ef4444"


def open_image(data: bytes) -> Image.Image:
    """Bytes to an RGB image in display orientation (EXIF applied), through the engine's bounded decoder:
    at most 2048 px, what decoding would take checked from the header first, so an upload that unpacks
    to gigapixels is refused (InvalidParam) rather than decoded. Boxes are relative, so they fit any size."""
    return Image.fromarray(decode_image(data, min_side=1).rgb)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _pixels(box: BoundingBox, width: int, height: int) -> tuple[float, float, float, float]:
    return box.x0 * width, box.y0 * height, box.x1 * width, box.y1 * height


def annotate(
    image: Image.Image,
    faces: Sequence[FaceDetail],
    labels: Sequence[str] | None = None,
    colors: Sequence[str] | None = None,
    landmarks: bool = True,
) -> Image.Image:
    """A copy of ``image`` with each face boxed and numbered, its label above and its landmarks dotted."""
    canvas = image.copy()
    draw = ImageDraw.Draw(canvas)
    width, height = canvas.size
    stroke = max(2, round(min(width, height) / 250))
    font = _font(max(12, round(min(width, height) / 40)))
    for i, face in enumerate(faces):
        color = colors[i] if colors else BOX_COLOR
        x0, y0, x1, y1 = _pixels(face.bbox, width, height)
        draw.rectangle((x0, y0, x1, y1), outline=color, width=stroke)
        text = f"{i + 1}" + (f"  {labels[i]}" if labels and labels[i] else "")
        left, top, right, bottom = draw.textbbox((x0, y0), text, font=font)
        label_y = y0 - (bottom - top) - 2 * stroke if y0 - (bottom - top) - 2 * stroke > 0 else y1 + stroke
        draw.rectangle(
            (x0, label_y, x0 + (right - left) + 2 * stroke, label_y + (bottom - top) + 2 * stroke), fill=color
        )
        draw.text((x0 + stroke, label_y + stroke - (top - y0)), text, fill="white", font=font)
        if landmarks:
            radius = max(2, stroke + 1)
            for point in face.landmarks:
                px, py = point.x * width, point.y * height
                fill = LANDMARK_COLORS.get(point.type, "white")
                draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=fill, outline="white")
    return canvas


CROP_SIDE = 160  # every face thumbnail is this many pixels square, whatever the face's size or shape


def face_crops(
    image: Image.Image, faces: Sequence[FaceDetail], margin: float = 0.15, side: int = CROP_SIDE
) -> list[Image.Image]:
    """Each face's box with a margin, as a square centred on the box (padded grey past the image's
    edge), all ``side`` x ``side`` px: thumbnails in a row line up."""
    width, height = image.size
    crops = []
    for face in faces:
        x0, y0, x1, y1 = _pixels(face.bbox, width, height)
        half = max(x1 - x0, y1 - y0, 1.0) * (1 + 2 * margin) / 2
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        square = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
        inside = (max(square[0], 0), max(square[1], 0), min(square[2], width), min(square[3], height))
        canvas = Image.new("RGB", (square[2] - square[0], square[3] - square[1]), (128, 128, 128))
        if inside[2] > inside[0] and inside[3] > inside[1]:
            canvas.paste(image.convert("RGB").crop(inside), (inside[0] - square[0], inside[1] - square[1]))
        crops.append(canvas.resize((side, side), Image.Resampling.LANCZOS))
    return crops


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def detail_label(face: FaceDetail) -> str:
    """What is drawn beside a box: the confidence only. Numbers need no translation and no CJK font;
    pose and mask are in the page's table, in the reader's language."""
    return f"{face.confidence_percent:.1f}%"


__all__ = [
    "LANDMARK_COLORS",
    "landmark_labels",
    "annotate",
    "face_crops",
    "detail_label",
    "open_image",
    "png_bytes",
]
