"""CrossFit: the reader on files written the way CrossFit's task scripts write them (classification,
multiple choice with its options, generation with several references), the 160-task catalog and
its §2.1 removal rule, the data folder's layouts, registration, and errors on bad input."""

from __future__ import annotations

import collections
import os

import pytest

from optiml_jax.data import registry
from optiml_jax.data.examples import DataFormatError
from optiml_jax.data.formats import READERS
from optiml_jax.data.formats.crossfit import LABELS, LETTERED, NO_OPTIONS, lettered_options, read_crossfit_task
from optiml_jax.data.prompting import INSTRUCTION
from optiml_jax.tasks import crossfit, splits
from optiml_jax.tasks.catalog import SPLITS
from optiml_jax.tasks.registration import register_catalogs


def write_crossfit_tsv(path, lines: list[tuple[str, ...]]) -> str:
    """As CrossFit's `write_to_tsv`: `"{input}\\t{output}\\n"`, where the output may hold TABs."""
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write("{}\t{}\n".format(line[0], "\t".join(line[1:])))
    return str(path)


AG_NEWS = [("Wall St. Bears Claw Back Into the Black (Reuters)", "Business"),
           ("Olympics: Phelps wins a sixth gold", "Sports"), ("Talks on Iraq resume", "World")]
# ai2_arc with dataset labels A-D and 1-4; Quail without spaces and a context after [SEP]; RACE's
# question, choices, then [SEP] article; QuaRel's "(A) x or (B) y" inside the question.
MULTIPLE_CHOICE = [
    ("Which gas do plants take in? (A) oxygen (B) carbon dioxide (C) helium (D) neon", "carbon dioxide"),
    ("How many legs has a spider? (1) six (2) eight (3) ten (4) four", "eight"),
    ("Why did Ann leave?(A)she was tired(B)it rained(C)not enough information [SEP] Ann left early. (A) note",
     "it rained"),
    ("What did Tom buy? (A) a hat (B) a car (C) a dog (D) a pen [SEP] Tom went to town (1) and bought a pen.", "a pen"),
    ("Which surface is hotter after sliding? (A) a rough surface or (B) a smooth surface", "a rough surface"),
]
SQUAD = [("question: Where is the Eiffel Tower? context: The Eiffel Tower is in Paris, France.", "Paris",
          "Paris, France"), ("question: Who wrote Hamlet? context: Hamlet is a play by Shakespeare.", "Shakespeare")]


def test_classification_task_gets_the_files_label_set_as_options(tmp_path):
    path = write_crossfit_tsv(tmp_path / "ag_news" / "ag_news_train.tsv", AG_NEWS)
    task = read_crossfit_task(path, "ag_news", instruction="What is the topic?", options=LABELS)
    assert task.layout == INSTRUCTION and task.instruction == "What is the topic?" and task.name == "ag_news"
    assert [(e.id, e.input, e.targets) for e in task.examples] == [
        (str(i + 1), text, (label,)) for i, (text, label) in enumerate(AG_NEWS)]
    assert all(e.options == ("Business", "Sports", "World") for e in task.examples)


def test_multiple_choice_inputs_give_their_choices_as_options(tmp_path):
    path = write_crossfit_tsv(tmp_path / "mc_train.tsv", MULTIPLE_CHOICE)
    task = read_crossfit_task(path, "ai2_arc", instruction="Answer.", options=LETTERED)
    assert [e.options for e in task.examples] == [
        ("oxygen", "carbon dioxide", "helium", "neon"), ("six", "eight", "ten", "four"),
        ("she was tired", "it rained", "not enough information"), ("a hat", "a car", "a dog", "a pen"),
        ("a rough surface", "a smooth surface")]
    assert all(e.targets[0] in e.options for e in task.examples)
    assert task.examples[0].input == MULTIPLE_CHOICE[0][0]  # The input keeps its choices (App. C).
    # A second run of markers (the article's "(1)", Quail's "(A) note") is never taken for the choices.
    assert lettered_options("q (A) x (B) y [SEP] text (A) u (B) v") == [("x", "y"), ("u", "v")]


