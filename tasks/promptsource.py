"""PromptSource in OPT-IML Bench: one task per templates file (`promptsource_catalog.tsv`).

A PromptSource task is a dataset (or dataset subset) with its `templates.yaml`: 279 files in the
public release, 281 tasks here because ANLI's one file serves three evaluation tasks, its rounds
R1–R3, which have their own rows (Table 10 and §5.3 report them apart). The paper counts 280
(its commit 0cc4b0c; docs/benchmark.md).

Columns come from:
- category, original category (T0's task cluster where T0 uses the dataset), data source and the
  example counts: `promptsource_datasets.tsv`, our checked-in table (train split sizes from the
  Hugging Face `datasets` release; docs/benchmark.md gives the provenance);
- prompts: the number of templates meant for the original task (App. A.1), from the templates file;
- split, level, reason: the rules of `optiml_jax.tasks.splits`, plus: a task none of whose
  templates is meant for the original task is held out (no prompt trains it), unless an evaluation
  row names it (Blended Skill Talk, Crows-Pairs), in which case all its templates are used.

Local data (`promptsource_benchmark`): rows as JSONL with HF field names under
`$OPTIML_PROMPTSOURCE_ROWS_DIR/<dataset>[/<subset>]/<split>.jsonl` (the full data, exported with
`datasets`; docs/benchmark.md); else, for SuperGLUE subsets, the SuperGLUE/FewGLUE files under
`$OPTIML_SUPERGLUE_DIR` (`val.jsonl` evaluates when present; FewGLUE has only `train.jsonl`, which
then stands in); else pre-rendered P3 files under `$OPTIML_P3_DIR`, which carry no answer choices
and no evaluation split (a fully supervised task evaluated on them gets a held-out cut).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os

from optiml_jax.data import paths
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.formats.promptsource import ENDOFTEXT, NOT_APPLICABLE, load_templates, sanitize
from optiml_jax.data.formats.superglue import SUBSETS
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import (BenchmarkCatalog, CatalogEntry, Location, TaskInputs, Variant,
                                      load_packaged_catalog, load_packaged_table)
from optiml_jax.tasks.levels import evaluation_row

BENCHMARK = "promptsource"
CATALOG_FILE = "promptsource_catalog.tsv"
DATASETS_FILE = "promptsource_datasets.tsv"
PAPER_TASKS = 280
DEV_PROMPTS_PER_TASK = 250  # §4.1: dev tasks are evaluated on at most 250 prompts each.
# ANLI's rounds are separate tasks; their HF splits are train_rN / dev_rN (hf-datasets@d7dfbc8
# datasets/anli/dataset_infos.json: train 16,946 / 45,460 / 100,459).
ANLI_ROUNDS = {"anli_r1": 16946, "anli_r2": 45460, "anli_r3": 100459}
NO_ORIGINAL_TEMPLATE = "no template is meant for the original task (App. A.1)"


@dataclasses.dataclass(frozen=True)
class DatasetRow:
    task: str
    category: str
    original_category: str
    source: str
    train_examples: int
    evaluation_split: str
    evaluation_examples: int
    size_source: str


@functools.lru_cache(maxsize=None)
def datasets_table() -> dict[str, DatasetRow]:
    return load_packaged_table(DATASETS_FILE, DatasetRow, ("train_examples", "evaluation_examples"))


def folder_of(task: str) -> str:
    """The templates folder of a catalog task (the ANLI rounds share `anli`)."""
    return "anli" if task in ANLI_ROUNDS else task


def splits_of(task: str) -> tuple[str, str]:
    """(training split, evaluation split) names of a task's rows."""
    if task in ANLI_ROUNDS:
        round_ = task.split("_")[1]
        return f"train_{round_}", f"dev_{round_}"
    return "train", datasets_table()[task].evaluation_split


def _template_files(templates_dir: str) -> list[str]:
    folders = []
    for root, _, files in os.walk(templates_dir):
        if "templates.yaml" in files:
            folders.append(os.path.relpath(root, templates_dir).replace(os.sep, "/"))
    return sorted(folders)


