"""The 70 FLAN 2021 tasks of OPT-IML Bench: where each one's rows come from and how a row becomes
the fields FLAN's templates fill.

Which 70: the 69 tasks of FLAN's default task clusters (google-research/FLAN `flan/task_splits.py`,
`_DEFAULT_TASK_CLUSTERS_ABBREV`; ANLI, ARC, MNLI and the WMT'16 pairs count once per round,
difficulty, genre or language pair) plus `wsc273`, which FLAN's paper evaluates in its coreference
cluster: 70 is Table 1's FLAN count (Iyer et al. 2022, App. A.1). Every task is read through
TFDS with the split strings of FLAN's `flan/tasks.py`, including its cap of 30,000 training rows
per task (`train[:30000]`), which OPT-IML keeps (§2.1).

Each task's `fields(row)` maps one TFDS example (as `tfds.as_numpy` yields it: text as bytes,
sequences as arrays, nested features as dicts) to FLAN's template fields exactly as FLAN's
preprocessor for the task does, with FLAN's option lists and answer strings. A row FLAN's
preprocessor filters out, or one it could not process (a label outside the options, no gold
answer), raises `RowSkipped` with a reason the reader counts. `answers` lists every gold
reference where a dataset has several (the training target stays FLAN's `answer`/`target`).

Where this module departs from FLAN 2021's `flan/tasks.py`, on purpose:
- TFDS versions the installed `tensorflow-datasets` can no longer build are replaced by the ones
  it builds: `cnn_dailymail:3.4.0` (FLAN 3.1.0), `multi_news:2.1.0` (1.0.0), `winogrande:1.2.0`
  (1.1.0); `xsum:1.1.0`, TFDS's own builder, replaces `huggingface:xsum` (the same BBC articles
  without the network-only Hugging Face wrapper); `glue/cola` is pinned to 2.0.0.
- `wsc` reads `super_glue/wsc.fixed` (FLAN 2021 read `super_glue/wsc`): the fixed config only
  repairs span texts that do not occur in the sentence, FLAN's own 2022 copy of this task reads it,
  and so do our SuperGLUE/FewGLUE rows.
- `cnn_dailymail` keeps the article after its dateline or byline header. FLAN 2021 kept the text
  before the first header separator (`split(...)[-1][0]`), which leaves only the header
  ("By . Daily Mail Reporter . PUBLISHED: ...") or "LONDON, England (CNN" of many articles; FLAN's
  2022 copy of the task (`flan/v2/task_configs_v1.py`) fixes it to the last piece, as here.
- `sentiment140` applies the two-class filter FLAN wrote but never put in the task's
  preprocessors: neutral tweets (polarity 2, only in the test split) are skipped instead of being
  labelled "negative".

Clusters: FLAN's paper groups the tasks into 12 clusters; `task_splits.py` uses 17 names, mapped
(`PAPER_CLUSTERS`) as the paper's Figure 3 does: entailment → NLI, open_domain_qa → closed-book
QA, structure_to_text → struct-to-text, common_sense → commonsense, read_comp_and_common_sense →
read. comp. w/ commonsense, and text_formatting, math, conversational_qa, word_disambiguation,
linguistic_acceptability, question_classification → misc; the others keep their names.

Category (our single-level taxonomy, SuperNI's category names) and source (SuperNI's `Source`
spelling where SuperNI has the dataset, else the dataset's name). Category rule: the category of a
SuperNI task built from the same dataset doing the same task (named in "why"); otherwise the
FLAN cluster's category ("cluster"). Train rows: the rows FLAN's train split string selects,
from the split sizes TFDS publishes (before row filters); provenance H = Hugging Face
`datasets/<name>/dataset_infos.json` at commit d7dfbc8 (the same release files as TFDS's),
T = TFDS's catalog (`docs/catalog/<name>.md`), where H lacks the dataset or counts differently.

| task | FLAN cluster | category | why | source | train rows |
|---|---|---|---|---|---|
| aeslc | summarization | Summarization | cluster | aeslc | 14,436 (H) |
| cnn_dailymail | summarization | Summarization | task1553 | cnn_dailymail | 30,000 of 287,113 (H) |
| gigaword | summarization | Title Generation | task288 | gigaword | 30,000 of 3,803,957 (H) |
| multi_news | summarization | Summarization | task1291 | multi_news | 30,000 of 44,972 (H) |
| newsroom | summarization | Summarization | cluster | newsroom | 30,000 of 995,041 (H) |
| samsum | summarization | Summarization | task1572 | samsum | 14,732 (H) |
| xsum | summarization | Summarization | task1290 | xsum | 30,000 of 204,045 (H) |
| ag_news_subset | summarization | Text Categorization | task1541, task379 | ag_news | 30,000 of 120,000 (H) |
| opinion_abstracts_rotten_tomatoes | summarization | Summarization | cluster | opinion_abstracts_rotten_tomatoes | 3,131 = 3,731 − 600 (T) |
| opinion_abstracts_idebate | summarization | Summarization | cluster | opinion_abstracts_idebate | 1,659 = 2,259 − 600 (T) |
| wiki_lingua_english_en | summarization | Summarization | cluster | wiki_lingua | 30,000 of 99,020 (H) |
| web_nlg_en | struct-to-text | Data to Text | task1728 | web_nlg | 30,000 of 35,426 (H) |
| common_gen | struct-to-text | Data to Text | task102 | commongen | 30,000 of 67,389 (H) |
| e2e_nlg | struct-to-text | Data to Text | task957 | e2e | 30,000 of 33,525 (H) |
| dart | struct-to-text | Data to Text | task1409 | dart | 30,000 of 62,659 (H) |
| squad_v1 | reading comprehension | Question Answering | task075 | squad_1.1 | 30,000 of 87,599 (H) |
| squad_v2 | reading comprehension | Question Answering | cluster ¹ | squad2.0 | 30,000 of 130,319 (H) |
| drop | reading comprehension | Question Answering | task028 | drop | 30,000 of 77,400 (H) |
| multirc | reading comprehension | Answer Verification | task1392 | multirc | 27,043 = 27,243 − 200 (H) |
| openbookqa | reading comprehension | Question Answering | task1286 | openbookqa | 4,957 (H) |
| bool_q | reading comprehension | Question Answering | task380 | boolq | 9,227 = 9,427 − 200 (H) |
| trivia_qa | closed-book QA | Question Answering | task1564 | triviaqa | 30,000 of 138,384 (H) |
| natural_questions | closed-book QA | Question Answering | task582 | natural_questions | 30,000 of 87,925 (H) |
| arc_challenge | closed-book QA | Question Answering | task229 | arc | 919 = 1,119 − 200 (H) |
| arc_easy | closed-book QA | Question Answering | task228 | arc | 2,051 = 2,251 − 200 (H) |
| glue_mrpc | paraphrase | Text Matching | task1288 | mrpc | 3,468 = 3,668 − 200 (H) |
| glue_qqp | paraphrase | Text Matching | task1287 | qqp | 30,000 of 363,846 (H) |
| paws_wiki | paraphrase | Text Matching | task400 | paws | 30,000 of 49,401 (H) |
| stsb | paraphrase | Text Matching | task1347 | sts_b | 5,649 = 5,749 − 100 (H) |
| imdb_reviews | sentiment | Sentiment Analysis | task284 | imdb | 24,800 = 25,000 − 200 (H) |
| sentiment140 | sentiment | Sentiment Analysis | task195 | sentiment140 | 30,000 of 1,600,000 (H) |
| yelp_polarity_reviews | sentiment | Sentiment Analysis | task475 | yelp_polarity | 30,000 of 560,000 (H) |
| sst2 | sentiment | Sentiment Analysis | task363 | sst2 | 30,000 of 67,349 (H) |
| true_case | misc | Misc. | cluster | para_crawl_en_da | 30,000 of 2,414,895 (H) |
| fix_punct | misc | Misc. | cluster | para_crawl_en_da | 30,000 of 2,414,895 (H) |
| word_segment | misc | Misc. | cluster | para_crawl_en_da | 30,000 of 2,414,895 (H) |
| copa | commonsense | Cause Effect Classification | task1393, task827 | copa | 350 = 400 − 50 (H) |
| hellaswag | commonsense | Text Completion | task1389 | hellaswag | 30,000 of 39,905 (H) |
| story_cloze | commonsense | Text Completion | task296 | roc_stories | 1,671 = 1,871 − 200, of validation (H) |
| piqa | commonsense | Question Answering | task080 | piqa | 16,013 = 16,113 − 100 (H) |
| para_crawl_enes | translation | Translation | cluster | para_crawl_en_es | 30,000 of 21,987,267 (H) |
| wmt14_enfr | translation | Translation | cluster | wmt14_fr_en | 30,000 of 40,836,715 (H) |
| wmt16_translate_deen | translation | Translation | cluster | wmt16_de_en | 30,000 of 4,548,885 (H) |
| wmt16_translate_tren | translation | Translation | cluster | wmt16_tr_en | 30,000 of 205,756 (H) |
| wmt16_translate_csen | translation | Translation | cluster | wmt16_cs_en | 30,000 of 997,240 (H) |
| wmt16_translate_fien | translation | Translation | cluster | wmt16_fi_en | 30,000 of 2,073,394 (H) |
| wmt16_translate_roen | translation | Translation | cluster | wmt16_ro_en | 30,000 of 610,320 (H) |
| wmt16_translate_ruen | translation | Translation | cluster | wmt16_ru_en | 30,000 of 1,516,162 (H) |
| definite_pronoun_resolution | coreference | Coreference Resolution | cluster | definite_pronoun_resolution | 1,122 = 1,322 − 200 (H) |
| winogrande | coreference | Coreference Resolution | task033, task1391 | winogrande | 30,000 of 40,398 train_xl (H) |
| wsc | coreference | Coreference Resolution | task1390 | wsc_fiexed | 504 = 554 − 50 (H) |
| wsc273 | coreference | Coreference Resolution | task648 | winograd_wsc | 0 (test only: 273) (H) |
| anli_r1 | NLI | Textual Entailment | task1385 | anli | 16,946 (H) |
| anli_r2 | NLI | Textual Entailment | task1386 | anli | 30,000 of 45,460 (H) |
| anli_r3 | NLI | Textual Entailment | task1387 | anli | 30,000 of 100,459 (H) |
| cb | NLI | Textual Entailment | task1388 | cb | 200 = 250 − 50 (H) |
| rte | NLI | Textual Entailment | task1344 | rte | 2,290 = 2,490 − 200 (H) |
| mnli_matched | NLI | Textual Entailment | task199 | multinli | 30,000 of 392,702 (H) |
| mnli_mismatched | NLI | Textual Entailment | task199 | multinli | 30,000 of 392,702 (H) |
| qnli | NLI | Textual Entailment | cluster | qnli | 30,000 of 104,743 (H) |
| wnli | NLI | Textual Entailment | cluster | wnli | 605 = 635 − 30 (H) |
| snli | NLI | Textual Entailment | task190 | snli | 30,000 of 550,152 (H) |
| math_dataset | misc | Mathematics | cluster ² | math_dataset | 30,000 of 1,999,998 (H) |
| quac | misc | Question Answering | cluster | quac | 30,000 of 83,568 (T) |
| coqa | misc | Question Answering | task918 | coqa | 7,099 = 7,199 − 100 (H) |
| wic | misc | Word Sense Disambiguation | test split ³ | wic | 5,228 = 5,428 − 200 (H) |
| cola | misc | Grammar Error Detection | task1346 | cola | 8,351 = 8,551 − 200 (H) |
| trec | misc | Question Understanding | task1289 | trec | 5,252 = 5,452 − 200 (H) |
| record | read. comp. w/ commonsense | Question Answering | task339, task302 | record | 30,000 of 100,730 (H) |
| cosmos_qa | read. comp. w/ commonsense | Question Answering | task024 | cosmosqa | 25,062 = 25,262 − 200 (H) |

Cluster categories: NLI → Textual Entailment, summarization → Summarization, translation →
Translation, coreference → Coreference Resolution, reading comprehension, closed-book QA and
conversational QA → Question Answering, misc → "Misc." (SuperNI's catch-all: the text-formatting
tasks are mechanical rewrites; Grammar Error Correction, the nearest named category, is a fully
held-out dev category they do not belong to). Notes: ¹ SuperNI's squad2.0 tasks generate
questions or classify answerability, not answer them. ² SuperNI's category for arithmetic
problems; misc has no better one. ³ The category OPT-IML Bench's test split gives WiC (SuperNI's
`xl_wic` tasks say Word Semantics). task288 is SuperNI's Gigaword headline generation (Title
Generation); task1392 is MultiRC answer verification, as FLAN's multirc templates ask whether a
response is correct.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Mapping, Sequence

import numpy as np

NUM_TRAIN_EXAMPLES = 30000  # FLAN's per-task cap on training rows.
SPLITS = ("train", "validation", "test")

Fields = dict[str, str | list[str]]

# `task_splits.py`'s cluster names → the 12 clusters of FLAN's paper (Figure 3).
PAPER_CLUSTERS = {
    "summarization": "summarization", "structure_to_text": "struct-to-text",
    "reading_comprehension": "reading comprehension", "open_domain_qa": "closed-book QA",
    "paraphrase": "paraphrase", "sentiment": "sentiment", "text_formatting": "misc",
    "common_sense": "commonsense", "translation": "translation", "coreference": "coreference",
    "entailment": "NLI", "math": "misc", "conversational_qa": "misc", "word_disambiguation": "misc",
    "linguistic_acceptability": "misc", "question_classification": "misc",
    "read_comp_and_common_sense": "read. comp. w/ commonsense",
}

LABEL_OUTSIDE_OPTIONS = "label -1 or outside the options (unlabelled row)"
NO_GOLD_ANSWER = "no gold answer"


class RowSkipped(Exception):
    """A row FLAN's preprocessor filters out or cannot process; the reader counts `reason`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def options_text(options: Sequence[str]) -> str:
    """FLAN's `{options_}` (and ReCoRD's `{options_str}`): the options as a dashed list."""
    return "OPTIONS:\n- " + "\n- ".join(options)


