"""The native trainer's in-training evaluation hook scores a task with answer options by rank
classification (accuracy over its options) and a task without them by generation."""

import jax
import pytest

from data_fixtures import real_data_dir
from eval_fixtures import tiny_model
from optiml_jax.evaluation import train_hook
from optiml_jax.evaluation.runner import GENERATION, RANK_CLASSIFICATION
from optiml_jax.partitioning import Partitioner

OPTION_TASK = "flan:copa:template_0:0shot"  # FewGLUE COPA rows; FLAN's two options per row.
GENERATION_TASK = "superni:task393_plausible_result_generation:0shot"


@pytest.mark.slow  # Compiles a tiny OPT's scoring and generation (about 25 s on CPU).
def test_the_hook_scores_option_tasks_by_rank_classification(monkeypatch):
    real_data_dir()
    recorded = []

    def recording(*args, **kwargs):
        results = evaluate_tasks(*args, **kwargs)
        recorded.extend(results)
        return results

    evaluate_tasks = train_hook.evaluate_tasks
    monkeypatch.setattr(train_hook, "evaluate_tasks", recording)
    model, partitioner = tiny_model(), Partitioner({"data": 2, "fsdp": 4})
    variables = model.get_initial_variables(jax.random.PRNGKey(0), {"decoder_input_tokens": (1, 8)})
    params = jax.device_put(variables["params"], partitioner.shardings(variables["params_axes"]))
    hook = train_hook.train_eval_fn(model, partitioner, split="dev", max_examples_per_task=4, batch_size=8,
                                    max_new_tokens=4, task_pattern=f"^({OPTION_TASK}|{GENERATION_TASK})$")
    scalars = hook(params, 7)

    by_task = {result.task: result for result in recorded}
    assert set(by_task) == {OPTION_TASK, GENERATION_TASK}
    option = by_task[OPTION_TASK]
    assert (option.method, option.metric, option.n, option.step) == (RANK_CLASSIFICATION, "accuracy", 4, 7)
    assert option.chance == pytest.approx(50.0) and option.score in (0.0, 25.0, 50.0, 75.0, 100.0)
    assert set(option.metrics) >= {"accuracy"} and not {"exact_match", "rouge_l"} & set(option.metrics)
    generation = by_task[GENERATION_TASK]
    assert (generation.method, generation.metric) == (GENERATION, "rouge_l")
    assert "dev/average/0shot" in scalars and all(isinstance(v, float) for v in scalars.values())
