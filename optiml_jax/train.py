"""Native trainer: `python -m optiml_jax.train --gin_file=gin/native/opt_iml_tiny.gin [--gin.X=Y]`.

It follows t5x's conventions (gin macros, `--gin_file` / `--gin_bindings` / `--gin.X=Y` /
`--gin_search_paths`, `DatasetConfig` / `CheckpointConfig` fields, `MODEL_DIR/checkpoint_<step>`
Orbax checkpoints) so t5x users feel at home, and it trains the same `OPT` module t5x trains.

What one run does:
  * resumes from the latest complete checkpoint in `model_dir` (params, optimizer state, step,
    the data-stream position and the optimizer / schedule settings), else starts from
    `checkpoint_cfg.restore.path` (`INITIAL_CHECKPOINT_PATH`, e.g. a converted OPT checkpoint),
    else from scratch;
  * trains on the packed OPT-IML stream, jitted over the partitioner's mesh, each process
    rendering and feeding only its rows of the global batch, prepared ahead by
    `prefetch_workers` processes (`optiml_jax.data.prefetch`) so the loop waits for input only
    when none is ready;
  * keeps each step's metrics on the device and fetches them every `stats_period` steps (and
    before any evaluation or save), so the loop never stalls on the host; logs loss, token
    accuracy, LR, grad norm, tokens/s, MFU and the time the loop waited for input to
    TensorBoard and `model_dir/train/metrics.jsonl`, with a progress bar;
  * saves asynchronously every `save.period` steps (keeping the last `save.keep`), on
    preemption (then exits cleanly), and at the end. One process: SIGTERM / SIGINT. Several:
    SIGTERM to any of them, through JAX's preemption sync point, so all stop at the same step;
  * stops at a non-finite loss or gradient norm, naming the step, before anything after that
    step is saved (or skips such updates, with `optimizers.create_optimizer(max_skipped_updates=N)`);
    a state with non-finite parameters is never saved;
  * on resume, refuses optimizer / schedule settings that differ from those stored in the
    checkpoint and falls back past unusable checkpoints (`optiml_jax.resume`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np
import optax
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from optiml_jax import checkpoints, optimizers, resume, summaries
from optiml_jax.models.decoder_only import DecoderOnlyModel
from optiml_jax.partitioning import Partitioner
from optiml_jax.trainer import (PARAMS_FINITE, TrainState, init_train_state, jit_train_step,
                                make_train_step, per_device_bytes, state_shardings)

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
    """Whether to save and stop after a step: the loop asks `requested(step)` after each one.

    One process: SIGTERM / SIGINT set a flag. Several: JAX's preemption service (started by
    `jax.distributed.initialize`) catches SIGTERM on any process and agrees with the others on a
    step at which all of them stop, without a collective in the loop; Python's own SIGTERM
    handler is then left alone, as installing it would replace the service's.
    """

    def __init__(self):
        self.signal: int | None = None
        self._previous = {}
        self._multi_process = jax.process_count() > 1

    def __enter__(self):
        for sig in (() if self._multi_process else (signal.SIGTERM, signal.SIGINT)):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def requested(self, step: int) -> bool:
        if self._multi_process:
            return multihost_utils.reached_preemption_sync_point(step)
        return self.signal is not None

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


def _open_stream(cfg: DatasetConfig, state: dict | None, shard: tuple[int, int], workers: int,
                 depth: int):
    """The packed OPT-IML batch stream, positioned at `state`, yielding `shard`'s rows, prepared
    ahead by `workers` processes."""
    from optiml_jax.data.prefetch import PrefetchingStream

    stream = PrefetchingStream(cfg.mixture_or_task_name, batch_size=cfg.batch_size,
                               sequence_length=cfg.sequence_length, seed=cfg.seed,
                               shard_index=shard[0], num_shards=shard[1], state=state,
                               workers=workers, depth=depth)
    if jax.process_count() > 1:
        # The mixture comes from settings each host reads for itself (OPTIML_* data, user tasks,
        # decisions, the dialogue share): hosts that disagree would train on different data.
        fingerprint = stream.state()["fingerprint"].encode()
        digest = np.frombuffer(hashlib.blake2b(fingerprint, digest_size=16).digest(), dtype=np.uint8)
        try:
            multihost_utils.assert_equal(digest, f"{cfg.mixture_or_task_name}: the processes built different "
                                                 f"mixtures or read different data files; give every host the same "
                                                 f"OPTIML_* settings and data")
        except BaseException:
            stream.close()
            raise
    return stream


def _stream_state_of_all_rows(state: dict) -> dict:
    """The stream state of the whole global batch, from every process's state of its own rows
    (a collective: every process calls it at the same step). A checkpoint holds this, so a
    restart on any number of processes finds every row's position."""
    from optiml_jax.data.pipeline import merge_states

    if jax.process_count() == 1:
        return state
    rows = np.frombuffer(json.dumps({k: state[k] for k in ("rows", "pulled", "pool")}).encode(),
                         dtype=np.uint8)
    lengths = multihost_utils.process_allgather(np.asarray([rows.size]))
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[:rows.size] = rows
    gathered = multihost_utils.process_allgather(padded)
    return merge_states([{**state, **json.loads(bytes(part[:int(n)]))}
                         for part, n in zip(gathered, lengths.reshape(-1))])


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
          gin_config: str | None = None,
          allow_changed_settings: Sequence[str] = (),
          allow_missing_settings: bool = False,
          prefetch_workers: int = 1,
          prefetch_depth: int = 2) -> TrainState | Any:
    """Trains `model` for `total_steps` updates; returns the final state.

    `gin_config` (the parsed gin config, passed by `main`) is written to `model_dir/config.gin`
    and appended to `model_dir/config.gin.history`. `allow_changed_settings` names the settings
    (`total_steps` or `TRAIN_STEPS`, ...) a resume may change; `allow_missing_settings` resumes
    from a checkpoint that stores no settings, unchecked (`optiml_jax.resume`).
    `prefetch_workers` processes prepare up to `prefetch_depth` batches each ahead of the loop
    (0: the loop prepares each batch itself; `optiml_jax.data.prefetch`).

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

    model_dir = epath.Path(model_dir)  # a local directory or a gs:// URI
    is_primary = jax.process_index() == 0
    config = model.module.config
    manager = checkpoints.checkpoint_manager(model_dir, ocp.CheckpointManagerOptions(
        max_to_keep=checkpoint_cfg.save.keep, cleanup_tmp_directories=True,
        enable_async_checkpointing=checkpoint_cfg.save.async_save))
    settings = resume.run_settings(optimizer_fn, total_steps=total_steps,
                                   num_microbatches=num_microbatches, random_seed=random_seed)
    if manager.latest_step() is not None:
        checkpoints.check_config(manager.directory, config)

    def check_settings(step: int) -> list[str]:
        # Before restoring that step: an optimizer change alters the state's tree.
        return resume.check_settings(checkpoints.step_dir(manager.directory, step), settings,
                                     allow_changed_settings, allow_missing_settings)

    state, stream_state, changes = _initial_state(
        model, optimizer, partitioner, cfg, manager, abstract, shardings, checkpoint_cfg.restore,
        random_seed, check_settings)
    start_step = int(state.step)
    if is_primary:
        checkpoints.save_config(model_dir, config)
        resume.record_start(model_dir, gin_config, start_step, changes)
    for change in changes:
        log.warning("resuming at step %d with a changed setting, as allowed: %s", start_step,
                    change)
    if stream_state is not None and stream_state["step"] != start_step:
        raise ValueError(f"Checkpoint {start_step} holds the data stream of step "
                         f"{stream_state['step']}; the checkpoint is inconsistent.")
    stream = _open_stream(cfg, stream_state,
                          process_rows(partitioner, cfg.batch_size, cfg.sequence_length),
                          prefetch_workers, prefetch_depth)
    log.info("training steps %d → %d on mesh %s", start_step, total_steps,
             dict(partitioner.mesh.shape))
    try:
        state = _train_loop(state, stream, step_fn, start_step, total_steps, partitioner, cfg,
                            manager, model_dir, settings, checkpoint_cfg, stats_period,
                            eval_period, train_eval_fn, random_seed, progress_bar,
                            config.flops_per_token(cfg.sequence_length))
    finally:
        stream.close()
    manager.close()
    report = stream.report()
    if report["truncated_examples"] or report["skipped_input"]:
        log.info("data: %s", json.dumps(report))
    return state


def _train_loop(state, stream, step_fn, start_step: int, total_steps: int, partitioner, cfg,
                manager, model_dir, settings, checkpoint_cfg, stats_period: int,
                eval_period: int | None, train_eval_fn, random_seed: int, progress_bar: bool,
                flops_per_token: float):
    """Steps `start_step` → `total_steps` (or to a preemption); returns the last state."""
    is_primary = jax.process_index() == 0
    writer = summaries.MetricsWriter(model_dir / "train", enabled=is_primary,
                                     truncate_after_step=start_step)
    dropout_rng = jax.random.key_data(jax.random.key(random_seed))
    peak = summaries.peak_flops(jax.devices()[0])
    bar = summaries.ProgressBar(start_step, total_steps, enabled=progress_bar and is_primary)
    # Per step since the last fetch: (step, metrics still on the device, seconds the loop waited
    # for its batch, host CPU seconds spent preparing it).
    pending: list[tuple[int, Any, float, float]] = []
    window_start = time.perf_counter()
    stream_position: dict = {}

    def fetch_metrics() -> None:
        """Fetches and logs the pending steps' metrics, stopping at the first non-finite one."""
        nonlocal window_start
        if not pending:
            return
        fetched = jax.device_get([metrics for _, metrics, _, _ in pending])
        elapsed = time.perf_counter() - window_start
        tokens_per_s = len(pending) * cfg.batch_size * cfg.sequence_length / elapsed
        scalars = {}
        for (step, _, waited, input_cpu), metrics in zip(pending, fetched):
            params_finite = bool(metrics.pop(PARAMS_FINITE))
            problem = _non_finite_update(metrics)
            if problem and params_finite and "skipped_updates" in metrics:
                log.warning("%s at step %d: update skipped (%d in a row, %d in total)", problem,
                            step, metrics["consecutive_skipped_updates"],
                            metrics["skipped_updates"])
            elif problem or not params_finite:
                pending.clear()
                with _failed_saves_named(model_dir):
                    manager.wait_until_finished()
                raise FloatingPointError(_stop_message(
                    problem or "Non-finite parameters after the update", step, metrics, settings,
                    manager.latest_step(), model_dir))
            scalars = {k: float(v) for k, v in metrics.items()}
            scalars["tokens_per_s"] = tokens_per_s
            scalars["input_wait_s"] = waited
            scalars["input_cpu_s"] = input_cpu
            if peak:
                scalars["mfu"] = tokens_per_s * flops_per_token / (peak * jax.device_count())
            writer.write(step, scalars, to_tensorboard=step % stats_period == 0)
        bar.update(pending[-1][0], scalars)
        pending.clear()
        window_start = time.perf_counter()

    def save(step: int, force: bool = False):
        fetch_metrics()  # Nothing after a non-finite step may be saved (a no-op when the loop did).
        position = _stream_state_of_all_rows(stream_position)
        with _failed_saves_named(model_dir):
            manager.save(step, args=ocp.args.Composite(**{
                checkpoints.STATE_ITEM: ocp.args.PyTreeSave(state.state_dict()),
                checkpoints.DATASET_ITEM: ocp.args.JsonSave(position),
                checkpoints.SETTINGS_ITEM: ocp.args.JsonSave(settings)}), force=force)

    step = start_step
    with _Preemption() as preemption, partitioner.activate():
        while step < total_steps:
            waited = time.perf_counter()
            batch = _global_batch(next(stream), partitioner, cfg)
            waited = time.perf_counter() - waited
            state, metrics = step_fn(state, batch, dropout_rng)  # Dispatched; runs on the device.
            step += 1
            # The position after this step's batch, not after the ones prefetched since.
            stream_position = stream.state()
            pending.append((step, metrics, waited, stream.input_cpu_s))
            evaluate = bool(eval_period and train_eval_fn and step % eval_period == 0)
            save_now = step % checkpoint_cfg.save.period == 0 or step == total_steps
            # Step 1 compiles: its own window, so the compilation is not in anyone's tokens/s.
            # Evaluation and saving need the steps checked first (nothing after a non-finite
            # one is evaluated or saved).
            if step % stats_period == 0 or step == start_step + 1 or evaluate or save_now:
                fetch_metrics()
            paused = time.perf_counter()  # evaluation and saving are not training throughput
            if evaluate:
                log.info("evaluating at step %d", step)
                writer.write(step, {f"eval/{k}": float(v)
                                    for k, v in train_eval_fn(state.params, step).items()})
            if save_now:
                save(step)
            window_start += time.perf_counter() - paused
            if preemption.requested(step):
                if manager.latest_step() != step:
                    save(step, force=True)
                with _failed_saves_named(model_dir):
                    manager.wait_until_finished()
                log.warning("preemption (signal %s): saved step %d, exiting",
                            preemption.signal or "SIGTERM on some process", step)
                break
        fetch_metrics()
    with _failed_saves_named(model_dir):
        manager.wait_until_finished()
    writer.close()
    bar.close()
    return state


