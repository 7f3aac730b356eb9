"""Label audit: planted label errors and duplicates on lfw-dev through the real local engine, exclusion and
merging from the scoring with no call, identity-level 1:N, and the audit and enroll --quality commands."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from facereco import FaceRecoClient
from facereco.audit import audit, eer_interval, identity_identification, rescored
from facereco.labeled_sets import enroll, labeled_external_id
from facereco.metrics import identification_rates
from facereco.quality_gate import enrollment_gate
from facereco.synthetic import add_synthetic_group
from facereco.tuning import GroupScores, score_group

pytestmark = pytest.mark.slow

IDENTITIES, PER_IDENTITY, RELABELED, DUPLICATED = 60, 4, 10, 5


class CountingClient(FaceRecoClient):
    """The real local client, counting every call it makes (the audit must make none)."""

    calls = 0

    def _call(self, *args, **kwargs):  # type: ignore[override]
        CountingClient.calls += 1
        return super()._call(*args, **kwargs)


@pytest.fixture(scope="module")
def planted(shared_faces: Path, tmp_path_factory):
    """lfw-dev's first 60 identities with 4+ photos, 4 photos each, registered twice: once as they are
    ("clean"), once with 10 faces filed under another identity and 5 photos registered a second time."""
    folders = [p for p in sorted((shared_faces / "lfw-dev").iterdir()) if len(list(p.glob("*.jpg"))) >= PER_IDENTITY]
    folders = folders[:IDENTITIES]
    photos = {f.name: sorted(f.glob("*.jpg"))[:PER_IDENTITY] for f in folders}
    names = list(photos)
    client = FaceRecoClient.local(tmp_path_factory.mktemp("audit-engine"))
    for group in ("clean", "planted"):
        client.create_group(group)
    wrong: dict[str, str] = {}  # externalImageId given -> the identity it really is
    for i, identity in enumerate(names):
        with_face = []
        for path in photos[identity]:
            label = labeled_external_id(identity, path.name)
            if client.register_faces("clean", path.read_bytes(), external_image_id=label, limit=1).added_face_count:
                with_face.append(path)
        photos[identity] = with_face  # a photo the detector finds no face in is in neither group
        for k, path in enumerate(with_face):
            label = identity
            if i < RELABELED and k == len(with_face) - 1:  # the last photo of the first 10 goes to someone else
                label = names[i + 30]
                wrong[labeled_external_id(label, path.name)] = identity
            given = labeled_external_id(label, path.name)
            client.register_faces("planted", path.read_bytes(), external_image_id=given, limit=1)
    copies = {}
    for identity in names[45 : 45 + DUPLICATED]:
        path = photos[identity][0]
        copy = labeled_external_id(identity, f"copy-{path.name}")
        client.register_faces("planted", path.read_bytes(), external_image_id=copy, limit=1)
        copies[copy] = labeled_external_id(identity, path.name)
    return score_group(client, "planted"), score_group(client, "clean"), wrong, copies


def test_audit_finds_planted_label_errors_and_duplicates(planted):
    scores, clean, wrong, copies = planted
    assert len(scores.faces) == len(clean.faces) + DUPLICATED > 0.95 * IDENTITIES * PER_IDENTITY
    assert len(wrong) == RELABELED
    result = audit(scores)
    first = result.suspects[:20]  # mislabeled suspects come first, most likely first
    found = {s.external_image_ids[0] for s in first} & set(wrong)
    assert len(found) >= 8, f"{len(found)} of {len(wrong)} relabeled faces among the first 20 suspects"
    duplicates = {frozenset(s.external_image_ids) for s in result.of_kind("duplicate")}
    assert {frozenset(pair) for pair in copies.items()} <= duplicates
    # the suspect is shown beside the face it matches: one of its real identity's photos
    top = next(s for s in first if s.kind == "mislabeled" and s.external_image_ids[0] in wrong)
    assert top.external_image_ids[1].split(":")[0] == wrong[top.external_image_ids[0]]


def test_excluding_the_suspects_gives_the_clean_sets_eer(planted):
    scores, clean, wrong, copies = planted
    by_label = {f.external_image_id: f.face_id for f in scores.faces}
    fixed = rescored(scores, exclude=[by_label[e] for e in [*wrong, *copies]])
    assert len(fixed.faces) == len(scores.faces) - len(wrong) - len(copies)
    planted_eer = scores.score_set.eer_point().mean_error
    fixed_eer = fixed.score_set.eer_point().mean_error
    clean_eer, low, high = eer_interval(clean.score_set)
    assert fixed_eer < planted_eer  # the wrong labels hurt, excluding them helps
    assert low <= fixed_eer <= high, (planted_eer, fixed_eer, (clean_eer, low, high))
    assert not low <= planted_eer <= high  # and the planted set was outside what a clean set gives


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> GroupScores:
    client = FaceRecoClient.local(tmp_path_factory.mktemp("audit-synthetic"))
    add_synthetic_group(client.transport.engine, "syn", 200, per_identity=4, noise=0.04)
    return score_group(client, "syn")


def test_rescoring_with_nothing_excluded_is_the_scoring(synthetic):
    again = rescored(synthetic)
    assert np.array_equal(again.score_set.genuine, synthetic.score_set.genuine)
    assert np.array_equal(again.score_set.impostor, synthetic.score_set.impostor)
    # a-b and b-a may differ in the 4th decimal place
    assert np.allclose(again.top_score, synthetic.top_score, rtol=0, atol=5e-4)
    assert np.array_equal(again.top_is_mate, synthetic.top_is_mate)
    assert np.array_equal(again.has_mate, synthetic.has_mate)


def test_excluding_and_merging_recompute_the_pairs(synthetic):
    ids = synthetic.identities
    a_faces = [f.face_id for f, i in zip(synthetic.faces, ids, strict=True) if i == "id0"]
    without = rescored(synthetic, exclude=a_faces[:1])
    n = len(synthetic.faces)
    assert without.pair_count == (n - 1) * (n - 2) // 2
    assert without.score_set.genuine.size == synthetic.score_set.genuine.size - (len(a_faces) - 1)
    merged = rescored(synthetic, merge=[("id0", "id1"), ("id1", "id2")])  # chains join
    sizes = {i: ids.count(i) for i in ("id0", "id1", "id2")}
    extra = sizes["id0"] * sizes["id1"] + sizes["id0"] * sizes["id2"] + sizes["id1"] * sizes["id2"]
    assert merged.score_set.genuine.size == synthetic.score_set.genuine.size + extra
    assert merged.pair_count == synthetic.pair_count
    assert set(merged.identities) == set(ids) - {"id1", "id2"}


def test_identity_level_one_to_n(synthetic):
    threshold = synthetic.score_set.eer_point().threshold
    per_face = identification_rates(synthetic.top_score, synthetic.top_is_mate, synthetic.has_mate, threshold)
    every_photo = identity_identification(synthetic, threshold, photos="all")
    one_photo = identity_identification(synthetic, threshold, photos="one")
    # best match over all an identity's faces is what a search over every face gives at rank 1
    assert every_photo.rank1_hits == per_face.rank1_hits and every_photo.fnir == per_face.fnir
    assert one_photo.mated_probes == every_photo.mated_probes
    assert one_photo.rank1_hits < every_photo.rank1_hits  # several photos per person find more (noisy faces)
    assert one_photo.fnir > every_photo.fnir


def test_audit_makes_no_call(tmp_path: Path):
    client = CountingClient.local(tmp_path)
    add_synthetic_group(client.transport.engine, "calls", 40, per_identity=4)
    scores = score_group(client, "calls")
    before = CountingClient.calls
    result = audit(scores)
    rescored(scores, exclude=[scores.faces[0].face_id], merge=[("id0", "id1")])
    identity_identification(scores, 90)
    assert CountingClient.calls == before and before > 0
    assert result.threshold > 0


# ---------------------------------------------------------------- the commands
@pytest.fixture(scope="module")
def package_set(tmp_path_factory, astronaut_path, grace_hopper_path) -> Path:
    """Two people, three photos each, and one of grace hopper filed under the astronaut."""
    root = tmp_path_factory.mktemp("package-set")
    for identity, path in (("astronaut", astronaut_path), ("grace_hopper", grace_hopper_path)):
        (root / identity).mkdir()
        image = Image.open(path).convert("RGB")
        for name, variant in (("a.jpg", image), ("mirror.jpg", ImageOps.mirror(image)), ("crop.jpg", image)):
            if name == "crop.jpg":
                variant = image.crop((10, 10, image.width - 10, image.height - 10))
            variant.save(root / identity / name, quality=92)
    ImageOps.mirror(Image.open(grace_hopper_path).convert("RGB")).rotate(4).save(root / "astronaut" / "wrong.jpg")
    return root


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facereco", *args], capture_output=True, text=True, timeout=600)


def test_audit_command_line(tmp_path: Path, package_set: Path):
    data = str(tmp_path / "data")
    assert run_cli("--data-dir", data, "enroll", str(package_set), "--group", "g").returncode == 0
    finished = run_cli("--data-dir", data, "audit", "--group", "g")
    assert finished.returncode == 0, finished.stderr
    body = json.loads(finished.stdout)
    assert body["group"] == "g"
    suspects = body["suspects"]
    assert {"kind", "externalImageIds", "score", "reason"} <= set(suspects[0])
    assert suspects[0]["kind"] == "mislabeled" and suspects[0]["externalImageIds"][0] == "astronaut:wrong.jpg"
    for kind in ("mislabeled", "duplicate"):
        of_kind = [s["score"] for s in suspects if s["kind"] == kind]
        assert of_kind == sorted(of_kind, reverse=True)
    as_csv = run_cli("--data-dir", data, "audit", "--group", "g", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert rows[0]["kind"] == "mislabeled" and rows[0]["externalImageIdA"] == "astronaut:wrong.jpg"
    assert len(rows) == len(suspects)


def test_enroll_quality_gate_skips_before_registering(tmp_path: Path, package_set: Path):
    source = tmp_path / "set"
    shutil.copytree(package_set, source)
    image = Image.open(source / "astronaut" / "a.jpg")
    image.filter(ImageFilter.GaussianBlur(3)).save(source / "astronaut" / "blurred.jpg", quality=92)
    data = str(tmp_path / "data")
    finished = run_cli("--data-dir", data, "enroll", str(source), "--group", "q", "--quality", "medium")
    assert finished.returncode == 0, finished.stderr
    body = json.loads(finished.stdout)
    assert body["lowQuality"] == [{"image": "astronaut/blurred.jpg", "reasons": ["LOW_SHARPNESS"]}]
    assert body["added"] == 7
    assert "astronaut/blurred.jpg: LOW_SHARPNESS" in finished.stderr
    client = FaceRecoClient.local(data)
    assert "astronaut:blurred.jpg" not in {f.external_image_id for f in client.iter_faces("q")}


def test_the_gate_registers_nothing_it_skips(tmp_path: Path, astronaut_path):
    """In process: the register call is never made for a skipped photo (the group stays empty)."""
    root = tmp_path / "set" / "astronaut"
    root.mkdir(parents=True)
    Image.open(astronaut_path).convert("RGB").filter(ImageFilter.GaussianBlur(3)).save(root / "soft.png")
    client = CountingClient.local(tmp_path / "data")
    client.create_group("gate")
    gate = enrollment_gate(client, "medium")
    report = enroll(client, "gate", tmp_path / "set", gate=gate)
    assert report.low_quality == [("astronaut/soft.png", ("LOW_SHARPNESS",))] and report.added == 0
    assert list(client.iter_faces("gate")) == []
    assert enrollment_gate(client, "off") is None


def test_enroll_quality_gate_against_a_server_spends_no_call_on_a_skipped_photo(tmp_path: Path, package_set: Path):
    """On a server (the cloud's place) the gate detects in process: the server sees only the register
    calls of the photos that passed, and no detect call at all."""
    from .servers import running_server

    source = tmp_path / "set"
    shutil.copytree(package_set, source)
    Image.open(source / "grace_hopper" / "a.jpg").filter(ImageFilter.GaussianBlur(3)).save(
        source / "grace_hopper" / "soft.jpg"
    )
    with running_server(tmp_path / "data", ["gate-key"]) as server:
        finished = run_cli(
            "enroll",
            str(source),
            "--group",
            "q",
            "--quality",
            "medium",
            "--appkey",
            "gate-key",
            "--base-url",
            server.base_url,
        )
        log = server.log()
        listed = {f.external_image_id for f in FaceRecoClient("gate-key", server.base_url).iter_faces("q")}
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["lowQuality"] == [
        {"image": "grace_hopper/soft.jpg", "reasons": ["LOW_SHARPNESS"]}
    ]
    registers = [line for line in log.splitlines() if re.search(r"POST \S*/groups/q[ ?]", line)]
    assert len(registers) == 7 and "/detect" not in log
    assert "grace_hopper:soft.jpg" not in listed and len(listed) == 7
