"""Our OPT equals HF `OPTForCausalLM` (fp32, max |Δlogit| ≤ 1e-5) in every layout we support."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hf_reference import hf_logits, random_hf_model, random_tokens
from optiml_jax.models.configs import OPTConfig, get_config
from optiml_jax.models.opt import OPT, scan_layer_params

TOLERANCE = 1e-5  # float32 logits, the bound README.md and docs/architecture.md state

PRE_LN = get_config("tiny")  # real 50272-row vocabulary, 2 pre-LN layers
POST_LN_PROJECTED = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4,
                              ffn_dim=256, max_position_embeddings=64, word_embed_proj_dim=32,
                              do_layer_norm_before=False)  # OPT-350m layout
ODD_HEADS = OPTConfig(vocab_size=512, hidden_size=56, num_layers=3, num_heads=7, ffn_dim=224,
                      max_position_embeddings=64)  # odd head count, as 30B (56) and 66B (72)
NO_BIAS_GELU = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
                         max_position_embeddings=64, enable_bias=False,
                         layer_norm_elementwise_affine=False, activation_function="gelu")


def max_diff(ours, reference, label):
    diff = float(np.max(np.abs(np.asarray(ours, np.float64) - np.asarray(reference, np.float64))))
    print(f"{label}: max |logit difference| = {diff:.3e}")
    return diff


def forward(config, params, tokens, **kwargs):
    tokens = jnp.asarray(tokens)
    target = kwargs.pop("decoder_target_tokens", jnp.ones_like(tokens))
    return OPT(config, **kwargs.pop("module_kwargs", {})).apply(
        {"params": params}, tokens, target, enable_dropout=False, **kwargs)


@pytest.mark.parametrize("config, label", [
    (PRE_LN, "pre-LN (tiny preset)"),
    (POST_LN_PROJECTED, "post-LN, word_embed_proj_dim 32 != hidden 64 (OPT-350m layout)"),
    (ODD_HEADS, "7 heads"),
    (NO_BIAS_GELU, "no biases, no LN affine, gelu"),
])
def test_logits_match_hf(config, label):
    model, params = random_hf_model(config)
    tokens = random_tokens(np.random.RandomState(1), (2, 24), config.vocab_size)
    ours = forward(config, params, tokens)
    assert ours.dtype == jnp.float32
    assert max_diff(ours, hf_logits(model, tokens), label) <= TOLERANCE


def test_left_padded_batch_matches_hf():
    """Left padding shifts positions: real tokens start at position row 2 in every row."""
    config = PRE_LN
    model, params = random_hf_model(config)
    rng = np.random.RandomState(2)
    tokens = random_tokens(rng, (3, 20), config.vocab_size)
    pads = [0, 5, 11]
    mask = np.ones_like(tokens)
    for row, n in enumerate(pads):
        mask[row, :n] = 0
        tokens[row, :n] = config.pad_token_id
    reference = hf_logits(model, tokens, attention_mask=mask)
    # Padding is segment 0: positions come from the segments and pads are never attended to.
    ours = forward(config, params, tokens, decoder_segment_ids=jnp.asarray(mask))
    real = mask.astype(bool)
    assert max_diff(np.asarray(ours)[real], reference[real], "left-padded batch") <= TOLERANCE
    # The same through explicit positions (HF's cumsum(mask) * mask - 1).
    positions = np.cumsum(mask, axis=1) * mask - 1
    ours = forward(config, params, tokens, decoder_segment_ids=jnp.asarray(mask),
                   decoder_positions=jnp.asarray(positions))
    assert max_diff(np.asarray(ours)[real], reference[real], "left-padded, positions") <= TOLERANCE


def test_packed_row_equals_examples_run_separately():
    """Three examples packed in one row (segment ids, restarting positions) = three HF runs."""
    config = POST_LN_PROJECTED
    model, params = random_hf_model(config)
    rng = np.random.RandomState(3)
    lengths = [7, 12, 5]
    examples = [random_tokens(rng, (1, n), config.vocab_size) for n in lengths]
    row_length = sum(lengths) + 4  # trailing padding too
    tokens = np.zeros((1, row_length), np.int32)
    segments = np.zeros((1, row_length), np.int32)
    start = 0
    for i, example in enumerate(examples):
        tokens[0, start:start + lengths[i]] = example[0]
        segments[0, start:start + lengths[i]] = i + 1
        start += lengths[i]
    ours = np.asarray(forward(config, params, tokens, decoder_target_tokens=jnp.asarray(tokens),
                              decoder_segment_ids=jnp.asarray(segments)))
    start = 0
    for i, example in enumerate(examples):
        reference = hf_logits(model, example)[0]
        packed = ours[0, start:start + lengths[i]]
        assert max_diff(packed, reference, f"packed example {i + 1}") <= TOLERANCE
        start += lengths[i]


@pytest.mark.parametrize("scan_layers", [False, True])
def test_cached_decoding_matches_full_forward(scan_layers):
    """Token-by-token decoding through the KV cache (and prefill + decode) = one full forward."""
    config = ODD_HEADS
    model, params = random_hf_model(config)
    if scan_layers:
        params = scan_layer_params(params, config.num_layers)
    module = OPT(config, scan_layers=scan_layers)
    tokens = random_tokens(np.random.RandomState(4), (2, 16), config.vocab_size)
    reference = hf_logits(model, tokens)

    # t5x's cache creation: a decode=True call over the full length only allocates the cache.
    _, state = module.apply({"params": params}, jnp.ones_like(tokens), jnp.ones_like(tokens),
                            enable_dropout=False, decode=True, mutable=["cache"])
    step = jax.jit(lambda cache, tok: module.apply(
        {"params": params, "cache": cache}, tok, tok, enable_dropout=False, decode=True,
        mutable=["cache"]))
    cache, stepped = state["cache"], []
    for t in range(tokens.shape[1]):
        logits, state = step(cache, jnp.asarray(tokens[:, t:t + 1]))
        cache = state["cache"]
        stepped.append(np.asarray(logits[:, 0]))
    assert max_diff(np.stack(stepped, 1), reference, "step-by-step decode") <= TOLERANCE

    # Prefill a per-example prompt length, then decode the rest.
    prompt_lengths = jnp.asarray([5, 9])
    _, state = module.apply({"params": params}, jnp.ones_like(tokens), jnp.ones_like(tokens),
                            enable_dropout=False, decode=True, mutable=["cache"])
    _, state = module.apply({"params": params, "cache": state["cache"]}, jnp.asarray(tokens),
                            jnp.ones_like(tokens), enable_dropout=False, prefill=True,
                            prefill_lengths=prompt_lengths, mutable=["cache"])
    cache = state["cache"]
    per_row = [[] for _ in range(2)]
    for t in range(int(prompt_lengths.min()), tokens.shape[1]):
        # Each row feeds its own next token; rows ahead of their prompt wait (fed but unused).
        index = np.asarray((cache["layers"] if scan_layers else cache["layers_0"])
                           ["self_attn"]["cache_index"]).reshape(-1, 2)[0]
        feed = tokens[np.arange(2), np.minimum(index, tokens.shape[1] - 1)][:, None]
        logits, state = step(cache, jnp.asarray(feed))
        cache = state["cache"]
        for row in range(2):
            if index[row] < tokens.shape[1]:
                per_row[row].append((index[row], np.asarray(logits[row, 0])))
    for row in range(2):
        positions, rows = zip(*per_row[row])
        assert positions[0] == int(prompt_lengths[row])
        diff = max_diff(np.stack(rows), reference[row, list(positions)], f"prefill+decode row {row}")
        assert diff <= TOLERANCE


def test_scan_and_remat_do_not_change_logits():
    config = PRE_LN
    _, params = random_hf_model(config)
    tokens = random_tokens(np.random.RandomState(5), (2, 16), config.vocab_size)
    base = forward(config, params, tokens)
    scanned = scan_layer_params(params, config.num_layers)
    for kwargs, p in [({"scan_layers": True}, scanned),
                      ({"remat_policy": "full"}, params),
                      ({"scan_layers": True, "remat_policy": "dots"}, scanned)]:
        out = forward(config, p, tokens, module_kwargs=kwargs)
        assert max_diff(out, base, str(kwargs)) <= TOLERANCE


def test_bfloat16_compute_keeps_float32_params_and_logits():
    config = PRE_LN
    model, params = random_hf_model(config)
    tokens = random_tokens(np.random.RandomState(6), (2, 16), config.vocab_size)
    module = OPT(config, dtype="bfloat16")
    variables = module.init(jax.random.PRNGKey(0), jnp.ones((1, 8)), jnp.ones((1, 8)),
                            enable_dropout=False)
    assert {x.dtype for x in jax.tree.leaves(variables["params"])} == {jnp.dtype("float32")}
    out = module.apply({"params": params}, tokens, jnp.ones_like(tokens), enable_dropout=False)
    assert out.dtype == jnp.float32
    reference = hf_logits(model, tokens)
    # bf16 keeps ~3 significant digits; the logits must still agree to that precision.
    scale = float(np.max(np.abs(reference)))
    assert max_diff(out, reference, "bfloat16 compute") <= 0.02 * scale
