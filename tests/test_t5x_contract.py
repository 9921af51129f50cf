"""The module keeps t5x's contract: call signature, axis-named params, cache collection."""

import inspect

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.linen import partitioning as nn_partitioning

from optiml_jax.models.configs import OPTConfig
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT

CONFIG = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
                   max_position_embeddings=64, word_embed_proj_dim=32, do_layer_norm_before=False)
STANDARD_AXES = {"vocab", "embed", "heads", "kv", "joined_kv", "mlp", "layers",
                 "abspos_buckets", None}


def test_call_signature_is_t5x_decoder():
    params = inspect.signature(OPT.__call__).parameters
    positional = ["self", "decoder_input_tokens", "decoder_target_tokens", "decoder_segment_ids",
                  "decoder_positions", "decoder_causal_attention"]
    keyword = ["enable_dropout", "decode", "max_decode_length", "prefill", "prefill_lengths"]
    assert list(params) == positional + keyword
    assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in keyword)
    assert params["enable_dropout"].default is True
    assert all(params[k].default in (None, False) for k in positional[3:] + keyword[1:])


@pytest.mark.parametrize("scan_layers", [False, True])
def test_every_param_has_standard_logical_axes(scan_layers):
    model = DecoderOnlyModel(OPT(CONFIG, scan_layers=scan_layers))
    # t5x initialises with float32 "ones" tokens and no cache.
    variables = model.get_initial_variables(jax.random.PRNGKey(0),
                                            {"decoder_input_tokens": (2, 16)})
    assert set(variables) == {"params", "params_axes"}
    axes = flax.core.unfreeze(nn_partitioning.get_axis_names(variables["params_axes"]))
    assert jax.tree.structure(variables["params"]) == jax.tree.structure(
        axes, is_leaf=lambda x: isinstance(x, jax.sharding.PartitionSpec))
    flat_params = flax.traverse_util.flatten_dict(variables["params"], sep="/")
    flat_axes = flax.traverse_util.flatten_dict(
        axes, sep="/", is_leaf=lambda _, x: isinstance(x, jax.sharding.PartitionSpec))
    for name, value in flat_params.items():
        names = tuple(flat_axes[name])
        assert len(names) == value.ndim, name
        assert set(names) <= STANDARD_AXES, (name, names)
        assert value.dtype == jnp.float32, name
        if scan_layers and name.startswith("layers/"):
            assert names[0] == "layers" and value.shape[0] == CONFIG.num_layers, name


@pytest.mark.parametrize("scan_layers", [False, True])
def test_cache_creation_call_allocates_zeroed_per_example_cache(scan_layers):
    module = OPT(CONFIG, scan_layers=scan_layers)
    params = module.init(jax.random.PRNGKey(0), jnp.ones((2, 8)), jnp.ones((2, 8)),
                         enable_dropout=False)["params"]
    batch, length = 3, 10
    ones = jnp.ones((batch, length), jnp.float32)
    logits, state = module.apply({"params": params}, ones, ones, enable_dropout=False, decode=True,
                                 mutable=["cache"])
    assert logits.shape == (batch, length, CONFIG.vocab_size) and logits.dtype == jnp.float32
    leaves = flax.traverse_util.flatten_dict(state["cache"], sep="/")
    lead = (CONFIG.num_layers,) if scan_layers else ()
    expected_names = {"cached_key", "cached_value", "cache_index"}
    assert {name.rsplit("/", 1)[1] for name in leaves} == expected_names
    for name, value in leaves.items():
        assert not np.any(np.asarray(value)), f"{name} must start zeroed"
        if name.endswith("cache_index"):
            assert value.shape == (*lead, batch) and value.dtype == jnp.int32
        else:
            # heads-major: the layout a decode step's attention reads
            assert value.shape == (*lead, batch, CONFIG.num_heads, length, CONFIG.head_dim)
    expected_layers = 1 if scan_layers else CONFIG.num_layers
    assert len(leaves) == 3 * expected_layers


def test_prefill_without_lengths_counts_prompt_after_bos():
    module = OPT(CONFIG)
    params = module.init(jax.random.PRNGKey(0), jnp.ones((2, 8)), jnp.ones((2, 8)),
                         enable_dropout=False)["params"]
    tokens = jnp.asarray([[2, 5, 6, 7, 0, 0], [2, 9, 0, 0, 0, 0]])
    _, state = module.apply({"params": params}, jnp.ones_like(tokens), jnp.ones_like(tokens),
                            enable_dropout=False, decode=True, mutable=["cache"])
    _, state = module.apply({"params": params, "cache": state["cache"]}, tokens, tokens > 0,
                            enable_dropout=False, prefill=True, mutable=["cache"])
    index = state["cache"]["layers_0"]["self_attn"]["cache_index"]
    assert index.tolist() == [3, 1]
    cached = np.asarray(state["cache"]["layers_0"]["self_attn"]["cached_key"])  # [b, h, l, d]
    assert np.all(cached[0, :, 3:] == 0) and np.any(cached[0, :, :3] != 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"attention_impl": "flash"}, "attention_impl='flash'"),
    ({"remat_policy": "some"}, "remat_policy='some'"),
    ({"attention_impl": "cudnn"}, "cannot be used: backend is 'cpu'"),
])
def test_bad_module_settings_are_refused(kwargs, message):
    module = OPT(CONFIG, **kwargs)
    with pytest.raises(ValueError) as error:
        module.init(jax.random.PRNGKey(0), jnp.ones((1, 4)), jnp.ones((1, 4)), enable_dropout=False)
    assert message in str(error.value)


def test_too_long_sequence_is_refused():
    module = OPT(CONFIG)
    length = CONFIG.max_position_embeddings + 1
    with pytest.raises(ValueError, match="exceeds max_position_embeddings=64"):
        module.init(jax.random.PRNGKey(0), jnp.ones((1, length)), jnp.ones((1, length)),
                    enable_dropout=False)
