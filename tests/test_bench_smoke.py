"""Smoke test of scripts/bench.py: its quick run works and its correctness checks pass.

Not a timed test: no figure of the benchmark is asserted, only that it runs to the end and
that every log directory it read back held exactly the events it sent. It takes minutes, so
it is opt-in: `python -m pytest -m bench` (.ci/run runs it as a step of its own).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.bench.plan import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "scripts" / "bench.py"


@pytest.mark.bench
@pytest.mark.timeout(900)
def test_quick_benchmark_runs_and_its_correctness_checks_pass(tmp_path: Path) -> None:
    """`bench.py --quick --json` exits 0 and reports every correctness check as passed."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=870,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-5000:]}\nstderr:\n{proc.stderr[-5000:]}"
    document = json.loads(out.read_text())
    checks = document["correctness"]
    assert checks, "the benchmark reported no correctness checks"
    assert [name for name, ok in checks.items() if not ok] == []
    assert document["correctness_ok"] is True
    for scenario in SCENARIOS:
        assert scenario in document["results"], f"{scenario} did not run"
