"""Groups: list, create, delete, detail; bulk register; the group's faces paged by next-token."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from facereco.contract import GROUP_ID_PATTERN
from facereco.errors import FaceRecoError
from facereco.ui import session
from facereco.ui.widgets import exchange_panel, explain, face_label, show_error
from facereco.validation import external_image_id_from

session.require_router(__file__)
st.title("Groups")
client = session.client()


def token_pager(key: str, page_size: int) -> tuple[int, str | None]:
    """Page number (0-based) and the token that fetches it; the token stack resets when the size changes."""
    state = st.session_state.setdefault(key, {"size": page_size, "tokens": [None], "page": 0})
    if state["size"] != page_size:
        state.update(size=page_size, tokens=[None], page=0)
    return state["page"], state["tokens"][state["page"]]


def pager_buttons(key: str, next_token: str | None) -> None:
    state = st.session_state[key]
    if next_token and len(state["tokens"]) == state["page"] + 1:
        state["tokens"].append(next_token)
    previous, label, following = st.columns([1, 2, 1])
    if previous.button("◀ Previous", key=f"{key}-prev", disabled=state["page"] == 0):
        state["page"] -= 1
        st.rerun()
    label.markdown(f"<div style='text-align:center'>page {state['page'] + 1}</div>", unsafe_allow_html=True)
    if following.button("Next ▶", key=f"{key}-next", disabled=not next_token):
        state["page"] += 1
        st.rerun()


def reset_pager(key: str) -> None:
    st.session_state.pop(key, None)


# ---------------------------------------------------------------- list and create
list_column, create_column = st.columns([2, 1])
with list_column:
    st.subheader("All groups")
    group_page_size = st.selectbox("Groups per page", [10, 50, 200], key="groups-page-size")
    page, token = token_pager("groups-pager", group_page_size)
    try:
        listing = client.list_groups(limit=None if token else group_page_size, next_token=token)
        st.dataframe(
            pd.DataFrame([{"groupId": g.group_id, "modelVersion": g.model_version} for g in listing.groups]),
            hide_index=True,
            width="stretch",
            key="groups-table",
        )
        pager_buttons("groups-pager", listing.next_token)
    except FaceRecoError as error:
        show_error(error)
with create_column:
    st.subheader("Create a group")
    new_group = st.text_input("groupId", key="groups-new-id", help="a-z, 0-9 and '-', up to 255 characters")
    if st.button("Create", key="groups-create", disabled=not new_group):
        if not GROUP_ID_PATTERN.fullmatch(new_group):
            st.error("A groupId is 1-255 characters of a-z, 0-9 and '-'.")
        else:
            try:
                client.create_group(new_group)
                st.success(f"Group `{new_group}` created.")
                reset_pager("groups-pager")
                st.session_state["groups-selected"] = new_group
            except FaceRecoError as error:
                show_error(error)

# ---------------------------------------------------------------- one group
try:
    all_groups = [g.group_id for g in client.iter_groups(limit=200)]
except FaceRecoError as error:
    show_error(error)
    all_groups = []
if not all_groups:
    st.info("No groups yet.")
    st.stop()
if st.session_state.get("groups-selected") not in all_groups:
    st.session_state["groups-selected"] = all_groups[0]
group = st.selectbox("Group", all_groups, key="groups-selected")

try:
    detail = client.get_group(group).group
except FaceRecoError as error:
    show_error(error)
    st.stop()
faces_metric, created_metric, model_metric = st.columns(3)
faces_metric.metric("Faces", detail.face_count or 0)
created_metric.metric("Created", (detail.create_time or "").replace("T", " "))
model_metric.metric("Model", detail.model_version)

register_tab, faces_tab, delete_tab = st.tabs(["Register faces", "Faces", "Delete group"])

with register_tab:
    uploads = st.file_uploader(
        "Photos (PNG or JPEG); each file name becomes its externalImageId",
        type=["png", "jpg", "jpeg"],
        accept_multiple_files=True,
        key="groups-register-files",
    )
    limit = st.number_input("Faces per photo (largest first)", 1, 20, 3, key="groups-register-limit")
    if st.button("Register", type="primary", key="groups-register", disabled=not uploads):
        progress = st.progress(0.0, text="registering…")
        rows = []
        for i, upload in enumerate(uploads):
            external_id = external_image_id_from(upload.name)
            row = {"file": upload.name, "externalImageId": external_id, "added": 0, "not added": 0, "note": ""}
            try:
                result = client.register_faces(
                    group, upload.getvalue(), external_image_id=external_id, limit=int(limit)
                )
                row.update({"added": result.added_face_count, "not added": result.not_added_face_count})
                if result.is_partial:
                    row["note"] = "group full: only part was added"
                elif result.added_face_count == 0:
                    row["note"] = "no recognisable face (too small, turned, or none)"
                elif result.not_added_face_count:
                    row["note"] = "other faces over the limit, too small or turned"
            except (FaceRecoError, OSError) as error:
                row["note"] = explain(error)
            rows.append(row)
            progress.progress((i + 1) / len(uploads), text=f"{i + 1} of {len(uploads)}")
        st.session_state["groups-register-rows"] = rows
        reset_pager("faces-pager")
    if st.session_state.get("groups-register-rows"):
        st.dataframe(pd.DataFrame(st.session_state["groups-register-rows"]), hide_index=True, width="stretch")

with faces_tab:
    face_page_size = st.selectbox("Faces per page", [2, 10, 50, 100, 200], index=2, key="faces-page-size")
    pager_key = f"faces-pager-{group}"
    page, token = token_pager(pager_key, face_page_size)
    try:
        listing = client.list_faces(group, limit=None if token else face_page_size, next_token=token)
    except FaceRecoError as error:
        show_error(error)
        reset_pager(pager_key)
        listing = None
    if listing is not None:
        table = pd.DataFrame(
            [
                {
                    "externalImageId": f.external_image_id,
                    "faceId": f.face_id,
                    "imageId": f.image_id,
                    "confidence": round(f.confidence, 2),
                    "x0": f.bbox.x0,
                    "y0": f.bbox.y0,
                    "x1": f.bbox.x1,
                    "y1": f.bbox.y1,
                }
                for f in listing.faces
            ],
            columns=["externalImageId", "faceId", "imageId", "confidence", "x0", "y0", "x1", "y1"],
        )
        st.dataframe(table, hide_index=True, width="stretch", key=f"faces-table-{group}-{page}")
        pager_buttons(pager_key, listing.next_token)
        labels = {f.face_id: face_label(f) for f in listing.faces}
        chosen = st.multiselect(
            "Select faces on this page to delete",
            list(labels),
            format_func=labels.get,
            key=f"faces-delete-choice-{group}-{page}",
        )
        if st.button(f"Delete {len(chosen)} selected face(s)", key="faces-delete", disabled=not chosen):
            for face_id in chosen:
                try:
                    client.delete_face(group, face_id)
                except FaceRecoError as error:
                    show_error(error)
            reset_pager(pager_key)
            st.rerun()
        if st.button("Prepare CSV of all faces", key="faces-export"):
            try:
                every = pd.DataFrame([f.to_wire() for f in client.iter_faces(group, limit=200)])
                st.download_button("Download CSV", every.to_csv(index=False), f"{group}-faces.csv", "text/csv")
            except FaceRecoError as error:
                show_error(error)

with delete_tab:
    st.warning(f"Deleting `{group}` removes its {detail.face_count or 0} face(s) for good.")
    confirmed = st.checkbox(f"Yes, delete `{group}` and all its faces", key=f"groups-delete-confirm-{group}")
    if st.button("Delete group", type="primary", key="groups-delete", disabled=not confirmed):
        try:
            client.delete_group(group)
            st.session_state.pop("groups-selected", None)
            reset_pager("groups-pager")
            st.rerun()
        except FaceRecoError as error:
            show_error(error)

exchange_panel()
