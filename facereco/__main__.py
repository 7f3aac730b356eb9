"""Command line: ``python -m facereco serve | detect | compare | quality | enroll | score | audit``.

detect and compare print the contract's response JSON computed by the local engine;
serve runs the offline stand-in for the cloud over HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from facereco.contract import DEFAULT_THRESHOLD, GROUP_QUOTA
from facereco.engine.tokens import DEFAULT_TOKEN_TTL_S
from facereco.errors import ApiError, FaceRecoError, TransportError
from facereco.quality import DEFAULT_PRESET, PRESETS

CHECKPOINT_EVERY_S = 30.0  # a killed run loses at most this much searching


def _print(body: dict) -> None:
    json.dump(body, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _cmd_serve(args: argparse.Namespace) -> int:
    from facereco.engine.api import LocalEngine
    from facereco.engine.http_limits import ServerLimits
    from facereco.engine.memory import ANALYSIS_MEMORY, analysis_budget_bytes
    from facereco.engine.server import serve

    appkeys = list(args.appkey or []) + [k for k in os.environ.get("FACERECO_APPKEYS", "").split(",") if k]
    if not appkeys:
        print(
            "facereco serve: no --appkey given and FACERECO_APPKEYS is empty: every appkey is accepted", file=sys.stderr
        )
    engine = LocalEngine(
        args.data_dir,
        appkeys=appkeys or None,
        allow_private_urls=args.allow_private_urls,
        group_quota=args.group_quota,
        token_ttl_s=args.token_ttl,
        url_timeout_s=args.url_timeout,
        index_memory_mb=args.index_memory_mb,
    )
    ANALYSIS_MEMORY.resize(analysis_budget_bytes(args.analysis_memory_mb))
    limits = ServerLimits(
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        body_total_s=args.body_total_timeout,
        max_connections=args.max_connections,
        downloads_per_appkey=args.downloads_per_appkey,
    )
    if args.warm:
        engine.warm_up(mask=True)
    else:
        engine.start_warm_up()  # accept requests at once; the first one waits for this load, not a second
    serve(engine, args.host, args.port, args.log_level, limits)
    return 0


def _local_client(args: argparse.Namespace):
    from facereco.client import FaceRecoClient

    return FaceRecoClient.local(args.data_dir, allow_private_urls=True)


def _cmd_detect(args: argparse.Namespace) -> int:
    result = _local_client(args).detect(args.image, orientation=args.orientation, mask=args.mask)
    _print(result.raw)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    result = _local_client(args).compare(
        args.source, args.target, threshold=args.threshold, orientation=args.orientation, mask=args.mask
    )
    _print(result.raw)
    return 0


def _labeled_set_client(args: argparse.Namespace):
    """The server named by --appkey/FACERECO_APPKEY (and --base-url), else the local engine."""
    from facereco.client import FaceRecoClient

    appkey = args.appkey or os.environ.get("FACERECO_APPKEY")
    return FaceRecoClient(appkey, args.base_url) if appkey else FaceRecoClient.local(args.data_dir)


def _cmd_enroll(args: argparse.Namespace) -> int:
    from pathlib import Path

    from facereco.labeled_sets import enroll
    from facereco.quality_gate import enrollment_gate

    client = _labeled_set_client(args)
    gate = enrollment_gate(client, args.quality)
    client.ensure_group(args.group)  # resuming: the group may be there already

    def progress(done: int, total: int, name: str) -> None:
        print(f"\r{done}/{total} {name[:60]:<60}", end="", file=sys.stderr, flush=True)

    report = enroll(client, args.group, Path(args.source), progress, gate)
    print(file=sys.stderr)
    _print(
        {
            "group": args.group,
            "quality": args.quality,
            "added": report.added,
            "alreadyThere": report.skipped,
            "noFace": report.no_face,
            "lowQuality": [{"image": image, "reasons": list(reasons)} for image, reasons in report.low_quality],
            "severalFaces": [{"image": image, "faces": n, "taken": "largest"} for image, n in report.several_faces],
            "failed": [{"image": image, "error": error} for image, error in report.failed],
        }
    )
    for image, reasons in report.low_quality:
        print(f"skipped (quality {args.quality}): {image}: {', '.join(reasons)}", file=sys.stderr)
    for image, error in report.failed:
        print(f"not enrolled: {image}: {error}", file=sys.stderr)
    return 1 if report.failed else 0  # a script or CI must see that a file failed


def _cmd_score(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from facereco.tuning import ScoringCheckpoint, ScoringProgress, score_group, scoring_summary

    client = _labeled_set_client(args)
    path = Path(args.checkpoint or f"facereco-score-{args.group}.npz")
    checkpoint = ScoringCheckpoint.load(path)
    saved_at = time.monotonic()

    def progress(step: ScoringProgress) -> None:
        nonlocal saved_at
        left = f", {step.remaining_s:,.0f} s left" if step.rate else ""
        print(f"\r{step.done}/{step.total} faces, {step.rate:.1f}/s{left}   ", end="", file=sys.stderr, flush=True)
        if time.monotonic() - saved_at > CHECKPOINT_EVERY_S:
            checkpoint.save(path)
            saved_at = time.monotonic()

    try:
        scores = score_group(client, args.group, progress, workers=args.workers, checkpoint=checkpoint)
    except (KeyboardInterrupt, ApiError, TransportError) as stopped:
        checkpoint.save(path)  # the next run resumes from here
        print(f"\nstopped: {len(checkpoint.answers)} faces kept in {path}", file=sys.stderr)
        if isinstance(stopped, KeyboardInterrupt):
            return 130
        raise
    print(file=sys.stderr)
    path.unlink(missing_ok=True)
    if args.csv:
        Path(args.csv).write_text(scores.to_csv())
    _print({"group": args.group, **scoring_summary(scores)})
    return 0


def _cmd_quality(args: argparse.Namespace) -> int:
    """One JSON object per image and line; a file the API or the decoder refuses gets an "error"."""
    from pathlib import Path

    from facereco.quality_gate import photo_quality

    client = _labeled_set_client(args)
    failed = 0
    for name in args.images:
        try:
            faces = photo_quality(client, Path(name).read_bytes(), args.preset)
            record: dict = {"file": name, "faces": [face.to_json() for face in faces]}
        except (ApiError, OSError, ValueError) as error:
            failed += 1
            record = {"file": name, "error": error.message if isinstance(error, ApiError) else str(error)}
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from facereco.audit import audit
    from facereco.tuning import score_group

    client = _labeled_set_client(args)
    result = audit(score_group(client, args.group, workers=args.workers), threshold=args.threshold)
    if args.format == "csv":
        sys.stdout.write(result.to_csv())
    else:
        _print(result.to_json(args.group))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facereco", description=__doc__)
    # --data-dir is accepted before or after the command (`serve --data-dir D` as well as `--data-dir D serve`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS, help="engine data directory")
    parser.add_argument(
        "--data-dir", default=None, help="engine data directory (default: FACERECO_DATA_DIR or ~/.local/share/facereco)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", parents=[common], help="serve the API over HTTP (offline stand-in for the cloud)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=10080)
    serve.add_argument("--appkey", action="append", help="an accepted appkey (repeatable; also FACERECO_APPKEYS)")
    serve.add_argument("--allow-private-urls", action="store_true", help="let image URLs name loopback/private hosts")
    serve.add_argument(
        "--warm", action="store_true", help="load the models before accepting requests (default: in the background)"
    )
    serve.add_argument("--group-quota", type=int, default=GROUP_QUOTA, help="faces per group (default 100,000)")
    serve.add_argument("--token-ttl", type=float, default=DEFAULT_TOKEN_TTL_S, help="page token lifetime, seconds")
    serve.add_argument("--url-timeout", type=float, default=10.0, help="image download limit, seconds")
    serve.add_argument(
        "--index-memory-mb",
        type=float,
        default=None,
        help="memory for loaded search indexes; least recently used groups are dropped past it "
        "(default: FACERECO_INDEX_MEMORY_MB, else 1024)",
    )
    serve.add_argument(
        "--analysis-memory-mb",
        type=float,
        default=None,
        help="memory for analysing images (decode, detection, embedding) at once; more images queue "
        "(default: FACERECO_ANALYSIS_MEMORY_MB, else 512)",
    )
    serve.add_argument("--header-timeout", type=float, default=10.0, help="seconds to send a request head")
    serve.add_argument("--body-timeout", type=float, default=10.0, help="seconds a body may send nothing")
    serve.add_argument(
        "--body-total-timeout", type=float, default=120.0, help="seconds a whole body may take to arrive"
    )
    serve.add_argument("--max-connections", type=int, default=256, help="open connections; past it 503")
    serve.add_argument("--downloads-per-appkey", type=int, default=4, help="image URL calls at once per appkey")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(run=_cmd_serve)

    for name, runner, images in (("detect", _cmd_detect, ("image",)), ("compare", _cmd_compare, ("source", "target"))):
        command = commands.add_parser(
            name, parents=[common], help=f"{name} with the local engine; prints the response JSON"
        )
        for image in images:
            command.add_argument(image, help="image file path or http(s) URL")
        command.add_argument("--orientation", action="store_true", help="add yaw/pitch/roll")
        command.add_argument("--mask", action="store_true", help="add mask worn")
        if name == "compare":
            command.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD)
        command.set_defaults(run=runner)
    enroll = commands.add_parser(
        "enroll",
        parents=[common],
        help="register a labeled set <identity>/<image> (folder or ZIP) into a group; resumable",
    )
    enroll.add_argument("source", help="folder of <identity>/<image> files, or a ZIP of them")
    enroll.add_argument("--group", required=True)
    enroll.add_argument(
        "--quality",
        choices=list(PRESETS),
        default="off",
        help="skip photos whose largest face fails this quality preset, before the register call (default off)",
    )
    enroll.set_defaults(run=_cmd_enroll)
    score = commands.add_parser(
        "score",
        parents=[common],
        help="search every labeled face of a group and print EER and thresholds for FMR targets; resumable",
    )
    score.add_argument("--group", required=True)
    score.add_argument(
        "--workers", type=int, default=None, help="searches at once (default: 4 against a server, 1 in-process)"
    )
    score.add_argument(
        "--checkpoint", help="resume file (default facereco-score-GROUP.npz here; removed when scoring completes)"
    )
    score.add_argument("--csv", help="also write every listed pair's score to this CSV file")
    score.set_defaults(run=_cmd_score)
    quality = commands.add_parser(
        "quality", parents=[common], help="detect each image's faces and print their quality, one JSON line each"
    )
    quality.add_argument("images", nargs="+", metavar="IMAGE", help="image file path")
    quality.add_argument("--preset", choices=[p for p in PRESETS if p != "off"], default=DEFAULT_PRESET)
    quality.set_defaults(run=_cmd_quality)
    audit = commands.add_parser(
        "audit",
        parents=[common],
        help="score a labeled group and list faces probably mislabeled, identities probably one person, duplicates",
    )
    audit.add_argument("--group", required=True)
    audit.add_argument("--format", choices=("json", "csv"), default="json")
    audit.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="operating threshold for same-person suspects (default: FMR 0.1 %% where supported, else the EER's)",
    )
    audit.add_argument("--workers", type=int, default=None, help="searches at once")
    audit.set_defaults(run=_cmd_audit)
    for command in (enroll, score, quality, audit):
        command.add_argument("--appkey", help="use this server instead of the local engine (also FACERECO_APPKEY)")
        command.add_argument("--base-url", default=None, help="with --appkey: the server (default: the NHN cloud)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ApiError as error:
        _print({"header": {"isSuccessful": False, "resultCode": error.result_code, "resultMessage": error.message}})
        return 2
    except FaceRecoError as error:  # a local refusal (e.g. a ZIP bomb): one sentence, no trace
        print(f"facereco: {error.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"facereco: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
