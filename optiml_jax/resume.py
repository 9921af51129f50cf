"""What a restarted training run checks before it continues, so that it continues exactly.

    MODEL_DIR/checkpoint_<step>/train_settings/train_settings.json
                                    the optimizer and schedule settings that step was trained
                                    with, committed with the checkpoint (never one without them)
    MODEL_DIR/config.gin            the gin config of the latest start (loadable, as t5x writes it)
    MODEL_DIR/config.gin.history    every start's config, in order, each under a header naming
                                    its step, time and any setting change it was allowed to make

* **Settings.** A resume compares the run's settings (`run_settings`: every argument of the
  optimizer function, e.g. `total_steps`, `learning_rate`, `warmup_steps`, plus
  `num_microbatches` and `random_seed`) with those stored in the checkpoint it resumes from and
  refuses a difference, naming the setting and its run-file macro, unless that setting is in
  `allow_changed_settings` (gin: `ALLOW_CHANGED_SETTINGS`). An allowed change becomes the run's
  setting from then on. A checkpoint without stored settings (written by another tool, or the
  file deleted) is refused, naming the file, unless `allow_missing_settings` is set (gin:
  `--gin.train_script.train.allow_missing_settings=True`); the start is then recorded as
  unchecked in the history.
* **Checkpoints.** Orbax commits a step by writing `commit_success.txt` and renaming its
  temporary directory, so a half-written save never looks complete. A `checkpoint_<step>` that
  lacks the marker or fails to restore (a truncated or deleted file) is reported by name and the
  next older one is tried; once one restores, the newer unusable ones are moved aside
  (`checkpoint_<step>.unusable-<time>`, kept for inspection) so the run can write that step
  again. If none restores, nothing is moved and the run stops listing every checkpoint's error.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from orbax.checkpoint.path import atomicity

from optiml_jax import checkpoints, optimizers

log = logging.getLogger("optiml_jax.train")

CONFIG_FILE = "config.gin"
CONFIG_HISTORY_FILE = "config.gin.history"
COMMIT_MARKER = atomicity.COMMIT_SUCCESS_FILE
UNUSABLE_SUFFIX = ".unusable-"

# The run files' gin macros (gin/native/base.gin) for the settings, so that a refusal names what
# the user sets; settings without a macro are named by their parameter only.
RUN_FILE_MACROS = {
    "total_steps": "TRAIN_STEPS", "learning_rate": "LEARNING_RATE",
    "warmup_steps": "WARMUP_STEPS", "weight_decay": "WEIGHT_DECAY",
    "max_skipped_updates": "MAX_SKIPPED_UPDATES", "num_microbatches": "NUM_MICROBATCHES",
    "random_seed": "RANDOM_SEED",
}


def run_settings(optimizer_fn: Callable, *, total_steps: int, num_microbatches: int,
                 random_seed: int) -> dict[str, Any]:
    """Everything besides the model, the data and the mesh that decides a run's updates, as JSON
    gives it back (values JSON cannot hold are compared by their repr)."""
    settings = {"optimizer_fn": optimizers.qualified_name(optimizer_fn),
                **optimizers.resolved_arguments(optimizer_fn, total_steps=total_steps),
                "num_microbatches": num_microbatches, "random_seed": random_seed}
    return json.loads(json.dumps(settings, default=repr))


def _label(name: str) -> str:
    return f"{name} ({RUN_FILE_MACROS[name]})" if name in RUN_FILE_MACROS else name


class RefusedResume(ValueError):
    """A checkpoint that restores but may not be continued with this run's settings: not damage,
    so no older checkpoint is tried in its place."""


def check_settings(step_dir: Path, settings: Mapping[str, Any], allowed: Sequence[str],
                   allow_missing: bool = False) -> list[str]:
    """The allowed changes against the settings stored in the checkpoint `step_dir`
    (`["name: old -> new"]`); raises RefusedResume on any other change, and on missing stored
    settings unless `allow_missing`."""
    path = checkpoints.settings_path(step_dir)
    if not path.exists():
        if not allow_missing:
            raise RefusedResume(
                f"{path} is missing: the checkpoint does not say which optimizer and schedule "
                f"settings it was trained with, so resuming from it cannot be checked and is "
                f"refused. Restore the file, or resume unchecked with "
                f"--gin.train_script.train.allow_missing_settings=True "
                f"(train(allow_missing_settings=True)); that start is recorded in "
                f"{CONFIG_HISTORY_FILE}.")
        log.warning("%s is missing: resuming without checking the optimizer and schedule "
                    "settings, as allow_missing_settings allows.", path)
        return [f"settings unchecked ({path} missing; allow_missing_settings)"]
    saved, current = json.loads(path.read_text()), settings
    changed = sorted(name for name in saved.keys() | current.keys()
                     if saved.get(name) != current.get(name))
    allowed = set(allowed)
    refused = [name for name in changed if not {name, RUN_FILE_MACROS.get(name)} & allowed]
    if refused:
        described = "; ".join(f"{_label(name)}: {saved.get(name)!r} in the checkpoint's run, "
                              f"{current.get(name)!r} now" for name in refused)
        macros = [RUN_FILE_MACROS.get(name, name) for name in refused]
        raise RefusedResume(
            f"Resuming from {step_dir} with settings that differ from those it was trained "
            f"with, stored in {path} ({described}). Changing them mid-run silently changes what is trained (the "
            f"learning-rate schedule, the optimizer, the dropout bits), so it is refused: use the "
            f"saved values, another MODEL_DIR, or allow the change explicitly with "
            f"--gin.ALLOW_CHANGED_SETTINGS=\"{macros!r}\" (train(allow_changed_settings=...)); "
            f"it is then recorded in {CONFIG_HISTORY_FILE}.")
    return [f"{_label(name)}: {saved.get(name)!r} -> {current.get(name)!r}" for name in changed]


def record_start(model_dir: Path, gin_config: str | None, start_step: int,
                 changes: Sequence[str]) -> None:
    """Writes the run's config and appends this start to the history (the settings themselves
    are stored with every checkpoint)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    header = (f"# ===== start at step {start_step}, "
              f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}"
              f"{'; allowed setting changes: ' + '; '.join(changes) if changes else ''} =====\n")
    with open(model_dir / CONFIG_HISTORY_FILE, "a", encoding="utf-8") as history:
        history.write(header + (gin_config or "# (no gin config: train() called from Python)\n")
                      + "\n")
    if gin_config is not None:
        (model_dir / CONFIG_FILE).write_text(gin_config)