@dataclasses.dataclass(frozen=True)
class FlanTask:
    """One FLAN task: its PATTERNS key, TFDS source and split strings, taxonomy and preprocessor.

    `superglue_subset`: for FLAN's SuperGLUE tasks, the subset of
    `optiml_jax.data.formats.superglue` whose rows (original SuperGLUE / FewGLUE files) can stand
    in for the TFDS rows; `from_superglue` maps such a row to the TFDS example `fields` expects
    (None when the features are the same).
    """

    name: str
    patterns_key: str
    tfds_name: str
    train_split: str | None
    validation_split: str | None
    test_split: str
    flan_cluster: str
    category: str
    source: str
    num_train_examples: int
    fields: Callable[[Mapping], Fields]
    superglue_subset: str | None = None
    from_superglue: Callable[[Mapping], Mapping] | None = None

    def split(self, name: str) -> str:
        """FLAN's split string (a TFDS slice) for `train`, `validation` or `test`."""
        if name not in SPLITS:
            raise ValueError(f"flan:{self.name}: unknown split {name!r}; splits are {SPLITS}.")
        split = {"train": self.train_split, "validation": self.validation_split, "test": self.test_split}[name]
        if split is None:
            raise ValueError(f"flan:{self.name}: FLAN defines no {name} split for {self.tfds_name} "
                             f"(only {self.test_split!r} exists); use split='test'.")
        return split


