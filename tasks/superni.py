"""Super-NaturalInstructions v2 in OPT-IML Bench: all 1,613 tasks (`superni_catalog.tsv`).

The catalog is built from the public files by `build_catalog` and checked in, so importing the
bench reads one small file and works without the 3 GB of task files. `python -m optiml_jax.tasks
build-catalog` rebuilds it; a test checks the checked-in file against a rebuild from the real data.

Columns come from:
- official split: `splits/default/{train,test,excluded}_tasks.txt` (756 + 119 + 738 = 1,613);
- original category and data source: FLAN's `flan_collection_info.csv` (which spells names with
  "_" for "-" and cuts them at the first "."), for every task it lists (1,556 of 1,613), and
  `MMLU_FAMILY` for the 57 it leaves out (all of SuperNI's `mmmlu_answer_generation_*` tasks). One
  source for every task, whichever task files are present, so a rebuild with the full 1,613 files
  gives this catalog. The task files' own `Categories[0]` / `Source[0]` agree with it on the 262
  local files except where a file says "Misc." and FLAN names the finer category (11 tasks, e.g.
  task1146_country_capital → "Country Capital Prediction"; docs/benchmark.md D27; a test measures
  the agreement);
- example count: `number_examples` in FLAN's NIv2 metadata (the full data's instance count);
- OPT-IML category: the original category, except where Table 15 recategorizes a task
  (`CATEGORY_OVERRIDES`);
- OPT-IML split and level: the rules of `optiml_jax.tasks.splits` (Table 15 rows → dev; official
  test tasks of the fully held-out test categories → test; held-out categories and data sources →
  held out; the rest trains, official test tasks included: docs/benchmark.md, decision D2).
"""

from __future__ import annotations

import csv
import json
import os

from optiml_jax.data import paths
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import (BenchmarkCatalog, CatalogEntry, file_per_task, first_instances,
                                      load_packaged_catalog)
from optiml_jax.tasks.levels import EVALUATION_TASKS, TEST_FULLY_HELD_OUT_CATEGORIES

BENCHMARK = "superni"
CATALOG_FILE = "superni_catalog.tsv"
OFFICIAL_SPLITS = ("train", "test", "excluded")
NUM_TASKS = 1613
EVALUATION_INSTANCES = 100  # SuperNI evaluates on each test task's first 100 instances.

CATEGORY_OVERRIDES = {"task1664_winobias_text_generation": ("Stereotype Detection", "Table 15: Winobias is Stereotype Detection")}
# Task files whose `Source` names another dataset than the one their instances come from; the
# data-source rule (§2.3) must see the real one.
SOURCE_OVERRIDES = {
    "task105_story_cloze-rocstories_sentence_generation": (
        "roc_stories", "Source says 'pib'; its instances are Story Cloze / ROCStories stories"),
    "task974_prachathai67k_sentiment_classification": (
        "prachathai67k", "Source says 'sherliic'; its instances are prachathai67k news"),
    "task975_prachathai67k_same_genre_classification": (
        "prachathai67k", "Source says 'sherliic'; its instances are prachathai67k news"),
}
# FLAN's collection leaves out SuperNI's MMLU family (task664–task737, `mmmlu_answer_generation_*`);
# each of the 55 present locally says exactly this in its task file.
MMLU_FAMILY = ("_mmmlu_answer_generation_", ("Question Answering", "measuring_massive_multitask_language_understanding"))


def flan_name(task: str) -> str:
    """How FLAN's NIv2 metadata spells a SuperNI task name."""
    return task.replace("-", "_").split(".")[0]


def _read_split_lists(data_dir: str) -> dict[str, str]:
    official = {}
    for split in OFFICIAL_SPLITS:
        path = os.path.join(data_dir, "superni", "splits", "default", f"{split}_tasks.txt")
        with open(path, encoding="utf-8") as f:
            for task in filter(None, (line.strip() for line in f)):
                if task in official:
                    raise ValueError(f"{path}: {task} is also in the {official[task]} split")
                official[task] = split
    return official


