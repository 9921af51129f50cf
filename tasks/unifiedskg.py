"""UnifiedSKG in OPT-IML Bench: its 21 tasks (`unifiedskg_catalog.tsv`).

The 21 are the task configs of UnifiedSKG's all-tasks setting
(`configure/Salesforce/T5_base_finetune_all_tasks.cfg`, HKUNLP/UnifiedSKG @ 49a2ff9). Columns:
- original category: the six groups that config's comments give (semantic parsing, question
  answering, data-to-text, conversational, fact verification, high-fidelity NLG);
- category: OPT-IML's taxonomy (SuperNI's category names). The 21 tasks fall in 7 of them, Table
  1's 7 UnifiedSKG clusters: Text to Code, Question Answering, Data to Text, Dialogue State
  Tracking, Dialogue Generation, Fact Verification, Code to Text;
- source: the dataset, spelled as SuperNI's `Source` where SuperNI has it (`multi_woz_v22`,
  `msr_sqa`, `dart`, ...); WebQSP re-annotates WebQuestions' questions (`web_questions`), and
  SQL-to-text is Spider's queries turned around (`spider`);
- num_examples: the training split as UnifiedSKG instantiates it (DART: one example per
  annotation; dialogues: one per turn): the Hugging Face release's count where it has the
  dataset as UnifiedSKG uses it, else the UnifiedSKG paper's data table (`COUNTS`);
- instruction: our instruction sentence (§2.2); UnifiedSKG's own `description` (`task: spider`)
  is not used (`optiml_jax.data.formats.unifiedskg`).
Split, level and reason: `optiml_jax.tasks.splits` (levels.py: Spider is a fully supervised test
task, DART and MultiWoZ partially held-out test tasks, §5.5). UnifiedSKG is kept whole: §2.1's
removal applies only to CrossFit, ExMix and T5.

Local data (`unifiedskg_benchmark`): the instantiated examples (App. A.1: the authors' Google
Drive) under `$OPTIML_UNIFIEDSKG_DIR` (default `$OPTIML_DATA_DIR/unifiedskg`), one file per task
and split (`train`, `dev`, `test`) named `{task}/{split}.jsonl` or `{task}_{split}.jsonl` (`.json`
holding a list works too). A task evaluates on its test file, else its dev file (UnifiedSKG's own
rule for tasks without a test split, e.g. Spider), else its training file (a fully supervised task
then gets a held-out cut). DART evaluates on DART's original JSON at `$OPTIML_DART_DEV` (default
`$OPTIML_DATA_DIR/heldout/dart-v1.1.1-full-dev.json`; point it at `dart-v1.1.1-full-test.json` for
the test set), read with UnifiedSKG's linearisation.
"""

from __future__ import annotations

import dataclasses
import os

from optiml_jax.constants import FULLY_SUPERVISED
from optiml_jax.data import paths
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, Location, TaskInputs, load_packaged_catalog
from optiml_jax.tasks.levels import evaluation_row

BENCHMARK = "unifiedskg"
CATALOG_FILE = "unifiedskg_catalog.tsv"
PAPER_TASKS = 21
DATA_SETTING = "OPTIML_UNIFIEDSKG_DIR"
DART_SETTING = "OPTIML_DART_DEV"
DEV_INSTANCES = 250  # §4.1: 250 examples per dev task.
SPLIT_NAMES = ("train", "dev", "test")
# Where each count comes from: the Hugging Face release where it has the dataset as UnifiedSKG
# uses it, else the UnifiedSKG paper's data table (not checked against data here).
COUNTS = {"hf": "Hugging Face train split (hf-datasets@8803c18^ dataset_infos.json), as in the UnifiedSKG paper",
          "paper": "UnifiedSKG paper's data table (unverified)"}


@dataclasses.dataclass(frozen=True)
class UnifiedSKGTask:
    name: str
    group: str  # UnifiedSKG's own group (the all-tasks config's comments).
    category: str
    source: str
    num_examples: int
    count: str  # Key of COUNTS.
    instruction: str


_SP, _QA, _D2T, _CONV, _FV, _NLG = ("semantic parsing", "question answering", "data-to-text", "conversational",
                                    "fact verification", "high-fidelity NLG")
