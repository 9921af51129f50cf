"""Checkpoints in the t5x layout, written and read with Orbax.

Layout (what t5x HEAD's `OrbaxCheckpointManagerInterface` writes and restores):

    MODEL_DIR/config.json               our `OPTConfig` as an HF config (rebuild / check the model);
                                        a t5x MODEL_DIR has t5x's operative `config.gin` instead,
                                        from which `load_config` reads the model's config
    MODEL_DIR/checkpoint_<step>/state/  `PyTreeCheckpointHandler(use_ocdbt=True)` holding
                                        {'target': params, 'state': {'step': step, ...}}

A training run's checkpoints also hold `dataset/` (the data stream's position) and
`train_settings/train_settings.json` (the optimizer and schedule settings the state was trained
with, `optiml_jax.resume`), committed together with the state.

Params are the `OPT` module's tree, either unscanned (`layers_0` … `layers_{n-1}`) or scanned (one
`layers` subtree with a leading layer axis); `restore_params` converts between the two on read.

Paths are `etils.epath` paths, so every function here takes local directories and `gs://` URIs
alike (Orbax and TensorStore write the arrays through the same layer).

Restoring for fine-tuning never fills a missing parameter with a fresh one: `restore_params`
(the native trainer's INITIAL_CHECKPOINT_PATH, evaluation) checks every name and shape, and
`require_complete_params` is the same guarantee as a t5x restore transformation (the t5x run files
bind it next to `fallback_to_scratch`, which then only ever fills the optimizer state).

Two writers produce the same checkpoint:
  * `save_params` hands a whole in-memory tree (numpy or sharded `jax.Array`s) to an Orbax
    `CheckpointManager`, exactly as t5x does;
  * `StreamingParamsWriter` builds the same checkpoint a few tensors at a time with Orbax's partial
    save (`orbax.checkpoint.v1.partial`), so a converter never holds the whole model in memory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import uuid
from typing import Any, Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from flax import traverse_util
from jax.sharding import NamedSharding, PartitionSpec
from orbax.checkpoint import v1 as ocp_v1

from optiml_jax import gin_static
from optiml_jax.models.configs import OPTConfig

CHECKPOINT_PREFIX = "checkpoint"  # t5x's step prefix: MODEL_DIR/checkpoint_<step>
STATE_ITEM = "state"              # t5x's item name for the train state
DATASET_ITEM = "dataset"          # t5x's item name for the input pipeline's position (JSON here)
SETTINGS_ITEM = "train_settings"  # the optimizer and schedule settings of the run (JSON)
SETTINGS_FILE = "train_settings.json"
CONFIG_FILE = "config.json"
GIN_CONFIG_FILE = "config.gin"    # t5x's (and our trainer's) operative gin config in MODEL_DIR
_STEP_DIR = re.compile(rf"^{CHECKPOINT_PREFIX}_(\d+)$")
# Orbax's per-step metadata file; it names the handler that restores each item.
_STEP_METADATA_FILE = "_CHECKPOINT_METADATA"

LeafPath = tuple[str, ...]
PathLike = str | os.PathLike


def as_path(path: PathLike) -> epath.Path:
    """A local path made absolute (Orbax requires it), or a URI such as `gs://bucket/dir` as is."""
    path = epath.Path(path)
    return path if "://" in os.fspath(path) else path.absolute()


def _state_handler() -> ocp.PyTreeCheckpointHandler:
    # t5x's handler for the `state` item; every read and write here goes through this format.
    return ocp.PyTreeCheckpointHandler(use_ocdbt=True)


def checkpoint_manager(model_dir: PathLike,
                       options: ocp.CheckpointManagerOptions | None = None
                       ) -> ocp.CheckpointManager:
    """An Orbax manager for MODEL_DIR that saves and restores t5x-layout train states.

    Items: `state` (the train state tree), `dataset` (the data stream's JSON position, written
    by the primary process; every process's stream derives its rows from the same position) and
    `train_settings` (JSON, `optiml_jax.resume.run_settings`).
    `options` may set retention, intervals, etc.; its `step_prefix` is forced to t5x's.
    """
    options = dataclasses.replace(options or ocp.CheckpointManagerOptions(),
                                  step_prefix=CHECKPOINT_PREFIX)
    return ocp.CheckpointManager(as_path(model_dir), options=options,
                                 item_handlers={STATE_ITEM: _state_handler(),
                                                DATASET_ITEM: ocp.JsonCheckpointHandler(),
                                                SETTINGS_ITEM: ocp.JsonCheckpointHandler(
                                                    filename=SETTINGS_FILE)})


def step_dir(model_dir: PathLike, step: int) -> epath.Path:
    return epath.Path(model_dir) / f"{CHECKPOINT_PREFIX}_{step}"


def settings_path(step_directory: PathLike) -> epath.Path:
    """The settings file a training run stores in a `checkpoint_<step>` directory."""
    return epath.Path(step_directory) / SETTINGS_ITEM / SETTINGS_FILE


def step_dirs(model_dir: PathLike) -> list[tuple[int, epath.Path]]:
    """`(step, checkpoint_<step> dir)` of every checkpoint in `model_dir`, by step."""
    model_dir = epath.Path(model_dir)
    if not model_dir.is_dir():
        return []
    found = []
    for child in model_dir.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / STATE_ITEM).is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def step_of(directory: PathLike) -> int | None:
    """The step in a `checkpoint_<step>` directory's name (None for any other name)."""
    match = _STEP_DIR.match(epath.Path(directory).name)
    return int(match.group(1)) if match else None


def resolve_step_dir(path: PathLike) -> epath.Path:
    """`path` itself if it is a `checkpoint_<step>` directory, else the latest step inside it
    (absolute, as Orbax reads only absolute paths)."""
    path = as_path(path)
    if (path / STATE_ITEM).is_dir():
        return path
    steps = step_dirs(path)
    if not steps:
        raise FileNotFoundError(f"{path}: no t5x checkpoint here (expected {path}/{STATE_ITEM}/ or "
                                f"{path}/{CHECKPOINT_PREFIX}_<step>/{STATE_ITEM}/).")
    return steps[-1][1]


# --- config next to the checkpoint --------------------------------------------------------------

def save_config(model_dir: PathLike, config: OPTConfig) -> epath.Path:
    """Writes `config` as an HF-style `config.json` (`OPTConfig.to_hf_config()`) in MODEL_DIR."""
    path = epath.Path(model_dir) / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.to_hf_config(), indent=2, sort_keys=True) + "\n")
    return path


