"""`make demo` as a user runs it: the scenario completes and says what happened."""

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "lakestack"


def test_demo_runs_end_to_end():
    result = subprocess.run([str(BIN), "demo"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ListBuckets -> AccessDenied" in out
    assert "['ebike-lake']" in out
    assert "Glue crawler found table ebikes.landing (station_id string, name string, lat double, lon double)" in out
    assert "Athena query SUCCEEDED: name, lat, lon; Central, 52.52, 13.4; Harbour, 52.5, 13.45" in out
