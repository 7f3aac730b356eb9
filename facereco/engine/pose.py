"""Head pose (yaw, pitch, roll in degrees) from 2D landmarks by PnP against a generic 3D face.

Five points alone leave pitch poorly constrained (it trades off against the
assumed nose depth), so the solver also takes dlib's eye corners and nose base
when they are there: up to nine points.

Conventions (the image as the viewer sees it): yaw > 0 when the face turns
towards the image's right, pitch > 0 when the face looks up, roll > 0 when the
face tilts clockwise on screen (its right-hand eye, as seen, sinks).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# A generic adult face in millimetres, camera-style axes: x to the image's right, y down, z away
# from the camera; nose tip at the origin. Proportions from anthropometric means (interpupillary
# ~63 mm, eye corners ~90 / ~32 mm apart, eyes ~38 mm above the nose tip, subnasale ~8 mm below
# and ~18 mm behind it). Tuned so frontal LFW faces read pitch within about +-10 degrees.
MODEL_POINTS_MM: dict[str, tuple[float, float, float]] = {
    "leftEye": (-31.5, -38.0, 27.0),
    "rightEye": (31.5, -38.0, 27.0),
    "nose": (0.0, 0.0, 0.0),
    "leftLip": (-25.0, 27.0, 25.0),
    "rightLip": (25.0, 27.0, 25.0),
    "leftEyeOuter": (-45.0, -38.0, 33.0),
    "leftEyeInner": (-16.0, -38.0, 26.0),
    "rightEyeInner": (16.0, -38.0, 26.0),
    "rightEyeOuter": (45.0, -38.0, 33.0),
    "noseBase": (0.0, 8.0, 18.0),
}
# Mouth corners move with expression (a broad smile lifts them and reads as looking up), so they
# count a third as much as the rigid points of eyes and nose (weights by repetition: PnP has none).
POINT_WEIGHTS: dict[str, int] = {name: 1 if name.endswith("Lip") else 3 for name in MODEL_POINTS_MM}


def head_pose(points: dict[str, tuple[float, float]], width: int, height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees for the named 2D points (pixels) of one face."""
    names = [n for n in MODEL_POINTS_MM for _ in range(POINT_WEIGHTS[n]) if n in points]
    object_points = np.array([MODEL_POINTS_MM[n] for n in names], dtype=np.float64)
    image_points = np.array([points[n] for n in names], dtype=np.float64)
    focal = float(max(width, height))  # a ~53 degree field of view: a typical phone or webcam
    camera = np.array([[focal, 0, width / 2.0], [0, focal, height / 2.0], [0, 0, 1]], dtype=np.float64)
    ok, rvec, _tvec = cv2.solvePnP(object_points, image_points, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:  # pragma: no cover - SQPnP solves any set of >= 3 non-collinear points
        ok, rvec, _tvec = cv2.solvePnP(object_points, image_points, camera, None, flags=cv2.SOLVEPNP_EPNP)
    rotation, _ = cv2.Rodrigues(rvec)
    return _euler_degrees(rotation)


def _euler_degrees(rotation: np.ndarray) -> tuple[float, float, float]:
    """Decompose R = Rz(roll) @ Ry(yaw) @ Rx(pitch) into our sign conventions."""
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rotation[2, 0]))))
    pitch = math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    # Model z points away from the camera: a face turning to the image's right rotates
    # about y by a negative angle in these axes, and looking up is a positive x rotation.
    return -yaw, pitch, roll
