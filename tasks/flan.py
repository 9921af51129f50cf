"""FLAN 2021 in OPT-IML Bench: its 70 tasks (`flan_catalog.tsv`).

The tasks are the 69 of FLAN's default task clusters plus `wsc273` (Table 1's 70), with FLAN's
own templates less the inverted ones (App. A.1; `optiml_jax.data.formats.flan`). Columns come
from:
- category, original category (FLAN's cluster, on the FLAN paper's 12), data source and the train
  split size: the task table of `optiml_jax.data.formats.flan_tasks`;
- prompts: the task's original templates in FLAN's `templates.py` (`OPTIML_FLAN_TEMPLATES`);
- split, level, reason: the rules of `optiml_jax.tasks.splits`. The count used for mixing is the
  train split capped at FLAN's 30,000 rows per task (§2.1: at most 30k examples per FLAN task).

Local data (`flan_benchmark`): FLAN's TFDS datasets, prepared under `TFDS_DATA_DIR` (`tfds build
<name>`); for FLAN's SuperGLUE tasks, the SuperGLUE/FewGLUE files under `$OPTIML_SUPERGLUE_DIR`
when TFDS has not prepared them (evaluation reads `val.jsonl` when present, else FewGLUE's
`train.jsonl` stands in). Evaluation reads FLAN's test split (for most tasks the dataset's
labelled validation split); every original template is an evaluation subtask.
"""

from __future__ import annotations

import os

from optiml_jax.data import paths
from optiml_jax.data.formats.flan import original_templates, read_patterns
from optiml_jax.data.formats.flan_tasks import TASKS
from optiml_jax.data.formats.superglue import SUBSETS
from optiml_jax.data.formats.tfds_rows import tfds_dataset_dir
from optiml_jax.data.mixing import FLAN_TASK_CAP
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, Location, TaskInputs, Variant, load_packaged_catalog
from optiml_jax.tasks.levels import evaluation_row

BENCHMARK = "flan"
CATALOG_FILE = "flan_catalog.tsv"
PAPER_TASKS = 70
DEV_PROMPTS_PER_TASK = 250  # §4.1


def templates_file() -> str:
    path = paths.data_setting("OPTIML_FLAN_TEMPLATES", "flan", "flan2021", "templates.py")
    if not path:
        raise FileNotFoundError(f"Set {paths.DATA_DIR_ENV} or OPTIML_FLAN_TEMPLATES to FLAN's templates.py.")
    return path


def build_catalog(patterns_file: str) -> list[CatalogEntry]:
    """Builds the catalog from FLAN's templates module and the task table."""
    patterns, eval_sources = read_patterns(patterns_file), splits.held_out_sources()
    entries = []
    for name, task in sorted(TASKS.items()):
        category, split, level, reason = splits.assign(task.category, task.source, evaluation_row(BENCHMARK, name),
                                                       eval_sources)
        entries.append(CatalogEntry(BENCHMARK, name, category, task.flan_cluster, task.source, "",
                                    min(task.num_train_examples, FLAN_TASK_CAP), split, level, reason,
                                    len(original_templates(patterns, task.patterns_key))))
    return entries


def load_catalog() -> list[CatalogEntry]:
    return load_packaged_catalog(CATALOG_FILE)


def flan_benchmark(entries: list[CatalogEntry] | None = None) -> BenchmarkCatalog:
    patterns = paths.data_setting("OPTIML_FLAN_TEMPLATES", "flan", "flan2021", "templates.py")
    superglue_dir = paths.data_setting("OPTIML_SUPERGLUE_DIR", "fewglue", "FewGLUE")
    tfds_dir = paths.tfds_data_dir()

    def location(name: str, split: str) -> Location | None:
        task = TASKS[name]
        common = (("task", name), ("split", split), ("patterns", patterns))
        prepared = tfds_dataset_dir(task.tfds_name, tfds_dir)
        if prepared:
            return Location(BENCHMARK, prepared, common + (("rows", "tfds"), ("tfds_data_dir", tfds_dir)))
        if task.superglue_subset and superglue_dir:
            base = os.path.join(superglue_dir, SUBSETS[task.superglue_subset].file_folder)
            files = (["val.jsonl"] if split != "train" else []) + ["train.jsonl"]
            found = [os.path.join(base, f) for f in files if os.path.isfile(os.path.join(base, f))]
            if found:
                return Location(BENCHMARK, found[0], common + (("rows", "superglue"),))
        return None

    def inputs(entry: CatalogEntry) -> TaskInputs:
        if not patterns or not os.path.isfile(patterns):
            return TaskInputs(None, None, ())
        task = TASKS[entry.name]
        train = location(entry.name, "train") if task.train_split else None
        evaluation = location(entry.name, "test")
        pairs = read_patterns(patterns)[task.patterns_key]
        kept = original_templates(read_patterns(patterns), task.patterns_key)
        has_options = any("{options_}" in pairs[i][0] for i in kept)
        variants = tuple(Variant(f"template_{i}", (("template", i),), has_options) for i in kept)
        return TaskInputs(train, evaluation, variants if entry.split in ("dev", "test") else ())

    def evaluation_instances(entry: CatalogEntry, variants: int) -> int | None:
        return max(1, DEV_PROMPTS_PER_TASK // max(variants, 1)) if entry.split == "dev" else None

    return BenchmarkCatalog(BENCHMARK, tuple(load_catalog() if entries is None else entries), inputs,
                            evaluation_instances)
