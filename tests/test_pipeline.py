"""PackedBatchStream on the real SuperNI mixture: content, determinism, resume, shards, SeqIO parity."""

import json
import os

import numpy as np
import pytest

import optiml_jax.tasks  # noqa: F401  (registers the bench)
from data_fixtures import real_data_dir
from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.pipeline import PackedBatchStream
from optiml_jax.data.task_reader import TaskReader, default_vocabulary, encode_source_target

MIXTURE = "opt_iml_train"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    real_data_dir()
    return str(tmp_path_factory.mktemp("example_cache"))


def _stream(cache_dir, **kwargs):
    settings = dict(batch_size=4, sequence_length=2048, seed=0, cache_dir=cache_dir)
    return PackedBatchStream(MIXTURE, **{**settings, **kwargs})


def _segments(batch):
    for row in range(batch["decoder_segment_ids"].shape[0]):
        segments = batch["decoder_segment_ids"][row]
        for segment in range(1, segments.max() + 1):
            where = segments == segment
            yield (batch["decoder_input_tokens"][row][where], batch["decoder_target_tokens"][row][where],
                   batch["decoder_loss_weights"][row][where])


def test_packed_batches_decode_back_to_the_original_examples(cache_dir):
    store, vocabulary = ExampleStore(cache_dir), default_vocabulary()
    rendered = {}
    for name, _ in registry.get_mixture(MIXTURE).rates:
        reader = TaskReader(registry.get_task(name), store)
        for example in reader.render(range(len(reader))):
            rendered[(example.source, example.target)] = name
    sources_by_target = {}
    for source, target in rendered:
        sources_by_target.setdefault(target, []).append(source)
    stream = _stream(cache_dir)
    matched = truncated_seen = 0
    for _ in range(6):
        for inputs, targets, weights in _segments(next(stream)):
            assert inputs[0] == 2 and targets[-1] == 2 and weights[-1] == 1
            source_ids = inputs[1:][weights[:-1] == 0]
            target_ids = targets[weights == 1][:-1]
            # Loss weights are 1 on exactly the target tokens: a contiguous suffix ending in EOS.
            assert (weights == 0).sum() == len(source_ids) and np.all(np.diff(weights) >= 0)
            source, target = vocabulary.decode(source_ids.tolist()), vocabulary.decode(target_ids.tolist())
            if (source, target.removeprefix(" ")) in rendered:
                assert encode_source_target(vocabulary, [(source, target.removeprefix(" "))]) == [
                    (source_ids.tolist(), target_ids.tolist())]
                matched += 1
            else:  # Left-truncated: the row keeps the end of an over-long prompt (P3's WikiHop).
                full = [s for s in sources_by_target[target.removeprefix(" ")] if s.endswith(source.strip())]
                assert full and all(len(vocabulary.encode(s)) > len(source_ids) for s in full), source[:80]
                truncated_seen += 1
    truncated = sum(stream.report()["truncated_examples"].values())
    assert matched > 50 and truncated == truncated_seen


def test_stream_is_deterministic_and_efficient(cache_dir):
    first, second = _stream(cache_dir), _stream(cache_dir)
    batches = [next(first) for _ in range(3)]
    for batch in batches:
        again = next(second)
        assert all(np.array_equal(batch[k], again[k]) for k in batch)
    other = next(_stream(cache_dir, seed=1))
    assert not np.array_equal(other["decoder_input_tokens"], batches[0]["decoder_input_tokens"])
    real = sum((b["decoder_segment_ids"] > 0).sum() for b in batches)
    assert real / (3 * 4 * 2048) >= 0.95


@pytest.mark.parametrize("restart_step", [0, 3])
def test_resume_after_restart_equals_the_uninterrupted_stream(cache_dir, restart_step):
    uninterrupted = _stream(cache_dir)
    expected = [next(uninterrupted) for _ in range(restart_step + 6)][restart_step:]
    interrupted = _stream(cache_dir)
    for _ in range(restart_step):
        next(interrupted)
    state = json.loads(json.dumps(interrupted.state()))  # As saved inside a checkpoint.
    # Small: the pool's positions, a few settings, and 8 hex digits (+ a separator) per task and
    # per data file of the fingerprint.
    fingerprint = state["fingerprint"]
    assert len(fingerprint) == 9 * (fingerprint.count(".") + fingerprint.count(":") + 1) - 1
    assert len(json.dumps(state)) - len(fingerprint) < 4096
    resumed = _stream(cache_dir, state=state)
    restored = _stream(cache_dir, seed=0)
    restored.restore(state)
    for batch in expected:
        for stream in (resumed, restored):
            got = next(stream)
            assert all(np.array_equal(batch[k], got[k]) for k in batch)
    assert resumed.step == restart_step + 6


