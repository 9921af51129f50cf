"""Rank classification: t5-compatible preprocessor / postprocessor / metric, and option scores and
choices that equal Hugging Face PyTorch's on real SuperNI classification prompts."""

import math

import jax
import numpy as np
import pytest
import seqio
import tensorflow as tf

from eval_fixtures import register_option_tasks
from hf_reference import hf_target_log_likelihood, random_hf_model
from optiml_jax import seqio_preprocessors
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.task_reader import RenderedExample, TaskReader, default_vocabulary
from optiml_jax.evaluation import answer_options, metrics, postprocessors
from optiml_jax.evaluation.inference import InferenceEngine
from optiml_jax.evaluation.runner import RANK_CLASSIFICATION, evaluate_tasks
from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.partitioning import Partitioner
from optiml_jax.seqio_tasks import register_in_seqio
from optiml_jax.trainer import param_shardings


def _examples(**extra):
    features = {"prefix": [["p0a", "p0b"], ["p1a", "p1b", "p1c"]], "suffix": [["s0a", "s0b"], ["s1a", "s1b", "s1c"]],
                "label": [1, 0], **extra}
    ragged = {k: tf.ragged.constant(v) if isinstance(v[0], list) else tf.constant(v) for k, v in features.items()}
    return tf.data.Dataset.from_tensor_slices(ragged)


FNS = dict(inputs_fn=lambda ex: ex["prefix"], targets_fn=lambda ex: ex["suffix"],
           is_correct_fn=lambda ex: tf.equal(tf.range(tf.size(ex["suffix"])), ex["label"]))


def test_preprocessor_expands_every_option_with_t5_features():
    rows = list(seqio_preprocessors.rank_classification(_examples(), **FNS).as_numpy_iterator())
    assert [r["idx"].tolist() for r in rows] == [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2]]
    assert [r["inputs"].decode() for r in rows] == ["p0a", "p0b", "p1a", "p1b", "p1c"]
    assert [r["targets"].decode() for r in rows] == ["s0a", "s0b", "s1a", "s1b", "s1c"]
    assert [bool(r["is_correct"]) for r in rows] == [False, True, True, False, False]
    train = list(seqio_preprocessors.rank_classification(_examples(), **FNS, mode="train").as_numpy_iterator())
    assert [r["idx"].tolist() for r in train] == [[0, 1], [1, 0]]
    batched = list(seqio_preprocessors.rank_classification(_examples(), **FNS, mode="fewshot_eval").as_numpy_iterator())
    assert [len(r["targets"]) for r in batched] == [2, 3]


def test_preprocessor_weight_passthrough_and_global_example_index():
    rows = list(seqio_preprocessors.rank_classification(
        _examples(example_index=[7, 3], tag=[10, 20]), **FNS, weight_fn=lambda ex: 2.0,
        passthrough_feature_keys=["tag"]).as_numpy_iterator())
    assert [r["idx"].tolist() for r in rows] == [[7, 0], [7, 1], [3, 0], [3, 1], [3, 2]]
    assert [float(r["weight"]) for r in rows] == [2.0] * 5 and [int(r["tag"]) for r in rows] == [10, 10, 20, 20, 20]
    target = postprocessors.rank_classification(-1.5, example={**rows[1], "targets": [5, 6, 2]}, is_target=True,
                                                passthrough_feature_keys=["tag"])
    assert target == ((7, 1), True, 2.0, 3, 10)
    assert postprocessors.rank_classification(-1.5, example=rows[1]) == -1.5