def build_catalog(templates_dir: str) -> list[CatalogEntry]:
    """Builds the catalog from a PromptSource `templates/` folder and `promptsource_datasets.tsv`."""
    table, eval_sources = datasets_table(), splits.held_out_sources()
    folders = _template_files(templates_dir)
    missing = sorted(set(folders) - set(table))
    if missing:
        raise ValueError(f"{DATASETS_FILE} has no row for the PromptSource folders {missing}; add them.")
    entries = []
    for folder in folders:
        source_file = load_templates(os.path.join(templates_dir, folder, "templates.yaml"))
        meta = table[folder]
        for task in (sorted(ANLI_ROUNDS) if folder == "anli" else [folder]):
            row = evaluation_row(BENCHMARK, task)
            original = len(source_file.original())
            category, split, level, reason = splits.assign(meta.category, meta.source, row, eval_sources)
            if not original and row is None:
                split, level, reason = "held_out", "", NO_ORIGINAL_TEMPLATE
            prompts = original or len(source_file.templates)
            count = ANLI_ROUNDS.get(task, meta.train_examples)
            entries.append(CatalogEntry(BENCHMARK, task, category, meta.original_category, meta.source, "", count,
                                        split, level, reason, prompts))
    return entries


def load_catalog() -> list[CatalogEntry]:
    return load_packaged_catalog(CATALOG_FILE)


