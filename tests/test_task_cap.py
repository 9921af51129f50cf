"""§2.1's per-task cap: "we take maximally 100k examples (at random) per task from all benchmarks
except FLAN, where we take maximally 30k": training reads a seeded random subset, the same every
time; registration caps the mixing weight the same way."""

from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.mixing import FLAN_TASK_CAP, TASK_CAP, task_cap
from optiml_jax.data.registry import TaskSpec
from optiml_jax.data.task_reader import TaskReader
from user_task_fixtures import sentiment_records, write_jsonl


def _spec(path, cap):
    return TaskSpec(name="user:capped", source_name="capped", benchmark="user", category="Sentiment Analysis",
                    split="train", level="", reader="custom", path=path, num_examples=50, train_cap=cap,
                    reader_args=(("instruction", "Positive or negative?"),))


def test_training_reads_a_seeded_random_subset_of_at_most_the_cap(tmp_path):
    path = write_jsonl(tmp_path / "capped.jsonl", sentiment_records(50))
    capped = [e.id for e in TaskReader(_spec(path, 10), ExampleStore(str(tmp_path / "a"))).examples]
    assert len(capped) == 10 == len(set(capped))
    assert capped != [f"review-{i}" for i in range(10)]  # at random, not the first ten…
    assert capped == sorted(capped, key=lambda i: int(i.split("-")[1]))  # …kept in file order
    assert capped == [e.id for e in TaskReader(_spec(path, 10), ExampleStore(str(tmp_path / "b"))).examples]
    assert len(TaskReader(_spec(path, 100), ExampleStore(str(tmp_path / "c")))) == 50  # under the cap: all


def test_the_caps_are_the_papers():
    assert (task_cap("superni"), task_cap("crossfit"), task_cap("flan")) == (TASK_CAP, TASK_CAP, FLAN_TASK_CAP)
    assert (TASK_CAP, FLAN_TASK_CAP) == (100_000, 30_000)
