"""The operating threshold: the one chosen on the Tuning page, kept per (group, backend) for every session.

Pressing a recommendation on the Tuning page (``adopt``) makes its threshold the *operating threshold*
of that group on that backend; Compare, Verify, Search and Live start their slider from it and say
where it came from. It is kept on disk, so a new browser session starts from it too:

- local engine: ``operating-thresholds.json`` in the engine's data folder (beside its SQLite store);
- the cloud or another server: the same file name in the user's config folder
  (``FACERECO_SETTINGS_DIR``, else ``$XDG_CONFIG_HOME/facereco``, else ``~/.config/facereco``), keyed by
  backend kind and base URL. Never the appkey: the file says which server, not with what key.

The file is owner-only (0600) and replaced atomically (a temporary file in the same folder, then
``os.replace``). One that cannot be read (truncated, not JSON, wrong shapes, too large) is ignored with
a sentence under the slider, never a traceback; the next adoption replaces it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from facereco.contract import THRESHOLD
from facereco.metrics import min_impostors_for, wilson_interval
from facereco.ui import numbers
from facereco.ui.i18n import _
from facereco.ui.session import Backend, _normal_url, current_backend, local_engine

if TYPE_CHECKING:
    from facereco.tuning import GroupScores

FILE_NAME = "operating-thresholds.json"
SETTINGS_ENV = "FACERECO_SETTINGS_DIR"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 1_000_000  # a few hundred groups fit in a few kB: anything larger is not ours
SMALL_SET_FACES = 100  # below this many faces a tuned threshold is a first guess, whatever the intervals say
USUAL_TARGET = 0.001  # what the cloud default 90 is set for: the yardstick when no FMR target was chosen
FMR, EER, DEFAULT = "fmr", "eer", "default"  # what the Tuning page's button aimed at

_write_lock = threading.Lock()  # sessions of one process adopt one at a time (read, change, replace)


@dataclass(frozen=True)
class OperatingThreshold:
    """A threshold adopted on the Tuning page, with the measurements it was adopted on."""

    group: str
    threshold: int
    faces: int
    identities: int
    false_matches: int
    impostors: int
    false_non_matches: int
    genuines: int
    aim: str  # FMR, EER or DEFAULT
    target: float | None  # the FMR target of an FMR button
    tuned_at: str  # ISO 8601, UTC

    @property
    def fmr(self) -> float:
        return self.false_matches / self.impostors if self.impostors else math.nan

    @property
    def fmr_interval(self) -> tuple[float, float]:
        return wilson_interval(self.false_matches, self.impostors)

    @property
    def small(self) -> bool:
        """Too few faces, or too few impostor pairs to vouch for the target (rule of three)."""
        return self.faces < SMALL_SET_FACES or self.impostors < min_impostors_for(self.target or USUAL_TARGET)

    @property
    def above_target(self) -> bool:
        """The FMR interval's upper bound is above the FMR target the threshold was chosen for."""
        return self.target is not None and self.fmr_interval[1] > self.target

    @classmethod
    def from_json(cls, group: str, record: Any) -> OperatingThreshold | None:
        """A record read from the file; None for anything that is not a sound one."""
        if not isinstance(record, dict):
            return None
        counts = ("faces", "identities", "false_matches", "impostors", "false_non_matches", "genuines")
        if not all(type(record.get(name)) is int and record[name] >= 0 for name in (*counts, "threshold")):
            return None
        target = record.get("target")
        if target is not None and not (isinstance(target, float | int) and 0 < target < 1):
            return None
        ok = (
            THRESHOLD.low <= record["threshold"] <= THRESHOLD.high
            and record["false_matches"] <= record["impostors"]
            and record["false_non_matches"] <= record["genuines"]
            and record.get("aim") in (FMR, EER, DEFAULT)
            and isinstance(record.get("tuned_at"), str)
            and len(record["tuned_at"]) <= 40
        )
        if not ok:
            return None
        values = {name: record[name] for name in (*counts, "threshold", "aim", "tuned_at")}
        return cls(group=group, target=None if target is None else float(target), **values)

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record.pop("group")
        return record


