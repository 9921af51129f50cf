"""The SeqIO path gives the same examples and tokens as the packed stream, with a saveable iterator."""

import numpy as np
import pytest
import seqio
import tensorflow as tf

import optiml_jax.seqio_tasks  # noqa: F401  (registers the bench in SeqIO)
from data_fixtures import real_data_dir
from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.packing import fit_example, pack_rows
from optiml_jax.data.task_reader import TaskReader, default_vocabulary, encode_source_target

TASKS = ["superni:task1393_superglue_copa_text_completion:2shot", "superni:task1344_glue_entailment_classification:0shot"]
LENGTHS = {"inputs": 4096, "targets": 512}


def _train_tasks(count):
    real_data_dir()
    return [name for name, _ in registry.get_mixture("opt_iml_train").rates[:count]]


@pytest.mark.parametrize("task_name", TASKS + ["TRAIN"])
def test_seqio_examples_equal_the_stream_examples(task_name):
    real_data_dir()
    for name in (_train_tasks(2) if task_name == "TRAIN" else [task_name]):
        spec = registry.get_task(name)
        dataset = seqio.get_mixture_or_task(name).get_dataset(LENGTHS, split=spec.split, shuffle=False, use_cached=False)
        seqio_examples = list(dataset.as_numpy_iterator())
        reader = TaskReader(spec, ExampleStore())
        rendered = reader.render(range(len(reader)))
        encoded = encode_source_target(default_vocabulary(), [(r.source, r.target) for r in rendered])
        assert len(seqio_examples) == len(reader) == (100 if spec.split != "train" else len(reader))
        for example, (_, source, target, references, _), (source_ids, target_ids) in zip(seqio_examples, rendered, encoded):
            assert example["inputs_pretokenized"].decode() == source
            assert example["targets_pretokenized"].decode() == target
            assert [r.decode() for r in example["references"]] == list(references)
            assert example["inputs"].tolist() == source_ids
            assert example["targets"].tolist() == target_ids + [2]


def test_t5x_feature_converter_rows_equal_our_packed_rows():
    name = _train_tasks(1)[0]
    converter = seqio.DecoderFeatureConverter(pack=False, bos_id=2)
    dataset = seqio.get_mixture_or_task(name).get_dataset(LENGTHS, split="train", shuffle=False)
    converted = converter(dataset, LENGTHS).take(20)
    length = sum(LENGTHS.values())
    for row in converted.as_numpy_iterator():
        ids_in = row["decoder_input_tokens"]
        num_source = int(row["decoder_causal_attention"].sum()) - 1
        real = int((row["decoder_target_tokens"] > 0).sum())
        ours = pack_rows([[fit_example(ids_in[1 : num_source + 1].tolist(), ids_in[num_source + 1 : real].tolist(), length)]], length)
        for key in ("decoder_input_tokens", "decoder_target_tokens", "decoder_loss_weights"):
            # Unpacked, SeqIO shifts the whole padded row, leaving the final EOS in the first padding
            # input position (masked, since its target is 0); compare the example's positions.
            np.testing.assert_array_equal(ours[key][0][:real], row[key][:real], err_msg=f"{name} {key}")
            assert not ours[key][0][real:].any()


def test_seqio_iterator_is_saveable(tmp_path):
    name = _train_tasks(1)[0]
    dataset = seqio.get_mixture_or_task(name).get_dataset(LENGTHS, split="train", shuffle=True, seed=3)
    iterator = iter(dataset)
    next(iterator)
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    expected = next(iterator)
    checkpoint.restore(path)
    assert next(iterator)["inputs"].numpy().tolist() == expected["inputs"].numpy().tolist()


def test_over_long_inputs_keep_their_end_in_seqio():
    """An example whose source exceeds the `inputs` budget loses its beginning, not its end."""
    real_data_dir()
    name = "superni:task743_eurlex_summarization"
    task = seqio.get_mixture_or_task(name)
    full = task.get_dataset({"inputs": 100_000, "targets": 100_000}, split="train", shuffle=False,
                            use_cached=False)
    lengths = {"inputs": 1536, "targets": 512}
    trimmed = task.get_dataset(lengths, split="train", shuffle=False, use_cached=False)
    checked = 0
    for whole, cut in zip(full.as_numpy_iterator(), trimmed.as_numpy_iterator()):
        if len(whole["inputs"]) > lengths["inputs"]:
            assert cut["inputs"].tolist() == whole["inputs"][-lengths["inputs"]:].tolist()
            assert default_vocabulary().decode(cut["inputs"][-3:].tolist()) == \
                default_vocabulary().decode(whole["inputs"][-3:].tolist())
            checked += 1
        else:
            assert cut["inputs"].tolist() == whole["inputs"].tolist()
    assert checked >= 1, "the local task743 file should hold at least one over-long source"
