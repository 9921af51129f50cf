"""UnifiedSKG: its instantiated seq2seq records (with and without text_in, conversational, dev
records with all references) in JSON and JSONL, DART's original JSON (the real local dev set:
skipped without OPTIML_DATA_DIR, failed when CI is set), the 21-task catalog and its evaluation
rows, registration, and errors on bad input."""

from __future__ import annotations

import collections
import json
import os

import pytest

from data_fixtures import real_data_dir
from optiml_jax.constants import FULLY_SUPERVISED, PARTIALLY_HELD_OUT
from optiml_jax.data import registry
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats import READERS
from optiml_jax.data.formats.unifiedskg import (EMPTY_SEQ_OUT, linearize_triples, read_dart_task, read_unifiedskg_task,
                                                unifiedskg_input)
from optiml_jax.data.prompting import INSTRUCTION
from optiml_jax.tasks import levels, unifiedskg
from optiml_jax.tasks.registration import register_catalogs

# Records as UnifiedSKG's seq2seq constructors and MultiTaskWrapper leave them: raw fields kept,
# text_in / struct_in / seq_out added, plus description, section and arg_path.
WIKITQ = {"id": "nt-0", "question": "which country won?", "answers": ["france"], "text_in": "which country won?",
          "struct_in": "col : rank | nation row 1 : 1 | france", "seq_out": "france",
          "description": "task: wiki table question", "section": "train", "arg_path": "META_TUNING/wikitq.cfg"}
TOTTO = {"example_id": "7", "text_in": "", "seq_out": "Ann won in 1999.", "description": "task: totto",
         "struct_in": "<page_title> Ann </page_title> <table> <cell> 1999 <col_header> year </col_header> </cell> </table>"}
SPARC = {"utterances": ["show singers", "only french ones"], "text_in": "only french ones || show singers",
         "struct_in": "| concert_singer | singer : name , country ( france )",
         "seq_out": "select name from singer where country = 'france'", "description": "task: sparc", "section": "dev"}
DART_DEV = {"tripleset": [["Ann", "BIRTH_PLACE", "Paris"]], "text_in": "", "struct_in": "Ann : birth_place : Paris",
            "seq_out": "Ann was born in Paris.", "references": ["Ann was born in Paris.", "Paris is Ann's birthplace."],
            "section": "dev"}


def write_json(path, value) -> str:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)
    return str(path)


def write_jsonl(path, records: list) -> str:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(record) + "\n" for record in records)
    return str(path)


def test_records_become_unifiedskg_inputs_without_the_description(tmp_path):
    path = write_json(tmp_path / "mixed" / "train.json", [WIKITQ, TOTTO, SPARC, DART_DEV])
    task = read_unifiedskg_task(path, "mixed", instruction="Use the structure.")
    assert task.layout == INSTRUCTION and task.instruction == "Use the structure."
    assert [e.input for e in task.examples] == [
        "which country won? ; structured knowledge: col : rank | nation row 1 : 1 | france",
        f"structured knowledge: {TOTTO['struct_in']}",
        "only french ones ; structured knowledge: | concert_singer | singer : name , country ( france ) ; context: "
        "show singers",
        "structured knowledge: Ann : birth_place : Paris",
    ]
    assert [e.targets for e in task.examples] == [("france",), ("Ann won in 1999.",), (SPARC["seq_out"],),
                                                  ("Ann was born in Paris.", "Paris is Ann's birthplace.")]
    assert [e.id for e in task.examples] == ["0", "1", "2", "3"] and not any("task:" in e.input for e in task.examples)


def test_jsonl_records_read_the_same_and_empty_targets_are_counted(tmp_path):
    path = write_jsonl(tmp_path / "wikitq_train.jsonl", [WIKITQ, {**WIKITQ, "seq_out": " "}, SPARC])
    task = read_unifiedskg_task(path, "wikitq", instruction="Answer.")
    assert [e.id for e in task.examples] == ["1", "3"] and task.skipped == {EMPTY_SEQ_OUT: 1}
    assert unifiedskg_input("a || b | c", "s") == "a ; structured knowledge: s ; context: b | c"


