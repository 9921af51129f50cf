"""T5 in OPT-IML Bench: the 36 supervised tasks of T5's task registry (`t5_catalog.tsv`), of which
OPT-IML keeps 7.

**Which 36.** google-research/text-to-text-transfer-transformer `t5/data/tasks.py` at `50a797f`
(2022-02-04, the last change before OPT-IML's data collection) registers 37 supervised task names
besides the pre-training tasks and their `*_1_sentinel` copies. Table 1's 36 leaves out
`glue_ax_v002`: GLUE's diagnostic set is test-only and its TFDS rows carry no labels (label -1,
kept hidden for the GLUE server), so it is no supervised task to train or evaluate on; every
other name has labelled rows.

**Which 7 kept.** App. A.1 names them: the six WMT tasks and `cnn_dailymail_v002`. The other 29
are "removed" by §2.1's rule (`optiml_jax.tasks.splits.removed_reason`), each reason naming the benchmarks that
have its data. The paper's list wins for the kept seven, and the reason records an overlap where
the rule finds one: CNN/DM is kept "owing to its high quality" although PromptSource, SuperNI and
FLAN have it; `wmt14_enfr_v003` and `wmt16_enro_v003` read the corpora of FLAN's `wmt14_enfr` and
`wmt16_translate_roen` (which also translate from English), yet the paper lists them as kept.

**Columns.** category: our single-level taxonomy (SuperNI's names, as the other catalogs give the
same sources); original category: the task type the GLUE/SuperGLUE papers give (SuperGLUE counts
COPA as QA), or summarization/translation: nine in all, Table 1's nine T5 clusters; count: the
TFDS dataset's train split (hf-datasets@d7dfbc8 `dataset_infos.json`, whose GLUE, SuperGLUE,
SQuAD, TriviaQA, CNN/DM and WMT builders have the same splits; 0 for T5's test-only and eval-only
tasks); instruction: T5's own keyword prefix, as App. C shows (`summarize: <article>`).

**Data** (`t5_benchmark`): the kept tasks' TFDS datasets prepared under `TFDS_DATA_DIR`
(`tfds build wmt14_translate/de-en` …); the catalog names every task's TFDS dataset, but only the
kept tasks are read (`optiml_jax.data.formats.t5`). CNN/DM reads `cnn_dailymail:3.4.0`, the
version T5 switched to on 2023-01-10 and the only one current TFDS builds (T5 read 3.1.0 in
2022; 3.2.0 removed a space before sentence periods, 3.3.0/3.4.0 added features; same stories).
"""

from __future__ import annotations

import dataclasses

from optiml_jax.data import paths
from optiml_jax.data.formats.tfds_rows import tfds_dataset_dir
from optiml_jax.data.mixing import TASK_CAP
from optiml_jax.tasks import splits
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, Location, TaskInputs, load_packaged_catalog
from optiml_jax.tasks.levels import evaluation_row

BENCHMARK = "t5"
CATALOG_FILE = "t5_catalog.tsv"
PAPER_TASKS = 36
PAPER_KEPT = ("wmt14_ende_v003", "wmt14_enfr_v003", "wmt15_enfr_v003", "wmt16_enro_v003", "wmt19_ende_v003",
              "wmt_t2t_ende_v003", "cnn_dailymail_v002")
COUNTS = "hf-datasets@d7dfbc8 dataset_infos.json"


@dataclasses.dataclass(frozen=True)
class T5Task:
    name: str
    tfds_name: str  # The TFDS dataset (name/config:version) T5's task reads.
    category: str
    original_category: str
    source: str  # SuperNI's spelling of the data source (FLAN's for the WMT pairs).
    num_examples: int  # Train rows.
    input_feature: str = ""  # Kept tasks: the feature that becomes the input …
    target_feature: str = ""  # … and the one that becomes the target.
    instruction: str = ""  # Kept tasks: T5's keyword prefix.


def _glue(name: str, config: str, category: str, original: str, source: str, count: int) -> T5Task:
    return T5Task(f"glue_{name}_v002", f"glue/{config}:1.0.0", category, original, source, count)


def _super_glue(name: str, config: str, category: str, original: str, source: str, count: int) -> T5Task:
    return T5Task(name, f"super_glue/{config}:1.0.2", category, original, source, count)


def _wmt(name: str, dataset: str, source: str, language: str, language_name: str, count: int) -> T5Task:
    """English → `language` on TFDS's `<language>-en` pair, as T5's `translate` preprocessor reads it."""
    return T5Task(name, f"{dataset}/{language}-en:1.0.0", "Translation", "translation", source, count, "en", language,
                  f"translate English to {language_name}:")


