"""OPTConfig: presets, the HF config.json bridge, parameter and FLOP counts."""

import json

import pytest

from hf_reference import torch, transformers
from optiml_jax.models.configs import PRESETS, OPTConfig, get_config

# (hidden, layers, heads, head_dim, ffn) from the released config.json files.
PUBLISHED_SIZES = {
    "opt-125m": (768, 12, 12, 64, 3072),
    "opt-350m": (1024, 24, 16, 64, 4096),
    "opt-1.3b": (2048, 24, 32, 64, 8192),
    "opt-2.7b": (2560, 32, 32, 80, 10240),
    "opt-6.7b": (4096, 32, 32, 128, 16384),
    "opt-13b": (5120, 40, 40, 128, 20480),
    "opt-30b": (7168, 48, 56, 128, 28672),
    "opt-66b": (9216, 64, 72, 128, 36864),
    "opt-175b": (12288, 96, 96, 128, 49152),
}

# facebook/opt-350m's config.json as published on the Hub (metadata keys included).
OPT_350M_HUB_CONFIG = json.loads("""{
  "_name_or_path": "facebook/opt-350m", "activation_dropout": 0.0, "activation_function": "relu",
  "architectures": ["OPTForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 2,
  "do_layer_norm_before": false, "dropout": 0.1, "eos_token_id": 2, "ffn_dim": 4096,
  "hidden_size": 1024, "init_std": 0.02, "layerdrop": 0.0, "max_position_embeddings": 2048,
  "model_type": "opt", "num_attention_heads": 16, "num_hidden_layers": 24, "pad_token_id": 1,
  "prefix": "</s>", "torch_dtype": "float16", "transformers_version": "4.20.0.dev0",
  "use_cache": true, "vocab_size": 50272, "word_embed_proj_dim": 512
}""")


@pytest.mark.parametrize("name", sorted(PUBLISHED_SIZES))
def test_presets_have_published_sizes(name):
    config = get_config(name)
    assert (config.hidden_size, config.num_layers, config.num_heads, config.head_dim,
            config.ffn_dim) == PUBLISHED_SIZES[name]
    assert config.vocab_size == 50272 and config.max_position_embeddings == 2048
    assert config.do_layer_norm_before == (name != "opt-350m")
    assert config.has_final_layer_norm == (name != "opt-350m")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_parameter_count_equals_hf(name):
    """Exact count against an HF model built on the meta device (no memory, even for 175B)."""
    config = get_config(name)
    with torch.device("meta"):
        model = transformers.OPTForCausalLM(transformers.OPTConfig(**config.to_hf_config()))
    assert config.num_params() == sum(p.numel() for p in model.parameters())


def test_hub_config_reads_as_the_preset():
    config = OPTConfig.from_hf_config(OPT_350M_HUB_CONFIG)
    assert config == get_config("opt-350m")
    assert config.projects_embeddings and not config.has_final_layer_norm


@pytest.mark.parametrize("config", list(PRESETS.values()) + [
    OPTConfig(hidden_size=64, num_layers=2, num_heads=4, ffn_dim=128, enable_bias=False,
              layer_norm_elementwise_affine=False, activation_function="gelu",
              remove_final_layer_norm=True, dropout_rate=0.0, attention_dropout_rate=0.1)])
def test_hf_round_trip(config):
    hf_dict = config.to_hf_config()
    assert OPTConfig.from_hf_config(hf_dict) == config
    # Through transformers' own class and its full to_dict() (with its metadata keys).
    via_transformers = transformers.OPTConfig(**hf_dict).to_dict()
    assert OPTConfig.from_hf_config(via_transformers) == config
    for key, value in hf_dict.items():
        assert via_transformers[key] == value, key


@pytest.mark.parametrize("change, message", [
    ({"layerdrop": 0.1}, "layerdrop=0.1 is not supported"),
    ({"tie_word_embeddings": False}, "tie_word_embeddings=False is not supported"),
    ({"rope_theta": 10000.0}, "unknown field(s) ['rope_theta']"),
    ({"model_type": "gpt2"}, "model_type='gpt2'"),
    ({"num_attention_heads": 15}, "not divisible by num_heads=15"),
    ({"activation_function": "silu"}, "activation_function='silu' is not supported"),
])
def test_bad_hf_configs_name_the_field(change, message):
    with pytest.raises(ValueError) as error:
        OPTConfig.from_hf_config({**OPT_350M_HUB_CONFIG, **change})
    assert message in str(error.value)


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown OPT preset 'opt-7b'"):
        get_config("opt-7b")


# Reference table (GFLOP per token at S=2048, training, causal attention): 6N and attention.
@pytest.mark.parametrize("name, six_n, attention", [
    ("opt-125m", 0.74, 0.11), ("opt-1.3b", 7.9, 0.6), ("opt-6.7b", 39.9, 1.6),
    ("opt-13b", 77.0, 2.5), ("opt-30b", 179.7, 4.2), ("opt-66b", 394, 7.2),
    ("opt-175b", 1047, 14.5)])
def test_flops_per_token(name, six_n, attention):
    config = get_config(name)
    total = config.flops_per_token(2048) / 1e9
    matmul_only = 6 * config.num_matmul_params() / 1e9
    assert matmul_only == pytest.approx(six_n, rel=0.01)
    assert total - matmul_only == pytest.approx(attention, rel=0.05)
    assert config.flops_per_token(2048, training=False) == pytest.approx(config.flops_per_token(2048) / 3)
