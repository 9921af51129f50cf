"""ExMix in OPT-IML Bench: 14 tasks rebuilt from the public sources App. A.1 lists (`exmix_catalog.tsv`).

ExMix's own data (Aribandi et al. 2021) was never released; OPT-IML rebuilt 14 of its tasks (Table
1: 10 clusters) from COGS, Shakespearizing-Modern-English, StylePTB, gpt-2-output-dataset,
"Parsing to FunQL" (Unimer), UKP, NewsQuizQA, DialoGLUE, KILT wned and aidayago2 and TFDS Wiki
Toxicity, at the commits the paper names. The paper does not say which tasks; ours
(docs/benchmark.md gives the reasons): one task per source, Unimer's three FunQL datasets (Geo,
ATIS, Jobs) as three tasks, and two DialoGLUE sets, CLINC150 intents and TOP parses (§2.1 rules
out DialoGLUE's BANKING77, HWU64, DSTC8 and MultiWOZ, which other benchmarks have; Restaurant8k,
the third set left, is not taken).

**Code table** (`TASKS`): for each task the data source (SuperNI's spelling where SuperNI has it),
where its files come from with the paper's commit id (column `reason` of the catalog), the folder
of `$OPTIML_EXMIX_DIR` and the files read, the reader (`optiml_jax.data.formats.exmix`, one per
file format) with the columns or fields that make input and target, the train size with its
provenance, and our instruction sentence (App. C's "Is the following text produced by GPT-2?",
"Is the following comment toxic?" and "Transform the following sentence into funql." among them).
Categories: our single-level taxonomy (SuperNI's names); original category: the task as its
source describes it (ten, Table 1's ten ExMix clusters).

**Split**: §2.1's rule (`optiml_jax.tasks.splits.removed_reason`: removed when another benchmark has the data;
none of the fourteen is), then `splits.assign` (all fourteen train).

**Data**: `$OPTIML_EXMIX_DIR` (default `$OPTIML_DATA_DIR/exmix`), one folder per source: `cogs/`,
`shakespeare/`, `styleptb/` and `unimer/` (the repositories at the paper's commits),
`gpt2_output/` (its `download_dataset.py` output), `ukp/` (the completed topic files),
`newsquizqa/` (the repository), `dialoglue/` (CLINC150 as DialoGLUE writes it, TOP's release),
`kilt/` (KILT's JSONL files); Wiki Toxicity from TFDS under `TFDS_DATA_DIR`.
"""

from __future__ import annotations

import dataclasses
import os

from optiml_jax.data import paths
from optiml_jax.data.formats.tfds_rows import tfds_dataset_dir
from optiml_jax.data.mixing import TASK_CAP
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, Location, TaskInputs, load_packaged_catalog
from optiml_jax.tasks.levels import evaluation_row

BENCHMARK = "exmix"
CATALOG_FILE = "exmix_catalog.tsv"
PAPER_TASKS = 14
DIR_SETTING = "OPTIML_EXMIX_DIR"

COGS = "najoungkim/COGS@bf1efc46298a6a23528b4444ef36786b12ef47d4"
SHAKESPEARE = "harsh19/Shakespearizing-Modern-English@e2669eadf12b59573847ac725ce6ce685eff528d"
STYLEPTB = "lvyiwei1/StylePTB@2b72580f13b4181822a45dee363493f28dfae157"
GPT2_OUTPUT = "openai/gpt-2-output-dataset@2c102400c7e4e698acd3f0e51d3b6cf1c637c0fe"
UNIMER = "JasperGuo/Unimer@b61e8ed68fdbd934c195fa968445540bfa897f2f"
NEWSQUIZQA = "google-research-datasets/NewsQuizQA@648246c6ee8f0f2adaad440fd8ead96fb083ee77"
DIALOGLUE = "alexa/dialoglue@6836630dd6b0f40f755ce974f1628b1db5f0c50f"
UKP = "TUdatalib handle tudatalib/2345 (UKP Sentential Argument Mining Corpus), sentences completed by its pipeline"
KILT = "HF kilt_tasks = KILT's release http://dl.fbaipublicfiles.com/KILT/"
WIKI_TOXICITY = "wikipedia_toxicity_subtypes/EnglishSubtypes:0.3.1"

FUNQL_INSTRUCTION = "Transform the following sentence into funql."
KILT_INSTRUCTION = ("Which Wikipedia entity does the mention between [START_ENT] and [END_ENT] in the following text "
                    "refer to?")
