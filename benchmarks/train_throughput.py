"""Trainer overhead: tokens/s through `optiml_jax.train.train` vs the bare jitted step.

Both sides run the same compiled step (model, AdamW, shardings) on the same mesh. The bare side
times that step alone on one fixed batch; the trainer side runs the real loop on the real
OPT-IML mixture: packed-stream reading, host-to-device transfer, the per-step metrics fetch, the
non-finite check, JSON-lines/TensorBoard logging and the progress bar (checkpointing off: it is
a periodic cost set by `save.period`). Overhead = 1 - trainer / bare.

    OPTIML_DATA_DIR=... python benchmarks/train_throughput.py [--steps 12]
Last line: {"benchmark": "train_throughput", ..., "trainer_overhead": {...}}.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import jax

import optiml_jax.tasks  # noqa: F401  (registers the OPT-IML mixtures)
from optiml_jax import optimizers
from optiml_jax.data.pipeline import PackedBatchStream
from optiml_jax.models.configs import get_config
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.models.opt import OPT
from optiml_jax.partitioning import Partitioner
from optiml_jax.summaries import read_metrics
from optiml_jax.train import CheckpointConfig, DatasetConfig, SaveCheckpointConfig, train
from optiml_jax.trainer import (init_train_state, jit_train_step, make_train_step,
                                state_shardings)

SHAPES = {  # name: (config, batch, packed length)
    "tiny": ("tiny", 8, 512),
    "125m": ("opt-125m", 4, 512),
}


def bare_tokens_per_s(model, optimizer_fn, partitioner, cfg, steps) -> float:
    optimizer, schedule = optimizer_fn(total_steps=steps + 1)
    _, shardings = state_shardings(model, optimizer, partitioner, cfg.sequence_length)
    state = init_train_state(model, optimizer, partitioner, shardings, cfg.sequence_length,
                             jax.random.PRNGKey(0))
    batch = next(PackedBatchStream(cfg.mixture_or_task_name, batch_size=cfg.batch_size,
                                   sequence_length=cfg.sequence_length))
    step = jit_train_step(make_train_step(model, optimizer, schedule), partitioner, shardings)
    batch = jax.device_put(batch, partitioner.batch_sharding())
    rng = jax.random.key_data(jax.random.key(0))
    times = []
    with partitioner.activate():
        for i in range(steps + 1):
            start = time.perf_counter()
            state, metrics = step(state, batch, rng)
            jax.block_until_ready(metrics)
            if i:  # the first call compiles
                times.append(time.perf_counter() - start)
    return cfg.batch_size * cfg.sequence_length / statistics.median(times)


def trainer_tokens_per_s(model, optimizer_fn, partitioner, cfg, steps) -> float:
    with tempfile.TemporaryDirectory() as model_dir:
        train(model=model, train_dataset_cfg=cfg, model_dir=model_dir, total_steps=steps + 1,
              partitioner=partitioner, optimizer_fn=optimizer_fn, progress_bar=True,
              checkpoint_cfg=CheckpointConfig(SaveCheckpointConfig(period=10**9)))
        metrics = read_metrics(Path(model_dir) / "train")[1:-1]  # drop compile step, final save
    return statistics.median(m["tokens_per_s"] for m in metrics)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--shapes", default="tiny,125m")
    args = parser.parse_args()
    optimizer_fn = functools.partial(optimizers.create_optimizer, learning_rate=1e-4,
                                     warmup_steps=1)
    partitioner = Partitioner({"data": 1}, devices=jax.devices()[:1])
    results = {}
    for name in args.shapes.split(","):
        preset, batch, length = SHAPES[name]
        model = DecoderOnlyModel(OPT(get_config(preset), scan_layers=True),
                                 loss_normalizing_factor="NUM_REAL_TARGET_TOKENS")
        cfg = DatasetConfig("opt_iml_train", {"inputs": length // 2, "targets": length // 2},
                            batch_size=batch)
        bare = bare_tokens_per_s(model, optimizer_fn, partitioner, cfg, args.steps)
        trained = trainer_tokens_per_s(model, optimizer_fn, partitioner, cfg, args.steps)
        results[name] = {"bare_tokens_per_s": round(bare, 1),
                         "trainer_tokens_per_s": round(trained, 1),
                         "trainer_overhead": round(1 - trained / bare, 4)}
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, jax {jax.__version__}"
    print(f"float32 on {machine}, one device, median over {args.steps} steps")
    print(f"{'shape':8s} {'bare step tok/s':>16s} {'trainer tok/s':>14s} {'overhead':>9s}")
    for name, r in results.items():
        print(f"{name:8s} {r['bare_tokens_per_s']:16.0f} {r['trainer_tokens_per_s']:14.0f} "
              f"{100 * r['trainer_overhead']:8.1f}%")
    print(json.dumps({"benchmark": "train_throughput", "machine": machine, "shapes": results,
                      "trainer_overhead": {k: r["trainer_overhead"] for k, r in results.items()}}))


if __name__ == "__main__":
    main()
