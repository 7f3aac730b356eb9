"""Threshold tuning end to end: a labeled set from package photos, enrolled, scored through the API, and the page."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image, ImageEnhance, ImageOps
from streamlit.testing.v1 import AppTest

from facereco import FaceRecoClient
from facereco.labeled_sets import enroll, identity_of, labeled_external_id, labeled_images
from facereco.synthetic import add_synthetic_group
from facereco.transport import RetryPolicy
from facereco.tuning import (
    FMR_TARGETS,
    ScoringCancelled,
    ScoringCheckpoint,
    ScoringProgress,
    score_group,
    scoring_summary,
)
from facereco.ui.session import CLIENT_KEY

from .servers import running_server

pytestmark = pytest.mark.slow
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def variants(image: Image.Image) -> dict[str, Image.Image]:
    return {
        "original.jpg": image,
        "mirror.jpg": ImageOps.mirror(image),
        "bright.jpg": ImageEnhance.Brightness(image).enhance(1.3),
    }


@pytest.fixture(scope="module")
def labeled_dir(tmp_path_factory, astronaut_path, grace_hopper_path) -> Path:
    """Two identities, three augmented copies each: <identity>/<image>."""
    root = tmp_path_factory.mktemp("labeled")
    for identity, path in (("astronaut", astronaut_path), ("grace hopper", grace_hopper_path)):
        (root / identity).mkdir()
        for name, image in variants(Image.open(path).convert("RGB")).items():
            image.save(root / identity / name, quality=92)
    return root


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.glob("*/*")):
            archive.write(path, f"set/{path.parent.name}/{path.name}")
    return buffer.getvalue()


def test_label_convention():
    assert labeled_external_id("grace_hopper", "a.jpg") == "grace_hopper:a.jpg"  # fitting names stay as they are
    spaced = labeled_external_id("grace hopper", "a b.jpg")
    assert re.fullmatch(r"grace_hopper-[0-9a-f]{10}:a_b-[0-9a-f]{10}\.jpg", spaced)
    assert identity_of(spaced) == spaced.split(":")[0]
    assert identity_of("grace_hopper:a_b.jpg") == "grace_hopper"
    assert identity_of("plain.jpg") is None and identity_of(None) is None and identity_of(":x") is None


@pytest.mark.parametrize(
    "names",
    [
        ("김철수", "이영희", "박민수"),
        ("山田", "田中", "佐藤"),
        ("a b", "a_b", "a:b"),
        ("José", "Josè", "Jose"),
        ("x" * 120, "x" * 121, "x"),
    ],
)
def test_distinct_names_get_distinct_labels(names):
    labels = [labeled_external_id(name, "사진1.jpg") for name in names]
    assert len({identity_of(label) for label in labels}) == len(names)
    assert all(re.fullmatch(r"[a-zA-Z0-9_.\-:]{1,255}", label) for label in labels)


def test_enrolling_korean_names_keeps_people_apart(tmp_path: Path, astronaut_path, grace_hopper_path):
    """Two people whose folder names have no ASCII letter were once one identity ("___"), their pairs genuine."""
    root = tmp_path / "set"
    for identity, path in (("김철수", astronaut_path), ("이영희", grace_hopper_path)):
        (root / identity).mkdir(parents=True)
        for name, image in variants(Image.open(path).convert("RGB")).items():
            image.save(root / identity / f"사진-{name}", quality=92)
    client = FaceRecoClient.local(tmp_path / "data")
    client.create_group("ko")
    report = enroll(client, "ko", root)
    assert (report.added, report.skipped, report.failed) == (6, 0, [])
    score_set = score_group(client, "ko").score_set
    assert score_set.genuine.size == 6 and score_set.impostor.size == 9


def test_two_sources_with_one_label_are_reported_not_merged(tmp_path: Path, astronaut_path, grace_hopper_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # the identity is the image's folder: both are "front"
        archive.write(astronaut_path, "alice/front/1.png")
        archive.write(grace_hopper_path, "bob/front/1.png")
    client = FaceRecoClient.local(tmp_path)
    client.create_group("twins")
    report = enroll(client, "twins", buffer.getvalue())
    assert report.added == 1 and report.skipped == 0
    assert len(report.failed) == 1 and "same label" in report.failed[0][1]


def test_labeled_images_from_folder_and_zip(labeled_dir: Path):
    from_folder = [(i, n) for i, n, _, _ in labeled_images(labeled_dir)]
    from_zip = [(i, n) for i, n, _, _ in labeled_images(zipped(labeled_dir))]
    assert len(from_folder) == 6 and sorted(from_folder) == sorted(from_zip)


def test_enroll_is_resumable_and_scores_every_pair(tmp_path: Path, labeled_dir: Path):
    client = FaceRecoClient.local(tmp_path)
    client.create_group("labeled")
    first = enroll(client, "labeled", zipped(labeled_dir))
    assert (first.added, first.skipped, first.failed) == (6, 0, [])
    again = enroll(client, "labeled", labeled_dir)
    assert (again.added, again.skipped) == (0, 6)
    client.register_faces("labeled", labeled_dir / "astronaut" / "original.jpg", external_image_id="unlabeled.jpg")

    scores = score_group(client, "labeled")
    assert len(scores.faces) == 6  # the unlabeled face is left out
    assert scores.pair_count == 15
    score_set = scores.score_set
    assert score_set.genuine.size == 6 and score_set.impostor.size == 9
    assert score_set.genuine.min() > score_set.impostor.max()  # two very different people
    # a pair's score is what the API says for it
    a, b = scores.faces[scores.pair_a[0]], scores.faces[scores.pair_b[0]]
    direct = client.search_by_face_id("labeled", a.face_id, threshold=1, limit=10)
    said = {m.face.face_id: m.similarity for m in direct.match_faces}
    assert scores.scores[0] == pytest.approx(said.get(b.face_id, 0.0))
    assert np.all(scores.top_is_mate) and np.all(scores.has_mate)
    csv = scores.to_csv().splitlines()
    assert csv[0].startswith("similarity,genuine") and len(csv) == 1 + scores.scores.size
    hardest = scores.hardest_tables[0][0]
    assert hardest["similarity"] == pytest.approx(score_set.impostor.max())


def test_enroll_command_line(tmp_path: Path, labeled_dir: Path):
    def run() -> str:
        command = [sys.executable, "-m", "facereco", "--data-dir", str(tmp_path), "enroll", str(labeled_dir)]
        return subprocess.run(
            command + ["--group", "cli"], capture_output=True, text=True, timeout=300, check=True
        ).stdout

    assert '"added": 6' in run()
    assert '"alreadyThere": 6' in run()


def test_enroll_command_line_fails_when_a_file_failed(tmp_path: Path, labeled_dir: Path):
    """A file the API refuses is named on stderr and the exit status says so (scripts and CI see it)."""
    import shutil

    source = tmp_path / "set"
    shutil.copytree(labeled_dir, source)
    (source / "astronaut" / "broken.jpg").write_bytes(b"not a JPEG at all")
    command = [sys.executable, "-m", "facereco", "--data-dir", str(tmp_path / "data"), "enroll", str(source)]
    finished = subprocess.run(command + ["--group", "cli"], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 1
    assert "astronaut/broken.jpg" in finished.stderr and '"added": 6' in finished.stdout


def test_tuning_page_draws_and_the_slider_moves_the_rates(tmp_path: Path, labeled_dir: Path, monkeypatch):
    monkeypatch.setenv("FACERECO_DATA_DIR", str(tmp_path))  # used if the app's engine is not cached yet
    monkeypatch.delenv("FACERECO_APPKEY", raising=False)
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    client = at.session_state[CLIENT_KEY]
    client.ensure_group("tuning-page")
    enroll(client, "tuning-page", labeled_dir)
    at.switch_page("pages/tuning.py").run()
    at.selectbox(key="tuning-group").set_value("tuning-page").run()
    at.button(key="tuning-score").click().run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 3  # histograms, DET, ROC

    def rates() -> dict[str, str]:
        return {m.label: m.value for m in at.metric}

    at.slider(key="tuning-threshold").set_value(1).run()
    low = rates()
    at.slider(key="tuning-threshold").set_value(100).run()
    high = rates()
    assert is_percent(low["FMR"], 100) and is_percent(low["FNMR"], 0)
    assert is_percent(high["FMR"], 0) and not is_percent(high["FNMR"], 0)
    assert any("rule of three" in w.value for w in at.warning)  # 9 impostor pairs support no FMR target
    assert all("not supported" in at.button(key=f"tuning-fmr-{t}").label for t in FMR_TARGETS)
    at.button(key="tuning-default").click().run()
    assert at.slider(key="tuning-threshold").value == 90


# ---------------------------------------------------------------- the page on the demo group and a larger group
def app_on_local_engine(tmp_path: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("FACERECO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FACERECO_APPKEY", raising=False)
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    return at


def is_percent(shown: str, whole: int) -> bool:
    """``shown`` reads exactly ``whole`` percent, at whatever precision the sample gave it (``0 %``, ``0.00 %``)."""
    return re.fullmatch(rf"{whole}(\.0+)? %.*", shown) is not None


def rates_shown(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def operating_points(at: AppTest) -> dict[str, dict[str, str]]:
    table = next(d.value for d in at.dataframe if "point" in d.value.columns)
    return {row["point"]: row for row in table.to_dict("records")}


def test_demo_group_fmr_buttons_never_jump_to_100(tmp_path: Path, monkeypatch):
    at = app_on_local_engine(tmp_path, monkeypatch)
    at.button(key="build-demo").click().run()  # the Home page's own demo group
    assert not at.exception, at.exception
    at.switch_page("pages/tuning.py").run()
    at.selectbox(key="tuning-group").set_value("demo").run()
    at.button(key="tuning-score").click().run()
    assert not at.exception, at.exception
    for target in FMR_TARGETS:
        button = at.button(key=f"tuning-fmr-{target}")
        assert "not supported" in button.label  # 4 impostor pairs: rule of three
        button.click().run()
        assert at.slider(key="tuning-threshold").value == 90  # set nothing, and said why
        assert any("rule of three" in i.value and "unchanged" in i.value for i in at.info)
        assert is_percent(rates_shown(at)["FNMR"], 0)
    points = operating_points(at)
    assert all(points[f"FMR ≤ {t:.2%}"]["threshold"] == "—" for t in FMR_TARGETS)
    # the EER point: where the rates cross on the slider's grid, both rates there, and the table agrees
    eer_threshold = int(points["EER"]["threshold"])
    assert eer_threshold < 100 and is_percent(rates_shown(at)["EER"], 0)
    assert is_percent(points["EER"]["FNMR"], 0) and is_percent(points["EER"]["FMR"], 0)
    at.button(key="tuning-eer").click().run()
    assert at.slider(key="tuning-threshold").value == eer_threshold
    assert is_percent(rates_shown(at)["FNMR"], 0) and is_percent(rates_shown(at)["FMR"], 0)


def test_fmr_buttons_set_the_threshold_the_table_and_the_metrics_agree_on(tmp_path: Path, monkeypatch):
    at = app_on_local_engine(tmp_path, monkeypatch)
    transport = at.session_state[CLIENT_KEY].transport.inner
    add_synthetic_group(transport.inner.engine, "synthetic", 200)  # the app's own engine, under its recorder
    at.session_state[CLIENT_KEY].transport.clear()  # written behind the session's back: what Refresh does
    at.switch_page("pages/tuning.py").run()
    at.selectbox(key="tuning-group").set_value("synthetic").run()
    at.button(key="tuning-score").click().run()
    assert not at.exception, at.exception
    for target in FMR_TARGETS[:2]:  # 19,900 pairs support 1 % and 0.1 %, not 0.01 %
        at.button(key=f"tuning-fmr-{target}").click().run()
        threshold = at.slider(key="tuning-threshold").value
        assert at.button(key=f"tuning-fmr-{target}").label.endswith(f"→ {threshold}")
        row = operating_points(at)[f"FMR ≤ {target:.2%}"]
        assert row["threshold"] == str(threshold) and row["FMR"].startswith(rates_shown(at)["FMR"])
        assert row["FNMR"].startswith(rates_shown(at)["FNMR"])
        assert float(rates_shown(at)["FMR"].rstrip(" %")) / 100 <= target
        at.slider(key="tuning-threshold").set_value(threshold - 1).run()
        assert float(rates_shown(at)["FMR"].rstrip(" %")) / 100 > target  # it was the smallest
    assert "not supported" in at.button(key=f"tuning-fmr-{FMR_TARGETS[2]}").label


# ---------------------------------------------------------------- concurrent, resumable scoring
def same_scores(a, b) -> bool:
    return (
        [f.face_id for f in a.faces] == [f.face_id for f in b.faces]
        and np.array_equal(a.pair_a, b.pair_a)
        and np.array_equal(a.pair_b, b.pair_b)
        and np.allclose(a.scores, b.scores)
        and np.array_equal(a.top_is_mate, b.top_is_mate)
    )


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "mismatched"])
def test_a_damaged_checkpoint_is_an_empty_one(tmp_path: Path, damage: str):
    path = tmp_path / "checkpoint.npz"
    good = ScoringCheckpoint(["a", "b"], {"a": (np.array([1], np.int32), np.array([55.5]))})
    good.save(path)
    assert ScoringCheckpoint.load(path).answers.keys() == {"a"}
    whole = path.read_bytes()
    if damage == "mismatched":  # two faces done, one answer's arrays
        np.savez(
            path,
            faces=np.array(["a", "b"]),
            done=np.array(["a", "b"]),
            counts=np.array([1]),
            neighbours=np.array([1], np.int32),
            scores=np.array([55.5]),
        )
    else:
        path.write_bytes({"empty": b"", "truncated": whole[: len(whole) // 2], "garbage": b"not a zip"}[damage])
    loaded = ScoringCheckpoint.load(path)
    assert loaded.answers == {} and list(tmp_path.iterdir()) == [path]


def test_score_summary_is_valid_json_without_impostors(tmp_path: Path):
    client = FaceRecoClient.local(tmp_path)
    add_synthetic_group(client.transport.engine, "one-person", 4, per_identity=4)
    summary = json.loads(json.dumps(scoring_summary(score_group(client, "one-person")), allow_nan=False))
    assert summary["eer"]["fmr"] is None and summary["eer"]["fnmr"] == 0.0


def test_cancel_keeps_a_checkpoint_and_the_next_run_searches_only_the_rest(tmp_path: Path):
    client = FaceRecoClient.local(tmp_path)
    add_synthetic_group(client.transport.engine, "big", 60)
    full = score_group(client, "big", workers=1)
    cancel = threading.Event()
    checkpoint = ScoringCheckpoint()

    def stop_after_20(step: ScoringProgress) -> None:
        if step.done >= 20:
            cancel.set()

    with pytest.raises(ScoringCancelled) as stopped:
        score_group(client, "big", stop_after_20, workers=4, checkpoint=checkpoint, cancel=cancel)
    kept = len(checkpoint.answers)
    assert 20 <= kept < 60 and stopped.value.done == kept
    checkpoint.save(tmp_path / "resume.npz")
    reloaded = ScoringCheckpoint.load(tmp_path / "resume.npz")
    steps: list[ScoringProgress] = []
    resumed = score_group(client, "big", steps.append, workers=4, checkpoint=reloaded)
    assert steps[0].resumed == kept and len(steps) <= 60 - kept and steps[-1].done == 60
    assert steps[-1].rate > 0 and steps[-1].remaining_s == 0
    assert same_scores(full, resumed)


def test_a_checkpoint_for_other_faces_is_dropped(tmp_path: Path):
    client = FaceRecoClient.local(tmp_path)
    add_synthetic_group(client.transport.engine, "g", 20)
    checkpoint = ScoringCheckpoint(["not-a-face"], {"not-a-face": (np.zeros(0, np.int32), np.zeros(0))})
    steps: list[ScoringProgress] = []
    score_group(client, "g", steps.append, checkpoint=checkpoint)
    assert steps[0].resumed == 0 and len(checkpoint.answers) == 20
    assert ScoringCheckpoint.load(tmp_path / "absent.npz").answers == {}


def test_concurrent_scoring_against_a_real_server(tmp_path: Path, labeled_dir: Path):
    with running_server(tmp_path / "data", ["tuning-key"]) as server:
        client = FaceRecoClient("tuning-key", server.base_url)
        client.create_group("http")
        assert enroll(client, "http", labeled_dir).added == 6
        one = score_group(client, "http", workers=1)
        steps: list[ScoringProgress] = []
        four = score_group(client, "http", steps.append, workers=4)
        log = server.log()
    assert same_scores(one, four) and one.score_set.genuine.size == 6
    assert [s.done for s in steps][-1] == 6 and steps[-1].total == 6
    searches = [line for line in log.splitlines() if "GET " in line and SEARCH_BY_FACE_ID.search(line)]
    assert len(searches) == 12  # both runs searched every face once, over HTTP


SEARCH_BY_FACE_ID = re.compile(r"/faces/[0-9a-f-]{36}(\?|$| )")  # GET of one face's path: a search by faceId


class FlakyProxy(BaseHTTPRequestHandler):
    """A real HTTP hop in front of the real server: the first searches get 503 or 429, then it forwards."""

    upstream = ""
    refusals: list[int] = []
    refused: list[str] = []

    def do_GET(self) -> None:
        if SEARCH_BY_FACE_ID.search(self.path) and self.refusals:
            status = self.refusals.pop(0)
            self.refused.append(f"{status} {self.path}")
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = requests.get(self.upstream + self.path, timeout=30)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args) -> None:
        pass


def test_scoring_backs_off_on_throttling_and_server_errors(tmp_path: Path, labeled_dir: Path):
    with running_server(tmp_path / "data", ["tuning-key"]) as server:
        direct = FaceRecoClient("tuning-key", server.base_url)
        direct.create_group("flaky")
        enroll(direct, "flaky", labeled_dir)
        expected = score_group(direct, "flaky")
        FlakyProxy.upstream, FlakyProxy.refusals, FlakyProxy.refused = server.base_url, [503, 429, 502, 429], []
        proxy = ThreadingHTTPServer(("127.0.0.1", 0), FlakyProxy)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{proxy.server_address[1]}"
            client = FaceRecoClient("tuning-key", url, retry=RetryPolicy(max_retries=3, backoff_base=0.01))
            scores = score_group(client, "flaky", workers=4)
        finally:
            proxy.shutdown()
            proxy.server_close()
    assert len(FlakyProxy.refused) == 4  # every refusal was retried, and the scores are the same
    assert same_scores(expected, scores)


def test_score_command_line_prints_the_recommendations(tmp_path: Path, labeled_dir: Path):
    client = FaceRecoClient.local(tmp_path / "data")
    add_synthetic_group(client.transport.engine, "cli", 40)
    checkpoint = tmp_path / "cli.npz"
    command = [sys.executable, "-m", "facereco", "--data-dir", str(tmp_path / "data"), "score", "--group", "cli"]
    command += ["--workers", "2", "--checkpoint", str(checkpoint), "--csv", str(tmp_path / "cli.csv")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
    summary = json.loads(done.stdout)
    assert summary["faces"] == 40 and summary["eer"]["genuinePairs"] == 80
    first = summary["thresholdForFmr"][0]
    assert first["targetFmr"] == 0.01 and first["supported"] and first["fmr"] <= 0.01
    assert not checkpoint.exists()  # removed once scoring completed
    assert (tmp_path / "cli.csv").read_text().startswith("similarity,genuine")


# ---------------------------------------------------------------- label audit on the page: no call
class CountingTransport:
    """Counts every call that reaches the backend (below the read cache and the recorder)."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0

    @property
    def description(self) -> str:
        return self.inner.description

    def send(self, call):
        self.calls += 1
        return self.inner.send(call)


