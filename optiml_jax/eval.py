"""Evaluate checkpoints on OPT-IML Bench's dev or test split: the paper's three-level report.

    python -m optiml_jax.eval --checkpoint DIR [--checkpoint DIR ...] --split dev|test --shots 0,5 \\
        --out OUT [--max_examples_per_task N] [--tasks REGEX] [--all_steps] [--batch_size 32] \\
        [--max_new_tokens 256] [--dtype float32|bfloat16] [--mesh data=-1,fsdp=1,tensor=8] \\
        [--normalize_by_target_length]

DIR is a model directory (its latest `checkpoint_<step>`; every one with `--all_steps`) or one
`checkpoint_<step>` directory, from our trainer, `python -m optiml_jax.convert` or t5x; its
`config.json` (or its parent's) says which model it is. Every registered evaluation task of the
split with local data is evaluated at each shot count (generation or rank classification, by
the task's metric). OUT receives `results.json` (every score with task, category, level,
benchmark, metric, shots, n), `report.md` (the paper's tables), `plots/*.png` and the
per-example predictions. A rerun into the same OUT skips tasks already done. From Python:
`evaluate_checkpoints(...)` with the same arguments.

By default the weights stay resident (`optiml_jax/evaluation/placement.py`): each model is
evaluated in float32 up to OPT-2.7B and bfloat16 above, on a mesh of data-parallel replicas
(`data` = all devices left, `fsdp` = 1) with just enough tensor parallelism for its weights to
take at most a third of a 40 GiB device: tensor 1 up to 6.7B, 2 for 13B, 8 for 30B, 32 for 175B
(or every device, when there are fewer). `--mesh` and `--dtype` override it; `python -m
optiml_jax.plan --gin_file=... --inference` estimates the memory of a placement.
"""

from __future__ import annotations

import argparse
import collections
import logging
import sys
from pathlib import Path
from typing import Mapping, Sequence

import jax

from optiml_jax import checkpoints
from optiml_jax.constants import EVALUATION_SPLITS as SPLITS
from optiml_jax.data.prompting import EVALUATION_SHOTS
from optiml_jax.data.registry import TaskSpec
from optiml_jax.evaluation import report
from optiml_jax.evaluation.aggregation import aggregate
from optiml_jax.evaluation.inference import DEFAULT_BATCH_SIZE, DEFAULT_MAX_NEW_TOKENS, InferenceEngine
from optiml_jax.evaluation.outputs import ResultsDirectory
from optiml_jax.evaluation.placement import evaluation_model, evaluation_placement
from optiml_jax.evaluation.runner import TaskResult, evaluate_tasks, evaluation_tasks
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner
from optiml_jax.trainer import param_shardings

log = logging.getLogger("optiml_jax.eval")


def checkpoint_steps(path: str | Path, all_steps: bool = False) -> list[tuple[str, int | None]]:
    """`(checkpoint_<step> dir, step)` to evaluate for one --checkpoint argument."""
    path = checkpoints.as_path(path)  # a local directory or a gs:// URI
    if not path.exists():
        raise FileNotFoundError(f"--checkpoint {path}: no such directory.")
    latest = checkpoints.resolve_step_dir(path)  # Raises, naming the path, when there is none.
    if all_steps and latest != path:
        return [(str(directory), step) for step, directory in checkpoints.step_dirs(path)]
    return [(str(latest), checkpoints.step_of(latest))]


def load_params(checkpoint: str, model: DecoderOnlyModel, partitioner: Partitioner, dtype: str):
    """The checkpoint's params restored straight onto their mesh shardings (unscanned layout)."""
    return checkpoints.restore_params(checkpoint, dtype=dtype,
                                      shardings=param_shardings(model, partitioner),
                                      scan_layers=model.module.scan_layers, config=model.module.config)


