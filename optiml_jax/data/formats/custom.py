"""Your own tasks: one JSONL file per task, one example per line.

    {"input": "Is this review positive? The food was cold.", "targets": ["no"], "options": ["yes", "no"]}

- `input` (string, required): the example's input; the task's instruction sentence (from its
  catalog line, `optiml_jax.tasks.user`) is written before it, as for the keyword benchmarks.
- `targets` (list of strings, at least one): the references. Training uses one per example (drawn
  per example); evaluation scores against all of them.
- `options` (list of strings, optional): answer candidates; the task is then scored by rank
  classification, and every target must be one of its options.
- `id` (string, optional): the example's id; default `row-<line number>`. Ids must be unique in
  the file: held-out instances are cut by id.

Bad input raises naming the task, file and row.
"""

from __future__ import annotations

from optiml_jax.data.examples import DataFormatError, Example, TaskData
from optiml_jax.data.formats.files import read_jsonl, require, string_list
from optiml_jax.data.prompting import INSTRUCTION


def read_custom_task(path: str, name: str, *, instruction: str, benchmark: str = "user",
                     require_options: bool = False) -> TaskData:
    """`require_options`: the task is scored by rank classification, so every example needs options."""
    task = f"{benchmark}:{name}"
    examples, seen = [], {}
    for number, record in read_jsonl(path, task):
        where = f"row {number}"
        text = require(path, record, "input", str, where, task)
        targets = string_list(path, require(path, record, "targets", list, where, task), f"{where}.targets", task)
        if not targets:
            raise DataFormatError(path, f"{where}.targets", "empty: give at least one reference", task)
        options = None
        if record.get("options") is None and require_options:
            raise DataFormatError(path, f"{where}.options", "missing: the task's metric is accuracy (rank "
                                  "classification), which scores each example's options", task)
        if record.get("options") is not None:
            options = string_list(path, require(path, record, "options", list, where, task), f"{where}.options", task)
            strangers = [t for t in targets if t not in options]
            if len(options) < 2 or strangers:
                raise DataFormatError(path, f"{where}.options", f"needs at least two options containing every "
                                      f"target; targets not among them: {strangers}", task)
        identifier = str(record.get("id", f"row-{number}"))
        if identifier in seen:
            raise DataFormatError(path, f"{where}.id", f"{identifier!r} repeats row {seen[identifier]}", task)
        seen[identifier] = number
        examples.append(Example(identifier, text, targets, options))
    return TaskData(name, instruction, (), examples, {}, INSTRUCTION)
