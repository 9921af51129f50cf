"""Helpers for the evaluation tests: real classification tasks with answer options, tiny checkpoints."""

from __future__ import annotations

import dataclasses
import os

import jax

from data_fixtures import real_data_dir
from optiml_jax import checkpoints
from optiml_jax.constants import ACCURACY, FULLY_HELD_OUT
from optiml_jax.data import registry
from optiml_jax.data.formats import READERS
from optiml_jax.data.formats.superni import read_superni_task
from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.tasks.catalog import BenchmarkCatalog, CatalogEntry, file_per_task, first_instances
from optiml_jax.tasks.registration import register_catalogs, task_name

LABEL_OPTIONS_READER = "superni_with_label_options"
# Real SuperNI classification tasks: their label sets ("0"/"1", "A"/"B") become every instance's options.
CLASSIFICATION_TASKS = ("task1344_glue_entailment_classification", "task1393_superglue_copa_text_completion")


def read_with_label_options(path: str, name: str):
    """A SuperNI task whose instances offer the task's whole label set as answer options."""
    task = read_superni_task(path, name)
    labels = tuple(sorted({target for example in task.examples for target in example.targets}))
    task.examples = [dataclasses.replace(example, options=labels) for example in task.examples]
    return task


READERS.setdefault(LABEL_OPTIONS_READER, read_with_label_options)


def register_fixture_tasks(benchmark: str, names, *, reader: str, metric: str, folder: str | None = None,
                           category: str = "Textual Entailment") -> list[registry.TaskSpec]:
    """Registers `names` as test-split evaluation tasks of `benchmark`; returns their 0-shot specs."""
    folder = folder or os.path.join(real_data_dir(), "superni", "tasks")
    entries = tuple(CatalogEntry(benchmark, name, category, category, f"{name}_source", "test", 100, "test",
                                 FULLY_HELD_OUT, "fixture") for name in names)

    def data_file(entry):
        path = os.path.join(folder, f"{entry.name}.json")
        return path if os.path.exists(path) else None

    catalog = BenchmarkCatalog(benchmark, entries, file_per_task(reader, data_file), first_instances(100),
                               evaluation_metric=metric)
    register_catalogs([catalog], namespace=f"{benchmark}_fixture", proportions=None)
    return [registry.get_task(task_name(entry, 0)) for entry in entries]


def register_option_tasks() -> list[registry.TaskSpec]:
    return register_fixture_tasks("optionbench", CLASSIFICATION_TASKS, reader=LABEL_OPTIONS_READER, metric=ACCURACY)


def tiny_model(**module_kwargs) -> DecoderOnlyModel:
    return DecoderOnlyModel(OPT(get_config("tiny"), **module_kwargs))


def sharded_engine_and_params(seed: int, batch_size: int, max_new_tokens: int):
    """A random tiny OPT on a data=2 x fsdp=4 mesh and an engine for it."""
    from optiml_jax.evaluation.inference import InferenceEngine
    from optiml_jax.partitioning import Partitioner

    model, partitioner = tiny_model(), Partitioner({"data": 2, "fsdp": 4})
    variables = model.get_initial_variables(jax.random.PRNGKey(seed), {"decoder_input_tokens": (1, 8)})
    params = jax.device_put(variables["params"], partitioner.shardings(variables["params_axes"]))
    return InferenceEngine(model, partitioner, batch_size=batch_size, max_new_tokens=max_new_tokens), params


def save_tiny_checkpoint(model_dir, steps=(1,), seed: int = 0) -> str:
    """A random tiny OPT saved as `checkpoint_<step>` dirs with its config.json; returns model_dir."""
    model = tiny_model()
    params = model.get_initial_variables(jax.random.PRNGKey(seed), {"decoder_input_tokens": (1, 8)})["params"]
    for step in steps:
        checkpoints.save_params(model_dir, params, step=step)
    checkpoints.save_config(model_dir, model.module.config)
    return str(model_dir)