YES_NO = (("No", "No"), ("Yes", "Yes"))


@dataclasses.dataclass(frozen=True)
class ExMixTask:
    name: str
    category: str
    original_category: str
    source: str
    data: str  # Where the files come from, at the paper's commit.
    folder: str  # Under $OPTIML_EXMIX_DIR ("" for the TFDS dataset).
    files: tuple[str, ...]  # Under `folder`; exmix_parallel: (source file, target file).
    reader: str
    args: tuple[tuple[str, object], ...]  # The reader's arguments besides files and instruction.
    num_examples: int
    count_source: str
    instruction: str


def _funql(dataset: str, source: str, count: int) -> ExMixTask:
    return ExMixTask(f"funql_{dataset}", "Text to Code", "semantic parsing", source, UNIMER, "unimer",
                     (f"data/{dataset}/{dataset}_funql_train.tsv",), "exmix_tsv",
                     (("columns", 2), ("input_template", "{0}"), ("target_template", "{1}")), count,
                     f"records of data/{dataset}/{dataset}_funql_train.tsv (counted)", FUNQL_INSTRUCTION)


def _kilt(name: str, file: str, count: int, count_source: str) -> ExMixTask:
    return ExMixTask(f"kilt_{name}", "Information Extraction", "entity linking", name, KILT, "kilt", (file,),
                     "exmix_jsonl", (("input_field", "input"), ("target_field", "output.answer")), count, count_source,
                     KILT_INSTRUCTION)


_UKP_TOPICS = ("abortion", "cloning", "death_penalty", "gun_control", "marijuana_legalization", "minimum_wage",
               "nuclear_energy", "school_uniforms")

TASKS = (
    ExMixTask("cogs", "Text to Code", "compositional generalization", "cogs", COGS, "cogs", ("data/train.tsv",),
              "exmix_tsv", (("columns", 3), ("input_template", "{0}"), ("target_template", "{1}")), 24155,
              "lines of data/train.tsv (counted)", "Transform the following sentence into its logical form."),
    ExMixTask("shakespeare", "Style Transfer", "style transfer", "shakespearizing_modern_english", SHAKESPEARE,
              "shakespeare", ("data/train.modern.nltktok", "data/train.original.nltktok"), "exmix_parallel", (), 18395,
              "lines of data/train.modern.nltktok (counted)",
              "Rewrite the following modern English sentence in Shakespeare's English."),
    ExMixTask("styleptb_tense_voice", "Style Transfer", "style transfer", "styleptb", STYLEPTB, "styleptb",
              ("Compositional Datasets/Tense + Voice/train.tsv",), "exmix_tsv",
              (("columns", 2), ("input_template", "{0}"), ("target_template", "{1}")), 24270,
              "lines of Compositional Datasets/Tense + Voice/train.tsv (counted)",
              "Rewrite the following sentence as its two leading codes ask: the first sets the tense (1 future, "
              "2 past, 3 present, 0 unchanged), the second the voice (1 passive, 2 active, 0 unchanged)."),
    ExMixTask("gpt2_output_detection", "Text Categorization", "machine-generated text detection",
              "gpt2_output_dataset", GPT2_OUTPUT, "gpt2_output",
              ("data/webtext.train.jsonl", "data/xl-1542M-k40.train.jsonl"), "exmix_jsonl",
              (("input_field", "text"), ("file_targets", ("No", "Yes")), ("labels", YES_NO)), 500000,
              "250,000 rows per train file (the repository's README)", "Is the following text produced by GPT-2?"),
    _funql("geo", "geoquery", 600),
    _funql("atis", "atis", 4465),
    _funql("job", "jobs", 500),
    ExMixTask("ukp_argument_mining", "Stance Detection", "argument mining", "ukp_sentential_argument_mining", UKP,
              "ukp",
              tuple(f"{topic}.tsv" for topic in _UKP_TOPICS), "exmix_tsv",
              (("header", True), ("input_template", "Topic: {topic}\nSentence: {sentence}"),
               ("target_template", "{annotation}"), ("where", (("set", "train"),)),
               ("labels", (("Argument_for", "argument for"), ("Argument_against", "argument against"),
                           ("NoArgument", "no argument"))), ("unfilled", "-")), 18336,
              "rows with set=train in a completed copy (Open-Argumentation/Canary@805f951)",
              "Is the following sentence an argument for the topic, an argument against it, or no argument?"),
    ExMixTask("newsquizqa", "Question Answering", "question answering", "newsquizqa", NEWSQUIZQA, "newsquizqa",
              ("data/news_quiz_qa-train.csv",), "exmix_csv",
              (("input_template", "{question}"), ("target_template", "{answer}")), 9576,
              "rows of data/news_quiz_qa-train.csv (counted)", "Answer the following news quiz question."),
    ExMixTask("dialoglue_clinc150", "Intent Identification", "intent classification", "clinc_oos", DIALOGLUE,
              "dialoglue", ("clinc/train.csv",), "exmix_csv",
              (("input_template", "{text}"), ("target_template", "{category}")), 15000,
              "clinc/oos-eval data_full.json train (150 intents x 100)",
              "Which intent does the following user request express?"),
    ExMixTask("dialoglue_top", "Text to Code", "task-oriented semantic parsing", "top_semantic_parsing", DIALOGLUE,
              "dialoglue", ("top-dataset-semantic-parsing/train.tsv",), "exmix_tsv",
              (("columns", 3), ("input_template", "{0}"), ("target_template", "{2}")), 31279,
              "TOP train (Gupta et al. 2018; DialoGLUE's Table 1)",
              "Parse the following request into its TOP representation of intents and slots."),
    _kilt("wned", "wned-dev-kilt.jsonl", 3396, "KILT wned dev, its only labelled split (HF kilt_tasks dataset_infos)"),
    _kilt("aidayago2", "aidayago2-train-kilt.jsonl", 18395, "KILT aidayago2 train (HF kilt_tasks dataset_infos)"),
    ExMixTask("wiki_toxicity", "Toxic Language Detection", "toxicity detection", "wikipedia_toxicity_subtypes",
              f"TFDS {WIKI_TOXICITY}", "", (), "exmix_tfds",
              (("tfds_name", WIKI_TOXICITY), ("split", "train"), ("input_feature", "text"),
               ("score_feature", "toxicity"), ("labels", ("No", "Yes"))), 159571,
              "TFDS EnglishSubtypes train (Jigsaw Toxic Comment Classification train)",
              "Is the following comment toxic?"),
)
_BY_NAME = {task.name: task for task in TASKS}


