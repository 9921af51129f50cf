"""Leakage control over the registered bench (§2.3): the 13-gram report and the decisions it leads to.

`python -m optiml_jax.tasks decontaminate` measures every (training task of a mixture, evaluation
task) pair with `optiml_jax.data.decontamination`, prints the pairs over 1% and writes them as
TSV and JSON. The paper examined each such pair by hand and removed the training or the
evaluation task when the overlap was real; pairs that only share a broad resource (Wikipedia)
with unrelated labels were kept.

Decisions are data, not code: `decontamination_decisions.tsv` (checked in beside the catalogs)
and any files named by `$OPTIML_DECONTAMINATION_DECISIONS` (os.pathsep-separated) hold lines

    action      task                    reason
    drop_train  superni:task123_foo     13-gram overlap 37% with flan:rte: same sentence pairs
    drop_eval   promptsource:bar        ...

and every catalog is read through `apply_decisions`, which moves a dropped task to the `removed`
split (out of OPT-IML Bench: no mixture, OPT-IML-Max's included, trains or evaluates it) with
the decision's reason, as the paper removed the task. A decision naming
a task no catalog has raises, so a typo never leaves a leak in place.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
import json
import os
import resource
import sys
import time

from optiml_jax.data import registry
from optiml_jax.data.decontamination import NGRAM, THRESHOLD, OverlapReport, find_overlaps
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.task_reader import TaskReader
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry

DECISIONS_FILE = "decontamination_decisions.tsv"
DECISIONS_ENV = "OPTIML_DECONTAMINATION_DECISIONS"
ACTIONS = {"drop_train": "train", "drop_eval": "evaluation"}
_HEADER = ["action", "task", "reason"]


@dataclasses.dataclass(frozen=True)
class Decision:
    action: str  # "drop_train" or "drop_eval"
    task: str  # "benchmark:name" as in the catalogs.
    reason: str
    file: str


def read_decisions(path: str) -> list[Decision]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = [row for row in csv.reader(f, delimiter="\t") if row and not row[0].startswith("#")]
    if not rows or rows[0] != _HEADER:
        raise ValueError(f"{path}: the first line must be the header {_HEADER}, found {rows[0] if rows else 'nothing'}")
    decisions = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 3 or row[0] not in ACTIONS or ":" not in row[1] or not row[2].strip():
            raise ValueError(f"{path}: line {line}: expected `action<TAB>benchmark:task<TAB>reason` with action one of "
                             f"{sorted(ACTIONS)} and a non-empty reason, found {row}")
        decisions.append(Decision(row[0], row[1], row[2].strip(), path))
    return decisions


def decision_files() -> list[str]:
    with importlib.resources.as_file(importlib.resources.files("optiml_jax.tasks") / DECISIONS_FILE) as packaged:
        files = [str(packaged)]
    files += [path for path in os.environ.get(DECISIONS_ENV, "").split(os.pathsep) if path]
    return files


def load_decisions() -> list[Decision]:
    return [decision for path in decision_files() for decision in read_decisions(path)]


def apply_decisions(catalogs: list[BenchmarkCatalog], decisions: list[Decision]) -> list[BenchmarkCatalog]:
    """The catalogs with every dropped task moved to `removed`. A drop_train must name a training
    task and a drop_eval an evaluation task, so a decision never silently does nothing."""
    by_task = {}
    for decision in decisions:
        by_task.setdefault(decision.task, decision)
    known = {f"{e.benchmark}:{e.name}" for catalog in catalogs for e in catalog.entries}
    unknown = [d for d in by_task.values() if d.task not in known]
    if unknown:
        raise ValueError(f"decontamination decisions name tasks no catalog has: "
                         f"{', '.join(f'{d.task} ({d.file})' for d in unknown)}")

    def decided(entry: CatalogEntry) -> CatalogEntry:
        decision = by_task.get(f"{entry.benchmark}:{entry.name}")
        if decision is None:
            return entry
        if decision.action == "drop_train" and entry.split != "train":
            raise ValueError(f"{decision.file}: drop_train {decision.task}: the task is not a training task (split "
                             f"{entry.split}); use drop_eval for an evaluation task")
        if decision.action == "drop_eval" and entry.split not in ("dev", "test"):
            raise ValueError(f"{decision.file}: drop_eval {decision.task}: the task is not evaluated (split "
                             f"{entry.split}); use drop_train for a training task")
        return dataclasses.replace(entry, split="removed", level="",
                                   reason=f"§2.3 decontamination ({decision.action}): {decision.reason}")

    return [dataclasses.replace(c, entries=tuple(decided(e) for e in c.entries)) for c in catalogs]


def _texts(reader: TaskReader):
    return lambda: ((example.input, *example.targets) for example in reader.examples)


def measure(mixture: str, store: ExampleStore) -> OverlapReport:
    """Overlaps between `mixture`'s training tasks and every evaluation task present locally
    (0-shot specs; a task evaluated with several templates counts all their examples)."""
    train = {name: _texts(TaskReader(registry.get_task(name), store)) for name, _ in registry.get_mixture(mixture).rates}
    readers: dict[str, list[TaskReader]] = {}
    for spec in registry.all_tasks():
        if spec.split != "train" and spec.prompt.num_shots == 0 and spec.path is not None:
            readers.setdefault(f"{spec.benchmark}:{spec.source_name}", []).append(TaskReader(spec, store))
    return find_overlaps(train, {name: [_texts(reader) for reader in group] for name, group in sorted(readers.items())})


def write_report(report: OverlapReport, out_dir: str, threshold: float) -> tuple[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    flagged = report.over(threshold)
    tsv, js = os.path.join(out_dir, "overlaps.tsv"), os.path.join(out_dir, "overlaps.json")
    with open(tsv, "w", encoding="utf-8") as f:
        f.write("train_task\teval_task\toverlapping\teval_examples\tfraction\tsample_13gram\n")
        for pair in flagged:
            f.write(f"{pair.train_task}\t{pair.eval_task}\t{pair.overlapping}\t{pair.eval_examples}\t{pair.fraction:.4f}"
                    f"\t{pair.sample}\n")
    summary = {key: value for key, value in dataclasses.asdict(report).items() if key != "pairs"}
    with open(js, "w", encoding="utf-8") as f:
        json.dump({**summary, "ngram": NGRAM, "threshold": threshold,
                   "pairs": [{**dataclasses.asdict(p), "fraction": p.fraction} for p in flagged]}, f, indent=1)
    return tsv, js


def run(mixture: str, out_dir: str, threshold: float = THRESHOLD) -> OverlapReport:
    started = time.perf_counter()
    report = measure(mixture, ExampleStore())
    seconds = time.perf_counter() - started
    flagged = report.over(threshold)
    print(f"{NGRAM}-gram overlap of {report.train_tasks} training tasks of {mixture} ({report.train_examples:,} "
          f"examples) with {report.eval_tasks} evaluation tasks ({report.eval_examples:,} examples, "
          f"{report.eval_ngrams:,} distinct {NGRAM}-grams)")
    print(f"pairs with any overlap: {len(report.pairs)}; over {100 * threshold:g}%: {len(flagged)}")
    width = max([len(p.train_task) for p in flagged] + [10])
    for pair in flagged:
        print(f"  {pair.train_task.ljust(width)}  {pair.eval_task}  {pair.overlapping}/{pair.eval_examples} "
              f"= {100 * pair.fraction:.1f}%  e.g. \"{pair.sample}\"")
    tsv, js = write_report(report, out_dir, threshold)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != "darwin" else 1024 * 1024)
    print(f"wrote {tsv} and {js}; {seconds:.1f} s, peak RSS {peak:,.0f} MB")
    print(f"Decide each flagged pair (docs/benchmark.md): add `drop_train` or `drop_eval` lines to a decisions file "
          f"named by ${DECISIONS_ENV} (or to tasks/{DECISIONS_FILE}).")
    return report
