"""HF → t5x checkpoint → HF: our logits equal HF's; the exported weights are bit-identical."""

import os
import shutil
from pathlib import Path

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from hf_reference import (differing_tensors, hf_logits, random_hf_model, random_tokens,
                          save_bin_shards, torch, transformers)
from optiml_jax.checkpoints import restore_params, stored_param_shapes
from optiml_jax.convert import convert_hf, export_hf, load_hf
from optiml_jax.models.configs import OPTConfig, get_config
from optiml_jax.models.opt import OPT

TOLERANCE = 1e-5  # float32 logits, the bound README.md states (as tests/test_opt_parity.py)
PRE_LN = get_config("tiny")  # the real 50272-row vocabulary, 2 pre-LN layers
POST_LN_350M = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
                         max_position_embeddings=64, word_embed_proj_dim=32,
                         do_layer_norm_before=False)  # OPT-350m's layout: post-LN, projections
SHARD_BYTES = 150_000  # several shards per model; the tiny preset's embedding gets one alone


def save_hf(model, directory: Path, file_format: str) -> list[Path]:
    if file_format == "safetensors":
        model.save_pretrained(directory, max_shard_size=SHARD_BYTES)
        return sorted(directory.glob("*.safetensors"))
    return save_bin_shards(model, directory, SHARD_BYTES)


def our_logits(config, params, tokens, scan_layers=False):
    tokens = jnp.asarray(tokens)
    return np.asarray(OPT(config, scan_layers=scan_layers).apply(
        {"params": params}, tokens, jnp.ones_like(tokens), enable_dropout=False))


def reload_hf(directory):
    return transformers.OPTForCausalLM.from_pretrained(directory).eval()


@pytest.mark.parametrize("file_format", ["safetensors", "bin"])
@pytest.mark.parametrize("config", [PRE_LN, POST_LN_350M], ids=["pre-LN", "350m-style"])
def test_round_trip(tmp_path, config, file_format):
    model, _ = random_hf_model(config)
    shards = save_hf(model, tmp_path / "hf", file_format)
    assert len(shards) > 2

    summary = convert_hf(tmp_path / "hf", tmp_path / "t5x", progress=False)
    assert summary.num_params == config.num_params()
    assert (tmp_path / "t5x" / "checkpoint_0" / "state").is_dir()
    # The default layout is the stacked one of the gin model files; no scratch file stays.
    assert ("layers", "fc1", "kernel") in stored_param_shapes(tmp_path / "t5x")
    assert sorted(p.name for p in (tmp_path / "t5x").iterdir()) == ["checkpoint_0", "config.json"]
    params = restore_params(tmp_path / "t5x", config=config, scan_layers=False)
    tokens = random_tokens(np.random.RandomState(1), (2, 24), config.vocab_size)
    diff = np.max(np.abs(our_logits(config, params, tokens) - hf_logits(model, tokens)))
    assert diff <= TOLERANCE, diff

    summary = export_hf(tmp_path / "t5x", tmp_path / "exported", max_shard_size=SHARD_BYTES,
                        progress=False)
    assert len(list((tmp_path / "exported").glob("model-*-of-*.safetensors"))) > 2
    assert (tmp_path / "exported" / "model.safetensors.index.json").is_file()
    reloaded = reload_hf(tmp_path / "exported")
    assert differing_tensors(model.state_dict(), reloaded.state_dict()) == []


