"""ExMix rebuilt from its public sources: the 14-task catalog, the readers (one per file format) on
fixtures written in each source's original format and layout, bad input naming benchmark, task,
file and row, and registration with the fourteen tasks as the training mixture."""

from __future__ import annotations

import collections
import csv
import dataclasses
import json
import os
import re

import pytest

from optiml_jax.data import registry
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats import READERS
from optiml_jax.data.formats.exmix import (EMPTY_TEXT, read_exmix_csv_task, read_exmix_jsonl_task,
                                           read_exmix_parallel_task, read_exmix_tfds_task, read_exmix_tsv_task)
from optiml_jax.data.mixing import TASK_CAP, compute_mixing_rates
from optiml_jax.data.prompting import INSTRUCTION
from optiml_jax.tasks import exmix, splits
from optiml_jax.tasks.registration import register_catalogs, task_name

EXMIX_READERS = {"exmix_tsv": read_exmix_tsv_task, "exmix_csv": read_exmix_csv_task,
                 "exmix_jsonl": read_exmix_jsonl_task, "exmix_parallel": read_exmix_parallel_task,
                 "exmix_tfds": read_exmix_tfds_task}
UKP_HEADER = "topic\tretrievedUrl\tarchivedUrl\tsentenceHash\tsentence\tannotation\tset\n"
TASKS = {task.name: task for task in exmix.TASKS}
UKP = TASKS["ukp_argument_mining"]
KILT_ROW = {"id": "1106testa", "input": "SOCCER - [START_ENT] JAPAN [END_ENT] GET LUCKY WIN .",
            "output": [{"answer": "Japan national football team", "provenance": [{"wikipedia_id": "1", "title": "x"}]},
                       {"answer": "Japan", "provenance": []}],
            "meta": {"left_context": "SOCCER -", "mention": "JAPAN", "right_context": "GET LUCKY WIN ."}}


def _write(path, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    return str(path)


def _csv(path, rows, quoting=csv.QUOTE_MINIMAL) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, quoting=quoting).writerows(rows)
    return str(path)


def write_sources(root) -> None:
    """Two or three rows of every source, in its original format, where `$OPTIML_EXMIX_DIR` keeps it."""
    _write(root / "cogs/data/train.tsv",
           "A rose was helped by a dog .\trose ( x _ 1 ) AND help . theme ( x _ 3 , x _ 1 ) AND help . agent "
           "( x _ 3 , x _ 6 ) AND dog ( x _ 6 )\tin_distribution\n"
           "Emma ate the cake .\t* cake ( x _ 3 ) ; eat . agent ( x _ 1 , Emma ) AND eat . theme ( x _ 1 , x _ 3 )"
           "\texposure_example_obj_proper\n")
    _write(root / "shakespeare/data/train.modern.nltktok", "I have half a mind to hit you .\nWhere are you going ?\n")
    _write(root / "shakespeare/data/train.original.nltktok", "I have a mind to strike thee .\nWhither go you ?\n")
    _write(root / "styleptb/Compositional Datasets/Tense + Voice/train.tsv",
           "0 1 Taken together the worries prompted a sell-off\t"
           "Taken together a sell-off was prompted by the worries\n")
    webtext = {"id": 0, "ended": True, "length": 7, "text": "A human wrote this.\n\nTwice."}
    generated = {"id": 0, "ended": False, "length": 9, "text": "A model wrote this."}
    _write(root / "gpt2_output/data/webtext.train.jsonl", json.dumps(webtext) + "\n")
    _write(root / "gpt2_output/data/xl-1542M-k40.train.jsonl", (json.dumps(generated) + "\n") * 2)
    for dataset in ("geo", "atis", "job"):
        question, funql = FIRST_EXAMPLES[f"funql_{dataset}"]
        _write(root / f"unimer/data/{dataset}/{dataset}_funql_train.tsv", f"{question}\t{funql}")  # No last newline.
    for topic in exmix._UKP_TOPICS:
        _write(root / f"ukp/{topic}.tsv", UKP_HEADER +
               f"{topic}\thttp://a\thttp://web.archive.org/a\tabc\tIt saves lives .\tArgument_for\ttrain\n"
               f"{topic}\thttp://b\thttp://web.archive.org/b\tdef\tWhere did you get that ?\tNoArgument\tval\n"
               f"{topic}\thttp://c\thttp://web.archive.org/c\tghi\tIt costs \"too\" much .\tArgument_against\ttrain\n")
    _csv(root / "newsquizqa/data/news_quiz_qa-train.csv",
         [["url", "question", "answer"], ["https://ew.com/x/", "In Howard Stern's new book, who did he almost host, "
                                          "in the 2016 election?", "Hillary Clinton"]])
    _csv(root / "dialoglue/clinc/train.csv", [["text", "category"], ["what's the spanish word for pasta", "translate"],
                                              ["how would they say butter in zambia", "translate"]],
         quoting=csv.QUOTE_ALL)
    _write(root / "dialoglue/top-dataset-semantic-parsing/train.tsv",
           "How long will it take to drive from Chicago to Mississippi\thow long will it take to drive from chicago to "
           "mississippi\t[IN:GET_ESTIMATED_DURATION How long will it take to [SL:METHOD_TRAVEL drive ] from "
           "[SL:SOURCE Chicago ] to [SL:DESTINATION Mississippi ] ]\n")
    _write(root / "kilt/aidayago2-train-kilt.jsonl", json.dumps(KILT_ROW) + "\n")
    _write(root / "kilt/wned-dev-kilt.jsonl", json.dumps({**KILT_ROW, "output": KILT_ROW["output"][:1]}) + "\n")