def _read_flan_collection(data_dir: str) -> dict[str, tuple[str, str]]:
    path = os.path.join(data_dir, "flan", "flan_collection_info.csv")
    with open(path, encoding="utf-8", newline="") as f:
        return {
            row["Specific Task Category"]: (row["Generic Task Category"], row["Dataset"])
            for row in csv.DictReader(f)
            if row["Source"] == "NIv2"
        }


def _category_and_source(task: str, flan: dict) -> tuple[str, str]:
    if flan_name(task) in flan:
        return flan[flan_name(task)]
    if MMLU_FAMILY[0] in task:
        return MMLU_FAMILY[1]
    raise ValueError(f"SuperNI task {task}: FLAN's collection info has no row for it and it is not of the MMLU "
                     f"family; add its category and source to tasks/superni.py.")


def _is_test_task(official: str, category: str) -> bool:
    return official == "test" and category in TEST_FULLY_HELD_OUT_CATEGORIES


def build_catalog(data_dir: str) -> list[CatalogEntry]:
    """Builds the SuperNI catalog from the public files under `data_dir` (see module docstring): the
    split lists, FLAN's collection info and NIv2 metadata; never the task files."""
    official = _read_split_lists(data_dir)
    with open(os.path.join(data_dir, "superni", "meta", "niv2_metadata_from_flan.json"), encoding="utf-8") as f:
        counts = {name: int(record["number_examples"]) for name, record in json.load(f).items()}
    flan = _read_flan_collection(data_dir)
    dev = {task: row for row in EVALUATION_TASKS if row.benchmark == BENCHMARK for task in row.members}
    unknown = sorted(set(dev) - set(official))
    if unknown:
        raise ValueError(f"Table 15 SuperNI tasks missing from the official split lists: {unknown}")
    metadata = {task: _category_and_source(task, flan) for task in sorted(official)}
    metadata.update({task: (metadata[task][0], source) for task, (source, _) in SOURCE_OVERRIDES.items()})
    categories = {task: CATEGORY_OVERRIDES.get(task, (category,))[0] for task, (category, _) in metadata.items()}
    # SuperNI's own test tasks hold their sources out of training too (footnote 4).
    eval_sources = splits.row_sources()
    for task in sorted(official):
        if _is_test_task(official[task], categories[task]) and task not in dev:
            eval_sources.setdefault(metadata[task][1], f"test task {task} (superni)")
    entries = []
    for task in sorted(official):
        original_category, source = metadata[task]
        category, split, level, reason = splits.assign(
            categories[task], source, dev.get(task), eval_sources,
            superni_test_category=task not in dev and _is_test_task(official[task], categories[task]))
        if split == "train":
            reason = f"official {official[task]} task in a category seen in training"
        for overrides in (CATEGORY_OVERRIDES, SOURCE_OVERRIDES):
            if task in overrides:
                reason += f"; {overrides[task][1]}"
        if flan_name(task) not in counts:
            raise ValueError(f"SuperNI task {task}: no number_examples in the FLAN NIv2 metadata")
        entries.append(CatalogEntry(BENCHMARK, task, category, original_category,
                                    source, official[task], counts[flan_name(task)], split, level, reason))
    return entries


def load_catalog() -> list[CatalogEntry]:
    """The checked-in catalog (no data files needed)."""
    return load_packaged_catalog(CATALOG_FILE)


def superni_benchmark(entries: list[CatalogEntry] | None = None, tasks_dir: str | None = None) -> BenchmarkCatalog:
    """The SuperNI catalog with its files looked up in `tasks_dir` (default: `paths.superni_tasks_dir()`)."""
    folder = tasks_dir or paths.superni_tasks_dir()

    def data_file(entry: CatalogEntry) -> str | None:
        path = os.path.join(folder, f"{entry.name}.json") if folder else None
        return path if path and os.path.exists(path) else None

    return BenchmarkCatalog(BENCHMARK, tuple(load_catalog() if entries is None else entries),
                            file_per_task("superni", data_file), first_instances(EVALUATION_INSTANCES))
