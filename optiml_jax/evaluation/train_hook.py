"""In-training evaluation for the native trainer (`train(..., eval_period=N, train_eval_fn=fn)`).

`train_eval_fn(model, partitioner, ...)` returns `fn(params, step) -> {name: value}`: it runs the
evaluation tasks of one split (default: dev, 0-shot, the first few examples of each task present
locally) with the trainer's live params and returns the scores per level, the average and, when
0 and 5 shots are both evaluated, the combined 0+5-shot average. The trainer logs them under
`eval/` (TensorBoard and `model_dir/train/metrics.jsonl`). Nothing is built until the first
call, so binding it costs nothing while `eval_period` is None. gin (`gin/native/base.gin`):

    EVAL_PERIOD = 500
    TRAIN_EVAL_EXAMPLES_PER_TASK = 8
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from optiml_jax.evaluation.aggregation import aggregate
from optiml_jax.evaluation.inference import DEFAULT_MAX_NEW_TOKENS, InferenceEngine
from optiml_jax.evaluation.runner import evaluate_tasks, evaluation_tasks
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner

SUMMARY_SCOPES = ("level", "average")


def summary_scalars(records: Sequence[Mapping]) -> dict[str, float]:
    """`{split}/{level or 'average'}/{shots}shot` → score, from `aggregate`'s records."""
    return {f"{r['split']}/{r['level'] or 'average'}/{r['shots']}shot": r["score"]
            for r in records if r["scope"] in SUMMARY_SCOPES}


def train_eval_fn(model: DecoderOnlyModel, partitioner: Partitioner, *, split: str = "dev",
                  shots: Sequence[int] = (0,), max_examples_per_task: int | None = 8,
                  task_pattern: str | None = None, batch_size: int = 16,
                  max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> Callable[[Any, int], dict[str, float]]:
    """The trainer's evaluation hook (see the module docstring)."""
    built = {}

    def evaluate(params: Any, step: int) -> dict[str, float]:
        if not built:
            present, absent = evaluation_tasks(split, shots, task_pattern)
            if not present:
                raise ValueError(f"in-training evaluation: no {split} task at shots {tuple(shots)} has local data "
                                 f"({len(absent)} catalogued, none present); set OPTIML_DATA_DIR or turn it off "
                                 f"(EVAL_PERIOD = None).")
            built["specs"] = present
            built["engine"] = InferenceEngine(model, partitioner, batch_size=batch_size,
                                              max_new_tokens=max_new_tokens)
        results = evaluate_tasks(built["engine"], params, built["specs"],
                                 max_examples_per_task=max_examples_per_task, progress=False)
        for result in results:
            result.step = step
        return summary_scalars(aggregate(results))

    return evaluate