# What the first example of each file-based task reads, from the fixtures above.
FIRST_EXAMPLES = {
    "cogs": ("A rose was helped by a dog .", "rose ( x _ 1 ) AND help . theme ( x _ 3 , x _ 1 ) AND help . agent "
                                             "( x _ 3 , x _ 6 ) AND dog ( x _ 6 )"),
    "shakespeare": ("I have half a mind to hit you .", "I have a mind to strike thee ."),
    "styleptb_tense_voice": ("0 1 Taken together the worries prompted a sell-off",
                             "Taken together a sell-off was prompted by the worries"),
    "gpt2_output_detection": ("A human wrote this.\n\nTwice.", "No"),
    "funql_geo": ("give me the cities in virginia", "answer(city(loc_2(stateid('virginia'))))"),
    "funql_atis": ("flights from denver", "answer(flight(from_2(city_name(denver))))"),
    "funql_job": ("whats all there ?", "answer(job(all))"),
    "ukp_argument_mining": ("Topic: abortion\nSentence: It saves lives .", "argument for"),
    "newsquizqa": ("In Howard Stern's new book, who did he almost host, in the 2016 election?", "Hillary Clinton"),
    "dialoglue_clinc150": ("what's the spanish word for pasta", "translate"),
    "dialoglue_top": ("How long will it take to drive from Chicago to Mississippi",
                      "[IN:GET_ESTIMATED_DURATION How long will it take to [SL:METHOD_TRAVEL drive ] from "
                      "[SL:SOURCE Chicago ] to [SL:DESTINATION Mississippi ] ]"),
    "kilt_wned": ("SOCCER - [START_ENT] JAPAN [END_ENT] GET LUCKY WIN .", "Japan national football team"),
    "kilt_aidayago2": ("SOCCER - [START_ENT] JAPAN [END_ENT] GET LUCKY WIN .", "Japan national football team"),
}
EXAMPLE_COUNTS = {"cogs": 2, "shakespeare": 2, "gpt2_output_detection": 3, "ukp_argument_mining": 16,
                  "dialoglue_clinc150": 2}


@pytest.fixture
def sources(tmp_path):
    write_sources(tmp_path)
    return tmp_path


def _read(location, name):
    return EXMIX_READERS[location.reader](location.path, name, **dict(location.args))


# -- catalog --------------------------------------------------------------------------------------

def test_checked_in_catalog_equals_a_rebuild():
    assert exmix.build_catalog() == exmix.load_catalog()


def test_fourteen_tasks_over_every_listed_source_none_of_whose_data_another_benchmark_has():
    entries = exmix.load_catalog()
    assert len(entries) == exmix.PAPER_TASKS == 14
    assert collections.Counter(e.split for e in entries) == {"train": 14}
    assert all(splits.removed_reason(e.source) is None for e in entries)
    assert all(e.reason.startswith("§2.1: kept, no other benchmark has its data") for e in entries)
    assert len({e.original_category for e in entries}) == 10  # Table 1: ten ExMix clusters.
    data = {task.data.split("@")[0] for task in exmix.TASKS}
    assert {"najoungkim/COGS", "harsh19/Shakespearizing-Modern-English", "lvyiwei1/StylePTB",
            "openai/gpt-2-output-dataset", "JasperGuo/Unimer", "google-research-datasets/NewsQuizQA",
            "alexa/dialoglue"} <= data


