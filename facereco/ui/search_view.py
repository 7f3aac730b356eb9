"""How many faces of a group a search found at the slider's threshold, said against the group's own size.

A search returns at most ``limit`` faces (the most similar); the group may hold many more. "7 of 100
scored faces" for a 173-face group reads as if 100 were the group: the count is said against the
group's face count, and as "at least" when every returned face matched and the limit cut the list.
"""

from __future__ import annotations

from facereco.ui.i18n import _


def matches_sentence(hits: int, returned: int, limit: int, group_faces: int | None) -> tuple[str, str | None]:
    """(the metric's value, a caption or None). ``group_faces``: None when the group could not be read."""
    if group_faces is None or group_faces < returned:
        return _("{hits:,} of {scored:,} faces scored").format(hits=hits, scored=returned), None
    if limit_hid_matches(hits, returned, limit, group_faces):
        return (
            _("at least {hits:,} of {faces:,} faces").format(hits=hits, faces=group_faces),
            _("All {returned:,} faces returned (the limit) match: raise the limit to count the rest.").format(
                returned=returned
            ),
        )
    value = _("{hits:,} of {faces:,} faces").format(hits=hits, faces=group_faces)
    if group_faces > returned:
        return value, _(
            "The {returned:,} most similar faces were returned (limit {limit:,}); the other {rest:,} score lower."
        ).format(returned=returned, limit=limit, rest=group_faces - returned)
    return value, None


def limit_hid_matches(hits: int, returned: int, limit: int, group_faces: int | None) -> bool:
    """Every returned face matched and the limit cut the list: more of the group may match."""
    return group_faces is not None and returned >= limit and group_faces > returned and hits == returned
