"""Pre-training text in OPT-IML's final mixtures (§4.5: 5% of the examples; §5: the final setting).

The paper used "the last shard of the corpus used to train OPT", which is not public. Any corpus
of JSONL documents `{"text": ...}` serves (`optiml_jax.data.formats.pretraining`), named by
`$OPTIML_PRETRAINING_TEXT` (a `.jsonl` file or a folder of them). What comes closest to OPT's
corpus (Zhang et al. 2022, §3.2) is a shuffled sample of its public parts: The Pile's subsets that
OPT used (CommonCrawl, DM Mathematics, Project Gutenberg, HackerNews, OpenSubtitles, OpenWebText2,
USPTO, Wikipedia; The Pile ships `{"text", "meta"}` JSONL, zstd-compressed: decompress first) and
the RoBERTa corpus (BookCorpus, CC-News, OpenWebText, Stories). docs/benchmark.md gives commands.

One task, `pretraining:corpus`, holds the whole share: a single task's weight within its
benchmark changes no rate, so its catalog count is §2.1's per-task cap (the reader reads at most
that many pieces) rather than a count that would need a pass over the corpus at every import.
Without the setting the task is absent and its 5% is renormalised away; `stats` says so.
"""

from __future__ import annotations

import os

from optiml_jax.data.formats.pretraining import corpus_files
from optiml_jax.data.mixing import TASK_CAP
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, Location, TaskInputs

BENCHMARK = "pretraining"
TEXT_SETTING = "OPTIML_PRETRAINING_TEXT"
ENTRY = CatalogEntry(BENCHMARK, "corpus", "Language Modeling", "Language Modeling", "pretraining corpus", "",
                     TASK_CAP, "train", "", "§4.5/§5: 5% pre-training text in the final mixtures; count: §2.1's cap")


def pretraining_benchmark(path: str | None = None) -> BenchmarkCatalog:
    path = path or os.environ.get(TEXT_SETTING) or None
    notes = ()
    if path and not os.path.exists(path):
        raise FileNotFoundError(f"{TEXT_SETTING}={path}: no such file or folder (a .jsonl file of {{\"text\": ...}} "
                                f"documents, or a folder of them; docs/benchmark.md)")
    if path is None:
        notes = (f"pre-training text: {TEXT_SETTING} is not set, so the final mixtures' 5% pre-training share is "
                 f"renormalised away (docs/benchmark.md says what corpus to use)",)
    # The reader's files are listed here, so the data fingerprint covers exactly what it reads.
    files = tuple(os.path.abspath(f) for f in corpus_files(path)) if path else ()
    if path and not files:
        raise FileNotFoundError(f"{TEXT_SETTING}={path}: no *.jsonl file in the folder")
    location = Location("pretraining", files[0], (("files", files),)) if files else None
    return BenchmarkCatalog(BENCHMARK, (ENTRY,), lambda entry: TaskInputs(location, None),
                            lambda entry, variants: None, notes=notes)