def shorten(message: str, head: int = 300, tail: int = 200) -> str:
    """An error message cut to its start and end (TensorStore's embed whole specs; what went
    wrong, e.g. "File too large", is at the end)."""
    return message if len(message) <= head + tail else f"{message[:head]} … {message[-tail:]}"


def uncommitted_reason(step_dir: Path) -> str | None:
    """Why `step_dir` is not a committed checkpoint, or None when its commit marker is there."""
    if not (step_dir / COMMIT_MARKER).is_file():
        return (f"no {COMMIT_MARKER}: the save never committed, or the marker was deleted; if an "
                f"Orbax version that writes no marker made it, create the file to use it")
    return None


def restore_newest_usable(steps: Sequence[int], step_dir: Callable[[int], Path],
                          restore: Callable[[int], Any], *,
                          any_process: Callable[[bool], bool] = bool,
                          move_unusable: bool = True) -> tuple[int, Any]:
    """`(step, restore(step))` for the newest committed step in `steps` that restores, after
    moving the newer unusable ones aside (see the module docstring). A RefusedResume raised by
    `restore` stops the search.

    `any_process(flag)` is True everywhere if `flag` is True on any process, so that all
    processes resume from the same step; only the process with `move_unusable` moves
    directories (the caller then waits for it at a barrier).
    """
    problems: list[tuple[int, str]] = []
    for step in sorted(steps, reverse=True):
        reason = uncommitted_reason(step_dir(step))
        restored = None
        if reason is None:
            try:
                restored = restore(step)
            except RefusedResume:
                raise  # the same refusal for every step: not a damaged checkpoint
            # Orbax and TensorStore raise ValueError, OSError, JSONDecodeError or bare Exception
            # for a damaged file; whatever it is, this checkpoint cannot be resumed from.
            except Exception as error:  # noqa: BLE001
                reason = f"restoring it failed: {type(error).__name__}: {shorten(str(error))}"
        if any_process(reason is not None):
            reason = reason or "restoring it failed on another process"
            log.error("checkpoint %s is unusable (%s); trying the previous one",
                      step_dir(step), reason)
            problems.append((step, reason))
            continue
        if move_unusable:
            for bad_step, _ in problems:
                _move_aside(step_dir(bad_step))
        return step, restored
    listed = "; ".join(f"{step_dir(step)}: {reason}" for step, reason in problems)
    raise RuntimeError(f"No checkpoint in {step_dir(problems[0][0]).parent} can be resumed from "
                       f"({listed}). Nothing was moved: repair them, or move them away to "
                       f"start over.")


def _move_aside(directory: Path) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = directory.with_name(f"{directory.name}{UNUSABLE_SUFFIX}{stamp}")
    copies = 1
    while target.exists():  # the same step set aside twice within a second
        copies += 1
        target = directory.with_name(f"{directory.name}{UNUSABLE_SUFFIX}{stamp}-{copies}")
    directory.rename(target)
    log.error("moved the unusable checkpoint %s aside to %s; the run resumes from an older one and "
              "writes this step again", directory, target.name)
