"""The native trainer's in-training evaluation hook scores a task with answer options by rank
classification (accuracy over its options) and a task without them by generation, on its own
mesh and dtype: the live params are cast and copied there, the trainer's left as they are."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optiml_jax.tasks  # noqa: F401  (registers the bench, as the trainer does before its hook runs)
from data_fixtures import real_data_dir
from eval_fixtures import tiny_model
from optiml_jax.evaluation import train_hook
from optiml_jax.evaluation.runner import GENERATION, RANK_CLASSIFICATION
from optiml_jax.partitioning import Partitioner
from optiml_jax.trainer import param_shardings

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
    # No mesh or dtype: the evaluator's default for tiny (float32, replicated on 8 data replicas).
    hook = train_hook.train_eval_fn(model, split="dev", max_examples_per_task=4, batch_size=8,
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


def recorded_placement(monkeypatch, mesh_shape, dtype):
    """What the hook hands the evaluation: `(engine, params)`; the tasks themselves are not run."""
    real_data_dir()
    calls = []
    monkeypatch.setattr(train_hook, "evaluate_tasks", lambda engine, params, *args, **kwargs:
                        calls.append((engine, params)) or [])
    model, training = tiny_model(scan_layers=True), Partitioner({"fsdp": 8})
    variables = model.get_initial_variables(jax.random.PRNGKey(0), {"decoder_input_tokens": (1, 8)})
    params = jax.device_put(variables["params"], training.shardings(variables["params_axes"]))
    hook = train_hook.train_eval_fn(model, mesh_shape, dtype=dtype, task_pattern=f"^{GENERATION_TASK}$")
    assert hook(params, 3) == {}
    (engine, placed), = calls
    return params, engine, placed


def test_the_hook_evaluates_on_its_own_mesh_and_dtype(monkeypatch):
    params, engine, placed = recorded_placement(monkeypatch, {"data": 4, "fsdp": 1, "tensor": 2}, "bfloat16")
    assert dict(engine.partitioner.mesh.shape) == {"data": 4, "fsdp": 1, "tensor": 2}
    assert engine.batch_size == 16  # The hook's batch, split over the 4 data replicas.
    wanted = param_shardings(tiny_model(scan_layers=True, dtype="bfloat16"), engine.partitioner)
    assert jax.tree.structure(placed) == jax.tree.structure(wanted)
    for leaf, sharding, trained in zip(jax.tree.leaves(placed), jax.tree.leaves(wanted), jax.tree.leaves(params)):
        assert leaf.dtype == jnp.bfloat16 and leaf.sharding.is_equivalent_to(sharding, leaf.ndim)
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(trained.astype(jnp.bfloat16)))
        assert trained.dtype == jnp.float32 and dict(trained.sharding.mesh.shape)["fsdp"] == 8  # Untouched.


def test_the_hook_defaults_to_the_evaluators_placement(monkeypatch):
    _, engine, placed = recorded_placement(monkeypatch, None, None)
    assert dict(engine.partitioner.mesh.shape) == {"data": 8, "fsdp": 1, "tensor": 1}
    assert all(leaf.dtype == jnp.float32 and leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(placed))