def test_the_dialoglue_sets_left_out_are_in_other_benchmarks():
    # HWU64 is PromptSource's nlu_evaluation_data.
    for source in ("banking77", "nlu_evaluation_data", "schema_guided_dstc8", "multi_woz_v22"):
        assert splits.removed_reason(source), source


def test_every_row_has_its_commit_count_instruction_and_a_reader_for_its_format():
    by_name = {task.name: task for task in exmix.TASKS}
    for entry in exmix.load_catalog():
        task = by_name[entry.name]
        assert entry.instruction and entry.num_examples > 0 and task.reader in EXMIX_READERS
        commit = re.search(r"@([0-9a-f]{40})", entry.reason)
        assert commit or task.folder in ("ukp", "kilt", ""), entry.name
    assert by_name["gpt2_output_detection"].instruction == "Is the following text produced by GPT-2?"
    assert by_name["wiki_toxicity"].instruction == "Is the following comment toxic?"
    assert {by_name[f"funql_{d}"].instruction for d in ("geo", "atis", "job")} == {
        "Transform the following sentence into funql."}


# -- readers on the sources' own formats ----------------------------------------------------------

def test_every_file_based_task_reads_its_source_files_as_the_catalog_locates_them(sources):
    catalog = exmix.exmix_benchmark(folder=str(sources), tfds_data_dir=str(sources / "tfds"))
    for entry in catalog.entries:
        inputs = catalog.inputs(entry)
        if entry.name == "wiki_toxicity":
            assert inputs.train is None  # Not prepared under the TFDS folder.
            continue
        data = _read(inputs.train, entry.name)
        assert data.layout == INSTRUCTION and data.instruction == entry.instruction, entry.name
        first = data.examples[0]
        assert (first.input, first.targets[0]) == FIRST_EXAMPLES[entry.name], entry.name
        assert len(data.examples) == EXAMPLE_COUNTS.get(entry.name, 1), entry.name


def test_labels_become_answer_texts_and_options(sources):
    catalog = exmix.exmix_benchmark(folder=str(sources))
    by_name = {e.name: e for e in catalog.entries}
    ukp = _read(catalog.inputs(by_name["ukp_argument_mining"]).train, "ukp_argument_mining")
    assert [e.targets for e in ukp.examples[:2]] == [("argument for",), ("argument against",)]  # `val` rows skipped.
    assert ukp.examples[1].input == 'Topic: abortion\nSentence: It costs "too" much .'  # No quoting in TSV.
    assert ukp.examples[0].options == ("argument for", "argument against", "no argument")
    assert ukp.examples[0].id == "abortion.tsv:2" and ukp.examples[-1].id == "school_uniforms.tsv:4"
    gpt2 = _read(catalog.inputs(by_name["gpt2_output_detection"]).train, "gpt2_output_detection")
    assert [e.targets for e in gpt2.examples] == [("No",), ("Yes",), ("Yes",)]
    assert gpt2.examples[0].options == ("No", "Yes")
    aida = _read(catalog.inputs(by_name["kilt_aidayago2"]).train, "kilt_aidayago2")
    assert aida.examples[0].targets == ("Japan national football team", "Japan")  # Every KILT answer is a reference.


def test_empty_texts_are_skipped_and_counted(tmp_path):
    path = _write(tmp_path / "train.tsv", "a sentence\tits form\n \tan input that is blank\n")
    data = read_exmix_tsv_task(path, "cogs", instruction="i", input_template="{0}", target_template="{1}", columns=2)
    assert len(data.examples) == 1 and data.skipped == {EMPTY_TEXT: 1}


def test_an_empty_reference_beside_real_ones_is_dropped_and_counted(tmp_path):
    row = {**KILT_ROW, "output": [{"answer": ""}, {"answer": "Japan"}]}
    path = _write(tmp_path / "kilt.jsonl", json.dumps(row) + "\n")
    data = read_exmix_jsonl_task(path, "kilt_wned", instruction="i", input_field="input", target_field="output.answer")
    assert [e.targets for e in data.examples] == [("Japan",)] and data.skipped == {"empty reference": 1}


