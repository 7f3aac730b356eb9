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
    reads_saved_by_the_cache(app)
    connection_check_on_a_dead_server()


PAGES = ("pages/home.py", "pages/detect.py", "pages/compare.py", "pages/search.py", "pages/verify.py",
         "pages/groups.py", "pages/tuning.py")  # fmt: skip


def reads_saved_by_the_cache(app: str) -> None:
    """Every page visited twice in one session (demo group present): calls sent vs answered from memory."""
    from streamlit.testing.v1 import AppTest

    from facereco.ui.session import CLIENT_KEY

    at = AppTest.from_file(app, default_timeout=60)
    at.run()
    cache = at.session_state[CLIENT_KEY].transport
    sent = []
    for _ in range(2):
        before = len(cache.inner.exchanges)
        for page in PAGES:
            at.switch_page(page).run()
        sent.append(len(cache.inner.exchanges) - before)
    print(
        f"All {len(PAGES)} pages visited twice in one session: {sent[0]} calls on the first pass, {sent[1]} on the "
        f"second; {cache.reads_answered} reads answered from the session's cache (each one a billed call before)"
    )


def connection_check_on_a_dead_server() -> None:
    """A refused connection on loopback: the sidebar's fail-fast check vs the retrying transport of the calls."""
    from facereco.client import FaceRecoClient
    from facereco.errors import FaceRecoError
    from facereco.transport import HttpTransport, RetryPolicy
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for name, transport in (
        ("fail-fast check (no retries)", HttpTransport("k", url, connect_timeout=3.0, retry=RetryPolicy(0))),
        ("a call's transport (3 retries)", HttpTransport("k", url)),
    ):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            try:
                FaceRecoClient(transport=transport).list_groups(limit=1)
            except FaceRecoError:
                times.append((time.perf_counter() - started) * 1000)
        print(f"Unreachable server, {name}: median {statistics.median(times):,.0f} ms to the sentence")


if __name__ == "__main__":
    main()
