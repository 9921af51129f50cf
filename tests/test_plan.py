"""`python -m optiml_jax.plan` compiles the real train step for a fake mesh and sizes it."""

import subprocess
import sys

import pytest

from train_runs import REPO


def plan(gin_file, mesh, memory="40GiB", *bindings):
    argv = [sys.executable, "-m", "optiml_jax.plan", f"--gin_file={gin_file}", f"--mesh={mesh}",
            f"--device_memory={memory}", *(f"--gin.{b}" for b in bindings)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    return done.stdout


def total_gib(output):
    line = next(line for line in output.splitlines() if line.strip().startswith("total"))
    return float(line.split("GiB")[0].split()[-1])


def test_tiny_plan_fits():
    out = plan("gin/native/opt_iml_tiny.gin", "data:2,fsdp:2,tensor:2", "1GiB")
    assert "mesh data 2 x fsdp 2 x tensor 2 (8 devices)" in out and "fits in 1 GiB" in out


@pytest.mark.slow
@pytest.mark.parametrize("gin_file, mesh", [
    ("gin/native/opt_iml_30b.gin", "data:1,fsdp:32,tensor:2"),    # paper: 64 x A100-40GB, TP 2
    ("gin/native/opt_iml_175b.gin", "data:1,fsdp:16,tensor:8"),   # paper: 128 x A100-40GB, TP 8
])
def test_paper_runs_fit_in_40_gib(gin_file, mesh):
    out = plan(gin_file, mesh)
    assert total_gib(out) <= 40.0 and "fits in 40 GiB" in out


def test_bad_mesh_argument():
    argv = [sys.executable, "-m", "optiml_jax.plan", "--gin_file=gin/native/opt_iml_tiny.gin",
            "--mesh=data:2,model:4", "--device_memory=1GiB"]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "expected axis:size pairs over data, fsdp, tensor" in done.stderr
