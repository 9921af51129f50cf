"""`DecoderOnlyModel`: t5x's model API (loss_fn / score_batch / predict_batch_with_aux) for OPT.

Method names, arguments and semantics follow t5x `models.DecoderOnlyModel`, so code written
against one works against the other; real t5x can also wrap our `OPT` module directly. The
optimizer is not part of the model here: our trainer owns it.

Batches use t5x feature names: `decoder_input_tokens`, `decoder_target_tokens`,
`decoder_loss_weights`, and when packed `decoder_segment_ids` / `decoder_positions`; prediction
also needs `decoder_causal_attention` (1 over BOS + prompt + one more position, as seqio's
`DecoderFeatureConverter` emits it).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

import flax
import jax
import jax.numpy as jnp

from optiml_jax import decoding
from optiml_jax.models import losses
from optiml_jax.models.opt import OPT

Batch = Mapping[str, jax.Array]
Params = Any


@jax.vmap
def remove_prefix(sequence: jax.Array, prefix_length: jax.Array) -> jax.Array:
    """Drop the first `prefix_length` tokens and shift left, 0-filling the tail (t5x semantics)."""
    keep = jnp.arange(sequence.shape[-1]) >= prefix_length
    return jnp.roll(sequence * keep.astype(sequence.dtype), -prefix_length, axis=-1)


class DecoderOnlyModel:
    """Causal LM over an `OPT` module with t5x-compatible methods.

    Args:
      module: the `OPT` flax module.
      vocabulary: optional seqio-style vocabulary; its `eos_id` ends generation (else the
        config's `eos_token_id`).
      decode_fn: sampling function with `decoding.temperature_sample`'s signature.
      inputs_bidirectional_attention: prefix-LM attention over the inputs (t5x option; OPT and
        OPT-IML are fully causal, keep False).
      label_smoothing, z_loss, loss_normalizing_factor: as in t5x; for AdamW use
        'NUM_REAL_TARGET_TOKENS' (OPT-IML: mean over all target tokens of the batch).
    """

    def __init__(self, module: OPT, vocabulary: Any = None,
                 decode_fn: Callable[..., tuple[jax.Array, jax.Array]] = decoding.temperature_sample,
                 inputs_bidirectional_attention: bool = False, label_smoothing: float = 0.0,
                 z_loss: float = 0.0, loss_normalizing_factor: losses.LossNormalizer = None):
        self.module = module
        self.vocabulary = vocabulary
        self._decode_fn = decode_fn
        self._inputs_bidirectional_attention = inputs_bidirectional_attention
        self._label_smoothing = label_smoothing
        self._z_loss = z_loss
        self._loss_normalizing_factor = loss_normalizing_factor

    @property
    def loss_normalizing_factor(self) -> losses.LossNormalizer:
        return self._loss_normalizing_factor

    @property
    def eos_id(self) -> int:
        eos = getattr(self.vocabulary, "eos_id", None)
        return self.module.config.eos_token_id if eos is None else eos

    # --- initialisation ------------------------------------------------------------------------

    def get_initial_variables(self, rng: jax.Array, input_shapes: Mapping[str, tuple[int, ...]],
                              input_types: Mapping[str, Any] | None = None) -> dict:
        """`{'params', 'params_axes'}` from a dummy batch of the given shapes (t5x semantics)."""
        shape = input_shapes["decoder_input_tokens"]
        dtype = (input_types or {}).get("decoder_input_tokens", jnp.float32)
        variables = self.module.init(rng, jnp.ones(shape, dtype), jnp.ones(shape, dtype),
                                     enable_dropout=False)
        return flax.core.unfreeze(variables)

    # --- forward passes ------------------------------------------------------------------------

    def _causal_attention(self, batch: Batch) -> jax.Array | None:
        if not self._inputs_bidirectional_attention:
            return None
        if "decoder_causal_attention" not in batch:
            raise ValueError("inputs_bidirectional_attention=True needs 'decoder_causal_attention' "
                             "in the batch.")
        return batch["decoder_causal_attention"]

    def _compute_logits(self, params: Params, batch: Batch, dropout_rng: jax.Array | None = None,
                        mutable: Any = False):
        rngs = {"dropout": dropout_rng} if dropout_rng is not None else None
        return self.module.apply(
            {"params": params}, batch["decoder_input_tokens"], batch["decoder_target_tokens"],
            decoder_segment_ids=batch.get("decoder_segment_ids"),
            decoder_positions=batch.get("decoder_positions"),
            decoder_causal_attention=self._causal_attention(batch), rngs=rngs, decode=False,
            enable_dropout=rngs is not None, mutable=mutable)

    def loss_fn(self, params: Params, batch: Batch, dropout_rng: jax.Array | None, *,
                loss_normalizer: jax.Array | float | None = None
                ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """`(loss, metrics)`; dropout is on exactly when `dropout_rng` is given.

        `loss_normalizer` replaces the divisor computed from this batch: a trainer splitting a
        global batch into microbatches passes the global batch's divisor to each of them.

        Metrics are batch totals (`*_sum`, counts) so that microbatches and hosts can be summed
        before dividing: `loss` (normalised as configured), `cross_ent_loss_sum`, `z_loss_sum`,
        `correct_sum` (argmax == target, weighted), `weight_sum`, `num_tokens`, `num_examples`.
        """
        logits = self._compute_logits(params, batch, dropout_rng)
        normalizer, weights = losses.normalizer_and_weights(self._loss_normalizing_factor, batch)
        if loss_normalizer is not None:
            normalizer = loss_normalizer
        targets = batch["decoder_target_tokens"]
        loss, z_loss, weight_sum = losses.weighted_cross_entropy(
            logits, targets, weights, label_smoothing=self._label_smoothing, z_loss=self._z_loss,
            loss_normalizing_factor=normalizer)
        correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
        if weights is not None:
            correct = correct * weights
        scale = 1.0 if normalizer is None else normalizer
        metrics = {
            "loss": loss,
            "cross_ent_loss_sum": (loss - z_loss) * scale,
            "z_loss_sum": z_loss * scale,
            "correct_sum": jnp.sum(correct),
            "weight_sum": weight_sum,
            "num_tokens": jnp.asarray(targets.size, jnp.float32),
            "num_examples": _num_examples(batch),
        }
        return loss, metrics

    def eval_fn(self, params: Params, batch: Batch) -> tuple[jax.Array, dict[str, jax.Array]]:
        return self.loss_fn(params, batch, dropout_rng=None)

    def score_batch(self, params: Params, batch: Batch, return_intermediates: bool = False):
        """Per-example sum of target log-likelihoods under `decoder_loss_weights` `[batch]`."""
        if return_intermediates:
            logits, state = self._compute_logits(params, batch, mutable=["intermediates"])
            intermediates = flax.core.unfreeze(state.get("intermediates", {}))
        else:
            logits = self._compute_logits(params, batch)
        token_loss, _ = losses.token_cross_entropy(logits, batch["decoder_target_tokens"])
        token_scores = -token_loss * batch["decoder_loss_weights"]
        if return_intermediates:
            decoder = intermediates.setdefault("decoder", {})
            decoder["target_tokens"] = (batch["decoder_target_tokens"],)
            decoder["loss_weights"] = (batch["decoder_loss_weights"],)
            decoder["token_scores"] = (token_scores,)
            return token_scores.sum(-1), intermediates
        return token_scores.sum(-1)

    # --- generation ----------------------------------------------------------------------------

    def _compute_kv_cache(self, params: Params, inputs: jax.Array,
                          causal_attention_mask: jax.Array) -> tuple[Any, jax.Array]:
        """Prefill the cache with the prompt; returns (cache, index of the last prompt token)."""
        prompt_lengths = jnp.sum(inputs[:, 1:] != 0, axis=-1)  # prompt tokens after BOS
        _, initial = self.module.apply({"params": params}, jnp.ones_like(inputs),
                                       jnp.ones_like(inputs), enable_dropout=False, decode=True,
                                       mutable=["cache"])
        _, filled = self.module.apply(
            {"params": params, "cache": initial["cache"]}, decoder_input_tokens=inputs,
            decoder_target_tokens=causal_attention_mask,
            decoder_causal_attention=self._causal_attention(
                {"decoder_causal_attention": causal_attention_mask}),
            mutable=["cache"], enable_dropout=False, prefill=True, prefill_lengths=prompt_lengths)
        return filled["cache"], prompt_lengths

    def _compute_logits_from_slice(self, state: decoding.DecodingState, params: Params,
                                   max_decode_length: int) -> tuple[jax.Array, Any]:
        logits, new_vars = self.module.apply(
            {"params": params, "cache": state.cache}, state.cur_token, state.cur_token,
            enable_dropout=False, decode=True, max_decode_length=max_decode_length,
            mutable=["cache"])
        return logits[:, 0], new_vars["cache"]

    def predict_batch_with_aux(self, params: Params, batch: Batch, rng: jax.Array | None = None, *,
                               return_all_decodes: bool = False, num_decodes: int = 1,
                               decoder_params: dict[str, Any] | None = None):
        """Generate after each prompt; returns `(tokens without the prompt, {'scores': ...})`.

        Prompts are left-aligned: `decoder_input_tokens * decoder_causal_attention` is BOS +
        prompt followed by zeros, and generation may fill the rest of the row.
        """
        if "decoder_causal_attention" not in batch:
            raise ValueError("Batch does not have the right format for text generation: it needs "
                             "'decoder_causal_attention' (inputs and targets features).")
        inputs = batch["decoder_input_tokens"] * batch["decoder_causal_attention"]
        cache, initial_index = self._compute_kv_cache(params, inputs,
                                                      batch["decoder_causal_attention"])
        decoder_params = dict(decoder_params or {})
        if rng is not None:
            if decoder_params.get("decode_rng") is not None:
                raise ValueError("Got an RNG both as `rng` and as decoder_params['decode_rng'].")
            decoder_params["decode_rng"] = rng
        decoder_params.setdefault("eos_id", self.eos_id)
        tokens_to_logits = functools.partial(self._compute_logits_from_slice, params=params,
                                             max_decode_length=inputs.shape[1])
        sequences, scores = self._decode_fn(
            inputs=inputs, cache=cache, tokens_to_logits=tokens_to_logits,
            num_decodes=num_decodes, initial_index=initial_index,
            cache_offset=1 if self.module.scan_layers else 0, **decoder_params)
        if return_all_decodes:
            prefix = jnp.repeat(initial_index[:, None], sequences.shape[1], axis=1)
            flat = remove_prefix(sequences.reshape(-1, sequences.shape[-1]), prefix.reshape(-1))
            return flat.reshape(sequences.shape), {"scores": scores}
        return remove_prefix(sequences[:, -1], initial_index), {"scores": scores[:, -1]}

    def predict_batch(self, params: Params, batch: Batch, rng: jax.Array | None = None,
                      **kwargs) -> jax.Array:
        return self.predict_batch_with_aux(params, batch, rng, **kwargs)[0]


def _num_examples(batch: Batch) -> jax.Array:
    """Real examples in the batch: distinct non-zero segments when packed, else non-empty rows."""
    if "decoder_segment_ids" in batch:
        seg = batch["decoder_segment_ids"]
        starts = (seg != 0) & jnp.concatenate(
            [jnp.ones_like(seg[:, :1], bool), seg[:, 1:] != seg[:, :-1]], axis=1)
        return jnp.sum(starts).astype(jnp.float32)
    return jnp.sum(jnp.any(batch["decoder_target_tokens"] > 0, axis=-1)).astype(jnp.float32)