def test_restore_refuses_a_state_from_other_settings(cache_dir):
    state = _stream(cache_dir).state()
    with pytest.raises(ValueError, match="batch_size"):
        _stream(cache_dir, batch_size=8, state=state)


def test_shards_split_the_global_batch(cache_dir):
    whole = next(_stream(cache_dir))
    halves = [next(_stream(cache_dir, shard_index=i, num_shards=2)) for i in range(2)]
    for key in whole:
        assert halves[0][key].shape == (2, 2048)
        np.testing.assert_array_equal(np.concatenate([h[key] for h in halves]), whole[key])
    with pytest.raises(ValueError, match="not divisible"):
        _stream(cache_dir, num_shards=3)


def test_restore_refuses_a_state_whose_data_files_changed(tmp_path):
    """Files added, removed or replaced since the state was saved would silently change the data."""
    from data_fixtures import write_superni_task

    names = []
    for i in range(2):
        path = write_superni_task(tmp_path, f"task{9900 + i}_fingerprint_fixture",
                                  [(f"question {j} of {i}", [f"answer {j}"]) for j in range(20)])
        name = f"fixture:fingerprint_{i}"
        registry.add_task(registry.TaskSpec(name=name, source_name=f"task{9900 + i}", benchmark="fixture",
                                            category="Question Answering", split="train", level="",
                                            reader="superni", path=path, num_examples=20))
        names.append((name, path))
    registry.add_mixture(registry.MixtureSpec("fixture_fingerprint", tuple((n, 0.5) for n, _ in names)))
    settings = dict(batch_size=2, sequence_length=256, cache_dir=str(tmp_path / "cache"))
    stream = PackedBatchStream("fixture_fingerprint", **settings)
    next(stream)
    state = stream.state()
    PackedBatchStream("fixture_fingerprint", state=state, **settings)  # unchanged: restores
    with open(names[1][1], "a", encoding="utf-8") as f:
        f.write(" ")  # the file changed on disk
    with pytest.raises(ValueError, match="data files changed since it was saved"):
        PackedBatchStream("fixture_fingerprint", state=state, **settings)


def test_a_fresh_stream_reads_a_same_size_same_mtime_edit_not_the_cached_examples(tmp_path):
    """The example cache is keyed by content: an edit that keeps the file's size and modification
    time must not be served from the cache a previous run built."""
    from data_fixtures import write_superni_task

    path = write_superni_task(tmp_path, "task9960_cache_fixture",
                              [(f"question {j}", [f"answer {j}"]) for j in range(20)])
    registry.add_task(registry.TaskSpec(name="fixture:cache_key", source_name="task9960", benchmark="fixture",
                                        category="Question Answering", split="train", level="",
                                        reader="superni", path=path, num_examples=20))
    registry.add_mixture(registry.MixtureSpec("fixture_cache_key", (("fixture:cache_key", 1.0),)))
    vocabulary = default_vocabulary()

    def targets_read() -> set[str]:
        stream = PackedBatchStream("fixture_cache_key", batch_size=2, sequence_length=1024,
                                   cache_dir=str(tmp_path / "cache"))
        return {vocabulary.decode(targets[weights == 1][:-1].tolist()).strip()
                for _ in range(4) for _, targets, weights in _segments(next(stream))}

    assert {"answer 13", "answer 7"} <= targets_read()  # builds the cache
    status = os.stat(path)
    text = open(path, encoding="utf-8").read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace("answer 13", "answer 31"))
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert os.path.getsize(path) == status.st_size
    targets = targets_read()
    assert "answer 31" in targets and "answer 13" not in targets