def test_preprocessor_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        seqio_preprocessors.rank_classification(_examples(), **FNS, mode="test")
    with pytest.raises(ValueError, match="would overwrite"):
        seqio_preprocessors.rank_classification(_examples(), **FNS, passthrough_feature_keys=["targets"])
    uneven = dict(FNS, targets_fn=lambda ex: ex["suffix"][:1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="one value per option"):
        list(seqio_preprocessors.rank_classification(_examples(), **uneven).as_numpy_iterator())


def test_native_option_rows_equal_the_seqio_preprocessors_rows():
    """Our evaluator's plain-Python rows and the SeqIO tasks' tf.data rows: the same option rule."""
    rendered = [RenderedExample("a", "Is it? Options: yes, no", "yes", ("yes",), ("yes", "no")),
                RenderedExample("b", "Pick one", "b c", ("b c", "a"), ("a", "b c", "d"))]
    native = answer_options.option_rows(rendered, [7, 3])
    assert [(r["idx"], r["inputs"], r["targets"], r["is_correct"]) for r in native] == [
        ((7, 0), "Is it? Options: yes, no", " yes", True), ((7, 1), "Is it? Options: yes, no", " no", False),
        ((3, 0), "Pick one", " a", True), ((3, 1), "Pick one", " b c", True), ((3, 2), "Pick one", " d", False)]
    scored = [answer_options.option_targets(r.options, r.references) for r in rendered]
    examples = tf.data.Dataset.from_tensor_slices({
        seqio_preprocessors.EXAMPLE_INDEX: tf.constant([7, 3]),
        "inputs_pretokenized": tf.constant([r.source for r in rendered]),
        "option_targets": tf.ragged.constant([[t for t, _ in options] for options in scored]),
        "option_is_correct": tf.ragged.constant([[c for _, c in options] for options in scored], dtype=tf.bool),
    })
    rows = list(seqio_preprocessors.option_rows(examples).as_numpy_iterator())
    assert [(tuple(r["idx"].tolist()), r["inputs"].decode(), r["targets"].decode(), bool(r["is_correct"]))
            for r in rows] == [(r["idx"], r["inputs"], r["targets"], r["is_correct"]) for r in native]


def _targets(correct, lengths=None, weights=None):
    """t5 targets for examples given as lists of per-option correctness."""
    out = []
    for example, options in enumerate(correct):
        for option, is_correct in enumerate(options):
            length = lengths[example][option] if lengths else 1
            weight = weights[example] if weights else 1.0
            out.append(((example, option), is_correct, weight, length))
    return out


def test_metric_picks_the_best_option_lowest_index_on_ties_and_any_correct_answer():
    correct = [[True, False], [False, True], [False, True], [False, True, True]]
    scores = [-1.0, -2.0, -3.0, -1.0, -1.0, -1.0, -5.0, -4.0, -0.5]
    # Choices: 0 ✓, 1 ✓, tie → 0 ✗, 2 ✓ (one of two correct options).
    assert metrics.rank_classification(_targets(correct), scores) == {"accuracy": 75.0}
    chosen = [c for _, _, _, c in metrics.option_predictions(_targets(correct), scores)]
    assert chosen == [0, 1, 0, 2]
    # Weighted by the chosen option's weight.
    weighted = metrics.rank_classification(_targets(correct, weights=[1.0, 1.0, 2.0, 0.0]), scores)
    assert weighted["accuracy"] == pytest.approx(100 * 2 / 4)


def test_length_normalisation_divides_by_target_tokens():
    correct, scores = [[True, False]], [-4.0, -3.0]
    assert metrics.rank_classification(_targets(correct, lengths=[[4, 1]]), scores)["accuracy"] == 0.0
    normalized = metrics.rank_classification(_targets(correct, lengths=[[4, 1]]), scores,
                                             normalize_by_target_length=True)
    assert normalized["accuracy"] == 100.0  # -1 per token beats -3


@pytest.mark.filterwarnings("ignore:F-score is ill-defined")  # class 1 of the 3-class case, as in t5
def test_fixed_class_count_adds_f1_and_auc():
    # Log-likelihoods per example; class-1 probabilities: 1/(1+e), 1/(1+e^-2), 1/2, 1/(1+e^1.5).
    correct = [[True, False], [False, True], [False, True], [False, True]]
    scores = [-1.0, -2.0, -3.0, -1.0, -1.0, -1.0, -0.5, -2.0]
    values = metrics.rank_classification(_targets(correct), scores, num_classes=2)
    assert values["accuracy"] == pytest.approx(50.0)
    assert values["f1"] == pytest.approx(50.0)  # TP 1, FP 0, FN 2
    assert values["auc-roc"] == pytest.approx(100 * 2 / 3)  # 2 of 3 (positive, negative) pairs ordered
    assert values["auc-pr"] == pytest.approx(100 * (1 / 3 + 1 / 3 + 1 / 3 * 3 / 4))
    three = metrics.rank_classification(_targets([[True, False, False], [False, False, True]]),
                                        [-1.0, -2.0, -3.0, -1.0, -2.0, -3.0], num_classes=3)
    # Predictions 0, 0; per-class F1: 2/3, 0, 0 → mean 2/9.
    assert three["accuracy"] == 50.0 and three["mean_3class_f1"] == pytest.approx(100 * 2 / 9)


def test_metric_rejects_repeated_indices_as_multi_host_enumerate_would_produce():
    targets = _targets([[True, False]]) * 2
    with pytest.raises(ValueError, match="occur more than once.*example_index"):
        metrics.rank_classification(targets, [-1.0, -2.0, -1.0, -2.0])
    with pytest.raises(ValueError, match="2 scores for 1 targets"):
        metrics.rank_classification(_targets([[True]]), [0.0, 1.0])


def test_example_index_is_global_across_hosts():
    """Each host reads a shard of the task (SeqIO's `ds.shard`); `idx` stays unique overall."""
    spec = register_option_tasks()[0]
    register_in_seqio([spec.name], [])
    task = seqio.get_mixture_or_task(spec.name)
    seen = []
    for host in range(2):
        shard = task.get_dataset(None, split=spec.split, shuffle=False, use_cached=False,
                                 shard_info=seqio.ShardInfo(index=host, num_shards=2))
        seen += [tuple(row["idx"]) for row in shard.as_numpy_iterator()]
    assert len(seen) == len(set(seen)) == 200  # 100 examples × 2 options, no repeats
    assert {i for i, _ in seen} == set(range(100))


def test_choices_and_scores_equal_hugging_face():
    config = get_config("tiny")
    hf_model, hf_params = random_hf_model(config, seed=3)
    model = DecoderOnlyModel(OPT(config))
    partitioner = Partitioner({"data": 2, "fsdp": 2, "tensor": 2})
    params = jax.device_put(hf_params, param_shardings(model, partitioner))
    engine = InferenceEngine(model, partitioner, batch_size=8)
    specs = register_option_tasks()
    outputs = {}
    results = evaluate_tasks(engine, params, specs, max_examples_per_task=12, progress=False,
                             on_result=lambda result, records: outputs.setdefault(result.task, records))
    vocabulary = default_vocabulary()
    for spec, result in zip(specs, results):
        assert result.method == RANK_CLASSIFICATION and result.n == 12
        rendered = TaskReader(spec, ExampleStore()).render(range(12))
        hf_correct = 0
        for example, record in zip(rendered, outputs[spec.name]):
            source = vocabulary.encode(example.source)
            hf_scores = [hf_target_log_likelihood(hf_model, source, vocabulary.encode(" " + option) + [2])
                         for option in example.options]
            np.testing.assert_allclose(record["scores"], hf_scores, rtol=1e-5, atol=1e-4)
            assert record["chosen"] == int(np.argmax(hf_scores))
            assert record["options"] == list(example.options) and len(set(hf_scores)) == len(hf_scores)
            hf_correct += example.options[int(np.argmax(hf_scores))] in example.references
        assert result.score == pytest.approx(100 * hf_correct / 12)
        assert math.isclose(result.metrics["accuracy"], result.score)
