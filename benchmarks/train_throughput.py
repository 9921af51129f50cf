"""Trainer overhead: tokens/s through `optiml_jax.train.train` vs the bare jitted step.

Both sides run the same compiled step (model, AdamW, shardings) on the same mesh. The bare side
times that step alone on one fixed batch; the trainer side runs the real loop: packed-stream
reading (prefetched by worker processes), host-to-device transfer, the metrics fetch every
`stats_period` steps, the non-finite check, JSON-lines/TensorBoard logging and the progress bar
(checkpointing off: it is a periodic cost set by `save.period`). Overhead = 1 - trainer / bare.

Two cases:
- `overhead`: tiny and 125M OPT on the real OPT-IML mixture, where the step dominates.
- `input_bound`: preparing a batch is deliberately made expensive next to the step: a
  long-document corpus (SuperNI-format tasks whose inputs are `--input-words` words each, left-
  truncated into 128-token rows) feeding tiny OPT. It runs in its own process with XLA on one
  thread, so the step has one core and input preparation the others, as on an accelerator host
  whose cores are free while the device computes. It prints the time to prepare one batch
  against the bare step, and the trainer's throughput without prefetch workers (the loop
  prepares each batch itself) and with them, each as a ratio to the bare step.

    OPTIML_DATA_DIR=... python benchmarks/train_throughput.py [--steps 12] [--cases overhead,input_bound]
Last line: {"benchmark": "train_throughput", ..., "trainer_overhead": {...}, "input_bound": {...}}.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
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


def trainer_tokens_per_s(model, optimizer_fn, partitioner, cfg, steps, **train_kwargs) -> float:
    with tempfile.TemporaryDirectory() as model_dir:
        train(model=model, train_dataset_cfg=cfg, model_dir=model_dir, total_steps=steps + 1,
              partitioner=partitioner, optimizer_fn=optimizer_fn, progress_bar=True,
              checkpoint_cfg=CheckpointConfig(SaveCheckpointConfig(period=10**9)), **train_kwargs)
        # Step 1 (compilation) is its own metrics window; the last holds the final save.
        metrics = read_metrics(Path(model_dir) / "train")[1:-1]
    # Every step of a window logs the window's mean, so the harmonic mean over steps is the run's
    # tokens over its time: input stalls count wherever they fall.
    return statistics.harmonic_mean(m["tokens_per_s"] for m in metrics)


INPUT_BOUND = {"batch": 16, "length": 128, "tasks": 4, "instances": 32}
# The stream prepares examples for several steps at once (every 16 steps here), so its work comes
# in bursts; a queue this deep absorbs one.
PREFETCH_DEPTH = 8


def input_bound_case(steps: int, input_words: int, workers: int) -> dict:
    """The `input_bound` case (module docstring); runs in a process with single-threaded XLA."""
    sys.path.insert(0, str(Path(__file__).parent))
    from mixture_scale import _synthetic_catalog, generate_corpus

    from optiml_jax.tasks.registration import register_catalogs

    corpus = tempfile.mkdtemp(prefix="input_bound_corpus_")
    tasks = generate_corpus(corpus, INPUT_BOUND["tasks"], input_words=input_words,
                            instances=INPUT_BOUND["instances"])
    register_catalogs([_synthetic_catalog(corpus, tasks)], namespace="input_bound")
    length = INPUT_BOUND["length"]
    cfg = DatasetConfig("input_bound_train", {"inputs": length * 3 // 4, "targets": length // 4},
                        batch_size=INPUT_BOUND["batch"])
    stream = PackedBatchStream(cfg.mixture_or_task_name, batch_size=cfg.batch_size,
                               sequence_length=cfg.sequence_length)
    next(stream)  # opens (and caches) the tasks' files
    # The mean: the stream prepares examples for several batches at a time.
    start = time.perf_counter()
    for _ in range(steps):
        next(stream)
    prepare_s = (time.perf_counter() - start) / steps
    model = DecoderOnlyModel(OPT(get_config("tiny"), scan_layers=True),
                             loss_normalizing_factor="NUM_REAL_TARGET_TOKENS")
    optimizer_fn = functools.partial(optimizers.create_optimizer, learning_rate=1e-4,
                                     warmup_steps=1)
    partitioner = Partitioner({"data": 1}, devices=jax.devices()[:1])
    bare = bare_tokens_per_s(model, optimizer_fn, partitioner, cfg, steps)
    tokens = cfg.batch_size * cfg.sequence_length
    without = trainer_tokens_per_s(model, optimizer_fn, partitioner, cfg, steps,
                                   prefetch_workers=0, stats_period=5)
    with_workers = trainer_tokens_per_s(model, optimizer_fn, partitioner, cfg, steps,
                                        prefetch_workers=workers, prefetch_depth=PREFETCH_DEPTH,
                                        stats_period=5)
    return {"batch": cfg.batch_size, "sequence_length": cfg.sequence_length,
            "input_words": input_words, "prefetch_workers": workers, "prefetch_depth": PREFETCH_DEPTH,
            "bare_step_s": round(tokens / bare, 4),
            "prepare_batch_s": round(prepare_s, 4),
            "bare_tokens_per_s": round(bare, 1),
            "without_prefetch_tokens_per_s": round(without, 1),
            "with_prefetch_tokens_per_s": round(with_workers, 1),
            "without_prefetch_vs_bare": round(without / bare, 3),
            "with_prefetch_vs_bare": round(with_workers / bare, 3)}


def run_input_bound(steps: int, input_words: int, workers: int) -> dict:
    """`input_bound_case` in a child process whose XLA runs on one thread."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
    child = subprocess.run([sys.executable, __file__, "--input-bound-child", "--steps", str(steps),
                            "--input-words", str(input_words), "--workers", str(workers)],
                           env=env, capture_output=True, text=True, check=False)
    if child.returncode:
        raise RuntimeError(f"the input_bound case failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--shapes", default="tiny,125m")
    parser.add_argument("--cases", default="overhead,input_bound")
    parser.add_argument("--input-words", type=int, default=6000,
                        help="words per input of the input_bound case's documents")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="prefetch worker processes in the input_bound case")
    parser.add_argument("--input-bound-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.input_bound_child:
        print(json.dumps(input_bound_case(args.steps, args.input_words, args.workers)))
        return
    cases = args.cases.split(",")
    optimizer_fn = functools.partial(optimizers.create_optimizer, learning_rate=1e-4,
                                     warmup_steps=1)
    partitioner = Partitioner({"data": 1}, devices=jax.devices()[:1])
    results = {}
    for name in (args.shapes.split(",") if "overhead" in cases else []):
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
    if results:
        print(f"{'shape':8s} {'bare step tok/s':>16s} {'trainer tok/s':>14s} {'overhead':>9s}")
    for name, r in results.items():
        print(f"{name:8s} {r['bare_tokens_per_s']:16.0f} {r['trainer_tokens_per_s']:14.0f} "
              f"{100 * r['trainer_overhead']:8.1f}%")
    bound = None
    if "input_bound" in cases:
        bound = run_input_bound(args.steps, args.input_words, args.workers)
        print(f"input_bound: {bound['batch']} x {bound['sequence_length']} tokens of tiny OPT, XLA "
              f"on one thread; preparing a batch {bound['prepare_batch_s']:.3f} s, the bare step "
              f"{bound['bare_step_s']:.3f} s")
        print(f"  trainer / bare step: without prefetch {bound['without_prefetch_vs_bare']:.3f}, "
              f"with {bound['prefetch_workers']} prefetch worker(s) "
              f"{bound['with_prefetch_vs_bare']:.3f}")
    print(json.dumps({"benchmark": "train_throughput", "machine": machine, "shapes": results,
                      "trainer_overhead": {k: r["trainer_overhead"] for k, r in results.items()},
                      "input_bound": bound}))


if __name__ == "__main__":
    main()
