"""Our model under `seqio.Evaluator`: `predict_fn` and `score_fn` (part of the SeqIO adapter).

Every SeqIO evaluation task carries its metric fns and postprocessor (`optiml_jax.seqio_tasks`,
which registers them), so `seqio.Evaluator` — and through it t5x's `train_eval` and
`infer_eval` — can run them with any model. `seqio_model_fns` gives it ours:

    import optiml_jax.seqio_tasks  # registers the bench in SeqIO

    evaluator = seqio.Evaluator("opt_iml_dev_fully_held_out_0shot",
                                feature_converter=seqio.DecoderFeatureConverter(pack=False, bos_id=2))
    predict_fn, score_fn = seqio_model_fns(engine, params)
    metrics, _ = evaluator.evaluate(compute_metrics=True, predict_fn=predict_fn, score_fn=score_fn)

Both functions take SeqIO's enumerated, feature-converted dataset (`DecoderFeatureConverter`
rows: BOS, inputs, targets; `decoder_causal_attention` over BOS + inputs; loss weights on the
targets) and return `[(index, value)]`. Predictions are 0-padded to `max_new_tokens` ids, so the
Evaluator's `np.array` of them is rectangular (NumPy 2 refuses ragged lists). Prompts are
left-truncated to fit the context as in our own evaluator.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf

from optiml_jax.evaluation.inference import InferenceEngine


def _examples(dataset: tf.data.Dataset):
    for index, features in dataset.as_numpy_iterator():
        yield int(index), features


def seqio_model_fns(engine: InferenceEngine, params: Any) -> tuple[Callable, Callable]:
    """`(predict_fn, score_fn)` for `seqio.Evaluator.evaluate` (see the module docstring)."""

    def predict_fn(dataset: tf.data.Dataset) -> list[tuple[int, np.ndarray]]:
        indices, prompts = [], []
        for index, features in _examples(dataset):
            num_inputs = int(features["decoder_causal_attention"].sum()) - 1  # BOS is not an input.
            prompt = features["decoder_target_tokens"][:num_inputs].tolist()
            prompts.append(prompt[len(prompt) - min(len(prompt), engine.max_prompt_tokens):])
            indices.append(index)
        generated = engine.generate(params, prompts)
        padded = np.zeros((len(generated), engine.max_new_tokens), np.int32)
        for row, tokens in enumerate(generated):
            padded[row, :len(tokens)] = tokens
        return list(zip(indices, padded))

    def score_fn(dataset: tf.data.Dataset) -> list[tuple[int, float]]:
        indices, rows = [], []
        for index, features in _examples(dataset):
            tokens, weights = features["decoder_target_tokens"], features["decoder_loss_weights"]
            target_positions = np.flatnonzero(weights)
            rows.append((tokens[:target_positions[0]].tolist(), tokens[target_positions].tolist()))
            indices.append(index)
        return list(zip(indices, engine.score(params, rows).tolist()))

    return predict_fn, score_fn