def test_excluding_a_suspect_recomputes_every_figure_without_a_call(
    tmp_path: Path, labeled_dir: Path, grace_hopper_path, monkeypatch
):
    import shutil

    from facereco.ui.audit_view import thumbnail

    folder = tmp_path / "set"
    shutil.copytree(labeled_dir, folder)
    Image.open(grace_hopper_path).convert("RGB").rotate(4).save(folder / "astronaut" / "wrong.jpg")  # mislabeled
    at = app_on_local_engine(tmp_path / "data", monkeypatch)
    client = at.session_state[CLIENT_KEY]
    client.ensure_group("audit-page")
    enroll(client, "audit-page", folder)
    # what the page's enrollment keeps: a thumbnail per externalImageId, for the crops
    at.session_state["tuning-thumbnails"] = {
        labeled_external_id(i.identity, i.name): thumbnail(i.data) for i in labeled_images(folder)
    }
    at.switch_page("pages/tuning.py").run()
    at.selectbox(key="tuning-group").set_value("audit-page").run()
    at.button(key="tuning-score").click().run()
    assert not at.exception, at.exception
    assert at.button(key="tuning-score").label == "Score again"
    wrong = labeled_external_id("astronaut", "wrong.jpg")
    exclude = [b for b in at.button if str(b.key).startswith("tuning-audit-mislabeled") and wrong in b.help]
    assert exclude, [b.label for b in at.button]
    assert len(at.get("image")) >= 2  # the suspect's face beside the one it matches
    hardest = [d.value for d in at.dataframe if "face A" in d.value.columns]
    assert len(hardest) == 2 and all(str(v).startswith("data:image/jpeg;base64,") for v in hardest[0]["face B"])
    assert all(len(s.split(".")[1]) == 1 for s in hardest[0]["similarity"])  # one decimal, as the EER card
    before, points_before = rates_shown(at), operating_points(at)
    recorder = client.transport.inner
    counter = CountingTransport(recorder.inner)
    recorder.inner = counter
    exclude[0].click().run()
    assert not at.exception, at.exception
    assert counter.calls == 0  # every figure below recomputed from the scores already fetched
    after = rates_shown(at)
    assert after != before and operating_points(at) != points_before
    assert is_percent(after["FMR"], 0)  # the astronaut folder's Grace Hopper was the only false match
    assert any(wrong in m.value for m in at.markdown) or any(wrong in t.value for t in at.get("text"))
    at.button(key="tuning-audit-reset").click().run()
    assert counter.calls == 0 and rates_shown(at) == before


