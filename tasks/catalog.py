"""The shape of a catalog entry, shared by every benchmark's catalog file.

A catalog file lists every task of one benchmark with its category and where OPT-IML puts it:

- `split`: "train" (OPT-IML trains on it), "dev" or "test" (evaluated, never trained on),
  "held_out" (neither: its category is fully held out, or it shares a data source with an
  evaluation task, §2.3), or "removed" (not part of OPT-IML Bench: §2.1 keeps a CrossFit, ExMix
  or T5 task only when no other benchmark has it, and §2.3's decontamination removes the train or
  the evaluation task of a leaking pair; catalogued so the counts match the original benchmark's). OPT-IML-Max trains on every split but "removed" (§6.1).
- `level` (dev/test only): the generalization level, one of `optiml_jax.constants.LEVELS`.
- `reason`: why, citing the paper or a decision in docs/benchmark.md.
- `instruction`: the instruction sentence of a task whose benchmark has none (CrossFit, ExMix,
  T5, UnifiedSKG: "we manually write a simple instruction sentence for each of the included
  tasks", §2.2); written by us, reviewed for not changing the task (docs/benchmark.md).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
from typing import Callable, Mapping

from optiml_jax.constants import FULLY_SUPERVISED, LEVELS, ROUGE_L

SPLITS = ("train", "dev", "test", "held_out", "removed")


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    benchmark: str
    name: str  # The task's own name in its benchmark (for SuperNI, the file stem).
    category: str  # OPT-IML's category (the paper unifies categories of its evaluation tasks).
    original_category: str  # The benchmark's own category.
    source: str  # The data source (dataset) the task was built from.
    official_split: str  # The benchmark's own split ("" when it has none).
    num_examples: int  # Examples in the full data (used for mixing rates).
    split: str
    level: str  # "" unless split is dev or test.
    reason: str
    prompts: int = 1  # Prompt templates the task is instantiated with (Table 1's "prompts per task").
    instruction: str = ""  # Keyword benchmarks only: our instruction sentence (module docstring).

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"catalog entry {self.name}: split {self.split!r} is not one of {SPLITS}")
        if (self.split in ("dev", "test")) != (self.level in LEVELS):
            raise ValueError(f"catalog entry {self.name}: split {self.split!r} with level {self.level!r}")

    @property
    def trains(self) -> bool:
        """OPT-IML trains on it: a train task, or a fully supervised evaluation task (its training
        instances; its evaluation instances are held out)."""
        return self.split == "train" or self.level == FULLY_SUPERVISED


_COLUMNS = [field.name for field in dataclasses.fields(CatalogEntry)]
_INTEGER_COLUMNS = ("num_examples", "prompts")


def write_catalog(path: str, entries: list[CatalogEntry]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(_COLUMNS)
        for entry in entries:
            writer.writerow([getattr(entry, column) for column in _COLUMNS])


def read_catalog(path: str) -> list[CatalogEntry]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or rows[0] != _COLUMNS:
        raise ValueError(f"{path}: header must be {_COLUMNS}, found {rows[0] if rows else 'an empty file'}")
    entries = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(_COLUMNS):
            raise ValueError(f"{path}: line {line} has {len(row)} columns, expected {len(_COLUMNS)}")
        record = dict(zip(_COLUMNS, row))
        entries.append(CatalogEntry(**{**record, **{c: int(record[c]) for c in _INTEGER_COLUMNS}}))
    return entries


def load_packaged_table(file_name: str, row_type, integer_columns: tuple[str, ...] = ()) -> dict:
    """A benchmark's own TSV table checked in under `tasks/` (first column: the task), as
    {task: row_type(**row)} with `integer_columns` parsed."""
    with importlib.resources.as_file(importlib.resources.files("optiml_jax.tasks") / file_name) as path:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    return {row["task"]: row_type(**{**row, **{c: int(row[c]) for c in integer_columns}}) for row in rows}


def load_packaged_catalog(file_name: str) -> list[CatalogEntry]:
    """A catalog file checked in under `tasks/` (no data files needed)."""
    with importlib.resources.as_file(importlib.resources.files("optiml_jax.tasks") / file_name) as path:
        return read_catalog(str(path))


@dataclasses.dataclass(frozen=True)
class Location:
    """Where a task's examples are and how to read them: `READERS[reader](path, name, **args)`."""

    reader: str
    path: str
    args: tuple[tuple[str, object], ...] = ()


@dataclasses.dataclass(frozen=True)
class Variant:
    """One evaluation subtask of a task (a PromptSource or FLAN template; "" = the task as a whole):
    extra reader arguments, and whether it can be scored with the task's metric (a template without
    answer choices cannot be scored by rank classification)."""

    name: str = ""
    args: tuple[tuple[str, object], ...] = ()
    has_options: bool = True


@dataclasses.dataclass(frozen=True)
class TaskInputs:
    """A task's local data: what it trains on and what it is evaluated on (None: absent here), and
    its evaluation subtasks (and those left out, with why). When both are the same data, a fully supervised task's evaluation
    instances are a held-out cut of it (`registry.HeldOutInstances`)."""

    train: Location | None
    evaluation: Location | None
    variants: tuple[Variant, ...] = (Variant(),)
    excluded: tuple[tuple[str, str], ...] = ()  # (variant, why) of subtasks left out, e.g. App. A.1.


def file_per_task(reader: str, data_file: Callable[[CatalogEntry], str | None]) -> Callable[[CatalogEntry], TaskInputs]:
    """Inputs of a benchmark whose task is one file that serves training and evaluation (SuperNI)."""

    def inputs(entry: CatalogEntry) -> TaskInputs:
        path = data_file(entry)
        location = None if path is None else Location(reader, path)
        return TaskInputs(location, location)

    return inputs


def first_instances(count: int | None) -> Callable[[CatalogEntry, int], int | None]:
    """Evaluate on the first `count` instances of each subtask, whatever the number of subtasks."""
    return lambda entry, variants: count


@dataclasses.dataclass(frozen=True)
class BenchmarkCatalog:
    """A benchmark's catalog plus how to find and read its data locally.

    `inputs(entry)` locates a task's data; `evaluation_instances(entry, number of subtasks)` caps
    how many instances each evaluation subtask reads (None: all); `evaluation_metric` is the metric
    of an evaluation task that no row of `levels` names (a row's own metric wins), unless
    `task_metrics` names one for that task (user tasks declare theirs);
    `in_default_mixtures=False` keeps a benchmark out of `opt_iml_train` / `opt_iml_max_train`
    (dialogue, which the final models do not use, §4.7); `notes` are findings about the local
    data that `stats` prints (e.g. files left out).
    """

    benchmark: str
    entries: tuple[CatalogEntry, ...]
    inputs: Callable[[CatalogEntry], TaskInputs]
    evaluation_instances: Callable[[CatalogEntry, int], int | None]
    evaluation_metric: str = ROUGE_L
    in_default_mixtures: bool = True
    notes: tuple[str, ...] = ()
    task_metrics: Mapping[str, str] = dataclasses.field(default_factory=dict)
