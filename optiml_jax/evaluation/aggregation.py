"""Task scores → the paper's table cells (OPT-IML §4.1), for each checkpoint, split and shot count.

Order of averaging (every average is unweighted):
0. `task`: a task's templates (PromptSource and FLAN evaluate every template as a `subtask`)
   averaged into the task, as the paper's tables average over templates; a task evaluated whole
   is its own `task` record;
1. `benchmark_task`: subtasks → task within a benchmark (e.g. the 8 SuperNI Bard files → "Bard
   Analogical Reasoning"; a task that is no row's subtask stands alone);
2. `evaluation_task`: the same task across benchmarks (COPA in SuperNI, PromptSource and FLAN);
3. `category`: tasks of one category at one level (a category can sit at two levels, e.g.
   Question Answering partially and fully supervised);
4. `level`: categories of a level; `average`: every (level, category) column (Table 16's "Avg");
5. per benchmark, from step 1: `benchmark_category`, `benchmark_level` (Table 5's cells) and
   `benchmark_average`.
Scores of different metrics are averaged as the paper's columns are (ROUGE-L and accuracy both in
percent); such a cell's metric reads "mixed".

Summarization counts 0-shot only (the paper's tables give it one number), so its few-shot task
scores are kept per task but left out of every aggregate. `shots="0+5"` is the combined score
used for model selection: the mean of a cell's 0-shot and 5-shot values, or its 0-shot value
when it has no 5-shot one (summarization); it exists when both 0 and 5 shots were evaluated.
Each record carries `n`, the number of examples under it.

Beside the paper's cells, `tk_instruct_category` gives SuperNI's own view: per category of the
SuperNI generation tasks, Tk-Instruct's headline metric (`metrics.headline_metric`: exact match or
ROUGE-L) over all the category's examples, as SuperNI's `compute_grouped_metrics` does.
"""

from __future__ import annotations

import collections
from typing import Callable, Iterable, Sequence

import numpy as np

from optiml_jax.evaluation.metrics import headline_metric
from optiml_jax.evaluation.runner import GENERATION, TaskResult

ALL = "all"
MIXED = "mixed"
COMBINED_SHOTS = "0+5"
ZERO_SHOT_ONLY_CATEGORIES = frozenset({"Summarization"})
SCOPES = ("subtask", "task", "benchmark_task", "evaluation_task", "category", "level", "average",
          "benchmark_category", "benchmark_level", "benchmark_average", "tk_instruct_category")
SUPERNI = "superni"

_FIELDS = ("benchmark", "level", "category", "task")


def _record(scope: str, parts: dict, members: Sequence[dict]) -> dict:
    metrics = {m["metric"] for m in members}
    record = {"scope": scope, **{f: parts.get(f, "") for f in _FIELDS}}
    record["benchmark"] = parts.get("benchmark", ALL)
    record.update(metric=metrics.pop() if len(metrics) == 1 else MIXED,
                  score=float(np.mean([m["score"] for m in members])), n=int(sum(m["n"] for m in members)))
    return record


def _average(scope: str, members: Iterable[dict], key: Callable[[dict], dict]) -> list[dict]:
    groups = collections.defaultdict(list)
    for member in members:
        groups[tuple(sorted(key(member).items()))].append(member)
    return [_record(scope, dict(parts), group) for parts, group in sorted(groups.items())]


def _cells(task_records: list[dict]) -> list[dict]:
    """Every aggregate of one (checkpoint, split, shots) from its `task` records."""
    per_benchmark = _average("benchmark_task", task_records, lambda r: {
        "benchmark": r["benchmark"], "level": r["level"], "category": r["category"], "task": r["evaluation_task"]})
    tasks = _average("evaluation_task", per_benchmark,
                     lambda r: {"level": r["level"], "category": r["category"], "task": r["task"]})
    categories = _average("category", tasks, lambda r: {"level": r["level"], "category": r["category"]})
    levels = _average("level", categories, lambda r: {"level": r["level"]})
    average = _average("average", categories, lambda r: {})
    benchmark_categories = _average("benchmark_category", per_benchmark, lambda r: {
        "benchmark": r["benchmark"], "level": r["level"], "category": r["category"]})
    benchmark_levels = _average("benchmark_level", benchmark_categories,
                                lambda r: {"benchmark": r["benchmark"], "level": r["level"]})
    benchmark_average = _average("benchmark_average", benchmark_categories, lambda r: {"benchmark": r["benchmark"]})
    return (per_benchmark + tasks + categories + levels + average + benchmark_categories + benchmark_levels
            + benchmark_average)