def config_dir(path: PathLike) -> epath.Path:
    """The directory holding the checkpoint's `config.json` (or t5x's `config.gin`) and
    tokenizer files.

    `path` is MODEL_DIR or one of its `checkpoint_<step>` directories.
    """
    path = epath.Path(path)
    for name in (CONFIG_FILE, GIN_CONFIG_FILE):
        for directory in (path, path.parent):
            if (directory / name).is_file():
                return directory
    raise FileNotFoundError(f"{path}: no {CONFIG_FILE} (or t5x's {GIN_CONFIG_FILE}) here or in "
                            f"its parent; it records which model the checkpoint belongs to. Write "
                            f"one with optiml_jax.checkpoints.save_config.")


def load_config(path: PathLike) -> OPTConfig:
    """The `OPTConfig` saved in MODEL_DIR (or the MODEL_DIR of a `checkpoint_<step>` dir): its
    `config.json`, else the model that the operative `config.gin` of a t5x run builds."""
    directory = config_dir(path)
    if (directory / CONFIG_FILE).is_file():
        return OPTConfig.from_hf_config(json.loads((directory / CONFIG_FILE).read_text()))
    return config_from_gin(directory / GIN_CONFIG_FILE)


def config_from_gin(path: PathLike) -> OPTConfig:
    """The `OPTConfig` that a gin config builds through `optiml_jax.models.configs.get_config`
    (as every file in gin/models/ does), read without importing t5x."""
    from optiml_jax.models.configs import get_config

    path = epath.Path(path)
    config = gin_static.parse_files([path], search_paths=[path.parent])
    try:
        name = config.value("get_config", "name")
    except KeyError as error:
        raise ValueError(f"{path}: cannot tell the model ({error.args[0]}); the model must be "
                         f"built with optiml_jax.models.configs.get_config, as gin/models/*.gin "
                         f"do, or MODEL_DIR needs a {CONFIG_FILE}.") from None
    overrides = {arg: config.value(selector, arg, scope)
                 for scope, selector, arg in config.bindings
                 if arg and arg != "name" and gin_static.matches(selector, "get_config")}
    return get_config(name, **overrides)


def check_config(path: PathLike, expected: OPTConfig) -> None:
    """Raises if the config saved with the checkpoint at `path` is not `expected` (no-op when
    the checkpoint has no config.json; shapes are then checked on restore)."""
    try:
        saved = load_config(path)
    except FileNotFoundError:
        return
    _check_config(saved, expected, epath.Path(path))


