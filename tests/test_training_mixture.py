"""What `opt_iml_train` trains on, with the real local data: held-out instances of fully supervised
tasks never enter it while their other instances do, and every benchmark gets its configured share."""

import collections

import numpy as np
import pytest

import optiml_jax.tasks as bench
from data_fixtures import real_data_dir
from optiml_jax.constants import FULLY_SUPERVISED
from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore, row_hash
from optiml_jax.data.pipeline import PackedBatchStream
from optiml_jax.data.registry import EVALUATION_PART, HeldOutInstances
from optiml_jax.data.task_reader import TaskReader, held_out_mask

SAMPLED = 10_000


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    real_data_dir()
    return PackedBatchStream("opt_iml_train", batch_size=8, sequence_length=512, seed=0,
                             cache_dir=str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def sampled(stream):
    return stream.examples_at(range(SAMPLED))


def _fully_supervised_pairs():
    """(training spec, evaluation specs) of every fully supervised task with local data."""
    pairs = []
    for catalog in bench.benchmarks():
        for entry in catalog.entries:
            if entry.level != FULLY_SUPERVISED:
                continue
            train = registry.get_task(bench.registration.task_name(entry))
            evaluation = [registry.get_task(n) for n in bench.REPORT.tasks
                          if n.startswith(train.name + ":") and registry.get_task(n).path]
            if train.path and evaluation:
                pairs.append((train, evaluation))
    return pairs


def test_held_out_cut_is_a_seeded_tenth_of_the_rows():
    rows = np.asarray([row_hash(f"row-{i}") for i in range(20_000)], dtype=np.uint64)
    held = held_out_mask(rows, "fixture_task", HeldOutInstances(EVALUATION_PART))
    assert 0.09 < held.mean() < 0.11
    assert (held == held_out_mask(rows, "fixture_task", HeldOutInstances(EVALUATION_PART))).all()
    assert (held != held_out_mask(rows, "other_task", HeldOutInstances(EVALUATION_PART))).any()
    # A row's side depends on nothing but its own id: adding rows moves no existing row.
    assert (held[:100] == held_out_mask(rows[:100], "fixture_task", HeldOutInstances(EVALUATION_PART))).all()


def test_no_evaluation_instance_of_a_fully_supervised_task_enters_opt_iml_train(stream, sampled, tmp_path):
    pairs = _fully_supervised_pairs()
    assert pairs, "no fully supervised task with local data (the P3 CNN/DM files should give one)"
    mixture = dict(registry.get_mixture("opt_iml_train").rates)
    drawn = collections.defaultdict(set)
    for task, example_id in sampled:
        drawn[task].add(example_id)
    store = ExampleStore(str(tmp_path))
    for train, evaluation in pairs:
        assert train.name in mixture and train.holdout is not None
        trained = TaskReader(train, store).examples
        trained_ids, trained_rows = {e.id for e in trained}, {e.row_key for e in trained}
        for spec in evaluation:
            held = list(TaskReader(spec, store).examples)
            assert held, spec.name
            assert not {e.id for e in held} & trained_ids and not {e.row_key for e in held} & trained_rows, spec.name
            assert not {e.id for e in held} & drawn[train.name], spec.name  # …and the stream never drew one.
        assert drawn[train.name] and drawn[train.name] <= trained_ids  # The task's other instances do train.


def test_benchmark_shares_of_10000_sampled_examples_match_the_configured_rates(sampled):
    shares = bench.REPORT.mixing["opt_iml_train"].benchmark_shares
    assert {"superni", "promptsource", "flan", "reasoning"} <= set(shares)
    counts = collections.Counter(registry.get_task(task).benchmark for task, _ in sampled)
    for benchmark, share in shares.items():
        assert abs(counts[benchmark] / SAMPLED - share) <= 0.02, (benchmark, counts[benchmark] / SAMPLED, share)


def test_dialogue_trains_only_in_its_own_and_the_ablation_mixture():
    assert not [t for t, _ in registry.get_mixture("opt_iml_train").rates if t.startswith("dialogue:")]
    assert not [t for t, _ in registry.get_mixture("opt_iml_max_train").rates if t.startswith("dialogue:")]
    ablation = bench.REPORT.mixing["opt_iml_train_with_dialogue"].benchmark_shares
    assert ablation["dialogue"] == pytest.approx(0.005)
    base = bench.REPORT.mixing["opt_iml_train"].benchmark_shares
    assert all(ablation[b] == pytest.approx(s * 0.995) for b, s in base.items())
