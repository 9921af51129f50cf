"""FLAN 2021 tasks: PATTERNS read as data, the inverted-template rule, the 70-task table, FLAN's
preprocessors over FewGLUE rows and TFDS mock rows, and errors on bad input.

The templates and FewGLUE rows come from `OPTIML_DATA_DIR` (skipped when it is unset, failed
when `CI` is set); the TFDS rows are `tfds.testing.mock_data` rows or rows written here.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from optiml_jax.data.examples import DataFormatError, UnknownNameError
from optiml_jax.data.formats import READERS, flan_tasks
from optiml_jax.data.formats.flan import (load_flan_rows, original_templates, read_flan_task, read_patterns,
                                          render_flan_rows)
from optiml_jax.data.formats.flan_tasks import LABEL_OUTSIDE_OPTIONS, PAPER_CLUSTERS, TASKS, RowSkipped
from optiml_jax.data.formats.superglue import SUBSETS, read_superglue_rows

# Templates whose target differs from the key's first target (keys not listed have none).
INVERTED = {
    "rte": [9], "aeslc": [8, 9], "cnn_dailymail": [7, 8, 9], "gigaword": [8, 9], "multi_news": [8, 9],
    "newsroom": [7, 8, 9], "samsum": [7, 8, 9], "xsum": [8, 9], "squad_v1": [8, 9], "drop": [7, 8, 9],
    "quac": [8, 9], "para_crawl": [1, 4, 5, 8], "wmt16_translate": [1, 2, 3, 9], "wmt14_enfr": [1, 2, 3, 9],
    "true_case": [9], "word_segment": [8, 9], "cosmos_qa": [8, 9], "ag_news_subset": [8, 9], "imdb_reviews": [7, 8, 9],
    "sentiment140": [6, 7, 8, 9], "story_cloze": [8, 9], "copa": [8, 9], "yelp_polarity_reviews": [7, 8, 9],
    "arc": [7, 8, 9], "anli": [9], "coqa": [9], "opinion_abstracts_rotten_tomatoes": [7, 8, 9],
    "opinion_abstracts_idebate": [6, 7, 8, 9], "common_gen": [6, 7, 8, 9], "dart": [8, 9], "web_nlg_en": [8, 9],
    "wiki_lingua_english_en": [8, 9], "multirc": [8, 9], "cb": [9], "cola": [8, 9], "sst2": [8, 9], "qnli": [9],
    "snli": [9], "trec": [9], "stsb": [8, 9], "piqa": [8, 9], "openbookqa": [7, 8, 9],
}

FEWGLUE_FOLDERS = {"bool_q": "BoolQ", "cb": "CB", "copa": "COPA", "multirc": "MultiRC", "record": "ReCoRD",
                   "rte": "RTE", "wic": "WiC", "wsc": "WSC"}
# FLAN's option lists (`flan/tasks.py`); COPA's and ReCoRD's come from the row.
FLAN_OPTIONS = {"bool_q": ("no", "yes"), "cb": ("Yes", "No", "It's impossible to say"), "multirc": ("no", "yes"),
                "rte": ("yes", "no"), "wic": ("different meanings", "the same meaning"), "wsc": ("no", "yes")}

# `task_splits.py` `_DEFAULT_TASK_CLUSTERS_ABBREV`, flattened, plus wsc273.
FLAN_DEFAULT_TASKS = """aeslc cnn_dailymail gigaword multi_news newsroom samsum xsum ag_news_subset
opinion_abstracts_rotten_tomatoes opinion_abstracts_idebate wiki_lingua_english_en web_nlg_en common_gen e2e_nlg dart
squad_v1 squad_v2 drop multirc openbookqa bool_q trivia_qa natural_questions arc_challenge arc_easy glue_mrpc glue_qqp
paws_wiki stsb imdb_reviews sentiment140 yelp_polarity_reviews sst2 true_case fix_punct word_segment copa hellaswag
story_cloze piqa para_crawl_enes wmt14_enfr wmt16_translate_deen wmt16_translate_tren wmt16_translate_csen
wmt16_translate_fien wmt16_translate_roen wmt16_translate_ruen definite_pronoun_resolution winogrande wsc anli_r1
anli_r2 anli_r3 cb rte mnli_matched mnli_mismatched qnli wnli snli math_dataset quac coqa wic cola trec record
cosmos_qa""".split() + ["wsc273"]

MOCK_ROWS = 4
# Random mock rows cannot have the structure some FLAN preprocessors need; each such row is
# counted under this reason (and `test_realistic_rows_render_…` renders real-looking rows).
RANDOM_ROWS_SKIPPED = {
    "arc_challenge": "not a four-choice question (FLAN keeps only those)",
    "arc_easy": "not a four-choice question (FLAN keeps only those)",
    "sentiment140": "neutral tweet (FLAN's task has two classes)",
    "true_case": "already lower case (FLAN filters it)",
    "fix_punct": "no punctuation (FLAN filters it)",
    "hellaswag": LABEL_OUTSIDE_OPTIONS,
    "story_cloze": LABEL_OUTSIDE_OPTIONS,
    "winogrande": "sentence has no _ blank",
    "wsc273": LABEL_OUTSIDE_OPTIONS,
    "record": "query has no @placeholder",
}


def _data_dir() -> str:
    folder = os.environ.get("OPTIML_DATA_DIR")
    if folder:
        return folder
    if os.environ.get("CI"):
        pytest.fail("OPTIML_DATA_DIR must point at the shared data folder in CI (FLAN templates, FewGLUE).")
    pytest.skip("OPTIML_DATA_DIR is not set: these tests read FLAN's templates.py and FewGLUE from the data folder")


@pytest.fixture(scope="module")
def templates() -> str:
    return os.path.join(_data_dir(), "flan", "flan2021", "templates.py")


def _fewglue(task: str) -> str:
    return os.path.join(_data_dir(), "fewglue", "FewGLUE", FEWGLUE_FOLDERS[task], "train.jsonl")


def _first_split(task: str) -> str:
    return "test" if TASKS[task].train_split is None else "train"


# -- PATTERNS and the inverted-template rule ------------------------------------------------------

def test_read_patterns_reads_the_templates_file_without_running_it(templates, tmp_path):
    marker = tmp_path / "module_ran"
    copy = tmp_path / "templates.py"
    side_effect = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    copy.write_text(side_effect + open(templates, encoding="utf-8").read() + "\n" + side_effect, encoding="utf-8")

    patterns = read_patterns(str(copy))

    assert not marker.exists()
    assert patterns == read_patterns(templates)
    assert len(patterns) == 61 and sum(len(pairs) for pairs in patterns.values()) == 610


def test_original_templates_drop_exactly_the_inverted_templates_of_each_key(templates):
    patterns = read_patterns(templates)
    for key, pairs in patterns.items():
        expected = [i for i in range(len(pairs)) if i not in INVERTED.get(key, [])]
        assert original_templates(patterns, key) == expected, key
    assert sum(len(original_templates(patterns, key)) for key in patterns) == 513
    assert patterns["rte"][9][0] == "Generate a context and a hypothesis."


def test_original_templates_of_an_unknown_key_raise_with_close_matches(templates):
    with pytest.raises(UnknownNameError, match="rte"):
        original_templates(read_patterns(templates), "rtee")


# -- the task table -------------------------------------------------------------------------------

def test_the_table_holds_flans_default_tasks_plus_wsc273_over_every_patterns_key(templates):
    patterns = read_patterns(templates)
    assert sorted(TASKS) == sorted(FLAN_DEFAULT_TASKS) and len(TASKS) == 70
    assert {task.patterns_key for task in TASKS.values()} == set(patterns)
    assert {task.flan_cluster for task in TASKS.values()} == set(PAPER_CLUSTERS.values())
    assert len(set(PAPER_CLUSTERS.values())) == 12
    assert all(task.num_train_examples <= flan_tasks.NUM_TRAIN_EXAMPLES for task in TASKS.values())
    # OPT-IML's FLAN tasks average 8.5 prompts (Table 1); dropping inverted templates gives 8.26.
    assert sum(len(original_templates(patterns, t.patterns_key)) for t in TASKS.values()) == 578


def test_superglue_tasks_name_a_superglue_subset_with_a_row_mapping():
    subsets = {name: task.superglue_subset for name, task in TASKS.items() if task.superglue_subset}
    assert subsets == {"bool_q": "boolq", "cb": "cb", "copa": "copa", "multirc": "multirc", "record": "record",
                       "rte": "rte", "wic": "wic", "wsc": "wsc.fixed"}
    assert set(subsets.values()) <= set(SUBSETS)


def test_the_module_docstring_table_matches_the_task_table():
    table = [line for line in flan_tasks.__doc__.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [line.split(" | ") for line in table]
    documented = {cells[0].lstrip("| "): cells for cells in rows[1:]}
    assert sorted(documented) == sorted(TASKS)
    for name, (_, cluster, category, _, source, train_rows) in documented.items():
        task = TASKS[name]
        assert (cluster, category, source) == (task.flan_cluster, task.category, task.source), name
        assert int(re.match(r"[\d,]+", train_rows).group().replace(",", "")) == task.num_train_examples, name


def test_every_split_string_is_a_valid_tfds_slice():
    tfds = pytest.importorskip("tensorflow_datasets")
    for task in TASKS.values():
        for split in (task.train_split, task.validation_split, task.test_split):
            if split is not None:
                tfds.core.ReadInstruction.from_spec(split)


def test_reader_is_registered():
    assert READERS["flan"] is read_flan_task


# -- FewGLUE rows with FLAN's templates -----------------------------------------------------------

@pytest.mark.parametrize("task", sorted(FEWGLUE_FOLDERS))
def test_every_original_template_renders_every_fewglue_row_of_the_superglue_tasks(templates, task):
    path = _fewglue(task)
    rows = read_superglue_rows(path, TASKS[task].superglue_subset)
    for index in original_templates(read_patterns(templates), TASKS[task].patterns_key):
        data = read_flan_task(path, task, task=task, split="train", patterns=templates, template=index,
                              rows="superglue")

        assert data.skipped == {} and len(data.examples) == len(rows)
        for example, row in zip(data.examples, rows):
            assert example.id.endswith(f":t{index}") and example.row.startswith(f"{TASKS[task].superglue_subset}/")
            assert example.targets[0] in example.options
            if task in FLAN_OPTIONS:
                assert example.options == FLAN_OPTIONS[task]
            if task == "copa":
                assert example.options == (row["choice1"], row["choice2"])
            if task == "record":
                query_right = row["query"].split("@placeholder")[1]
                assert all(option.endswith(query_right) for option in example.options)
            if "{options_}" in read_patterns(templates)[TASKS[task].patterns_key][index][0]:
                assert "OPTIONS:\n- " + "\n- ".join(example.options) in example.input


def test_boolq_rows_of_superglue_split_title_from_passage(templates):
    data = read_flan_task(_fewglue("bool_q"), "bool_q", task="bool_q", split="train", patterns=templates, template=0,
                          rows="superglue")
    assert data.examples[0].input.startswith("Animation studio Production I.G")


def test_training_draws_one_original_template_per_row_reproducibly(templates):
    def drawn(seed: int) -> list[str]:
        data = read_flan_task(_fewglue("rte"), "flan_rte", task="rte", split="train", patterns=templates,
                              rows="superglue", seed=seed)
        return [example.id for example in data.examples]

    first = drawn(0)
    assert first == drawn(0) and first != drawn(1)
    used = {int(identity.split(":t")[1]) for identity in first}
    assert used <= set(range(9)) and len(used) > 3


# -- TFDS rows --------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_original_template_renders_tfds_mock_rows(templates, task, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=MOCK_ROWS):
        rows = load_flan_rows(None, task=task, split=_first_split(task), tfds_data_dir=str(tmp_path))
    expected_skips = {RANDOM_ROWS_SKIPPED[task]} if task in RANDOM_ROWS_SKIPPED else set()
    for index in [None, *original_templates(read_patterns(templates), TASKS[task].patterns_key)]:
        data = render_flan_rows(rows, task, task=task, patterns=templates, template=index)
        assert len(data.examples) + sum(data.skipped.values()) == MOCK_ROWS
        assert set(data.skipped) == expected_skips
        assert all(e.targets[0] in e.options for e in data.examples if e.options is not None)


@pytest.mark.parametrize("task", ["rte", "squad_v1", "wmt16_translate_deen"])
def test_read_flan_task_over_tfds_mock_rows_renders_the_loaded_rows(templates, task, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=MOCK_ROWS):
        data = read_flan_task(None, f"flan_{task}", task=task, split="train", patterns=templates, rows="tfds",
                              seed=3, tfds_data_dir=str(tmp_path))
        rows = load_flan_rows(None, task=task, split="train", tfds_data_dir=str(tmp_path))
    assert data == render_flan_rows(rows, f"flan_{task}", task=task, patterns=templates, seed=3)
    assert len(data.examples) == MOCK_ROWS and data.layout == "instance"
    spec = TASKS[task]
    assert [e.row for e in data.examples] == [f"{spec.tfds_name}/{spec.train_split}#{i}" for i in range(MOCK_ROWS)]


def _arc_row(answer: int) -> dict:
    return {"id": "q1", "question": "Which gas do plants take in?", "answerKey": answer,
            "choices": {"text": ["oxygen", "carbon dioxide", "helium", "neon"], "label": [0, 1, 2, 3]}}


_WSC273_TEXT = "The city councilmen refused the demonstrators a permit because they feared violence."
REALISTIC_ROWS = {  # builder name → rows, the features FLAN's preprocessors expect.
    "ai2_arc": [_arc_row(1)],
    "sentiment140": [{"text": "I love it", "date": "", "query": "", "user": "", "polarity": 4},
                     {"text": "It is a day", "date": "", "query": "", "user": "", "polarity": 2}],
    "para_crawl": [{"en": "Hello, World.", "da": "Hej, verden."}],
    "hellaswag": [{"context": "[header] How to paint [title] Buy paint. [step] Open it", "activity_label": "Home",
                   "endings": ["[substeps] Stir it.", "Drink it.", "Eat it.", "Sell it."], "label": 0,
                   "source_id": "", "split_type": ""}],
    "story_cloze": [{"context": "Ann was thirsty.", "endings": ["She drank water.", "She slept."], "label": 1}],
    "winogrande": [{"sentence": "Sarah was a much better surgeon than Maria so _ always got the harder cases.",
                    "option1": "Sarah", "option2": "Maria", "label": 0}],
    "wsc273": [{"text": _WSC273_TEXT, "pronoun_start": _WSC273_TEXT.index("they"),
                "pronoun_end": _WSC273_TEXT.index("they") + 4, "pronoun_text": "they", "option1": "The city councilmen",
                "option1_normalized": "city councilmen", "option2": "The demonstrators",
                "option2_normalized": "demonstrators", "label": 0, "idx": 0}],
    "super_glue": [{"passage": "Chelsea beat Olimpija.\n@highlight\nCosta scored",
                    "query": "@placeholder scored twice.", "entities": ["Chelsea", "Costa"], "answers": ["Costa"],
                    "idx": {"passage": 0, "query": 0}}],
}
# What FLAN's preprocessor makes of the realistic row (the fields checked).
_ARC_FIELDS = {"options": ["oxygen", "carbon dioxide", "helium", "neon"], "answer": "carbon dioxide"}
REALISTIC_FIELDS = {
    "arc_challenge": _ARC_FIELDS,
    "arc_easy": _ARC_FIELDS,
    "sentiment140": {"answer": "positive"},
    "true_case": {"lower": "hello, world.", "answer": "Hello, World."},
    "fix_punct": {"no_punct": "Hello World", "answer": "Hello, World."},
    "hellaswag": {"context": "How to paint \nBuy paint. \nOpen it", "answer": "Stir it."},
    "story_cloze": {"options": ["She drank water.", "She slept."], "answer": "She drank water."},
    "winogrande": {"context": "Sarah was a much better surgeon than Maria so ",
                   "options": ["Sarah always got the harder cases.", "Maria always got the harder cases."]},
    "wsc273": {"context": "The city councilmen refused the demonstrators a permit because",
               "options": ["city councilmen feared violence.", "demonstrators feared violence."]},
    "record": {"passage": "Chelsea beat Olimpija.", "query": "", "answer": "Costa scored twice.",
               "options": ["Chelsea scored twice.", "Costa scored twice."]},
}


def _realistic_dataset(builder, *args, **kwargs):
    import tensorflow as tf

    rows = REALISTIC_ROWS[builder.name]
    return tf.data.Dataset.from_generator(lambda: iter(rows), output_signature=builder.info.features.get_tensor_spec())


@pytest.mark.parametrize("task", sorted(RANDOM_ROWS_SKIPPED))
def test_realistic_rows_render_for_tasks_whose_random_rows_lack_flan_structure(templates, task, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(as_dataset_fn=_realistic_dataset):
        rows = load_flan_rows(None, task=task, split=_first_split(task), tfds_data_dir=str(tmp_path))
    fields = TASKS[task].fields(rows.rows[0][1])
    expected = REALISTIC_FIELDS[task]
    assert {name: fields[name] for name in expected} == expected
    for index in original_templates(read_patterns(templates), TASKS[task].patterns_key):
        data = render_flan_rows(rows, task, task=task, patterns=templates, template=index)
        [example] = data.examples
        assert example.options is None or example.targets[0] in example.options
    if task == "sentiment140":
        assert data.skipped == {RANDOM_ROWS_SKIPPED["sentiment140"]: 1}


@pytest.mark.parametrize("task, row, expected", [
    ("cnn_dailymail", {"article": b"By . Reporter . PUBLISHED: . 1 May 2013 . | . UPDATED: . 2 May 2013 . Rain fell.",
                       "highlights": b"Rain."}, {"text": "Rain fell."}),
    ("cnn_dailymail", {"article": b"LONDON, England (CNN) -- Rain fell.", "highlights": b"Rain."},
     {"text": "Rain fell."}),
    ("squad_v2", {"title": b"A_B", "context": b"c", "question": b"q?", "is_impossible": True,
                  "answers": {"text": []}}, {"title": "A B", "answer": "unanswerable", "answers": ["unanswerable"]}),
    ("trivia_qa", {"question": b"q", "answer": {"normalized_value": b"uk", "normalized_aliases": [b"britain", b"uk"]}},
     {"answer": "uk", "answers": ["uk", "britain"]}),
    ("common_gen", {"concepts": [b"dog", b"run"], "target": b"A dog runs.",
                    "references": [b"A dog runs.", b"Dogs run."]},
     {"concepts": "dog, run", "concepts_newline": "dog\nrun", "answers": ["A dog runs.", "Dogs run."]}),
    ("fix_punct", {"en": "Café, très bien!"}, {"no_punct": "Caf trs bien"}),  # TensorFlow's ASCII \w.
    ("true_case", {"en": "École Paris"}, {"lower": "École paris"}),  # tf.strings.lower changes only A-Z.
    ("stsb", {"sentence1": b"a", "sentence2": b"b", "label": 2.5}, {"answer_str": "2"}),  # printf's %.0f.
    ("stsb", {"sentence1": b"a", "sentence2": b"b", "label": 3.5}, {"answer_str": "4"}),
    ("samsum", {"dialogue": b"A: hi <file_photo>\r\nB: yo", "summary": b"s"}, {"dialogue": "A: hi  \nB: yo"}),
])
def test_preprocessors_make_flans_fields(task, row, expected):
    fields = TASKS[task].fields(row)
    assert {name: fields[name] for name in expected} == expected


@pytest.mark.parametrize("task, row, reason", [
    ("gigaword", {"document": b"police said UNK", "summary": b"police"}, "contains UNK or # (FLAN filters them)"),
    ("aeslc", {"email_body": b"", "subject_line": b""}, "empty email and subject line (FLAN filters them)"),
    ("rte", {"premise": b"p", "hypothesis": b"h", "label": -1}, LABEL_OUTSIDE_OPTIONS),
])
def test_preprocessors_skip_rows_flan_filters_or_cannot_label(task, row, reason):
    with pytest.raises(RowSkipped) as skipped:
        TASKS[task].fields(row)
    assert skipped.value.reason == reason


# -- bad input ------------------------------------------------------------------------------------

def test_a_templates_file_without_patterns_raises_naming_benchmark_task_file_and_patterns(templates, tmp_path):
    path = tmp_path / "templates.py"
    path.write_text("TEMPLATES = {}\n")
    with pytest.raises(DataFormatError, match=re.escape(str(path)) + ".*PATTERNS"):
        read_patterns(str(path))
    with pytest.raises(DataFormatError) as error:
        read_flan_task(_fewglue("rte"), "rte", task="rte", split="train", patterns=str(path), rows="superglue")
    assert (error.value.task, error.value.path, error.value.field) == ("flan:rte", str(path), "PATTERNS")
    assert str(error.value).startswith(f"flan:rte: {path}: PATTERNS: no top-level `PATTERNS = {{...}}` assignment")
    assert "OPTIML_FLAN_TEMPLATES" in str(error.value)  # …and how to fix it.
    with pytest.raises(FileNotFoundError, match=rf"flan:rte: data file {re.escape(str(tmp_path))}.*absent.py does not exist"):
        read_flan_task(_fewglue("rte"), "rte", task="rte", split="train", patterns=str(tmp_path / "absent.py"),
                       rows="superglue")


@pytest.mark.parametrize("source, field", [
    ('PATTERNS = {"rte": [("a", "b"), ("only an input",)]}', "PATTERNS['rte'][1]"),
    ('PATTERNS = {"rte": []}', "PATTERNS['rte']"),
    ('PATTERNS = [("a", "b")]', "PATTERNS"),
    ('PATTERNS = {"rte": [(str(1), "b")]}', "PATTERNS"),
])
def test_patterns_that_are_not_literal_lists_of_pairs_raise_naming_key_and_index(tmp_path, source, field):
    path = tmp_path / "templates.py"
    path.write_text(source + "\n")
    with pytest.raises(DataFormatError) as error:
        read_patterns(str(path))
    assert error.value.path == str(path) and error.value.field == field


def test_a_slot_naming_an_absent_field_raises_naming_task_template_and_field(templates, tmp_path):
    broken = tmp_path / "templates.py"
    broken.write_text('PATTERNS = {"rte": [("{premise} {hypothesis}", "{answer}"), '
                      '("{premise} {nonexistent}", "{answer}")]}\n')
    with pytest.raises(DataFormatError) as error:
        read_flan_task(_fewglue("rte"), "rte", task="rte", split="train", patterns=str(broken), template=1,
                       rows="superglue")
    message = str(error.value)
    assert "flan:rte" in message and "PATTERNS['rte'][1]" in message and "{nonexistent}" in message


def test_bad_fewglue_rows_raise_naming_benchmark_task_file_and_row(templates, tmp_path):
    path = tmp_path / "train.jsonl"
    good = {"premise": "p", "hypothesis": "h", "label": "entailment", "idx": 0}
    read = lambda: read_flan_task(str(path), "rte", task="rte", split="train", patterns=templates,  # noqa: E731
                                  rows="superglue")
    with pytest.raises(FileNotFoundError, match=rf"flan:rte: data file {re.escape(str(path))} does not exist"):
        read()
    path.write_text(json.dumps(good) + "\n" + json.dumps({"premise": "p", "label": "entailment", "idx": 1}) + "\n")
    with pytest.raises(DataFormatError) as error:
        read()
    assert (error.value.task, error.value.path, error.value.field) == ("flan:rte", str(path), "row 2.hypothesis")
    path.write_text(json.dumps(good) + "\n" + '{"premise": "p", "hypo' + "\n")
    with pytest.raises(DataFormatError, match=rf"flan:rte: {re.escape(str(path))}: row 2: malformed JSON at column"):
        read()


def test_an_inverted_template_is_refused(templates):
    with pytest.raises(ValueError, match="inverted"):
        read_flan_task(_fewglue("rte"), "rte", task="rte", split="train", patterns=templates, template=9,
                       rows="superglue")


def test_a_split_flan_does_not_define_is_refused(templates):
    with pytest.raises(ValueError, match="no train split"):
        read_flan_task(None, "wsc273", task="wsc273", split="train", patterns=templates)


def test_unprepared_tfds_data_raises_saying_how_to_prepare_it(templates, tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(FileNotFoundError, match="tfds build super_glue/rte"):
        read_flan_task(None, "rte", task="rte", split="train", patterns=templates, tfds_data_dir=str(tmp_path))


def test_an_unknown_task_raises_with_close_matches(templates):
    with pytest.raises(UnknownNameError, match="anli_r1"):
        read_flan_task(None, "anli_r4", task="anli_r4", split="train", patterns=templates)


def test_superglue_rows_are_refused_for_tasks_without_a_superglue_subset(templates):
    with pytest.raises(ValueError, match="SuperGLUE tasks only"):
        read_flan_task(_fewglue("rte"), "snli", task="snli", split="train", patterns=templates, rows="superglue")