def _check_config(saved: OPTConfig, expected: OPTConfig, where: epath.Path) -> None:
    saved_fields, expected_fields = saved.to_hf_config(), expected.to_hf_config()
    differing = {k: (saved_fields[k], expected_fields[k]) for k in saved_fields
                 if saved_fields[k] != expected_fields[k]}
    if differing:
        details = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}"
                            for k, (a, b) in differing.items())
        raise ValueError(f"{where}: the checkpoint was written for a different model ({details}).")


# --- layouts --------------------------------------------------------------------------------------

def is_scanned(leaf_paths: Iterable[LeafPath]) -> bool:
    """True for the `scan_layers=True` layout (one stacked `layers` subtree)."""
    return any(path[0] == "layers" for path in leaf_paths)


def expected_param_shapes(config: OPTConfig, scan_layers: bool = False) -> dict:
    """`{path: shape}` of every parameter of `OPT(config)` in the requested layout."""
    from optiml_jax.models.opt import OPT  # the model is the source of truth for the tree

    tokens = jnp.ones((1, 1), jnp.int32)
    abstract = jax.eval_shape(lambda: OPT(config, scan_layers=scan_layers).init(
        jax.random.PRNGKey(0), tokens, tokens, enable_dropout=False))
    flat = traverse_util.flatten_dict(abstract["params"])
    return {path: tuple(leaf.shape) for path, leaf in flat.items()}


def _layer_index(path: LeafPath) -> tuple[int, LeafPath] | None:
    """`('layers_3', 'fc1', 'kernel')` → `(3, ('fc1', 'kernel'))`; None outside the blocks."""
    match = re.fullmatch(r"layers_(\d+)", path[0])
    return (int(match.group(1)), path[1:]) if match else None


def _to_stored_sharding(sharding: Any, *, stored_scanned: bool) -> Any:
    """The sharding of a leaf in the stored layout, given the requested layout's sharding.

    Scanned leaves get a replicated leading layer axis; per-layer leaves drop it.
    """
    if not isinstance(sharding, NamedSharding):
        raise TypeError(f"Converting between scanned and unscanned layouts on restore needs "
                        f"NamedShardings, got {type(sharding).__name__}.")
    spec = tuple(sharding.spec)
    spec = (None, *spec) if stored_scanned else spec[1:]
    return NamedSharding(sharding.mesh, PartitionSpec(*spec))


# --- writing --------------------------------------------------------------------------------------

def save_params(model_dir: PathLike, params: Mapping[str, Any], *, step: int = 0) -> epath.Path:
    """Writes a params-only t5x checkpoint `{'target': params, 'state': {'step': step}}`.

    Leaves may be numpy arrays or (sharded) `jax.Array`s; Orbax writes each shard from its host.
    A params-only checkpoint starts fine-tuning in t5x through the restore settings of
    gin/finetune_from_params.gin (every param from here, the optimizer state from scratch).
    """
    manager = checkpoint_manager(model_dir)
    manager.save(step, args=ocp.args.Composite(**{
        STATE_ITEM: ocp.args.PyTreeSave({"target": params, "state": {"step": step}})}))
    manager.wait_until_finished()
    manager.close()
    return step_dir(model_dir, step)


