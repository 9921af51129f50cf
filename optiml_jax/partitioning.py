"""Device mesh and logical-axis rules: the only place that knows about mesh axes.

The model names every parameter and activation dimension logically (`batch`, `embed`, `mlp`,
…); the rules below map those names to the mesh axes `data`, `fsdp`, `tensor`:
  * `data`   — pure data parallelism (replicated parameters),
  * `fsdp`   — data parallelism with parameters and optimizer state sharded along `embed`,
  * `tensor` — Megatron-style tensor parallelism over heads, MLP width and vocabulary.
Flax resolves rules in order and never uses one mesh axis twice in one array, so activations
`(batch, length, embed)` shard batch over data×fsdp and length over tensor (sequence
parallelism) with `embed` whole, while a kernel `(embed, mlp)` shards over fsdp×tensor.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator, Mapping, Sequence

import flax
import jax
import numpy as np
from flax.linen import partitioning as nn_partitioning
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("data", "fsdp", "tensor")

LogicalAxisRules = Sequence[tuple[str, str | tuple[str, ...] | None]]


def default_logical_axis_rules() -> tuple[tuple[str, Any], ...]:
    """Logical name → mesh axes for OPT (names outside this list stay unsharded)."""
    return (
        ("batch", ("data", "fsdp")),
        ("vocab", "tensor"),
        ("heads", "tensor"),
        ("mlp", "tensor"),
        ("joined_kv", "tensor"),
        ("embed", "fsdp"),
        # Sequence parallelism (Megatron-SP, as OPT-IML was trained): activations whose other
        # axes do not already use `tensor` (the residual stream, LayerNorms, dropout) are split
        # along the sequence instead of being replicated on every tensor-parallel device.
        # Listed after heads/mlp/vocab so those keep `tensor` where both appear.
        ("length", "tensor"),
        ("kv", None),
        ("layers", None),
        ("abspos_buckets", None),
    )


def resolve_mesh_shape(shape: Mapping[str, int | str], num_devices: int) -> dict[str, int]:
    """Sizes for every mesh axis; at most one axis may be -1 / 'auto' (= the devices left)."""
    unknown = set(shape) - set(MESH_AXES)
    if unknown:
        raise ValueError(f"Unknown mesh axes {sorted(unknown)}; the mesh axes are {MESH_AXES}.")
    sizes = {axis: shape.get(axis, 1) for axis in MESH_AXES}
    auto = [axis for axis, size in sizes.items() if size in (-1, "auto")]
    if len(auto) > 1:
        raise ValueError(f"Only one mesh axis may be 'auto', got {auto}.")
    fixed = math.prod(int(size) for axis, size in sizes.items() if axis not in auto)
    if auto:
        if num_devices % fixed:
            raise ValueError(f"Mesh {sizes}: {num_devices} devices are not divisible by the fixed "
                             f"axes' product {fixed}.")
        sizes[auto[0]] = num_devices // fixed
    sizes = {axis: int(size) for axis, size in sizes.items()}
    if math.prod(sizes.values()) != num_devices:
        described = " x ".join(f"{axis}={size}" for axis, size in sizes.items())
        raise ValueError(f"Mesh {described} = {math.prod(sizes.values())} devices, but "
                         f"{num_devices} are available.")
    return sizes


def make_mesh(data: int | str = 1, fsdp: int | str = 1, tensor: int | str = 1,
              devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A `(data, fsdp, tensor)` mesh over `devices` (default: all), tensor axis innermost.

    Tensor parallelism talks the most, so it gets neighbouring devices (same host / ICI ring);
    on TPU and GPU `mesh_utils` also follows the physical topology.
    """
    devices = list(jax.devices() if devices is None else devices)
    sizes = resolve_mesh_shape({"data": data, "fsdp": fsdp, "tensor": tensor}, len(devices))
    shape = tuple(sizes[axis] for axis in MESH_AXES)
    if devices[0].platform == "cpu":
        grid = np.asarray(devices, dtype=object).reshape(shape)
    else:
        grid = mesh_utils.create_device_mesh(shape, devices, allow_split_physical_axes=True)
    return Mesh(grid, MESH_AXES)


def logical_to_shardings(logical_axes: Any, mesh: Mesh,
                         rules: LogicalAxisRules | None = None) -> Any:
    """Tree of `AxisMetadata` / name tuples (e.g. a `params_axes` collection) → NamedShardings."""
    rules = default_logical_axis_rules() if rules is None else rules
    # Plain dicts, so the result has the same tree structure as flax >= 0.7 params.
    specs = flax.core.unfreeze(nn_partitioning.get_axis_names(logical_axes))

    def to_sharding(names):
        return NamedSharding(mesh, nn_partitioning.logical_to_mesh_axes(names, rules))

    return jax.tree.map(to_sharding, specs, is_leaf=lambda x: isinstance(x, PartitionSpec))


class Partitioner:
    """The mesh, the logical-axis rules, and jit-ing under them (t5x's `PjitPartitioner` role).

    Args:
      mesh_shape: sizes per mesh axis, e.g. `{'data': 1, 'fsdp': -1, 'tensor': 2}`; one axis may
        be -1 / 'auto' (all remaining devices). Default: pure FSDP over every device.
      logical_axis_rules: logical name → mesh axes (default `default_logical_axis_rules()`).
    """

    def __init__(self, mesh_shape: Mapping[str, int | str] | None = None,
                 logical_axis_rules: LogicalAxisRules | None = None,
                 devices: Sequence[jax.Device] | None = None):
        devices = list(jax.devices() if devices is None else devices)
        # Resolved here first so an unknown axis name gets resolve_mesh_shape's message.
        sizes = resolve_mesh_shape(dict(mesh_shape or {"fsdp": -1}), len(devices))
        self.mesh = make_mesh(**sizes, devices=devices)
        self.rules = tuple(default_logical_axis_rules() if logical_axis_rules is None
                           else logical_axis_rules)

    @property
    def batch_axes(self) -> tuple[str, ...]:
        """Mesh axes the global batch is split over."""
        spec = nn_partitioning.logical_to_mesh_axes(("batch",), self.rules)[0]
        return () if spec is None else ((spec,) if isinstance(spec, str) else tuple(spec))

    @property
    def data_parallel_size(self) -> int:
        return math.prod(self.mesh.shape[axis] for axis in self.batch_axes)

    def batch_sharding(self, ndim: int = 2) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec(self.batch_axes or None, *([None] * (ndim - 1))))

    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    def shardings(self, logical_axes: Any) -> Any:
        return logical_to_shardings(logical_axes, self.mesh, self.rules)

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        """Trace and run under the mesh and rules, so activation constraints are honoured.

        Flax >= 0.12 only emits `with_sharding_constraint` when jax's abstract mesh is set
        (`jax.set_mesh`); the legacy `with mesh:` silently drops them.
        """
        with jax.set_mesh(self.mesh), nn_partitioning.axis_rules(self.rules):
            yield
