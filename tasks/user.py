"""Your own tasks in OPT-IML Bench, without a code change: a catalog file of yours plus one JSONL
file per task (format: `optiml_jax.data.formats.custom`).

`$OPTIML_USER_TASKS` names one or more catalog files (os.pathsep-separated). Each is a TSV file
whose header names these columns, in any order:

    name         the task's name (letters, digits, '_', '-', '.'); registered as `<benchmark>:<name>`
    benchmark    optional; default `user`. A paper benchmark's name (e.g. `superni`) puts the task
                 in that benchmark's share of the mixtures; a new name needs a share (below)
    category     its category (e.g. `Sentiment Analysis`); the report groups evaluation tasks by it
    split        `train` (trained on), `dev` or `test` (evaluated, never trained on), `held_out`
    level        for dev/test: fully_held_out, partially_held_out or fully_supervised (trained on
                 too; a seeded 10% of its rows are held out and evaluated); empty otherwise
    metric       for dev/test: `rouge_l` (generation) or `accuracy` (rank classification: every
                 example needs `options`)
    instruction  the task's instruction sentence, written before every input
    data         the JSONL file, relative to the catalog file's folder or absolute

A benchmark that is not one of the paper's needs its share of `opt_iml_train` and
`opt_iml_max_train` in `$OPTIML_USER_PROPORTIONS`, e.g. `user=5` (percent, in the units of the
paper's proportions: CrossFit 4, ..., PromptSource 45). A training task in a fully held-out
category is refused: it would leak into the fully held-out level; so is an evaluation task whose
level contradicts its category (fully held out while a training task has the category, partially
held out while none has). Every file is checked when
`optiml_jax.tasks` is imported, so a mistake fails before training starts, naming file and line.
"""

from __future__ import annotations

import csv
import os
import re

from optiml_jax.constants import ACCURACY, FULLY_HELD_OUT, LEVELS, PARTIALLY_HELD_OUT, ROUGE_L
from optiml_jax.data.formats.files import read_text, text_lines
from optiml_jax.tasks.catalog import SPLITS, BenchmarkCatalog, CatalogEntry, Location, TaskInputs
from optiml_jax.tasks.splits import FULLY_HELD_OUT_CATEGORIES

TASKS_SETTING = "OPTIML_USER_TASKS"
PROPORTIONS_SETTING = "OPTIML_USER_PROPORTIONS"
DEFAULT_BENCHMARK = "user"
REQUIRED_COLUMNS = ("name", "category", "split", "level", "metric", "instruction", "data")
METRICS = (ROUGE_L, ACCURACY)
_NAME = re.compile(r"^[\w.\-]+$")


class UserCatalogError(ValueError):
    """A user catalog line that cannot be registered; the message names the file and line."""


def _entry(row: dict, where: str, folder: str, known: set[str]) -> tuple[CatalogEntry, Location, str]:
    values = {key: (row.get(key) or "").strip() for key in (*REQUIRED_COLUMNS, "benchmark")}
    benchmark = values["benchmark"] or DEFAULT_BENCHMARK
    name, split, level, metric = values["name"], values["split"], values["level"], values["metric"]
    problems = []
    if not _NAME.match(name) or not _NAME.match(benchmark):
        problems.append(f"name {name!r} / benchmark {benchmark!r}: use letters, digits, '_', '-', '.'")
    if f"{benchmark}:{name}" in known:
        problems.append(f"task {benchmark}:{name} is already in the bench")
    if split not in SPLITS:
        problems.append(f"split {split!r} is not one of {SPLITS}")
    evaluated = split in ("dev", "test")
    if evaluated and (level not in LEVELS or metric not in METRICS):
        problems.append(f"a {split} task needs a level in {LEVELS} and a metric in {METRICS}, found {level!r}, {metric!r}")
    if not evaluated and (level or metric):
        problems.append(f"level and metric are for dev/test tasks only (split {split!r})")
    if not values["category"] or not values["instruction"] or not values["data"]:
        problems.append("category, instruction and data must not be empty")
    if split == "train" and values["category"] in FULLY_HELD_OUT_CATEGORIES:
        problems.append(f"category {values['category']!r} is fully held out (dev/test): training on it would leak "
                        f"into the fully held-out level; use another category or split held_out")
    if problems:
        raise UserCatalogError(f"{where}: " + "; ".join(problems))
    path = values["data"] if os.path.isabs(values["data"]) else os.path.join(folder, values["data"])
    examples = sum(1 for line in text_lines(read_text(path, f"{benchmark}:{name}")) if line.strip())
    entry = CatalogEntry(benchmark, name, values["category"], values["category"], f"user:{benchmark}:{name}", "",
                         examples, split, level if evaluated else "", f"user task ({where})")
    args = (("instruction", values["instruction"]), ("benchmark", benchmark),
            ("require_options", metric == ACCURACY))
    return entry, Location("custom", os.path.abspath(path), args), metric


