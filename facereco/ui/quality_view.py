"""Face quality and face numbers as people read them: the Detect table, its legend, enrollment verdicts.

The quality record comes from facereco/quality.py, computed from the image we sent and the box and
landmarks the API returned: no extra call. Numbers are for reading: the box in pixels (the raw panel
keeps the API's fractions), angles in whole degrees, confidence with one decimal, "—" for not asked.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st
from PIL import Image

from facereco.contract import DetectResult, FaceDetail
from facereco.quality import (
    DEFAULT_PRESET,
    EXTREME_POSE,
    LOW_BRIGHTNESS,
    LOW_CONFIDENCE,
    LOW_SHARPNESS,
    SMALL_BOUNDING_BOX,
    FaceQuality,
    decode_rgb,
    image_size,
    measure_all,
    preset_named,
)
from facereco.ui.drawing import png_bytes
from facereco.ui.i18n import _

NOT_ASKED = "—"


def face_qualities(data: bytes, details: Sequence[FaceDetail], preset: str = DEFAULT_PRESET) -> list[FaceQuality]:
    """Every face's quality record from the photo's bytes and the API's details. Raises ValueError (a
    sentence) for what cannot be decoded."""
    if not details:
        return []
    return measure_all(decode_rgb(data), details, original_size=image_size(data), preset=preset)


def verdict(quality: FaceQuality | None) -> str:
    """The verdict: "pass", or "fail: LOW_SHARPNESS, …" (Rekognition's reason names, as the CLI prints them)."""
    if quality is None:
        return NOT_ASKED
    return _("pass") if quality.passed else _("fail: {reasons}").format(reasons=", ".join(quality.reasons))


def quality_legend(preset: str = DEFAULT_PRESET) -> str:
    """What each reason means at ``preset``, its bounds read from the preset itself (markdown)."""
    p = preset_named(preset)
    lines = {
        LOW_SHARPNESS: _("sharpness below {value} (0-100: the fine detail a slight blur would remove)"),
        LOW_BRIGHTNESS: _("brightness outside {low}-{high} (0-100), or one half of the face much darker"),
        SMALL_BOUNDING_BOX: _("face smaller than {value} px (its box's shorter side)"),
        EXTREME_POSE: _("head turned more than {value}° (yaw), when the pose was asked for"),
        LOW_CONFIDENCE: _("detection confidence below {value} %"),
    }
    bounds = {
        LOW_SHARPNESS: {"value": p.min_sharpness},
        LOW_BRIGHTNESS: {"low": p.min_brightness, "high": p.max_brightness},
        SMALL_BOUNDING_BOX: {"value": p.min_size_px},
        EXTREME_POSE: {"value": p.max_yaw},
        LOW_CONFIDENCE: {"value": p.min_confidence},
    }
    shown = [
        f"`{reason}`: {text.format(**{k: f'{v:g}' for k, v in bounds[reason].items()})}"
        for reason, text in lines.items()
        if all(v is not None for v in bounds[reason].values())
    ]
    title = _("Quality at the {preset} preset (computed here from the image and the box, no extra call):").format(
        preset=p.name
    )
    return title + "\n\n" + "\n".join(f"- {line}" for line in shown)


def _degrees(value: float | None) -> int | str:
    return NOT_ASKED if value is None else round(value)


def detect_rows(
    faces: Sequence[FaceDetail],
    qualities: Sequence[FaceQuality] | None,
    size: tuple[int, int],
    *,
    orientation: bool,
    mask: bool,
) -> pd.DataFrame:
    """The Detect table: one row per face. ``size``: the photo's (width, height) in pixels."""
    width, height = size
    yes, no = _("yes"), _("no")
    rows = []
    for i, f in enumerate(faces):
        quality = qualities[i] if qualities else None
        pose = f.orientation if orientation else None
        rows.append(
            {
                _("face"): i + 1,
                _("quality"): verdict(quality),
                _("confidence %"): round(f.confidence_percent, 1),
                "x0": round(f.bbox.x0 * width),
                "y0": round(f.bbox.y0 * height),
                "x1": round(f.bbox.x1 * width),
                "y1": round(f.bbox.y1 * height),
                _("yaw"): _degrees(pose.x if pose else None),
                _("pitch"): _degrees(pose.y if pose else None),
                _("roll"): _degrees(pose.z if pose else None),
                _("mask"): NOT_ASKED if not mask or f.mask is None else (yes if f.mask else no),
            }
        )
    table = pd.DataFrame(rows)
    for column in table.columns:  # a column of numbers and "—" is shown as text, the same in every cell
        if table[column].map(lambda v: isinstance(v, str)).any():
            table[column] = table[column].map(str)
    return table


DETECT_QUALITY_KEY = "detect-quality"


def detect_table(
    result: DetectResult, data: bytes | None, drawn: Image.Image, *, orientation: bool, mask: bool
) -> pd.DataFrame:
    """The Detect page's table for ``result``: quality measured once per result (reruns reuse it), from
    the bytes sent, else (an image URL) from the image as fetched and drawn."""
    kept = st.session_state.get(DETECT_QUALITY_KEY)
    if kept is None or kept[0] is not result:
        source = data if data is not None else png_bytes(drawn)
        try:
            kept = (result, face_qualities(source, result.face_details), image_size(source))
        except ValueError:  # what cannot be measured gets "—", never a traceback
            kept = (result, None, drawn.size)
        st.session_state[DETECT_QUALITY_KEY] = kept
    return detect_rows(result.face_details, kept[1], kept[2], orientation=orientation, mask=mask)


def enrolled_verdicts(data: bytes, details: Sequence[FaceDetail]) -> str:
    """Each registered face's verdict, numbered as the register answer lists them ("1: pass; 2: fail: …"),
    measured from the photo sent and the details the register call returned (no extra call)."""
    try:
        qualities = face_qualities(data, details)
    except ValueError:
        return NOT_ASKED
    if len(qualities) == 1:
        return verdict(qualities[0])
    return "; ".join(f"{i + 1}: {verdict(q)}" for i, q in enumerate(qualities))


def detect_column_config(table: pd.DataFrame) -> dict[str, object]:
    """One decimal in the table's decimal columns, whatever the grid's own float format would show."""
    decimals = (_("confidence %"),)
    return {
        name: st.column_config.NumberColumn(format="%.1f")
        for name in decimals
        if name in table.columns and pd.api.types.is_float_dtype(table[name])
    }