def build_catalog() -> list[CatalogEntry]:
    eval_sources = splits.held_out_sources()
    entries = []
    for task in TASKS:
        removed = splits.removed_reason(task.source)
        if removed:
            category, split, level, reason = task.category, "removed", "", removed
        else:
            category, split, level, assigned = splits.assign(task.category, task.source,
                                                             evaluation_row(BENCHMARK, task.name), eval_sources)
            reason = f"§2.1: kept, no other benchmark has its data; {assigned}"
        entries.append(CatalogEntry(BENCHMARK, task.name, category, task.original_category, task.source, "",
                                    task.num_examples, split, level,
                                    f"{reason}; data: {task.data}; count: {task.count_source}", 1, task.instruction))
    return entries


def load_catalog() -> list[CatalogEntry]:
    return load_packaged_catalog(CATALOG_FILE)


def _location(task: ExMixTask, instruction: str, folder: str | None, tfds_dir: str) -> Location | None:
    if task.reader == "exmix_tfds":
        prepared = tfds_dataset_dir(dict(task.args)["tfds_name"], tfds_dir)
        args = task.args + (("instruction", instruction), ("tfds_data_dir", tfds_dir), ("max_rows", TASK_CAP))
        return Location(task.reader, prepared, args) if prepared else None
    files = tuple(os.path.join(folder, task.folder, file) for file in task.files) if folder else ()
    if not files or not all(os.path.isfile(file) for file in files):
        return None
    if task.reader == "exmix_parallel":
        return Location(task.reader, files[0], (("instruction", instruction), ("target_file", files[1])))
    several = (("files", files),) if len(files) > 1 else ()
    return Location(task.reader, files[0], task.args + several + (("instruction", instruction),))


def exmix_benchmark(entries: list[CatalogEntry] | None = None, folder: str | None = None,
                    tfds_data_dir: str | None = None) -> BenchmarkCatalog:
    folder = folder or paths.data_setting(DIR_SETTING, "exmix")
    tfds_dir = tfds_data_dir or paths.tfds_data_dir()

    def inputs(entry: CatalogEntry) -> TaskInputs:
        return TaskInputs(_location(_BY_NAME[entry.name], entry.instruction, folder, tfds_dir), None, ())

    return BenchmarkCatalog(BENCHMARK, tuple(load_catalog() if entries is None else entries), inputs,
                            lambda entry, variants: None)