def test_generation_task_keeps_every_reference_and_has_no_options(tmp_path):
    path = write_crossfit_tsv(tmp_path / "squad-with_context_train.tsv", SQUAD)
    task = read_crossfit_task(path, "squad-with_context", instruction="Answer.")
    assert [e.targets for e in task.examples] == [("Paris", "Paris, France"), ("Shakespeare",)]
    assert all(e.options is None for e in task.examples)


@pytest.mark.parametrize("content, field, problem", [
    ("q (A) x (B) y\tx\nno tab here\n", "row 2", "expected at least 2 tab-separated columns"),
    ("q (A) x (B) y\tx\n\tx\n", "row 2", "empty input or no non-empty reference"),
    ("q (A) x (B) y\tx\nq2\t\t\n", "row 2", "empty input or no non-empty reference"),
    ("q (A) x (B) y\tx\nq2 (A) x (B) y\tz\n", "row 2", "the reference 'z' is not one of the choices parsed from the "
                                                        "input ([('x', 'y')])"),
    ("q (A) x (B) y\tx\nq2 without markers\tz\n", "row 2", "the reference 'z' is not one of the choices parsed from "
                                                           "the input (no (A) (B) ... markers)"),
])
def test_bad_rows_name_benchmark_task_file_and_row(tmp_path, content, field, problem):
    path = tmp_path / "qasc_train.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError) as error:
        read_crossfit_task(str(path), "qasc", instruction="Answer.", options=LETTERED)
    assert (error.value.task, error.value.path, error.value.field) == ("crossfit:qasc", str(path), field)
    assert error.value.problem.startswith(problem)


def test_missing_file_and_unknown_options_kind_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"crossfit:qasc: data file .*absent_train.tsv does not exist"):
        read_crossfit_task(str(tmp_path / "absent_train.tsv"), "qasc", instruction="Answer.")
    path = write_crossfit_tsv(tmp_path / "qasc_train.tsv", [("q", "a")])
    with pytest.raises(ValueError, match=r"crossfit:qasc: options 'choices' is not one of \('letters', 'labels', ''\)"):
        read_crossfit_task(path, "qasc", instruction="Answer.", options="choices")


CATALOG = crossfit.load_catalog()
BY_NAME = {entry.name: entry for entry in CATALOG}


def test_catalog_equals_a_rebuild_and_lists_the_160_tasks_of_the_release():
    assert crossfit.build_catalog() == CATALOG
    assert len(CATALOG) == crossfit.RELEASE_TASKS == 160 and crossfit.PAPER_TASKS == 159
    assert [e.name for e in CATALOG] == list(crossfit.tasks_table())
    counts = collections.Counter(e.split for e in CATALOG)
    assert counts == {"removed": 147, "train": 13}, counts
    # ExMix, which the paper names source by source, keeps AIDA; CrossFit's copy goes.
    assert BY_NAME["kilt_ay2"].split == "removed" and "exmix (kilt_aidayago2)" in BY_NAME["kilt_ay2"].reason


def test_every_catalog_row_is_complete():
    for entry in CATALOG:
        task = crossfit.tasks_table()[entry.name]
        assert entry.benchmark == "crossfit" and entry.split in SPLITS and entry.reason, entry
        assert entry.category and entry.original_category and entry.source and entry.num_examples > 0, entry
        assert entry.instruction.strip() and entry.instruction[-1] in ".?", entry
        assert task.options in (LETTERED, LABELS, NO_OPTIONS) and "count: " in entry.reason, entry
    assert sum(crossfit.tasks_table()[e.name].options == LETTERED for e in CATALOG) == 23


