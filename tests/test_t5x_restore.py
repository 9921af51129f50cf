"""A converted checkpoint loads completely under the t5x run files' restore settings, and a
checkpoint that lacks a model parameter fails the restore naming it (t5x-style and native)."""

import subprocess
import sys
from pathlib import Path

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from hf_reference import random_hf_model
from optiml_jax import checkpoints, gin_static, optimizers
from optiml_jax.checkpoints import MissingParamsError
from optiml_jax.models.configs import get_config
from optiml_jax.models.opt import OPT, scan_layer_params
from t5x_restore_contract import restore_like_t5x, restore_settings
from train_runs import requires_data, train_in_process

REPO = Path(__file__).resolve().parents[1]
T5X_RUN_FILE = REPO / "gin" / "opt_iml_tiny.gin"


@pytest.fixture(scope="module")
def run_file():
    return gin_static.parse_files([T5X_RUN_FILE], [REPO], skip_includes=("t5x/",))


@pytest.fixture(scope="module")
def run_file_model(run_file):
    """The model the t5x run file builds: its preset and layer layout."""
    return get_config(run_file.value("get_config", "name")), run_file.value("opt.OPT", "scan_layers")


@pytest.fixture(scope="module")
def converted(tmp_path_factory, run_file_model):
    """`(directory, expected params)`: the default `python -m optiml_jax.convert hf` of a random
    HF model; the expected params are the HF weights mapped tensor by tensor, then stacked."""
    config, scan_layers = run_file_model
    root = tmp_path_factory.mktemp("converted")
    model, hf_params = random_hf_model(config)
    model.save_pretrained(root / "hf")
    done = subprocess.run([sys.executable, "-m", "optiml_jax.convert", "hf", "--src",
                           str(root / "hf"), "--dest", str(root / "t5x"), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = scan_layer_params(hf_params, config.num_layers) if scan_layers else hf_params
    return root / "t5x", expected


def t5x_train_state(config, scan_layers, seed):
    """A t5x-style fine-tuning state dict for the run file's model: random params, fresh AdamW."""
    tokens = jnp.ones((1, 4), jnp.int32)
    params = OPT(config, scan_layers=scan_layers).init(jax.random.PRNGKey(seed), tokens, tokens,
                                                       enable_dropout=False)["params"]
    optimizer, _ = optimizers.create_optimizer(total_steps=10, warmup_steps=1)
    param_states = flax.serialization.to_state_dict(optimizer.init(params))
    return jax.tree.map(np.asarray, {"target": params,
                                     "state": {"step": np.zeros((), np.int32),
                                               "param_states": param_states}})


def restore_with_run_file_settings(run_file, checkpoint_dir, config, scan_layers):
    model_state = t5x_train_state(config, scan_layers, seed=1)
    fresh_state = t5x_train_state(config, scan_layers, seed=2)
    return restore_like_t5x(checkpoint_dir, model_state, fresh_state, **restore_settings(run_file))


def test_run_files_restore_initial_checkpoints_with_their_own_settings(run_file):
    # The scoped settings apply only if INITIAL_CHECKPOINT_PATH's config is built in that scope;
    # t5x's own MODEL_DIR resume config stays unscoped and keeps its optimizer state.
    assert run_file.value("utils.CheckpointConfig", "restore") == gin_static.Reference(
        "initial_checkpoint/utils.RestoreCheckpointConfig", evaluate=True)
    settings = restore_settings(run_file)
    assert settings["fallback_to_scratch"] is True
    assert settings["state_transformation_fns"] == [checkpoints.require_complete_params]


def test_default_conversion_restores_every_param_under_the_t5x_run_files_settings(
        run_file, run_file_model, converted):
    directory, expected = converted
    restored, from_scratch = restore_with_run_file_settings(run_file, directory, *run_file_model)
    restored_params = traverse_util.flatten_dict(restored["target"])
    expected_params = traverse_util.flatten_dict(expected)
    assert restored_params.keys() == expected_params.keys()
    for path, value in expected_params.items():
        np.testing.assert_array_equal(restored_params[path], value, err_msg="/".join(path))
    # Only the optimizer state came from scratch; step 0 from the checkpoint.
    assert from_scratch and all(key.startswith("state/param_states/") for key in from_scratch)
    assert int(restored["state"]["step"]) == 0


def drop_leaf(source_dir, dest_dir, leaf):
    params = traverse_util.flatten_dict(checkpoints.restore_params(source_dir))
    del params[leaf]
    checkpoints.save_params(dest_dir, traverse_util.unflatten_dict(params))
    return dest_dir


def test_t5x_restore_settings_fail_naming_a_param_missing_from_the_checkpoint(
        run_file, run_file_model, converted, tmp_path):
    directory = drop_leaf(converted[0], tmp_path, ("layers", "fc2", "kernel"))
    with pytest.raises(MissingParamsError, match=r"t5x restore: 1 model parameter\(s\) are not in "
                                                 r"the checkpoint: target/layers/fc2/kernel\."):
        restore_with_run_file_settings(run_file, directory, *run_file_model)


def test_t5x_restore_settings_fail_on_the_per_layer_layout_naming_the_fix(
        run_file, run_file_model, tmp_path):
    config, scan_layers = run_file_model
    assert scan_layers, "the t5x run files train the stacked layout"
    checkpoints.save_params(tmp_path, random_hf_model(config)[1])  # layers_<i>
    with pytest.raises(MissingParamsError) as error:
        restore_with_run_file_settings(run_file, tmp_path, config, scan_layers)
    message = str(error.value)
    assert "target/layers/fc1/bias" in message
    assert "per-layer layout (layers_<i>)" in message and "--no-scan_layers" in message


@pytest.mark.slow
@requires_data
def test_native_initial_checkpoint_missing_a_layer_fails_naming_it(tmp_path):
    config = get_config("tiny")
    params = traverse_util.flatten_dict(random_hf_model(config)[1])  # layers_<i>
    params = {path: value for path, value in params.items() if path[0] != "layers_1"}
    checkpoints.save_params(tmp_path / "init", traverse_util.unflatten_dict(params))
    with pytest.raises(MissingParamsError, match=r"layers_1/fc1/bias, layers_1/fc1/kernel"):
        train_in_process(tmp_path / "run", {"data": 1, "fsdp": -1, "tensor": 1}, steps=3,
                         initial_checkpoint=str(tmp_path / "init"))
    assert not checkpoints.step_dirs(tmp_path / "run")
