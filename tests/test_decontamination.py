"""13-gram decontamination (§2.3): hashing, a planted overlap found exactly, template text ignored,
and decisions that take a task out of the mixtures."""

import numpy as np
import pytest

from optiml_jax.data import registry
from optiml_jax.data.decontamination import example_hashes, find_overlaps, ngram_hashes
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.mixing import PAPER_BENCHMARK_PROPORTIONS
from optiml_jax.tasks.decontamination import apply_decisions, measure, read_decisions, run
from optiml_jax.tasks.registration import register_catalogs
from optiml_jax.tasks.user import user_benchmarks, user_proportions
from user_task_fixtures import write_user_catalog

LEAKED = "the quick brown fox jumps over the lazy dog while the farmer sleeps under an old oak tree"


def _words(count: int, start: int = 0) -> str:
    return " ".join(f"w{i}" for i in range(start, start + count))


def test_ngram_hashes_ignore_case_and_punctuation_and_need_13_words():
    assert len(ngram_hashes(_words(12))) == 0
    assert len(ngram_hashes(_words(13))) == 1 and len(ngram_hashes(_words(20))) == 8
    a = ngram_hashes("The QUICK brown fox, jumps over the lazy dog; while the farmer sleeps!")
    b = ngram_hashes("the quick brown fox jumps over the lazy dog while the farmer sleeps")
    np.testing.assert_array_equal(a, b)
    assert not np.isin(ngram_hashes(_words(13, start=1)), ngram_hashes(_words(13))).any()


def test_ngrams_never_span_two_texts_of_an_example():
    assert len(example_hashes((_words(7), _words(7, start=7)))) == 0
    assert len(example_hashes((_words(14),))) == 2


def _task(examples):
    return lambda: iter(examples)


def test_planted_overlap_is_found_exactly_and_template_text_is_not_counted():
    template = "please read the following passage carefully and then answer the question asked about it"
    evaluation = [(f"{template}: {_words(30, 100 * i)}", f"answer {i}") for i in range(50)]
    evaluation[7] = (f"{template}: {LEAKED}", "answer 7")
    train = {
        "leaky": _task([(f"some context {LEAKED} more text",)] + [(_words(30, 10_000 + 50 * i),) for i in range(20)]),
        "same_template_only": _task([(f"{template}: {_words(30, 50_000 + 50 * i)}",) for i in range(20)]),
        "clean": _task([(_words(40, 90_000),)]),
    }
    report = find_overlaps(train, {"eval": [_task(evaluation)]})
    assert [(p.train_task, p.eval_task, p.overlapping, p.eval_examples) for p in report.pairs] == [("leaky", "eval", 1, 50)]
    assert report.pairs[0].fraction == 0.02 and report.over(0.01) == report.pairs
    assert set(report.pairs[0].sample.split()) <= set(LEAKED.split())
    assert (report.train_tasks, report.eval_tasks, report.train_examples, report.eval_examples) == (3, 1, 42, 50)


def _user_bench(tmp_path, namespace):
    evaluation = [{"input": f"Question {i}: {_words(20, 1000 * i)}", "targets": [f"answer {i}"]} for i in range(40)]
    evaluation[3] = {"input": f"Question 3: {LEAKED}", "targets": ["answer 3"]}
    catalog = write_user_catalog(tmp_path, [
        {"name": f"{namespace}_leaky", "category": "Question Answering", "split": "train",
         "instruction": "Answer the question.", "records": [{"input": f"Tell me: {LEAKED}", "targets": ["x"]}] +
         [{"input": _words(20, 500_000 + 100 * i), "targets": ["y"]} for i in range(9)]},
        {"name": f"{namespace}_clean", "category": "Question Answering", "split": "train",
         "instruction": "Answer the question.", "records": [{"input": _words(20, 900_000 + 100 * i), "targets": ["z"]}
                                                             for i in range(10)]},
        {"name": f"{namespace}_eval", "category": "Question Answering", "split": "dev", "level": "partially_held_out",
         "metric": "rouge_l", "instruction": "Answer the question.", "records": evaluation},
    ])
    return user_benchmarks(set(), [catalog])


def _register(catalogs, namespace):
    return register_catalogs(catalogs, namespace=namespace,
                             proportions=user_proportions(catalogs, {**PAPER_BENCHMARK_PROPORTIONS, "user": 5.0}))


def test_the_command_finds_exactly_the_planted_pair_of_registered_tasks(tmp_path, capsys):
    _register(_user_bench(tmp_path, "deco_a"), "deco_a")
    report = measure("deco_a_train", ExampleStore(str(tmp_path / "cache")))
    assert [(p.train_task, p.eval_task, p.overlapping, p.eval_examples) for p in report.over()] == [
        ("user:deco_a_leaky", "user:deco_a_eval", 1, 40)]

    run("deco_a_train", str(tmp_path / "out"))
    printed = capsys.readouterr().out
    assert "user:deco_a_leaky" in printed and "1/40 = 2.5%" in printed and "peak RSS" in printed
    assert (tmp_path / "out" / "overlaps.tsv").read_text().count("\n") == 2  # header + the pair


def test_applying_the_decisions_removes_the_tasks_from_the_mixtures(tmp_path):
    decisions_file = tmp_path / "decisions.tsv"
    decisions_file.write_text("action\ttask\treason\n"
                              "drop_train\tuser:deco_b_leaky\t13-gram overlap 2.5% with user:deco_b_eval\n"
                              "drop_eval\tuser:deco_b_eval\tthe same questions as a training task\n")
    catalogs = apply_decisions(_user_bench(tmp_path, "deco_b"), read_decisions(str(decisions_file)))
    entries = {e.name: e for e in catalogs[0].entries}
    assert entries["deco_b_leaky"].split == "removed" and "§2.3 decontamination" in entries["deco_b_leaky"].reason
    _register(catalogs, "deco_b")
    for mixture in ("deco_b_train", "deco_b_max_train", "deco_b_user_train"):  # OPT-IML-Max's too
        assert [name for name, _ in registry.get_mixture(mixture).rates] == ["user:deco_b_clean"], mixture
    with pytest.raises(Exception, match="unknown mixture"):
        registry.get_mixture("deco_b_dev_partially_held_out_0shot")


def test_a_decision_naming_an_unknown_or_wrong_kind_of_task_raises(tmp_path):
    catalogs = _user_bench(tmp_path, "deco_c")
    bad = tmp_path / "bad.tsv"
    bad.write_text("action\ttask\treason\ndrop_train\tuser:no_such_task\ttypo\n")
    with pytest.raises(ValueError, match=r"no_such_task \(.*bad.tsv\)"):
        apply_decisions(catalogs, read_decisions(str(bad)))
    bad.write_text("action\ttask\treason\ndrop_train\tuser:deco_c_eval\toverlap\n")
    with pytest.raises(ValueError, match="not a training task.*use drop_eval"):
        apply_decisions(catalogs, read_decisions(str(bad)))
    bad.write_text("action\ttask\treason\nremove\tuser:deco_c_eval\t\n")
    with pytest.raises(ValueError, match="bad.tsv: line 2"):
        read_decisions(str(bad))
