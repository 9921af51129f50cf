"""Per-host input: each shard prepares only its rows, and the global batch does not depend on the
number of shards (1, 2 or 4), across restarts on another number, and with prefetch workers."""

import json

import numpy as np
import pytest

import optiml_jax.tasks  # noqa: F401  (registers the bench)
from data_fixtures import real_data_dir
from optiml_jax.data import registry
from optiml_jax.data.pipeline import PackedBatchStream, ResolvedMixture, merge_states
from optiml_jax.data.prefetch import PrefetchingStream

MIXTURE = "opt_iml_train"
BATCH = 8
LENGTH = 512


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    real_data_dir()
    return str(tmp_path_factory.mktemp("example_cache"))


def _shards(cache_dir, num_shards, state=None):
    return [PackedBatchStream(MIXTURE, batch_size=BATCH, sequence_length=LENGTH, shard_index=i,
                              num_shards=num_shards, cache_dir=cache_dir, state=state)
            for i in range(num_shards)]


def _step(shards):
    """One global batch from every shard, and the stream positions in each of its rows."""
    parts = [next(shard) for shard in shards]
    batch = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    return batch, [row for shard in shards for row in shard.last_positions()]


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_global_batches_are_the_same_for_1_2_and_4_shards(cache_dir):
    runs = {n: [_step(shards) for shards in [_shards(cache_dir, n)] for _ in range(4)] for n in (1, 2, 4)}
    for n in (2, 4):
        for (batch, rows), (reference, reference_rows) in zip(runs[n], runs[1]):
            _assert_same(batch, reference)
            assert rows == reference_rows  # The same examples, in the same order, in every row.
    # Each shard prepared only its own rows' examples.
    quarter = _shards(cache_dir, 4)[1]
    next(quarter)
    assert quarter.rows == (2, 4) and all(p % BATCH in (2, 3) for pool in quarter.state()["pool"] for p in pool)


def test_resume_on_another_shard_count_neither_repeats_nor_skips(cache_dir):
    uninterrupted = _shards(cache_dir, 1)
    expected = [_step(uninterrupted) for _ in range(9)]
    consumed = []
    shards = _shards(cache_dir, 1)
    for count in (4, 2, 1):  # 3 steps each, then a restart on `count` shards.
        for _ in range(3):
            batch, rows = _step(shards)
            _assert_same(batch, expected[len(consumed)][0])
            consumed.append(rows)
        state = json.loads(json.dumps(merge_states([shard.state() for shard in shards])))
        shards = _shards(cache_dir, count, state=state)
    positions = [p for rows in consumed for row in rows for p in row]
    assert len(positions) == len(set(positions)), "an example position was trained on twice"
    # Nothing skipped: every position read so far is either trained on or still waiting in a pool.
    state = merge_states([shard.state() for shard in shards])
    waiting = [p for pool in state["pool"] for p in pool]
    read = {row + j * BATCH for row, pulled in enumerate(state["pulled"]) for j in range(pulled)}
    assert set(positions) | set(waiting) == read and not set(positions) & set(waiting)


def test_merge_states_names_missing_rows(cache_dir):
    shards = _shards(cache_dir, 4)
    with pytest.raises(ValueError, match=r"rows \[4, 6\) are in no shard's state"):
        merge_states([shards[0].state(), shards[1].state(), shards[3].state()])
    with pytest.raises(ValueError, match="rows"):
        _shards(cache_dir, 2, state=shards[0].state())  # Rows 0-1 only: not a half's.


@pytest.mark.parametrize("workers", [0, 2])
def test_prefetch_yields_the_stream_and_the_state_of_the_batch_taken(cache_dir, workers):
    direct = _shards(cache_dir, 1)[0]
    expected = [next(direct) for _ in range(5)]
    with PrefetchingStream(MIXTURE, batch_size=BATCH, sequence_length=LENGTH, cache_dir=cache_dir,
                           workers=workers, depth=2) as prefetched:
        for batch in expected[:3]:
            _assert_same(next(prefetched), batch)
        state = prefetched.state()
        # The workers are batches ahead; the state is that of the third batch.
        assert state["step"] == 3 and state["rows"] == [0, BATCH]
        report = prefetched.report()
    with PrefetchingStream(MIXTURE, batch_size=BATCH, sequence_length=LENGTH, cache_dir=cache_dir,
                           workers=workers, state=state) as resumed:
        for batch in expected[3:]:
            _assert_same(next(resumed), batch)
    assert report["tasks_in_mixture"] == len(registry.get_mixture(MIXTURE).rates)


def test_a_failing_prefetch_worker_raises_its_error_in_the_caller(tmp_path, cache_dir):
    mixture = ResolvedMixture.from_registry(MIXTURE)
    spec = mixture.specs[0]
    broken = ResolvedMixture("broken", mixture.rates[:1],
                             (type(spec)(**{**spec.__dict__, "path": str(tmp_path / "gone.json")}),))
    with pytest.raises(RuntimeError, match=r"worker 0 failed:(.|\n)*gone\.json"):
        PrefetchingStream(broken, batch_size=BATCH, sequence_length=LENGTH, cache_dir=cache_dir, workers=1)
