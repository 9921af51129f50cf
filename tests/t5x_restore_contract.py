"""t5x's restore of a fine-tuning start, re-implemented for CI (t5x cannot be installed there).

What t5x HEAD's `OrbaxCheckpointManagerInterface.restore` does with a `RestoreCheckpointConfig`
(`assignment_map`, `fallback_to_scratch`, `state_transformation_fns`), in its order:
  1. read the checkpoint's tree structure from Orbax metadata (no arrays);
  2. `assignment_map` (prepended to the transformations): for each model key, the first matching
     pattern decides; a None replacement skips the key, a string names the checkpoint key to
     take; unmatched keys are taken from the checkpoint when present;
  3. every other transformation `fn(checkpoint_tree, model_state)`, in order;
  4. restore the model keys that the transformed tree still holds (a missing one is logged as
     "Not restoring param=..." and dropped);
  5. with `fallback_to_scratch`, fill every key still missing from a fresh initialisation.
Written from t5x's documented behaviour (docs/t5x.md); scripts/check_t5x.sh runs the real one.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import orbax.checkpoint as ocp
from flax import traverse_util

from optiml_jax import checkpoints


def apply_assignment_map(checkpoint_tree: Mapping, model_state: Mapping,
                         assignment_map: Sequence[tuple[str, str | None]]) -> dict:
    stored = traverse_util.flatten_dict(checkpoint_tree, sep="/")
    result, skipped = {}, set()
    for key in traverse_util.flatten_dict(model_state, sep="/"):
        for pattern, replacement in assignment_map:
            match = re.fullmatch(pattern, key)
            if match:
                if replacement is None:
                    skipped.add(key)
                else:
                    result[key] = stored[match.expand(replacement)]
                break
        else:
            if key in stored:
                result[key] = stored[key]
    for key, value in stored.items():  # checkpoint keys no rule consumed stay (t5x drops later)
        if key not in skipped:
            result.setdefault(key, value)
    return traverse_util.unflatten_dict(result, sep="/")


def restore_like_t5x(checkpoint_dir, model_state: Mapping, fresh_state: Mapping, *,
                     assignment_map: Sequence | None, fallback_to_scratch: bool,
                     state_transformation_fns: Sequence[Callable]) -> tuple[dict, list[str]]:
    """`(restored state dict, keys filled from scratch)`; raises what a transformation raises."""
    state_dir = checkpoints.resolve_step_dir(checkpoint_dir) / checkpoints.STATE_ITEM
    handler = ocp.PyTreeCheckpointHandler(use_ocdbt=True)
    tree, _ = handler._get_internal_metadata(state_dir)  # t5x reads the same private structure
    if assignment_map is not None:
        tree = apply_assignment_map(tree, model_state, assignment_map)
    for fn in state_transformation_fns:
        tree = fn(tree, model_state)
    stored = traverse_util.flatten_dict(tree, sep="/")
    wanted = traverse_util.flatten_dict(model_state, sep="/")
    to_restore = [key for key in wanted if key in stored]
    args = ocp.RestoreArgs(restore_type=np.ndarray)
    item = traverse_util.unflatten_dict({tuple(k.split("/")): args for k in to_restore})
    restored = traverse_util.flatten_dict(handler.restore(state_dir, args=ocp.args.PyTreeRestore(
        item=item, restore_args=item, partial_restore=True)), sep="/")
    from_scratch = [key for key in wanted if key not in restored]
    if from_scratch and not fallback_to_scratch:
        raise ValueError(f"not in the checkpoint and no fallback_to_scratch: {from_scratch}")
    fresh = traverse_util.flatten_dict(fresh_state, sep="/")
    restored.update({key: fresh[key] for key in from_scratch})
    return traverse_util.unflatten_dict(restored, sep="/"), from_scratch


def restore_settings(config) -> dict[str, Any]:
    """The INITIAL_CHECKPOINT_PATH restore settings a t5x run file binds (a `StaticGinConfig`)."""
    def setting(arg):
        return config.value("utils.RestoreCheckpointConfig", arg, scope="initial_checkpoint")

    return {"assignment_map": setting("assignment_map"),
            "fallback_to_scratch": setting("fallback_to_scratch"),
            "state_transformation_fns": [config.function(ref)
                                         for ref in setting("state_transformation_fns")]}
