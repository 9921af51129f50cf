"""Broken inputs fail before anything is written, with a message naming the tensor and the file."""

import json

import pytest
from safetensors.numpy import load_file, save_file

from hf_reference import random_hf_model, save_bin_shards, torch
from metaseq_reference import write_metaseq_parts
from optiml_jax.convert import ConversionError, convert_hf, convert_metaseq, export_hf
from optiml_jax.models.configs import OPTConfig

CONFIG = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
                   max_position_embeddings=64)
FC1 = "model.decoder.layers.0.fc1.weight"


@pytest.fixture(scope="module")
def model():
    return random_hf_model(CONFIG)[0]


@pytest.fixture
def hf_dir(tmp_path, model):
    model.save_pretrained(tmp_path / "hf", max_shard_size=150_000)
    return tmp_path / "hf"


def file_holding(directory, key):
    index = json.loads((directory / "model.safetensors.index.json").read_text())
    return directory / index["weight_map"][key]


def assert_fails_cleanly(src, dest, match, convert=convert_hf, **kwargs):
    with pytest.raises(ConversionError, match=match):
        convert(src, dest, progress=False, **kwargs)
    assert not dest.exists() or list(dest.iterdir()) == [], "a failed conversion left files"


def test_missing_shard(hf_dir, tmp_path):
    file_holding(hf_dir, FC1).unlink()
    assert_fails_cleanly(hf_dir, tmp_path / "out",
                         r"model.safetensors.index.json: names shard\(s\) \['model-0000\d-of-0000\d"
                         r".safetensors'\] that do not exist")


def test_truncated_safetensors(hf_dir, tmp_path):
    shard = file_holding(hf_dir, FC1)
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert_fails_cleanly(hf_dir, tmp_path / "out", rf"{shard.name}: unreadable safetensors file .*"
                                                   rf"truncated")


def test_tensor_with_the_wrong_shape(hf_dir, tmp_path):
    shard = file_holding(hf_dir, FC1)
    tensors = load_file(shard)
    tensors[FC1] = tensors[FC1][:-1]
    save_file(tensors, shard, metadata={"format": "pt"})
    assert_fails_cleanly(hf_dir, tmp_path / "out",
                         rf"tensor {FC1} in .*{shard.name} has shape \(255, 64\), but the config "
                         rf"expects \(256, 64\)")


@pytest.mark.parametrize("field, value, match", [
    ("ffn_dim", 128, rf"tensor {FC1} in .* has shape \(256, 64\), but the config expects "
                     rf"\(128, 64\) \(.*ffn_dim=128"),
    ("num_hidden_layers", 3, r"6 tensor\(s\) that the config needs are missing: "
                             r"\['decoder.layers.2"),
    ("num_hidden_layers", 1, r"16 tensor\(s\) are not part of an OPT model with this config: "
                             r"model.decoder.layers.1"),
])
def test_config_that_disagrees_with_the_tensors(hf_dir, tmp_path, field, value, match):
    config = json.loads((hf_dir / "config.json").read_text())
    config[field] = value
    (hf_dir / "config.json").write_text(json.dumps(config))
    assert_fails_cleanly(hf_dir, tmp_path / "out", match)


class NotATensor:
    """Stands for any pickled object that `torch.load(weights_only=True)` must refuse."""


def test_pickle_that_weights_only_refuses(model, tmp_path):
    [shard, *_] = save_bin_shards(model, tmp_path / "hf", 150_000)
    state = torch.load(shard, weights_only=True)
    state["training_args"] = NotATensor()
    torch.save(state, shard)
    assert_fails_cleanly(tmp_path / "hf", tmp_path / "out",
                         rf"{shard.name}: torch.load\(weights_only=True\) refused this file: .*"
                         rf"test_convert_errors.NotATensor")


