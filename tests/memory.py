"""Peak memory a piece of work adds, measured in a fresh Python process.

The work runs in a subprocess so that the C allocations of Pillow, zlib and numpy count (tracemalloc
sees none of them) and nothing the test process holds gets in the way. The kernel's high-water mark
is reset (``/proc/self/clear_refs``) after the set-up, so the figure is the work's own peak over the
resident size it started from. Used by the tests and by ``benchmarks/security.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import json, sys
sys.path.insert(0, {root!r})
{setup}
def _status():
    return {{l.split(":")[0]: int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(("VmRSS", "VmHWM"))}}
with open("/proc/self/clear_refs", "w") as _handle:
    _handle.write("5")  # resets VmHWM to the current resident size
_before = _status()["VmRSS"]
_result = None
{work}
print(json.dumps({{"added_kb": _status()["VmHWM"] - _before, "result": _result}}))
"""


def peak_added(setup: str, work: str, timeout: float = 600) -> tuple[float, object]:
    """(MB of peak resident memory ``work`` added after ``setup``, whatever ``work`` put in ``_result``)."""
    script = _PROBE.format(root=str(ROOT), setup=textwrap.dedent(setup), work=textwrap.dedent(work))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{done.stderr[-4000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["added_kb"] / 1024, answer["result"]
