"""Native trainer: `python -m optiml_jax.train --gin_file=gin/native/opt_iml_tiny.gin [--gin.X=Y]`.

It follows t5x's conventions (gin macros, `--gin_file` / `--gin_bindings` / `--gin.X=Y` /
`--gin_search_paths`, `DatasetConfig` / `CheckpointConfig` fields, `MODEL_DIR/checkpoint_<step>`
Orbax checkpoints) so t5x users feel at home, and it trains the same `OPT` module t5x trains.

What one run does:
  * resumes from the latest complete checkpoint in `model_dir` (params, optimizer state, step and
    the data-stream position), else starts from `checkpoint_cfg.restore.path`
    (`INITIAL_CHECKPOINT_PATH`, e.g. a converted OPT checkpoint), else from scratch;
  * trains on the packed OPT-IML stream, jitted over the partitioner's mesh, each process feeding
    its slice of the global batch;
  * logs loss, token accuracy, LR, grad norm, tokens/s and MFU to TensorBoard and
    `model_dir/train/metrics.jsonl`, with a progress bar;
  * saves asynchronously every `save.period` steps (keeping the last `save.keep`), on SIGTERM /
    SIGINT (then exits cleanly), and at the end; stops at a non-finite loss, naming the step.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from optiml_jax import checkpoints, optimizers, summaries
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner
from optiml_jax.trainer import (TrainState, init_train_state, jit_train_step, make_train_step,
                                per_device_bytes, state_shardings)

log = logging.getLogger("optiml_jax.train")


# --- configuration dataclasses (t5x field names) ------------------------------------------------

@dataclasses.dataclass
class DatasetConfig:
    """What to train on (t5x `utils.DatasetConfig` names; the train split, shuffled and packed).

    `task_feature_lengths` is t5x's `{'inputs': …, 'targets': …}`; a decoder-only packed row holds
    their sum (t5x's `DecoderFeatureConverter` does the same).
    """

    mixture_or_task_name: str
    task_feature_lengths: Mapping[str, int]
    batch_size: int  # global, across all processes
    seed: int = 0

    @property
    def sequence_length(self) -> int:
        return int(sum(self.task_feature_lengths.values()))


@dataclasses.dataclass
class SaveCheckpointConfig:
    period: int = 1000
    keep: int | None = 3  # None keeps every checkpoint
    async_save: bool = True


@dataclasses.dataclass
class RestoreCheckpointConfig:
    """Where fresh runs start from (a resumed run always uses `model_dir`'s latest checkpoint)."""

    path: str | None = None  # INITIAL_CHECKPOINT_PATH: a model dir or a checkpoint_<step> dir
    dtype: str = "float32"


@dataclasses.dataclass
class CheckpointConfig:
    save: SaveCheckpointConfig = dataclasses.field(default_factory=SaveCheckpointConfig)
    restore: RestoreCheckpointConfig = dataclasses.field(default_factory=RestoreCheckpointConfig)


# --- the loop ------------------------------------------------------------------------------------

class _Preemption:
    """Turns SIGTERM / SIGINT into a flag the loop checks after each step."""

    def __init__(self):
        self.signal: int | None = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        del frame
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _any_process(flag: bool) -> bool:
    """True on every process if it is True on any: all hosts must stop at the same step, or one
    would wait in the checkpoint barrier while another waits in the next step's collectives."""
    if jax.process_count() == 1:
        return flag
    return bool(multihost_utils.process_allgather(np.asarray(flag)).any())


def _check_batch_size(cfg: DatasetConfig, partitioner: Partitioner, num_microbatches: int):
    data_parallel = partitioner.data_parallel_size
    if cfg.batch_size % (data_parallel * num_microbatches):
        raise ValueError(
            f"batch_size={cfg.batch_size} is not divisible by the data-parallel size "
            f"({data_parallel} = mesh axes {partitioner.batch_axes}) x num_microbatches "
            f"({num_microbatches}); every device needs the same number of rows per microbatch.")


def process_rows(partitioner: Partitioner, batch_size: int, length: int) -> tuple[int, int]:
    """`(shard_index, num_shards)`: which block of global-batch rows this process feeds.

    The block comes from the devices this process holds under the batch sharding, so processes
    that are replicas of one another (tensor parallelism across hosts) feed the same rows.
    """
    index_map = partitioner.batch_sharding().addressable_devices_indices_map((batch_size, length))
    rows = sorted({(index[0].start or 0, index[0].stop or batch_size)
                   for index in index_map.values()})
    start, stop = rows[0][0], rows[-1][1]
    covered = sorted({r for a, b in rows for r in range(a, b)})
    block = stop - start
    if covered != list(range(start, stop)) or batch_size % block or start % block:
        raise ValueError(f"This process's devices hold batch rows {rows}, not one aligned block; "
                         f"order the mesh so each process's devices hold contiguous rows.")
    return start // block, batch_size // block


def _open_stream(cfg: DatasetConfig, state: dict | None, shard: tuple[int, int]):
    """The packed OPT-IML batch stream, positioned at `state`, yielding `shard`'s rows."""
    from optiml_jax.data.pipeline import PackedBatchStream

    return PackedBatchStream(cfg.mixture_or_task_name, batch_size=cfg.batch_size,
                             sequence_length=cfg.sequence_length, seed=cfg.seed,
                             shard_index=shard[0], num_shards=shard[1], state=state)


def _check_mixture(name: str) -> None:
    """Fails fast, before any compilation, on a mixture name nobody registered."""
    import optiml_jax.tasks  # registers the bench's tasks and mixtures
    from optiml_jax.data import paths, registry

    if name in optiml_jax.tasks.REPORT.empty_mixtures:
        raise ValueError(f"Mixture {name!r} has no task with local data ({paths.DATA_DIR_ENV}="
                         f"{paths.data_dir()!r}); point {paths.DATA_DIR_ENV} at the data folder "
                         f"(docs/benchmark.md).")
    registry.get_mixture(name)  # raises on unknown names, naming close matches


def _global_batch(local: Mapping[str, np.ndarray], partitioner: Partitioner,
                  cfg: DatasetConfig) -> dict:
    sharding = partitioner.batch_sharding()
    shape = (cfg.batch_size, cfg.sequence_length)
    return {k: jax.make_array_from_process_local_data(sharding, v, global_shape=shape)
            for k, v in local.items()}


def train(*,
          model: DecoderOnlyModel,
          train_dataset_cfg: DatasetConfig,
          model_dir: str,
          total_steps: int,
          partitioner: Partitioner | None = None,
          checkpoint_cfg: CheckpointConfig | None = None,
          optimizer_fn: Callable[..., tuple[optax.GradientTransformation, optax.Schedule]] =
          optimizers.create_optimizer,
          num_microbatches: int = 1,
          random_seed: int = 0,
          stats_period: int = 10,
          eval_period: int | None = None,
          train_eval_fn: Callable[[Any, int], Mapping[str, float]] | None = None,
          compile_only: bool = False,
          progress_bar: bool = True,
          gin_config: str | None = None) -> TrainState | Any:
    """Trains `model` for `total_steps` updates; returns the final state.

    `gin_config` (the parsed gin config, passed by `main`) is written to `model_dir/config.gin`.

    With `compile_only=True` nothing is read or initialised: the train step is lowered and
    compiled for the configured mesh from abstract shapes, and `(compiled executable, sizes)` is
    returned (what `python -m optiml_jax.plan` inspects).
    """
    partitioner = partitioner or Partitioner()
    checkpoint_cfg = checkpoint_cfg or CheckpointConfig()
    cfg = train_dataset_cfg
    _check_batch_size(cfg, partitioner, num_microbatches)
    if not compile_only:
        _check_mixture(cfg.mixture_or_task_name)
    optimizer, schedule = optimizer_fn(total_steps=total_steps)
    abstract, shardings = state_shardings(model, optimizer, partitioner, cfg.sequence_length)
    batch_keys = ("decoder_input_tokens", "decoder_target_tokens", "decoder_loss_weights",
                  "decoder_segment_ids", "decoder_positions")
    step_fn = jit_train_step(make_train_step(model, optimizer, schedule, num_microbatches),
                             partitioner, shardings)
    if compile_only:
        batch = {k: jax.ShapeDtypeStruct((cfg.batch_size, cfg.sequence_length),
                                         np.float32 if k == "decoder_loss_weights" else np.int32)
                 for k in batch_keys}
        with partitioner.activate():
            compiled = step_fn.lower(abstract, batch,
                                     jax.random.key_data(jax.random.key(0))).compile()
        module = model.module
        batch_sharding = partitioner.batch_sharding()
        return compiled, {
            "model": f"OPT with {module.config.num_params():,} parameters",
            "dtype": str(module.dtype), "remat_policy": module.remat_policy,
            "batch_size": cfg.batch_size, "sequence_length": cfg.sequence_length,
            "num_microbatches": num_microbatches,
            "params_bytes": per_device_bytes(abstract.params, shardings.params),
            "opt_state_bytes": per_device_bytes(abstract.opt_state, shardings.opt_state),
            "batch_bytes": per_device_bytes(list(batch.values()), [batch_sharding] * len(batch)),
        }

    model_dir = Path(model_dir)
    is_primary = jax.process_index() == 0
    config = model.module.config
    manager = checkpoints.checkpoint_manager(model_dir, ocp.CheckpointManagerOptions(
        max_to_keep=checkpoint_cfg.save.keep, cleanup_tmp_directories=True,
        enable_async_checkpointing=checkpoint_cfg.save.async_save))
    state, stream_state = _initial_state(model, optimizer, partitioner, cfg, manager, abstract,
                                         shardings, checkpoint_cfg.restore, random_seed)
    start_step = int(state.step)
    if is_primary:
        checkpoints.save_config(model_dir, config)
        if gin_config is not None:
            (model_dir / "config.gin").write_text(gin_config)
    if stream_state is not None and stream_state["step"] != start_step:
        raise ValueError(f"Checkpoint {start_step} holds the data stream of step "
                         f"{stream_state['step']}; the checkpoint is inconsistent.")
    stream = _open_stream(cfg, stream_state,
                          process_rows(partitioner, cfg.batch_size, cfg.sequence_length))
    writer = summaries.MetricsWriter(model_dir / "train", enabled=is_primary,
                                     truncate_after_step=start_step)
    dropout_rng = jax.random.key_data(jax.random.key(random_seed))
    flops_per_token = config.flops_per_token(cfg.sequence_length)
    peak = summaries.peak_flops(jax.devices()[0])
    log.info("training steps %d → %d on mesh %s", start_step, total_steps,
             dict(partitioner.mesh.shape))

    def save(step: int, force: bool = False):
        manager.save(step, args=ocp.args.Composite(**{
            checkpoints.STATE_ITEM: ocp.args.PyTreeSave(state.state_dict()),
            checkpoints.DATASET_ITEM: ocp.args.JsonSave(stream_position)}), force=force)

    bar = summaries.ProgressBar(start_step, total_steps, enabled=progress_bar and is_primary)
    step = start_step
    with _Preemption() as preemption, partitioner.activate():
        batch = _global_batch(next(stream), partitioner, cfg)
        tic = time.perf_counter()
        while step < total_steps:
            state, metrics = step_fn(state, batch, dropout_rng)
            step += 1
            stream_position = stream.state()  # = after `step` batches, matching `state`
            # Read the next batch while the device works on this step.
            batch = (_global_batch(next(stream), partitioner, cfg) if step < total_steps
                     else None)
            metrics = jax.device_get(metrics)
            if not math.isfinite(float(metrics["loss"])):
                manager.wait_until_finished()
                raise FloatingPointError(
                    f"Non-finite loss ({float(metrics['loss'])}) at step {step}; stopping. The "
                    f"last good checkpoint is step {manager.latest_step()} in {model_dir}.")
            toc = time.perf_counter()
            tokens_per_s = cfg.batch_size * cfg.sequence_length / (toc - tic)
            tic = toc
            scalars = {k: float(v) for k, v in metrics.items()}
            scalars["tokens_per_s"] = tokens_per_s
            if peak:
                scalars["mfu"] = tokens_per_s * flops_per_token / (peak * jax.device_count())
            writer.write(step, scalars, to_tensorboard=step % stats_period == 0)
            bar.update(step, scalars)
            paused = time.perf_counter()  # evaluation and saving are not training throughput
            if eval_period and train_eval_fn and step % eval_period == 0:
                writer.write(step, {f"eval/{k}": float(v)
                                    for k, v in train_eval_fn(state.params, step).items()})
            if step % checkpoint_cfg.save.period == 0 or step == total_steps:
                save(step)
            tic += time.perf_counter() - paused
            if _any_process(preemption.signal is not None):
                if manager.latest_step() != step:
                    save(step, force=True)
                manager.wait_until_finished()
                log.warning("preemption (signal %s): saved step %d, exiting",
                            preemption.signal or "on another process", step)
                break
    manager.wait_until_finished()
    manager.close()
    writer.close()
    bar.close()
    report = stream.report()
    if report["truncated_examples"] or report["skipped_input"]:
        log.info("data: %s", json.dumps(report))
    return state


def _initial_state(model, optimizer, partitioner, cfg, manager, abstract, shardings,
                   restore_cfg: RestoreCheckpointConfig, random_seed: int):
    """Resume from `model_dir`, else start from `restore_cfg.path`, else from scratch."""
    config = model.module.config
    latest = manager.latest_step()
    if latest is not None:
        checkpoints.check_config(manager.directory, config)
        target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                              abstract, shardings)
        restored = manager.restore(latest, args=ocp.args.Composite(**{
            checkpoints.STATE_ITEM: ocp.args.PyTreeRestore(
                item=target.state_dict(),
                restore_args=ocp.checkpoint_utils.construct_restore_args(target.state_dict())),
            checkpoints.DATASET_ITEM: ocp.args.JsonRestore()}))
        state = target.replace_from_state_dict(restored[checkpoints.STATE_ITEM])
        log.info("resumed from %s", checkpoints.step_dir(manager.directory, latest))
        return state, restored[checkpoints.DATASET_ITEM]
    rng = jax.random.PRNGKey(random_seed)
    params = None
    if restore_cfg.path:
        params = checkpoints.restore_params(
            restore_cfg.path, dtype=restore_cfg.dtype, shardings=shardings.params,
            scan_layers=model.module.scan_layers, config=config)
        log.info("initialised from %s", restore_cfg.path)
    return init_train_state(model, optimizer, partitioner, shardings, cfg.sequence_length, rng,
                            params=params), None


def main(argv: list[str] | None = None) -> None:
    import gin

    from optiml_jax import gin_utils

    args = gin_utils.parse_args(argv if argv is not None else sys.argv[1:], __doc__)
    gin_utils.initialize_distributed(args)
    # force: an imported library may already have put a WARNING-level handler on the root logger.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        force=True)
    gin_utils.parse_gin(args)
    gin.get_configurable(train)(gin_config=gin.config_str())


if __name__ == "__main__":
    # Run the module under its package name so gin bindings for `optiml_jax.train.train` apply.
    from optiml_jax.train import main as _main

    _main()
