"""temperature_sample on a logit function whose next-token distribution is known exactly."""

import jax
import jax.numpy as jnp
import numpy as np

from optiml_jax import decoding

VOCAB = 16


def next_is_plus_one(state):
    """Deterministic 'model': the next token is (current + 1) mod VOCAB, with a margin of 5."""
    logits = 5.0 * jax.nn.one_hot((state.cur_token[:, 0] + 1) % VOCAB, VOCAB)
    return logits, state.cache + 1  # the cache counts calls, to check it is threaded through


def uniform_over_first_four(state):
    logits = jnp.where(jnp.arange(VOCAB) < 4, 0.0, -3.0)
    return jnp.broadcast_to(logits, (state.cur_token.shape[0], VOCAB)), state.cache


def run(fn, inputs, **kwargs):
    inputs = jnp.asarray(inputs, jnp.int32)
    cache = jnp.zeros((inputs.shape[0],), jnp.int32)
    index = jnp.asarray(kwargs.pop("initial_index"), jnp.int32)
    return decoding.temperature_sample(inputs, cache, fn, initial_index=index, **kwargs)


def test_greedy_teacher_forces_prompt_then_generates():
    # Row 0: prompt BOS 2, 7 (index 1 is the last prompt token); row 1: prompt BOS, 3, 9.
    inputs = [[2, 7, 0, 0, 0, 0], [2, 3, 9, 0, 0, 0]]
    seqs, scores = run(next_is_plus_one, inputs, eos_id=-1, initial_index=[1, 2])
    # Output drops position 0 (BOS): position p of the row is output index p - 1.
    assert np.asarray(seqs[:, 0]).tolist() == [[7, 8, 9, 10, 11, 12], [3, 9, 10, 11, 12, 13]]
    log_p_best = float(jax.nn.log_softmax(5.0 * jax.nn.one_hot(0, VOCAB))[0])
    np.testing.assert_allclose(scores[:, 0], [5 * log_p_best, 4 * log_p_best], rtol=1e-6)


def test_eos_and_max_decode_steps_end_a_row_and_zero_fill():
    inputs = [[2, 7, 0, 0, 0, 0, 0], [2, 3, 0, 0, 0, 0, 0]]
    seqs, _ = run(next_is_plus_one, inputs, eos_id=9, initial_index=[1, 1])
    assert np.asarray(seqs[:, 0]).tolist() == [[7, 8, 9, 0, 0, 0, 0], [3, 4, 5, 6, 7, 8, 9]]
    seqs, _ = run(next_is_plus_one, inputs, eos_id=-1, max_decode_steps=2, initial_index=[1, 1])
    assert np.asarray(seqs[:, 0]).tolist() == [[7, 8, 9, 0, 0, 0, 0], [3, 4, 5, 0, 0, 0, 0]]


def test_topk_sampling_stays_in_the_top_k_and_is_reproducible():
    inputs = np.zeros((64, 12), np.int32)
    inputs[:, 0] = 2
    kwargs = dict(eos_id=-1, temperature=1.0, topk=2, initial_index=np.zeros(64))
    seqs, _ = run(uniform_over_first_four, inputs, decode_rng=jax.random.PRNGKey(0), **kwargs)
    sampled = np.asarray(seqs[:, 0])
    # top_k keeps ties at the k-th value: ids 0-3 share the top logit, nothing else may appear.
    assert set(np.unique(sampled)) <= {0, 1, 2, 3} and len(np.unique(sampled)) == 4
    again, _ = run(uniform_over_first_four, inputs, decode_rng=jax.random.PRNGKey(0), **kwargs)
    np.testing.assert_array_equal(sampled, np.asarray(again[:, 0]))
    other, _ = run(uniform_over_first_four, inputs, decode_rng=jax.random.PRNGKey(1), **kwargs)
    assert not np.array_equal(sampled, np.asarray(other[:, 0]))


def test_temperature_sampling_follows_the_distribution():
    """With temperature 1 and no top-k, id frequencies match softmax(logits)."""
    inputs = np.zeros((2000, 2), np.int32)
    inputs[:, 0] = 2
    seqs, _ = run(uniform_over_first_four, inputs, eos_id=-1, temperature=1.0, topk=0,
                  decode_rng=jax.random.PRNGKey(3), initial_index=np.zeros(2000))
    counts = np.bincount(np.asarray(seqs[:, 0, 0]), minlength=VOCAB) / 2000
    expected = np.asarray(jax.nn.softmax(jnp.where(jnp.arange(VOCAB) < 4, 0.0, -3.0)))
    np.testing.assert_allclose(counts, expected, atol=0.03)


def test_num_decodes_expands_the_cache_per_example():
    inputs = [[2, 5, 0, 0]]
    seqs, scores = run(next_is_plus_one, inputs, eos_id=-1, num_decodes=3, initial_index=[1])
    assert seqs.shape == (1, 3, 4) and scores.shape == (1, 3)
    assert np.asarray(seqs[0]).tolist() == [[5, 6, 7, 8]] * 3