def _coverage(split: str, present: Sequence[TaskSpec], absent: Sequence[TaskSpec],
              results: Sequence[TaskResult]) -> dict:
    import optiml_jax.tasks
    from optiml_jax.data import registry
    from optiml_jax.tasks.levels import EVALUATION_TASKS

    registered = {registry.get_task(name).benchmark for name in optiml_jax.tasks.REPORT.tasks}
    without_data = collections.defaultdict(list)
    for row in EVALUATION_TASKS:
        if row.split == split and row.benchmark not in registered:
            without_data[row.benchmark].append(row.name)
    absent_tasks = collections.defaultdict(set)
    for spec in absent:
        absent_tasks[spec.benchmark].add(spec.source_name)
    skipped = collections.Counter()
    for result in results:
        skipped.update(result.skipped)
    # Subtasks left out at registration: templates without answer choices for a rank-classification
    # task, templates that do not apply to every evaluation row (App. A.1).
    excluded = {name: reason for name, (task_split, reason) in optiml_jax.tasks.REPORT.excluded_variants.items()
                if task_split == split}
    return {"evaluated": sorted({f"{s.benchmark}:{s.source_name}" for s in present}),
            "absent": {b: sorted(names) for b, names in sorted(absent_tasks.items())},
            "benchmarks_without_data": dict(sorted(without_data.items())),
            "excluded_subtasks": dict(sorted(excluded.items())),
            "skipped": dict(sorted(skipped.items()))}


def evaluate_checkpoints(checkpoint_dirs: Sequence[str | Path], *, split: str, shots: Sequence[int],
                         out_dir: str | Path, max_examples_per_task: int | None = None, task_pattern: str | None = None,
                         all_steps: bool = False, batch_size: int = DEFAULT_BATCH_SIZE,
                         max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS, dtype: str | None = None,
                         mesh_shape: Mapping[str, int] | None = None, normalize_by_target_length: bool = False,
                         progress: bool = True) -> dict:
    """Evaluates every checkpoint, writes OUT (see the module docstring) and returns results.json's content.

    `dtype` and `mesh_shape` default, per model, to `placement.evaluation_placement(config)`'s.
    """
    import optiml_jax.tasks  # noqa: F401  (registers the bench: evaluation_tasks reads our registry)

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {sorted(SPLITS)}.")
    shots = sorted(set(shots))
    if not shots or not set(shots) <= set(EVALUATION_SHOTS):
        raise ValueError(f"shots {shots}: evaluation tasks are registered at {EVALUATION_SHOTS} shots.")
    if max_examples_per_task is not None and max_examples_per_task < 1:
        raise ValueError(f"max_examples_per_task must be positive, got {max_examples_per_task}.")
    targets = [step for path in checkpoint_dirs for step in checkpoint_steps(path, all_steps)]
    if not targets:
        raise ValueError("no checkpoint to evaluate (give --checkpoint).")
    present, absent = evaluation_tasks(split, shots, task_pattern)
    if not present:
        raise ValueError(f"no {split} task at shots {shots}{f' matching {task_pattern!r}' if task_pattern else ''} "
                         f"has local data ({len(absent)} catalogued, none present): point OPTIML_DATA_DIR at the "
                         f"data folder (docs/benchmark.md).")
    configs = {checkpoint: checkpoints.load_config(checkpoint) for checkpoint, _ in targets}
    placements = {config: evaluation_placement(config, dtype, mesh_shape, num_devices=jax.device_count())
                  for config in configs.values()}
    dtypes = sorted({placement.dtype for placement in placements.values()})
    settings = {"max_examples_per_task": max_examples_per_task, "max_new_tokens": max_new_tokens,
                "dtype": dtypes[0] if len(dtypes) == 1 else dtypes,
                "normalize_by_target_length": normalize_by_target_length}
    store = ResultsDirectory(out_dir, settings)
    engines: dict = {}
    for checkpoint, step in targets:
        pending = [spec for spec in present if not store.done(checkpoint, spec.name)]
        log.info("%s: %d of %d tasks to evaluate", checkpoint, len(pending), len(present))
        if not pending:
            continue
        config = configs[checkpoint]
        if config not in engines:
            placement = placements[config]
            partitioner = Partitioner(placement.mesh_shape)
            log.info("%s: %s on mesh %s", checkpoint, placement.dtype, dict(partitioner.mesh.shape))
            model = evaluation_model(config, placement.dtype)
            engines[config] = (model, partitioner, InferenceEngine(model, partitioner, batch_size=batch_size,
                                                                   max_new_tokens=max_new_tokens))
        model, partitioner, engine = engines[config]
        params = load_params(checkpoint, model, partitioner, placements[config].dtype)

        def save(result: TaskResult, predictions, checkpoint=checkpoint, step=step):
            result.checkpoint, result.step = checkpoint, step
            store.add(result, predictions)

        evaluate_tasks(engine, params, pending, max_examples_per_task=max_examples_per_task,
                       normalize_by_target_length=normalize_by_target_length, on_result=save,
                       progress=progress and jax.process_index() == 0)
        del params

    results = store.results([path for path, _ in targets], [spec.name for spec in present])
    records = aggregate(results)
    last_checkpoint = [r for r in results if r.checkpoint == targets[-1][0]]
    content = {"split": split, "shots": shots, "settings": settings,
               "checkpoints": [{"checkpoint": path, "step": step} for path, step in targets],
               "coverage": _coverage(split, present, absent, last_checkpoint),
               "tasks": [r.to_json() for r in results], "scores": records}
    store.write_results_json(content)
    if jax.process_index() == 0:
        out = Path(out_dir)
        (out / "report.md").write_text(report.render_report(
            split=split, shots=shots, checkpoints=targets, results=results, records=records,
            coverage=content["coverage"], settings=settings))
        report.write_plots(out / "plots", shots=shots, checkpoints=targets, records=records)
    return content


