"""Batched scoring and greedy generation for evaluation: bucketed lengths, sharded on the mesh.

`InferenceEngine` turns lists of token ids into the model's evaluation passes:
- `score(params, rows)`: for `(input ids, target ids)` rows, the sum of the target tokens'
  log-likelihoods given the inputs (`DecoderOnlyModel.score_batch`, t5x's scoring; SeqIO's
  `score_fn` uses it);
- `score_options(params, examples)`: the same sums for every answer option of an example, with
  the prompt run once: it fills the KV cache (`DecoderOnlyModel`'s prefill), each option row
  starts from a copy of its example's cache and teacher-forces its tokens one step at a time, so
  K options cost one prompt pass plus K short continuations instead of K full rows, and the
  vocabulary projection runs only where a target token is scored (rank classification);
- `generate(params, prompts)`: greedy continuations with the KV cache until EOS or
  `max_new_tokens` new tokens (`DecoderOnlyModel.predict_batch_with_aux`), EOS removed.

Rows are laid out as t5x's `DecoderFeatureConverter` lays them out (BOS = `</s>`, prompts
left-aligned, loss weights on target tokens). To compile only a few programs, every batch has
`batch_size` rows (short batches are filled with copies of a real row, whose results are
dropped) and a length from `length_buckets`; rows are sorted by length first, so a batch wastes
little padding. One jitted scoring function and one jitted generation function serve every
bucket (jit caches one executable per shape). Batches are split over the mesh's batch axes
(`Partitioner.batch_sharding`); params stay wherever they were placed (restore them onto
`Partitioner.shardings`). Every process passes the same rows and gets every result back.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import numpy as np
import jax.numpy as jnp
from jax.experimental import multihost_utils

from optiml_jax import decoding
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner

# Steps of 64 to 512, 128 to 1024, 256 to 2048: at most ~1/8 of a row is padding, and an
# evaluation meets only the buckets its prompt lengths fall in (one compilation each).
DEFAULT_LENGTH_BUCKETS = (*range(64, 512, 64), *range(512, 1024, 128), *range(1024, 2049, 256))
DEFAULT_MAX_NEW_TOKENS = 256  # SuperNI / OPT-IML generation limit (Table 12).
DEFAULT_BATCH_SIZE = 32  # Rows per model call: the evaluator's default.
TARGET_BUCKETS = (4, 8, 16, 32, 64, 128, 256)  # Option lengths (tokens), for `score_options`.


class InferenceEngine:
    """Jitted, bucketed evaluation passes of one model on one mesh (see the module docstring)."""

    def __init__(self, model: DecoderOnlyModel, partitioner: Partitioner, *,
                 batch_size: int = DEFAULT_BATCH_SIZE,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 length_buckets: Sequence[int] = DEFAULT_LENGTH_BUCKETS):
        config = model.module.config
        self.max_length = config.max_position_embeddings
        if not 0 < max_new_tokens < self.max_length:
            raise ValueError(f"max_new_tokens={max_new_tokens} must be in [1, {self.max_length - 1}].")
        self.partitioner = partitioner
        self.max_new_tokens = max_new_tokens
        self.bos_id = config.bos_token_id
        self.eos_id = model.eos_id
        data_parallel = partitioner.data_parallel_size
        self.batch_size = -(-batch_size // data_parallel) * data_parallel  # Every device gets rows.
        self.length_buckets = tuple(sorted({min(b, self.max_length) for b in length_buckets} | {self.max_length}))
        self._score = jax.jit(model.score_batch)
        self._score_options = jax.jit(functools.partial(_score_options, model))
        decoder_params = {"max_decode_steps": max_new_tokens, "eos_id": self.eos_id}
        self._predict = jax.jit(lambda params, batch: model.predict_batch(params, batch, decoder_params=decoder_params))

    @property
    def max_prompt_tokens(self) -> int:
        """The longest prompt `generate` takes: BOS + prompt + new tokens fit the context."""
        return self.max_length - 1 - self.max_new_tokens

    def bucket(self, length: int) -> int:
        for bucket in self.length_buckets:
            if length <= bucket:
                return bucket
        raise ValueError(f"a row of {length} tokens does not fit the model's {self.max_length} positions.")

    # -- the two passes --------------------------------------------------------------------------

    def score(self, params: Any, rows: Sequence[tuple[Sequence[int], Sequence[int]]]) -> np.ndarray:
        """Summed log-likelihood of each row's target ids after its input ids `[len(rows)]`."""
        for position, (inputs, targets) in enumerate(rows):
            if not targets:
                raise ValueError(f"score: row {position} has no target tokens.")
            if len(inputs) + len(targets) > self.max_length:
                raise ValueError(f"score: row {position} has {len(inputs) + len(targets)} tokens; the model "
                                 f"takes {self.max_length} (truncate the inputs first).")

        def fill(chunk, length):
            shape = (self.batch_size, length)
            batch = {"decoder_input_tokens": np.zeros(shape, np.int32),
                     "decoder_target_tokens": np.zeros(shape, np.int32),
                     "decoder_loss_weights": np.zeros(shape, np.float32)}
            for row, (inputs, targets) in enumerate(chunk):
                tokens = [*inputs, *targets]
                batch["decoder_target_tokens"][row, :len(tokens)] = tokens
                batch["decoder_input_tokens"][row, :len(tokens)] = [self.bos_id, *tokens[:-1]]
                batch["decoder_loss_weights"][row, len(inputs):len(tokens)] = 1.0
            return batch

        lengths = [len(inputs) + len(targets) for inputs, targets in rows]
        return np.asarray(self._run(self._score, params, rows, lengths, fill), np.float64)

    def score_options(self, params: Any, examples: Sequence[tuple[Sequence[int], Sequence[Sequence[int]]]]
                      ) -> list[np.ndarray]:
        """For `(prompt ids, [target ids of each option])` examples, each option's summed
        log-likelihood after the prompt (one array per example); see the module docstring."""
        lengths = []
        for position, (prompt, options) in enumerate(examples):
            if not options or not all(options):
                raise ValueError(f"score_options: example {position} has an option without target tokens "
                                 f"(or no option).")
            lengths.append(len(prompt) + max(len(option) for option in options))
            if lengths[-1] > self.max_length:
                raise ValueError(f"score_options: example {position} needs {lengths[-1]} positions; the model "
                                 f"takes {self.max_length} (truncate the prompt first).")

        def fill(chunk, length):
            num_options = max(len(options) for _, options in chunk)
            longest = max(len(option) for _, options in chunk for option in options)
            steps = next((b for b in TARGET_BUCKETS if b >= longest), longest)
            longest_prompt = max(len(prompt) for prompt, _ in chunk)
            steps = steps if longest_prompt + steps <= length else longest  # The cache holds prompt + steps.
            batch = {"decoder_input_tokens": np.zeros((self.batch_size, length), np.int32),
                     "decoder_causal_attention": np.zeros((self.batch_size, length), np.int32),
                     "targets": np.zeros((self.batch_size, num_options, steps), np.int32)}
            for row, (prompt, options) in enumerate(chunk):
                batch["decoder_input_tokens"][row, :len(prompt) + 1] = [self.bos_id, *prompt]
                batch["decoder_causal_attention"][row, :len(prompt) + 1] = 1
                for k, option in enumerate(options):
                    batch["targets"][row, k, :len(option)] = option
            return batch

        results = self._run(self._score_options, params, examples, lengths, fill)
        return [np.asarray(scores[:len(options)], np.float64) for scores, (_, options) in zip(results, examples)]

    def generate(self, params: Any, prompts: Sequence[Sequence[int]]) -> list[list[int]]:
        """Greedy continuation ids of each prompt, ending before EOS (at most `max_new_tokens`)."""
        for position, prompt in enumerate(prompts):
            if len(prompt) > self.max_prompt_tokens:
                raise ValueError(f"generate: prompt {position} has {len(prompt)} tokens; at most "
                                 f"{self.max_prompt_tokens} leave room for {self.max_new_tokens} new ones "
                                 f"(truncate it first).")

        def fill(chunk, length):
            shape = (self.batch_size, length)
            batch = {"decoder_input_tokens": np.zeros(shape, np.int32),
                     "decoder_causal_attention": np.zeros(shape, np.int32)}
            for row, prompt in enumerate(chunk):
                batch["decoder_input_tokens"][row, :len(prompt) + 1] = [self.bos_id, *prompt]
                batch["decoder_causal_attention"][row, :len(prompt) + 1] = 1
            return batch

        lengths = [1 + len(prompt) + self.max_new_tokens for prompt in prompts]
        generated = self._run(self._predict, params, prompts, lengths, fill)
        return [self._until_eos(row) for row in generated]

    def lower_generate(self, params: Any, length: int) -> jax.stages.Lowered:
        """`generate`'s program (prefill + greedy decoding) for batches of `length`-position rows
        (a bucket), lowered from `params`' shapes, dtypes and shardings alone (e.g.
        `jax.ShapeDtypeStruct`s): nothing runs. `python -m optiml_jax.plan --inference` compiles it."""
        batch = {key: jax.ShapeDtypeStruct((self.batch_size, length), np.int32,
                                           sharding=self.partitioner.batch_sharding(2))
                 for key in ("decoder_input_tokens", "decoder_causal_attention")}  # generate's `fill`
        with self.partitioner.activate():
            return self._predict.lower(params, batch)

    def _until_eos(self, tokens: np.ndarray) -> list[int]:
        tokens = tokens.tolist()
        end = tokens.index(self.eos_id) if self.eos_id in tokens else len(tokens)
        return [t for t in tokens[:end] if t != 0]

    # -- batching ----------------------------------------------------------------------------------

    def _run(self, fn: Callable, params: Any, rows: Sequence, lengths: Sequence[int],
             fill: Callable[[Sequence, int], dict[str, np.ndarray]]) -> list[np.ndarray]:
        """`fn(params, batch)` over all rows, longest first, in batches of one bucket length each;
        one result per row, in the order of `rows`."""
        order = np.argsort(-np.asarray(lengths), kind="stable")
        results: list[Any] = [None] * len(rows)
        for start in range(0, len(order), self.batch_size):
            members = order[start:start + self.batch_size]
            chunk = [rows[i] for i in members]
            chunk += [chunk[-1]] * (self.batch_size - len(chunk))  # Same work as a real row; dropped.
            batch = fill(chunk, self.bucket(max(lengths[i] for i in members)))
            output = self._call(fn, params, batch)
            for row, index in enumerate(members):
                results[index] = output[row]
        return results

    def _call(self, fn: Callable, params: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
        # Every process holds the whole batch and hands over the shards its devices own.
        arrays = {k: jax.make_array_from_callback(v.shape, self.partitioner.batch_sharding(v.ndim),
                                                  lambda index, v=v: v[index])
                  for k, v in batch.items()}
        with self.partitioner.activate():
            output = fn(params, arrays)
        if jax.process_count() > 1:
            return np.asarray(multihost_utils.process_allgather(output, tiled=True))
        return np.asarray(output)


def _score_options(model: DecoderOnlyModel, params: Any, batch: dict[str, jax.Array]) -> jax.Array:
    """Summed target log-likelihood of every option `[examples, options]` (0 padding = no token).

    The prefill caches BOS + prompt except its last token (t5x's convention); then step j feeds
    the last prompt token (j = 0) or option token j - 1 and scores option token j.
    """
    inputs, targets = batch["decoder_input_tokens"], batch["targets"]  # [B, L], [B, K, T]
    num_options = targets.shape[1]
    cache, prompt_lengths = model._compute_kv_cache(params, inputs, batch["decoder_causal_attention"])
    axis = 1 if model.module.scan_layers else 0  # The cache's batch axis.
    cache = jax.tree.map(lambda x: decoding.expand_batch(x, num_options, axis=axis), cache)
    last_prompt_token = jnp.take_along_axis(inputs, prompt_lengths[:, None], axis=1)  # [B, 1]
    targets = targets.reshape(-1, targets.shape[-1])  # [B*K, T], example-major
    fed = jnp.concatenate([decoding.expand_batch(last_prompt_token, num_options), targets[:, :-1]], axis=1)

    def step(cache, tokens):
        fed_token, target = tokens  # [B*K] each
        logits, variables = model.module.apply(
            {"params": params, "cache": cache}, fed_token[:, None], fed_token[:, None], enable_dropout=False,
            decode=True, mutable=["cache"])
        log_probs = jax.nn.log_softmax(logits[:, 0].astype(jnp.float32))
        return variables["cache"], jnp.take_along_axis(log_probs, target[:, None], axis=1)[:, 0]

    _, token_log_probs = jax.lax.scan(step, cache, (fed.T, targets.T))  # [T, B*K]
    scores = jnp.sum(jnp.where(targets.T != 0, token_log_probs, 0.0), axis=0)
    return scores.reshape(inputs.shape[0], num_options)