_NLI, _QA, _COREF = "Textual Entailment", "Question Answering", "Coreference Resolution"
_SQUAD = "squad/v1.1:3.0.0"
TASKS = (
    _glue("cola", "cola", "Grammar Error Detection", "acceptability", "cola", 8551),
    _glue("sst2", "sst2", "Sentiment Analysis", "sentiment", "sst2", 67349),
    _glue("mrpc", "mrpc", "Text Matching", "paraphrase and similarity", "mrpc", 3668),
    _glue("qqp", "qqp", "Text Matching", "paraphrase and similarity", "qqp", 363846),
    _glue("stsb", "stsb", "Text Matching", "paraphrase and similarity", "sts_b", 5749),
    _glue("mnli", "mnli", _NLI, "NLI", "multinli", 392702),
    _glue("mnli_mismatched", "mnli_mismatched", _NLI, "NLI", "multinli", 0),
    _glue("mnli_matched", "mnli_matched", _NLI, "NLI", "multinli", 0),
    _glue("qnli", "qnli", _NLI, "NLI", "qnli", 104743),
    _glue("rte", "rte", _NLI, "NLI", "rte", 2490),
    _glue("wnli", "wnli", _NLI, "NLI", "wnli", 635),
    T5Task("cnn_dailymail_v002", "cnn_dailymail:3.4.0", "Summarization", "summarization", "cnn_dailymail", 287113,
           "article", "highlights", "summarize:"),
    _wmt("wmt14_ende_v003", "wmt14_translate", "wmt14_de_en", "de", "German", 4508785),
    _wmt("wmt14_enfr_v003", "wmt14_translate", "wmt14_fr_en", "fr", "French", 40836715),
    _wmt("wmt16_enro_v003", "wmt16_translate", "wmt16_ro_en", "ro", "Romanian", 610320),
    _wmt("wmt15_enfr_v003", "wmt15_translate", "wmt15_fr_en", "fr", "French", 40853137),
    _wmt("wmt19_ende_v003", "wmt19_translate", "wmt19_de_en", "de", "German", 38690334),
    _wmt("wmt_t2t_ende_v003", "wmt_t2t_translate", "wmt_t2t_de_en", "de", "German", 4592289),
    _super_glue("super_glue_boolq_v102", "boolq", _QA, "QA", "boolq", 9427),
    _super_glue("super_glue_cb_v102", "cb", _NLI, "NLI", "cb", 250),
    _super_glue("super_glue_copa_v102", "copa", "Cause Effect Classification", "QA", "copa", 400),
    _super_glue("super_glue_multirc_v102", "multirc", _QA, "QA", "multirc", 27243),
    _super_glue("super_glue_record_v102", "record", _QA, "QA", "record", 100730),
    _super_glue("super_glue_rte_v102", "rte", _NLI, "NLI", "rte", 2490),
    _super_glue("super_glue_wic_v102", "wic", "Word Sense Disambiguation", "word sense disambiguation", "wic", 5428),
    _super_glue("super_glue_axb_v102", "axb", _NLI, "NLI", "glue_diagnostics", 0),
    _super_glue("super_glue_axg_v102", "axg", _NLI, "NLI", "winomt", 0),
    T5Task("dpr_v001_simple", "definite_pronoun_resolution:1.1.0", _COREF, "coreference", "definite_pronoun_resolution",
           1322),
    _super_glue("super_glue_wsc_v102_simple_train", "wsc.fixed", _COREF, "coreference", "wsc_fiexed", 554),
    _super_glue("super_glue_wsc_v102_simple_eval", "wsc.fixed", _COREF, "coreference", "wsc_fiexed", 0),
    T5Task("glue_wnli_v002_simple_eval", "glue/wnli:1.0.0", _COREF, "coreference", "wnli", 0),
    T5Task("squad_v010_allanswers", _SQUAD, _QA, "QA", "squad_1.1", 87599),
    T5Task("squad_v010_context_free", _SQUAD, _QA, "QA", "squad_1.1", 87599),
    T5Task("squad_v010_allanswers_span", _SQUAD, _QA, "QA", "squad_1.1", 87599),
    T5Task("squad_v010", _SQUAD, _QA, "QA", "squad_1.1", 87599),
    T5Task("trivia_qa_v010", "trivia_qa/rc:1.1.0", _QA, "QA", "triviaqa", 138384),
)
_BY_NAME = {task.name: task for task in TASKS}


def build_catalog() -> list[CatalogEntry]:
    eval_sources = splits.held_out_sources()
    entries = []
    for task in TASKS:
        elsewhere = splits.appears_elsewhere(task.source)
        count = (f"count: {task.tfds_name} train ({COUNTS})" if task.num_examples else
                 "count: 0, T5 reads only its evaluation splits")
        if task.name in PAPER_KEPT:
            category, split, level, reason = splits.assign(task.category, task.source,
                                                           evaluation_row(BENCHMARK, task.name), eval_sources)
            kept = _kept_reason(task, elsewhere)
            reason = f"{kept}; {reason}; {count}"
        else:
            category, split, level = task.category, "removed", ""
            reason = f"{splits.removed_reason(task.source)}; {count}"
        entries.append(CatalogEntry(BENCHMARK, task.name, category, task.original_category, task.source, "",
                                    task.num_examples, split, level, reason, 1, task.instruction))
    return entries


def _kept_reason(task: T5Task, elsewhere: str) -> str:
    if not elsewhere:
        return "App. A.1: kept, no other benchmark has its data"
    why = "'owing to its high quality'" if task.source == "cnn_dailymail" else "(the paper lists it)"
    return f"App. A.1: kept {why}, although its data is also in {elsewhere}"


def load_catalog() -> list[CatalogEntry]:
    return load_packaged_catalog(CATALOG_FILE)


def t5_benchmark(entries: list[CatalogEntry] | None = None, tfds_data_dir: str | None = None) -> BenchmarkCatalog:
    tfds_dir = tfds_data_dir or paths.tfds_data_dir()

    def inputs(entry: CatalogEntry) -> TaskInputs:
        task = _BY_NAME[entry.name]
        prepared = tfds_dataset_dir(task.tfds_name, tfds_dir) if task.input_feature else None
        if prepared is None:
            return TaskInputs(None, None, ())
        args = (("tfds_name", task.tfds_name), ("split", "train"), ("input_feature", task.input_feature),
                ("target_feature", task.target_feature), ("instruction", entry.instruction),
                ("tfds_data_dir", tfds_dir), ("max_rows", TASK_CAP))
        return TaskInputs(Location(BENCHMARK, prepared, args), None, ())

    return BenchmarkCatalog(BENCHMARK, tuple(load_catalog() if entries is None else entries), inputs,
                            lambda entry, variants: None)