def test_wiki_toxicity_reads_tfds_rows_scored_at_one_half(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    import tensorflow as tf

    rows = [{"text": "You are an idiot.", "toxicity": 1.0}, {"text": "Thanks for the edit.", "toxicity": 0.0}]
    features = ("id", "language", "identity_attack", "insult", "obscene", "severe_toxicity", "threat")

    def as_dataset(builder, *args, **kwargs):
        full = [{**{f: "" if f in ("id", "language") else 0.0 for f in features}, **row} for row in rows]
        spec = builder.info.features.get_tensor_spec()
        return tf.data.Dataset.from_generator(lambda: iter(full), output_signature=spec)

    args = dict(TASKS["wiki_toxicity"].args)
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        data = read_exmix_tfds_task(None, "wiki_toxicity", instruction="Is the following comment toxic?",
                                    tfds_data_dir=str(tmp_path), **args)
    assert [(e.input, e.targets, e.options) for e in data.examples] == [
        ("You are an idiot.", ("Yes",), ("No", "Yes")), ("Thanks for the edit.", ("No",), ("No", "Yes"))]
    assert data.examples[0].row == "wikipedia_toxicity_subtypes/EnglishSubtypes:0.3.1/train#0"
    with tfds.testing.mock_data(as_dataset_fn=as_dataset), pytest.raises(DataFormatError) as error:
        read_exmix_tfds_task(None, "wiki_toxicity", instruction="i", tfds_data_dir=str(tmp_path),
                             **{**args, "score_feature": "toxic"})
    assert (error.value.task, error.value.field, error.value.problem) == (
        "exmix:wiki_toxicity", "row wikipedia_toxicity_subtypes/EnglishSubtypes:0.3.1/train#0.toxic", "missing")
    with pytest.raises(FileNotFoundError, match=r"exmix:wiki_toxicity: TFDS dataset wikipedia_toxicity_subtypes/"
                                                r"EnglishSubtypes:0.3.1 is not prepared"):
        read_exmix_tfds_task(None, "wiki_toxicity", instruction="i", tfds_data_dir=str(tmp_path), **args)


# -- bad input ------------------------------------------------------------------------------------

def _error(call) -> DataFormatError:
    with pytest.raises(DataFormatError) as error:
        call()
    return error.value


def test_tsv_bad_input_names_task_file_and_row(tmp_path):
    path = tmp_path / "train.tsv"
    read = lambda **extra: read_exmix_tsv_task(str(path), "cogs", **{  # noqa: E731
        "instruction": "i", "input_template": "{0}", "target_template": "{1}", "columns": 3, **extra})
    with pytest.raises(FileNotFoundError, match=rf"exmix:cogs: data file {re.escape(str(path))} does not exist"):
        read()
    _write(path, "a\tb\tin_distribution\nonly two\tcolumns\n")
    error = _error(read)
    assert (error.task, error.path, error.field, error.problem) == ("exmix:cogs", str(path), "row 2",
                                                                    "expected 3 columns, found 2")
    error = _error(lambda: read(target_template="{3}"))
    assert (error.field, error.problem) == ("(columns)", "no column '3' (columns: ['0', '1', '2'])")
    path.write_bytes(b"a\tb\tc\n\xff\tb\tc\n")
    assert _error(read).field == "(file encoding)"


def test_tsv_with_header_bad_input_names_task_file_and_row(tmp_path):
    path = tmp_path / "abortion.tsv"
    read = lambda: read_exmix_tsv_task(  # noqa: E731
        str(path), "ukp_argument_mining", instruction="i", **dict(UKP.args))
    _write(path, UKP_HEADER.replace("\tsentence", "\ttext"))
    error = _error(read)
    assert (error.task, error.path, error.field) == ("exmix:ukp_argument_mining", str(path), "(header)")
    assert error.problem.startswith("no column 'sentence' (columns: ['topic',")
    _write(path, UKP_HEADER + "abortion\tu\ta\th\t-\tNoArgument\ttrain\n")  # The release before completion.
    error = _error(read)
    assert (error.field, error.problem) == ("row 2.sentence", "is '-': the release ships without this text; complete "
                                                              "the files first (docs/benchmark.md, ExMix)")
    _write(path, UKP_HEADER + "abortion\tu\ta\th\tA sentence .\tArgument_maybe\ttrain\n")
    error = _error(read)
    assert (error.field, error.problem) == ("row 2", "target 'Argument_maybe' is not one of ['Argument_against', "
                                                     "'Argument_for', 'NoArgument']")
    _write(path, UKP_HEADER + "abortion\tu\ta\th\tA sentence .\tNoArgument\n")
    assert _error(read).problem == "expected 7 columns, found 6"


def test_csv_bad_input_names_task_file_and_row(tmp_path):
    path = tmp_path / "news_quiz_qa-train.csv"
    read = lambda: read_exmix_csv_task(str(path), "newsquizqa", **{  # noqa: E731
        "instruction": "i", "input_template": "{question}", "target_template": "{answer}"})
    with pytest.raises(FileNotFoundError, match="exmix:newsquizqa: data file"):
        read()
    _write(path, 'url,question,answer\nhttps://a,"Who, then?",Ann\nhttps://b,Who?\n')
    error = _error(read)
    assert (error.task, error.path, error.field, error.problem) == ("exmix:newsquizqa", str(path), "row 3",
                                                                    "expected 3 columns, found 2")
    _write(path, 'url,question,answer\nhttps://a,"Who, then?",Ann\nhttps://b,"Who? ,x\n')
    error = _error(read)
    assert error.field == "row 3" and error.problem.startswith("malformed CSV")
    _write(path, "url,query,answer\n")
    assert _error(read).problem == "no column 'question' (columns: ['url', 'query', 'answer'])"


def test_jsonl_bad_input_names_task_file_and_row(tmp_path):
    path = tmp_path / "aidayago2-train-kilt.jsonl"
    read = lambda: read_exmix_jsonl_task(str(path), "kilt_aidayago2", **{  # noqa: E731
        "instruction": "i", "input_field": "input", "target_field": "output.answer"})
    with pytest.raises(FileNotFoundError, match="exmix:kilt_aidayago2: data file"):
        read()
    _write(path, json.dumps(KILT_ROW) + "\n" + '{"input": "x", "outp' + "\n")
    error = _error(read)
    assert (error.task, error.path, error.field) == ("exmix:kilt_aidayago2", str(path), "row 2")
    assert error.problem.startswith("malformed JSON")
    _write(path, json.dumps(KILT_ROW) + "\n" + json.dumps({"input": "x", "output": [{"provenance": []}]}) + "\n")
    assert (_error(read).field, _error(read).problem) == ("row 2.output[0].answer", "missing")
    _write(path, json.dumps({"input": ["x"], "output": []}) + "\n")
    assert (_error(read).field, _error(read).problem) == ("row 1.input", "expected str, found list")
    _write(path, json.dumps({"output": [{"answer": "a"}]}) + "\n")
    assert (_error(read).field, _error(read).problem) == ("row 1.input", "missing")


def test_parallel_text_bad_input_names_task_and_files(tmp_path):
    source, target = tmp_path / "train.modern.nltktok", tmp_path / "train.original.nltktok"
    read = lambda: read_exmix_parallel_task(str(source), "shakespeare", instruction="i",  # noqa: E731
                                            target_file=str(target))
    _write(source, "one\ntwo\n")
    with pytest.raises(FileNotFoundError, match=rf"exmix:shakespeare: data file {re.escape(str(target))} does not"):
        read()
    _write(target, "one\n")
    error = _error(read)
    assert (error.task, error.path, error.field, error.problem) == (
        "exmix:shakespeare", str(target), "(line count)",
        f"1 lines, but {source} has 2; the files must be line-aligned")


# -- registration ---------------------------------------------------------------------------------

def test_registration_trains_on_the_fourteen_tasks_read_through_the_registry(sources, monkeypatch):
    for key, reader in EXMIX_READERS.items():
        monkeypatch.setitem(READERS, key, reader)
    prepared = sources / "tfds/wikipedia_toxicity_subtypes/EnglishSubtypes/0.3.1"
    _write(prepared / "dataset_info.json", "{}")
    entries = [dataclasses.replace(e, benchmark="exmix_fixture") for e in exmix.load_catalog()]
    catalog = exmix.exmix_benchmark(entries, folder=str(sources), tfds_data_dir=str(sources / "tfds"))
    report = register_catalogs([catalog], namespace="exmix_fixture", proportions=None)

    assert report.present == {"exmix_fixture": 14} and not report.absent
    rates = dict(registry.get_mixture("exmix_fixture_train").rates)
    assert sorted(rates) == sorted(task_name(e) for e in entries)
    assert dict(registry.get_mixture("exmix_fixture_max_train").rates) == rates
    weights = {task_name(e): ("exmix_fixture", min(e.num_examples, TASK_CAP)) for e in entries}  # §2.1's cap.
    assert rates == compute_mixing_rates(weights, proportions=None).rates

    spec = registry.get_task("exmix_fixture:funql_geo")
    data = READERS[spec.reader](spec.path, spec.source_name, **dict(spec.reader_args))
    assert (data.examples[0].input, data.examples[0].targets[0]) == FIRST_EXAMPLES["funql_geo"]