def test_bulk_enrollment_on_the_page_gates_lists_and_keeps_thumbnails(
    tmp_path: Path, labeled_dir: Path, astronaut_path, grace_hopper_path, monkeypatch
):
    from PIL import ImageFilter

    folder = tmp_path / "set"
    import shutil

    shutil.copytree(labeled_dir, folder)
    astronaut, hopper = Image.open(astronaut_path).convert("RGB"), Image.open(grace_hopper_path).convert("RGB")
    astronaut.filter(ImageFilter.GaussianBlur(3)).save(folder / "astronaut" / "blurred.jpg", quality=92)
    pair = Image.new("RGB", (astronaut.width + hopper.width, max(astronaut.height, hopper.height)))
    pair.paste(astronaut, (0, 0))
    pair.paste(hopper, (astronaut.width, 0))
    pair.save(folder / "astronaut" / "two.jpg", quality=92)
    at = app_on_local_engine(tmp_path / "data", monkeypatch)
    at.switch_page("pages/tuning.py").run()
    assert at.selectbox(key="tuning-enroll-quality").value == "medium"  # the default preset
    at.text_input(key="tuning-enroll-group").set_value("gated-page").run()
    at.file_uploader(key="tuning-enroll-zip").set_value(("set.zip", zipped(folder), "application/zip")).run()
    at.button(key="tuning-enroll").click().run()
    assert not at.exception, at.exception
    tables = [d.value for d in at.dataframe]
    skipped = next(t for t in tables if list(t.columns) == ["file", "reasons"])
    assert skipped.to_dict("records") == [{"file": "set/astronaut/blurred.jpg", "reasons": "LOW_SHARPNESS"}]
    assert any("before any register call" in w.value for w in at.warning)
    assert any("two.jpg: 2 faces, the largest was taken" in i.value for i in at.info)
    verdicts = next(t for t in tables if "verdict" in t.columns)
    assert len(verdicts) == 8 and set(verdicts["verdict"]) == {"pass", "fail"}  # every photo's verdict
    client = at.session_state[CLIENT_KEY]
    enrolled = {f.external_image_id for f in client.iter_faces("gated-page")}
    assert "astronaut:blurred.jpg" not in enrolled and "astronaut:two.jpg" in enrolled
    assert set(at.session_state["tuning-thumbnails"]) >= enrolled  # crops for every enrolled face


