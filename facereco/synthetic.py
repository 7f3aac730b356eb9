"""Test and benchmark support: labeled synthetic descriptors, written straight into a local engine's store.

Not used by the product. It sits above the engine and the client (it needs the in-process appkey and
the labeling convention), so the engine's runtime imports none of it. For benchmarks and tests of
threshold tuning at sizes no bundled photo set has: identities of ``per_identity`` faces around a
centre, plus a little noise, with externalImageIds ``id<k>:<n>.jpg`` as enrollment writes them.
Nothing is detected or embedded. Centres lean towards one shared direction by a random amount, so
impostor pairs spread over the similarity scale as real faces do (fully random 128-d directions
would all score 0 against each other).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np

from facereco.engine.api import LocalEngine
from facereco.engine.store import FaceRow, NewFace, Store
from facereco.labeled_sets import labeled_external_id
from facereco.transport import LocalTransport

DESCRIPTOR_SIZE = 128


def add_labeled_vectors(engine: LocalEngine, group_id: str, labels: list[tuple[str, str]], vectors: np.ndarray) -> None:
    """Create ``group_id`` for the local appkey (what ``FaceRecoClient.local()`` sees) holding one face
    per (identity, file name) label with its descriptor, as enrollment would have stored them."""
    owner = engine.secrets.appkey_digest(LocalTransport.LOCAL_APPKEY)
    engine.service.create_group(owner, group_id)
    external_ids = [labeled_external_id(identity, name) for identity, name in labels]
    # ids derived from the label: the same set gets the same faceIds, so a scoring checkpoint stays valid
    face_ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"facereco-synthetic/{group_id}/{e}")) for e in external_ids]
    load_synthetic_faces(engine.service.store, owner, group_id, vectors, external_ids, face_ids)


def add_synthetic_group(
    engine: LocalEngine, group_id: str, size: int, *, per_identity: int = 5, noise: float = 0.025, seed: int = 0
) -> np.ndarray:
    """``size`` synthetic faces in identities of ``per_identity`` (see the module's docstring); their descriptors."""
    rng = np.random.default_rng(seed)
    identities = -(-size // per_identity)
    own = rng.normal(size=(identities, DESCRIPTOR_SIZE))
    own *= rng.uniform(0.25, 0.6, size=(identities, 1)) / np.linalg.norm(own, axis=1, keepdims=True)
    centres = own + np.eye(1, DESCRIPTOR_SIZE)  # the shared direction: the first axis
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    person = np.arange(size) // per_identity
    vectors = centres[person] + rng.normal(scale=noise, size=(size, DESCRIPTOR_SIZE))
    add_labeled_vectors(engine, group_id, [(f"id{p}", f"{i}.jpg") for i, p in enumerate(person)], vectors)
    return vectors


def load_synthetic_faces(
    store: Store,
    owner: str,
    group_id: str,
    vectors: np.ndarray,
    external_image_ids: list[str] | None = None,
    face_ids: list[str] | None = None,
) -> list[FaceRow]:
    """Benchmarks and tests only: faces with no photo behind them, straight into a group (no quota).

    The one documented way to build a 100,000-face group in seconds; the API path
    (register) runs the models on a photo per face. It lives here, not in the store,
    so the store's runtime surface has no such back door.
    """
    bbox = {"x0": 0.25, "y0": 0.25, "x1": 0.75, "y1": 0.75}
    labels: Sequence[str | None] = external_image_ids or [None] * len(vectors)
    ids = face_ids or [str(uuid.uuid4()) for _ in range(len(vectors))]
    faces = [
        NewFace(face_id, str(uuid.uuid4()), label, bbox, 99.9, v)
        for v, label, face_id in zip(vectors, labels, ids, strict=True)
    ]
    return store.add_faces(owner, group_id, faces, quota=len(faces) + 10**9)[0]
