"""A JSON-lines log whose last line was torn by a killed job (`task_results.jsonl`,
`metrics.jsonl`) drops that line, so the task or step is redone and later appends stay whole."""

import json

from optiml_jax.evaluation.outputs import TASK_RESULTS_FILE, ResultsDirectory
from optiml_jax.evaluation.runner import TaskResult
from optiml_jax.summaries import METRICS_FILE, MetricsWriter, read_metrics

SETTINGS = {"shots": [0], "max_examples_per_task": 8}


def result(task: str) -> TaskResult:
    return TaskResult(task=task, source_name=task, benchmark="fixture", category="fixture",
                      level="", split="dev", evaluation_task=task, shots=0, method="generation",
                      metric="rouge_l", score=50.0, metrics={"rouge_l": 50.0}, n=8, skipped={},
                      checkpoint="model/checkpoint_2")


def test_a_torn_last_task_result_is_dropped_and_that_task_is_evaluated_again(tmp_path):
    ResultsDirectory(tmp_path, SETTINGS)  # writes settings.json
    whole, torn = (json.dumps(result(t).to_json()) for t in ("task_a", "task_b"))
    (tmp_path / TASK_RESULTS_FILE).write_text(whole + "\n" + torn[: len(torn) // 2])

    results = ResultsDirectory(tmp_path, SETTINGS)
    assert results.done("model/checkpoint_2", "task_a")
    assert not results.done("model/checkpoint_2", "task_b")
    results.add(result("task_b"), [])
    assert (tmp_path / TASK_RESULTS_FILE).read_text().splitlines() == [whole, torn]


def test_a_whole_last_task_result_without_its_newline_is_kept(tmp_path):
    ResultsDirectory(tmp_path, SETTINGS)
    whole = json.dumps(result("task_a").to_json())
    (tmp_path / TASK_RESULTS_FILE).write_text(whole)
    results = ResultsDirectory(tmp_path, SETTINGS)
    assert results.done("model/checkpoint_2", "task_a")
    results.add(result("task_b"), [])
    assert len((tmp_path / TASK_RESULTS_FILE).read_text().splitlines()) == 2


def test_a_torn_last_metrics_line_is_dropped_when_the_run_resumes(tmp_path):
    (tmp_path / METRICS_FILE).write_text('{"step": 1, "loss": 2.5}\n{"step": 2, "loss": 2.25}\n'
                                         '{"step": 3, "lo')
    writer = MetricsWriter(tmp_path, truncate_after_step=2)
    writer.write(3, {"loss": 2.0}, to_tensorboard=False)
    writer.close()
    assert read_metrics(tmp_path) == [{"step": 1, "loss": 2.5}, {"step": 2, "loss": 2.25},
                                      {"step": 3, "loss": 2.0}]