def _mesh(text: str) -> dict[str, int]:
    try:
        return {axis: int(size) for axis, size in (part.split("=") for part in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"--mesh {text!r}: expected e.g. data=1,fsdp=-1,tensor=1") from None


def _shots(text: str) -> list[int]:
    try:
        return [int(k) for k in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shots {text!r}: expected e.g. 0,5") from None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", required=True,
                        help="model dir or checkpoint_<step> dir (repeatable)")
    parser.add_argument("--split", required=True, help="dev or test")
    parser.add_argument("--shots", type=_shots, default=[0, 5], help="comma list of 0, 2, 5 (default 0,5)")
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument("--max_examples_per_task", type=int, help="evaluate only the first N examples of a task")
    parser.add_argument("--tasks", help="only tasks whose registered name matches this regular expression")
    parser.add_argument("--all_steps", action="store_true", help="every checkpoint_<step> of each model dir")
    parser.add_argument("--batch_size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--max_new_tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS)
    parser.add_argument("--dtype",
                        help="compute and params dtype (default, per model: float32 up to OPT-2.7B, bfloat16 "
                             "above; see --mesh)")
    parser.add_argument("--mesh", type=_mesh,
                        help="mesh axes, e.g. data=-1,fsdp=1,tensor=8 (default, per model: the weights resident, "
                             "data=all devices left, fsdp=1, tensor=the smallest power of two with the weights "
                             "per device at most a third of 40 GiB: 1 up to 6.7B, 2 for 13B, 8 for 30B, 32 for "
                             "175B, or all devices if fewer; optiml_jax/evaluation/placement.py, "
                             "docs/performance.md)")
    parser.add_argument("--normalize_by_target_length", action="store_true",
                        help="rank classification: divide each option's log-likelihood by its token count")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True)
    logging.getLogger("absl").setLevel(logging.WARNING)  # Orbax logs every read at INFO.
    try:
        content = evaluate_checkpoints(
            args.checkpoint, split=args.split, shots=args.shots, out_dir=args.out,
            max_examples_per_task=args.max_examples_per_task, task_pattern=args.tasks, all_steps=args.all_steps,
            batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, dtype=args.dtype, mesh_shape=args.mesh,
            normalize_by_target_length=args.normalize_by_target_length)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    averages = [r for r in content["scores"] if r["scope"] == "average"]
    for record in averages:
        print(f"step {record['step']} {record['shots']}-shot average: {record['score']:.2f} (n={record['n']})")
    print(f"wrote {Path(args.out) / 'results.json'} and {Path(args.out) / 'report.md'}")


if __name__ == "__main__":
    main()