# -- reading TFDS values ------------------------------------------------------------------------

def _text(value) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8")
    if isinstance(value, str):
        return value
    raise TypeError(f"expected text, found {type(value).__name__}")


def _texts(values) -> list[str]:
    return [_text(value) for value in values]


def _ascii_strip(text: str) -> str:
    """`tf.strings.strip`: ASCII whitespace only."""
    return text.strip(" \t\n\r\x0b\x0c")


def _ascii_lower(text: str) -> str:
    """`tf.strings.lower` (no encoding given): only A-Z change."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# RE2 (TensorFlow's regex engine) reads \w and \s as ASCII classes; Python's `re` would not.
_RE2_SPACE = r"[\t\n\f\r ]"
_NOT_WORD_OR_SPACE = re.compile(r"[^0-9A-Za-z_\t\n\f\r ]")


def _numbered(items: Sequence[str]) -> str:
    """FLAN's `enumerate_items`: "1. a\\n2. b"."""
    return "\n".join(f"{number}. {item}" for number, item in enumerate(items, start=1))


def _answer(options: Sequence[str], label) -> str:
    """options[label], as FLAN's one-hot mask picks it; a label outside them cannot be rendered."""
    label = int(label)
    if not 0 <= label < len(options):
        raise RowSkipped(LABEL_OUTSIDE_OPTIONS)
    return options[label]


def _references(first: str, others: Sequence[str]) -> list[str]:
    if not first:
        raise RowSkipped(NO_GOLD_ANSWER)
    return [first, *others]


# -- preprocessors, one per FLAN `_process_<task>` (and its filter) ------------------------------

def _copied(**features: str) -> Callable[[Mapping], Fields]:
    """Template fields that are TFDS features copied as text (template field = feature)."""
    return lambda row: {field: _text(row[feature]) for field, feature in features.items()}


def _choice(options_of: Callable[[Mapping], list[str]], label_of: Callable[[Mapping], int],
            **features: str) -> Callable[[Mapping], Fields]:
    """A classification row: options (from the row, for multiple choice), the answer its label
    picks, and template fields copied from features."""
    copy = _copied(**features)

    def fields(row: Mapping) -> Fields:
        options = options_of(row)
        return {**copy(row), "options": options, "answer": _answer(options, label_of(row))}
    return fields


