"""The fault-injection campaign (benchmarks/faults.py) passes: every fault survived, every resume
exact, nothing lost (docs/reliability.md shows its table)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from train_runs import requires_data

REPO = Path(__file__).resolve().parents[1]


@requires_data
@pytest.mark.slow
def test_fault_campaign_survives_every_fault_and_resumes_exactly(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/faults.py", "--out", str(tmp_path)],
                          cwd=REPO, env=dict(os.environ), capture_output=True, text=True,
                          timeout=900)
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["faults"] >= 20 and summary["kinds"] >= 6
    assert summary["survived"] == summary["resumed_exactly"] == summary["faults"]
    assert summary["data_lost"] == 0
    assert all(chain["final_params_equal"] for chain in summary["chains"])
