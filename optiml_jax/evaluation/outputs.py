"""An evaluation's output folder: per-task results as they finish (resumable), predictions, results.json.

    OUT/settings.json                  what the numbers depend on besides the model and the task
    OUT/task_results.jsonl             one `TaskResult` per (checkpoint, task), appended as each finishes
    OUT/predictions/<model>/<checkpoint>/<task>.jsonl  per example: the generation or the option
                                       scores and choice (<model>: the checkpoint's parent folder)
    OUT/results.json                   every task score and every aggregate (`write_results_json`)

A rerun into the same folder skips the (checkpoint, task) pairs already in `task_results.jsonl`;
its settings must equal the stored ones (results made with different settings are never mixed).
Only the primary process writes; on several hosts OUT must be on a shared filesystem for resuming.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, Sequence

import jax

from optiml_jax.evaluation.runner import TaskResult

SETTINGS_FILE = "settings.json"
TASK_RESULTS_FILE = "task_results.jsonl"
RESULTS_FILE = "results.json"


def _file_name(task: str) -> str:
    return re.sub(r"[^\w.-]", "_", task)


class ResultsDirectory:
    """Resumable store of finished task results (see the module docstring)."""

    def __init__(self, out_dir: str | Path, settings: Mapping):
        self.path = Path(out_dir)
        self.primary = jax.process_index() == 0
        settings = json.loads(json.dumps(dict(settings)))  # As JSON would give it back.
        settings_path = self.path / SETTINGS_FILE
        if settings_path.exists():
            stored = json.loads(settings_path.read_text())
            changed = {k: (stored.get(k), v) for k, v in settings.items() if stored.get(k) != v}
            if changed:
                described = ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in changed.items())
                raise ValueError(f"{self.path} holds results made with other settings ({described}); use another "
                                 f"--out folder or the same settings.")
        elif self.primary:
            self.path.mkdir(parents=True, exist_ok=True)
            settings_path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
        self._results = self._read()
        self._done = {(r.checkpoint, r.task) for r in self._results}

    def _read(self) -> list[TaskResult]:
        path = self.path / TASK_RESULTS_FILE
        if not path.exists():
            return []
        results = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                results.append(TaskResult.from_json(json.loads(line)))
            except (json.JSONDecodeError, TypeError) as error:
                raise ValueError(f"{path}: line {number} is not a task result ({error}); delete the line to redo "
                                 f"that task.") from None
        return results

    def done(self, checkpoint: str, task: str) -> bool:
        return (checkpoint, task) in self._done

    def add(self, result: TaskResult, predictions: Sequence[Mapping]) -> None:
        self._results.append(result)
        self._done.add((result.checkpoint, result.task))
        if not self.primary:
            return
        # Model folder and step folder: converted checkpoints are all `checkpoint_0`.
        checkpoint = Path(result.checkpoint)
        folder = self.path / "predictions" / _file_name(checkpoint.parent.name) / _file_name(checkpoint.name)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{_file_name(result.task)}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in predictions)
        with open(self.path / TASK_RESULTS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")

    def results(self, checkpoints: Sequence[str], tasks: Sequence[str]) -> list[TaskResult]:
        """The stored results of these checkpoints and tasks (in checkpoint, then task order)."""
        by_key = {(r.checkpoint, r.task): r for r in self._results}
        return [by_key[(c, t)] for c in checkpoints for t in tasks if (c, t) in by_key]

    def write_results_json(self, content: Mapping) -> Path:
        path = self.path / RESULTS_FILE
        if self.primary:
            path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
        return path