class StreamingParamsWriter:
    """Writes one params-only t5x checkpoint a few leaves at a time (host memory stays bounded).

    Each batch of `add`ed leaves (at least `batch_bytes`, or fewer at `close`) becomes one Orbax
    partial save; `close` adds `state.step`, lets Orbax merge the partial saves into a single
    OCDBT tree, and moves the finished step directory into MODEL_DIR. The result is the same
    checkpoint `save_params` writes: one tree that plain Orbax (and t5x) restores.

    Storage choices: zarr v2 as t5x's handler writes it; uncompressed chunks, because model weights
    barely compress (a few %) while zstd costs CPU time and buffers several copies of each tensor.
    Leaves are not copied by Orbax (`deepcopy_host_arrays=False`), so callers must not modify an
    array after adding it.

    Use as a context manager: on an exception nothing is left in MODEL_DIR. Meant for one process
    (a converter); multi-host training saves go through `checkpoint_manager`.
    """

    def __init__(self, model_dir: PathLike, *, step: int = 0, batch_bytes: int = 256 * 2**20):
        self.model_dir = as_path(model_dir)
        self.step = step
        self.final_dir = step_dir(self.model_dir, step)
        if self.final_dir.exists():
            raise FileExistsError(f"{self.final_dir} already exists; remove it or write elsewhere.")
        self.batch_bytes = batch_bytes
        # Orbax stages partial saves next to their target; a private staging dir keeps a crashed
        # run's leftovers out of MODEL_DIR's step listing and lets `abort` remove them in one go.
        self._staging = self.model_dir / f".{self.final_dir.name}.staging-{uuid.uuid4().hex[:8]}"
        self._target = self._staging / self.final_dir.name
        self._pending: dict[LeafPath, np.ndarray] = {}
        self._pending_bytes = 0
        self._written: set[LeafPath] = set()
        self.bytes_written = 0
        self._context = ocp_v1.Context(
            array_options=ocp_v1.options.ArrayOptions(saving=ocp_v1.options.ArrayOptions.Saving(
                use_zarr3=False, use_compression=False)),
            memory_options=ocp_v1.options.MemoryOptions(deepcopy_host_arrays=False))

    def add(self, path: Iterable[str], value: np.ndarray) -> None:
        path = tuple(path)
        if path in self._written or path in self._pending:
            raise ValueError(f"Checkpoint leaf {'/'.join(path)} was written twice.")
        value = np.asarray(value)
        self._pending[path] = value
        self._pending_bytes += value.nbytes
        if self._pending_bytes >= self.batch_bytes:
            self.flush()

    def flush(self) -> None:
        """Writes the pending leaves now (one partial save)."""
        if not self._pending:
            return
        self._staging.mkdir(parents=True, exist_ok=True)
        tree = traverse_util.unflatten_dict({("target", *p): v for p, v in self._pending.items()})
        with self._context:
            ocp_v1.partial.save(self._target, tree)
        self._written.update(self._pending)
        self.bytes_written += self._pending_bytes
        self._pending, self._pending_bytes = {}, 0

    def close(self) -> epath.Path:
        """Finishes the checkpoint and returns its `checkpoint_<step>` directory."""
        self.flush()
        if not self._written:
            raise ValueError("No parameters were added; refusing to write an empty checkpoint.")
        with self._context:
            ocp_v1.partial.save(self._target, {"state": {"step": self.step}})
            ocp_v1.partial.finalize(self._target)
        # The partial-save API records its own wrapper as the item's handler; consumers that
        # resolve handlers from metadata (a bare CheckpointManager) need t5x's handler there.
        metadata_file = self._target / _STEP_METADATA_FILE
        metadata = json.loads(metadata_file.read_text())
        metadata["item_handlers"] = {STATE_ITEM: _state_handler().typestr()}
        metadata_file.write_text(json.dumps(metadata))
        self._target.rename(self.final_dir)
        self._staging.rmtree()
        return self.final_dir

    def abort(self) -> None:
        if self._staging.exists():
            self._staging.rmtree()

    def __enter__(self) -> "StreamingParamsWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


# --- reading --------------------------------------------------------------------------------------

def stored_param_shapes(path: PathLike) -> dict[LeafPath, tuple[tuple[int, ...], np.dtype]]:
    """`{leaf path: (shape, dtype)}` of the params in a checkpoint, read from metadata only."""
    state_dir = resolve_step_dir(path) / STATE_ITEM
    tree = _state_handler().metadata(state_dir).tree
    if "target" not in tree:
        raise ValueError(f"{state_dir}: no 'target' (params) in this checkpoint.")
    return {p: (tuple(m.shape), np.dtype(m.dtype))
            for p, m in traverse_util.flatten_dict(tree["target"]).items()}


def read_leaves(path: PathLike, leaves: Iterable[LeafPath]) -> dict[LeafPath, np.ndarray]:
    """Reads only the named params (host numpy arrays), e.g. to stream a checkpoint out."""
    state_dir = resolve_step_dir(path) / STATE_ITEM
    leaves = list(leaves)
    if not leaves:  # Orbax refuses an empty restore tree
        return {}
    args = ocp.RestoreArgs(restore_type=np.ndarray)
    restore_args = traverse_util.unflatten_dict({("target", *p): args for p in leaves})
    restored = _state_handler().restore(state_dir, args=ocp.args.PyTreeRestore(
        item=restore_args, restore_args=restore_args, partial_restore=True))
    flat = traverse_util.flatten_dict(restored["target"])
    return {p: flat[p] for p in leaves}


