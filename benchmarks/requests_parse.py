"""What checking a request against its contract model costs the engine, per call.

    python benchmarks/requests_parse.py [--repeats 20000]

For three calls it prints the median of ``validation.parse_request`` (wire values -> the call's
request model: fields picked from path, query and body, types, patterns and ranges checked),
next to the bare ``model_validate`` of the same values already in place, so what the picking
adds is visible. search_by_image carries a full-size image (4,000,000 base64 characters).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from facereco.contract import ENDPOINTS  # noqa: E402
from facereco.validation import parse_request  # noqa: E402

FACE_ID = "9297db50-d4f2-c6b8-ea05-edf2013089fd"
IMAGE = {"bytes": base64.b64encode(b"\xff\xd8\xff" + bytes(2_999_997)).decode()}
CASES: dict[str, tuple[dict, dict, dict | None]] = {
    "search_by_face_id": ({"group_id": "bench", "face_id": FACE_ID}, {"limit": "100", "threshold": "90"}, None),
    "list_faces": ({"group_id": "bench"}, {"limit": "200", "next-token": "x" * 200}, None),
    "search_by_image": ({"group_id": "bench"}, {"limit": "100"}, {"image": IMAGE, "orientation": True}),
}


def median_us(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20000)
    args = parser.parse_args()
    print(f"{'call':<18} {'parse_request':>14} {'model_validate':>15}   (median us over {args.repeats:,})")
    for name, (path, query, body) in CASES.items():
        model = ENDPOINTS[name].request
        parsed = parse_request(model, path, query, body)
        in_place = parsed.model_dump()  # the same values, already by field name
        parse = median_us(lambda: parse_request(model, path, query, body), args.repeats)  # noqa: B023
        bare = median_us(lambda: model.model_validate(in_place), args.repeats)  # noqa: B023
        print(f"{name:<18} {parse:>14.2f} {bare:>15.2f}")


if __name__ == "__main__":
    main()