def test_index_that_disagrees_with_its_shards(hf_dir, tmp_path):
    index_path = hf_dir / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    actual = index["weight_map"][FC1]
    other = next(f for f in sorted(set(index["weight_map"].values())) if f != actual)
    index["weight_map"][FC1] = other
    index_path.write_text(json.dumps(index))
    assert_fails_cleanly(hf_dir, tmp_path / "out", rf"index.json: lists tensor {FC1} in {other}, "
                                                   rf"but it is in {actual}")


def test_untied_lm_head(model, tmp_path):
    save_bin_shards(model, tmp_path / "hf", 150_000)
    index = json.loads((tmp_path / "hf" / "pytorch_model.bin.index.json").read_text())
    shard = tmp_path / "hf" / index["weight_map"]["lm_head.weight"]
    state = torch.load(shard, weights_only=True)
    state["lm_head.weight"] = state["lm_head.weight"] + 1.0
    torch.save(state, shard)
    assert_fails_cleanly(tmp_path / "hf", tmp_path / "out", "lm_head.weight differs from "
                                                            "decoder.embed_tokens.weight")


def test_existing_outputs_are_not_overwritten(hf_dir, tmp_path):
    convert_hf(hf_dir, tmp_path / "out", progress=False)
    with pytest.raises(FileExistsError, match="checkpoint_0 already exists"):
        convert_hf(hf_dir, tmp_path / "out", progress=False)
    export_hf(tmp_path / "out", tmp_path / "exported", progress=False)
    with pytest.raises(FileExistsError, match="already holds weights"):
        export_hf(tmp_path / "out", tmp_path / "exported", progress=False)


def test_metaseq_missing_part(model, tmp_path):
    write_metaseq_parts(model, tmp_path / "parts", num_parts=4)
    (tmp_path / "parts" / "checkpoint_1_4000.pt-model_part-1.pt").unlink()
    assert_fails_cleanly(tmp_path / "parts", tmp_path / "out",
                         r"model-parallel part\(s\) \[1\] are missing", convert=convert_metaseq,
                         config=CONFIG)


def test_metaseq_ranks_that_disagree_on_a_shared_tensor(model, tmp_path):
    parts = write_metaseq_parts(model, tmp_path / "parts", num_parts=2)
    state = torch.load(parts[1], weights_only=True)
    state["model"]["decoder.layers.1.fc2.bias"][0] += 0.5
    torch.save(state, parts[1])
    assert_fails_cleanly(tmp_path / "parts", tmp_path / "out",
                         r"metaseq decoder.layers.1.fc2.bias\): must be identical on every rank, "
                         r"but checkpoint_1_4000.pt-model_part-1.pt differs from rank 0 by up to "
                         r"0.5", convert=convert_metaseq, config=CONFIG)


def test_metaseq_unknown_tensor(model, tmp_path):
    parts = write_metaseq_parts(model, tmp_path / "parts", num_parts=2)
    for path in parts:
        state = torch.load(path, weights_only=True)
        state["model"]["decoder.layers.0.adapter.weight"] = torch.zeros(2)
        torch.save(state, path)
    assert_fails_cleanly(tmp_path / "parts", tmp_path / "out",
                         r"unknown metaseq tensor decoder.layers.0.adapter.weight",
                         convert=convert_metaseq, config=CONFIG)


def test_metaseq_parts_with_a_wrong_config(model, tmp_path):
    write_metaseq_parts(model, tmp_path / "parts", num_parts=2)
    wrong = CONFIG.replace(ffn_dim=128)
    assert_fails_cleanly(tmp_path / "parts", tmp_path / "out",
                         r"tensor decoder.layers.0.fc1.weight in checkpoint_1_4000.pt-model_part-0"
                         r".pt … checkpoint_1_4000.pt-model_part-1.pt \(metaseq decoder.layers.0"
                         r".fc1.weight\) has shape \(256, 64\), but the config expects \(128, 64\)",
                         convert=convert_metaseq, config=wrong)