def restore_params(path: PathLike, *, dtype: Any = None, shardings: Any = None,
                   scan_layers: bool | None = None, config: OPTConfig | None = None) -> dict:
    """The params of a t5x checkpoint (MODEL_DIR → latest step, or a `checkpoint_<step>` dir).

    Args:
      dtype: cast every param on read (e.g. `jnp.bfloat16`); None keeps the stored dtype.
      shardings: a tree of `NamedSharding`s matching the *returned* layout; leaves are then
        `jax.Array`s placed on them (each host reads only its shards). None → numpy arrays.
      scan_layers: the returned layout (True: stacked `layers`, False: `layers_i`); None keeps the
        stored one. A converted (unscanned) checkpoint thus serves a `scan_layers=True` model.
      config: if given, the checkpoint's saved config (when present) and every stored shape must
        match it; the error names the first mismatch.
    Only `target` is read, so this also takes the params out of a full train-state checkpoint.
    """
    directory = resolve_step_dir(path)
    stored = stored_param_shapes(directory)
    stored_scanned = is_scanned(stored)
    want_scanned = stored_scanned if scan_layers is None else scan_layers
    if config is not None:
        check_config(directory, config)  # checkpoints from elsewhere may lack config.json
        check_stored_params(directory, stored, config)

    if shardings is None:
        stored_shardings = None
    elif want_scanned == stored_scanned:
        stored_shardings = traverse_util.flatten_dict(shardings)
    else:
        stored_shardings = _stored_layout_shardings(traverse_util.flatten_dict(shardings),
                                                    stored, stored_scanned)
    cast = None if dtype is None else jnp.dtype(dtype)

    def args_for(leaf: LeafPath):
        if stored_shardings is None:
            return ocp.RestoreArgs(restore_type=np.ndarray, dtype=cast)
        if leaf not in stored_shardings:
            raise ValueError(f"shardings has no entry for param {'/'.join(leaf)}.")
        return ocp.ArrayRestoreArgs(sharding=stored_shardings[leaf], dtype=cast)

    restore_args = traverse_util.unflatten_dict({("target", *p): args_for(p) for p in stored})
    restored = _state_handler().restore(directory / STATE_ITEM, args=ocp.args.PyTreeRestore(
        item=restore_args, restore_args=restore_args, partial_restore=True))
    params = traverse_util.flatten_dict(restored["target"])
    if want_scanned != stored_scanned:
        wanted = None if shardings is None else traverse_util.flatten_dict(shardings)
        params = _stack_layers(params, wanted) if want_scanned else _unstack_layers(params, wanted)
    return traverse_util.unflatten_dict(params)


def check_stored_params(directory: PathLike, stored: Mapping, config: OPTConfig) -> None:
    """Raises unless the params stored at `directory` (`stored_param_shapes`) are `config`'s:
    every leaf name and shape, in the stored layout."""
    expected = expected_param_shapes(config, is_scanned(stored))
    missing = sorted("/".join(p) for p in expected.keys() - stored.keys())
    if missing:
        raise MissingParamsError(missing, ["/".join(p) for p in stored], where=str(directory))
    unexpected = sorted("/".join(p) for p in stored.keys() - expected.keys())
    if unexpected:
        raise ValueError(f"{directory}: the checkpoint holds params this model does not have: "
                         f"{_listing(unexpected)}. Was it converted from another model?")
    for leaf, shape in expected.items():
        if stored[leaf][0] != shape:
            raise ValueError(f"{directory}: param {'/'.join(leaf)} has shape {stored[leaf][0]}, "
                             f"the config expects {shape}; was it converted from another model?")