# ---------------------------------------------------------------- where it is kept
def settings_dir() -> Path:
    """The user's config folder for remote backends' settings (``FACERECO_SETTINGS_DIR`` for tests)."""
    if os.environ.get(SETTINGS_ENV):
        return Path(os.environ[SETTINGS_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "facereco"


def store_path(backend: Backend) -> Path:
    if backend.is_local:
        return Path(local_engine().data_dir) / FILE_NAME
    return settings_dir() / FILE_NAME


def backend_key(backend: Backend) -> str:
    """Which backend a threshold belongs to: its kind and base URL, never its appkey."""
    return "local" if backend.is_local else f"{backend.kind} {_normal_url(backend.base_url)}"


Store = dict[str, dict[str, dict[str, Any]]]  # backend key -> group -> record


def read_store(path: Path) -> tuple[Store, str | None]:
    """What the file holds, and a sentence when it cannot be read (then it holds nothing usable)."""
    try:
        if not path.is_file():
            return {}, None
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError("too large")
        data = json.loads(path.read_text(encoding="utf-8"))
        backends = data["backends"] if isinstance(data, dict) and data.get("version") == FORMAT_VERSION else None
        if not isinstance(backends, dict) or not all(isinstance(g, dict) for g in backends.values()):
            raise ValueError("not a file of operating thresholds")
        return backends, None
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return {}, _(
            "The saved operating thresholds ({file}) cannot be read and are ignored; they are replaced the "
            "next time a threshold is set on the Tuning page."
        ).format(file=FILE_NAME)


def write_store(path: Path, backends: Store) -> None:
    """Owner-only, replaced in one step: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"version": FORMAT_VERSION, "backends": backends}, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- read and adopt
def operating_threshold(group: str | None) -> tuple[OperatingThreshold | None, str | None]:
    """The operating threshold of ``group`` on this session's backend (without a group: the one adopted
    last on this backend), and a sentence when the saved file could not be read."""
    backend = current_backend()
    backends, problem = read_store(store_path(backend))
    records = backends.get(backend_key(backend), {})
    found = [
        entry
        for name, record in records.items()
        if (group is None or name == group) and (entry := OperatingThreshold.from_json(name, record)) is not None
    ]
    if len(found) < len([name for name in records if group is None or name == group]) and problem is None:
        problem = _("Some saved operating thresholds ({file}) cannot be read and are ignored.").format(file=FILE_NAME)
    if not found:
        return None, problem
    return max(found, key=lambda entry: entry.tuned_at), problem


def adopt(group: str, scores: GroupScores, threshold: int, aim: str, target: float | None = None) -> None:
    """Make ``threshold`` (set on the Tuning page for ``group``) the group's operating threshold on this
    backend, with the rates measured there; a toast says so, or why it could not be kept."""
    rates = scores.score_set.rates(threshold)
    entry = OperatingThreshold(
        group=group, threshold=int(threshold), faces=len(scores.faces),
        identities=len(set(scores.identities) - {""}), false_matches=rates.false_matches,
        impostors=rates.impostors, false_non_matches=rates.false_non_matches, genuines=rates.genuines,
        aim=aim, target=target, tuned_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    backend = current_backend()
    path = store_path(backend)
    try:
        with _write_lock:
            backends, _problem = read_store(path)  # an unreadable file is replaced
            backends.setdefault(backend_key(backend), {})[group] = entry.to_json()
            write_store(path, backends)
    except OSError as error:
        st.toast(
            _("Threshold {threshold} is used in this session only: it could not be saved ({reason}).").format(
                threshold=threshold, reason=error.strerror or type(error).__name__
            ),
            icon=":material/warning:",
        )
        return
    st.toast(
        _("Threshold {threshold} is now the operating threshold of {group} on {backend}.").format(
            threshold=threshold, group=group, backend=backend.label
        ),
        icon=":material/check_circle:",
    )


# ---------------------------------------------------------------- what the pages say
def percent(rate: float, trials: int | None = None, most: int | None = None, *, upper: bool = False) -> str:
    """A measured rate with the digits its ``trials`` support (facereco/ui/numbers.py; at most ``most``
    decimals for an audience); a target, which has no trials, in its shortest exact form (``0.1 %``)."""
    if math.isnan(rate):
        return numbers.NOT_ASKED
    if trials is None:
        return numbers.percent_tick(rate)
    return numbers.percent(rate, trials, most, upper=upper)


def provenance(entry: OperatingThreshold) -> str:
    """Where the slider's starting point came from, e.g. "tuned on *gate-trial*, 173 faces, FMR 0.089 %
    (95 % CI 0.052-0.153 %)"."""
    low, high = entry.fmr_interval
    return _(
        "Starts at the operating threshold {threshold}: tuned on *{group}*, {faces:,} faces, FMR {fmr} "
        "(95 % CI {low}-{high})."
    ).format(
        threshold=entry.threshold, group=entry.group, faces=entry.faces, fmr=percent(entry.fmr, entry.impostors),
        low=percent(low, entry.impostors).removesuffix(" %"), high=percent(high, entry.impostors, upper=True),
    )  # fmt: skip


def cautions(entry: OperatingThreshold, most: int | None = None) -> list[str]:
    """In words: the interval reaches above the target, or the set is too small to vouch for it (rates to at
    most ``most`` decimals)."""
    said = []
    if entry.above_target and entry.target is not None:
        said.append(
            _(
                "The interval's upper bound ({high}) is above the FMR target of {target}: on more photos the "
                "false-match rate may well be higher than the target."
            ).format(
                high=percent(entry.fmr_interval[1], entry.impostors, most, upper=True), target=percent(entry.target)
            )
        )
    if entry.small:
        said.append(
            _(
                "The tuning set is small ({faces:,} faces, {impostors:,} impostor pairs; at least {needed:,} "
                "pairs vouch for FMR {target}): take this threshold as a first guess."
            ).format(
                faces=entry.faces,
                impostors=entry.impostors,
                needed=min_impostors_for(entry.target or USUAL_TARGET),
                target=percent(entry.target or USUAL_TARGET),
            )  # fmt: skip
        )
    return said
