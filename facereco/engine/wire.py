"""The contract's stored-face objects as they go on the wire, built from the store's rows and the index's columns.

Apart from the store, which keeps rows and knows nothing of the wire, and shared by the service
(register, list faces) and the search index (matches).
"""

from __future__ import annotations

from facereco.engine.store import BBOX_KEYS, FaceRow


def face_wire(row: FaceRow) -> dict[str, object]:
    """One stored face as the contract's face object."""
    x0, y0, x1, y1 = (row.bbox[k] for k in BBOX_KEYS)
    box = (x0, y0, x1, y1)
    return faces_wire([row.face_id], [row.image_id], [row.external_image_id], [box], [row.confidence])[0]


def faces_wire(
    face_ids: list[str],
    image_ids: list[str],
    external_image_ids: list[str | None],
    boxes: list[tuple[float, float, float, float]] | list[list[float]],
    confidences: list[float],
) -> list[dict[str, object]]:
    """The contract's face objects (stored faces) as they go on the wire, built in bulk.

    Built in one loop with literal dicts: a search answer holds up to 4,096 of them.
    """
    faces: list[dict[str, object]] = []
    for face_id, image_id, external_image_id, (x0, y0, x1, y1), confidence in zip(
        face_ids, image_ids, external_image_ids, boxes, confidences, strict=True
    ):
        face: dict[str, object] = {"faceId": face_id, "imageId": image_id}
        if external_image_id is not None:
            face["externalImageId"] = external_image_id
        face["bbox"] = {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
        face["confidence"] = confidence
        faces.append(face)
    return faces
