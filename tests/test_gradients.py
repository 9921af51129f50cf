"""One training step's loss and gradients equal HF's (target-only loss weights, fp32)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hf_reference import random_hf_model, random_tokens, torch
from optiml_jax.convert.hf import hf_state_dict_from_params
from optiml_jax.models.configs import OPTConfig, get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT

RELATIVE_TOLERANCE = 1e-4


def source_target_batch(rng, config, batch=3, length=20):
    """OPT-IML style rows: a source prefix with weight 0, then target tokens with weight 1."""
    sequence = random_tokens(rng, (batch, length + 1), config.vocab_size)
    sequence[:, 0] = config.bos_token_id
    weights = np.zeros((batch, length), np.float32)
    for row, source_length in enumerate(rng.randint(3, length - 3, size=batch)):
        weights[row, source_length:] = 1.0
    return {"decoder_input_tokens": sequence[:, :-1], "decoder_target_tokens": sequence[:, 1:],
            "decoder_loss_weights": weights}


def hf_loss_and_grads(model, batch):
    model.zero_grad()
    logits = model(torch.as_tensor(batch["decoder_input_tokens"])).logits
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    targets = torch.as_tensor(batch["decoder_target_tokens"]).long()
    weights = torch.as_tensor(batch["decoder_loss_weights"])
    token_nll = -log_probs.gather(-1, targets[..., None])[..., 0]
    loss = (token_nll * weights).sum() / weights.sum()  # mean over all target tokens
    loss.backward()
    return loss.item(), {k: p.grad.numpy() for k, p in model.named_parameters()}


@pytest.mark.parametrize("config", [
    get_config("tiny"),
    OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
              max_position_embeddings=64, word_embed_proj_dim=32, do_layer_norm_before=False),
], ids=["pre-LN", "post-LN-projected"])
def test_loss_and_gradients_match_hf(config):
    hf_model, params = random_hf_model(config)
    batch = source_target_batch(np.random.RandomState(0), config)
    hf_loss, hf_grads = hf_loss_and_grads(hf_model, batch)

    model = DecoderOnlyModel(OPT(config), loss_normalizing_factor="NUM_REAL_TARGET_TOKENS")
    (loss, _), grads = jax.jit(jax.value_and_grad(
        lambda p: model.loss_fn(p, jax.tree.map(jnp.asarray, batch), None), has_aux=True))(params)
    print(f"loss ours={float(loss):.7f} hf={hf_loss:.7f}")
    assert abs(float(loss) - hf_loss) <= RELATIVE_TOLERANCE * abs(hf_loss)

    ours = hf_state_dict_from_params(jax.device_get(grads), config)
    assert set(ours) == set(hf_grads)
    worst = 0.0
    for name, reference in hf_grads.items():
        if name.endswith("k_proj.bias"):
            # softmax(q.(k + b)) is shift-invariant in q.b, so this gradient is exactly zero in
            # exact arithmetic: both sides must be round-off only.
            assert np.max(np.abs(ours[name])) < 1e-6 and np.max(np.abs(reference)) < 1e-6, name
            continue
        scale = float(np.max(np.abs(reference)))
        assert scale > 0, f"{name}: HF gradient is zero, the test would prove nothing"
        relative = float(np.max(np.abs(ours[name] - reference))) / scale
        worst = max(worst, relative)
        assert relative <= RELATIVE_TOLERANCE, f"{name}: relative gradient difference {relative:.2e}"
    print(f"worst relative gradient difference over {len(hf_grads)} tensors: {worst:.2e}")