def _listing(names: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


class MissingParamsError(ValueError):
    """A model parameter the checkpoint does not hold: restoring would leave it random."""

    def __init__(self, missing: Sequence[str], stored: Iterable[str], where: str):
        self.missing = list(missing)
        message = (f"{where}: {len(self.missing)} model parameter(s) are not in the checkpoint: "
                   f"{_listing(self.missing)}. Restoring for fine-tuning takes every parameter "
                   f"from the checkpoint and never initialises one from scratch.")
        hint = _layout_hint(self.missing, list(stored))
        super().__init__(f"{message} {hint}" if hint else message)


def _layout_hint(missing: Sequence[str], stored: Sequence[str]) -> str:
    """Says so when the checkpoint holds the other layer layout than the model's."""
    def blocks(names, pattern):
        return any(re.match(pattern, name) for name in names)

    scanned, per_layer = r"^(target/)?layers/", r"^(target/)?layers_\d+/"
    if blocks(missing, scanned) and blocks(stored, per_layer):
        return ("The checkpoint holds the per-layer layout (layers_<i>), the model is "
                "OPT(scan_layers=True): convert without --no-scan_layers (the default writes the "
                "stacked layout), or set opt.OPT.scan_layers = False.")
    if blocks(missing, per_layer) and blocks(stored, scanned):
        return ("The checkpoint holds the stacked layout (layers), the model is "
                "OPT(scan_layers=False): set opt.OPT.scan_layers = True, or restore with "
                "optiml_jax.checkpoints.restore_params(..., scan_layers=False), which unstacks.")
    return ""


def require_complete_params(checkpoint_state: Mapping, model_state: Mapping, *,
                            is_resuming: bool = False) -> Mapping:
    """A t5x restore transformation (`RestoreCheckpointConfig.state_transformation_fns`):
    raises `MissingParamsError` if any model parameter (`target/...`) is not in the checkpoint.

    t5x calls it with the checkpoint's tree (after `assignment_map`) and the model's state dict.
    With it, `fallback_to_scratch` can fill only the optimizer state: t5x would otherwise log
    "Not restoring param=target/..." and train a freshly initialised parameter. Returns the
    checkpoint tree unchanged, on a resumed run too (t5x passes `is_resuming`).
    """
    del is_resuming  # a resumed run's checkpoint must be complete as well
    stored = traverse_util.flatten_dict(checkpoint_state, sep="/")
    wanted = traverse_util.flatten_dict(model_state, sep="/")
    missing = sorted(k for k in wanted if k.startswith("target/") and k not in stored)
    if missing:
        raise MissingParamsError(missing, stored, where="t5x restore")
    return checkpoint_state


def _stored_layout_shardings(wanted: Mapping[LeafPath, Any], stored: Mapping[LeafPath, Any],
                             stored_scanned: bool) -> dict[LeafPath, Any]:
    """Shardings for restoring leaves in the stored layout, derived from the requested layout's."""
    out = {}
    for leaf in stored:
        if stored_scanned and leaf[0] == "layers":
            source = wanted.get(("layers_0", *leaf[1:]))
        elif not stored_scanned and (indexed := _layer_index(leaf)) is not None:
            source = wanted.get(("layers", *indexed[1]))
        else:
            source = wanted.get(leaf)
        if source is None:
            raise ValueError(f"shardings has no entry for the param stored as {'/'.join(leaf)}.")
        is_layer_leaf = leaf[0] == "layers" or _layer_index(leaf) is not None
        out[leaf] = (_to_stored_sharding(source, stored_scanned=stored_scanned)
                     if is_layer_leaf else source)
    return out


def _stack_layers(params: dict[LeafPath, Any], shardings: Mapping[LeafPath, Any] | None) -> dict:
    """`layers_i/...` leaves → stacked `layers/...`, one leaf kind at a time (bounded memory)."""
    by_kind: dict[LeafPath, dict[int, LeafPath]] = {}
    for leaf in list(params):
        if (indexed := _layer_index(leaf)) is not None:
            by_kind.setdefault(indexed[1], {})[indexed[0]] = leaf
    for kind, per_layer in by_kind.items():
        arrays = [params.pop(per_layer[i]) for i in range(len(per_layer))]
        if shardings is None:
            params[("layers", *kind)] = np.stack(arrays)
        else:
            stack = jax.jit(lambda *xs: jnp.stack(xs), out_shardings=shardings[("layers", *kind)])
            params[("layers", *kind)] = stack(*arrays)
        del arrays
    return params


def _unstack_layers(params: dict[LeafPath, Any], shardings: Mapping[LeafPath, Any] | None) -> dict:
    """Stacked `layers/...` leaves → `layers_i/...`, one leaf kind at a time."""
    for leaf in [p for p in params if p[0] == "layers"]:
        stacked = params.pop(leaf)
        take = None
        if shardings is not None:
            per_layer = {shardings[(f"layers_{i}", *leaf[1:])] for i in range(stacked.shape[0])}
            if len(per_layer) != 1:
                raise ValueError(f"Every layer's {'/'.join(leaf[1:])} must share one sharding.")
            take = jax.jit(lambda x, i: jax.lax.dynamic_index_in_dim(x, i, keepdims=False),
                           out_shardings=per_layer.pop())
        for i in range(stacked.shape[0]):
            target = (f"layers_{i}", *leaf[1:])
            params[target] = np.ascontiguousarray(stacked[i]) if take is None else take(stacked, i)
        del stacked
    return params
