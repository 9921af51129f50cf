"""Autoregressive sampling with a KV cache, with t5x `decoding.temperature_sample` semantics.

The whole loop is one `lax.while_loop` inside the caller's jit: no host round trip per token.
Conventions shared with t5x so that our `DecoderOnlyModel` and t5x's decode functions are
interchangeable:
  * `inputs` are left-aligned prompts `[batch, length]`, 0-padded; non-zero tokens after
    `initial_index` are teacher-forced, zeros are generated.
  * `tokens_to_logits(DecodingState) -> (logits [batch, vocab], new_cache)`.
  * Results are `[batch, num_decodes, length]` sorted by ascending log-probability (best last):
    positions 1 … length of the row (position 0, the BOS, is dropped; the last token fed is at
    position length - 1, so one token may land at position `length`). The prompt is still in
    place; the model removes it.
Difference: with `initial_index=None` decoding starts at position 0 and feeds `inputs[:, 0]` as it
is (OPT's BOS is `</s>`=2, not t5x's 0).
"""

from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp

PyTree = Any


@flax.struct.dataclass
class DecodingState:
    cur_index: jax.Array   # [batch] position of the token being fed
    sequences: jax.Array   # [batch, length] prompt + everything generated so far
    cur_token: jax.Array   # [batch, 1] the token being fed
    cache: PyTree          # the model's `cache` collection


TokensToLogits = Callable[[DecodingState], tuple[jax.Array, PyTree]]


def expand_batch(x: jax.Array, num_decodes: int, axis: int = 0) -> jax.Array:
    """[..., batch, ...] -> [..., batch * num_decodes, ...], each example repeated in place."""
    return x if num_decodes == 1 else jnp.repeat(x, num_decodes, axis=axis)


def temperature_sample(inputs: jax.Array,
                       cache: PyTree,
                       tokens_to_logits: TokensToLogits,
                       eos_id: int,
                       decode_rng: jax.Array | None = None,
                       num_decodes: int = 1,
                       temperature: float = 1.0,
                       topk: int = 1,
                       initial_index: jax.Array | None = None,
                       max_decode_steps: int | None = None,
                       cache_offset: int = 0) -> tuple[jax.Array, jax.Array]:
    """Greedy (`topk=1` or `temperature=0`, the default) or temperature / top-k sampling.

    Returns `(sequences [batch, num_decodes, length], log_probs [batch, num_decodes])`, where
    `log_probs` is the model's log-likelihood (before temperature) of the generated tokens.
    A sequence ends at `eos_id`, when the cache is full, or after `max_decode_steps` new tokens.
    """
    batch, length = inputs.shape
    greedy = topk == 1 or temperature == 0.0
    if not greedy and decode_rng is None:
        raise ValueError("Sampling with temperature > 0 and topk != 1 needs a decode_rng.")
    # One extra column: feeding the last cached position (length - 1) yields position `length`.
    inputs = jnp.pad(expand_batch(inputs, num_decodes), ((0, 0), (0, 1)))
    cache = jax.tree.map(lambda x: expand_batch(x, num_decodes, axis=cache_offset), cache)
    if initial_index is None:
        initial_index = jnp.zeros((batch,), jnp.int32)
    cur_index = expand_batch(initial_index.astype(jnp.int32), num_decodes)
    rows = jnp.arange(batch * num_decodes)

    def step(state):
        cur_index, sequences, cache, ended, log_prob, generated, rng = state
        cur_token = sequences[rows, cur_index][:, None]
        logits, cache = tokens_to_logits(
            DecodingState(cur_index, sequences[:, :length], cur_token, cache))
        logits = logits.astype(jnp.float32)
        if greedy:
            sampled = jnp.argmax(logits, axis=-1)
        else:
            rng, key = jax.random.split(rng)
            scaled = logits / temperature
            if topk > 1:
                kth_best = jax.lax.top_k(scaled, topk)[0][:, -1:]
                scaled = jnp.where(scaled < kth_best, -jnp.inf, scaled)
            sampled = jax.random.categorical(key, scaled, axis=-1)
        next_index = jnp.minimum(cur_index + 1, length)
        prompt_token = inputs[rows, next_index]
        forced = prompt_token != 0
        token = jnp.where(forced, prompt_token, sampled).astype(sequences.dtype)
        live = ~ended
        sequences = sequences.at[rows, next_index].set(jnp.where(live, token, sequences[rows, next_index]))
        new_token = live & ~forced
        token_log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), token[:, None], axis=-1)[:, 0]
        log_prob = log_prob + jnp.where(new_token, token_log_prob, 0.0)
        generated = generated + new_token.astype(jnp.int32)
        finished = (new_token & (token == eos_id)) | (next_index >= length)
        if max_decode_steps is not None:
            finished = finished | (generated >= max_decode_steps)
        cur_index = jnp.where(live, next_index, cur_index)
        return cur_index, sequences, cache, ended | finished, log_prob, generated, rng

    n = batch * num_decodes
    state = (cur_index, inputs, cache, cur_index >= length, jnp.zeros((n,), jnp.float32),
             jnp.zeros((n,), jnp.int32), decode_rng if decode_rng is not None else jax.random.key(0))
    _, sequences, _, _, log_prob, _, _ = jax.lax.while_loop(lambda s: ~jnp.all(s[3]), step, state)

    sequences = sequences[:, 1:].reshape(batch, num_decodes, length)
    log_prob = log_prob.reshape(batch, num_decodes)
    order = jnp.argsort(log_prob, axis=-1)  # ascending: best last, as t5x returns them
    return (jnp.take_along_axis(sequences, order[:, :, None], axis=1),
            jnp.take_along_axis(log_prob, order, axis=1))