def _non_finite_update(metrics: Mapping[str, float]) -> str | None:
    """What is non-finite about a step's update (loss, then gradient norm), or None."""
    loss, grad_norm = float(metrics["loss"]), float(metrics["grad_norm"])
    if not math.isfinite(loss):
        return f"Non-finite loss ({loss})"
    if not math.isfinite(grad_norm):
        return f"Non-finite gradients (grad_norm {grad_norm}) with a finite loss ({loss:.6g})"
    return None


def _stop_message(problem: str, step: int, metrics: Mapping[str, float],
                  settings: Mapping[str, Any], last_good: int | None, model_dir: Path) -> str:
    message = f"{problem} at step {step}; stopping. " + (
        f"The last good checkpoint is step {last_good} in {model_dir}"
        if last_good is not None else f"No checkpoint was saved yet in {model_dir}")
    message += "; nothing after it is saved."
    in_a_row = metrics.get("consecutive_skipped_updates")
    if in_a_row is not None:
        message += (f" This is non-finite update {int(in_a_row)} in a row, more than "
                    f"max_skipped_updates={settings.get('max_skipped_updates')} skips, so "
                    f"optax.apply_if_finite applied it.")
    elif problem.startswith("Non-finite gradients"):
        message += (" Updates with overflowing gradients (e.g. in bfloat16) can be skipped "
                    "instead: set MAX_SKIPPED_UPDATES "
                    "(optimizers.create_optimizer.max_skipped_updates).")
    return message