def _labelled(options: Sequence[str], label: str = "label", **features: str) -> Callable[[Mapping], Fields]:
    """A classification row with constant `options` and the answer picked by the `label` feature."""
    return _choice(lambda row: list(options), lambda row: row[label], **features)


def _gem(**derived: Callable[[Mapping], str]) -> Callable[[Mapping], Fields]:
    """GEM data-to-text rows: template fields computed from the row, the `target`, and FLAN's
    references (the row's `references` plus its `target`)."""
    def fields(row: Mapping) -> Fields:
        target = _text(row["target"])
        others = [r for r in dict.fromkeys(_texts(row["references"])) if r != target]
        computed = {field: compute(row) for field, compute in derived.items()}
        return {**computed, "target": target, "answers": _references(target, others)}
    return fields


def _translation(language: str, code: str) -> Callable[[Mapping], Fields]:
    return lambda row: {"lang1": "English", "lang2": language, "sent1": _text(row["en"]), "sent2": _text(row[code])}


def _aeslc(row: Mapping) -> Fields:
    body, subject = _text(row["email_body"]), _text(row["subject_line"])
    if not (body + subject):
        raise RowSkipped("empty email and subject line (FLAN filters them)")
    return {"body": body.replace("\n", " "), "subject": subject.replace("\n", "")}


def _cnn_dailymail(row: Mapping) -> Fields:
    article = _text(row["article"])
    for separator in ("2013 . ", "2014 . ", "2012 . ", ") -- "):  # Byline dates, then "(CNN) -- ".
        article = article.split(separator)[-1]
    return {"text": article, "highlights": _text(row["highlights"])}


def _gigaword(row: Mapping) -> Fields:
    text, summary = _text(row["document"]), _text(row["summary"])
    if re.fullmatch(r".*UNK.*", text + summary) or re.fullmatch(r".*#.*", text + summary):
        raise RowSkipped("contains UNK or # (FLAN filters them)")
    return {"text": text, "summary": summary}


def _rotten_tomatoes(row: Mapping) -> Fields:
    reviews = _texts(row["_critics"]["value"])
    if not reviews:
        raise RowSkipped("no critic reviews")
    return {"critic_consensus": _text(row["_critic_consensus"]), "movie": _text(row["_movie_name"]).replace("_", " "),
            "first_review": reviews[0], "numbered_reviews": _numbered(reviews[:10])}


def _idebate(row: Mapping) -> Fields:
    return {"claim": _text(row["_claim"]), "debate_name": _text(row["_debate_name"]),
            "argument_sentences": _numbered(_texts(row["_argument_sentences"]["value"])[:10])}


def _coqa(row: Mapping) -> Fields:
    return {"text": _text(row["story"]), "numbered_questions": _numbered(_texts(row["questions"])),
            "numbered_answers": _numbered(_texts(row["answers"]["input_text"]))}


def _samsum(row: Mapping) -> Fields:
    dialogue = re.sub(r"<.*>", " ", _text(row["dialogue"]).replace("\r\n", "\n"))
    return {"summary": _text(row["summary"]), "dialogue": dialogue}


def _squad(unanswerable: bool) -> Callable[[Mapping], Fields]:
    def fields(row: Mapping) -> Fields:
        if unanswerable and bool(row["is_impossible"]):
            answers = ["unanswerable"]
        else:
            answers = list(dict.fromkeys(_texts(row["answers"]["text"])))
            if not answers:
                raise RowSkipped(NO_GOLD_ANSWER)
        return {"title": _text(row["title"]).replace("_", " "), "context": _text(row["context"]),
                "question": _text(row["question"]), "answer": answers[0], "answers": answers}
    return fields


def _drop(row: Mapping) -> Fields:
    # FLAN scores against `answer` alone; the validated answers are further gold references.
    answer = _text(row["answer"])
    others = [a for a in dict.fromkeys(_texts(row["validated_answers"])) if a != answer]
    return {"context": _text(row["passage"]), "question": _text(row["question"]), "answer": answer,
            "answers": _references(answer, others)}


def _quac(row: Mapping) -> Fields:
    answer = _text(row["orig_answer"]["text"])
    if not answer:
        raise RowSkipped(NO_GOLD_ANSWER)
    return {"title": _text(row["title"]), "background": _text(row["background"]), "context": _text(row["context"]),
            "question": _text(row["question"]), "answer": answer}


def _natural_questions(row: Mapping) -> Fields:
    answers = list(dict.fromkeys(_texts(row["answer"])))
    if not answers:
        raise RowSkipped(NO_GOLD_ANSWER)
    return {"question": _text(row["question"]) + "?", "answer": answers[0], "answers": answers}


def _trivia_qa(row: Mapping) -> Fields:
    answer = _text(row["answer"]["normalized_value"])
    aliases = [a for a in dict.fromkeys(_texts(row["answer"]["normalized_aliases"])) if a != answer]
    return {"question": _text(row["question"]), "answer": answer, "answers": _references(answer, aliases)}


def _record(row: Mapping) -> Fields:
    query = _text(row["query"])
    if "@placeholder" not in query:
        raise RowSkipped("query has no @placeholder")
    parts = query.split("@placeholder")
    query_left, query_right = _ascii_strip(parts[0]), parts[1]
    # Entities and answers end with the query's text after the placeholder, so an option reads
    # as the rest of the query.
    options = [entity + query_right for entity in _texts(row["entities"])]
    answers = [answer + query_right for answer in _texts(row["answers"])]
    if not answers:
        raise RowSkipped(NO_GOLD_ANSWER)
    return {"answer": answers[0], "passage": _text(row["passage"]).split("\n@highlight")[0], "query": query_left,
            "answers": answers, "options_str": options_text(options), "options": options}


def _math_dataset(row: Mapping) -> Fields:
    return {"question": _text(row["question"]), "answer": _text(row["answer"])}