def read_user_catalog(path: str, known: set[str]) -> list[tuple[CatalogEntry, Location, str]]:
    """(entry, data location, metric) for every line of one user catalog file (blank lines are
    skipped; errors name the file's own line numbers)."""
    numbered = [(number, line) for number, line in enumerate(text_lines(read_text(path, "user tasks")), start=1)
                if line.strip()]
    if not numbered:
        raise UserCatalogError(f"{path}: empty; the first line must name the columns {', '.join(REQUIRED_COLUMNS)}")
    header_line, header = numbered[0][0], next(csv.reader([numbered[0][1]], delimiter="\t"))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise UserCatalogError(f"{path}: line {header_line}: the header lacks column(s) {missing} (columns: "
                               f"{', '.join(REQUIRED_COLUMNS)}, optional benchmark)")
    rows = []
    for number, line in numbered[1:]:
        cells = next(csv.reader([line], delimiter="\t"))
        if len(cells) != len(header):
            raise UserCatalogError(f"{path}: line {number}: expected {len(header)} tab-separated columns, found "
                                   f"{len(cells)}")
        entry, location, metric = _entry(dict(zip(header, cells)), f"{path}: line {number}",
                                         os.path.dirname(os.path.abspath(path)), known)
        known.add(f"{entry.benchmark}:{entry.name}")
        rows.append((entry, location, metric))
    return rows


def _check_levels(rows: list[tuple[CatalogEntry, Location, str]], trained_categories: set[str]) -> None:
    """An evaluation task's level must be true of its category: fully held out means no training
    task has the category, partially held out that one does (the bench's and the user's own)."""
    trained = trained_categories | {entry.category for entry, _, _ in rows if entry.trains}
    for entry, _, _ in rows:
        if entry.level == FULLY_HELD_OUT and entry.category in trained:
            raise UserCatalogError(f"{entry.reason.removeprefix('user task (').rstrip(')')}: {entry.name} is "
                                   f"fully held out, but training tasks have its category {entry.category!r}; use "
                                   f"partially_held_out or a category no training task has")
        if entry.level == PARTIALLY_HELD_OUT and entry.category not in trained:
            raise UserCatalogError(f"{entry.reason.removeprefix('user task (').rstrip(')')}: {entry.name} is "
                                   f"partially held out, but no training task has its category {entry.category!r}; "
                                   f"use fully_held_out")


def user_benchmarks(known: set[str], files: list[str] | None = None,
                    trained_categories: set[str] = frozenset()) -> list[BenchmarkCatalog]:
    """One catalog per benchmark named in the user's files (`$OPTIML_USER_TASKS` by default).
    `known`: the bench's task names (`benchmark:name`); `trained_categories`: the categories its
    training tasks have, against which the user's levels are checked."""
    if files is None:
        files = [f for f in os.environ.get(TASKS_SETTING, "").split(os.pathsep) if f]
    rows = [row for path in files for row in read_user_catalog(path, known)]
    _check_levels(rows, set(trained_categories))
    by_benchmark: dict[str, list] = {}
    for row in rows:
        by_benchmark.setdefault(row[0].benchmark, []).append(row)
    catalogs = []
    for benchmark, group in sorted(by_benchmark.items()):
        locations = {entry.name: location for entry, location, _ in group}
        catalogs.append(BenchmarkCatalog(
            benchmark, tuple(entry for entry, _, _ in group),
            lambda entry, locations=locations: TaskInputs(locations[entry.name], locations[entry.name]),
            lambda entry, variants: None,
            task_metrics={entry.name: metric for entry, _, metric in group if metric}))
    return catalogs


def user_proportions(catalogs: list[BenchmarkCatalog], paper: dict[str, float]) -> dict[str, float]:
    """`paper` plus the share `$OPTIML_USER_PROPORTIONS` gives each new benchmark that trains."""
    text = os.environ.get(PROPORTIONS_SETTING, "").strip()
    given = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        benchmark, _, value = (part.strip() for part in item.partition("="))
        try:
            given[benchmark] = float(value)
        except ValueError:
            given[benchmark] = float("nan")
        if not given[benchmark] > 0:  # Also refuses nan.
            raise UserCatalogError(f"{PROPORTIONS_SETTING}={text!r}: {item!r} is not `benchmark=<positive percent>`")
    overridden = sorted(b for b in given if b in paper)
    if overridden:
        raise UserCatalogError(f"{PROPORTIONS_SETTING}: {overridden} are paper benchmarks with fixed shares; name only "
                               f"your own benchmarks")
    training = {c.benchmark for c in catalogs if c.in_default_mixtures and any(e.trains for e in c.entries)}
    needed = sorted(b for b in training if b not in paper and b not in given)
    if needed:
        raise UserCatalogError(f"user benchmark(s) {needed} train but have no share of opt_iml_train: set "
                               f"{PROPORTIONS_SETTING}, e.g. {needed[0]}=5 (percent, like the paper's 4/2/20/25/45/2/2)")
    return {**paper, **given}
