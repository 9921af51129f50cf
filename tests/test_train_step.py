"""The jitted train step: microbatching and sharding do not change what is computed."""

import jax
import numpy as np
import optax
import pytest

from optiml_jax import optimizers
from optiml_jax.models.configs import OPTConfig
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.partitioning import Partitioner
from optiml_jax.trainer import init_train_state, jit_train_step, make_train_step, state_shardings

CONFIG = OPTConfig(vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, ffn_dim=256,
                   max_position_embeddings=64, dropout_rate=0.1)
SEQ = 32


def packed_batch(rng, batch_size):
    tokens = rng.randint(4, CONFIG.vocab_size, size=(batch_size, SEQ)).astype(np.int32)
    segments = np.ones((batch_size, SEQ), np.int32)
    segments[:, SEQ // 2:] = 2
    segments[::3, -5:] = 0  # some padding
    positions = np.concatenate([np.arange(SEQ // 2)] * 2)[None].repeat(batch_size, 0)
    weights = (segments > 0).astype(np.float32)
    weights[:, :4] = 0.0  # source tokens
    tokens = np.where(segments > 0, tokens, 0)
    return {"decoder_input_tokens": tokens, "decoder_target_tokens": np.roll(tokens, -1, 1) * (segments > 0),
            "decoder_loss_weights": weights, "decoder_segment_ids": segments,
            "decoder_positions": positions.astype(np.int32)}


def run_steps(mesh_shape, num_microbatches, factor="NUM_REAL_TARGET_TOKENS", steps=3, devices=None,
              config=CONFIG, sgd=False):
    model = DecoderOnlyModel(OPT(config), loss_normalizing_factor=factor)
    optimizer, schedule = optimizers.create_optimizer(total_steps=10, learning_rate=1e-3,
                                                      warmup_steps=2)
    if sgd:  # parameter differences then measure gradient differences directly
        optimizer = optax.sgd(schedule)
    partitioner = Partitioner(mesh_shape, devices=devices)
    _, shardings = state_shardings(model, optimizer, partitioner, SEQ)
    state = init_train_state(model, optimizer, partitioner, shardings, SEQ, jax.random.PRNGKey(0))
    batch = packed_batch(np.random.RandomState(0), 8)
    step = jit_train_step(make_train_step(model, optimizer, schedule, num_microbatches),
                          partitioner, shardings)
    losses = []
    batch = jax.device_put(batch, partitioner.batch_sharding())
    with partitioner.activate():
        for _ in range(steps):
            state, metrics = step(state, batch, jax.random.PRNGKey(1))
            losses.append(float(metrics["loss"]))
    return losses, jax.device_get(state.params), metrics


@pytest.mark.parametrize("factor", ["NUM_REAL_TARGET_TOKENS", "AVERAGE_PER_SEQUENCE"])
def test_microbatches_give_the_same_update(factor):
    # Dropout bits depend on the microbatch index, so this compares with dropout off; SGD makes
    # parameter differences gradient differences (Adam would amplify round-off-sized gradients).
    config = CONFIG.replace(dropout_rate=0.0)
    one_device = jax.devices()[:1]
    base_losses, base_params, _ = run_steps({"data": 1}, 1, factor, devices=one_device,
                                            config=config, sgd=True)
    for m in (2, 4):
        losses, params, _ = run_steps({"data": 1}, m, factor, devices=one_device, config=config,
                                      sgd=True)
        np.testing.assert_allclose(losses, base_losses, rtol=1e-6)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(base_params)):
            np.testing.assert_allclose(a, b, atol=1e-7)


def test_microbatches_on_a_sharded_8_device_mesh_give_the_same_update():
    """data 2 x fsdp 2 x tensor 2: 2 microbatches of one row per data-parallel device = the whole
    batch at once (dropout off and SGD, as above)."""
    config = CONFIG.replace(dropout_rate=0.0)
    mesh = {"data": 2, "fsdp": 2, "tensor": 2}
    base_losses, base_params, _ = run_steps(mesh, 1, config=config, sgd=True)
    losses, params, _ = run_steps(mesh, 2, config=config, sgd=True)
    np.testing.assert_allclose(losses, base_losses, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(base_params)):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_sharded_steps_equal_single_device_with_dropout():
    single, single_params, _ = run_steps({"data": 1}, 1, devices=jax.devices()[:1])
    sharded, sharded_params, metrics = run_steps({"data": 2, "fsdp": 2, "tensor": 2}, 1)
    print("single:", single, "sharded:", sharded)
    np.testing.assert_allclose(sharded, single, rtol=0, atol=1e-5)
    assert single[-1] < single[0]
    # AdamW amplifies round-off-sized gradients to ~lr-sized updates, hence the looser bound.
    for a, b in zip(jax.tree.leaves(sharded_params), jax.tree.leaves(single_params)):
        np.testing.assert_allclose(a, b, atol=1e-4)
    assert set(metrics) >= {"loss", "accuracy", "grad_norm", "learning_rate", "target_tokens"}
