"""Attention masks, and the fused-attention call our 'cudnn' path makes.

On CPU, `fused_attention` runs `jax.nn.dot_product_attention` through XLA: that checks the
arguments we pass (mask, causal flag, scale), not cuDNN's kernel. The kernel itself
(`implementation='cudnn'`) is exercised only by the GPU test below, skipped elsewhere.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optiml_jax.models.opt import (fused_attention, make_attention_mask,
                                   positions_from_segment_ids, xla_attention)

# Packed rows as training sees them: three examples then padding, and left padding. Padding
# tokens are not targets, so padding queries have no key at all to attend to.
SEGMENTS = jnp.asarray([[1, 1, 1, 2, 2, 2, 2, 3, 3, 0, 0, 0],
                        [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]])


def qkv(batch, length, heads, dim, dtype=jnp.float32):
    q, k, v = (jax.random.normal(key, (batch, length, heads, dim), dtype)
               for key in jax.random.split(jax.random.PRNGKey(0), 3))
    return q * dim**-0.5, k, v  # our model scales the query before attention


def packed_mask(segments):
    return make_attention_mask((segments > 0).astype(jnp.int32), segments, None)


def test_padding_queries_have_no_key_in_packed_rows():
    mask = np.asarray(packed_mask(SEGMENTS))[:, 0]
    padding = np.asarray(SEGMENTS) == 0
    assert not mask[padding].any()  # [padding queries, keys]
    assert mask[~padding].any(axis=-1).all()  # every real token sees at least itself


def test_fused_attention_call_run_through_xla_matches_our_einsum_path():
    q, k, v = qkv(2, 12, 3, 8)
    mask = packed_mask(SEGMENTS)
    reference = xla_attention(q, k, v, mask)
    fused = fused_attention(q, k, v, mask, is_causal=True, implementation="xla")
    real = np.asarray(SEGMENTS) > 0
    np.testing.assert_allclose(np.asarray(fused)[real], np.asarray(reference)[real], atol=1e-6)


def padding_gradients(attend, segments, q, k, v):
    """Gradients of a loss that weights padding 0, the way packed training's loss does: a NaN in
    a padding row would still reach them (0 * NaN = NaN)."""
    real = (segments > 0)[:, :, None, None]

    def loss(q, k, v):
        return jnp.sum(jnp.where(real, attend(q, k, v).astype(jnp.float32), 0.0))

    return jax.grad(loss, argnums=(0, 1, 2))(q, k, v)


@pytest.mark.parametrize("implementation", ["einsum", "fused call through XLA"])
def test_padding_queries_without_keys_give_finite_outputs_and_gradients(implementation):
    q, k, v = qkv(2, 12, 3, 8)
    mask = packed_mask(SEGMENTS)
    attend = {"einsum": lambda q, k, v: xla_attention(q, k, v, mask),
              "fused call through XLA": lambda q, k, v: fused_attention(
                  q, k, v, mask, is_causal=True, implementation="xla")}[implementation]
    assert bool(jnp.isfinite(attend(q, k, v)).all())
    assert all(bool(jnp.isfinite(g).all()) for g in padding_gradients(attend, SEGMENTS, q, k, v))


@pytest.mark.skipif(jax.default_backend() != "gpu",
                    reason="runs cuDNN flash attention (implementation='cudnn'), which needs a "
                           "CUDA GPU; on CPU only the call is checked, through XLA (tests above)")
def test_cudnn_attention_on_gpu_matches_xla_and_keeps_padding_gradients_finite():
    length = 128
    segments = jnp.concatenate([SEGMENTS, jnp.zeros((2, length - 12), jnp.int32)], axis=1)
    mask = packed_mask(segments)
    q, k, v = qkv(2, length, 4, 64, jnp.bfloat16)
    cudnn = fused_attention(q, k, v, mask, is_causal=True, implementation="cudnn")
    reference = xla_attention(*(x.astype(jnp.float32) for x in (q, k, v)), mask)
    real = np.asarray(segments) > 0
    np.testing.assert_allclose(np.asarray(cudnn, np.float32)[real], np.asarray(reference)[real],
                               atol=2e-2)  # bfloat16 inputs
    grads = padding_gradients(
        lambda q, k, v: fused_attention(q, k, v, mask, is_causal=True, implementation="cudnn"),
        segments, q, k, v)
    assert all(bool(jnp.isfinite(g.astype(jnp.float32)).all()) for g in grads)


def test_positions_restart_per_segment_and_padding_reads_row_one():
    segments = jnp.asarray([[1, 1, 1, 2, 2, 3, 0, 0], [0, 0, 0, 1, 1, 1, 1, 1]])
    positions = positions_from_segment_ids(segments)
    assert positions.tolist() == [[0, 1, 2, 0, 1, 0, -1, -1], [-1, -1, -1, 0, 1, 2, 3, 4]]
