"""The Tuning page's audit helpers on real photos and real scores (local engine): crops from the session's
thumbnails, the hardest-pairs table's headers and rounding, the gate's verdicts, identity-level 1:N checked
against a brute-force count, and the report's new sections."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from facereco import FaceRecoClient
from facereco.audit import identity_identification
from facereco.labeled_sets import enroll, labeled_external_id, labeled_images
from facereco.quality_gate import enrollment_gate
from facereco.tuning import GroupScores, score_group
from facereco.ui import audit_view, i18n
from facereco.ui.audit_view import ScoringEdits, VerdictRecorder
from facereco.ui.report import TuningReport, tuning_report_html

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_set(tmp_path_factory, astronaut_path, grace_hopper_path):
    """Two people, three photos each, one of Grace Hopper filed under the astronaut; scored."""
    root = tmp_path_factory.mktemp("view-set")
    for identity, path in (("astronaut", astronaut_path), ("grace_hopper", grace_hopper_path)):
        (root / identity).mkdir()
        image = Image.open(path).convert("RGB")
        image.save(root / identity / "a.jpg", quality=92)
        ImageOps.mirror(image).save(root / identity / "mirror.jpg", quality=92)
        image.resize((image.width * 3 // 4, image.height * 3 // 4)).rotate(6).save(root / identity / "small.jpg")
    Image.open(grace_hopper_path).convert("RGB").rotate(-5).save(root / "astronaut" / "wrong.jpg")
    client = FaceRecoClient.local(tmp_path_factory.mktemp("view-engine"))
    client.ensure_group("view")
    enroll(client, "view", root)
    scores = score_group(client, "view")
    thumbnails = {labeled_external_id(i.identity, i.name): audit_view.thumbnail(i.data) for i in labeled_images(root)}
    return root, client, scores, thumbnails


def test_crops_come_from_the_session_thumbnails(real_set):
    _root, _client, scores, thumbnails = real_set
    assert all(t and len(t) < 60_000 for t in thumbnails.values())  # small JPEGs, not the photos
    crops = audit_view.crops_of(scores, thumbnails, tuple(range(len(scores.faces))))
    assert all(c is not None and c.height == audit_view.CROP_PX for c in crops)
    # a crop is the face: much smaller than the thumbnail, and a face enrolled elsewhere has none
    assert all(c.width < audit_view.THUMBNAIL_PX for c in crops if c is not None)
    assert audit_view.crops_of(scores, {}, (0,)) == [None]
    assert audit_view.face_crop(b"not a jpeg", scores.faces[0]) is None
    assert audit_view.thumbnail(b"not an image") is None


def test_hardest_rows_are_translated_and_rounded(real_set):
    scores: GroupScores = real_set[2]
    rows = audit_view.hardest_rows(scores, genuine=False)
    assert rows and all(len(str(r["similarity"]).split(".")[1]) == 1 for r in rows)
    with i18n.using("ja"):
        translated = audit_view.hardest_rows(scores, genuine=True)
    assert not {"similarity", "genuine"} & set(translated[0])  # externalImageId is the API field name
    pairs = audit_view.hardest_pairs(scores, genuine=True)
    assert [f"{s:.1f}" for _a, _b, s in pairs] == [r["similarity"] for r in audit_view.hardest_rows(scores, True)]


def brute_force_identity_rank1(scores: GroupScores, threshold: float) -> tuple[int, int, int]:
    """(rank-1 hits, mated probes, misses) with an identity scoring its best face, pair by pair."""
    n = len(scores.faces)
    score = np.zeros((n, n))
    score[scores.pair_a, scores.pair_b] = scores.scores
    score[scores.pair_b, scores.pair_a] = scores.scores
    hits = mated = misses = 0
    for probe in range(n):
        best: dict[str, float] = {}
        for other in range(n):
            if other != probe:
                name = scores.identities[other]
                best[name] = max(best.get(name, 0.0), score[probe, other])
        if scores.identities.count(scores.identities[probe]) < 2:
            continue
        mated += 1
        top = max(best, key=lambda k: best[k])
        hit = top == scores.identities[probe] and best[top] > 0
        hits += hit
        misses += not (hit and best[top] >= threshold)
    return hits, mated, misses


def test_identity_level_one_to_n_matches_a_brute_force_count(real_set):
    scores: GroupScores = real_set[2]
    for threshold in (50.0, 80.0, 95.0):
        rates = identity_identification(scores, threshold, photos="all")
        hits, mated, misses = brute_force_identity_rank1(scores, threshold)
        assert (rates.rank1_hits, rates.mated_probes, rates.false_negatives) == (hits, mated, misses)
    assert rates.rank1_hits < rates.mated_probes  # the mislabeled face's own identity is not its best match


def test_the_gate_recorder_pairs_each_verdict_with_its_photo(real_set, tmp_path):
    root, client, _scores, _thumbnails = real_set
    gate = enrollment_gate(client, "high")
    assert gate is not None
    recorder = VerdictRecorder(gate)
    client.ensure_group("gated")
    report = enroll(client, "gated", root, lambda d, t, name: recorder.step(name), gate=recorder)
    assert set(recorder.verdicts) == {labeled_external_id(i.identity, i.name) for i in labeled_images(root)}
    rows = audit_view.verdict_rows(recorder.verdicts)
    failed = {r["file"] for r in rows if r["verdict"] == "fail"}
    assert len(failed) == len(report.low_quality)
    csv_text = audit_view.skipped_csv(report.low_quality)
    assert csv_text.count("\n") == 1 + len(report.low_quality)


def test_the_report_has_the_hardest_pairs_the_one_to_n_and_what_was_left_out(real_set):
    _root, _client, scores, thumbnails = real_set
    edits = ScoringEdits().exclude(scores.faces[0].face_id).merge("astronaut", "grace_hopper")
    threshold = 80.0
    rates = scores.score_set.rates(threshold)
    ident = identity_identification(scores, threshold, photos="all")
    report = TuningReport(
        group="view",
        faces=len(scores.faces),
        identities=2,
        rates=rates,
        figures=(),
        operating_points=[],
        model_version="m",
        backend="local",
        hardest=audit_view.hardest_for_report(scores, thumbnails),
        identification=[audit_view.identification_row("all its faces (best match)", ident)],
        left_out=audit_view.edits_lines(scores, edits),
    )
    html = tuning_report_html(report)
    assert html.count("data:image/jpeg;base64,") == 2 * sum(len(t.rows) for t in report.hardest) > 0
    assert "Hardest pairs" in html and "1:N identification" in html and "Rank-1 identification rate" in html
    assert f"excluded: {scores.faces[0].external_image_id}" in html and "merged: astronaut + grace_hopper" in html
    assert "Nothing: every labeled face is scored." in tuning_report_html(
        TuningReport("view", 1, 1, rates, (), [], "m", "local")
    )
