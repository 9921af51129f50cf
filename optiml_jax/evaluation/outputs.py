"""An evaluation's output folder: per-task results as they finish (resumable), predictions, results.json.

    OUT/settings.json                  what the numbers depend on besides the model and the task
    OUT/task_results.jsonl             one `TaskResult` per (checkpoint, task), appended as each finishes
    OUT/predictions/<model>/<checkpoint>/<task>.jsonl  per example: the generation or the option
                                       scores and choice (<model>: the checkpoint's parent folder)
    OUT/results.json                   every task score and every aggregate (`write_results_json`)

A rerun into the same folder skips the (checkpoint, task) pairs already in `task_results.jsonl`;
its settings must equal the stored ones (results made with different settings are never mixed).
A last line torn by a run killed while appending it is dropped (that task is evaluated again).

On several hosts only process 0 reads and writes OUT; it sends what it found (or the error) to
every process, so all of them evaluate the same pending tasks even when OUT is not on a shared
filesystem (each host reading its own copy would pick different tasks and hang in the first
collective the others never reach).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils

from optiml_jax.evaluation.runner import TaskResult

SETTINGS_FILE = "settings.json"
TASK_RESULTS_FILE = "task_results.jsonl"
RESULTS_FILE = "results.json"


def _file_name(task: str) -> str:
    return re.sub(r"[^\w.-]", "_", task)


def _from_process_0(text: str) -> str:
    """Process 0's `text` on every process (collective: every process calls it)."""
    if jax.process_count() == 1:
        return text
    data = np.frombuffer(text.encode(), np.uint8)
    size = int(multihost_utils.broadcast_one_to_all(np.asarray(data.size, np.int32)))
    mine = data if jax.process_index() == 0 else np.zeros(size, np.uint8)
    return bytes(np.asarray(multihost_utils.broadcast_one_to_all(mine))).decode()


class ResultsDirectory:
    """Resumable store of finished task results (see the module docstring)."""

    def __init__(self, out_dir: str | Path, settings: Mapping):
        self.path = Path(out_dir)
        self.primary = jax.process_index() == 0
        found = json.loads(_from_process_0(json.dumps(self._open(settings)) if self.primary else ""))
        if found["error"]:
            raise ValueError(found["error"])
        self._results = [TaskResult.from_json(record) for record in found["results"]]
        self._done = {(r.checkpoint, r.task) for r in self._results}

    def _open(self, settings: Mapping) -> dict:
        """Process 0: checks (or writes) the settings and reads the finished results;
        `{"error": message or None, "results": [TaskResult JSON]}` for every process."""
        settings = json.loads(json.dumps(dict(settings)))  # As JSON would give it back.
        settings_path = self.path / SETTINGS_FILE
        if settings_path.exists():
            stored = json.loads(settings_path.read_text())
            changed = {k: (stored.get(k), v) for k, v in settings.items() if stored.get(k) != v}
            if changed:
                described = ", ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in changed.items())
                return {"error": f"{self.path} holds results made with other settings ({described}); use "
                                 f"another --out folder or the same settings.", "results": []}
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            settings_path.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
        try:
            return {"error": None, "results": [r.to_json() for r in self._read()]}
        except ValueError as error:
            return {"error": str(error), "results": []}

    def _read(self) -> list[TaskResult]:
        path = self.path / TASK_RESULTS_FILE
        if not path.exists():
            return []
        text = path.read_text()
        if text and not text.endswith("\n"):
            text = self._mend_last_line(path, text)
        results = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                results.append(TaskResult.from_json(json.loads(line)))
            except (json.JSONDecodeError, TypeError) as error:
                raise ValueError(f"{path}: line {number} is not a task result ({error}); delete the line to redo "
                                 f"that task.") from None
        return results

    @staticmethod
    def _mend_last_line(path: Path, text: str) -> str:
        """A last line without its newline: complete, it gets one; torn by a run killed while
        appending it, it is dropped (that task is evaluated again). Either way appends stay whole."""
        head, _, last = text.rpartition("\n")
        try:
            json.loads(last)
            text += "\n"
        except json.JSONDecodeError:
            text = head + "\n" if head else ""
        path.write_text(text)
        return text

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
