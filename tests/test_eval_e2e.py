"""End to end: train tiny OPT two steps with the real trainer (in-training evaluation on), then
`python -m optiml_jax.eval` on its checkpoints over every real SuperNI dev and test task present."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import optiml_jax.tasks as bench
from data_fixtures import real_data_dir
from optiml_jax.data.formats.promptsource import NOT_APPLICABLE
from optiml_jax.evaluation.runner import evaluation_tasks
from optiml_jax.summaries import read_metrics

REPO = Path(__file__).resolve().parents[1]


def bench_evaluation_tasks(split, shots):
    """`(present, absent)` evaluation tasks of the bench alone, what `python -m optiml_jax.eval`
    registers; other tests of this session may have registered fixture tasks in our registry."""
    names = set(bench.REPORT.tasks)
    return tuple([spec for spec in specs if spec.name in names] for specs in evaluation_tasks(split, shots))


def _run(argv, timeout=600):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-m", *argv], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _evaluate(model_dir, out, *flags):
    return _run(["optiml_jax.eval", "--checkpoint", str(model_dir), "--out", str(out), "--max_examples_per_task", "3",
                 "--max_new_tokens", "8", "--batch_size", "16", *flags])


@pytest.mark.slow
def test_trainer_checkpoints_to_results_report_and_plots(tmp_path):
    real_data_dir()
    model_dir = tmp_path / "model"
    bindings = [f'MODEL_DIR="{model_dir}"', "TRAIN_STEPS=2", "WARMUP_STEPS=1", "SAVE_PERIOD=1",
                "TASK_FEATURE_LENGTHS={'inputs': 128, 'targets': 128}", "EVAL_PERIOD=2",
                "TRAIN_EVAL_EXAMPLES_PER_TASK=2", "train_script.train.progress_bar=False"]
    _run(["optiml_jax.train", "--gin_file=gin/native/opt_iml_tiny.gin", *(f"--gin.{b}" for b in bindings)])
    logged = [m for m in read_metrics(model_dir / "train") if any(k.startswith("eval/") for k in m)]
    assert [m["step"] for m in logged] == [2] and "eval/dev/average/0shot" in logged[0]
    assert list((model_dir / "train").glob("events.out.tfevents.*"))

    out = tmp_path / "dev"
    _evaluate(model_dir, out, "--all_steps", "--split", "dev", "--shots", "0,5")
    results = json.loads((out / "results.json").read_text())
    present, absent = bench_evaluation_tasks("dev", [0, 5])
    assert present and absent  # some dev tasks are catalogued without local data
    for step in (1, 2):
        done = {r["task"]: r for r in results["tasks"] if r["step"] == step}
        assert set(done) == {spec.name for spec in present}
        assert all(r["n"] == 3 and r["split"] == "dev" for r in done.values())
        assert {r["benchmark"] for r in done.values() if r["n"]} >= {"superni", "promptsource", "flan", "reasoning"}
        assert {r["method"] for r in done.values() if r["n"]} == {"generation", "rank_classification"}
        scopes = {(r["scope"], r["shots"]) for r in results["scores"] if r["step"] == step}
        assert {("level", 0), ("level", 5), ("average", 0), ("average", "0+5")} <= scopes
    absent_names = {(b, name) for b, names in results["coverage"]["absent"].items() for name in names}
    assert absent_names == {(s.benchmark, s.source_name) for s in absent}
    assert any(NOT_APPLICABLE in reason for reason in results["coverage"]["excluded_subtasks"].values())
    report = (out / "report.md").read_text()
    assert "## Summary per level" in report and "| step 1 |" in report and "| step 2 |" in report
    assert all(spec.name in report for spec in present)
    for plot in ("levels.png", "categories.png", "steps.png"):
        assert (out / "plots" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((out / "predictions" / "model" / "checkpoint_2").glob("*.jsonl"))) == len(present)

    # Resuming: nothing left to evaluate, nothing appended.
    finished = (out / "task_results.jsonl").read_text()
    rerun = _evaluate(model_dir, out, "--all_steps", "--split", "dev", "--shots", "0,5")
    assert f"0 of {len(present)} tasks to evaluate" in rerun.stderr
    assert (out / "task_results.jsonl").read_text() == finished

    test_out = tmp_path / "test"
    _evaluate(model_dir / "checkpoint_2", test_out, "--split", "test", "--shots", "0")
    tested = json.loads((test_out / "results.json").read_text())
    present, _ = bench_evaluation_tasks("test", [0])
    assert sorted(r["task"] for r in tested["tasks"]) == sorted(spec.name for spec in present)
    assert all(r["n"] > 0 and r["step"] == 2 for r in tested["tasks"])
