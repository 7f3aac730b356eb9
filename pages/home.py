"""Home: what each page is for, the backend's state, and a one-click demo group."""

from __future__ import annotations

import streamlit as st

from facereco.errors import FaceRecoError
from facereco.ui import session
from facereco.ui.widgets import exchange_panel, show_error

DEMO_GROUP = "demo"

session.require_router(__file__)
st.title("Face Recognition dashboard")
st.write(
    "Detect, compare, search and verify faces with the **NHN Cloud Face Recognition API v1.0** — "
    "or, with no appkey and no network, with the **local engine** that answers the same contract."
)

PAGES = {
    "Detect": "every face in a photo: numbered boxes, five landmarks, confidence, head pose, mask",
    "Compare": "one face against all faces of another photo, with a threshold slider",
    "Search": "a group searched by a photo or by a stored face, with the similarity distribution",
    "Verify": "is this photo the stored face? a verdict against the threshold",
    "Groups": "create and delete groups, register faces in bulk, page through and export them",
    "Tuning": "which threshold? FMR / FNMR, DET and ROC, operating points from a labeled group",
}
for name, purpose in PAGES.items():
    st.markdown(f"- **{name}** — {purpose}")

client = session.client()
try:
    groups = [g.group_id for g in client.iter_groups(limit=200)]
    face_total = sum(client.get_group(g).group.face_count or 0 for g in groups[:200])
except FaceRecoError as error:
    show_error(error)
    groups, face_total = [], 0

left, middle, right = st.columns(3)
left.metric("Backend", session.current_backend().label)
middle.metric("Groups", len(groups))
right.metric("Faces", face_total)

st.subheader("Demo group")
st.write(
    f"Builds the group `{DEMO_GROUP}` from photos that ship with installed packages: the astronaut and "
    "Grace Hopper, each twice (the second copy mirrored and brightened), so Search and Verify have "
    "something to find."
)
if st.button("Build the demo group", type="primary", key="build-demo"):
    try:
        client.ensure_group(DEMO_GROUP)
        existing = {f.external_image_id for f in client.iter_faces(DEMO_GROUP)}
        added = 0
        for name, data in session.demo_images():
            if name not in existing:
                added += client.register_faces(DEMO_GROUP, data, external_image_id=name).added_face_count
        st.success(f"Group `{DEMO_GROUP}` is ready: {added} face(s) added, {len(existing)} already there.")
    except FaceRecoError as error:
        show_error(error)
    exchange_panel()
