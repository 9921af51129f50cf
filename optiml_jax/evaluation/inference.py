"""Batched scoring and greedy generation for evaluation: bucketed lengths, sharded on the mesh.

`InferenceEngine` turns lists of token-id rows into the model's two evaluation passes:
- `score(params, rows)`: for `(input ids, target ids)` rows, the sum of the target tokens'
  log-likelihoods given the inputs (`DecoderOnlyModel.score_batch`, rank classification);
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

from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils

from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner

DEFAULT_LENGTH_BUCKETS = (128, 256, 384, 512, 768, 1024, 1536, 2048)
DEFAULT_MAX_NEW_TOKENS = 256  # SuperNI / OPT-IML generation limit (Table 12).


class InferenceEngine:
    """Jitted, bucketed evaluation passes of one model on one mesh (see the module docstring)."""

    def __init__(self, model: DecoderOnlyModel, partitioner: Partitioner, *, batch_size: int = 32,
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
        sharding = self.partitioner.batch_sharding()
        # Every process holds the whole batch and hands over the shards its devices own.
        arrays = {k: jax.make_array_from_callback(v.shape, sharding, lambda index, v=v: v[index])
                  for k, v in batch.items()}
        with self.partitioner.activate():
            output = fn(params, arrays)
        if jax.process_count() > 1:
            return np.asarray(multihost_utils.process_allgather(output, tiled=True))
        return np.asarray(output)
