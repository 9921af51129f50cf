"""The fused-attention call (cuDNN on GPU) gets the same masks as the XLA path."""

import jax
import jax.numpy as jnp
import numpy as np

from optiml_jax.models.opt import (fused_attention, make_attention_mask,
                                   positions_from_segment_ids, xla_attention)


def test_fused_attention_call_matches_xla_path_with_packing_and_padding():
    # Run jax.nn.dot_product_attention through XLA on CPU: same arguments the GPU path passes.
    batch, length, heads, dim = 2, 12, 3, 8
    q, k, v = (jax.random.normal(key, (batch, length, heads, dim))
               for key in jax.random.split(jax.random.PRNGKey(0), 3))
    q = q * dim**-0.5  # our model scales the query before attention
    segments = jnp.asarray([[1, 1, 1, 2, 2, 2, 2, 3, 3, 0, 0, 0],
                            [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]])
    mask = make_attention_mask(jnp.ones((batch, length)), segments, None)
    reference = xla_attention(q, k, v, mask)
    fused = fused_attention(q, k, v, mask, is_causal=True, implementation="xla")
    real = np.asarray(segments) > 0
    np.testing.assert_allclose(np.asarray(fused)[real], np.asarray(reference)[real], atol=1e-6)


def test_positions_restart_per_segment_and_padding_reads_row_one():
    segments = jnp.asarray([[1, 1, 1, 2, 2, 3, 0, 0], [0, 0, 0, 1, 1, 1, 1, 1]])
    positions = positions_from_segment_ids(segments)
    assert positions.tolist() == [[0, 1, 2, 0, 1, 0, -1, -1], [-1, -1, -1, 0, 1, 2, 3, 4]]
