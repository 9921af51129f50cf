"""Evaluation tasks under `seqio.Evaluator` (what t5x's train_eval / infer_eval run) give the same
predictions, scores and metrics as our evaluator."""

import numpy as np
import pytest
import seqio

from data_fixtures import real_data_dir
from eval_fixtures import register_option_tasks, sharded_engine_and_params
from optiml_jax.data import registry
from optiml_jax.evaluation.runner import evaluate_tasks
from optiml_jax.seqio_evaluation import seqio_model_fns
from optiml_jax.seqio_tasks import register_in_seqio  # Importing it registers the bench in SeqIO.

GENERATION_TASK = "superni:task648_answer_generation:0shot"


@pytest.fixture(scope="module")
def engine_and_params():
    return sharded_engine_and_params(seed=1, batch_size=32, max_new_tokens=6)


def _evaluate(name, **model_fns):
    evaluator = seqio.Evaluator(name, feature_converter=seqio.DecoderFeatureConverter(pack=False, bos_id=2),
                                eval_split=registry.get_task(name).split)
    metrics, outputs = evaluator.evaluate(compute_metrics=True, **model_fns)
    return metrics.result()[name], outputs[name]


def test_generation_task_runs_under_seqio_evaluator_like_ours(engine_and_params):
    real_data_dir()
    engine, params = engine_and_params
    predict_fn, score_fn = seqio_model_fns(engine, params)
    seqio_metrics, outputs = _evaluate(GENERATION_TASK, predict_fn=predict_fn, score_fn=score_fn)
    ours = {}
    [result] = evaluate_tasks(engine, params, [registry.get_task(GENERATION_TASK)], progress=False,
                              on_result=lambda result, records: ours.update(records=records))
    predictions = outputs[seqio.metrics.ModelOutputType.PREDICTION]
    assert len(predictions) == len(ours["records"]) == 100
    vocabulary = seqio.get_mixture_or_task(GENERATION_TASK).output_features["targets"].vocabulary
    assert [vocabulary.decode(p.tolist()).strip() for p in predictions] == [r["prediction"] for r in ours["records"]]
    assert seqio_metrics == pytest.approx(result.metrics)


def test_generation_metric_fns_score_references_against_all_references():
    """A model that answers each example's drawn reference scores 100 through SeqIO's metric path."""
    real_data_dir()

    def predict_fn(dataset):
        out = []
        for index, features in dataset.as_numpy_iterator():
            targets = features["decoder_target_tokens"][features["decoder_loss_weights"] > 0]
            out.append((int(index), np.pad(targets, (0, 64 - len(targets)))))
        return out

    seqio_metrics, _ = _evaluate(GENERATION_TASK, predict_fn=predict_fn)
    assert seqio_metrics == {"exact_match": 100.0, "rouge_l": 100.0}


def test_rank_classification_task_runs_under_seqio_evaluator_like_ours(engine_and_params):
    engine, params = engine_and_params
    spec = register_option_tasks()[0]
    register_in_seqio([spec.name], [])
    predict_fn, score_fn = seqio_model_fns(engine, params)
    seqio_metrics, outputs = _evaluate(spec.name, predict_fn=predict_fn, score_fn=score_fn)
    ours = {}
    [result] = evaluate_tasks(engine, params, [spec], progress=False,
                              on_result=lambda result, records: ours.update(records=records))
    scores = outputs[seqio.metrics.ModelOutputType.SCORE]
    np.testing.assert_allclose(scores, [s for r in ours["records"] for s in r["scores"]], rtol=1e-6, atol=1e-6)
    assert seqio_metrics == pytest.approx(result.metrics) and 0 < result.score < 100
