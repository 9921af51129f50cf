"""Helpers for end-to-end trainer tests: in-process runs and `python -m optiml_jax.train` jobs."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from optiml_jax import optimizers
from optiml_jax.data import paths
from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.partitioning import Partitioner
from optiml_jax.summaries import read_metrics
from optiml_jax.train import (CheckpointConfig, DatasetConfig, RestoreCheckpointConfig,
                              SaveCheckpointConfig, train)

REPO = Path(__file__).resolve().parents[1]
FEATURE_LENGTHS = {"inputs": 128, "targets": 128}  # 256-token packed rows keep steps quick

requires_data = pytest.mark.skipif(
    paths.data_dir() is None,
    reason=f"{paths.DATA_DIR_ENV} is not set: these tests train on the real SuperNI mixture")


def tiny_model(**module_kwargs) -> DecoderOnlyModel:
    return DecoderOnlyModel(OPT(get_config("tiny"), scan_layers=True, **module_kwargs),
                            loss_normalizing_factor="NUM_REAL_TARGET_TOKENS")


def train_in_process(model_dir, mesh_shape, *, devices=None, steps=6, batch_size=8, model=None,
                     mixture="opt_iml_train", save_period=100, learning_rate=1e-3,
                     initial_checkpoint=None, **kwargs):
    """Trains tiny OPT in this process; returns every step's logged metrics."""
    train(model=model or tiny_model(),
          train_dataset_cfg=DatasetConfig(mixture, FEATURE_LENGTHS, batch_size=batch_size),
          model_dir=str(model_dir), total_steps=steps,
          partitioner=Partitioner(mesh_shape, devices=devices),
          checkpoint_cfg=CheckpointConfig(SaveCheckpointConfig(period=save_period),
                                          RestoreCheckpointConfig(path=initial_checkpoint)),
          optimizer_fn=functools.partial(optimizers.create_optimizer,
                                         learning_rate=learning_rate, warmup_steps=2),
          progress_bar=False, **kwargs)
    return read_metrics(Path(model_dir) / "train")


def single_device():
    return jax.devices()[:1]


def train_command(model_dir, steps, *extra_bindings, devices: int = 8, extra_flags=()):
    """`(argv, env)` of a tiny `python -m optiml_jax.train` job."""
    bindings = [f'MODEL_DIR="{model_dir}"', f"TRAIN_STEPS={steps}",
                f"TASK_FEATURE_LENGTHS={FEATURE_LENGTHS!r}", "WARMUP_STEPS=2",
                "train_script.train.progress_bar=False",
                *extra_bindings]
    argv = [sys.executable, "-m", "optiml_jax.train", "--gin_file=gin/native/opt_iml_tiny.gin",
            *(f"--gin.{binding}" for binding in bindings), *extra_flags]
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
           "JAX_PLATFORMS": "cpu"}
    return argv, env


def run_train(model_dir, steps, *extra_bindings, timeout=600, **kwargs):
    argv, env = train_command(model_dir, steps, *extra_bindings, **kwargs)
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return read_metrics(Path(model_dir) / "train")


def losses_by_step(metrics):
    return {m["step"]: m["loss"] for m in metrics}