def _arc(row: Mapping) -> Fields:
    options = _texts(row["choices"]["text"])
    if len(options) != 4:
        raise RowSkipped("not a four-choice question (FLAN keeps only those)")
    return {"question": _text(row["question"]), "options": options, "answer": _answer(options, row["answerKey"])}


def _sentiment140(row: Mapping) -> Fields:
    polarity = int(row["polarity"])
    if polarity not in (0, 1, 3, 4):
        raise RowSkipped("neutral tweet (FLAN's task has two classes)")
    return {"text": _text(row["text"]), "options": ["negative", "positive"],
            "answer": "positive" if polarity in (3, 4) else "negative"}


def _imdb(row: Mapping) -> Fields:
    return {"text": _text(row["text"]).replace("<br />", "\n"), "options": ["negative", "positive"],
            "answer": _answer(["negative", "positive"], row["label"])}


def _yelp(row: Mapping) -> Fields:
    text = re.sub(r'\\""', '"', _text(row["text"]))  # The CSV's escaped quotes and newlines.
    text = re.sub(r"\\n", " ", text)
    return {"text": text, "options": ["negative", "positive"],
            "answer": _answer(["negative", "positive"], row["label"])}


def _qqp(row: Mapping) -> Fields:
    questions = {field: _text(row[field]).replace('""', "'") for field in ("question1", "question2")}
    return {**questions, "options": ["no", "yes"], "answer": _answer(["no", "yes"], row["label"])}


def _stsb(row: Mapping) -> Fields:
    options = ["0", "1", "2", "3", "4", "5"]
    answer = f"{float(row['label']):.0f}"  # `tf.strings.as_string(label, precision=0)`.
    if answer not in options:
        raise RowSkipped(LABEL_OUTSIDE_OPTIONS)
    return {"sentence1": _text(row["sentence1"]), "sentence2": _text(row["sentence2"]), "options": options,
            "answer_str": answer}


def _winogrande(row: Mapping) -> Fields:
    sentence = _text(row["sentence"])
    if "_" not in sentence:
        raise RowSkipped("sentence has no _ blank")
    context, rest = sentence.split("_")[:2]
    options = [_text(row["option1"]) + rest, _text(row["option2"]) + rest]
    return {"context": context, "options": options, "answer": _answer(options, row["label"])}


def _wsc273(row: Mapping) -> Fields:
    # FLAN slices bytes (`tf.strings.substr`); the options end with the text after the pronoun.
    text = row["text"] if isinstance(row["text"], bytes) else _text(row["text"]).encode("utf-8")
    prefix = _ascii_strip(text[:int(row["pronoun_start"])].decode("utf-8"))
    suffix = _ascii_strip(text[int(row["pronoun_end"]):].decode("utf-8"))
    options = [f"{_text(row['option1_normalized'])} {suffix}", f"{_text(row['option2_normalized'])} {suffix}"]
    return {"context": prefix, "options": options, "answer": _answer(options, row["label"])}


def _story_cloze(row: Mapping) -> Fields:
    options = _texts(row["endings"])
    return {"context": _text(row["context"]), "options": options, "answer": _answer(options, int(row["label"]) - 1)}


def _hellaswag(row: Mapping) -> Fields:
    # Brackets like "[header]" and "[step]" are hard to generate: headers go, the others become newlines.
    context = re.sub(r"\[header\]" + _RE2_SPACE, "", _text(row["context"]))
    context = re.sub(r"\[.*?\]" + _RE2_SPACE, "\n", context)
    options = [re.sub(r"\[.*?\]" + _RE2_SPACE, "", ending) for ending in _texts(row["endings"])]
    return {"context": context, "options": options, "activity_label": _text(row["activity_label"]),
            "answer": _answer(options, row["label"])}


def _openbookqa(row: Mapping) -> Fields:
    question = row["question"]
    options = [_text(question[f"choice_{letter}"]) for letter in "ABCD"]
    return {"question": _text(question["stem"]), "fact": _text(row["fact1"]), "options": options,
            "answer": _answer(options, row["answerKey"])}


def _true_case(row: Mapping) -> Fields:
    text = _text(row["en"])
    if _ascii_lower(text) == text:
        raise RowSkipped("already lower case (FLAN filters it)")
    return {"lower": _ascii_lower(text), "answer": text}


def _fix_punct(row: Mapping) -> Fields:
    text = _text(row["en"])
    no_punct = _NOT_WORD_OR_SPACE.sub("", text)
    if no_punct == text:
        raise RowSkipped("no punctuation (FLAN filters it)")
    return {"no_punct": no_punct, "answer": text}


def _word_segment(row: Mapping) -> Fields:
    text = _text(row["en"])
    return {"no_space": text.replace(" ", ""), "answer": text}


def _dart_tripleset(row: Mapping) -> str:
    # Drops cells such as "[TABLECONTEXT]" and "[TITLE]".
    return re.sub(r"\[(.*?)\]", "", "; ".join(_texts(row["tripleset"])))


def _e2e_meaning_representation(row: Mapping) -> str:
    return _text(row["meaning_representation"]).replace("[", " = ").replace("]", "")


def _web_nlg_input(row: Mapping) -> str:
    return "; ".join(_texts(row["input"])).replace("_", " ").replace(" | ", ", ")


def _boolq_from_superglue(row: Mapping) -> Mapping:
    """SuperGLUE's BoolQ passage is "<title> -- <passage>"; TFDS `bool_q` keeps them apart."""
    title, separator, passage = row["passage"].partition(" -- ")
    if not separator:
        title, passage = "", row["passage"]
    return {"question": row["question"], "title": title, "passage": passage, "answer": row["label"]}


# -- the table ----------------------------------------------------------------------------------