def test_merging_one_person_under_two_names_recomputes_without_a_call(
    tmp_path: Path, astronaut_path, grace_hopper_path, monkeypatch
):
    folder = tmp_path / "set"
    astronaut, hopper = Image.open(astronaut_path).convert("RGB"), Image.open(grace_hopper_path).convert("RGB")
    for identity, image, names in (
        ("astronaut", astronaut, ("original.jpg", "mirror.jpg")),
        ("astro", astronaut.rotate(5), ("original.jpg", "mirror.jpg")),  # the same person, a second name
        ("grace hopper", hopper, ("original.jpg", "mirror.jpg", "bright.jpg")),
    ):
        (folder / identity).mkdir(parents=True)
        for name, variant in variants(image).items():
            if name in names:
                variant.save(folder / identity / name, quality=92)
    at = app_on_local_engine(tmp_path / "data", monkeypatch)
    client = at.session_state[CLIENT_KEY]
    client.ensure_group("merge-page")
    enroll(client, "merge-page", folder)
    at.switch_page("pages/tuning.py").run()
    at.selectbox(key="tuning-group").set_value("merge-page").run()
    at.button(key="tuning-score").click().run()
    assert not at.exception, at.exception
    merge = [b for b in at.button if str(b.key).startswith("tuning-audit-same-person")]
    assert len(merge) == 1 and merge[0].label == "Merge in the scoring"
    assert any("(no photo kept in this session)" in c.value for c in at.caption)  # enrolled outside the page
    before = rates_shown(at)
    recorder = client.transport.inner
    counter = CountingTransport(recorder.inner)
    recorder.inner = counter
    merge[0].click().run()
    assert not at.exception, at.exception
    assert counter.calls == 0
    after = rates_shown(at)
    assert after != before and is_percent(after["FMR"], 0)  # the cross pairs are genuine now
    assert any("merged: astro + astronaut" in m.value for m in at.markdown)
    assert not [b for b in at.button if str(b.key).startswith("tuning-audit-same-person")]
