"""Installed size of a requirements file's whole dependency closure, measured on this venv's files.

Every distribution the file names, and everything those require (extras and environment markers
honoured), is looked up in the installed metadata and its files' sizes on disk are summed. The
same venv holds both main's and this branch's runtime closures (Keras and JAX remain installed
as test-only dependencies), so the two can be compared without building two venvs.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


@dataclass
class InstalledSize:
    total_mb: float
    packages: int
    names: set[str]
    missing: set[str]


def _requirement_lines(text: str) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _read(path: Path, git_ref: str | None) -> str | None:
    if git_ref is None:
        return path.read_text()
    shown = subprocess.run(
        ["git", "-C", str(path.parent), "show", f"{git_ref}:{path.name}"], capture_output=True, text=True, check=False
    )
    return shown.stdout if shown.returncode == 0 else None


def _closure(roots: list[Requirement], no_deps: list[Requirement]) -> tuple[dict[str, metadata.Distribution], set[str]]:
    """Installed distributions of ``roots`` and their requirements, plus ``no_deps`` alone."""
    found: dict[str, metadata.Distribution] = {}
    missing: set[str] = set()
    for requirement in no_deps:
        try:
            found[canonicalize_name(requirement.name)] = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            missing.add(canonicalize_name(requirement.name))
    todo = [(r, frozenset(r.extras)) for r in roots if r.marker is None or r.marker.evaluate()]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = found.get(name) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.add(name)
            continue
        found[name] = dist
        for line in dist.requires or []:
            child = Requirement(line)
            wanted = child.marker is None or any(child.marker.evaluate({"extra": e}) for e in (extras or {""}))
            if wanted:
                todo.append((child, frozenset(child.extras)))
    return found, missing


def _dist_bytes(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(dist.locate_file(file))
        if path.is_file():
            total += path.stat().st_size
    return total


def installed_size_mb(requirements: Path, no_deps: Path, git_ref: str | None = None) -> InstalledSize | None:
    """Size of the closure of ``requirements`` plus the packages of ``no_deps`` (installed ``--no-deps``).

    The files are read as committed at ``git_ref``, else as on disk; None when one cannot be read.
    """
    texts = [_read(path, git_ref) for path in (requirements, no_deps)]
    if texts[0] is None or texts[1] is None:
        return None
    found, missing = _closure(_requirement_lines(texts[0]), _requirement_lines(texts[1]))
    total = sum(_dist_bytes(d) for d in found.values())
    return InstalledSize(total / 1e6, len(found), set(found), missing)
