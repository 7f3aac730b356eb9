"""Dashboard benchmark: a page's first render on the warm local engine, and a threshold-slider move.

    python benchmarks/dashboard.py [--repeats 7]

Measured with streamlit's AppTest: the time for the whole script run of a page in a
fresh session (the server-side work behind a first render; models already loaded), and
for the rerun a slider move triggers on Compare (no API call: the result is kept).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.environ["FACERECO_DATA_DIR"] = tempfile.mkdtemp(prefix="facereco-dash-")
    os.environ.pop("FACERECO_APPKEY", None)
    from streamlit.testing.v1 import AppTest

    app = str(ROOT / "app.py")
    warm = AppTest.from_file(app, default_timeout=300)
    warm.run()  # loads the models once (st.cache_resource)
    warm.button(key="build-demo").click().run()
    sessions = []
    for _ in range(args.repeats):
        fresh = AppTest.from_file(app, default_timeout=60)
        sessions.append(timed(fresh.run))
    print(f"New browser session, first render of Home (models warm): median {statistics.median(sessions):.1f} ms")
    print("First render of each page in a session, median ms")
    for page in (
        "pages/home.py",
        "pages/detect.py",
        "pages/compare.py",
        "pages/search.py",
        "pages/verify.py",
        "pages/groups.py",
    ):
        times = []
        for _ in range(args.repeats):
            at = AppTest.from_file(app, default_timeout=60)
            at.run()
            times.append(timed(lambda at=at, page=page: at.switch_page(page).run()))
        print(f"  {page:<18} {statistics.median(times):7.1f}")
    at = AppTest.from_file(app, default_timeout=60)
    at.run()
    at.switch_page("pages/compare.py").run()
    compare_ms = timed(lambda: at.button(key="compare-run").click().run())
    moves = [
        timed(lambda v=v: at.slider(key="compare-threshold").set_value(v).run()) for v in (10, 50, 70, 95, 30, 60, 90)
    ]
    print(f"Compare click (one API call, both images) {compare_ms:7.1f} ms")
    print(f"Threshold slider move on Compare, median  {statistics.median(moves):7.1f} ms (max {max(moves):.1f})")


if __name__ == "__main__":
    main()
