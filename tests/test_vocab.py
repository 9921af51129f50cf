"""OPTVocabulary: ids equal Hugging Face's OPT tokenizer, seqio contract, pickling; it adapts the
TF-free `OPTTokenizer` that the native path encodes with."""

import glob
import json
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from data_fixtures import real_data_dir
from optiml_jax.data.tokenizer import OPTTokenizer
from optiml_jax.vocab import OPTVocabulary


@pytest.fixture(scope="module")
def vocabulary():
    folder = os.path.join(real_data_dir(), "tokenizers", "opt")
    return OPTVocabulary(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"))


def test_ids_equal_hf_gpt2_tokenizer_fast_on_20_task_files(vocabulary):
    from transformers import GPT2TokenizerFast

    hf = GPT2TokenizerFast.from_pretrained(os.path.join(real_data_dir(), "tokenizers", "opt"))
    files = sorted(glob.glob(os.path.join(real_data_dir(), "superni", "tasks", "*.json")))[:20]
    assert len(files) == 20
    compared = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            task = json.load(f)
        texts = [i["input"] for i in task["Instances"]] + [o for i in task["Instances"] for o in i["output"]]
        ours = vocabulary.encode_batch(texts)
        assert ours == hf(texts, add_special_tokens=False).input_ids, path
        assert all(vocabulary.encode(t) == ids for t, ids in zip(texts[:5], ours))
        compared += len(texts)
    assert compared > 2000


def test_special_ids_and_decode(vocabulary):
    assert (vocabulary.pad_id, vocabulary.bos_id, vocabulary.eos_id, vocabulary.unk_id) == (0, 2, 2, 3)
    assert vocabulary.vocab_size == 50265
    ids = vocabulary.encode("Hello world")
    assert ids == [31414, 232]
    assert vocabulary.decode(ids + [2, 0, 0]) == "Hello world"
    # Special-token strings in text are text: id 0 (padding) never comes out of the tokenizer.
    assert 0 not in vocabulary.encode("<s> </s> <pad>")


def test_equality_and_pickle(vocabulary):
    folder = os.path.join(real_data_dir(), "tokenizers", "opt")
    again = pickle.loads(pickle.dumps(vocabulary))
    assert again == vocabulary and hash(again) == hash(vocabulary)
    assert again.encode("pickled text") == vocabulary.encode("pickled text")
    assert OPTVocabulary(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"), extra_ids=4) != vocabulary


def test_tokenizer_json_gives_the_same_ids(vocabulary, tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(vocabulary.tokenizer.to_str())
    from_json = OPTVocabulary(tokenizer_file=str(path))
    text = "Définition: count the words.\nInput: 3 + 4 = ?"
    assert from_json.encode(text) == vocabulary.encode(text) and from_json == OPTVocabulary(tokenizer_file=str(path))


def test_encode_tf_and_decode_tf_in_a_graph(vocabulary):
    dataset = tf.data.Dataset.from_tensor_slices(["Hello world", "x y"]).map(vocabulary.encode_tf)
    assert [list(x.numpy()) for x in dataset] == [[31414, 232], vocabulary.encode("x y")]
    decoded = vocabulary.decode_tf(tf.constant([[31414, 232, 2, 0]]))
    assert decoded.numpy().tolist() == [b"Hello world"]


def test_missing_tokenizer_files_are_named(monkeypatch):
    monkeypatch.delenv("OPTIML_DATA_DIR", raising=False)
    monkeypatch.delenv("OPTIML_TOKENIZER_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="OPTIML_TOKENIZER_DIR"):
        OPTVocabulary().encode("x")
    np.testing.assert_equal(OPTVocabulary().eos_id, 2)  # Constructing one reads nothing.


def test_the_seqio_vocabulary_adapts_the_tf_free_tokenizer(vocabulary):
    folder = os.path.join(real_data_dir(), "tokenizers", "opt")
    core = OPTTokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"))
    assert vocabulary.core == core and pickle.loads(pickle.dumps(core)) == core and hash(core) == hash(vocabulary.core)
    assert (core.pad_id, core.bos_id, core.eos_id, core.unk_id, core.vocab_size) == (
        vocabulary.pad_id, vocabulary.bos_id, vocabulary.eos_id, vocabulary.unk_id, vocabulary.vocab_size)
    texts = ["Hello world", "Définition: count the words.\nInput: 3 + 4 = ?", "<s> </s> <pad>"]
    assert core.encode_batch(texts) == vocabulary.encode_batch(texts) == [vocabulary.encode(t) for t in texts]
    # seqio's decode rule: ids past the vocabulary are <unk>, nothing after the first EOS, no padding.
    for ids in ([31414, 232, 2, 0, 0], [0, 31414, 1, 232], [31414, 50300, 232], [31414, 2, 232, 2]):
        assert core.decode(ids) == vocabulary.decode(ids), ids
    assert core.decode([31414, 2, 232]) == "Hello"
