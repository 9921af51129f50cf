"""Canonical examples, the task data a reader returns, and the errors bad input raises.

Every reader (one per source format, `optiml_jax.data.formats`) turns its files into `TaskData`:
the task-level instruction and demonstrations plus a list of `Example`s. Problems with the input
either raise `DataFormatError` naming the file and field, or are skipped and counted in
`TaskData.skipped` (reason → count), which the stream and `python -m optiml_jax.tasks stats`
report. Nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses


class DataFormatError(ValueError):
    """A data file does not follow its documented format; the message names the task (benchmark and
    name, when the reader knows them), the file and the field or row."""

    def __init__(self, path: str, field: str, problem: str, task: str = ""):
        self.path, self.field, self.problem, self.task = path, field, problem, task
        super().__init__(f"{task + ': ' if task else ''}{path}: {field}: {problem}")


class UnknownNameError(KeyError):
    """A task or mixture name that is not registered (the message lists close matches)."""

    def __str__(self) -> str:  # KeyError would repr() the message.
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class Example:
    """One instance of a task: an input and its reference outputs (several for evaluation).

    `options`: the answer candidates of a classification instance (rank classification scores
    each one); None for tasks without them (SuperNI ships none). The correct options are those
    equal to a reference.
    `row`: the dataset row the example was made from. Instance-templated benchmarks render one row
    with several templates; held-out instances are cut by row, so no row is on both sides.
    None means the example is its own row (`row_key` is then its id).
    """

    id: str
    input: str
    targets: tuple[str, ...]
    options: tuple[str, ...] | None = None
    row: str | None = None

    @property
    def row_key(self) -> str:
        return self.id if self.row is None else self.row

    def to_json(self) -> dict:
        record = {"id": self.id, "input": self.input, "targets": list(self.targets)}
        if self.options is not None:
            record["options"] = list(self.options)
        if self.row is not None:
            record["row"] = self.row
        return record

    @classmethod
    def from_json(cls, record: dict) -> "Example":
        options = record.get("options")
        return cls(record["id"], record["input"], tuple(record["targets"]),
                   None if options is None else tuple(options), record.get("row"))


@dataclasses.dataclass(frozen=True)
class Demonstration:
    """A worked example shipped with the task (SuperNI "Positive Examples")."""

    input: str
    output: str


@dataclasses.dataclass
class TaskData:
    """What a reader returns for one task.

    `layout`: how `optiml_jax.data.prompting` lays out the prompt (one of its `LAYOUTS`): a task
    instruction with `Input:` (SuperNI), an instruction sentence (Reasoning), an instance prompt
    already rendered by a template (PromptSource, FLAN), or plain text with an empty source
    (dialogue: the whole sequence is the target).
    """

    name: str
    instruction: str
    demonstrations: tuple[Demonstration, ...]
    examples: list[Example]
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    layout: str = "superni"

    def count_skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def header_json(self) -> dict:
        return {
            "name": self.name,
            "instruction": self.instruction,
            "demonstrations": [[d.input, d.output] for d in self.demonstrations],
            "num_examples": len(self.examples),
            "skipped": self.skipped,
            "layout": self.layout,
        }
