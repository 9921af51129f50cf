"""The native trainer end to end on the real SuperNI mixture (tiny OPT, fake 8-device CPU mesh)."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from optiml_jax import checkpoints
from train_runs import (REPO, losses_by_step, requires_data, run_train, single_device,
                        train_command, train_in_process)

pytestmark = [requires_data, pytest.mark.slow]


def test_sharded_training_equals_single_device_and_loss_falls(tmp_path):
    """data 2 x fsdp 2 x tensor 2 vs one device, float32, dropout 0.1 on: same losses."""
    sharded = train_in_process(tmp_path / "sharded", {"data": 2, "fsdp": 2, "tensor": 2}, steps=8)
    single = train_in_process(tmp_path / "single", {"data": 1}, devices=single_device(), steps=8)
    sharded_losses = [m["loss"] for m in sharded]
    single_losses = [m["loss"] for m in single]
    print("sharded:", sharded_losses, "\nsingle: ", single_losses)
    np.testing.assert_allclose(sharded_losses, single_losses, rtol=0, atol=1e-5)
    assert np.mean(sharded_losses[-2:]) < np.mean(sharded_losses[:2]) - 0.1
    assert all(m["target_tokens"] > 0 for m in sharded)
    assert {"accuracy", "grad_norm", "learning_rate", "tokens_per_s"} <= set(sharded[0])


def _wait_for(predicate, process, timeout=300, poll=0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process.poll() is not None:
            return False
        time.sleep(poll)
    raise TimeoutError("condition not reached")


def test_resume_after_kill_9_is_bitwise_identical(tmp_path):
    reference = losses_by_step(run_train(tmp_path / "reference", 20, "SAVE_PERIOD=10"))

    model_dir = tmp_path / "killed"
    argv, env = train_command(model_dir, 20, "SAVE_PERIOD=10")
    process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    reached = _wait_for(lambda: checkpoints.step_dir(model_dir, 10).is_dir(), process)
    process.kill()  # SIGKILL: no handler runs
    process.wait()
    assert reached, "the run ended before writing checkpoint_10"
    assert not checkpoints.step_dir(model_dir, 20).exists()

    resumed = losses_by_step(run_train(model_dir, 20, "SAVE_PERIOD=10"))
    assert sorted(resumed) == list(range(1, 21))
    for step in range(11, 21):
        assert resumed[step] == reference[step], f"step {step}: {resumed[step]} != {reference[step]}"


def test_kill_during_a_save_keeps_the_previous_checkpoint(tmp_path):
    """SIGKILL while Orbax writes a checkpoint: the last complete one restores, the run resumes."""
    model_dir = tmp_path / "run"
    argv, env = train_command(model_dir, 12, "SAVE_PERIOD=1")
    process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)

    def saving_after_a_complete_one():
        names = [p.name for p in model_dir.glob("checkpoint_*")]
        complete = [n for n in names if n.split("_", 1)[1].isdigit()]
        return complete and any(not n.split("_", 1)[1].isdigit() for n in names)

    caught = _wait_for(saving_after_a_complete_one, process, poll=0.001)
    process.kill()
    process.wait()
    assert caught, "the run ended before a save could be interrupted"
    partial = [p.name for p in model_dir.glob("checkpoint_*") if not p.name[11:].isdigit()]
    assert partial, "no partially written checkpoint was left to test against"
    last_complete = checkpoints.resolve_step_dir(model_dir)
    params = checkpoints.restore_params(last_complete, config=checkpoints.load_config(model_dir))
    assert params["embed_tokens"]["embedding"].shape == (50272, 64)

    resumed = losses_by_step(run_train(model_dir, 12, "SAVE_PERIOD=1"))
    assert sorted(resumed) == list(range(1, 13))
    assert not [p for p in model_dir.glob("checkpoint_*") if not p.name[11:].isdigit()]


def test_sigterm_saves_and_exits_cleanly(tmp_path):
    model_dir = tmp_path / "run"
    argv, env = train_command(model_dir, 200, "SAVE_PERIOD=1000")
    process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    metrics = model_dir / "train" / "metrics.jsonl"
    assert _wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 3,
                     process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-2000:]
    saved = int(checkpoints.resolve_step_dir(model_dir).name[11:])
    assert 3 <= saved < 200
    assert f"preemption (signal {int(signal.SIGTERM)}): saved step {saved}, exiting" in stderr


def _run_two_processes(model_dir, steps, *bindings):
    """`python -m optiml_jax.train` as 2 processes x 4 CPU devices (jax.distributed, gloo)."""
    port = 20000 + (os.getpid() + steps) % 20000
    jobs = []
    for index in range(2):
        argv, env = train_command(model_dir, steps, *bindings, devices=4, extra_flags=(
            f"--coordinator_address=localhost:{port}", "--process_count=2",
            f"--process_index={index}"))
        env["JAX_CPU_COLLECTIVES_IMPLEMENTATION"] = "gloo"
        jobs.append(subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True))
    for job in jobs:
        _, stderr = job.communicate(timeout=600)
        assert job.returncode == 0, stderr[-3000:]
    return losses_by_step(__import__("optiml_jax.summaries").summaries.read_metrics(
        Path(model_dir) / "train"))


def test_two_processes_match_one(tmp_path):
    """2 processes x 4 CPU devices (jax.distributed, gloo collectives) = 1 process x 8 devices."""
    one = losses_by_step(run_train(tmp_path / "one", 5))
    model_dir = tmp_path / "two"
    two = _run_two_processes(model_dir, 5)
    print("one process:", one, "\ntwo processes:", two)
    assert sorted(two) == sorted(one) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose([two[s] for s in one], list(one.values()), rtol=0, atol=1e-5)
    assert checkpoints.resolve_step_dir(model_dir).name == "checkpoint_5"


def test_resume_on_another_process_count_continues_the_same_run(tmp_path):
    """2 processes train and save step 3 (each its own rows; the checkpoint holds every row's
    stream position); 1 process resumes from it: steps 4-6 equal an uninterrupted run's."""
    uninterrupted = losses_by_step(run_train(tmp_path / "one", 6, "SAVE_PERIOD=3"))
    model_dir = tmp_path / "switched"
    _run_two_processes(model_dir, 6, "SAVE_PERIOD=3", "KEEP_CHECKPOINTS=None")
    shutil.rmtree(model_dir / "checkpoint_6")
    resumed = losses_by_step(run_train(model_dir, 6, "SAVE_PERIOD=3"))
    print("uninterrupted:", uninterrupted, "\n2 then 1 process:", resumed)
    assert sorted(resumed) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose([resumed[s] for s in uninterrupted], list(uninterrupted.values()),
                               rtol=0, atol=1e-5)
