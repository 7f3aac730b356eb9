"""Groups: list, create, delete, detail; bulk register; the group's faces paged by next-token."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from facereco.contract import GROUP_ID_PATTERN, MAX_IMAGE_BYTES, Face
from facereco.errors import FaceRecoError
from facereco.ui import presentation, session
from facereco.ui.handout import Shown
from facereco.ui.headlines import groups_headline
from facereco.ui.i18n import _
from facereco.ui.messages import explain, literal
from facereco.ui.quality_view import enrolled_verdicts
from facereco.ui.widgets import exchange_panel, face_label, show_error, upload_help
from facereco.validation import external_image_id_from

session.require_router(__file__)
st.title(_("Groups"))
ID_COLUMNS = {
    name: st.column_config.TextColumn(width="large") for name in ("groupId", "faceId", "imageId", "externalImageId")
}
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
    # one row of buttons as wide as their labels (fixed columns cut "◀ Previous" at 1024 px)
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    if row.button(_("◀ Previous"), key=f"{key}-prev", disabled=state["page"] == 0):
        state["page"] -= 1
        st.rerun()
    row.markdown(_("page {number}").format(number=state["page"] + 1), width="content")
    if row.button(_("Next ▶"), key=f"{key}-next", disabled=not next_token):
        state["page"] += 1
        st.rerun()


def reset_pager(key: str) -> None:
    st.session_state.pop(key, None)


FACE_COLUMNS = ["externalImageId", "faceId", "imageId", "confidence", "x0", "y0", "x1", "y1"]


def face_row(face: Face) -> dict:
    """One face as a flat row (the table and the CSV): the bbox as four columns, not dict text."""
    box = face.bbox
    return dict(zip(FACE_COLUMNS, [face.external_image_id, face.face_id, face.image_id, round(face.confidence, 2),
                                   box.x0, box.y0, box.x1, box.y1], strict=True))  # fmt: skip


def show_register_rows(rows: list[dict]) -> None:
    """The last registration, one row per file; failed files named first, each with why."""
    failed = [row for row in rows if row["added"] == 0]
    if failed:
        st.warning(
            _("{count:,} of {total:,} file(s) added no face: {names}").format(
                count=len(failed),
                total=len(rows),
                names=", ".join(f"{literal(r['file'])} ({r['note']})" for r in failed),
            )
        )
    columns = {"file": _("file"), "added": _("added"), "not added": _("not added"), "quality": _("quality"),
               "note": _("note")}  # fmt: skip
    st.dataframe(pd.DataFrame(rows).rename(columns=columns), hide_index=True, width="stretch", column_config=ID_COLUMNS)


# ---------------------------------------------------------------- list and create
list_column, create_column = st.columns([2, 1])
with list_column:
    st.subheader(_("All groups"))
    group_page_size = st.selectbox(_("Groups per page"), [10, 50, 200], key="groups-page-size")
    page, token = token_pager("groups-pager", group_page_size)
    try:
        listing = client.list_groups(limit=None if token else group_page_size, next_token=token)
        st.dataframe(
            pd.DataFrame([{"groupId": g.group_id, "modelVersion": g.model_version} for g in listing.groups]),
            hide_index=True,
            width="stretch",
            key="groups-table",
            column_config=ID_COLUMNS,
        )
        pager_buttons("groups-pager", listing.next_token)
    except FaceRecoError as error:
        show_error(error)
with create_column:
    st.subheader(_("Create a group"))
    new_group = st.text_input("groupId", key="groups-new-id", help=_("a-z, 0-9 and '-', up to 255 characters"))
    created = st.session_state.pop("groups-created", None)
    if created:
        st.success(_("Group `{group}` created.").format(group=created))
    if st.button(_("Create"), key="groups-create", disabled=not new_group):
        if not GROUP_ID_PATTERN.fullmatch(new_group):
            st.error(_("A groupId is 1-255 characters of a-z, 0-9 and '-'."))
        else:
            try:
                client.create_group(new_group)
                st.session_state["groups-created"] = new_group
                reset_pager("groups-pager")
                st.session_state["groups-selected"] = new_group
                st.rerun()  # the counters and lists above were drawn before the write
            except FaceRecoError as error:
                show_error(error)

# ---------------------------------------------------------------- one group
try:
    all_groups = [g.group_id for g in client.iter_groups(limit=200)]
except FaceRecoError as error:
    show_error(error)
    all_groups = []
if not all_groups:
    st.info(_("No groups yet."))
    st.stop()
if st.session_state.get("groups-selected") not in all_groups:
    st.session_state["groups-selected"] = all_groups[0]
group = st.selectbox(_("Group"), all_groups, key="groups-selected")

try:
    detail = client.get_group(group).group
except FaceRecoError as error:
    show_error(error)
    st.stop()
line = groups_headline(group, detail.face_count or 0)
presentation.headline(line)
presentation.record(lambda: Shown("groups", _("Groups"), line))
faces_metric, created_metric, model_metric = st.columns(3)
faces_metric.metric(_("Faces"), f"{detail.face_count or 0:,}")
created = (detail.create_time or "").replace("T", " ")
# the day as the value (the whole timestamp is cut at 1024 px), the time in its help
created_metric.metric(_("Created"), created[:10] or "—", help=created or None)
model_metric.metric(_("Model"), detail.model_version)

register_tab, faces_tab, delete_tab = st.tabs([_("Register faces"), _("Faces"), _("Delete group")])

with register_tab:
    uploads = st.file_uploader(
        _("Photos (PNG or JPEG, up to {limit:,} bytes each); each file name becomes its externalImageId").format(
            limit=MAX_IMAGE_BYTES
        ),
        type=["png", "jpg", "jpeg"],
        accept_multiple_files=True,
        key="groups-register-files",
        help=upload_help(),
    )
    limit = st.number_input(_("Faces per photo (largest first)"), 1, 20, 3, key="groups-register-limit")
    if st.button(_("Register"), type="primary", key="groups-register", disabled=not uploads):
        progress = st.progress(0.0, text=_("registering…"))
        rows = []
        for i, upload in enumerate(uploads):
            external_id = external_image_id_from(upload.name)
            row = {"file": upload.name, "externalImageId": external_id, "added": 0, "not added": 0, "quality": "—",
                   "note": ""}  # fmt: skip
            try:
                result = client.register_faces(
                    group, upload.getvalue(), external_image_id=external_id, limit=int(limit)
                )
                row.update({"added": result.added_face_count, "not added": result.not_added_face_count})
                if result.added_face_details:
                    row["quality"] = enrolled_verdicts(upload.getvalue(), result.added_face_details)
                if result.is_partial:
                    row["note"] = _("group full: only part was added")
                elif result.added_face_count == 0:
                    row["note"] = _("no recognisable face (too small, turned, or none)")
                elif result.not_added_face_count:
                    row["note"] = _("other faces over the limit, too small or turned")
            except (FaceRecoError, OSError) as error:
                row["note"] = explain(error, markdown=False)  # a table cell: text as it is
            rows.append(row)
            progress.progress(
                (i + 1) / len(uploads), text=_("{done:,} of {total:,}").format(done=i + 1, total=len(uploads))
            )
        st.session_state["groups-register-rows"] = rows
        reset_pager(f"faces-pager-{group}")
        st.rerun()  # the face count above was drawn before the write
    if st.session_state.get("groups-register-rows"):
        show_register_rows(st.session_state["groups-register-rows"])

with faces_tab:
    face_page_size = st.selectbox(_("Faces per page"), [2, 10, 50, 100, 200], index=2, key="faces-page-size")
    pager_key = f"faces-pager-{group}"
    page, token = token_pager(pager_key, face_page_size)
    try:
        listing = client.list_faces(group, limit=None if token else face_page_size, next_token=token)
    except FaceRecoError as error:
        show_error(error)
        reset_pager(pager_key)
        listing = None
    if listing is not None:
        table = pd.DataFrame([face_row(f) for f in listing.faces], columns=FACE_COLUMNS)
        if presentation.is_on():  # the IDs and the box (fractions of a photo not shown) are the engineer's
            table = table[["externalImageId", "confidence"]].copy()
        # the box as fractions of the photo (a stored face has no photo to count pixels in): 2 decimals here,
        # in the data too (the table's accessible copy shows the raw value); every digit in the CSV
        box_columns = [name for name in ("x0", "y0", "x1", "y1") if name in table.columns]
        if box_columns:
            table[box_columns] = table[box_columns].round(2)
        boxes = {name: st.column_config.NumberColumn(format="%.2f") for name in box_columns}
        st.dataframe(
            table, hide_index=True, width="stretch", key=f"faces-table-{group}-{page}",
            column_config=ID_COLUMNS | boxes,
        )  # fmt: skip
        pager_buttons(pager_key, listing.next_token)
        labels = {f.face_id: face_label(f) for f in listing.faces}
        chosen = st.multiselect(
            _("Select faces on this page to delete"),
            list(labels),
            format_func=labels.get,
            key=f"faces-delete-choice-{group}-{page}",
        )
        if st.button(
            _("Delete {count} selected face(s)").format(count=len(chosen)), key="faces-delete", disabled=not chosen
        ):
            for face_id in chosen:
                try:
                    client.delete_face(group, face_id)
                except FaceRecoError as error:
                    show_error(error)
            reset_pager(pager_key)
            st.rerun()
        if st.button(_("Prepare CSV of all faces"), key="faces-export"):
            try:
                every = pd.DataFrame([face_row(f) for f in client.iter_faces(group, limit=200)], columns=FACE_COLUMNS)
                st.download_button(_("Download CSV"), every.to_csv(index=False), f"{group}-faces.csv", "text/csv")
            except FaceRecoError as error:
                show_error(error)

with delete_tab:
    st.warning(
        _("Deleting `{group}` removes its {count:,} face(s) for good.").format(
            group=group, count=detail.face_count or 0
        )
    )
    confirmed = st.checkbox(
        _("Yes, delete `{group}` and all its faces").format(group=group), key=f"groups-delete-confirm-{group}"
    )
    if st.button(_("Delete group"), type="primary", key="groups-delete", disabled=not confirmed):
        try:
            client.delete_group(group)
            st.session_state.pop("groups-selected", None)
            reset_pager("groups-pager")
            st.rerun()
        except FaceRecoError as error:
            show_error(error)

exchange_panel()