@pytest.mark.parametrize("records, field, problem", [
    ([WIKITQ, {k: v for k, v in WIKITQ.items() if k != "seq_out"}], "record 1.seq_out", "missing"),
    ([WIKITQ, {**WIKITQ, "text_in": ["which"]}], "record 1.text_in", "expected str, found list"),
    ([WIKITQ, {**WIKITQ, "text_in": "", "struct_in": ""}], "record 1", "text_in and struct_in are both empty"),
    ([WIKITQ, {**DART_DEV, "references": ["a", 3]}], "record 1.references[1]", "expected str, found int"),
    ([WIKITQ, "not a record"], "record 1", "expected an object, found str"),
    ({"data": [WIKITQ]}, "(top level)", "expected a list of records, found dict"),
])
def test_bad_unifiedskg_records_name_benchmark_task_file_and_record(tmp_path, records, field, problem):
    path = write_json(tmp_path / "wikitq" / "train.json", records)
    with pytest.raises(DataFormatError) as error:
        read_unifiedskg_task(path, "wikitq", instruction="Answer.")
    assert (error.value.task, error.value.path, error.value.field) == ("unifiedskg:wikitq", path, field)
    assert error.value.problem.startswith(problem)


def test_bad_jsonl_lines_and_missing_files_are_named(tmp_path):
    path = tmp_path / "kvret_train.jsonl"
    path.write_text(json.dumps(WIKITQ) + '\n{"text_in": "hi", "seq\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"unifiedskg:kvret: .*kvret_train.jsonl: row 2: malformed JSON"):
        read_unifiedskg_task(str(path), "kvret", instruction="Reply.")
    with pytest.raises(FileNotFoundError, match=r"unifiedskg:kvret: data file .*absent.jsonl does not exist"):
        read_unifiedskg_task(str(tmp_path / "absent.jsonl"), "kvret", instruction="Reply.")
    with pytest.raises(FileNotFoundError, match=r"unifiedskg:dart: data file .*absent.json does not exist"):
        read_dart_task(str(tmp_path / "absent.json"), "dart", instruction="Describe.")


def test_dart_dev_set_is_linearised_as_unifiedskg_does():
    path = os.path.join(real_data_dir(), "heldout", "dart-v1.1.1-full-dev.json")
    task = read_dart_task(path, "dart", instruction="Describe the triples.")
    with open(path, encoding="utf-8") as f:
        original = json.load(f)
    assert len(task.examples) == len(original) == 2768 and task.layout == INSTRUCTION
    first = task.examples[0]
    assert first.input == ("structured knowledge: Mars Hill College : joined : 1973 | Mars Hill College : location : "
                           "Mars Hill, North Carolina")
    assert first.targets == ("A school from Mars Hill, North Carolina, joined in 1973.",)
    for example, entry in zip(task.examples, original):
        assert example.input == "structured knowledge: " + " | ".join(f"{s} : {r.lower()} : {o}" for s, r, o in entry["tripleset"])
        assert set(example.targets) == {a["text"].strip() for a in entry["annotations"]}
        assert example.targets[0] == entry["annotations"][0]["text"].strip()  # UnifiedSKG's seq_out.
    assert sum(len(e.targets) for e in task.examples) == 6815  # 6,980 annotations, 165 repeats within a set.


@pytest.mark.parametrize("entry, field, problem", [
    ({"tripleset": [["Ann", "BIRTH_PLACE"]], "annotations": [{"text": "t"}]}, "record 1.tripleset[0]",
     "expected [subject, relation, object] strings"),
    ({"tripleset": [], "annotations": [{"text": "t"}]}, "record 1.tripleset", "empty"),
    ({"tripleset": [["a", "b", "c"]], "annotations": []}, "record 1.annotations", "no non-empty annotation text"),
    ({"tripleset": [["a", "b", "c"]], "annotations": [{"source": "WikiSQL"}]}, "record 1.annotations[0].text", "missing"),
    ({"annotations": [{"text": "t"}]}, "record 1.tripleset", "missing"),
])
def test_bad_dart_entries_name_benchmark_task_file_and_record(tmp_path, entry, field, problem):
    good = {"tripleset": [["Ann", "BIRTH_PLACE", "Paris"]], "annotations": [{"source": "e2e", "text": "Ann is from Paris."}]}
    path = write_json(tmp_path / "dart.json", [good, entry])
    with pytest.raises(DataFormatError) as error:
        read_dart_task(path, "dart", instruction="Describe.")
    assert (error.value.task, error.value.path, error.value.field) == ("unifiedskg:dart", path, field)
    assert error.value.problem.startswith(problem)
    assert linearize_triples(good["tripleset"]) == "Ann : birth_place : Paris"


CATALOG = unifiedskg.load_catalog()
BY_NAME = {entry.name: entry for entry in CATALOG}


def test_catalog_equals_a_rebuild_with_21_tasks_in_7_categories():
    assert unifiedskg.build_catalog() == CATALOG and len(CATALOG) == unifiedskg.PAPER_TASKS == 21
    assert len({e.category for e in CATALOG}) == 7 and len({e.original_category for e in CATALOG}) == 6
    assert collections.Counter(e.split for e in CATALOG) == {"train": 18, "test": 3}
    for entry in CATALOG:
        assert entry.category and entry.source and entry.num_examples > 0 and entry.instruction.strip(), entry
    assert sum(e.num_examples for e in CATALOG) > 650_000  # ≈ 0.68M of Table 1's 0.8M (train + dev + test).


def test_evaluation_rows_name_their_unifiedskg_tasks_at_their_levels():
    rows = {row.name: row for row in levels.TEST_SPLIT if row.benchmark == "unifiedskg"}
    assert {name: row.members for name, row in rows.items()} == {"DART": ("dart",), "MultiWoZ": ("multiwoz",),
                                                                 "Spider": ("spider",)}
    assert (BY_NAME["spider"].split, BY_NAME["spider"].level) == ("test", FULLY_SUPERVISED)
    assert BY_NAME["spider"].trains and not BY_NAME["dart"].trains
    assert {BY_NAME[n].level for n in ("dart", "multiwoz")} == {PARTIALLY_HELD_OUT}
    assert BY_NAME["multiwoz"].source == "multi_woz_v22" and BY_NAME["sql2text"].split == "train"


@pytest.fixture()
def isolated_registry(monkeypatch):
    """Registration under a test namespace without touching the bench's own registered tasks."""
    monkeypatch.setattr(registry, "_TASKS", {})
    monkeypatch.setattr(registry, "_MIXTURES", {})
    monkeypatch.setitem(READERS, "unifiedskg", read_unifiedskg_task)
    monkeypatch.setitem(READERS, "dart", read_dart_task)


def _fixture_folder(tmp_path, *, spider_dev: bool):
    folder = tmp_path / "unifiedskg"
    spider = {"text_in": "how many singers?", "struct_in": "| concert_singer | singer : name", "seq_out": "select count(*) from singer"}
    write_jsonl(folder / "spider" / "train.jsonl", [spider] * 20)
    if spider_dev:
        write_jsonl(folder / "spider" / "dev.jsonl", [spider])
    write_json(folder / "multiwoz_train.json", [{"text_in": "i need a cheap hotel", "struct_in": "hotel pricerange: none",
                                                 "seq_out": "hotel pricerange cheap"}])
    write_json(folder / "multiwoz_test.json", [{"text_in": "a taxi please", "struct_in": "taxi leave at: none",
                                                "seq_out": "taxi leave at 5"}])
    write_jsonl(folder / "kvret" / "train.jsonl", [{"text_in": "where is the gym? || hi", "struct_in": "poi : gym",
                                                    "seq_out": "the gym is 2 miles away"}])
    dart = write_json(tmp_path / "dart-dev.json", [{"tripleset": [["Ann", "BIRTH_PLACE", "Paris"]],
                                                    "annotations": [{"source": "e2e", "text": "Ann is from Paris."}]}])
    return unifiedskg.unifiedskg_benchmark(folder=str(folder), dart_dev=dart)


def test_registration_makes_spider_dart_and_multiwoz_test_tasks(tmp_path, isolated_registry):
    report = register_catalogs([_fixture_folder(tmp_path, spider_dev=True)], namespace="skg_fixture")
    assert report.present == {"unifiedskg": 4} and report.absent == {"unifiedskg": 17}
    trained = {name for name, _ in registry.get_mixture("skg_fixture_train").rates}
    assert trained == {"unifiedskg:spider", "unifiedskg:kvret"}  # Spider trains: fully supervised.
    assert {name for name, _ in registry.get_mixture("skg_fixture_max_train").rates} == trained | {"unifiedskg:multiwoz"}
    assert {n for n, _ in registry.get_mixture("skg_fixture_test_fully_supervised_5shot").rates} == {"unifiedskg:spider:5shot"}
    assert {n for n, _ in registry.get_mixture("skg_fixture_unifiedskg_test_partially_held_out_0shot").rates} == {
        "unifiedskg:dart:0shot", "unifiedskg:multiwoz:0shot"}
    spider = registry.get_task("unifiedskg:spider:0shot")
    assert spider.path.endswith(os.path.join("spider", "dev.jsonl")) and spider.holdout is None
    assert spider.evaluation_task == "Spider" and spider.split == "test" and spider.metric == "rouge_l"
    dart = registry.get_task("unifiedskg:dart:0shot")
    assert dart.reader == "dart" and dart.evaluation_task == "DART"
    task = READERS[dart.reader](dart.path, dart.source_name, **dict(dart.reader_args))
    assert task.examples[0].input == "structured knowledge: Ann : birth_place : Paris"
    assert task.instruction == BY_NAME["dart"].instruction
    multiwoz = registry.get_task("unifiedskg:multiwoz:0shot")
    assert multiwoz.path.endswith("multiwoz_test.json")
    assert READERS[multiwoz.reader](multiwoz.path, "multiwoz", **dict(multiwoz.reader_args)).examples[0].targets == (
        "taxi leave at 5",)


def test_spider_without_a_dev_file_is_evaluated_on_a_held_out_cut(tmp_path, isolated_registry):
    register_catalogs([_fixture_folder(tmp_path, spider_dev=False)], namespace="skg_cut_fixture")
    evaluation, training = registry.get_task("unifiedskg:spider:0shot"), registry.get_task("unifiedskg:spider")
    assert evaluation.path == training.path and evaluation.holdout.part != training.holdout.part


def test_a_held_out_task_without_its_own_evaluation_file_is_absent_not_evaluated_on_training_rows(
        tmp_path, isolated_registry):
    folder = tmp_path / "unifiedskg"
    write_jsonl(folder / "multiwoz" / "train.jsonl", [{"text_in": "a cheap hotel", "struct_in": "hotel pricerange: none",
                                                       "seq_out": "hotel pricerange cheap"}])
    register_catalogs([unifiedskg.unifiedskg_benchmark(folder=str(folder), dart_dev=str(tmp_path / "none.json"))],
                      namespace="skg_no_eval")
    assert registry.get_task("unifiedskg:multiwoz").path.endswith("train.jsonl")  # it trains (OPT-IML-Max)…
    assert registry.get_task("unifiedskg:multiwoz:0shot").path is None  # …but is never evaluated on those rows
