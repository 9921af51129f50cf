"""report.md (tables like the paper's) and PNG plots from task results and their aggregates.

Cells read like the paper's tables: one number per shot count, "0-shot/5-shot" (a category
evaluated 0-shot only, such as summarization, shows one number). The detailed tables are for the
last checkpoint (highest step); the summary table and the score-vs-step plot cover all of them.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Mapping, Sequence

from optiml_jax.constants import (ACCURACY, EXACT_MATCH, FULLY_HELD_OUT, FULLY_SUPERVISED, LEVELS,
                                  PARTIALLY_HELD_OUT, ROUGE_L)
from optiml_jax.evaluation.aggregation import ALL, COMBINED_SHOTS
from optiml_jax.evaluation.runner import TaskResult

LEVEL_NAMES = {FULLY_HELD_OUT: "Fully held-out", PARTIALLY_HELD_OUT: "Partially supervised",
               FULLY_SUPERVISED: "Fully supervised", "": "Average"}
METRIC_NAMES = {ROUGE_L: "ROUGE-L", ACCURACY: "accuracy", EXACT_MATCH: "EM", "mixed": "mixed"}

Checkpoint = tuple[str, int | None]  # (path, step)


class _Cells:
    """Looks up aggregate records by checkpoint, scope, benchmark, level, category and task."""

    def __init__(self, records: Sequence[Mapping], shots: Sequence[int]):
        self.shots = sorted(shots)
        self.combined = 0 in shots and 5 in shots
        self._records = {(r["checkpoint"], r["scope"], r["benchmark"], r["level"], r["category"], r["task"],
                          r["shots"]): r for r in records}

    def get(self, checkpoint: str, scope: str, shots, benchmark=ALL, level="", category="", task=""):
        return self._records.get((checkpoint, scope, benchmark, level, category, task, shots))

    def cell(self, checkpoint: str, scope: str, **key) -> str:
        values = [self.get(checkpoint, scope, k, **key) for k in self.shots]
        text = "/".join(f"{r['score']:.1f}" for r in values if r)
        return text or "–"

    def combined_cell(self, checkpoint: str, scope: str, **key) -> str:
        record = self.get(checkpoint, scope, COMBINED_SHOTS, **key)
        return f"{record['score']:.1f}" if record else "–"


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _checkpoint_labels(checkpoints: Sequence[Checkpoint]) -> dict[str, str]:
    """Path → "step N"; prefixed with the model folder when the checkpoints come from several."""
    several_models = len({Path(path).parent for path, _ in checkpoints}) > 1
    labels = {}
    for path, step in checkpoints:
        label = f"step {step}" if step is not None else Path(path).name
        labels[path] = f"{Path(path).parent.name} {label}" if several_models else label
    return labels


def _coverage_section(coverage: Mapping) -> str:
    evaluated = coverage["evaluated"]
    lines = ["## Coverage", ""]
    by_benchmark = collections.Counter(name.split(":")[0] for name in evaluated)
    lines.append(f"- Evaluated: {len(evaluated)} task(s) at every shot count ("
                 + ", ".join(f"{b}: {n}" for b, n in sorted(by_benchmark.items())) + ").")
    absent = coverage["absent"]
    lines.append(f"- Catalogued but absent locally (not evaluated): {sum(len(v) for v in absent.values())} task(s)"
                 + ("" if not absent else " (" + ", ".join(f"{b}: {len(v)}" for b, v in sorted(absent.items())) + ")")
                 + "; `results.json` lists them.")
    missing = coverage["benchmarks_without_data"]
    if missing:
        lines.append("- Rows of the paper's split whose benchmark has no data or reader here yet: "
                     + "; ".join(f"{b}: {', '.join(rows)}" for b, rows in sorted(missing.items())) + ".")
    excluded = coverage.get("excluded_subtasks", {})
    if excluded:
        lines.append(f"- Subtasks not scored ({len(excluded)}): "
                     + "; ".join(f"{name} ({reason})" for name, reason in sorted(excluded.items())) + ".")
    skipped = coverage.get("skipped", {})
    if skipped:
        lines.append("- Counted, not silently dropped: " + "; ".join(f"{reason}: {n}" for reason, n in
                                                                     sorted(skipped.items())) + ".")
    return "\n".join(lines) + "\n"


def render_report(*, split: str, shots: Sequence[int], checkpoints: Sequence[Checkpoint],
                  results: Sequence[TaskResult], records: Sequence[Mapping], coverage: Mapping,
                  settings: Mapping) -> str:
    cells = _Cells(records, shots)
    shot_label = "/".join(str(k) for k in cells.shots) + "-shot"
    examples = settings.get("max_examples_per_task")
    examples = "all evaluation instances" if examples is None else f"at most {examples}"
    out = [f"# OPT-IML evaluation: {split} split\n",
           f"Shots: {', '.join(str(k) for k in cells.shots)}; examples per task: {examples}; "
           f"generation tasks report ROUGE-L (greedy, at most {settings['max_new_tokens']} new tokens), "
           f"classification tasks with options report rank-classification accuracy"
           f"{' (length-normalised)' if settings['normalize_by_target_length'] else ''}. "
           f"Cells are {shot_label.replace('-shot', '')}; averages follow the paper's §4.1 "
           f"(docs/evaluation.md).\n",
           _coverage_section(coverage)]

    header = ["checkpoint", *(LEVEL_NAMES[level] for level in LEVELS), "Average"]
    header += ["0+5 average"] if cells.combined else []
    labels = _checkpoint_labels(checkpoints)
    rows = []
    for path, _ in checkpoints:
        row = [labels[path]]
        row += [cells.cell(path, "level", level=level) for level in LEVELS]
        row += [cells.cell(path, "average")]
        row += [cells.combined_cell(path, "average")] if cells.combined else []
        rows.append(row)
    out += ["## Summary per level\n", _table(header, rows)]

    last = checkpoints[-1][0]
    out.append(f"## Levels, categories and tasks ({labels[checkpoints[-1][0]]})\n")
    rows = []
    task_records = [r for r in records if r["checkpoint"] == last and r["scope"] == "evaluation_task"]
    for level in LEVELS:
        categories = sorted({r["category"] for r in task_records if r["level"] == level})
        for category in categories:
            for task in sorted({r["task"] for r in task_records if r["level"] == level and r["category"] == category}):
                members = sorted({r["benchmark"] for r in records if r["checkpoint"] == last
                                  and r["scope"] == "benchmark_task" and r["level"] == level and r["task"] == task})
                metric = next(r["metric"] for r in task_records if r["task"] == task and r["level"] == level)
                rows.append([LEVEL_NAMES[level], category, task, ", ".join(members), METRIC_NAMES[metric],
                             cells.cell(last, "evaluation_task", level=level, category=category, task=task)])
            rows.append([LEVEL_NAMES[level], f"**{category}**", "", "", "",
                         f"**{cells.cell(last, 'category', level=level, category=category)}**"])
        if categories:
            rows.append([f"**{LEVEL_NAMES[level]}**", "", "", "", "", f"**{cells.cell(last, 'level', level=level)}**"])
    out.append(_table(["level", "category", "task", "benchmarks", "metric", shot_label], rows))

    benchmarks = sorted({r["benchmark"] for r in records
                         if r["checkpoint"] == last and r["scope"] == "benchmark_average"})
    rows = [[b, *(cells.cell(last, "benchmark_level", benchmark=b, level=level) for level in LEVELS),
             cells.cell(last, "benchmark_average", benchmark=b)] for b in benchmarks]
    out += ["## Per benchmark\n", _table(["benchmark", *(LEVEL_NAMES[level] for level in LEVELS), "Average"], rows)]

    tk = sorted({(r["category"], r["metric"]) for r in records if r["checkpoint"] == last
                 and r["scope"] == "tk_instruct_category"})
    if tk:
        rows = [[category, METRIC_NAMES[metric], cells.cell(last, "tk_instruct_category", benchmark="superni",
                                                             category=category)] for category, metric in tk]
        out += ["## SuperNI categories with Tk-Instruct's headline metric\n",
                _table(["category", "metric", shot_label], rows)]

    rows = []
    for r in sorted((r for r in results if r.checkpoint == last), key=lambda r: (r.level, r.category, r.task)):
        values = [f"{r.metrics[m]:.1f}" if m in r.metrics else "" for m in (EXACT_MATCH, ROUGE_L, ACCURACY)]
        values.append("" if r.chance is None else f"{r.chance:.1f}")
        notes = "; ".join(f"{reason}: {n}" for reason, n in sorted(r.skipped.items()))
        rows.append([r.task, r.benchmark, LEVEL_NAMES[r.level], r.category, r.shots, r.method, *values, r.n, notes])
    out += [f"## Every task ({labels[checkpoints[-1][0]]})\n",
            _table(["task", "benchmark", "level", "category", "shots", "method", "EM", "ROUGE-L", "accuracy",
                    "chance", "n", "notes"], rows)]
    return "\n".join(out)


def _step_plot(path: Path, title: str, steps: Sequence[Checkpoint], cells: _Cells, lines) -> Path:
    """One line per (label, scope, shots, key) over the checkpoints that have a step."""
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(8.0, 4.5))
    for label, scope, shots, key in lines:
        points = [(step, r["score"]) for checkpoint, step in steps if (r := cells.get(checkpoint, scope, shots, **key))]
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
    axes.set_xlabel("training step")
    axes.set_ylabel("score (ROUGE-L or accuracy, %)")
    axes.set_ylim(bottom=0)  # Zoomed to the scores: early gains are a few points.
    axes.set_title(title)
    axes.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_plots(out_dir: Path, *, shots: Sequence[int], checkpoints: Sequence[Checkpoint],
                records: Sequence[Mapping]) -> list[Path]:
    """levels.png and categories.png (last checkpoint); with several steps, steps.png (the average
    and each level) and steps_tasks.png (each evaluation task at the first shot count)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    cells = _Cells(records, shots)
    last = checkpoints[-1][0]
    label = _checkpoint_labels(checkpoints)[last]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def bars(name: str, title: str, keys: list[tuple[str, dict]], scope_of) -> None:
        figure, axes = plt.subplots(figsize=(max(6.0, 1.2 * len(keys)), 4.0))
        width = 0.8 / len(cells.shots)
        for offset, k in enumerate(cells.shots):
            found = [cells.get(last, scope_of(key), k, **key) for _, key in keys]  # None: not evaluated
            drawn = axes.bar([i + offset * width for i in range(len(keys))], [r["score"] if r else 0.0 for r in found],
                             width, label=f"{k}-shot")
            axes.bar_label(drawn, labels=[f"{r['score']:.1f}" if r else "" for r in found], fontsize=7)
        axes.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))], [text for text, _ in keys],
                        rotation=30, ha="right", fontsize=8)
        axes.set_ylabel("score (ROUGE-L or accuracy, %)")
        axes.set_ylim(0, 100)
        axes.set_title(f"{title} ({label})")
        axes.legend()
        figure.tight_layout()
        figure.savefig(out_dir / name, dpi=100)
        plt.close(figure)
        written.append(out_dir / name)

    levels = [(LEVEL_NAMES[level], {"level": level}) for level in LEVELS] + [("Average", {})]
    bars("levels.png", "Score per level", levels, lambda key: "level" if key else "average")
    categories = sorted({(r["level"], r["category"]) for r in records if r["checkpoint"] == last
                         and r["scope"] == "category"}, key=lambda lc: (LEVELS.index(lc[0]), lc[1]))
    bars("categories.png", "Score per category",
         [(f"{c} ({LEVEL_NAMES[lvl]})", {"level": lvl, "category": c}) for lvl, c in categories],
         lambda key: "category")

    steps = [(path, step) for path, step in checkpoints if step is not None]
    if len(steps) > 1:
        series = [(f"{k}-shot", k) for k in cells.shots] + ([("0+5", COMBINED_SHOTS)] if cells.combined else [])
        lines = [(f"Average, {text}", "average", k, {}) for text, k in series]
        lines += [(f"{LEVEL_NAMES[level]}, {text}", "level", k, {"level": level}) for level in LEVELS for text, k in series]
        written.append(_step_plot(out_dir / "steps.png", "Score vs training step", steps, cells, lines))
        tasks = sorted({(r["level"], r["category"], r["task"]) for r in records if r["scope"] == "evaluation_task"},
                       key=lambda t: (LEVELS.index(t[0]), t[1], t[2]))
        first = cells.shots[0]
        lines = [(f"{task} ({LEVEL_NAMES[level]})", "evaluation_task", first,
                  {"level": level, "category": category, "task": task}) for level, category, task in tasks]
        written.append(_step_plot(out_dir / "steps_tasks.png", f"Task scores vs training step ({first}-shot)", steps,
                                  cells, lines))
    return written
