"""Two test runs starting their Xvfb at the same moment get a display each (no run uses another's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.resources import unavailable

ROOT = Path(__file__).resolve().parents[2]
# a test process: ready, waits for the start signal, starts its Xvfb, says which display, keeps it until told
TEST_RUN = """
import sys
from tests.pos.pos_helpers import xvfb_display
print("ready", flush=True)
sys.stdin.readline()
print(xvfb_display(), flush=True)
sys.stdin.readline()
"""


def test_runs_started_together_get_different_live_displays():
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        unavailable("Xvfb and xdotool are not installed (apt-get install xvfb xdotool)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", TEST_RUN],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        assert [run.stdout.readline() for run in runs] == ["ready\n"] * 2
        for run in runs:  # both look for a free display at the same moment
            run.stdin.write("go\n")
            run.stdin.flush()
        displays = [run.stdout.readline().strip() for run in runs]
        assert all(display.startswith(":") for display in displays), displays
        assert displays[0] != displays[1]
        for display in displays:  # each is a live X server of its own, while both runs hold theirs
            geometry = subprocess.run(
                ["xdotool", "getdisplaygeometry"],
                env={**os.environ, "DISPLAY": display},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert geometry.returncode == 0 and geometry.stdout.split() == ["1024", "768"], geometry.stderr
    finally:
        for run in runs:
            run.stdin.close()
        for run in runs:
            run.wait(timeout=30)
