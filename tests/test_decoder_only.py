"""DecoderOnlyModel: t5x's loss normalisers, scoring and generation, checked against HF."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hf_reference import random_hf_model, random_tokens, torch
from optiml_jax.models.configs import OPTConfig
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT, scan_layer_params

CONFIG = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
                   max_position_embeddings=64)


@pytest.fixture(scope="module")
def hf_and_params():
    return random_hf_model(CONFIG)


def log_probs_numpy(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def two_example_batch(rng):
    """Two examples, unpacked (one per row) and packed into one row, with target-only weights."""
    lengths, source_lengths = (9, 13), (4, 6)
    examples = [random_tokens(rng, (n + 1,), CONFIG.vocab_size) for n in lengths]
    width = sum(lengths) + 3
    unpacked = {k: np.zeros((2, width), np.int32) for k in ("decoder_input_tokens", "decoder_target_tokens")}
    unpacked["decoder_loss_weights"] = np.zeros((2, width), np.float32)
    packed = {k: np.zeros((1, width), np.int32) for k in (
        "decoder_input_tokens", "decoder_target_tokens", "decoder_segment_ids", "decoder_positions")}
    packed["decoder_loss_weights"] = np.zeros((1, width), np.float32)
    start = 0
    for i, (example, n, s) in enumerate(zip(examples, lengths, source_lengths)):
        for batch, row, offset in ((unpacked, i, 0), (packed, 0, start)):
            batch["decoder_input_tokens"][row, offset:offset + n] = example[:-1]
            batch["decoder_target_tokens"][row, offset:offset + n] = example[1:]
            batch["decoder_loss_weights"][row, offset + s:offset + n] = 1.0
        packed["decoder_segment_ids"][0, start:start + n] = i + 1
        packed["decoder_positions"][0, start:start + n] = np.arange(n)
        start += n
    return unpacked, packed


def test_loss_normalizers(hf_and_params):
    _, params = hf_and_params
    unpacked, packed = two_example_batch(np.random.RandomState(0))
    logits = np.asarray(OPT(CONFIG).apply({"params": params}, unpacked["decoder_input_tokens"],
                                          unpacked["decoder_target_tokens"], enable_dropout=False))
    nll = -np.take_along_axis(log_probs_numpy(logits), unpacked["decoder_target_tokens"][..., None],
                              -1)[..., 0]
    w = unpacked["decoder_loss_weights"]
    per_example_mean = (nll * w).sum(1) / w.sum(1)
    expected = {
        None: (nll * w).sum(),
        "NUM_REAL_TARGET_TOKENS": (nll * w).sum() / w.sum(),
        "NUM_TOTAL_TARGET_TOKENS": (nll * w).sum() / w.size,
        "AVERAGE_PER_SEQUENCE": per_example_mean.mean(),
        7.0: (nll * w).sum() / 7.0,
    }
    for factor, value in expected.items():
        model = DecoderOnlyModel(OPT(CONFIG), loss_normalizing_factor=factor)
        loss, metrics = model.loss_fn(params, unpacked, None)
        assert float(loss) == pytest.approx(value, rel=1e-5), factor
        assert float(metrics["weight_sum"]) == pytest.approx(w.sum() if factor != "AVERAGE_PER_SEQUENCE" else 2.0)
    # Packing must not change what is learned: the packed row has the same losses.
    for factor in ("NUM_REAL_TARGET_TOKENS", "AVERAGE_PER_SEQUENCE", None):
        model = DecoderOnlyModel(OPT(CONFIG), loss_normalizing_factor=factor)
        loss, metrics = model.loss_fn(params, packed, None)
        assert float(loss) == pytest.approx(expected[factor], rel=1e-5), factor
        assert float(metrics["num_examples"]) == 2.0
    with pytest.raises(ValueError, match="loss_normalizing_factor='PER_TOKEN'"):
        DecoderOnlyModel(OPT(CONFIG), loss_normalizing_factor="PER_TOKEN").loss_fn(params, packed, None)


def test_z_loss_and_label_smoothing_follow_t5x(hf_and_params):
    _, params = hf_and_params
    unpacked, _ = two_example_batch(np.random.RandomState(1))
    logits = np.asarray(OPT(CONFIG).apply({"params": params}, unpacked["decoder_input_tokens"],
                                          unpacked["decoder_target_tokens"], enable_dropout=False),
                        np.float64)
    log_p = log_probs_numpy(logits)
    log_z = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
    w = unpacked["decoder_loss_weights"]
    smoothing, z = 0.1, 1e-3
    vocab = CONFIG.vocab_size
    on, off = 1 - smoothing, smoothing / (vocab - 1)
    soft = np.full(logits.shape, off)
    np.put_along_axis(soft, unpacked["decoder_target_tokens"][..., None], on, -1)
    entropy = -(on * np.log(on) + (vocab - 1) * off * np.log(off + 1e-20))
    token = -(soft * log_p).sum(-1) - entropy + z * log_z**2
    model = DecoderOnlyModel(OPT(CONFIG), label_smoothing=smoothing, z_loss=z,
                             loss_normalizing_factor="NUM_REAL_TARGET_TOKENS")
    loss, metrics = model.loss_fn(params, unpacked, None)
    assert float(loss) == pytest.approx((token * w).sum() / w.sum(), rel=1e-5)
    assert float(metrics["z_loss_sum"]) == pytest.approx((z * log_z**2 * w).sum(), rel=1e-4)


def test_dropout_is_on_only_with_an_rng(hf_and_params):
    _, params = hf_and_params
    unpacked, _ = two_example_batch(np.random.RandomState(2))
    model = DecoderOnlyModel(OPT(CONFIG.replace(dropout_rate=0.3)))
    eval_loss = float(model.eval_fn(params, unpacked)[0])
    assert eval_loss == float(model.loss_fn(params, unpacked, None)[0])
    key = jax.random.PRNGKey(0)
    train_loss = float(model.loss_fn(params, unpacked, key)[0])
    assert train_loss != eval_loss
    assert train_loss == float(model.loss_fn(params, unpacked, key)[0])


def test_score_batch_is_the_target_log_likelihood(hf_and_params):
    hf_model, params = hf_and_params
    unpacked, _ = two_example_batch(np.random.RandomState(3))
    model = DecoderOnlyModel(OPT(CONFIG))
    scores = np.asarray(model.score_batch(params, unpacked))
    for row in range(2):
        n = int((unpacked["decoder_input_tokens"][row] > 0).sum())
        with torch.no_grad():
            logits = hf_model(torch.as_tensor(unpacked["decoder_input_tokens"][row:row + 1, :n])).logits
        log_p = torch.log_softmax(logits.double(), -1)[0].numpy()
        targets = unpacked["decoder_target_tokens"][row, :n]
        weights = unpacked["decoder_loss_weights"][row, :n]
        expected = (log_p[np.arange(n), targets] * weights).sum()
        assert scores[row] == pytest.approx(expected, abs=1e-4)
    total, intermediates = model.score_batch(params, unpacked, return_intermediates=True)
    np.testing.assert_allclose(total, scores, rtol=1e-6)
    assert intermediates["decoder"]["token_scores"][0].shape == unpacked["decoder_target_tokens"].shape


def generation_batch(prompts, length):
    """seqio DecoderFeatureConverter layout: BOS + prompt, causal-attention mask one longer."""
    tokens = np.zeros((len(prompts), length), np.int32)
    causal = np.zeros((len(prompts), length), np.int32)
    for row, prompt in enumerate(prompts):
        tokens[row, :len(prompt) + 1] = [CONFIG.bos_token_id, *prompt]
        causal[row, :len(prompt) + 2] = 1
    return {"decoder_input_tokens": tokens, "decoder_causal_attention": causal}


def hf_greedy(hf_model, prompt, new_tokens, eos=None):
    with torch.no_grad():
        out = hf_model.generate(torch.as_tensor([[CONFIG.bos_token_id, *prompt]]),
                                max_new_tokens=new_tokens, do_sample=False, eos_token_id=eos,
                                pad_token_id=CONFIG.pad_token_id)
    return out[0, len(prompt) + 1:].tolist()


@pytest.mark.parametrize("scan_layers", [False, True])
def test_greedy_generation_equals_hf_generate(hf_and_params, scan_layers):
    hf_model, params = hf_and_params
    if scan_layers:
        params = scan_layer_params(params, CONFIG.num_layers)
    model = DecoderOnlyModel(OPT(CONFIG, scan_layers=scan_layers))
    prompts = [[11, 12, 13, 14, 15, 16], [21, 22], [31, 32, 33, 34]]
    length = 20
    batch = generation_batch(prompts, length)
    predict = jax.jit(lambda p, b, eos: model.predict_batch_with_aux(
        p, b, decoder_params={"eos_id": eos}))
    tokens, aux = predict(params, batch, -1)  # -1: an EOS that never occurs
    tokens = np.asarray(tokens)
    for row, prompt in enumerate(prompts):
        # The prompt occupies positions 1..n; generation fills positions n+1..length.
        new = length - len(prompt)
        assert tokens[row, :new].tolist() == hf_greedy(hf_model, prompt, new)
        assert (tokens[row, new:] == 0).all()
    assert aux["scores"].shape == (3,) and bool(jnp.all(aux["scores"] < 0))

    # Stopping at EOS: take row 0's third generated token as EOS; everything after it is 0.
    eos = int(tokens[0, 2])
    stopped = np.asarray(predict(params, batch, eos)[0])
    first = int(np.argmax(stopped[0] == eos))
    assert stopped[0, :first + 1].tolist() == tokens[0, :first + 1].tolist()
    assert (stopped[0, first + 1:] == 0).all()
    assert stopped[0, :first + 1].tolist() == hf_greedy(hf_model, prompts[0], length, eos=eos)


def test_sampling_with_several_decodes(hf_and_params):
    _, params = hf_and_params
    model = DecoderOnlyModel(OPT(CONFIG))
    batch = generation_batch([[11, 12, 13], [21, 22, 23, 24, 25]], 16)
    params_for = {"temperature": 1.0, "topk": 20, "eos_id": -1}
    sample = jax.jit(lambda rng: model.predict_batch_with_aux(
        params, batch, rng, num_decodes=4, return_all_decodes=True, decoder_params=params_for))
    tokens, aux = sample(jax.random.PRNGKey(0))
    assert tokens.shape == (2, 4, 16) and aux["scores"].shape == (2, 4)
    assert bool(jnp.all(jnp.diff(aux["scores"], axis=1) >= 0)), "decodes sorted, best last"
    assert len({tuple(t) for t in np.asarray(tokens[0])}) > 1, "4 samples should differ"
    again, _ = sample(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(tokens, again)
    best, best_aux = model.predict_batch_with_aux(params, batch, jax.random.PRNGKey(0),
                                                  num_decodes=4, decoder_params=params_for)
    np.testing.assert_array_equal(best, tokens[:, -1])
    # Eager and jitted runs of the same float32 sampling may round the summed score differently.
    np.testing.assert_allclose(best_aux["scores"], aux["scores"][:, -1], rtol=1e-6)


def test_prediction_needs_causal_attention_feature(hf_and_params):
    _, params = hf_and_params
    batch = generation_batch([[11, 12]], 8)
    del batch["decoder_causal_attention"]
    with pytest.raises(ValueError, match="decoder_causal_attention"):
        DecoderOnlyModel(OPT(CONFIG)).predict_batch_with_aux(params, batch)