def _task_record(result: TaskResult) -> dict:
    return {"scope": "subtask" if result.variant else "task", "benchmark": result.benchmark, "level": result.level,
            "category": result.category, "task": result.source_name, "evaluation_task": result.evaluation_task,
            "metric": result.metric, "score": result.score, "n": result.n, "variant": result.variant}


def _task_records(results: Sequence[TaskResult]) -> list[dict]:
    """Every result's record, plus one `task` record per task scored through templates."""
    records = [_task_record(r) for r in results]
    templated = collections.defaultdict(list)
    for record in records:
        if record["scope"] == "subtask":
            templated[(record["benchmark"], record["level"], record["category"], record["task"],
                       record["evaluation_task"])].append(record)
    for (benchmark, level, category, task, parent), members in sorted(templated.items()):
        average = _record("task", {"benchmark": benchmark, "level": level, "category": category, "task": task}, members)
        records.append({**average, "evaluation_task": parent, "variant": ""})
    return records


def _tk_instruct_categories(results: Sequence[TaskResult]) -> list[dict]:
    by_category = collections.defaultdict(list)
    for result in results:
        if result.benchmark == SUPERNI and result.method == GENERATION:
            by_category[result.category].append(result)
    records = []
    for category, members in sorted(by_category.items()):
        metric = headline_metric(category)
        n = sum(r.n for r in members)  # Example-weighted: the mean over all the category's examples.
        records.append({"scope": "tk_instruct_category", "benchmark": SUPERNI, "level": "", "category": category,
                        "task": "", "metric": metric, "score": sum(r.metrics[metric] * r.n for r in members) / n,
                        "n": n})
    return records


def _combined(zero: list[dict], five: list[dict]) -> list[dict]:
    five_by_key = {_cell_key(r): r for r in five}
    combined = []
    for record in zero:
        other = five_by_key.get(_cell_key(record))
        scores = [record["score"]] + ([other["score"]] if other else [])
        combined.append({**record, "score": float(np.mean(scores)), "n": record["n"] + (other["n"] if other else 0)})
    return combined


def _cell_key(record: dict) -> tuple:
    return (record["scope"], *(record[f] for f in _FIELDS))


def aggregate(results: Sequence[TaskResult]) -> list[dict]:
    """Task records and every aggregate, each with checkpoint, step, split and shots."""
    runs = collections.defaultdict(lambda: collections.defaultdict(list))
    for result in results:
        runs[(result.checkpoint, result.step, result.split)][result.shots].append(result)
    records = []
    for (checkpoint, step, split), by_shots in sorted(
            runs.items(), key=lambda item: (item[0][1] is None, item[0][1] or 0, item[0][0], item[0][2])):
        context = {"checkpoint": checkpoint, "step": step, "split": split}
        cells = {}
        for shots, shot_results in sorted(by_shots.items()):
            task_records = _task_records(shot_results)
            records += [{**context, "shots": shots, **r} for r in task_records]
            counted = [r for r in task_records if r["scope"] == "task"
                       and (shots == 0 or r["category"] not in ZERO_SHOT_ONLY_CATEGORIES)]
            cells[shots] = _cells(counted) if counted else []
            records += [{**context, "shots": shots, **r} for r in cells[shots] + _tk_instruct_categories(shot_results)]
        if 0 in cells and 5 in cells:
            records += [{**context, "shots": COMBINED_SHOTS, **r} for r in _combined(cells[0], cells[5])]
    return records