@contextlib.contextmanager
def _failed_saves_named(model_dir: Path):
    """Turns a failed checkpoint write into an error that says what it means and what to do.

    Orbax reports an asynchronous save's failure at the next save or wait, with whatever the
    file system raised (ENOSPC, EFBIG, permissions, ...).
    """
    try:
        yield
    except Exception as error:  # noqa: BLE001 (any write failure means the same here)
        committed = [step for step, _ in checkpoints.step_dirs(model_dir)]
        last = f"step {committed[-1]}" if committed else "none yet"
        raise RuntimeError(
            f"Writing a checkpoint in {model_dir} failed ({type(error).__name__}: "
            f"{resume.shorten(str(error))}); the last complete checkpoint is {last}. Free disk "
            f"space or fix the file system, then restart: the run resumes from the last "
            f"complete checkpoint (the incomplete one is removed).") from error


def _initial_state(model, optimizer, partitioner, cfg, manager, abstract, shardings,
                   restore_cfg: RestoreCheckpointConfig, random_seed: int,
                   check_settings: Callable[[int], list[str]]):
    """`(state, data stream position, allowed setting changes)`: resumed from `model_dir` (the
    settings of the step resumed from checked first), else started from `restore_cfg.path`, else
    from scratch."""
    config = model.module.config
    latest = manager.latest_step()
    if latest is not None:
        target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                              abstract, shardings)

        def restore(step: int):
            changes = check_settings(step)
            return changes, manager.restore(step, args=ocp.args.Composite(**{
                checkpoints.STATE_ITEM: ocp.args.PyTreeRestore(
                    item=target.state_dict(),
                    restore_args=ocp.checkpoint_utils.construct_restore_args(target.state_dict())),
                checkpoints.DATASET_ITEM: ocp.args.JsonRestore()}))

        step, (changes, restored) = resume.restore_newest_usable(
            manager.all_steps(), functools.partial(checkpoints.step_dir, manager.directory),
            restore, any_process=_any_process, move_unusable=jax.process_index() == 0)
        if step != latest:  # newer ones were moved aside: every process must see that
            if jax.process_count() > 1:
                multihost_utils.sync_global_devices("optiml_jax.train: unusable checkpoints")
            manager.reload()
        state = target.replace_from_state_dict(restored[checkpoints.STATE_ITEM])
        log.info("resumed from %s", checkpoints.step_dir(manager.directory, step))
        return state, restored[checkpoints.DATASET_ITEM], changes
    rng = jax.random.PRNGKey(random_seed)
    params = None
    if restore_cfg.path:
        params = checkpoints.restore_params(
            restore_cfg.path, dtype=restore_cfg.dtype, shardings=shardings.params,
            scan_layers=model.module.scan_layers, config=config)
        log.info("initialised from %s", restore_cfg.path)
    return init_train_state(model, optimizer, partitioner, shardings, cfg.sequence_length, rng,
                            params=params), None, []


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