TASKS = (
    UnifiedSKGTask("spider", _SP, "Text to Code", "spider", 7000, "hf",
                   "Translate the question into an SQL query over the given database."),
    UnifiedSKGTask("grailqa", _SP, "Text to Code", "grailqa", 44337, "hf",
                   "Translate the question into an s-expression over the given knowledge-base entities and schema."),
    UnifiedSKGTask("webqsp", _SP, "Text to Code", "web_questions", 2673, "paper",
                   "Translate the question into an s-expression over the given knowledge-graph facts."),
    UnifiedSKGTask("mtop", _SP, "Text to Code", "mtop", 15667, "paper",
                   "Parse the request into its intents and slots, using the given APIs."),
    UnifiedSKGTask("wikitq", _QA, "Question Answering", "wikitablequestions", 11321, "paper",
                   "Answer the question using the table."),
    UnifiedSKGTask("wikisql", _QA, "Question Answering", "wikisql", 56355, "hf",
                   "Answer the question using the table."),
    UnifiedSKGTask("compwebq", _QA, "Question Answering", "complex_web_questions", 27639, "paper",
                   "Answer the complex question using the knowledge-graph facts."),
    UnifiedSKGTask("hybridqa", _QA, "Question Answering", "hybridqa", 62682, "hf",
                   "Answer the question using the table and the passages about its cells."),
    UnifiedSKGTask("mmqa", _QA, "Question Answering", "multimodalqa", 15688, "paper",
                   "Answer the question using the table and the passages given with it."),
    UnifiedSKGTask("fetaqa", _QA, "Question Answering", "fetaqa", 7326, "paper",
                   "Answer the question about the table with a free-form sentence."),
    UnifiedSKGTask("dart", _D2T, "Data to Text", "dart", 62659, "paper",
                   "Describe the following knowledge-graph triples in a sentence."),
    UnifiedSKGTask("totto", _D2T, "Data to Text", "totto", 120761, "hf",
                   "Write a one-sentence description of the highlighted table cells."),
    UnifiedSKGTask("multiwoz", _CONV, "Dialogue State Tracking", "multi_woz_v22", 56668, "paper",
                   "Give the dialogue state of the conversation so far as slot-value pairs."),
    UnifiedSKGTask("kvret", _CONV, "Dialogue Generation", "kvret", 6291, "paper",
                   "Write the assistant's next reply, using the knowledge base."),
    UnifiedSKGTask("sparc", _CONV, "Text to Code", "sparc", 12059, "paper",
                   "Translate the latest question, in the context of the earlier ones, into an SQL query over the given "
                   "database."),
    UnifiedSKGTask("cosql", _CONV, "Text to Code", "cosql", 9502, "paper",
                   "Translate the user's latest request, in the context of the dialogue, into an SQL query over the given "
                   "database."),
    UnifiedSKGTask("sqa", _CONV, "Question Answering", "msr_sqa", 12275, "paper",
                   "Answer the question, in the context of the earlier questions, using the table."),
    UnifiedSKGTask("tab_fact", _FV, "Fact Verification", "tab_fact", 92283, "hf",
                   "Is the statement entailed or refuted by the table?"),
    UnifiedSKGTask("feverous", _FV, "Fact Verification", "feverous", 40669, "paper",
                   "Do the table and passages support or refute the claim, or is there not enough information?"),
    UnifiedSKGTask("logic2text", _NLG, "Code to Text", "logic2text", 8566, "paper",
                   "Describe in one sentence what the logical form says about the table."),
    UnifiedSKGTask("sql2text", _NLG, "Code to Text", "spider", 5600, "paper",
                   "Write the question that the SQL query answers."),
)

def build_catalog() -> list[CatalogEntry]:
    eval_sources = splits.held_out_sources()
    entries = []
    for task in TASKS:
        category, split, level, reason = splits.assign(task.category, task.source, evaluation_row(BENCHMARK, task.name),
                                                       eval_sources)
        entries.append(CatalogEntry(BENCHMARK, task.name, category, task.group, task.source, "", task.num_examples, split,
                                    level, f"{reason}; count: {COUNTS[task.count]}", 1, task.instruction))
    return entries


def load_catalog() -> list[CatalogEntry]:
    return load_packaged_catalog(CATALOG_FILE)


def data_file(folder: str | None, task: str, split: str) -> str | None:
    """A task's file of one split (module docstring), or None."""
    if not folder:
        return None
    for name in (f"{task}/{split}.jsonl", f"{task}/{split}.json", f"{task}_{split}.jsonl", f"{task}_{split}.json"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def unifiedskg_benchmark(entries: list[CatalogEntry] | None = None, folder: str | None = None,
                         dart_dev: str | None = None) -> BenchmarkCatalog:
    folder = folder or paths.data_setting(DATA_SETTING, "unifiedskg")
    dart_dev = dart_dev or paths.data_setting(DART_SETTING, "heldout", "dart-v1.1.1-full-dev.json")

    def inputs(entry: CatalogEntry) -> TaskInputs:
        args = (("instruction", entry.instruction),)
        files = {split: data_file(folder, entry.name, split) for split in SPLIT_NAMES}
        train = Location(BENCHMARK, files["train"], args) if files["train"] else None
        if entry.name == "dart" and dart_dev and os.path.isfile(dart_dev):
            return TaskInputs(train, Location("dart", dart_dev, args))
        evaluation = files["test"] or files["dev"]
        if evaluation:
            return TaskInputs(train, Location(BENCHMARK, evaluation, args))
        # Only a fully supervised task may evaluate on its training file (a held-out cut of it,
        # `registry.HeldOutInstances`); any other task without its own evaluation file is absent.
        return TaskInputs(train, train if entry.level == FULLY_SUPERVISED else None)

    return BenchmarkCatalog(BENCHMARK, tuple(load_catalog() if entries is None else entries), inputs,
                            lambda entry, variants: DEV_INSTANCES if entry.split == "dev" else None)
