"""What a run refuses or survives so that it never continues on something other than it started
with: non-finite updates (never saved), changed data files (named, one by one), changed or
missing optimizer or schedule settings (stored with each checkpoint; refused unless allowed, and
logged)."""

import functools
import json
import os
import re
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optiml_jax import checkpoints, optimizers
from optiml_jax.data import registry
from optiml_jax.data.pipeline import PackedBatchStream
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner
from optiml_jax.summaries import read_metrics
from optiml_jax.train import CheckpointConfig, DatasetConfig, SaveCheckpointConfig, train
from optiml_jax.trainer import init_train_state, state_shardings
from train_runs import FEATURE_LENGTHS, requires_data, single_device, tiny_model

STEPS = 6


class OverflowingBackward(DecoderOnlyModel):
    """The tiny model with a backward pass that overflows: the loss is unchanged and finite, every
    gradient is NaN (d/dx sqrt(0 * x) = inf, times 0), as a bf16 overflow in the backward gives."""

    def loss_fn(self, params, batch, dropout_rng, **kwargs):
        loss, metrics = super().loss_fn(params, batch, dropout_rng, **kwargs)
        scale = params["final_layer_norm"]["scale"]
        return loss + 0.0 * jnp.sqrt(0.0 * jnp.sum(scale)), metrics


def overflowing_model() -> DecoderOnlyModel:
    model = tiny_model()
    return OverflowingBackward(model.module, loss_normalizing_factor="NUM_REAL_TARGET_TOKENS")


def run(model_dir, *, model=None, steps=STEPS, max_skipped_updates=None, save_period=2,
        **kwargs):
    """Tiny OPT on one device, 2 x 256-token rows per step, a checkpoint every `save_period`."""
    train(model=model or tiny_model(),
          train_dataset_cfg=DatasetConfig("opt_iml_train", FEATURE_LENGTHS, batch_size=2),
          model_dir=str(model_dir), total_steps=steps,
          partitioner=Partitioner({"data": 1}, devices=single_device()),
          checkpoint_cfg=CheckpointConfig(SaveCheckpointConfig(period=save_period, keep=None)),
          optimizer_fn=functools.partial(optimizers.create_optimizer, learning_rate=1e-3,
                                         warmup_steps=2, max_skipped_updates=max_skipped_updates),
          progress_bar=False, **kwargs)
    return read_metrics(model_dir / "train")


def saved_steps(model_dir):
    return [step for step, _ in checkpoints.step_dirs(model_dir)]


def initial_params():
    """The parameters `run` starts from (the trainer's own initialisation, seed 0)."""
    model, partitioner = tiny_model(), Partitioner({"data": 1}, devices=single_device())
    optimizer, _ = optimizers.create_optimizer(total_steps=STEPS, warmup_steps=2)
    length = sum(FEATURE_LENGTHS.values())
    _, shardings = state_shardings(model, optimizer, partitioner, length)
    state = init_train_state(model, optimizer, partitioner, shardings, length,
                             jax.random.PRNGKey(0))
    return jax.device_get(state.params)


