"""CrossFit in OPT-IML Bench: all 160 tasks of INK-USC/CrossFit @ 56285ca (`crossfit_catalog.tsv`).

The tasks are the distinct task names of the release (`tasks/_md5sum.py`; the same 160 as
`dataloader/custom_tasks_splits/random.json["all"]`). Table 1 says 159; which one OPT-IML did not
count is not published, so all 160 are catalogued (docs/benchmark.md).

Columns come from `crossfit_tasks.tsv`, our checked-in table:
- dataset: the Hugging Face dataset (and config) the task script loads (ProtoQA: iesl/protoqa-data);
- category: OPT-IML's single-level taxonomy (SuperNI's category names, as the other catalogs
  assign them to the same dataset); original category: CrossFit's own `type/subtype` (the
  classification, QA, NLI and paraphrase sets are the repository's; the second level of the rest
  follows the CrossFit paper's appendix);
- source: the data source spelled as the other catalogs spell it (SuperNI's `Source`), so the
  rules below compare like with like;
- options: how the reader finds answer options (`optiml_jax.data.formats.crossfit`);
- train_examples and count_source: the rows CrossFit's script puts in the task's training pool
  (its own train/test derivation over the HF splits; hf-datasets@8803c18^ `dataset_infos.json`);
- instruction: our instruction sentence (§2.2), describing the task without changing it.

Split, level and reason: a task whose data source is in a benchmark that OPT-IML Bench keeps
whole is "removed" (§2.1: "we only kept tasks from the CrossFit, ExMix and T5 collections that do
not appear in any other benchmarks"; `splits.removed_reason`); every other task goes through the rules
of `optiml_jax.tasks.splits`.

Local data (`crossfit_benchmark`): `$OPTIML_CROSSFIT_DIR` (default `$OPTIML_DATA_DIR/crossfit`),
CrossFit's `data/` folder with one `{task}/` folder per task, or the files directly in it. Each
task trains on `{task}_train.tsv` (its full training pool) and evaluates on `{task}_test.tsv`
(its official evaluation split); docs/benchmark.md shows how CrossFit's scripts write them. When
only the few-shot release is there (`_build_gym.py --build`), its `{task}_{k}_{seed}_train.tsv`
(the first by name) stands in for training and `{task}_{k}_{seed}_test.tsv` (the whole official
evaluation split, the same for every seed) evaluates; `stats` says how many tasks do so.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re

from optiml_jax.data import paths
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import (BenchmarkCatalog, CatalogEntry, Location, TaskInputs, first_instances,
                                      load_packaged_catalog, load_packaged_table)
from optiml_jax.tasks.levels import evaluation_row

BENCHMARK = "crossfit"
CATALOG_FILE = "crossfit_catalog.tsv"
TASKS_FILE = "crossfit_tasks.tsv"
RELEASE_TASKS = 160
PAPER_TASKS = 159
DATA_SETTING = "OPTIML_CROSSFIT_DIR"
COUNT_PROVENANCE = "hf-datasets@8803c18^ dataset_infos.json"  # Of every count from an HF split.
# §2.1's rule compares CrossFit with every other benchmark's kept tasks (splits.removed_reason).
COMPARED_CATALOGS = splits.KEPT_WHOLE + ("exmix_catalog.tsv", "t5_catalog.tsv")


@dataclasses.dataclass(frozen=True)
class CrossFitTask:
    task: str
    dataset: str
    source: str
    category: str
    original_category: str
    options: str
    train_examples: int
    count_source: str
    instruction: str


@functools.lru_cache(maxsize=None)
def tasks_table() -> dict[str, CrossFitTask]:
    return load_packaged_table(TASKS_FILE, CrossFitTask, ("train_examples",))


def build_catalog() -> list[CatalogEntry]:
    eval_sources = splits.held_out_sources()
    entries = []
    for task in tasks_table().values():
        row = evaluation_row(BENCHMARK, task.task)
        removed = splits.removed_reason(task.source, COMPARED_CATALOGS)
        if row is None and removed:
            category, split, level, reason = task.category, "removed", "", removed
        else:
            category, split, level, reason = splits.assign(task.category, task.source, row, eval_sources)
        provenance = f" ({COUNT_PROVENANCE})" if "HF " in task.count_source else ""
        count = f"count: {task.dataset}, {task.count_source}{provenance}"
        entries.append(CatalogEntry(BENCHMARK, task.task, category, task.original_category, task.source, "",
                                    task.train_examples, split, level, f"{reason}; {count}", 1, task.instruction))
    return entries


def load_catalog() -> list[CatalogEntry]:
    return load_packaged_catalog(CATALOG_FILE)


def _task_files(folder: str, task: str) -> list[str]:
    """The task's files: in `{folder}/{task}/` as CrossFit writes them, else directly in `folder`."""
    for directory in (os.path.join(folder, task), folder):
        if os.path.isdir(directory):
            names = [n for n in os.listdir(directory) if n.startswith(f"{task}_") and n.endswith(".tsv")]
            if names:
                return [os.path.join(directory, n) for n in sorted(names)]
    return []


def _task_file(files: list[str], task: str, split: str) -> tuple[str | None, bool]:
    """(path, few-shot stand-in?) of a task's `split` file: `{task}_{split}.tsv`, else the first
    few-shot `{task}_{k}_{seed}_{split}.tsv` by name."""
    few_shot = re.compile(rf"{re.escape(task)}_\d+_\d+_{split}\.tsv")
    by_name = {os.path.basename(path): path for path in files}
    if f"{task}_{split}.tsv" in by_name:
        return by_name[f"{task}_{split}.tsv"], False
    matches = [path for name, path in by_name.items() if few_shot.fullmatch(name)]
    return (matches[0], True) if matches else (None, False)


def crossfit_benchmark(entries: list[CatalogEntry] | None = None, folder: str | None = None) -> BenchmarkCatalog:
    folder = folder or paths.data_setting(DATA_SETTING, "crossfit")
    entries = tuple(load_catalog() if entries is None else entries)
    table, inputs, few_shot = tasks_table(), {}, []
    present = bool(folder) and os.path.isdir(folder)
    for entry in entries:
        files = _task_files(folder, entry.name) if present else []
        (train, stand_in), (test, _) = _task_file(files, entry.name, "train"), _task_file(files, entry.name, "test")
        if stand_in:
            few_shot.append(entry.name)
        args = (("instruction", entry.instruction), ("options", table[entry.name].options))
        train_location, test_location = (Location(BENCHMARK, path, args) if path else None for path in (train, test))
        inputs[entry.name] = TaskInputs(train_location, test_location)
    listed = ", ".join(few_shot[:5]) + (" ..." if len(few_shot) > 5 else "")
    notes = (f"CrossFit: {len(few_shot)} task(s) train on a few-shot file (k examples per class or task) for want of "
             f"the full {{task}}_train.tsv: {listed}",) if few_shot else ()
    return BenchmarkCatalog(BENCHMARK, entries, lambda entry: inputs[entry.name], first_instances(None), notes=notes)
