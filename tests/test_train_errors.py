"""The trainer refuses bad setups with clear messages, before spending time on them."""

import jax
import numpy as np
import pytest

from optiml_jax import checkpoints
from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.partitioning import Partitioner
from train_runs import requires_data, tiny_model, train_in_process


def test_mesh_must_match_device_count():
    with pytest.raises(ValueError, match=r"tensor=2 = 12 devices, but 8 are available"):
        Partitioner({"data": 3, "fsdp": 2, "tensor": 2})
    with pytest.raises(ValueError, match="Only one mesh axis may be 'auto'"):
        Partitioner({"data": -1, "fsdp": -1})


def test_batch_must_divide_over_data_parallel_devices(tmp_path):
    with pytest.raises(ValueError, match=r"batch_size=6 is not divisible by the data-parallel "
                                         r"size \(4 = mesh axes \('data', 'fsdp'\)\)"):
        train_in_process(tmp_path, {"data": 2, "fsdp": 2, "tensor": 2}, batch_size=6)


@requires_data
def test_unknown_mixture_names_close_matches(tmp_path):
    with pytest.raises(KeyError, match=r"unknown mixture 'opt_iml_trian'; did you mean "
                                       r"\['opt_iml_train'"):
        train_in_process(tmp_path, {"fsdp": -1}, mixture="opt_iml_trian")


def _write_tiny_checkpoint(model_dir):
    variables = tiny_model().get_initial_variables(jax.random.PRNGKey(0),
                                                   {"decoder_input_tokens": (1, 8)})
    checkpoints.save_params(model_dir, variables["params"])
    checkpoints.save_config(model_dir, get_config("tiny"))


@requires_data
def test_checkpoint_from_another_model_is_refused(tmp_path):
    _write_tiny_checkpoint(tmp_path / "tiny")
    other = DecoderOnlyModel(OPT(get_config("tiny", hidden_size=32), scan_layers=True))
    # Resuming in a model_dir written for another config.
    with pytest.raises(ValueError, match=r"different model \(hidden_size: checkpoint 64 vs "
                                         r"requested 32"):
        train_in_process(tmp_path / "tiny", {"fsdp": -1}, model=other)
    # Starting from INITIAL_CHECKPOINT_PATH of another config.
    with pytest.raises(ValueError, match="different model"):
        train_in_process(tmp_path / "fresh", {"fsdp": -1}, model=other,
                         initial_checkpoint=str(tmp_path / "tiny"))


@requires_data
def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    with pytest.raises(FloatingPointError, match=r"Non-finite loss \(nan\) at step \d+; stopping. "
                                                 r"The last good checkpoint is step \d+"):
        train_in_process(tmp_path, {"fsdp": -1}, steps=20, save_period=1, learning_rate=1e10)
    restored = checkpoints.restore_params(tmp_path)
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(restored))