def all_finite(params) -> bool:
    return all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(params))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished clean run (checkpoints 2, 4, 6); tests work on copies."""
    model_dir = tmp_path_factory.mktemp("finished") / "run"
    run(model_dir)
    return model_dir


def copy_run(source, destination, keep_up_to: int):
    """A copy of a finished run whose newest checkpoint is `keep_up_to` (as if it stopped there)."""
    shutil.copytree(source, destination)
    for step, directory in checkpoints.step_dirs(destination):
        if step > keep_up_to:
            shutil.rmtree(directory)
    return destination


@requires_data
@pytest.mark.slow
def test_nan_gradients_with_a_finite_loss_stop_the_run_before_anything_is_saved(
        finished_run, tmp_path):
    model_dir = copy_run(finished_run, tmp_path / "run", keep_up_to=4)
    with pytest.raises(FloatingPointError) as stopped:
        run(model_dir, model=overflowing_model(), save_period=1)  # step 5 would be saved
    # Step 5's update is the first non-finite one: nothing after checkpoint 4 was written.
    assert saved_steps(model_dir) == [2, 4]
    for step in saved_steps(model_dir):
        assert all_finite(checkpoints.restore_params(checkpoints.step_dir(model_dir, step)))
    assert re.search(r"Non-finite gradients \(grad_norm nan\) with a finite loss \([0-9.]+\) at "
                     r"step 5; stopping\. The last good checkpoint is step 4 in .*; nothing "
                     r"after it is saved.*MAX_SKIPPED_UPDATES", str(stopped.value))


@requires_data
@pytest.mark.slow
def test_nan_gradient_updates_are_skipped_up_to_the_limit_then_the_run_stops(tmp_path):
    model_dir = tmp_path / "run"
    with pytest.raises(FloatingPointError, match=r"at step 3; stopping\. The last good checkpoint "
                                                 r"is step 2 .*non-finite update 3 in a row, "
                                                 r"more than max_skipped_updates=2 skips"):
        run(model_dir, model=overflowing_model(), max_skipped_updates=2)
    # Steps 1 and 2 were skipped: checkpoint 2 holds exactly the initial parameters.
    assert saved_steps(model_dir) == [2]
    saved = checkpoints.restore_params(checkpoints.step_dir(model_dir, 2))
    assert all_finite(saved)
    for a, b in zip(jax.tree.leaves(initial_params()), jax.tree.leaves(saved)):
        np.testing.assert_array_equal(a, b)
    logged = read_metrics(model_dir / "train")
    assert [m["skipped_updates"] for m in logged] == [1, 2]
    # A skipped update does not advance the schedule: step 2 uses step 1's learning rate.
    assert logged[0]["learning_rate"] == logged[1]["learning_rate"] > 0


@requires_data
@pytest.mark.slow
def test_resume_with_a_changed_train_steps_is_refused_naming_the_setting(finished_run, tmp_path):
    model_dir = copy_run(finished_run, tmp_path / "run", keep_up_to=STEPS)
    with pytest.raises(ValueError, match=r"total_steps \(TRAIN_STEPS\): 6 in the checkpoint's "
                                         r"run, 8 now.*ALLOW_CHANGED_SETTINGS"):
        run(model_dir, steps=8)
    assert saved_steps(model_dir) == [2, 4, 6]


@requires_data
@pytest.mark.slow
def test_an_allowed_change_resumes_and_is_kept_in_the_config_history(finished_run, tmp_path):
    from optiml_jax.resume import CONFIG_HISTORY_FILE

    model_dir = copy_run(finished_run, tmp_path / "run", keep_up_to=STEPS)
    metrics = run(model_dir, steps=8, allow_changed_settings=["TRAIN_STEPS"],
                  gin_config="TRAIN_STEPS = 8\n")
    assert [m["step"] for m in metrics] == list(range(1, 9))
    assert (model_dir / "config.gin").read_text() == "TRAIN_STEPS = 8\n"
    history = (model_dir / CONFIG_HISTORY_FILE).read_text()
    assert "start at step 0" in history and "start at step 6" in history
    assert "total_steps (TRAIN_STEPS): 6 -> 8" in history
    assert history.rstrip().endswith("TRAIN_STEPS = 8")
    # The new value is the run's setting from now on; going back is a change again.
    with pytest.raises(ValueError, match=r"total_steps \(TRAIN_STEPS\): 8 in the checkpoint's "
                                         r"run, 6 now"):
        run(model_dir, steps=6)


@requires_data
@pytest.mark.slow
def test_a_checkpoint_without_stored_settings_is_refused_unless_explicitly_allowed(
        finished_run, tmp_path):
    from optiml_jax.resume import CONFIG_HISTORY_FILE

    model_dir = copy_run(finished_run, tmp_path / "run", keep_up_to=4)
    for step in saved_steps(model_dir):  # committed with each checkpoint
        stored = json.loads(checkpoints.settings_path(checkpoints.step_dir(model_dir, step))
                            .read_text())
        assert stored["total_steps"] == STEPS and stored["warmup_steps"] == 2
    missing = checkpoints.settings_path(checkpoints.step_dir(model_dir, 4))
    shutil.rmtree(missing.parent)
    with pytest.raises(ValueError, match=re.escape(str(missing)) + r" is missing.*"
                                         r"--gin\.train_script\.train\.allow_missing_settings=True"):
        run(model_dir)
    # A refusal is not damage: checkpoint 4 is neither moved aside nor replaced by 2.
    assert saved_steps(model_dir) == [2, 4]
    metrics = run(model_dir, allow_missing_settings=True)
    assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))
    assert f"settings unchecked ({missing} missing" in (model_dir / CONFIG_HISTORY_FILE).read_text()
    assert checkpoints.settings_path(checkpoints.step_dir(model_dir, 6)).is_file()


def test_a_same_size_edit_of_a_task_file_is_refused_on_resume_naming_the_file(tmp_path):
    """Same size, same modification time, one changed byte: only the content can tell."""
    from data_fixtures import write_superni_task

    tasks = []
    for i in range(2):
        path = write_superni_task(tmp_path, f"task{9950 + i}_same_size_fixture",
                                  [(f"question {j} of {i}", [f"answer {j}"]) for j in range(20)])
        name = f"fixture:same_size_{i}"
        registry.add_task(registry.TaskSpec(name=name, source_name=f"task{9950 + i}",
                                            benchmark="fixture", category="Question Answering",
                                            split="train", level="", reader="superni", path=path,
                                            num_examples=20))
        tasks.append((name, path))
    registry.add_mixture(registry.MixtureSpec("fixture_same_size",
                                              tuple((name, 0.5) for name, _ in tasks)))
    settings = dict(batch_size=2, sequence_length=256, cache_dir=str(tmp_path / "cache"))
    stream = PackedBatchStream("fixture_same_size", **settings)
    next(stream)
    state = json.loads(json.dumps(stream.state()))

    edited = tasks[1][1]
    status = os.stat(edited)
    text = open(edited, encoding="utf-8").read()
    with open(edited, "w", encoding="utf-8") as f:
        f.write(text.replace("answer 13", "answer 31"))
    os.utime(edited, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert os.path.getsize(edited) == status.st_size
    with pytest.raises(ValueError, match=r"data files changed since it was saved.*"
                                         + re.escape(f"{tasks[1][0]} ({edited})")):
        PackedBatchStream("fixture_same_size", state=state, **settings)


def test_a_changed_file_of_a_multi_file_task_is_named_on_resume(tmp_path):
    """A PromptSource task reads its templates and its rows: the refusal names the one that
    changed (the templates), not just the task's main path (the rows)."""
    from data_fixtures import real_data_dir

    source = os.path.join(real_data_dir(), "promptsource", "templates", "super_glue", "copa")
    templates = shutil.copy(os.path.join(source, "templates.yaml"), tmp_path / "templates.yaml")
    rows = shutil.copy(os.path.join(real_data_dir(), "fewglue", "FewGLUE", "COPA", "train.jsonl"),
                       tmp_path / "train.jsonl")
    registry.add_task(registry.TaskSpec(
        name="fixture:copa_two_files", source_name="super_glue/copa", benchmark="fixture",
        category="Cause Effect Classification", split="train", level="", reader="promptsource",
        path=str(rows), num_examples=32,
        reader_args=(("templates", str(templates)), ("rows", "superglue"), ("subset", "copa"))))
    registry.add_mixture(registry.MixtureSpec("fixture_two_files", (("fixture:copa_two_files", 1.0),)))
    settings = dict(batch_size=2, sequence_length=256, cache_dir=str(tmp_path / "cache"))
    stream = PackedBatchStream("fixture_two_files", **settings)
    next(stream)
    state = json.loads(json.dumps(stream.state()))

    text = open(templates, encoding="utf-8").read()
    with open(templates, "w", encoding="utf-8") as f:
        f.write(text.replace("Exercise: choose", "Exercise: chooze"))
    with pytest.raises(ValueError) as refused:
        PackedBatchStream("fixture_two_files", state=state, **settings)
    message = str(refused.value)
    assert f"1 task file(s) or rates differ from what the state was saved with: " \
           f"fixture:copa_two_files ({templates})" in message, message
    assert str(rows) not in message
