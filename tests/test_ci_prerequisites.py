"""Under CI, a run without the data folder stops before any test, naming OPTIML_DATA_DIR, instead
of failing (or, with a default, silently finding) data tests one by one."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def without_data_dir(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OPTIML_DATA_DIR"}
    return {**env, **extra}


def test_pytest_under_ci_without_the_data_folder_exits_at_once_naming_it():
    # --collect-only of a data-free file would succeed without the check.
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--collect-only", "tests/test_ci_prerequisites.py"],
                          cwd=REPO, env=without_data_dir(CI="true"), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0, done.stdout
    assert "CI is set but OPTIML_DATA_DIR is not set" in done.stdout + done.stderr


def test_make_test_under_ci_does_not_default_the_data_folder():
    """The Makefile's `../shared/data` default would hide a CI that forgot to set it."""
    # Under `make test` itself this runs in a nested make, which would print directory lines.
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "test"], cwd=REPO,
                             env=without_data_dir(CI="true"), capture_output=True, text=True, timeout=60, check=True)
    [pytest_line] = [line for line in dry_run.stdout.splitlines() if "-m pytest" in line]
    assert pytest_line.startswith("OPTIML_DATA_DIR= "), dry_run.stdout
