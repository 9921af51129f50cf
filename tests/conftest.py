"""Test-wide setup: a fake 8-device CPU mesh, set before JAX initialises its backend; and, with
`CI` set, no silent skips: without the data folder the session stops before collecting anything,
naming OPTIML_DATA_DIR, and a test that skips for want of torch or transformers fails instead,
naming what is missing (CI provides all three)."""

import os
import re

import pytest

_flags = os.environ.get("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_force_host_platform_device_count=8".strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# What the skip reasons of the data, conversion and parity tests name.
CI_PREREQUISITES = ("OPTIML_DATA_DIR", "torch", "transformers")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def pytest_sessionstart(session):
    """Under CI, a missing data folder would fail hundreds of tests one by one; stop at once."""
    data = os.environ.get("OPTIML_DATA_DIR", "")
    if _in_ci() and not os.path.isdir(data):
        state = f"is {data!r}, not a directory" if data else "is not set"
        pytest.exit(f"CI is set but OPTIML_DATA_DIR {state}: CI runs every data test. Set "
                    f"OPTIML_DATA_DIR to the data folder (docs/benchmark.md; .ci/run exports "
                    f"../shared/data), or unset CI to run without it.",
                    returncode=pytest.ExitCode.USAGE_ERROR)


def _missing_prerequisite(report) -> str | None:
    """The CI prerequisite a skipped report's reason names, if any."""
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    for name in CI_PREREQUISITES:
        if re.search(rf"\b{name}\b", reason):
            return f"{name} is missing: {reason}"
    return None


def _fail_in_ci(report) -> None:
    if _in_ci() and report.skipped and (missing := _missing_prerequisite(report)):
        report.outcome = "failed"
        report.longrepr = (f"CI is set, so this may not skip: {missing}. CI must provide "
                           f"{', '.join(CI_PREREQUISITES)} (.ci/run sets OPTIML_DATA_DIR; `make "
                           f"venv` installs torch and transformers).")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield  # module-level skips (pytest.importorskip) happen while collecting
    _fail_in_ci(outcome.get_result())


def pytest_report_header(config):
    if _in_ci():
        data = os.environ.get("OPTIML_DATA_DIR") or "not set"
        return (f"CI: skips for want of {', '.join(CI_PREREQUISITES)} are failures "
                f"(OPTIML_DATA_DIR: {data})")
    return None
