"""A labeled group of synthetic descriptors, written straight into the local engine's store.

For benchmarks and tests of threshold tuning at sizes no bundled photo set has: identities of
``per_identity`` faces around a centre, plus a little noise, with externalImageIds ``id<k>:<n>.jpg``
as enrollment writes them. Nothing is detected or embedded. Centres lean towards one shared
direction by a random amount, so impostor pairs spread over the similarity scale as real faces
do (fully random 128-d directions would all score 0 against each other).
"""

from __future__ import annotations

import uuid

import numpy as np

from facereco.engine.api import LocalEngine
from facereco.engine.store import load_synthetic_faces
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