_TRAIN_LESS_VALIDATION = ("train[:-200]", "train[-200:]", "validation")  # FLAN keeps 200 train rows for validation.
_CAPPED_TRAIN = ("train[:30000]", "train[-200:]", "validation")
_CAPPED_OWN_VALIDATION = ("train[:30000]", "validation[:200]", "test")  # FLAN's SPLITS_DICT.
_OPINION_ABSTRACTS = ("train[:-600]", "train[-600:-500]", "train[-500:]")
_PARA_CRAWL_EN_DA_TEST = "train[-3000:]"


def _task(name: str, key: str, tfds_name: str, splits: tuple, cluster: str, category: str, source: str,
          num_train: int, fields: Callable[[Mapping], Fields], superglue: str | None = None,
          from_superglue: Callable[[Mapping], Mapping] | None = None) -> FlanTask:
    train, validation, test = splits
    return FlanTask(name, key, tfds_name, train, validation, test, PAPER_CLUSTERS[cluster], category, source, num_train,
                    fields, superglue, from_superglue)


_NLI3 = ("yes", "it is not possible to tell", "no")
_WMT16 = (("de", "German"), ("tr", "Turkish"), ("cs", "Czech"), ("fi", "Finnish"), ("ro", "Romanian"),
          ("ru", "Russian"))
_PARA_CRAWL_EN_DA = "para_crawl/enda:1.2.0"
_CAP = NUM_TRAIN_EXAMPLES

