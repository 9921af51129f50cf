"""Answer options end to end on real registered tasks (PromptSource and FLAN COPA over FewGLUE):
carried by the examples, scored by rank classification in our evaluator and under
`seqio.Evaluator` alike, templates averaged into the task, non-applying templates reported."""

import numpy as np
import pytest
import seqio

import optiml_jax.seqio_tasks  # noqa: F401  (the bench in SeqIO, for the last test)
import optiml_jax.tasks as bench
from data_fixtures import real_data_dir
from eval_fixtures import sharded_engine_and_params
from optiml_jax.constants import ACCURACY
from optiml_jax.data import registry
from optiml_jax.data.example_store import ExampleStore
from optiml_jax.data.formats.promptsource import NOT_APPLICABLE
from optiml_jax.data.task_reader import TaskReader
from optiml_jax.evaluation.aggregation import aggregate
from optiml_jax.evaluation.runner import RANK_CLASSIFICATION, evaluate_tasks, evaluation_tasks
from optiml_jax.seqio_evaluation import seqio_model_fns

PROMPTSOURCE_COPA = "promptsource:super_glue.copa"
FLAN_COPA = "flan:copa"


@pytest.fixture(scope="module")
def engine_and_params():
    return sharded_engine_and_params(seed=2, batch_size=16, max_new_tokens=4)


def _copa_specs(prefix, shots=0):
    real_data_dir()
    present, _ = evaluation_tasks("dev", [shots], pattern=rf"^{prefix}:")
    return present


def test_every_applicable_copa_template_is_a_rank_classification_subtask_with_options():
    # PromptSource has 12 original COPA templates; 4 are written for cause or effect questions
    # only and so do not apply to every evaluation row (App. A.1): they are left out and reported.
    for prefix, templates in ((PROMPTSOURCE_COPA, 8), (FLAN_COPA, 8)):
        specs = _copa_specs(prefix)
        assert len(specs) == templates and all(s.metric == ACCURACY and s.variant for s in specs)
        assert {s.evaluation_task for s in specs} == {"COPA"} and {s.level for s in specs} == {"fully_held_out"}
        for spec in specs:
            rendered = TaskReader(spec, ExampleStore()).render(range(4))
            assert all(len(r.options) == 2 and set(r.references) & set(r.options) for r in rendered), spec.name
    excluded = {k: v for k, v in bench.REPORT.excluded_variants.items() if k.startswith("promptsource:super_glue/copa:")}
    assert sorted(excluded) == [f"promptsource:super_glue/copa:{t}" for t in (
        "_As_a_result_C1_or_C2_", "_What_could_happen_next_C1_or_C2_", "_which_may_be_caused_by", "_why_C1_or_C2")]
    assert set(excluded.values()) == {("dev", NOT_APPLICABLE)}


def test_copa_evaluates_by_rank_classification_and_averages_its_templates(engine_and_params):
    engine, params = engine_and_params
    specs = _copa_specs(PROMPTSOURCE_COPA) + _copa_specs(FLAN_COPA)
    results = evaluate_tasks(engine, params, specs, max_examples_per_task=6, progress=False)
    assert {r.method for r in results} == {RANK_CLASSIFICATION} and all(r.n == 6 for r in results)
    assert all(r.chance == 50.0 for r in results)  # Two options, one correct.
    records = aggregate(results)
    task = {r["benchmark"]: r for r in records if r["scope"] == "task" and r["shots"] == 0}
    subtasks = [r for r in records if r["scope"] == "subtask" and r["benchmark"] == "promptsource"]
    assert len(subtasks) == 8 and task["promptsource"]["score"] == pytest.approx(np.mean([r["score"] for r in subtasks]))
    copa = [r for r in records if r["scope"] == "evaluation_task" and r["task"] == "COPA" and r["shots"] == 0]
    assert len(copa) == 1 and copa[0]["score"] == pytest.approx(np.mean([task["promptsource"]["score"],
                                                                         task["flan"]["score"]]))


def test_a_promptsource_template_scores_the_same_under_seqio(engine_and_params):
    engine, params = engine_and_params
    spec = registry.get_task(f"{PROMPTSOURCE_COPA}:exercise:0shot")
    evaluator = seqio.Evaluator(spec.name, feature_converter=seqio.DecoderFeatureConverter(pack=False, bos_id=2),
                                eval_split=spec.split)
    predict_fn, score_fn = seqio_model_fns(engine, params)
    seqio_metrics, outputs = evaluator.evaluate(compute_metrics=True, predict_fn=predict_fn, score_fn=score_fn)
    ours = {}
    [result] = evaluate_tasks(engine, params, [spec], progress=False,
                              on_result=lambda result, records: ours.update(records=records))
    np.testing.assert_allclose(outputs[spec.name][seqio.metrics.ModelOutputType.SCORE],
                               [s for r in ours["records"] for s in r["scores"]], rtol=1e-6, atol=1e-6)
    assert seqio_metrics.result()[spec.name] == pytest.approx(result.metrics) and result.n == 250 // 8
