"""Evaluation across two processes whose output folders differ (hosts without a shared
filesystem): process 0's finished results decide what every process evaluates."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import optiml_jax.tasks  # noqa: F401  (registers the bench: evaluation_tasks reads our registry)
from data_fixtures import real_data_dir
from eval_fixtures import save_tiny_checkpoint
from optiml_jax.evaluation.runner import evaluation_tasks

REPO = Path(__file__).resolve().parents[1]
# One evaluation process of a two-process job: jax.distributed over gloo, 4 CPU devices each.
EVALUATE = """
import json, sys
import jax
port, index, checkpoint, out, pattern = sys.argv[1:]
jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=int(index))
from optiml_jax.eval import evaluate_checkpoints
# 8 examples per task fill one batch: a process that also redid the first task would run one
# more model call than the other and wait in its collectives forever.
content = evaluate_checkpoints([checkpoint], split="dev", shots=[0], out_dir=out,
                               max_examples_per_task=8, task_pattern=pattern, batch_size=8,
                               max_new_tokens=4, progress=False)
print("RESULT " + json.dumps({r["task"]: r["score"] for r in content["tasks"]}))
"""


def evaluate_on_two_processes(checkpoint, out_dirs, pattern, port, timeout=240):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu", "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo"}
    jobs = [subprocess.Popen([sys.executable, "-c", EVALUATE, str(port), str(index), checkpoint,
                              str(out_dirs[index]), pattern], env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for index in range(2)]
    scores = []
    try:
        for job in jobs:
            stdout, stderr = job.communicate(timeout=timeout)
            assert job.returncode == 0, stderr[-3000:]
            scores.append(json.loads(stdout.split("RESULT ", 1)[1]))
    finally:
        for job in jobs:
            job.kill()
    return scores


@pytest.mark.slow
def test_resume_with_different_local_task_results_on_two_processes_completes(tmp_path):
    real_data_dir()
    present, _ = evaluation_tasks("dev", [0])
    first, second = sorted(spec.name for spec in present)[:2]
    checkpoint = save_tiny_checkpoint(tmp_path / "model")
    out_dirs = [tmp_path / "host0" / "eval", tmp_path / "host1" / "eval"]
    port = 21000 + os.getpid() % 20000

    # Only process 0 writes: after this, host 0 holds `first`'s result and host 1 holds nothing.
    first_scores = evaluate_on_two_processes(checkpoint, out_dirs, f"^{re.escape(first)}$", port)
    assert not (out_dirs[1] / "task_results.jsonl").exists()
    done = (out_dirs[0] / "task_results.jsonl").read_text().splitlines()
    assert [json.loads(line)["task"] for line in done] == [first]

    # Host 1's own folder disagrees: it says `second` is finished (with an impossible score) and
    # `first` is not. Were it read, process 1 would evaluate `first` while process 0 evaluated
    # `second`, and the two would hang in each other's collectives or report different scores.
    out_dirs[1].mkdir(parents=True)
    (out_dirs[1] / "settings.json").write_text((out_dirs[0] / "settings.json").read_text())
    other = {**json.loads(done[0]), "task": second, "score": -1.0}
    host1_results = json.dumps(other) + "\n"
    (out_dirs[1] / "task_results.jsonl").write_text(host1_results)

    both = f"^({re.escape(first)}|{re.escape(second)})$"
    scores = evaluate_on_two_processes(checkpoint, out_dirs, both, port + 1)
    # Process 0's decision everywhere: `first` from its folder, `second` evaluated, not -1.
    assert scores[0] == scores[1] and set(scores[0]) == {first, second}
    assert scores[0][first] == first_scores[0][first] and scores[0][second] != -1.0
    # Resumed, not redone: `first` was evaluated once, `second` was appended.
    resumed = (out_dirs[0] / "task_results.jsonl").read_text().splitlines()
    assert resumed[0] == done[0]
    assert [json.loads(line)["task"] for line in resumed] == [first, second]
    results = json.loads((out_dirs[0] / "results.json").read_text())
    assert {r["task"]: r["score"] for r in results["tasks"]} == scores[0]
    # Process 1 never writes the folder: its disagreeing file is as it was.
    assert (out_dirs[1] / "task_results.jsonl").read_text() == host1_results