def test_scanned_conversion_serves_a_scanned_model_and_exports_back(tmp_path):
    config = POST_LN_350M
    model, _ = random_hf_model(config)
    save_hf(model, tmp_path / "hf", "safetensors")
    convert_hf(tmp_path / "hf", tmp_path / "t5x", progress=False)
    shapes = stored_param_shapes(tmp_path / "t5x")
    assert shapes[("layers", "fc1", "kernel")][0] == (config.num_layers, 64, 256)
    params = restore_params(tmp_path / "t5x", config=config)
    tokens = random_tokens(np.random.RandomState(2), (2, 16), config.vocab_size)
    diff = np.max(np.abs(our_logits(config, params, tokens, scan_layers=True)
                         - hf_logits(model, tokens)))
    assert diff <= TOLERANCE, diff
    export_hf(tmp_path / "t5x", tmp_path / "exported", max_shard_size=SHARD_BYTES, progress=False)
    reloaded = reload_hf(tmp_path / "exported")
    assert differing_tensors(model.state_dict(), reloaded.state_dict()) == []
    # Shards of one layer's fc1: a stacked leaf spans shards, some holding nothing else.
    export_hf(tmp_path / "t5x", tmp_path / "one_layer_shards", max_shard_size=64 * 256 * 4,
              progress=False)
    reloaded = reload_hf(tmp_path / "one_layer_shards")
    assert differing_tensors(model.state_dict(), reloaded.state_dict()) == []


def test_bfloat16_casts_on_the_way_in_and_out(tmp_path):
    config = POST_LN_350M
    model, params = random_hf_model(config)
    save_hf(model, tmp_path / "hf", "bin")
    convert_hf(tmp_path / "hf", tmp_path / "t5x", dtype="bfloat16", scan_layers=False,
               progress=False)
    assert {dtype for _, dtype in stored_param_shapes(tmp_path / "t5x").values()} == \
        {np.dtype(ml_dtypes.bfloat16)}
    restored = restore_params(tmp_path / "t5x")  # the per-layer layout, as written
    np.testing.assert_array_equal(restored["layers_1"]["fc2"]["kernel"],
                                  params["layers_1"]["fc2"]["kernel"].astype(ml_dtypes.bfloat16))

    export_hf(tmp_path / "t5x", tmp_path / "exported", progress=False)  # keeps bfloat16
    reloaded = reload_hf(tmp_path / "exported").state_dict()
    for key, value in model.state_dict().items():
        assert reloaded[key].dtype == torch.bfloat16, key
        assert torch.equal(reloaded[key], value.to(torch.bfloat16)), key


def test_opt_model_checkpoints_without_the_model_prefix(tmp_path):
    """The Hub's OPT `.bin` files were saved from `OPTModel`: keys `decoder.*`, one file."""
    config = POST_LN_350M
    model, params = random_hf_model(config)
    [path] = save_bin_shards(model, tmp_path, max_shard_bytes=2**30, prefix="",
                             with_lm_head=False)
    assert path.name == "pytorch_model.bin"
    loaded_config, loaded = load_hf(tmp_path)
    assert loaded_config == config
    np.testing.assert_array_equal(loaded["layers_0"]["self_attn"]["q_proj"]["kernel"],
                                  params["layers_0"]["self_attn"]["q_proj"]["kernel"])


def test_tokenizer_files_travel_with_the_weights(tmp_path):
    data_dir = os.environ.get("OPTIML_DATA_DIR")
    if not data_dir:
        pytest.skip("OPTIML_DATA_DIR is not set: the OPT tokenizer files live in the shared data "
                    "directory (tokenizers/opt), which CI provides.")
    tokenizer = Path(data_dir) / "tokenizers" / "opt"
    model, _ = random_hf_model(POST_LN_350M)
    save_hf(model, tmp_path / "hf", "safetensors")
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(tokenizer / name, tmp_path / "hf" / name)
    convert_hf(tmp_path / "hf", tmp_path / "t5x", progress=False)
    export_hf(tmp_path / "t5x", tmp_path / "exported", progress=False)
    for name in ("vocab.json", "merges.txt"):
        for directory in ("t5x", "exported"):
            assert (tmp_path / directory / name).read_bytes() == (tokenizer / name).read_bytes()
    reloaded = transformers.GPT2TokenizerFast.from_pretrained(tmp_path / "exported")
    assert reloaded("Hello world")["input_ids"] == [31414, 232]
