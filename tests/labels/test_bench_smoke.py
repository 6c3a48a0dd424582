"""The benchmark script runs and prints its figures (no timing is asserted: figures are reported)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "labels.py"


def test_bench_runs_small() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--labels", "300", "--repeat", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "accessible_label_ids over 300 labels" in out.stdout
    assert "decisions per second" in out.stdout
    assert "ratio can_read / baseline" in out.stdout