_TASK_LIST = [
    # summarization
    _task("aeslc", "aeslc", "aeslc:1.0.0", ("train", "validation[-200:]", "test"), "summarization", "Summarization",
          "aeslc", 14436, _aeslc),
    _task("cnn_dailymail", "cnn_dailymail", "cnn_dailymail:3.4.0", _CAPPED_OWN_VALIDATION, "summarization",
          "Summarization", "cnn_dailymail", _CAP, _cnn_dailymail),
    _task("gigaword", "gigaword", "gigaword:1.2.0", _CAPPED_OWN_VALIDATION, "summarization", "Title Generation",
          "gigaword", _CAP, _gigaword),
    _task("multi_news", "multi_news", "multi_news:2.1.0", _CAPPED_OWN_VALIDATION, "summarization", "Summarization",
          "multi_news", _CAP, _copied(text="document", summary="summary")),
    _task("newsroom", "newsroom", "newsroom:1.0.0", _CAPPED_OWN_VALIDATION, "summarization", "Summarization",
          "newsroom", _CAP, _copied(text="text", title="title", summary="summary")),
    _task("samsum", "samsum", "samsum:1.0.0", ("train", "validation[:200]", "test"), "summarization", "Summarization",
          "samsum", 14732, _samsum),
    _task("xsum", "xsum", "xsum:1.1.0", _CAPPED_OWN_VALIDATION, "summarization", "Summarization", "xsum", _CAP,
          _copied(text="document", summary="summary")),
    _task("ag_news_subset", "ag_news_subset", "ag_news_subset:1.0.0", ("train[:30000]", "train[-200:]", "test"),
          "summarization", "Text Categorization", "ag_news", _CAP,
          _labelled(("World", "Sports", "Business", "Science/Tech"), title="title", text="description")),
    _task("opinion_abstracts_rotten_tomatoes", "opinion_abstracts_rotten_tomatoes",
          "opinion_abstracts/rotten_tomatoes:1.0.0", _OPINION_ABSTRACTS, "summarization", "Summarization",
          "opinion_abstracts_rotten_tomatoes", 3131, _rotten_tomatoes),
    _task("opinion_abstracts_idebate", "opinion_abstracts_idebate", "opinion_abstracts/idebate:1.0.0",
          _OPINION_ABSTRACTS, "summarization", "Summarization", "opinion_abstracts_idebate", 1659, _idebate),
    _task("wiki_lingua_english_en", "wiki_lingua_english_en", "gem/wiki_lingua_english_en:1.1.0",
          _CAPPED_OWN_VALIDATION, "summarization", "Summarization", "wiki_lingua", _CAP,
          _copied(source="source", target="target")),
    # structure to text
    _task("web_nlg_en", "web_nlg_en", "gem/web_nlg_en:1.1.0", _CAPPED_TRAIN, "structure_to_text", "Data to Text",
          "web_nlg", _CAP, _gem(input_string=_web_nlg_input)),
    _task("common_gen", "common_gen", "gem/common_gen:1.1.0", _CAPPED_TRAIN, "structure_to_text", "Data to Text",
          "commongen", _CAP, _gem(concepts=lambda row: ", ".join(_texts(row["concepts"])),
                                  concepts_newline=lambda row: "\n".join(_texts(row["concepts"])))),
    _task("e2e_nlg", "e2e_nlg", "gem/e2e_nlg:1.1.0", _CAPPED_TRAIN, "structure_to_text", "Data to Text", "e2e", _CAP,
          _gem(meaning_representation=_e2e_meaning_representation)),
    _task("dart", "dart", "gem/dart:1.1.0", _CAPPED_TRAIN, "structure_to_text", "Data to Text", "dart", _CAP,
          _gem(tripleset=_dart_tripleset, tripleset_newline=lambda row: "\n".join(_texts(row["tripleset"])))),
    # reading comprehension
    _task("squad_v1", "squad_v1", "squad/v1.1:3.0.0", _CAPPED_TRAIN, "reading_comprehension", "Question Answering",
          "squad_1.1", _CAP, _squad(unanswerable=False)),
    _task("squad_v2", "squad_v2", "squad/v2.0:3.0.0", _CAPPED_TRAIN, "reading_comprehension", "Question Answering",
          "squad2.0", _CAP, _squad(unanswerable=True)),
    _task("drop", "drop", "drop:2.0.0", ("train[:30000]", "train[-200:]", "dev"), "reading_comprehension",
          "Question Answering", "drop", _CAP, _drop),
    _task("multirc", "multirc", "super_glue/multirc:1.0.2", _TRAIN_LESS_VALIDATION, "reading_comprehension",
          "Answer Verification", "multirc", 27043,
          _labelled(("no", "yes"), paragraph="paragraph", question="question", response="answer"), "multirc"),
    _task("openbookqa", "openbookqa", "openbookqa:0.1.0", ("train", "validation[:200]", "test"),
          "reading_comprehension", "Question Answering", "openbookqa", 4957, _openbookqa),
    _task("bool_q", "bool_q", "bool_q:1.0.0", _TRAIN_LESS_VALIDATION, "reading_comprehension", "Question Answering",
          "boolq", 9227, _labelled(("no", "yes"), "answer", title="title", text="passage", question="question"),
          "boolq", _boolq_from_superglue),
    # closed-book QA
    _task("trivia_qa", "trivia_qa", "trivia_qa/rc:1.1.0", _CAPPED_TRAIN, "open_domain_qa", "Question Answering",
          "triviaqa", _CAP, _trivia_qa),
    _task("natural_questions", "natural_questions", "natural_questions_open:1.0.0", _CAPPED_TRAIN, "open_domain_qa",
          "Question Answering", "natural_questions", _CAP, _natural_questions),
    _task("arc_challenge", "arc", "ai2_arc/ARC-Challenge:1.0.0", ("train[:-200]", "train[-200:]", "test"),
          "open_domain_qa", "Question Answering", "arc", 919, _arc),
    _task("arc_easy", "arc", "ai2_arc/ARC-Easy:1.0.0", ("train[:-200]", "train[-200:]", "test"), "open_domain_qa",
          "Question Answering", "arc", 2051, _arc),
    # paraphrase
    _task("glue_mrpc", "glue_mrpc", "glue/mrpc:2.0.0", _TRAIN_LESS_VALIDATION, "paraphrase", "Text Matching", "mrpc",
          3468, _labelled(("no", "yes"), sentence1="sentence1", sentence2="sentence2")),
    _task("glue_qqp", "glue_qqp", "glue/qqp:2.0.0", _CAPPED_TRAIN, "paraphrase", "Text Matching", "qqp", _CAP, _qqp),
    _task("paws_wiki", "paws_wiki", "paws_wiki:1.1.0", _CAPPED_OWN_VALIDATION, "paraphrase", "Text Matching", "paws",
          _CAP, _labelled(("no", "yes"), sentence1="sentence1", sentence2="sentence2")),
    _task("stsb", "stsb", "glue/stsb:2.0.0", ("train[:-100]", "train[-100:]", "validation"), "paraphrase",
          "Text Matching", "sts_b", 5649, _stsb),
    # sentiment
    _task("imdb_reviews", "imdb_reviews", "imdb_reviews/plain_text:1.0.0", ("train[:-200]", "train[-200:]", "test"),
          "sentiment", "Sentiment Analysis", "imdb", 24800, _imdb),
    _task("sentiment140", "sentiment140", "sentiment140:1.0.0", ("train[:30000]", "train[-200:]", "test"),
          "sentiment", "Sentiment Analysis", "sentiment140", _CAP, _sentiment140),
    _task("yelp_polarity_reviews", "yelp_polarity_reviews", "yelp_polarity_reviews:0.2.0",
          ("train[:30000]", "train[-200:]", "test"), "sentiment", "Sentiment Analysis", "yelp_polarity", _CAP, _yelp),
    _task("sst2", "sst2", "glue/sst2:2.0.0", _CAPPED_TRAIN, "sentiment", "Sentiment Analysis", "sst2", _CAP,
          _labelled(("negative", "positive"), sentence="sentence")),
    # text formatting: three consecutive 30,000-row windows of ParaCrawl en-da, as FLAN cuts them.
    _task("true_case", "true_case", _PARA_CRAWL_EN_DA, ("train[:30000]", "train[30000:30200]", _PARA_CRAWL_EN_DA_TEST),
          "text_formatting", "Misc.", "para_crawl_en_da", _CAP, _true_case),
    _task("fix_punct", "fix_punct", _PARA_CRAWL_EN_DA, ("train[30200:60200]", "train[60200:60400]",
                                                        _PARA_CRAWL_EN_DA_TEST),
          "text_formatting", "Misc.", "para_crawl_en_da", _CAP, _fix_punct),
    _task("word_segment", "word_segment", _PARA_CRAWL_EN_DA, ("train[60400:90400]", "train[90400:90600]",
                                                              _PARA_CRAWL_EN_DA_TEST),
          "text_formatting", "Misc.", "para_crawl_en_da", _CAP, _word_segment),
    # commonsense
    _task("copa", "copa", "super_glue/copa:1.0.2", ("train[:-50]", "train[-50:]", "validation"), "common_sense",
          "Cause Effect Classification", "copa", 350,
          _choice(lambda row: [_text(row["choice1"]), _text(row["choice2"])], lambda row: row["label"],
                  premise="premise", question="question"), "copa"),
    _task("hellaswag", "hellaswag", "hellaswag:1.1.0", _CAPPED_TRAIN, "common_sense", "Text Completion", "hellaswag",
          _CAP, _hellaswag),
    _task("story_cloze", "story_cloze", "story_cloze/2016:1.0.0", ("validation[:-200]", "validation[-200:]", "test"),
          "common_sense", "Text Completion", "roc_stories", 1671, _story_cloze),
    _task("piqa", "piqa", "piqa:1.0.0", ("train[:-100]", "train[-100:]", "validation"), "common_sense",
          "Question Answering", "piqa", 16013,
          _choice(lambda row: [_text(row["sol1"]), _text(row["sol2"])], lambda row: row["label"], goal="goal")),
    # translation
    _task("para_crawl_enes", "para_crawl", "para_crawl/enes:1.2.0", ("train[:30000]", "train[-1200:-1000]",
                                                                     "train[-1000:]"),
          "translation", "Translation", "para_crawl_en_es", _CAP, _translation("Spanish", "es")),
    _task("wmt14_enfr", "wmt14_enfr", "wmt14_translate/fr-en:1.0.0", _CAPPED_OWN_VALIDATION, "translation",
          "Translation", "wmt14_fr_en", _CAP, _translation("French", "fr")),
    *(_task(f"wmt16_translate_{code}en", "wmt16_translate", f"wmt16_translate/{code}-en:1.0.0", _CAPPED_OWN_VALIDATION,
            "translation", "Translation", f"wmt16_{code}_en", _CAP, _translation(language, code))
      for code, language in _WMT16),
    # coreference
    _task("definite_pronoun_resolution", "definite_pronoun_resolution", "definite_pronoun_resolution:1.1.0",
          ("train[:-200]", "train[-200:]", "test"), "coreference", "Coreference Resolution",
          "definite_pronoun_resolution", 1122,
          _choice(lambda row: _texts(row["candidates"]), lambda row: row["label"], sentence="sentence",
                  pronoun="pronoun")),
    _task("winogrande", "winogrande", "winogrande:1.2.0", ("train_xl[:30000]", "train_xl[-200:]", "validation"),
          "coreference", "Coreference Resolution", "winogrande", _CAP, _winogrande),
    _task("wsc", "wsc", "super_glue/wsc.fixed:1.0.2", ("train[:-50]", "train[-50:]", "validation"), "coreference",
          "Coreference Resolution", "wsc_fiexed", 504,
          _labelled(("no", "yes"), context="text", text1="span1_text", text2="span2_text"), "wsc.fixed"),
    _task("wsc273", "wsc273", "wsc273:1.0.0", (None, None, "test"), "coreference", "Coreference Resolution",
          "winograd_wsc", 0, _wsc273),
    # NLI
    _task("anli_r1", "anli", "anli/r1:0.1.0", ("train", "validation[:200]", "test"), "entailment",
          "Textual Entailment", "anli", 16946,
          _labelled(("Yes", "It's impossible to say", "No"), context="context", hypothesis="hypothesis")),
    *(_task(f"anli_{round_}", "anli", f"anli/{round_}:0.1.0", ("train[:30000]", "validation[:200]", "test"),
            "entailment", "Textual Entailment", "anli", _CAP,
            _labelled(("Yes", "It's impossible to say", "No"), context="context", hypothesis="hypothesis"))
      for round_ in ("r2", "r3")),
    _task("cb", "cb", "super_glue/cb:1.0.2", ("train[:-50]", "train[-50:]", "validation"), "entailment",
          "Textual Entailment", "cb", 200,
          _labelled(("Yes", "No", "It's impossible to say"), premise="premise", hypothesis="hypothesis"), "cb"),
    _task("rte", "rte", "super_glue/rte:1.0.2", _TRAIN_LESS_VALIDATION, "entailment", "Textual Entailment", "rte",
          2290, _labelled(("yes", "no"), premise="premise", hypothesis="hypothesis"), "rte"),
    *(_task(f"mnli_{genre}", "mnli", "glue/mnli:2.0.0", ("train[:30000]", "train[-200:]", f"validation_{genre}"),
            "entailment", "Textual Entailment", "multinli", _CAP,
            _labelled(_NLI3, premise="premise", hypothesis="hypothesis"))
      for genre in ("matched", "mismatched")),
    _task("qnli", "qnli", "glue/qnli:2.0.0", _CAPPED_TRAIN, "entailment", "Textual Entailment", "qnli", _CAP,
          _labelled(("yes", "no"), sentence="sentence", question="question")),
    _task("wnli", "wnli", "glue/wnli:2.0.0", ("train[:-30]", "train[-30:]", "validation"), "entailment",
          "Textual Entailment", "wnli", 605, _labelled(("no", "yes"), sentence1="sentence1", sentence2="sentence2")),
    _task("snli", "snli", "snli:1.1.0", _CAPPED_OWN_VALIDATION, "entailment", "Textual Entailment", "snli", _CAP,
          _labelled(_NLI3, premise="premise", hypothesis="hypothesis")),
    # misc
    _task("math_dataset", "math_dataset", "math_dataset/algebra__linear_1d:1.0.0",
          ("train[:30000]", "train[-200:]", "test"), "math", "Mathematics", "math_dataset", _CAP, _math_dataset),
    _task("quac", "quac", "quac:1.0.0", _CAPPED_TRAIN, "conversational_qa", "Question Answering", "quac", _CAP, _quac),
    _task("coqa", "coqa", "coqa:1.0.0", ("train[:-100]", "train[-100:]", "test"), "conversational_qa",
          "Question Answering", "coqa", 7099, _coqa),
    _task("wic", "wic", "super_glue/wic:1.0.2", _TRAIN_LESS_VALIDATION, "word_disambiguation",
          "Word Sense Disambiguation", "wic", 5228,
          _labelled(("different meanings", "the same meaning"), sentence1="sentence1", sentence2="sentence2",
                    word="word"), "wic"),
    _task("cola", "cola", "glue/cola:2.0.0", _TRAIN_LESS_VALIDATION, "linguistic_acceptability",
          "Grammar Error Detection", "cola", 8351, _labelled(("unacceptable", "acceptable"), sentence="sentence")),
    _task("trec", "trec", "trec:1.0.0", ("train[:-200]", "train[-200:]", "test"), "question_classification",
          "Question Understanding", "trec", 5252,
          _labelled(("description", "entity", "abbreviation", "human", "numeric", "location"), "label-coarse",
                    text="text")),
    # reading comprehension with commonsense
    _task("record", "record", "super_glue/record:1.0.2", _CAPPED_TRAIN, "read_comp_and_common_sense",
          "Question Answering", "record", _CAP, _record, "record"),
    _task("cosmos_qa", "cosmos_qa", "cosmos_qa:1.0.0", _TRAIN_LESS_VALIDATION, "read_comp_and_common_sense",
          "Question Answering", "cosmosqa", 25062,
          _choice(lambda row: [_text(row[f"answer{i}"]) for i in range(4)], lambda row: row["label"],
                  context="context", question="question")),
]

TASKS: dict[str, FlanTask] = {task.name: task for task in _TASK_LIST}
