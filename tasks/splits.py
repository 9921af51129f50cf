"""Where every benchmark's tasks go: OPT-IML split, level and the reason, by one set of rules.

Applied in order by each benchmark's catalog builder (first match wins):
1. a member task of an evaluation row of `levels` (Table 15, §5) → that row's split and level, and
   the row's category (the paper unifies the categories of its evaluation tasks);
2. SuperNI only: an official test task in a fully held-out test category (§5.4) → test;
3. a task in a fully held-out category (dev or test) → held out;
4. a task built from the data source of a fully or partially held-out evaluation task of any
   benchmark (§2.3, footnote 4: train and evaluation tasks never share a data source) → held out;
5. everything else → train.
Fully supervised evaluation tasks (rule 1) are trained on too: their evaluation instances are
held out (`CatalogEntry.trains`), and their sources hold nothing out.

Before these rules, §2.1's for the keyword benchmarks: "we only kept tasks from the CrossFit, ExMix
and T5 collections that do not appear in any other benchmarks" (`removed_reason`). A task appears
in another benchmark when one of that benchmark's kept tasks is built from the same data source,
spelled as SuperNI's `Source` spells it (every catalog's `source` column follows that spelling).
ExMix and T5 are compared with the benchmarks OPT-IML keeps whole (`KEPT_WHOLE`: SuperNI,
PromptSource, FLAN, Reasoning, UnifiedSKG); CrossFit also with ExMix and T5's kept tasks, which the
paper names source by source (App. A.1), so of two keyword tasks on one source the named one stays.
"""

from __future__ import annotations

import functools

from optiml_jax.constants import FULLY_HELD_OUT, FULLY_SUPERVISED
from optiml_jax.tasks.catalog import load_packaged_catalog
from optiml_jax.tasks.levels import (DEV_FULLY_HELD_OUT_CATEGORIES, EVALUATION_TASKS, TEST_FULLY_HELD_OUT_CATEGORIES,
                                     EvaluationTask)

FULLY_HELD_OUT_CATEGORIES = DEV_FULLY_HELD_OUT_CATEGORIES | TEST_FULLY_HELD_OUT_CATEGORIES


def row_sources() -> dict[str, str]:
    """Data source → the evaluation row that keeps it out of training."""
    sources = {}
    for task in EVALUATION_TASKS:
        if task.level != FULLY_SUPERVISED:
            for source in task.sources:
                sources.setdefault(source, f"{task.split} task {task.name} ({task.benchmark})")
    return sources


@functools.lru_cache(maxsize=None)
def held_out_sources() -> dict[str, str]:
    """Every held-out source: the rows' and those of SuperNI's test tasks (from its checked-in
    catalog), so a PromptSource or FLAN task never trains on a SuperNI test task's data."""
    from optiml_jax.tasks import superni

    sources = row_sources()
    for entry in superni.load_catalog():
        if entry.split == "test" and entry.level != FULLY_SUPERVISED:
            sources.setdefault(entry.source, f"test task {entry.name} (superni)")
    return sources


def assign(category: str, source: str, row: EvaluationTask | None, eval_sources: dict[str, str], *,
           superni_test_category: bool = False) -> tuple[str, str, str, str]:
    """(category, split, level, reason) of one task by the rules of the module docstring."""
    if row is not None:
        return row.category, row.split, row.level, f"{row.evidence}: {row.name}"
    if superni_test_category:
        return category, "test", FULLY_HELD_OUT, f"§5.4: {category} is a fully held-out test category (Table 12)"
    if category in FULLY_HELD_OUT_CATEGORIES:
        return category, "held_out", "", f"category {category} is fully held out"
    if source in eval_sources:
        return category, "held_out", "", f"§2.3: shares data source {source!r} with {eval_sources[source]}"
    return category, "train", "", "a category seen in training"


KEPT_WHOLE = ("superni_catalog.tsv", "promptsource_catalog.tsv", "flan_catalog.tsv", "reasoning_catalog.tsv",
              "unifiedskg_catalog.tsv")
SHOWN_TASKS = 2  # Task names shown per benchmark in a reason; the rest are counted.


@functools.lru_cache(maxsize=None)
def _tasks_by_source(catalog_files: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
    """Data source → {benchmark: its kept tasks built from that source}."""
    found: dict[str, dict[str, list[str]]] = {}
    for file_name in catalog_files:
        for entry in load_packaged_catalog(file_name):
            if entry.split != "removed":
                found.setdefault(entry.source, {}).setdefault(entry.benchmark, []).append(entry.name)
    return found


def appears_elsewhere(source: str, catalog_files: tuple[str, ...] = KEPT_WHOLE) -> str:
    """Which benchmarks of `catalog_files` build tasks from `source`, e.g. "flan (cola); promptsource
    (glue/cola)", or "" when none does."""
    parts = []
    for benchmark, names in sorted(_tasks_by_source(catalog_files).get(source, {}).items()):
        more = f" and {len(names) - SHOWN_TASKS} more" if len(names) > SHOWN_TASKS else ""
        parts.append(f"{benchmark} ({', '.join(names[:SHOWN_TASKS])}{more})")
    return "; ".join(parts)


def removed_reason(source: str, catalog_files: tuple[str, ...] = KEPT_WHOLE) -> str | None:
    """Why a keyword-benchmark task built from `source` is not part of OPT-IML Bench (§2.1), or None
    when no benchmark of `catalog_files` has its data."""
    elsewhere = appears_elsewhere(source, catalog_files)
    return f"§2.1: removed, data source {source!r} is also in {elsewhere}" if elsewhere else None
