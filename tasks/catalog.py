"""The shape of a catalog entry, shared by every benchmark's catalog file.

A catalog file lists every task of one benchmark with its category and where OPT-IML puts it:

- `split`: "train" (OPT-IML trains on it), "dev" or "test" (evaluated, never trained on), or
  "held_out" (neither: its category is fully held out, or it shares a data source with an
  evaluation task, §2.3). OPT-IML-Max trains on every split (§6.1).
- `level` (dev/test only): the generalization level, one of `LEVELS`.
- `reason`: why, citing the paper or a decision in docs/benchmark.md.
"""

from __future__ import annotations

import csv
import dataclasses
from typing import Callable

# Generation tasks are scored by ROUGE-L (and exact match), tasks with options by rank accuracy.
from optiml_jax.evaluation.metrics import ACCURACY, ROUGE_L  # noqa: F401  (catalog vocabulary)

FULLY_HELD_OUT = "fully_held_out"
PARTIALLY_HELD_OUT = "partially_held_out"
FULLY_SUPERVISED = "fully_supervised"
LEVELS = (FULLY_HELD_OUT, PARTIALLY_HELD_OUT, FULLY_SUPERVISED)
SPLITS = ("train", "dev", "test", "held_out")
EVALUATION_SPLITS = {"dev": "validation", "test": "test"}  # OPT-IML split → registered task split


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

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"catalog entry {self.name}: split {self.split!r} is not one of {SPLITS}")
        if (self.split in ("dev", "test")) != (self.level in LEVELS):
            raise ValueError(f"catalog entry {self.name}: split {self.split!r} with level {self.level!r}")


_COLUMNS = [field.name for field in dataclasses.fields(CatalogEntry)]


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
        entries.append(CatalogEntry(**{**record, "num_examples": int(record["num_examples"])}))
    return entries


@dataclasses.dataclass(frozen=True)
class BenchmarkCatalog:
    """A benchmark's catalog plus how to find and read its data locally."""

    benchmark: str
    entries: tuple[CatalogEntry, ...]
    reader: str  # Key of optiml_jax.data.formats.READERS.
    data_file: Callable[[CatalogEntry], str | None]  # The entry's local file, None when absent.
    evaluation_instances: int | None  # Evaluate on the first N instances of a dev/test task.
    # Metric of an evaluation task that no row of `levels` names (SuperNI's test tasks: Rouge-L,
    # Table 12); a row's own metric wins.
    evaluation_metric: str = ROUGE_L
