"""Aggregation as in the paper (§4.1) on task scores of several benchmarks (fixtures; only SuperNI
has local data today): subtasks → task → across benchmarks → category → level, per benchmark,
per shot count, summarization 0-shot only, and the combined 0+5-shot average."""

import pytest

from optiml_jax.evaluation.aggregation import aggregate
from optiml_jax.evaluation.runner import GENERATION, RANK_CLASSIFICATION, TaskResult

FH, PS, FS = "fully_held_out", "partially_held_out", "fully_supervised"

# (benchmark, subtask, evaluation task, level, category, metric, 0-shot score, 5-shot score, n)
TASKS = [
    ("superni", "task1152_bard", "Bard Analogical Reasoning", FH, "Word Analogy", "rouge_l", 10, 30, 100),
    ("superni", "task1153_bard", "Bard Analogical Reasoning", FH, "Word Analogy", "rouge_l", 20, 50, 50),
    ("superni", "task1393_copa", "COPA", FH, "Cause Effect Classification", "rouge_l", 60, 70, 100),
    ("promptsource", "copa", "COPA", FH, "Cause Effect Classification", "accuracy", 80, 90, 100),
    ("flan", "copa", "COPA", FH, "Cause Effect Classification", "accuracy", 40, 50, 100),
    ("superni", "task391_cause", "Cause-Effect", FH, "Cause Effect Classification", "rouge_l", 20, 40, 100),
    ("superni", "task392_cause", "Cause-Effect", FH, "Cause Effect Classification", "rouge_l", 40, 40, 100),
    ("mmlu", "mmlu_anatomy", "MMLU (57 subtasks)", PS, "MMLU", "accuracy", 30, 35, 100),
    ("mmlu", "mmlu_law", "MMLU (57 subtasks)", PS, "MMLU", "accuracy", 50, 45, 100),
    ("flan", "newsroom", "Newsroom", PS, "Summarization", "rouge_l", 18, 99, 100),
    ("flan", "squad_v1", "SQuAD v1", FS, "Question Answering", "rouge_l", 86, 84, 100),
]


def _results(checkpoint="ckpt/checkpoint_10", step=10, offset=0.0):
    results = []
    for benchmark, task, parent, level, category, metric, zero, five, n in TASKS:
        for shots, score in ((0, zero), (5, five)):
            method = RANK_CLASSIFICATION if metric == "accuracy" else GENERATION
            values = {metric: score + offset} if method == RANK_CLASSIFICATION else {
                "rouge_l": score + offset, "exact_match": score / 2}
            results.append(TaskResult(
                task=f"{benchmark}:{task}:{shots}shot", source_name=task, benchmark=benchmark, category=category,
                level=level, split="dev", evaluation_task=parent, shots=shots, method=method, metric=metric,
                score=score + offset, metrics=values, n=n, skipped={}, checkpoint=checkpoint, step=step))
    return results


def _find(records, scope, shots, checkpoint="ckpt/checkpoint_10", **key):
    matches = [r for r in records if r["scope"] == scope and r["shots"] == shots and r["checkpoint"] == checkpoint
               and all(r[k] == v for k, v in key.items())]
    assert len(matches) == 1, (scope, shots, key, matches)
    return matches[0]


def test_zero_shot_cells_follow_the_paper_order():
    records = aggregate(_results())
    bard = _find(records, "benchmark_task", 0, benchmark="superni", task="Bard Analogical Reasoning")
    assert bard["score"] == 15 and bard["n"] == 150 and bard["metric"] == "rouge_l"
    copa = _find(records, "evaluation_task", 0, task="COPA")
    assert copa["score"] == pytest.approx((60 + 80 + 40) / 3) and copa["metric"] == "mixed" and copa["n"] == 300
    assert copa["benchmark"] == "all"
    cause_effect = _find(records, "category", 0, level=FH, category="Cause Effect Classification")
    assert cause_effect["score"] == 45  # COPA 60, Cause-Effect 30
    assert _find(records, "level", 0, level=FH)["score"] == 30  # (15 + 45) / 2
    assert _find(records, "level", 0, level=PS)["score"] == 29  # MMLU 40, Summarization 18
    assert _find(records, "level", 0, level=FS)["score"] == 86
    average = _find(records, "average", 0)
    assert average["score"] == pytest.approx((15 + 45 + 40 + 18 + 86) / 5) and average["n"] == 1050


def test_per_benchmark_cells():
    records = aggregate(_results())
    assert _find(records, "benchmark_level", 0, benchmark="superni", level=FH)["score"] == 30
    assert _find(records, "benchmark_level", 0, benchmark="promptsource", level=FH)["score"] == 80
    assert _find(records, "benchmark_level", 0, benchmark="flan", level=PS)["score"] == 18
    assert _find(records, "benchmark_average", 0, benchmark="flan")["score"] == pytest.approx((40 + 18 + 86) / 3)
    assert _find(records, "benchmark_average", 0, benchmark="mmlu")["score"] == 40


def test_summarization_counts_zero_shot_only_and_the_combined_average():
    records = aggregate(_results())
    assert _find(records, "task", 5, task="newsroom")["score"] == 99  # kept per task…
    assert not [r for r in records if r["shots"] == 5 and r["scope"] == "category" and r["category"] == "Summarization"]
    assert _find(records, "level", 5, level=PS)["score"] == 40  # …but out of the aggregates
    five = _find(records, "average", 5)["score"]
    assert five == pytest.approx((40 + 55 + 40 + 84) / 4)
    assert _find(records, "average", "0+5")["score"] == pytest.approx(((15 + 45 + 40 + 18 + 86) / 5 + five) / 2)
    assert _find(records, "category", "0+5", level=PS, category="Summarization")["score"] == 18
    assert _find(records, "level", "0+5", level=PS)["score"] == pytest.approx((29 + 40) / 2)


def test_tk_instruct_categories_weight_examples():
    records = aggregate(_results())
    word_analogy = _find(records, "tk_instruct_category", 0, category="Word Analogy")
    assert word_analogy["metric"] == "exact_match" and word_analogy["n"] == 150
    assert word_analogy["score"] == pytest.approx((5 * 100 + 10 * 50) / 150)  # EM = score / 2 in the fixture
    assert {r["category"] for r in records if r["scope"] == "tk_instruct_category"} == {
        "Word Analogy", "Cause Effect Classification"}  # SuperNI generation tasks only


def test_checkpoints_are_aggregated_separately_with_every_field():
    records = aggregate(_results() + _results("ckpt/checkpoint_20", 20, offset=1.0))
    assert _find(records, "average", 0, checkpoint="ckpt/checkpoint_20")["score"] == pytest.approx(40.8 + 1)
    assert _find(records, "average", 0)["score"] == pytest.approx(40.8)
    fields = {"checkpoint", "step", "split", "shots", "scope", "benchmark", "level", "category", "task", "metric",
              "score", "n"}
    assert all(fields <= set(r) for r in records)
    assert {r["step"] for r in records} == {10, 20}


def test_no_combined_cells_without_both_zero_and_five_shots():
    only_zero = [r for r in _results() if r.shots == 0]
    assert not [r for r in aggregate(only_zero) if r["shots"] == "0+5"]