def p3_file_rendered(path: str) -> bool:
    """Whether a P3 file holds rendered examples: T0's export has templates whose targets failed
    to render (e.g. TREC's fine-grained label templates: empty files, or completions that are only
    `<|endoftext|>`). Only the first record is read, so registration stays fast with the full P3."""
    with open(path, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return bool(first.strip())  # A malformed file is kept: its reader names the bad row.
    completion = record.get("completion", "") if isinstance(record, dict) else ""
    return bool(str(completion).replace(ENDOFTEXT, "").strip())


@functools.lru_cache(maxsize=None)
def _p3_index(p3_dir: str) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """(P3 files per task folder, files left out as unrendered); each file goes to the longest
    task prefix it starts with."""
    prefixes = {sanitize(folder.replace("/", "_")) + "_": folder for folder in datasets_table()}
    by_folder: dict[str, list[str]] = {}
    unrendered = []
    for file in sorted(os.listdir(p3_dir)):
        matches = [p for p in prefixes if file.startswith(p)] if file.endswith(".jsonl") else []
        if not matches:
            continue
        path = os.path.join(p3_dir, file)
        if p3_file_rendered(path):
            by_folder.setdefault(prefixes[max(matches, key=len)], []).append(path)
        else:
            unrendered.append(file)
    return {folder: tuple(files) for folder, files in by_folder.items()}, tuple(unrendered)


def p3_notes(p3_dir: str | None) -> tuple[str, ...]:
    """What `stats` reports about the P3 folder: files matching no task, files left out."""
    if not p3_dir or not os.path.isdir(p3_dir):
        return ()
    index, unrendered = _p3_index(p3_dir)
    matched = {os.path.basename(f) for files in index.values() for f in files} | set(unrendered)
    unmatched = sorted(f for f in os.listdir(p3_dir) if f.endswith(".jsonl") and f not in matched)
    notes = []
    if unrendered:
        notes.append(f"P3: {len(unrendered)} file(s) without rendered targets left out: {', '.join(unrendered)}")
    if unmatched:
        notes.append(f"P3: {len(unmatched)} file(s) match no PromptSource task: {', '.join(unmatched)}")
    return tuple(notes)


def _existing(path: str | None) -> str | None:
    return path if path and os.path.isfile(path) else None


class PromptSourceData:
    """Finds each task's templates, rows and P3 files under the configured folders."""

    def __init__(self, templates_dir: str | None, rows_dir: str | None, superglue_dir: str | None, p3_dir: str | None):
        self.templates_dir, self.rows_dir, self.superglue_dir, self.p3_dir = templates_dir, rows_dir, superglue_dir, p3_dir

    def _rows(self, folder: str, split: str, evaluation: bool, templates: str) -> Location | None:
        path = _existing(self.rows_dir and os.path.join(self.rows_dir, folder, f"{split}.jsonl"))
        args = (("templates", templates), ("rows", "jsonl"))
        subset = folder.split("/", 1)[1] if folder.startswith("super_glue/") else None
        if path is None and subset in SUBSETS and self.superglue_dir:
            base = os.path.join(self.superglue_dir, SUBSETS[subset].file_folder)
            # FewGLUE ships only train.jsonl; it stands in for the validation split it lacks.
            path = (_existing(os.path.join(base, "val.jsonl")) if evaluation else None) or _existing(os.path.join(base, "train.jsonl"))
            args = (("templates", templates), ("rows", "superglue"), ("subset", subset))
        if path is None:
            return None
        return Location(BENCHMARK, path, args + ((("evaluation", True),) if evaluation else ()))

    def inputs(self, entry: CatalogEntry) -> TaskInputs:
        folder = folder_of(entry.name)
        templates = _existing(self.templates_dir and os.path.join(self.templates_dir, folder, "templates.yaml"))
        if templates is None:
            return TaskInputs(None, None, ())
        train_split, evaluation_split = splits_of(entry.name)
        train = self._rows(folder, train_split, False, templates)
        evaluation = self._rows(folder, evaluation_split, True, templates)
        p3 = _p3_index(self.p3_dir)[0].get(folder) if self.p3_dir and os.path.isdir(self.p3_dir) else None
        if p3 and train is None:
            train = Location("p3", p3[0], (("files", p3), ("templates", templates)))
            evaluation = evaluation or train
        if entry.split not in ("dev", "test") or evaluation is None:
            return TaskInputs(train, evaluation, ())
        source = load_templates(templates)
        usable = source.original() or source.templates  # Evaluation rows without one use all (module docstring).
        if evaluation.reader == "p3":
            with_files = {os.path.basename(f)[len(sanitize(folder.replace("/", "_"))) + 1:-len(".jsonl")] for f in p3}
            variants = tuple(Variant(t.key, (("template", t.key),), False) for t in usable if t.key in with_files)
        else:
            extra = (("all_templates", True),) if not source.original() else ()
            variants = tuple(Variant(t.key, (("template", t.key),) + extra, t.answer_choices is not None) for t in usable)
            applies = {v.name: self._applies(entry, evaluation, v) for v in variants}
            excluded = tuple((v.name, NOT_APPLICABLE) for v in variants if not applies[v.name])
            return TaskInputs(train, evaluation, tuple(v for v in variants if applies[v.name]), excluded)
        return TaskInputs(train, evaluation, variants)

    @staticmethod
    def _applies(entry: CatalogEntry, evaluation: Location, variant: Variant) -> bool:
        """Whether a template renders for every evaluation row (App. A.1). The rendering is cached
        in the example store, so it is paid once per data version and reused by the evaluation."""
        rendered = ExampleStore().open(evaluation.reader, entry.name, evaluation.path, evaluation.args + variant.args)
        return NOT_APPLICABLE not in rendered.skipped


def evaluation_instances(entry: CatalogEntry, variants: int) -> int | None:
    """Dev tasks: at most 250 prompts over all their templates (§4.1); test tasks: everything."""
    return max(1, DEV_PROMPTS_PER_TASK // max(variants, 1)) if entry.split == "dev" else None


def promptsource_benchmark(entries: list[CatalogEntry] | None = None) -> BenchmarkCatalog:
    data = PromptSourceData(paths.data_setting("OPTIML_PROMPTSOURCE_DIR", "promptsource", "templates"),
                            paths.data_setting("OPTIML_PROMPTSOURCE_ROWS_DIR", "promptsource", "rows"),
                            paths.data_setting("OPTIML_SUPERGLUE_DIR", "fewglue", "FewGLUE"),
                            paths.data_setting("OPTIML_P3_DIR", "p3"))
    return BenchmarkCatalog(BENCHMARK, tuple(load_catalog() if entries is None else entries), data.inputs,
                            evaluation_instances, notes=p3_notes(data.p3_dir))
