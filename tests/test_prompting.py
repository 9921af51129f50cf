"""Prompt formatting: delimiters, the ':' rule, evaluation shots and MetaICL demonstrations."""

import collections
import re

import pytest

from data_fixtures import write_superni_task
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.examples import Demonstration, Example
from optiml_jax.data.prompting import (DELIMITERS, DEMONSTRATION_SEPARATOR, MetaICL, PromptConfig, format_source,
                                       render_example, shortfall)
from optiml_jax.data.registry import TaskSpec
from optiml_jax.data.task_reader import TaskReader

EXAMPLES = [Example(f"t-{i}", f"question {i}", (f"answer {i}", f"alt {i}")) for i in range(50)]
DEMOS = (Demonstration("demo q1", "demo a1"), Demonstration("demo q2", "demo a2"))


def _render(index, config=PromptConfig(), task="task1_fixture"):
    return render_example(task, "Do the task.", DEMOS, EXAMPLES[index], index, len(EXAMPLES), config,
                          lambda indices: [EXAMPLES[i] for i in indices])


def test_zero_shot_format_and_seeded_delimiters():
    used = collections.Counter()
    for index in range(len(EXAMPLES)):
        source, target = _render(index)
        assert source.startswith(f"Do the task.\nInput: question {index}")
        delimiter = source[len(f"Do the task.\nInput: question {index}"):]
        assert delimiter in DELIMITERS
        used[delimiter] += 1
        assert target in EXAMPLES[index].targets
        assert _render(index) == (source, target)  # Same seed, same example → same prompt.
    assert len(used) == len(DELIMITERS)
    assert [_render(i, PromptConfig(seed=1)) for i in range(10)] != [_render(i) for i in range(10)]


def test_no_delimiter_after_a_colon():
    assert format_source("Inst.", "Question: what?\nAnswer:", " A:") == "Inst.\nInput: Question: what?\nAnswer:"
    assert format_source("Inst.", "x", " A:") == "Inst.\nInput: x A:"


def test_evaluation_shots_come_from_positive_examples():
    source, _ = _render(3, PromptConfig(num_shots=2))
    blocks = source.split(DEMONSTRATION_SEPARATOR)
    assert len(blocks) == 3 and blocks[0].startswith("Do the task.\nInput: demo q1") and blocks[0].endswith(" demo a1")
    assert blocks[2].startswith("Input: question 3")
    assert shortfall(PromptConfig(num_shots=5), len(DEMOS)) == 3
    assert len(_render(3, PromptConfig(num_shots=5))[0].split(DEMONSTRATION_SEPARATOR)) == 3  # All the task has.


def test_metaicl_demonstrations_are_other_examples_with_zipf_counts():
    config = PromptConfig(metaicl=MetaICL(zipf_a=4.0, max_shots=5))
    shots = []
    for index in range(len(EXAMPLES)):
        source, _ = _render(index, config, task=f"task{index}")
        blocks = source.split(DEMONSTRATION_SEPARATOR)
        shots.append(len(blocks) - 1)
        assert f"Input: question {index}" in blocks[-1]
        assert all(f"Input: question {index} " not in b and not b.endswith(f"question {index}") for b in blocks[:-1])
    assert max(shots) <= 5 and 0.8 < shots.count(0) / len(shots) < 1.0


def test_shots_and_metaicl_exclude_each_other():
    with pytest.raises(ValueError, match="exclude each other"):
        PromptConfig(num_shots=2, metaicl=MetaICL())


def _reader_with_shots(tmp_path, shots, max_examples, seed=0):
    name = "task90600_no_positives_fixture"
    path = write_superni_task(tmp_path, name, [(f"question {i}", [f"answer {i}"]) for i in range(10)], positives=0)
    spec = TaskSpec(name=f"fixture:{name}:{shots}shot", source_name=name, benchmark="fixture", category="QA",
                    split="test", level="fully_held_out", reader="superni", path=path, num_examples=10,
                    max_examples=max_examples, prompt=PromptConfig(seed=seed, num_shots=shots))
    return TaskReader(spec, ExampleStore(str(tmp_path / "cache")))


def test_tasks_without_positive_examples_draw_demonstrations_from_unevaluated_instances(tmp_path):
    reader = _reader_with_shots(tmp_path, shots=2, max_examples=4)
    shown = [d.input for d in reader.demonstrations]
    assert len(shown) == 2 and all(q in {f"question {i}" for i in range(4, 10)} for q in shown)
    assert shown == [d.input for d in _reader_with_shots(tmp_path, 2, 4).demonstrations]  # Seeded per task.
    assert any(shown != [d.input for d in _reader_with_shots(tmp_path, 2, 4, seed=s).demonstrations]
               for s in range(1, 6))
    source = reader.render([0])[0].source
    assert source.count(DEMONSTRATION_SEPARATOR) == 2 and f"Input: {shown[0]}" in source
    assert "demonstrations missing" not in str(reader.skipped)



def test_with_too_few_unevaluated_instances_each_example_draws_other_evaluated_examples(tmp_path):
    few = _reader_with_shots(tmp_path, shots=5, max_examples=8)  # Only instances 8 and 9 are left.
    assert few.demonstrations is None and not few.skipped
    for index, rendered in enumerate(few.render(range(8))):
        shown = [int(q) for q in re.findall(r"Input: question (\d+)", rendered.source)]
        assert len(shown) == 6 and shown[-1] == index
        assert len(set(shown[:-1])) == 5 and index not in shown[:-1] and max(shown) < 8
    assert _reader_with_shots(tmp_path, 5, 8).render([3]) == few.render([3])  # Seeded per example.
    two = _reader_with_shots(tmp_path, shots=5, max_examples=3)  # 7 left over: drawn once per task.
    assert len(two.demonstrations) == 5
