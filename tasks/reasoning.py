"""Reasoning (chain-of-thought) in OPT-IML Bench: the paper's 14 datasets (`reasoning_catalog.tsv`).

Every task has one task-level instruction (Table 6, `optiml_jax.data.formats.cot`); the target is
the rationale followed by the answer. GSM8K and StrategyQA are dev tasks (Table 15, partially
supervised: Reasoning is a category seen in training); the rest train, unless a shared data
source holds them out (e-SNLI: SNLI is a test task; WinoWhy explains WSC's answers).

Data: FLAN's CoT files `<name>_train.tsv` under `$OPTIML_COT_DIR` (google-research/FLAN
`flan/v2/cot_data`: nine of the fourteen; the local folder has seven), GSM8K's test set under
`$OPTIML_GSM8K_TEST` (the dev task's evaluation rows; its CoT training file is never read, since
GSM8K is held out of training). StrategyQA has no public test rationales, so its dev evaluation
reads FLAN's StrategyQA file. CoQA, CoS-E, MATH, ProofWriter and WinoWhy ship in formats of their
own that no reader handles yet: they are catalogued and reported absent.

Example counts: the FLAN CoT files' line counts (FLAN's `task_configs.py`), else the dataset's
train split (hf-datasets@d7dfbc8 `dataset_infos.json`, or the dataset's paper).
"""

from __future__ import annotations

import dataclasses
import os

from optiml_jax.data import paths
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, Location, TaskInputs, load_packaged_catalog
from optiml_jax.tasks.levels import evaluation_row

BENCHMARK = "reasoning"
CATALOG_FILE = "reasoning_catalog.tsv"
PAPER_TASKS = 14
CATEGORY = "Reasoning"
DEV_INSTANCES = 250  # §4.1: 250 examples per dev task.


@dataclasses.dataclass(frozen=True)
class ReasoningDataset:
    name: str
    source: str  # SuperNI's spelling of the underlying dataset where SuperNI has it.
    num_examples: int
    count_source: str
    cot_file: bool  # Released in FLAN's CoT TSV format.


DATASETS = (
    ReasoningDataset("aqua", "aqua", 2728, "FLAN cot_data/aqua_train.tsv", True),
    ReasoningDataset("coqa", "coqa", 7199, "hf-datasets@d7dfbc8 coqa train", False),
    ReasoningDataset("cos_e", "commonsenseqa", 9741, "hf-datasets@d7dfbc8 cos_e v1.11 train", False),
    ReasoningDataset("creak", "creak", 6915, "FLAN cot_data/creak_train.tsv", True),
    ReasoningDataset("ecqa", "commonsenseqa", 7112, "FLAN cot_data/ecqa_train.tsv", True),
    ReasoningDataset("esnli", "e_snli", 36174, "FLAN cot_data/esnli_train.tsv", True),
    ReasoningDataset("gsm8k", "gsm8k", 7473, "FLAN cot_data/gsm8k_train.tsv", True),
    ReasoningDataset("math", "math", 7500, "hf-datasets@d7dfbc8 competition_math train", False),
    ReasoningDataset("proofwriter", "proofwriter", 70076, "ProofWriter depth-5 train questions (Tafjord et al. 2021)", False),
    ReasoningDataset("qasc", "qasc", 1084, "FLAN cot_data/qasc_train.tsv", True),
    ReasoningDataset("qed", "qed", 5154, "FLAN cot_data/qed_train.tsv", True),
    ReasoningDataset("sensemaking", "sensemaking", 6070, "FLAN cot_data/sensemaking_train.tsv", True),
    ReasoningDataset("strategyqa", "strategyqa", 2061, "FLAN cot_data/strategyqa_train.tsv", True),
    ReasoningDataset("winowhy", "winowhy", 273, "the WSC273 questions WinoWhy explains (Zhang et al. 2020)", False),
)
_BY_NAME = {d.name: d for d in DATASETS}


def build_catalog() -> list[CatalogEntry]:
    eval_sources = splits.held_out_sources()
    entries = []
    for dataset in DATASETS:
        category, split, level, reason = splits.assign(CATEGORY, dataset.source, evaluation_row(BENCHMARK, dataset.name),
                                                       eval_sources)
        entries.append(CatalogEntry(BENCHMARK, dataset.name, category, CATEGORY, dataset.source, "", dataset.num_examples,
                                    split, level, f"{reason}; count: {dataset.count_source}"))
    return entries


def load_catalog() -> list[CatalogEntry]:
    return load_packaged_catalog(CATALOG_FILE)


def _existing(path: str | None) -> str | None:
    return path if path and os.path.isfile(path) else None


def reasoning_benchmark(entries: list[CatalogEntry] | None = None, cot_dir: str | None = None,
                        gsm8k_test: str | None = None) -> BenchmarkCatalog:
    cot_dir = cot_dir or paths.data_setting("OPTIML_COT_DIR", "flan", "cot_data")
    gsm8k_test = gsm8k_test or paths.data_setting("OPTIML_GSM8K_TEST", "heldout", "gsm8k_test.jsonl")

    def inputs(entry: CatalogEntry) -> TaskInputs:
        dataset = _BY_NAME[entry.name]
        tsv = _existing(cot_dir and os.path.join(cot_dir, f"{entry.name}_train.tsv")) if dataset.cot_file else None
        train = Location("cot_tsv", tsv) if tsv else None
        if entry.name == "gsm8k":
            test = _existing(gsm8k_test)
            return TaskInputs(train, Location("gsm8k", test) if test else None)
        return TaskInputs(train, train)

    return BenchmarkCatalog(BENCHMARK, tuple(load_catalog() if entries is None else entries), inputs,
                            lambda entry, variants: DEV_INSTANCES if entry.split == "dev" else None)
