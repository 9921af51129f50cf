"""SeqIO preprocessors for evaluation, named and behaving as the `t5` package's (part of the SeqIO adapter).

`rank_classification(ds, inputs_fn, targets_fn, is_correct_fn, weight_fn, mode,
passthrough_feature_keys)` (`t5.data.preprocessors.rank_classification`) expands each example
into one example per answer option with features `idx = [example, option]`, `inputs`, `targets`,
`is_correct` (and `weight`, and the passthrough features): "eval" yields every option, "train"
only the correct ones, "fewshot_eval" every option with each example's options kept together in
one element. Use it with `optiml_jax.evaluation.postprocessors.rank_classification` and
`optiml_jax.evaluation.metrics.rank_classification`.

One difference, for multi-host runs: `idx[0]` is the example's `example_index` feature when the
examples carry one. Our task sources emit it (the example's position in its task) before SeqIO
splits a task's examples across hosts, so it is unique over all hosts; `t5` numbers examples with
`ds.enumerate()` after that split, so two hosts produce the same `idx` and its metric raises.
Without the feature, `idx[0]` is the position in `ds`, as in `t5`.

`option_rows` applies it to our SeqIO tasks' examples: the prompt (`inputs_pretokenized`) with
each of `option_targets`, correct where `option_is_correct` says, both computed in Python by
`optiml_jax.evaluation.answer_options` (the rule our own evaluator expands options by). This
module imports TensorFlow; the native evaluator never imports it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

EXAMPLE_INDEX = "example_index"
MODES = ("train", "eval", "fewshot_eval")

Features = dict[str, tf.Tensor]


def rank_classification(
    ds: tf.data.Dataset,
    inputs_fn: Callable[[Features], tf.Tensor],
    targets_fn: Callable[[Features], tf.Tensor],
    is_correct_fn: Callable[[Features], tf.Tensor],
    weight_fn: Callable[[Features], tf.Tensor] | None = None,
    mode: str = "eval",
    passthrough_feature_keys: Sequence[str] | None = None,
) -> tf.data.Dataset:
    """One example per option (see the module docstring); the three fns return one value per option."""
    if mode not in MODES:
        raise ValueError(f"rank_classification: mode must be one of {MODES}, got {mode!r}.")

    def expand(position, example):
        inputs, targets = inputs_fn(example), targets_fn(example)
        is_correct = tf.cast(is_correct_fn(example), tf.bool)
        tf.debugging.assert_equal(
            tf.size(is_correct), [tf.size(inputs), tf.size(targets)],
            "rank_classification: inputs_fn, targets_fn and is_correct_fn must return one value per option.")
        num_options = tf.size(is_correct)
        index = example[EXAMPLE_INDEX] if EXAMPLE_INDEX in example else position
        output = {
            "idx": tf.stack([tf.fill([num_options], tf.cast(index, tf.int32)), tf.range(num_options)], axis=1),
            "inputs": inputs,
            "targets": targets,
            "is_correct": is_correct,
        }
        if weight_fn is not None:
            output["weight"] = tf.cast(tf.fill([num_options], weight_fn(example)), tf.float32)
        for key in passthrough_feature_keys or ():
            if key in output:
                raise ValueError(f"rank_classification: passthrough feature {key!r} would overwrite the "
                                 f"preprocessor's own feature of that name; rename it.")
            value = example[key]
            output[key] = tf.tile(value[tf.newaxis], tf.concat([[num_options], tf.ones_like(tf.shape(value))], 0))
        return output

    ds = ds.enumerate().map(expand, num_parallel_calls=tf.data.AUTOTUNE)
    if mode != "fewshot_eval":
        ds = ds.unbatch()
    if mode == "train":
        ds = ds.filter(lambda example: example["is_correct"])
    return ds


def option_rows(ds: tf.data.Dataset) -> tf.data.Dataset:
    """`rank_classification` over our examples' `inputs_pretokenized`, `option_targets`, `option_is_correct`."""
    return rank_classification(
        ds,
        inputs_fn=lambda ex: tf.fill(tf.shape(ex["option_targets"]), ex["inputs_pretokenized"]),
        targets_fn=lambda ex: ex["option_targets"],
        is_correct_fn=lambda ex: ex["option_is_correct"],
    )
