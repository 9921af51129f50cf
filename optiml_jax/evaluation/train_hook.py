"""In-training evaluation for the native trainer (`train(..., eval_period=N, train_eval_fn=fn)`).

`train_eval_fn(model, mesh_shape, dtype=..., ...)` returns `fn(params, step) -> {name: value}`: it
runs the evaluation tasks of one split (default: dev, 0-shot, the first few examples of each task
present locally) with the trainer's live params and returns the scores per level, the average
and, when 0 and 5 shots are both evaluated, the combined 0+5-shot average. The trainer logs them
under `eval/` (TensorBoard and `model_dir/train/metrics.jsonl`). Nothing is built until the
first call, so binding it costs nothing while `eval_period` is None.

Evaluation has its own mesh and dtype, by default the evaluator's for the model
(`placement.evaluation_placement`: weights resident, bfloat16 with tensor parallelism 8 for 30B,
32 for 175B): at each call the live params are cast and copied onto that mesh (the same devices
as training's), evaluated, and the copy is dropped. gin (`gin/native/base.gin`):

    EVAL_PERIOD = 500
    TRAIN_EVAL_EXAMPLES_PER_TASK = 8
    EVAL_MESH_SHAPE = {'data': -1, 'fsdp': 1, 'tensor': 8}   # None: the evaluator's default
    EVAL_DTYPE = 'bfloat16'                                  # None: the evaluator's default
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Mapping, Sequence

import jax

from optiml_jax.evaluation.aggregation import aggregate
from optiml_jax.evaluation.inference import DEFAULT_MAX_NEW_TOKENS, InferenceEngine
from optiml_jax.evaluation.placement import evaluation_placement, place_params
from optiml_jax.evaluation.runner import evaluate_tasks, evaluation_tasks
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner

SUMMARY_SCOPES = ("level", "average")


def summary_scalars(records: Sequence[Mapping]) -> dict[str, float]:
    """`{split}/{level or 'average'}/{shots}shot` → score, from `aggregate`'s records."""
    return {f"{r['split']}/{r['level'] or 'average'}/{r['shots']}shot": r["score"]
            for r in records if r["scope"] in SUMMARY_SCOPES}


def train_eval_fn(model: DecoderOnlyModel, mesh_shape: Mapping[str, int] | None = None, *,
                  dtype: str | None = None, split: str = "dev", shots: Sequence[int] = (0,),
                  max_examples_per_task: int | None = 8, task_pattern: str | None = None, batch_size: int = 16,
                  max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS) -> Callable[[Any, int], dict[str, float]]:
    """The trainer's evaluation hook (see the module docstring); `model` is the trained one."""
    built = {}

    def evaluate(params: Any, step: int) -> dict[str, float]:
        if not built:
            present, absent = evaluation_tasks(split, shots, task_pattern)
            if not present:
                raise ValueError(f"in-training evaluation: no {split} task at shots {tuple(shots)} has local data "
                                 f"({len(absent)} catalogued, none present); set OPTIML_DATA_DIR or turn it off "
                                 f"(EVAL_PERIOD = None).")
            placement = evaluation_placement(model.module.config, dtype, mesh_shape,
                                             num_devices=jax.device_count())
            built["specs"] = present
            built["model"] = _computing_in(model, placement.dtype)
            built["partitioner"] = Partitioner(placement.mesh_shape)
            built["engine"] = InferenceEngine(built["model"], built["partitioner"], batch_size=batch_size,
                                              max_new_tokens=max_new_tokens)
        placed = place_params(params, built["model"], built["partitioner"])
        results = evaluate_tasks(built["engine"], placed, built["specs"],
                                 max_examples_per_task=max_examples_per_task, progress=False)
        for result in results:
            result.step = step
        return summary_scalars(aggregate(results))

    return evaluate


def _computing_in(model: DecoderOnlyModel, dtype: str) -> DecoderOnlyModel:
    """`model` with its module computing in `dtype`; its param layout (scanned or not) and
    settings unchanged, so the trainer's params fit it."""
    evaluated = copy.copy(model)
    evaluated.module = model.module.clone(dtype=dtype)
    return evaluated