def test_a_task_whose_source_another_benchmark_has_is_removed_naming_where():
    ag_news = BY_NAME["ag_news"]
    assert (ag_news.split, ag_news.source) == ("removed", "ag_news")
    assert ag_news.reason.startswith("§2.1: removed, data source 'ag_news' is also in flan (ag_news_subset); promptsource (ag_news); superni (task")
    assert "promptsource (ag_news)" in ag_news.reason and "flan (ag_news_subset)" in ag_news.reason
    # UnifiedSKG is kept whole, so CrossFit's Spider and WikiSQL are left out as well.
    assert BY_NAME["spider"].split == "removed" and "unifiedskg (spider" in BY_NAME["spider"].reason
    kept = [e.name for e in CATALOG if e.split != "removed"]
    assert {"aslg_pc12", "search_qa", "lama-google_re", "kilt_wow"} <= set(kept)
    assert all(splits.removed_reason(e.source, crossfit.COMPARED_CATALOGS) is None for e in CATALOG if e.split != "removed")


@pytest.fixture()
def isolated_registry(monkeypatch):
    """Registration under a test namespace without touching the bench's own registered tasks."""
    monkeypatch.setattr(registry, "_TASKS", {})
    monkeypatch.setattr(registry, "_MIXTURES", {})
    monkeypatch.setitem(READERS, "crossfit", read_crossfit_task)


def test_registration_trains_kept_tasks_and_never_removed_ones(tmp_path, isolated_registry):
    folder = tmp_path / "data"
    write_crossfit_tsv(folder / "search_qa" / "search_qa_train.tsv", [("question: a clue category: HISTORY", "Rome")])
    write_crossfit_tsv(folder / "search_qa" / "search_qa_test.tsv", [("question: a clue category: ART", "Monet")])
    write_crossfit_tsv(folder / "aslg_pc12_train.tsv", [("Hello there.", "X-HELLO THERE .")])  # Flat layout.
    for seed in (13, 100):  # Only the few-shot release: the first by name stands in.
        write_crossfit_tsv(folder / "lama-google_re" / f"lama-google_re_32_{seed}_train.tsv", [("Born in [MASK].", f"{seed}")])
    write_crossfit_tsv(folder / "ag_news" / "ag_news_train.tsv", AG_NEWS)
    catalog = crossfit.crossfit_benchmark(folder=str(folder))
    assert catalog.notes == ("CrossFit: 1 task(s) train on a few-shot file (k examples per class or task) for want of "
                             "the full {task}_train.tsv: lama-google_re",)
    report = register_catalogs([catalog], namespace="crossfit_fixture")
    assert report.present == {"crossfit": 4} and report.absent == {"crossfit": 156}
    trained = {name for name, _ in registry.get_mixture("crossfit_fixture_crossfit_train").rates}
    assert trained == {"crossfit:search_qa", "crossfit:aslg_pc12", "crossfit:lama_google_re"}
    assert {name for name, _ in registry.get_mixture("crossfit_fixture_max_train").rates} == trained
    spec = registry.get_task("crossfit:lama_google_re")
    assert spec.path.endswith("lama-google_re_32_100_train.tsv") and spec.num_examples == BY_NAME["lama-google_re"].num_examples
    task = READERS[spec.reader](spec.path, spec.source_name, **dict(spec.reader_args))
    assert task.instruction == BY_NAME["lama-google_re"].instruction and task.examples[0].targets == ("100",)
    inputs = catalog.inputs(BY_NAME["search_qa"])
    assert inputs.evaluation.path.endswith("search_qa_test.tsv") and inputs.train.path.endswith("search_qa_train.tsv")
    removed = registry.get_task("crossfit:ag_news")  # Registered, so its data can be read, but trained by no mixture.
    ag_news = READERS[removed.reader](removed.path, removed.source_name, **dict(removed.reader_args))
    assert ag_news.examples[0].options == ("Business", "Sports", "World")  # Its table row says "labels".
