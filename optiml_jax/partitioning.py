"""Device mesh and logical-axis rules: the only place that knows about mesh axes.

The model names every parameter and activation dimension logically (`batch`, `embed`, `mlp`,
…); the rules below map those names to the mesh axes `data`, `fsdp`, `tensor`:
  * `data`   — pure data parallelism (replicated parameters),
  * `fsdp`   — data parallelism with parameters and optimizer state sharded along `embed`,
  * `tensor` — Megatron-style tensor parallelism over heads, MLP width and vocabulary.
Flax resolves rules in order and never uses one mesh axis twice in one array, so activations
`(batch, length, embed)` shard batch over data×fsdp and keep `embed` whole, while a kernel
`(embed, mlp)` shards over fsdp×tensor.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import flax
import numpy as np
from flax.linen import partitioning as nn_partitioning
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
        ("kv", None),
        ("length", None),
        ("layers", None),
        ("abspos_buckets", None),
    )


def make_mesh(data: int = 1, fsdp: int = 1, tensor: int = 1,
              devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A `(data, fsdp, tensor)` mesh over `devices` (default: all), tensor axis innermost.

    Tensor parallelism talks the most, so it gets neighbouring devices (same host / ICI ring).
    """
    devices = list(jax.devices() if devices is None else devices)
    if data * fsdp * tensor != len(devices):
        raise ValueError(f"Mesh data={data} x fsdp={fsdp} x tensor={tensor} = "
                         f"{data * fsdp * tensor} devices, but {len(devices)} are available.")
    grid = np.asarray(devices, dtype=object).reshape(data, fsdp, tensor)
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
